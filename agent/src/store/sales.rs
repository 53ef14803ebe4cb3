//! Sales and vouchers: one row per router user the agent creates, whether sold on
//! demand, pre-created for the pool, or made in a batch. The row id is the sale id
//! written into the router user's comment (`hsa:<site>:<id>`).

use rusqlite::{params, OptionalExtension, Transaction};

use super::error::{fit, fit_validity};
use super::sales_read::get;
use super::{outbox, Durability, Sale, SaleState, Store, StoreError};

impl std::fmt::Debug for NewSale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSale")
            .field("code", &self.code)
            .field("plan_id", &self.plan_id)
            .field("source", &self.source)
            .finish_non_exhaustive()
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

pub(super) fn insert(
    tx: &Transaction<'_>,
    s: &NewSale,
    state: SaleState,
    sold_at_ms: Option<i64>,
    now_ms: i64,
) -> Result<i64, StoreError> {
    // Cached: a batch runs these per-row statements thousands of times, and parsing
    // them again each time cost more than running them. A code already in the cache
    // is caught by the UNIQUE index on `code` (no look-up first: a batch of 500 made
    // 500 of them), and only then is the sale that holds it looked up for the message.
    let added = tx.prepare_cached(
        "INSERT INTO sales (code, password, plan_id, price, currency, profile, fair_use_profile, time_limit_s, \
         data_limit_bytes, validity_s, validity_from, router, state, source, created_at_ms, sold_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
            s.code,
            s.password,
            s.plan_id,
            fit("price", s.price)?,
            s.currency,
            s.profile,
            s.fair_use_profile,
            s.time_limit_s.map(|v| fit("time limit (seconds)", v)).transpose()?,
            s.data_limit_bytes.map(|v| fit("data limit (bytes)", v)).transpose()?,
            s.validity_s.map(fit_validity).transpose()?,
            s.validity_from,
            s.router,
            state.as_str(),
            s.source,
            now_ms,
            sold_at_ms,
        ],
    );
    match added {
        Ok(_) => Ok(tx.last_insert_rowid()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            let holder: Option<i64> = tx
                .prepare_cached("SELECT id FROM sales WHERE code = ?1")?
                .query_row([&s.code], |r| r.get(0))
                .optional()?;
            Err(StoreError::Conflict {
                what: match holder {
                    Some(id) => format!("code {} is already used by sale {id}", s.code),
                    None => format!("code {} is already used", s.code),
                },
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// [`Store::take_from_pool`] inside a transaction (keyed sales use it too).
pub(super) fn take_from_pool_tx(
    tx: &Transaction<'_>,
    plan_id: &str,
    price: u64,
    source: &str,
    spend: Option<u64>,
    now_ms: i64,
    payload: impl FnOnce(&Sale) -> Vec<u8>,
) -> Result<Option<Sale>, StoreError> {
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
        params![id, fit("price", price)?, source, now_ms],
    )?;
    if let Some(amount) = spend {
        super::credit::spend_tx(tx, amount, id, now_ms)?;
    }
    let sale = get(tx, id)?;
    queue_sale_tx(tx, &sale, payload, now_ms)?;
    Ok(Some(sale))
}

/// The sale's first outbox message, in the sale's transaction.
fn queue_sale_tx(
    tx: &Transaction<'_>,
    sale: &Sale,
    payload: impl FnOnce(&Sale) -> Vec<u8>,
    now_ms: i64,
) -> Result<(), StoreError> {
    outbox::enqueue_tx(
        tx,
        &outbox::sale_msg_id_tx(tx, sale.id)?,
        "sale",
        &payload(sale),
        now_ms,
    )?;
    Ok(())
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

    /// Commits batch vouchers as Reserved in one transaction (sold at creation) and
    /// returns the rows as stored.
    pub fn reserve_batch(&self, rows: &[NewSale], now_ms: i64) -> Result<Vec<Sale>, StoreError> {
        self.write("reserve batch vouchers", Durability::Money, |tx| {
            rows.iter()
                .map(|s| {
                    let id = insert(tx, s, SaleState::Reserved, Some(now_ms), now_ms)?;
                    Ok(Sale::reserved(id, s, now_ms))
                })
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
            let marked = mark_on_router_tx(tx, id, router_user_id, now_ms, payload)?;
            if marked {
                self.delivered_before_tx(tx, id, now_ms)?;
            }
            Ok(marked)
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
                    self.delivered_before_tx(tx, *id, now_ms)?;
                    n += 1;
                }
            }
            Ok(n)
        })
    }

    /// A sale just provisioned whose ticket was handed out while it waited goes on
    /// to Delivered in the same transaction.
    fn delivered_before_tx(
        &self,
        tx: &Transaction<'_>,
        id: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let moved = tx.execute(
            "UPDATE sales SET state = 'delivered' WHERE id = ?1 AND state = 'provisioned' AND delivered_at_ms IS NOT NULL",
            params![id],
        )?;
        if moved > 0 {
            self.sale_state_tx(tx, id, now_ms)?;
        }
        Ok(())
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
            take_from_pool_tx(tx, plan_id, price, source, spend, now_ms, payload)
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

    /// Gives up on a row that cannot be created; refunds the credit it spent and
    /// returns how much that was (0 when nobody paid for it).
    pub fn mark_failed(&self, id: i64, reason: &str, now_ms: i64) -> Result<u64, StoreError> {
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
            let refunded = super::credit::refund_tx(tx, id, now_ms)?;
            self.sale_state_tx(tx, id, now_ms)?;
            Ok(refunded)
        })
    }

    /// Provisioned -> Delivered (a sale still waiting for its router user is
    /// delivered as soon as the user is made). Returns false if it was already marked.
    pub fn mark_delivered(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        Ok(self.mark_many_delivered(&[id], now_ms)? == 1)
    }

    /// Marks provisioned sales delivered in one transaction (a batch whose CSV was
    /// written), and remembers the hand-over of sales still waiting for their router
    /// user; returns how many changed. Already delivered ones are left as they are.
    pub fn mark_many_delivered(&self, ids: &[i64], now_ms: i64) -> Result<usize, StoreError> {
        self.write("mark sales delivered", Durability::Money, |tx| {
            let mut changed = 0;
            for &id in ids {
                match state_of(tx, id)? {
                    // Paid, its ticket printed while its user waits for the router:
                    // remembered, and delivered the moment the user is made.
                    SaleState::Reserved => {
                        changed += tx.execute(
                            "UPDATE sales SET delivered_at_ms = ?2 WHERE id = ?1 AND delivered_at_ms IS NULL",
                            params![id, now_ms],
                        )?;
                    }
                    state => {
                        if self.deliver_in_state_tx(tx, id, state, now_ms)? {
                            changed += 1;
                        }
                    }
                }
            }
            Ok(changed)
        })
    }

    /// A batch whose vouchers were handed over (the CSV is on disk) in one commit:
    /// the rows in `added` (Reserved, as read after the reserve; their router users
    /// made) are marked on the router and delivered, and those in `provisioned`
    /// (settled one by one on the way) delivered. A row of `added` still Reserved is
    /// moved by one UPDATE and gets one outbox message, its record as delivered (made
    /// from the row in hand: what a read after the UPDATE would return); the office
    /// keeps each sale's latest state, so the provisioned record the two steps write
    /// first would be replaced on arrival. The batch gets one `user_created` event
    /// for all of them, not one per voucher. Any other row goes through the two steps.
    pub fn deliver_batch(
        &self,
        added: &[(Sale, String)],
        provisioned: &[i64],
        now_ms: i64,
        payload: impl Fn(&Sale) -> Vec<u8>,
    ) -> Result<usize, StoreError> {
        self.write("mark batch vouchers delivered", Durability::Money, |tx| {
            let epoch = outbox::epoch_tx(tx)?;
            let mut changed = 0;
            let mut made: Vec<i64> = Vec::with_capacity(added.len());
            let mut plans: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
            for (sale, rid) in added {
                let moved = sale.state == SaleState::Reserved
                    && tx
                        .prepare_cached(
                            "UPDATE sales SET state = 'delivered', router_user_id = ?2, provisioned_at_ms = ?3, \
                             delivered_at_ms = ?3 WHERE id = ?1 AND state = 'reserved'",
                        )?
                        .execute(params![sale.id, rid, now_ms])?
                        == 1;
                if !moved {
                    mark_on_router_tx(tx, sale.id, rid, now_ms, &payload)?;
                    if self.deliver_tx(tx, sale.id, now_ms)? {
                        changed += 1;
                    }
                    continue;
                }
                let mut row = sale.clone();
                row.state = SaleState::Delivered;
                row.router_user_id = Some(rid.clone());
                row.provisioned_at_ms = Some(now_ms);
                row.delivered_at_ms = Some(now_ms);
                let id = row.id.to_string();
                outbox::enqueue_tx(tx, &sync_proto::ids::sale_msg_id(&epoch, &id), "sale", &payload(&row), now_ms)?;
                made.push(row.id);
                plans.insert(sale.plan_id.as_str());
                changed += 1;
            }
            if let (Some(first), Some(last)) = (made.iter().min(), made.iter().max()) {
                let plans: Vec<&str> = plans.into_iter().collect();
                super::events::insert_tx(
                    tx,
                    now_ms,
                    super::Level::Info,
                    "user_created",
                    None,
                    &format!(
                        "batch: {} router users made and handed over (sales {first} to {last}; plan {})",
                        made.len(),
                        plans.join(", ")
                    ),
                )?;
            }
            for &id in provisioned {
                if self.deliver_tx(tx, id, now_ms)? {
                    changed += 1;
                }
            }
            Ok(changed)
        })
    }

    /// Provisioned -> Delivered inside a transaction; false if it was already delivered.
    fn deliver_tx(&self, tx: &Transaction<'_>, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        self.deliver_in_state_tx(tx, id, state_of(tx, id)?, now_ms)
    }

    /// [`Store::deliver_tx`] for a sale whose state was just read as `state`.
    fn deliver_in_state_tx(
        &self,
        tx: &Transaction<'_>,
        id: i64,
        state: SaleState,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        match state {
            SaleState::Delivered => Ok(false),
            SaleState::Provisioned => {
                tx.prepare_cached(
                    "UPDATE sales SET state = 'delivered', delivered_at_ms = ?2 WHERE id = ?1",
                )?
                .execute(params![id, now_ms])?;
                self.sale_state_tx(tx, id, now_ms)?;
                Ok(true)
            }
            other => Err(StoreError::Conflict {
                what: format!(
                    "sale {id} is {}, only a provisioned sale can be delivered",
                    other.as_str()
                ),
            }),
        }
    }

    /// Counts a failed router attempt on a row that stays unfinished.
    /// Returns the attempts counted now, this one included.
    pub fn record_attempt(&self, id: i64, error: &str) -> Result<u32, StoreError> {
        self.write("record a sale attempt", Durability::Normal, |tx| {
            tx.execute(
                "UPDATE sales SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![id, error],
            )?;
            let n: i64 = tx.query_row("SELECT attempts FROM sales WHERE id = ?1", [id], |r| {
                r.get(0)
            })?;
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
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
            tx.prepare_cached(
                "UPDATE sales SET state = 'provisioned', router_user_id = ?2, provisioned_at_ms = ?3 WHERE id = ?1",
            )?
            .execute(params![id, router_user_id, now_ms])?;
            let sale = get(tx, id)?;
            queue_sale_tx(tx, &sale, payload, now_ms)?;
            user_created_tx(tx, &sale, router_user_id, now_ms)?;
            Ok(true)
        }
        SaleState::PoolReserved => {
            tx.prepare_cached(
                "UPDATE sales SET state = 'pool-ready', router_user_id = ?2, provisioned_at_ms = ?3 WHERE id = ?1",
            )?
            .execute(params![id, router_user_id, now_ms])?;
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
