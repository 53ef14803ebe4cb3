//! Where the central side keeps what sites sent: the SQLite file (the default, for a
//! one-office set-up) or PostgreSQL (for an ingest of several workers, see
//! [`crate::pg`]). Both hold the same tables: registered site keys, every outbox
//! message once by (site, message id), and each site's last status.

use std::collections::HashMap;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use sync_proto::envelope::Envelope;
use sync_proto::messages::{SaleRecord, Status, Up};
use sync_proto::now_ms;

use crate::pg::PgStore;
use crate::{CentralDb, CentralError};

/// A verified message for the store: outbox messages are recorded once each,
/// status messages replace the site's last status.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub site: String,
    pub envelope: Envelope<Up>,
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Sqlite(#[from] CentralError),
    #[error("PostgreSQL, {what}: {source}")]
    Postgres {
        what: &'static str,
        source: tokio_postgres::Error,
    },
    #[error("{0}")]
    Setup(String),
}

/// One stored sale message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SaleRow {
    pub site: String,
    pub msg_id: String,
    pub time_ms: u64,
    pub sale: SaleRecord,
}

/// A site's last status as stored (what the ingest saw last, wills included).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusRow {
    #[serde(flatten)]
    pub status: Status,
    pub received_ms: u64,
}

/// An alert the site raised recently.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRow {
    pub name: String,
    pub detail: String,
    pub time_ms: u64,
}

/// What the store knows of one site, for `hotspot-central sites`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteFacts {
    pub site: String,
    pub registered: bool,
    pub status: Option<StatusRow>,
    pub sales: u64,
    pub last_sale_ms: Option<u64>,
    /// Alerts received in the last 24 hours, newest first.
    pub alerts: Vec<AlertRow>,
}

/// How far back an alert counts as open in the fleet view.
pub const ALERT_WINDOW_MS: u64 = 24 * 3600 * 1000;

/// The central side's store.
pub enum Store {
    /// Behind a lock so that the store can be shared between tasks (an SQLite
    /// connection is used by one thread at a time).
    Sqlite(std::sync::Mutex<CentralDb>),
    Postgres(PgStore),
}

impl Store {
    /// The SQLite file at `path`.
    pub fn sqlite(path: &Path) -> Result<Store, StoreError> {
        let db = CentralDb::open(path)?;
        db.conn
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS site_status (site TEXT PRIMARY KEY, json TEXT NOT NULL, received_ms INTEGER NOT NULL);",
            )
            .map_err(|source| sqlite_err(&db, source))?;
        Ok(Store::Sqlite(std::sync::Mutex::new(db)))
    }

    pub async fn site_key(&self, site: &str) -> Result<Option<VerifyingKey>, StoreError> {
        match self {
            Store::Sqlite(db) => Ok(lock(db).site_key(site)?),
            Store::Postgres(pg) => pg.site_key(site).await,
        }
    }

    pub async fn register_site(&self, site: &str, public_key: &str) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(db) => Ok(lock(db).register_site(site, public_key)?),
            Store::Postgres(pg) => pg.register_site(site, public_key).await,
        }
    }

    /// Stores a batch in one transaction and commits it; for each message, true when
    /// it was new. Only after this returns `Ok` may the batch be acknowledged.
    pub async fn store_batch(&mut self, batch: &[Incoming]) -> Result<Vec<bool>, StoreError> {
        match self {
            Store::Sqlite(db) => sqlite_batch(&lock(db), batch),
            Store::Postgres(pg) => pg.store_batch(batch).await,
        }
    }

    /// Every sale message with a time at or after `since_ms`, in arrival order (a
    /// sale's later states are messages of their own).
    pub async fn sales_since(&self, since_ms: u64) -> Result<Vec<SaleRow>, StoreError> {
        let rows = match self {
            // The SQLite file keeps no message time with its sales (0: the sale's own).
            Store::Sqlite(db) => lock(db)
                .sales_since(since_ms)?
                .into_iter()
                .map(|(site, msg_id, json)| (site, msg_id, 0, json))
                .collect(),
            Store::Postgres(pg) => pg.sales_since(since_ms).await?,
        };
        Ok(rows
            .into_iter()
            .filter_map(|(site, msg_id, time_ms, json)| {
                let sale = sale_from_json(&json)?;
                Some(SaleRow {
                    site,
                    msg_id,
                    time_ms: if time_ms == 0 {
                        sale.sold_at_ms
                    } else {
                        time_ms
                    },
                    sale,
                })
            })
            .collect())
    }

    /// Every cash-box collection with a time at or after `since_ms`, in arrival order
    /// and once each: `(site, msg_id, collection as JSON)`.
    pub async fn cash_since(
        &self,
        since_ms: u64,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        match self {
            Store::Sqlite(db) => Ok(lock(db).cash_since(since_ms)?),
            Store::Postgres(pg) => Ok(pg
                .received_since("cash", since_ms)
                .await?
                .into_iter()
                .map(|(site, msg_id, _, json)| (site, msg_id, json))
                .collect()),
        }
    }

    /// What the store knows of each site it has heard of or registered.
    pub async fn fleet(&self) -> Result<Vec<SiteFacts>, StoreError> {
        let since = now_ms().saturating_sub(ALERT_WINDOW_MS);
        match self {
            Store::Sqlite(db) => sqlite_fleet(&lock(db), since),
            Store::Postgres(pg) => pg.fleet(since).await,
        }
    }
}

fn lock(db: &std::sync::Mutex<CentralDb>) -> std::sync::MutexGuard<'_, CentralDb> {
    db.lock().unwrap_or_else(|e| e.into_inner())
}

/// The sale inside a stored body (`{"Sale": {...}}`).
pub(crate) fn sale_from_json(json: &str) -> Option<SaleRecord> {
    match serde_json::from_str::<Up>(json).ok()? {
        Up::Sale(s) => Some(s),
        _ => None,
    }
}

/// How far along a sale state is: a later state replaces an earlier one.
fn state_rank(state: &str) -> u8 {
    match state {
        "reserved" => 0,
        "provisioned" => 1,
        _ => 2,
    }
}

/// One row per sale, its latest state: a sale's messages share the site, the epoch
/// in the message id (`sale-<epoch>-…`) and the sale id. Keeps first-seen order.
pub fn latest_per_sale(rows: Vec<SaleRow>) -> Vec<SaleRow> {
    let mut order: Vec<SaleRow> = Vec::new();
    let mut at: HashMap<(String, String, String), usize> = HashMap::new();
    for row in rows {
        let epoch = row
            .msg_id
            .strip_prefix("sale-")
            .and_then(|rest| rest.split('-').next())
            .unwrap_or_default()
            .to_string();
        let key = (row.site.clone(), epoch, row.sale.sale_id.clone());
        match at.get(&key) {
            Some(&i) => {
                if state_rank(&row.sale.state) >= state_rank(&order[i].sale.state) {
                    order[i] = row;
                }
            }
            None => {
                at.insert(key, order.len());
                order.push(row);
            }
        }
    }
    order
}

fn sqlite_err(db: &CentralDb, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite(CentralError::Db {
        path: db.path.clone(),
        source,
    })
}

fn sqlite_batch(db: &CentralDb, batch: &[Incoming]) -> Result<Vec<bool>, StoreError> {
    let mut fresh = Vec::with_capacity(batch.len());
    for item in batch {
        if let Up::Status(status) = &item.envelope.body {
            if db.conn.is_autocommit() {
                db.conn
                    .execute_batch("BEGIN")
                    .map_err(|e| sqlite_err(db, e))?;
            }
            let json = serde_json::to_string(status).unwrap_or_default();
            db.conn
                .execute(
                    "INSERT INTO site_status (site, json, received_ms) VALUES (?1, ?2, ?3) \
                     ON CONFLICT(site) DO UPDATE SET json = excluded.json, received_ms = excluded.received_ms",
                    params![item.site, json, now_ms() as i64],
                )
                .map_err(|e| sqlite_err(db, e))?;
            fresh.push(true);
        } else {
            fresh.push(db.record(&item.site, &item.envelope)?);
        }
    }
    db.commit()?;
    Ok(fresh)
}

fn sqlite_fleet(db: &CentralDb, alerts_since: u64) -> Result<Vec<SiteFacts>, StoreError> {
    let err = |e| sqlite_err(db, e);
    let mut stmt = db
        .conn
        .prepare(
            "SELECT site FROM sites UNION SELECT site FROM site_status UNION SELECT DISTINCT site FROM received ORDER BY 1",
        )
        .map_err(err)?;
    let sites: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let mut out = Vec::new();
    for site in sites {
        let registered: bool = db
            .conn
            .query_row("SELECT count(*) FROM sites WHERE site = ?1", [&site], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(err)?
            > 0;
        let status = db
            .conn
            .query_row(
                "SELECT json, received_ms FROM site_status WHERE site = ?1",
                [&site],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()
            .map_err(err)?
            .and_then(|(json, at)| {
                Some(StatusRow {
                    status: serde_json::from_str(&json).ok()?,
                    received_ms: at as u64,
                })
            });
        let (sales, last_sale): (i64, Option<i64>) = db
            .conn
            .query_row(
                "SELECT count(*), max(time_ms) FROM received WHERE site = ?1 AND kind = 'sale'",
                [&site],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(err)?;
        let mut stmt = db
            .conn
            .prepare(
                "SELECT json, time_ms FROM received WHERE site = ?1 AND kind = 'alert' AND time_ms >= ?2 ORDER BY time_ms DESC LIMIT 20",
            )
            .map_err(err)?;
        let alerts = stmt
            .query_map(params![site, alerts_since as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(err)?
            .filter_map(|r| r.ok())
            .filter_map(|(json, t)| alert_from_json(&json, t as u64))
            .collect();
        out.push(SiteFacts {
            site,
            registered,
            status,
            sales: sales as u64,
            last_sale_ms: last_sale.map(|t| t as u64),
            alerts,
        });
    }
    Ok(out)
}

/// The alert inside a stored body (`{"Alert": {...}}`).
pub(crate) fn alert_from_json(json: &str, time_ms: u64) -> Option<AlertRow> {
    match serde_json::from_str::<Up>(json).ok()? {
        Up::Alert(e) => Some(AlertRow {
            name: e.name,
            detail: e.detail,
            time_ms,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(msg_id: &str, sale_id: &str, state: &str) -> SaleRow {
        SaleRow {
            site: "s1".into(),
            msg_id: msg_id.into(),
            time_ms: 1,
            sale: SaleRecord {
                sale_id: sale_id.into(),
                state: state.into(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn the_latest_state_of_each_sale_replaces_its_earlier_ones_in_first_seen_order() {
        let rows = vec![
            row("sale-aa-1", "1", "provisioned"),
            row("sale-aa-2", "2", "provisioned"),
            row("sale-aa-1-delivered", "1", "delivered"),
            // The same sale id under another epoch (a wiped state folder) is another sale.
            row("sale-bb-1", "1", "provisioned"),
            // A late redelivery of an earlier state does not undo a later one.
            row("sale-aa-1", "1", "provisioned"),
        ];
        let latest = latest_per_sale(rows);
        let got: Vec<_> = latest
            .iter()
            .map(|r| (r.msg_id.as_str(), r.sale.state.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("sale-aa-1-delivered", "delivered"),
                ("sale-aa-2", "provisioned"),
                ("sale-bb-1", "provisioned"),
            ]
        );
    }
}
