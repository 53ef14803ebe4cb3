//! Reading sales and vouchers: single rows, lists by state, pool stock and the
//! counts behind `stats`, and the row types. The writes (state changes) are in `sales.rs`.

use rusqlite::{OptionalExtension, Row};
use serde::Serialize;

use super::{Store, StoreError};

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
        Some(validity_end_ms(self.validity_start_ms()?, self.validity_s?))
    }
}

/// `start_ms` plus `validity_s` seconds, saturating: a validity too large for
/// the clock's range never ends, it does not wrap into the past.
pub fn validity_end_ms(start_ms: i64, validity_s: u64) -> i64 {
    let ms = i64::try_from(validity_s)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    start_ms.saturating_add(ms)
}

pub(crate) const COLUMNS: &str = "id, code, password, plan_id, price, currency, profile, fair_use_profile, \
    time_limit_s, data_limit_bytes, validity_s, validity_from, router, state, source, router_user_id, created_at_ms, \
    provisioned_at_ms, sold_at_ms, delivered_at_ms, attempts, last_error, first_login_ms, last_seen_ms, ended_at_ms, \
    end_reason, bytes_used, uptime_s, data_alerted, fair_use";

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.map(|n| n.max(0) as u64)
}

impl Sale {
    /// The row a reserve stores for `s` as Reserved and sold at `now_ms`, as a read of
    /// it returns it (a batch keeps its rows in hand instead of reading them back).
    pub fn reserved(id: i64, s: &super::NewSale, now_ms: i64) -> Sale {
        Sale {
            id,
            code: s.code.clone(),
            password: s.password.clone(),
            plan_id: s.plan_id.clone(),
            price: s.price,
            currency: s.currency.clone(),
            profile: s.profile.clone(),
            fair_use_profile: s.fair_use_profile.clone(),
            time_limit_s: s.time_limit_s,
            data_limit_bytes: s.data_limit_bytes,
            validity_s: s.validity_s,
            validity_from: s.validity_from.clone(),
            router: s.router.clone(),
            state: SaleState::Reserved,
            source: s.source.clone(),
            router_user_id: None,
            created_at_ms: now_ms,
            provisioned_at_ms: None,
            sold_at_ms: Some(now_ms),
            delivered_at_ms: None,
            attempts: 0,
            last_error: None,
            first_login_ms: None,
            last_seen_ms: None,
            ended_at_ms: None,
            end_reason: None,
            bytes_used: 0,
            uptime_s: 0,
            data_alerted: false,
            fair_use: false,
        }
    }
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

pub(crate) fn get(tx: &rusqlite::Connection, id: i64) -> Result<Sale, StoreError> {
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

impl Store {
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
        Ok(!self.codes_taken([code])?.is_empty())
    }

    /// Which of `codes` are in the cache (any state), in one read: a batch checks
    /// all of its codes at once rather than taking the store's lock for each.
    pub fn codes_taken<'a>(
        &self,
        codes: impl IntoIterator<Item = &'a str>,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        self.read("check codes", |c| {
            let mut stmt = c.prepare_cached("SELECT 1 FROM sales WHERE code = ?1")?;
            let mut taken = std::collections::HashSet::new();
            for code in codes {
                if stmt.exists([code])? {
                    taken.insert(code.to_string());
                }
            }
            Ok(taken)
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
}
