//! Plans as the store keeps them: the config's `[[plan]]`s now, the central
//! office's signed plan list later. Sales snapshot the plan, so this table only
//! says what is on offer.

use firmware_config::plans::ValidityFrom;
use firmware_config::PlanConfig;
use rusqlite::params;
use serde::Serialize;

use super::error::{fit, fit_validity};
use super::{Durability, Store, StoreError};

/// A plan on offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredPlan {
    pub id: String,
    pub name: String,
    pub price: u64,
    pub currency: String,
    pub time_limit_s: Option<u64>,
    pub data_limit_bytes: Option<u64>,
    pub validity_s: Option<u64>,
    /// `first-login` or `sale`.
    pub validity_from: String,
    pub profile: String,
    pub fair_use_profile: Option<String>,
    pub kiosk: bool,
    pub pool: u32,
    /// `config` or `central`.
    pub source: String,
}

impl StoredPlan {
    /// Connected time sold from the kiosk's rate table (`[kiosk] mode = "rates"`):
    /// a one-off plan with only a time limit.
    pub fn for_time(
        time: std::time::Duration,
        price: u64,
        profile: &str,
        currency: &str,
    ) -> StoredPlan {
        let label = firmware_config::Duration(time).to_string();
        StoredPlan {
            id: format!("rate-{label}"),
            name: label,
            price,
            currency: currency.to_string(),
            time_limit_s: Some(time.as_secs()),
            data_limit_bytes: None,
            validity_s: None,
            validity_from: "first-login".into(),
            profile: profile.to_string(),
            fair_use_profile: None,
            kiosk: true,
            pool: 0,
            source: "rates".into(),
        }
    }

    /// From a config `[[plan]]`.
    pub fn from_config(p: &PlanConfig, currency: &str) -> StoredPlan {
        StoredPlan {
            id: p.id.clone(),
            name: p.name.clone(),
            price: p.price,
            currency: currency.to_string(),
            time_limit_s: p.time_limit.map(|d| d.as_secs()),
            data_limit_bytes: p.data_limit.map(|b| b.0),
            validity_s: p.validity.map(|d| d.as_secs()),
            validity_from: match p.validity_from {
                ValidityFrom::FirstLogin => "first-login".into(),
                ValidityFrom::Sale => "sale".into(),
            },
            profile: p.profile.clone(),
            fair_use_profile: p.fair_use_profile.clone(),
            kiosk: p.kiosk,
            pool: p.pool,
            source: "config".into(),
        }
    }
}

/// The columns [`plan_row`] reads, in its order.
const PLAN_COLUMNS: &str =
    "id, name, price, currency, time_limit_s, data_limit_bytes, validity_s, \
     validity_from, profile, fair_use_profile, kiosk, pool, source";

fn plan_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredPlan> {
    Ok(StoredPlan {
        id: r.get(0)?,
        name: r.get(1)?,
        price: r.get::<_, i64>(2)?.max(0) as u64,
        currency: r.get(3)?,
        time_limit_s: r.get::<_, Option<i64>>(4)?.map(|v| v.max(0) as u64),
        data_limit_bytes: r.get::<_, Option<i64>>(5)?.map(|v| v.max(0) as u64),
        validity_s: r.get::<_, Option<i64>>(6)?.map(|v| v.max(0) as u64),
        validity_from: r.get(7)?,
        profile: r.get(8)?,
        fair_use_profile: r.get(9)?,
        kiosk: r.get(10)?,
        pool: r.get::<_, i64>(11)?.max(0) as u32,
        source: r.get(12)?,
    })
}

impl Store {
    /// Replaces the plans from one source with `plans` (plans no longer listed are dropped).
    pub fn replace_plans(
        &self,
        source: &str,
        plans: &[StoredPlan],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.write("store plans", Durability::Normal, |tx| {
            // Every command that sells stores the config's plans on start; when they
            // are what the store already holds, nothing is written (no WAL frame, no
            // sync), which is most starts.
            let mut held = tx
                .prepare_cached(&format!("SELECT {PLAN_COLUMNS} FROM plans WHERE source = ?1"))?
                .query_map([source], plan_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut given: Vec<StoredPlan> = plans
                .iter()
                .map(|p| StoredPlan {
                    source: source.to_string(),
                    ..p.clone()
                })
                .collect();
            held.sort_by(|a, b| a.id.cmp(&b.id));
            given.sort_by(|a, b| a.id.cmp(&b.id));
            if held == given {
                return Ok(());
            }
            tx.execute("DELETE FROM plans WHERE source = ?1", [source])?;
            for p in plans {
                tx.execute(
                    "INSERT OR REPLACE INTO plans (id, name, price, currency, time_limit_s, data_limit_bytes, validity_s, \
                     validity_from, profile, fair_use_profile, kiosk, pool, source, updated_at_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                    params![
                        p.id,
                        p.name,
                        fit("price", p.price)?,
                        p.currency,
                        p.time_limit_s.map(|v| fit("time limit (seconds)", v)).transpose()?,
                        p.data_limit_bytes.map(|v| fit("data limit (bytes)", v)).transpose()?,
                        p.validity_s.map(fit_validity).transpose()?,
                        p.validity_from,
                        p.profile,
                        p.fair_use_profile,
                        p.kiosk,
                        p.pool,
                        source,
                        now_ms
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// All plans, by id.
    pub fn plans(&self) -> Result<Vec<StoredPlan>, StoreError> {
        self.read("list plans", |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {PLAN_COLUMNS} FROM plans ORDER BY price, id"
            ))?;
            let rows = stmt
                .query_map([], plan_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}
