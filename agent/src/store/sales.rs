//! Sales and vouchers: one row per router user the agent creates, whether sold on
//! demand, pre-created for the pool, or made in a batch. The row id is the sale id
//! written into the router user's comment (`hsa:<site>:<id>`).

use rusqlite::{params, OptionalExtension, Row, Transaction};
use serde::Serialize;

use super::{outbox, Durability, Store, StoreError};

impl std::fmt::Debug for NewSale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSale")
            .field("code", &self.code)
            .field("plan_id", &self.plan_id)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Where a row is in its life. Stored as the kebab-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SaleState {
    /// Paid (or ordered); the router has not confirmed the user yet.
    Reserved,
    /// The user exists on the router; the ticket has not been handed over.
    Provisioned,
    /// The customer has the code (ticket printed or shown).
    Delivered,
    /// Could not be created; any credit spent was refunded.
    Failed,
    /// A pool voucher whose router user is being created.
    PoolReserved,
    /// A pool voucher on the router, waiting to be sold.
    PoolReady,
}

impl SaleState {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            SaleState::Reserved => "reserved",
            SaleState::Provisioned => "provisioned",
            SaleState::Delivered => "delivered",
            SaleState::Failed => "failed",
            SaleState::PoolReserved => "pool-reserved",
            SaleState::PoolReady => "pool-ready",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<SaleState> {
        Some(match text {
            "reserved" => SaleState::Reserved,
            "provisioned" => SaleState::Provisioned,
            "delivered" => SaleState::Delivered,
            "failed" => SaleState::Failed,
            "pool-reserved" => SaleState::PoolReserved,
            "pool-ready" => SaleState::PoolReady,
            _ => return None,
        })
    }

    /// Whether a router user should exist for a row in this state.
    pub fn on_router(&self) -> bool {
        matches!(
            self,
            SaleState::Provisioned | SaleState::Delivered | SaleState::PoolReady
        )
    }

    /// Whether the voucher has been sold.
    pub fn sold(&self) -> bool {
        matches!(
            self,
            SaleState::Reserved | SaleState::Provisioned | SaleState::Delivered
        )
    }
}

/// A row to insert: the code and a snapshot of the plan as sold (later plan
/// changes do not change what a customer bought). `Debug` leaves the password out.
#[derive(Clone)]
pub struct NewSale {
    pub code: String,
    pub password: String,
    pub plan_id: String,
    pub price: u64,
    pub currency: String,
    pub profile: String,
    pub fair_use_profile: Option<String>,
    pub time_limit_s: Option<u64>,
    pub data_limit_bytes: Option<u64>,
    pub validity_s: Option<u64>,
    /// `first-login` or `sale`.
    pub validity_from: String,
    /// Router name.
    pub router: String,
    /// `kiosk`, `cli`, `batch`, `pool`, `adopted`.
    pub source: String,
}

/// A stored row. `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Sale {
    pub id: i64,
    pub code: String,
    #[serde(skip)]
    pub password: String,
    pub plan_id: String,
    pub price: u64,
    pub currency: String,
    pub profile: String,
    pub fair_use_profile: Option<String>,
    pub time_limit_s: Option<u64>,
    pub data_limit_bytes: Option<u64>,
    pub validity_s: Option<u64>,
    pub validity_from: String,
    pub router: String,
    pub state: SaleState,
    pub source: String,
    pub router_user_id: Option<String>,
    pub created_at_ms: i64,
    pub provisioned_at_ms: Option<i64>,
    pub sold_at_ms: Option<i64>,
    pub delivered_at_ms: Option<i64>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub first_login_ms: Option<i64>,
    pub last_seen_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    pub end_reason: Option<String>,
    pub bytes_used: u64,
    pub uptime_s: u64,
    pub data_alerted: bool,
    pub fair_use: bool,
}

impl std::fmt::Debug for Sale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sale")
            .field("id", &self.id)
            .field("code", &self.code)
            .field("plan_id", &self.plan_id)
            .field("state", &self.state)
            .field("source", &self.source)
            .field("router_user_id", &self.router_user_id)
            .field("end_reason", &self.end_reason)
            .finish_non_exhaustive()
    }
}

impl Sale {
    /// When validity started running, if it has.
    pub fn validity_start_ms(&self) -> Option<i64> {
        if self.validity_from == "sale" {
            self.sold_at_ms
        } else {
            self.first_login_ms
        }
    }

    /// When the voucher stops being valid, if known.
    pub fn expires_at_ms(&self) -> Option<i64> {
        let v = self.validity_s? as i64;
        Some(self.validity_start_ms()? + v * 1000)
    }
}

pub(crate) const COLUMNS: &str = "id, code, password, plan_id, price, currency, profile, fair_use_profile, \
    time_limit_s, data_limit_bytes, validity_s, validity_from, router, state, source, router_user_id, created_at_ms, \
    provisioned_at_ms, sold_at_ms, delivered_at_ms, attempts, last_error, first_login_ms, last_seen_ms, ended_at_ms, \
    end_reason, bytes_used, uptime_s, data_alerted, fair_use";

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.map(|n| n.max(0) as u64)
}

pub(crate) fn from_row(r: &Row<'_>) -> rusqlite::Result<Sale> {
    let state: String = r.get(13)?;
    Ok(Sale {
        id: r.get(0)?,
        code: r.get(1)?,
        password: r.get(2)?,
        plan_id: r.get(3)?,
        price: r.get::<_, i64>(4)?.max(0) as u64,
        currency: r.get(5)?,
        profile: r.get(6)?,
        fair_use_profile: r.get(7)?,
        time_limit_s: opt_u64(r.get(8)?),
        data_limit_bytes: opt_u64(r.get(9)?),
        validity_s: opt_u64(r.get(10)?),
        validity_from: r.get(11)?,
        router: r.get(12)?,
        state: SaleState::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                13,
                rusqlite::types::Type::Text,
                format!("unknown sale state {state:?}").into(),
            )
        })?,
        source: r.get(14)?,
        router_user_id: r.get(15)?,
        created_at_ms: r.get(16)?,
        provisioned_at_ms: r.get(17)?,
        sold_at_ms: r.get(18)?,
        delivered_at_ms: r.get(19)?,
        attempts: r.get::<_, i64>(20)?.max(0) as u32,
        last_error: r.get(21)?,
        first_login_ms: r.get(22)?,
        last_seen_ms: r.get(23)?,
        ended_at_ms: r.get(24)?,
        end_reason: r.get(25)?,
        bytes_used: r.get::<_, i64>(26)?.max(0) as u64,
        uptime_s: r.get::<_, i64>(27)?.max(0) as u64,
        data_alerted: r.get(28)?,
        fair_use: r.get(29)?,
    })
}

fn insert(
    tx: &Transaction<'_>,
    s: &NewSale,
    state: SaleState,
    sold_at_ms: Option<i64>,
    now_ms: i64,
) -> Result<i64, StoreError> {
    let taken: Option<i64> = tx
        .prepare_cached("SELECT id FROM sales WHERE code = ?1")?
        .query_row([&s.code], |r| r.get(0))
        .optional()?;
    if let Some(id) = taken {
        return Err(StoreError::Conflict {
            what: format!("code {} is already used by sale {id}", s.code),
        });
    }
    tx.execute(
        "INSERT INTO sales (code, password, plan_id, price, currency, profile, fair_use_profile, time_limit_s, \
         data_limit_bytes, validity_s, validity_from, router, state, source, created_at_ms, sold_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        params![
            s.code,
            s.password,
            s.plan_id,
            s.price as i64,
            s.currency,
            s.profile,
            s.fair_use_profile,
            s.time_limit_s.map(|v| v as i64),
            s.data_limit_bytes.map(|v| v as i64),
            s.validity_s.map(|v| v as i64),
            s.validity_from,
            s.router,
            state.as_str(),
            s.source,
            now_ms,
            sold_at_ms,
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

fn state_of(tx: &Transaction<'_>, id: i64) -> Result<SaleState, StoreError> {
    let s: Option<String> = tx
        .prepare_cached("SELECT state FROM sales WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    let s = s.ok_or_else(|| StoreError::NotFound {
        path: Default::default(),
        what: format!("sale {id}"),
    })?;
    SaleState::parse(&s).ok_or_else(|| StoreError::Conflict {
        what: format!("sale {id} has unknown state {s:?}"),
    })
}

fn get(tx: &rusqlite::Connection, id: i64) -> Result<Sale, StoreError> {
    tx.prepare_cached(&format!("SELECT {COLUMNS} FROM sales WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound {
            path: Default::default(),
            what: format!("sale {id}"),
        })
}

/// Counts for `stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SaleStats {
    /// Sales (not pool stock) since the given time.
    pub count: u64,
    /// Their total price.
    pub total: u64,
    /// Per plan: (plan id, count, total).
    pub per_plan: Vec<(String, u64, u64)>,
}

/// Usage learnt in an enforcement pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub sale_id: i64,
    pub bytes_used: u64,
    pub uptime_s: u64,
    pub seen_now: bool,
    /// Set when this pass saw the first login (kept if one is already recorded).
    pub first_login_ms: Option<i64>,
}

impl Store {
    /// Commits a paid sale as Reserved (and spends credit) before the router is called.
    pub fn reserve_sale(
        &self,
        sale: &NewSale,
        spend: Option<u64>,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        self.write("reserve sale", Durability::Money, |tx| {
            let id = insert(tx, sale, SaleState::Reserved, Some(now_ms), now_ms)?;
            if let Some(amount) = spend {
                super::credit::spend_tx(tx, amount, id, now_ms)?;
            }
            Ok(id)
        })
    }

    /// Commits pool vouchers as PoolReserved (before the router is called).
    pub fn reserve_pool(&self, rows: &[NewSale], now_ms: i64) -> Result<Vec<i64>, StoreError> {
        self.write("reserve pool vouchers", Durability::Money, |tx| {
            rows.iter()
                .map(|s| insert(tx, s, SaleState::PoolReserved, None, now_ms))
                .collect()
        })
    }

    /// Commits batch vouchers as Reserved in one transaction (sold at creation).
    pub fn reserve_batch(&self, rows: &[NewSale], now_ms: i64) -> Result<Vec<i64>, StoreError> {
        self.write("reserve batch vouchers", Durability::Money, |tx| {
            rows.iter()
                .map(|s| insert(tx, s, SaleState::Reserved, Some(now_ms), now_ms))
                .collect()
        })
    }

    /// Reserved -> Provisioned with the sale's outbox row, or PoolReserved -> PoolReady.
    /// `payload` builds the outbox message from the row. Returns false if the row was
    /// already past that point (a second resolution of the same sale changes nothing).
    pub fn mark_on_router(
        &self,
        id: i64,
        router_user_id: &str,
        now_ms: i64,
        payload: impl FnOnce(&Sale) -> Vec<u8>,
    ) -> Result<bool, StoreError> {
        self.write("mark sale provisioned", Durability::Money, |tx| {
            mark_on_router_tx(tx, id, router_user_id, now_ms, payload)
        })
    }

    /// Marks many rows at once (batch and pool refills): one commit for all.
    pub fn mark_many_on_router(
        &self,
        done: &[(i64, String)],
        now_ms: i64,
        payload: impl Fn(&Sale) -> Vec<u8>,
    ) -> Result<usize, StoreError> {
        self.write("mark vouchers provisioned", Durability::Money, |tx| {
            let mut n = 0;
            for (id, rid) in done {
                if mark_on_router_tx(tx, *id, rid, now_ms, &payload)? {
                    n += 1;
                }
            }
            Ok(n)
        })
    }

    /// Sells the oldest ready pool voucher of a plan in one transaction: state,
    /// price, credit and the outbox row. `None` when the pool is empty.
    pub fn take_from_pool(
        &self,
        plan_id: &str,
        price: u64,
        source: &str,
        spend: Option<u64>,
        now_ms: i64,
        payload: impl FnOnce(&Sale) -> Vec<u8>,
    ) -> Result<Option<Sale>, StoreError> {
        self.write("sell a pool voucher", Durability::Money, |tx| {
            let id: Option<i64> = tx
                .query_row(
                    "SELECT id FROM sales WHERE state = 'pool-ready' AND plan_id = ?1 AND ended_at_ms IS NULL \
                     ORDER BY id LIMIT 1",
                    [plan_id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = id else { return Ok(None) };
            tx.execute(
                "UPDATE sales SET state = 'provisioned', price = ?2, source = ?3, sold_at_ms = ?4 WHERE id = ?1",
                params![id, price as i64, source, now_ms],
            )?;
            if let Some(amount) = spend {
                super::credit::spend_tx(tx, amount, id, now_ms)?;
            }
            let sale = get(tx, id)?;
            outbox::enqueue_tx(tx, &format!("sale:{id}"), "sale", &payload(&sale), now_ms)?;
            Ok(Some(sale))
        })
    }

    /// Gives a reserved row a new code after its old one turned out to belong to a
    /// router user that is not ours. The event records the old code.
    pub fn change_code(
        &self,
        id: i64,
        code: &str,
        password: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.write("change a reserved code", Durability::Money, |tx| {
            let old = get(tx, id)?;
            if !matches!(old.state, SaleState::Reserved | SaleState::PoolReserved) {
                return Err(StoreError::Conflict {
                    what: format!("sale {id} is {}, its code can no longer change", old.state.as_str()),
                });
            }
            tx.execute(
                "UPDATE sales SET code = ?2, password = ?3, router_user_id = NULL WHERE id = ?1",
                params![id, code, password],
            )?;
            super::events::insert_tx(
                tx,
                now_ms,
                super::Level::Warn,
                "code_collision",
                Some(&old.code),
                &format!("sale {id}: code {} belongs to a router user that is not ours; reserved {code} instead", old.code),
            )?;
            Ok(())
        })
    }

    /// Gives up on a row that cannot be created; refunds the credit it spent.
    pub fn mark_failed(&self, id: i64, reason: &str, now_ms: i64) -> Result<(), StoreError> {
        self.write("mark sale failed", Durability::Money, |tx| {
            let state = state_of(tx, id)?;
            if !matches!(state, SaleState::Reserved | SaleState::PoolReserved) {
                return Err(StoreError::Conflict {
                    what: format!("sale {id} is {}, it cannot fail now", state.as_str()),
                });
            }
            tx.execute(
                "UPDATE sales SET state = 'failed', last_error = ?2, ended_at_ms = ?3 WHERE id = ?1",
                params![id, reason, now_ms],
            )?;
            super::credit::refund_tx(tx, id, now_ms)?;
            Ok(())
        })
    }

    /// Provisioned -> Delivered. Returns false if it was already delivered.
    pub fn mark_delivered(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        self.write(
            "mark sale delivered",
            Durability::Money,
            |tx| match state_of(tx, id)? {
                SaleState::Delivered => Ok(false),
                SaleState::Provisioned => {
                    tx.execute(
                        "UPDATE sales SET state = 'delivered', delivered_at_ms = ?2 WHERE id = ?1",
                        params![id, now_ms],
                    )?;
                    Ok(true)
                }
                other => Err(StoreError::Conflict {
                    what: format!(
                        "sale {id} is {}, only a provisioned sale can be delivered",
                        other.as_str()
                    ),
                }),
            },
        )
    }

    /// Counts a failed router attempt on a row that stays unfinished.
    pub fn record_attempt(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.write("record a sale attempt", Durability::Normal, |tx| {
            tx.execute(
                "UPDATE sales SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![id, error],
            )?;
            Ok(())
        })
    }

    /// One row.
    pub fn sale(&self, id: i64) -> Result<Sale, StoreError> {
        self.read("read a sale", |c| get(c, id))
    }

    /// The row with this code, if any.
    pub fn sale_by_code(&self, code: &str) -> Result<Option<Sale>, StoreError> {
        self.read("find a sale by code", |c| {
            Ok(c.query_row(
                &format!("SELECT {COLUMNS} FROM sales WHERE code = ?1"),
                [code],
                from_row,
            )
            .optional()?)
        })
    }

    /// Rows in any of these states, oldest first.
    pub fn sales_in(&self, states: &[SaleState]) -> Result<Vec<Sale>, StoreError> {
        self.read("list sales", |c| {
            let list = states
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect::<Vec<_>>()
                .join(",");
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM sales WHERE state IN ({list}) ORDER BY id"
            ))?;
            let rows = stmt
                .query_map([], from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Rows by id, in the order asked (missing ids are skipped).
    pub fn sales_by_ids(&self, ids: &[i64]) -> Result<Vec<Sale>, StoreError> {
        let (Some(lo), Some(hi)) = (ids.iter().min(), ids.iter().max()) else {
            return Ok(Vec::new());
        };
        let mut rows: std::collections::HashMap<i64, Sale> = self.read("read sales", |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM sales WHERE id BETWEEN ?1 AND ?2"
            ))?;
            let rows = stmt
                .query_map([lo, hi], from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows.into_iter().map(|s| (s.id, s)).collect())
        })?;
        Ok(ids.iter().filter_map(|id| rows.remove(id)).collect())
    }

    /// The newest rows, for `voucher list`.
    pub fn recent_sales(&self, limit: u32) -> Result<Vec<Sale>, StoreError> {
        self.read("list recent sales", |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM sales ORDER BY id DESC LIMIT ?1"
            ))?;
            let rows = stmt
                .query_map([limit], from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Whether a code is in the cache (any state).
    pub fn code_exists(&self, code: &str) -> Result<bool, StoreError> {
        self.read("check a code", |c| {
            Ok(c.prepare_cached("SELECT 1 FROM sales WHERE code = ?1")?
                .query_row([code], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    /// Pool stock per plan: (ready, being created).
    pub fn pool_counts(&self, plan_id: &str) -> Result<(u32, u32), StoreError> {
        self.read("count pool vouchers", |c| {
            Ok(c.query_row(
                "SELECT COALESCE(SUM(state = 'pool-ready'), 0), COALESCE(SUM(state = 'pool-reserved'), 0) \
                 FROM sales WHERE plan_id = ?1",
                [plan_id],
                |r| Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u32)),
            )?)
        })
    }

    /// Sales (sold rows, not pool stock or failures) since a time.
    pub fn sale_stats(&self, since_ms: i64) -> Result<SaleStats, StoreError> {
        self.read("count sales", |c| {
            let mut stmt = c.prepare(
                "SELECT plan_id, COUNT(*), COALESCE(SUM(price), 0) FROM sales \
                 WHERE sold_at_ms >= ?1 AND state IN ('reserved', 'provisioned', 'delivered') GROUP BY plan_id ORDER BY plan_id",
            )?;
            let per_plan = stmt
                .query_map([since_ms], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(SaleStats {
                count: per_plan.iter().map(|p| p.1).sum(),
                total: per_plan.iter().map(|p| p.2).sum(),
                per_plan,
            })
        })
    }

    /// Bytes used today across vouchers (`day` = days since the epoch, agent clock).
    pub fn data_used_on(&self, day: i64) -> Result<u64, StoreError> {
        self.read("sum data used", |c| {
            Ok(c.query_row(
                "SELECT COALESCE(SUM(bytes_used - bytes_day_start), 0) FROM sales WHERE usage_day = ?1",
                [day],
                |r| r.get::<_, i64>(0),
            )?
            .max(0) as u64)
        })
    }

    /// Records a user found on the router with our marker but unknown to the cache
    /// (e.g. after a store was replaced), so it is enforced again.
    pub fn adopt(
        &self,
        sale: &NewSale,
        router_user_id: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        self.write("adopt a router user", Durability::Money, |tx| {
            let id = insert(tx, sale, SaleState::Delivered, Some(now_ms), now_ms)?;
            tx.execute(
                "UPDATE sales SET router_user_id = ?2, provisioned_at_ms = ?3, delivered_at_ms = ?3 WHERE id = ?1",
                params![id, router_user_id, now_ms],
            )?;
            Ok(id)
        })
    }

    /// Marks a voucher as ended (removed from the router, lost from the pool, …).
    pub fn mark_ended(&self, id: i64, reason: &str, now_ms: i64) -> Result<(), StoreError> {
        self.write("mark voucher ended", Durability::Normal, |tx| {
            tx.execute(
                "UPDATE sales SET ended_at_ms = COALESCE(ended_at_ms, ?2), end_reason = ?3, \
                 state = CASE WHEN state IN ('pool-ready', 'pool-reserved') THEN 'failed' ELSE state END WHERE id = ?1",
                params![id, now_ms, reason],
            )?;
            Ok(())
        })
    }

    /// Sets the router `.id` of a row (after a reconcile re-created it).
    pub fn set_router_user_id(&self, id: i64, router_user_id: &str) -> Result<(), StoreError> {
        self.write("set router user id", Durability::Normal, |tx| {
            tx.execute(
                "UPDATE sales SET router_user_id = ?2 WHERE id = ?1",
                params![id, router_user_id],
            )?;
            Ok(())
        })
    }
}

pub(crate) fn mark_on_router_tx(
    tx: &Transaction<'_>,
    id: i64,
    router_user_id: &str,
    now_ms: i64,
    payload: impl FnOnce(&Sale) -> Vec<u8>,
) -> Result<bool, StoreError> {
    match state_of(tx, id)? {
        SaleState::Reserved => {
            tx.execute(
                "UPDATE sales SET state = 'provisioned', router_user_id = ?2, provisioned_at_ms = ?3 WHERE id = ?1",
                params![id, router_user_id, now_ms],
            )?;
            let sale = get(tx, id)?;
            outbox::enqueue_tx(tx, &format!("sale:{id}"), "sale", &payload(&sale), now_ms)?;
            user_created_tx(tx, &sale, router_user_id, now_ms)?;
            Ok(true)
        }
        SaleState::PoolReserved => {
            tx.execute(
                "UPDATE sales SET state = 'pool-ready', router_user_id = ?2, provisioned_at_ms = ?3 WHERE id = ?1",
                params![id, router_user_id, now_ms],
            )?;
            user_created_tx(tx, &get(tx, id)?, router_user_id, now_ms)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

fn user_created_tx(
    tx: &Transaction<'_>,
    sale: &Sale,
    router_user_id: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    super::events::insert_tx(
        tx,
        now_ms,
        super::Level::Info,
        "user_created",
        Some(&sale.code),
        &format!(
            "sale {} ({}, plan {}) is router user {router_user_id}",
            sale.id, sale.source, sale.plan_id
        ),
    )
}
