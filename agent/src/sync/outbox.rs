//! The outbox: what a site has to tell the central office, kept in SQLite until the
//! central office acknowledges it. The [`OutboxStore`] trait is the seam with the
//! store; [`SqliteOutbox`] implements it over the agreed `outbox` table.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use sync_proto::messages::{SaleRecord, Up};

use crate::store::{Sale, SaleState};

/// One message waiting for the central office. `payload` is the postcard encoding
/// of an [`Up`] body; the pump puts it in an envelope when it sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub id: i64,
    pub msg_id: String,
    pub kind: String,
    pub payload: Vec<u8>,
    pub created_at_ms: u64,
    pub attempts: u32,
    pub last_attempt_ms: Option<u64>,
}

/// Why the outbox could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(
        "outbox database {path}: {source}; check the state directory is writable and not full"
    )]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error("outbox lock poisoned by a panic in another thread; restart the agent")]
    Poisoned,
    /// The store could not create or migrate the tables.
    #[error(transparent)]
    Schema(#[from] crate::store::StoreError),
}

/// Storage of the outbox. Blocking calls (the store is SQLite); the pump runs them
/// on tokio's blocking pool.
pub trait OutboxStore: Send + Sync + 'static {
    /// Adds a message; `Ok(false)` when that `msg_id` is already queued.
    fn enqueue(
        &self,
        msg_id: &str,
        kind: &str,
        payload: &[u8],
        created_at_ms: u64,
    ) -> Result<bool, OutboxError>;
    /// The oldest `limit` unacknowledged messages, oldest first.
    fn pending(&self, limit: usize) -> Result<Vec<OutboxEntry>, OutboxError>;
    /// Records that these messages were just sent.
    fn mark_attempt(&self, msg_ids: &[String], now_ms: u64) -> Result<(), OutboxError>;
    /// Deletes acknowledged messages; returns how many were still there.
    fn ack(&self, msg_ids: &[String]) -> Result<usize, OutboxError>;
    /// How many messages wait.
    fn backlog(&self) -> Result<u64, OutboxError>;
    /// Moves events the agent recorded (level warn, error or alert) into the outbox,
    /// at most `limit`, oldest first, each once: the cursor moves in the same
    /// transaction. Returns how many were queued. Stores without events queue none.
    fn forward_events(&self, _limit: usize) -> Result<usize, OutboxError> {
        Ok(0)
    }
    /// Queues the cash-box collections the central office has not acknowledged and
    /// that are not queued yet (`cash-<epoch>-<id>`), oldest first; the ack of one
    /// marks it sent in the same transaction that drops its row. Returns how many
    /// were queued. Stores without a cash box queue none.
    fn forward_cash(&self, _limit: usize) -> Result<usize, OutboxError> {
        Ok(0)
    }
}

/// The wire form of a recorded event: an `Alert` for level `alert`, else an `Event`;
/// `name` is the recorded kind (README: "Event and alert names").
pub fn wire_event(level: &str, kind: &str, subject: Option<&str>, message: &str) -> Up {
    let detail = match subject {
        Some(s) if !s.is_empty() => format!("{s}: {message}"),
        _ => message.to_string(),
    };
    let e = sync_proto::messages::Event {
        name: kind.to_string(),
        detail,
    };
    if level == "alert" {
        Up::Alert(e)
    } else {
        Up::Event(e)
    }
}

/// A stored sale as the contract's `Sale` message: the one place that maps a sale
/// row onto the wire (agent/crates/sync-proto/README.md), in the state it is in:
/// `provisioned` when it reached the router, later `delivered` or `failed`.
pub fn wire_sale(sale: &Sale) -> SaleRecord {
    let channel = match sale.source.as_str() {
        "kiosk" => "coins",
        "remote" => "remote",
        "order" => "order",
        _ => "admin",
    };
    SaleRecord {
        sale_id: sale.id.to_string(),
        code: sale.code.clone(),
        plan_id: sale.plan_id.clone(),
        price: sale.price,
        currency: sale.currency.clone(),
        sold_at_ms: u64::try_from(sale.sold_at_ms.unwrap_or(sale.created_at_ms)).unwrap_or(0),
        router: sale.router.clone(),
        state: match sale.state {
            SaleState::Provisioned | SaleState::PoolReady => "provisioned",
            SaleState::Delivered => "delivered",
            SaleState::Failed => "failed",
            SaleState::Reserved | SaleState::PoolReserved => "reserved",
        }
        .into(),
        channel: channel.into(),
    }
}

/// The outbox payload of a stored sale, for [`crate::vouchers::Settings::sale_payload`]:
/// called inside the sale's own transaction, so the sale and its outbox row commit
/// together (the store gives it its message id, `sale-<epoch>-<id>`).
pub fn sale_payload(sale: &Sale) -> Vec<u8> {
    postcard::to_stdvec(&Up::Sale(wire_sale(sale))).unwrap_or_default()
}

/// The message id, outbox kind and payload for a sale message of a store with this epoch.
pub fn outbox_payload_for_sale(epoch: &str, sale: &SaleRecord) -> (String, &'static str, Vec<u8>) {
    outbox_payload(
        &sync_proto::ids::sale_msg_id(epoch, &sale.sale_id),
        &Up::Sale(sale.clone()),
    )
}

/// The same for any message body: `(msg_id, kind, postcard bytes)`.
pub fn outbox_payload(msg_id: &str, body: &Up) -> (String, &'static str, Vec<u8>) {
    // Encoding owned data into a Vec cannot fail.
    (
        msg_id.to_string(),
        body.kind(),
        postcard::to_stdvec(body).unwrap_or_default(),
    )
}

/// Whether an entry should be sent now: never sent, or unacknowledged for longer than
/// `resend_after_ms` doubled per earlier attempt (capped at 64 times). Nothing is
/// ever given up on.
pub fn is_due(entry: &OutboxEntry, now_ms: u64, resend_after_ms: u64) -> bool {
    match (entry.attempts, entry.last_attempt_ms) {
        (0, _) | (_, None) => true,
        (n, Some(last)) => {
            let resend = Duration::from_millis(resend_after_ms);
            let wait = hotspot_clock::Backoff::new(resend, resend.saturating_mul(64)).wait_after(n);
            u128::from(now_ms.saturating_sub(last)) >= wait.as_millis()
        }
    }
}

/// Opens the agent's database (WAL, 5 s busy timeout) after the store's migrations
/// have made every table; `full_sync` for tables whose rows must survive a power cut
/// once committed.
pub(crate) fn open_db(path: &Path, full_sync: bool) -> Result<Connection, OutboxError> {
    crate::store::Store::ensure_schema(path)?;
    let name = path.display().to_string();
    let err = |source| OutboxError::Sqlite {
        path: name.clone(),
        source,
    };
    let conn = Connection::open(path).map_err(err)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(err)?;
    if full_sync {
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
    }
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    Ok(conn)
}

/// [`OutboxStore`] over a SQLite file (WAL), the table created if missing.
pub struct SqliteOutbox {
    conn: Mutex<Connection>,
    path: String,
}

impl SqliteOutbox {
    pub fn open(path: &Path) -> Result<SqliteOutbox, OutboxError> {
        // Sales wait here until the central office has them: every commit reaches the disk.
        let conn = open_db(path, true)?;
        Ok(SqliteOutbox {
            conn: Mutex::new(conn),
            path: path.display().to_string(),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, OutboxError> {
        let mut conn = self.conn.lock().map_err(|_| OutboxError::Poisoned)?;
        f(&mut conn).map_err(|source| OutboxError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }
}

impl OutboxStore for SqliteOutbox {
    fn enqueue(
        &self,
        msg_id: &str,
        kind: &str,
        payload: &[u8],
        created_at_ms: u64,
    ) -> Result<bool, OutboxError> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO outbox (msg_id, kind, payload, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
                params![msg_id, kind, payload, created_at_ms as i64],
            )
            .map(|n| n == 1)
        })
    }

    fn pending(&self, limit: usize) -> Result<Vec<OutboxEntry>, OutboxError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, msg_id, kind, payload, created_at_ms, attempts, last_attempt_ms \
                 FROM outbox ORDER BY id LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit as i64], |r| {
                Ok(OutboxEntry {
                    id: r.get(0)?,
                    msg_id: r.get(1)?,
                    kind: r.get(2)?,
                    payload: r.get(3)?,
                    created_at_ms: r.get::<_, i64>(4)? as u64,
                    attempts: r.get::<_, i64>(5)? as u32,
                    last_attempt_ms: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
                })
            })?;
            rows.collect()
        })
    }

    fn mark_attempt(&self, msg_ids: &[String], now_ms: u64) -> Result<(), OutboxError> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE outbox SET attempts = attempts + 1, last_attempt_ms = ?2 WHERE msg_id = ?1",
                )?;
                for id in msg_ids {
                    stmt.execute(params![id, now_ms as i64])?;
                }
            }
            tx.commit()
        })
    }

    fn ack(&self, msg_ids: &[String]) -> Result<usize, OutboxError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let epoch: Option<String> = tx
                .query_row("SELECT value FROM sync_state WHERE key = 'epoch'", [], |r| r.get(0))
                .optional()?;
            let now = hotspot_clock::now_ms();
            let mut n = 0;
            {
                let mut stmt = tx.prepare_cached("DELETE FROM outbox WHERE msg_id = ?1")?;
                let mut sent = tx.prepare_cached(
                    "UPDATE cash_collections SET sent_at_ms = ?2 WHERE id = ?1 AND sent_at_ms IS NULL",
                )?;
                for id in msg_ids {
                    let gone = stmt.execute([id])?;
                    n += gone;
                    // A collection is sent once the office has it: with its row gone.
                    let collection = epoch.as_deref().and_then(|e| sync_proto::ids::cash_collection_of(e, id));
                    if let (1, Some(collection)) = (gone, collection) {
                        sent.execute(params![collection, now])?;
                    }
                }
            }
            tx.commit()?;
            Ok(n)
        })
    }

    fn backlog(&self) -> Result<u64, OutboxError> {
        self.with(|c| {
            c.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
    }

    fn forward_events(&self, limit: usize) -> Result<usize, OutboxError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let epoch: String =
                tx.query_row("SELECT value FROM sync_state WHERE key = 'epoch'", [], |r| r.get(0))?;
            let cursor: Option<String> = tx
                .query_row("SELECT value FROM sync_state WHERE key = 'events.sent'", [], |r| r.get(0))
                .optional()?;
            // First start with the link: from now on (older events stay local).
            let Some(cursor) = cursor.and_then(|v| v.parse::<i64>().ok()) else {
                let top: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))?;
                tx.execute(
                    "INSERT OR REPLACE INTO sync_state (key, value) VALUES ('events.sent', ?1)",
                    [top.to_string()],
                )?;
                tx.commit()?;
                return Ok(0);
            };
            let rows: Vec<(i64, i64, String, String, Option<String>, String)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, at_ms, level, kind, subject, message FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![cursor, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                })?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let mut queued = 0;
            let mut last = cursor;
            for (id, at_ms, level, kind, subject, message) in rows {
                last = id;
                if !matches!(level.as_str(), "warn" | "error" | "alert") {
                    continue;
                }
                let body = sync_proto::limits::fit_up(wire_event(&level, &kind, subject.as_deref(), &message));
                let (msg_id, kind, payload) = outbox_payload(&format!("event-{epoch}-{id}"), &body);
                tx.execute(
                    "INSERT OR IGNORE INTO outbox (msg_id, kind, payload, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
                    params![msg_id, kind, payload, at_ms],
                )?;
                queued += 1;
            }
            tx.execute(
                "INSERT OR REPLACE INTO sync_state (key, value) VALUES ('events.sent', ?1)",
                [last.to_string()],
            )?;
            tx.commit()?;
            Ok(queued)
        })
    }

    fn forward_cash(&self, limit: usize) -> Result<usize, OutboxError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let epoch: String =
                tx.query_row("SELECT value FROM sync_state WHERE key = 'epoch'", [], |r| r.get(0))?;
            let rows: Vec<(i64, i64, Option<i64>, i64, i64, String, String)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, at_ms, (SELECT MAX(p.at_ms) FROM cash_collections p WHERE p.id < c.id), \
                     total, coins, per_value, by_whom FROM cash_collections c \
                     WHERE sent_at_ms IS NULL AND NOT EXISTS \
                     (SELECT 1 FROM outbox o WHERE o.msg_id = 'cash-' || ?1 || '-' || c.id) \
                     ORDER BY id LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![epoch, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
                })?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let queued = rows.len();
            for (id, at_ms, since_ms, total, coins, per_value, by) in rows {
                let body = sync_proto::limits::fit_up(Up::CashCollection(wire_cash(
                    id, at_ms, since_ms, total, coins, &per_value, by,
                )));
                let (msg_id, kind, payload) =
                    outbox_payload(&sync_proto::ids::cash_msg_id(&epoch, &id.to_string()), &body);
                tx.execute(
                    "INSERT OR IGNORE INTO outbox (msg_id, kind, payload, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
                    params![msg_id, kind, payload, at_ms],
                )?;
            }
            tx.commit()?;
            Ok(queued)
        })
    }
}

/// A stored cash-box collection as the contract's `CashCollection` message.
fn wire_cash(
    id: i64,
    at_ms: i64,
    since_ms: Option<i64>,
    total: i64,
    coins: i64,
    per_value: &str,
    by: String,
) -> sync_proto::messages::CashCollection {
    let ms = |v: i64| u64::try_from(v).unwrap_or(0);
    sync_proto::messages::CashCollection {
        collection_id: id.to_string(),
        collected_at_ms: ms(at_ms),
        since_ms: since_ms.map(ms),
        total: ms(total),
        coins: ms(coins),
        per_value: crate::store::parse_per_value(per_value),
        by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(id: u32) -> SaleRecord {
        SaleRecord {
            sale_id: id.to_string(),
            code: format!("C{id}"),
            price: 5,
            ..Default::default()
        }
    }

    #[test]
    fn messages_come_out_oldest_first_and_leave_only_when_acked() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteOutbox::open(&dir.path().join("s.db")).unwrap();
        for i in 0..5 {
            let (id, kind, payload) = outbox_payload_for_sale("e0", &sale(i));
            assert!(store.enqueue(&id, kind, &payload, 1000 + i as u64).unwrap());
        }
        let (id, kind, payload) = outbox_payload_for_sale("e0", &sale(0));
        assert!(
            !store.enqueue(&id, kind, &payload, 9).unwrap(),
            "the same sale twice is one message"
        );
        let first = store.pending(3).unwrap();
        let ids: Vec<_> = first.iter().map(|e| e.msg_id.as_str()).collect();
        assert_eq!(ids, ["sale-e0-0", "sale-e0-1", "sale-e0-2"]);
        store.mark_attempt(&["sale-e0-0".into()], 5000).unwrap();
        assert_eq!(store.ack(&["sale-e0-1".into(), "nope".into()]).unwrap(), 1);
        let rest = store.pending(10).unwrap();
        assert_eq!(rest.len(), 4);
        assert_eq!((rest[0].attempts, rest[0].last_attempt_ms), (1, Some(5000)));
        assert_eq!(rest[1].msg_id, "sale-e0-2");
        assert_eq!(store.backlog().unwrap(), 4);
    }

    #[test]
    fn the_sale_payload_is_the_postcard_up_body() {
        let (_, kind, payload) = outbox_payload_for_sale("e0", &sale(7));
        assert_eq!(kind, "sale");
        assert_eq!(payload[0], 0x01, "Up variant 1 = Sale");
        assert_eq!(
            postcard::from_bytes::<Up>(&payload).unwrap(),
            Up::Sale(sale(7))
        );
    }

    #[test]
    fn resends_back_off_by_doubling_and_never_stop() {
        let mut e = OutboxEntry {
            id: 1,
            msg_id: "m".into(),
            kind: "sale".into(),
            payload: vec![],
            created_at_ms: 0,
            attempts: 0,
            last_attempt_ms: None,
        };
        assert!(is_due(&e, 0, 1000));
        e.attempts = 1;
        e.last_attempt_ms = Some(10_000);
        assert!(!is_due(&e, 10_999, 1000));
        assert!(is_due(&e, 11_000, 1000));
        e.attempts = 3;
        assert!(!is_due(&e, 13_999, 1000));
        assert!(is_due(&e, 14_000, 1000));
        e.attempts = 500;
        assert!(
            is_due(&e, 10_000 + 64_000, 1000),
            "capped at 64x, still resent"
        );
    }

    #[test]
    fn the_sale_payload_is_the_wire_sale_message() {
        let r = Sale {
            id: 7,
            state: crate::store::SaleState::Provisioned,
            ..crate::vouchers::issue::tests::sale()
        };
        let back: Up = postcard::from_bytes(&sale_payload(&r)).unwrap();
        let Up::Sale(sale) = back else {
            panic!("not a sale message: {back:?}")
        };
        assert_eq!(
            (sale.sale_id.as_str(), sale.code.as_str(), sale.price),
            ("7", "ABCD", 5)
        );
        assert_eq!(
            (sale.channel.as_str(), sale.state.as_str()),
            ("coins", "provisioned")
        );
    }

    #[test]
    fn each_cash_collection_goes_up_once_and_is_marked_sent_by_its_ack() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("agent.db")).unwrap();
        let outbox = SqliteOutbox::open(store.path()).unwrap();
        let epoch = store.epoch().unwrap();
        for v in [5, 5, 10] {
            store.add_credit(v, "coin", 100).unwrap();
        }
        let first = store.collect_cash("cli", 1_000).unwrap().unwrap();
        store.add_credit(1, "coin", 1_100).unwrap();
        let second = store.collect_cash("owner-page", 2_000).unwrap().unwrap();
        assert_eq!(outbox.forward_cash(100).unwrap(), 2);
        assert_eq!(outbox.forward_cash(100).unwrap(), 0, "queued once");
        let rows = outbox.pending(10).unwrap();
        let ids: Vec<_> = rows.iter().map(|r| r.msg_id.clone()).collect();
        assert_eq!(
            ids,
            [
                format!("cash-{epoch}-{}", first.id),
                format!("cash-{epoch}-{}", second.id)
            ]
        );
        assert_eq!(rows[0].kind, "cash");
        let Up::CashCollection(c) = postcard::from_bytes(&rows[0].payload).unwrap() else {
            panic!("not a cash collection")
        };
        assert_eq!(
            (
                c.total,
                c.coins,
                c.per_value,
                c.since_ms,
                c.collected_at_ms,
                c.by.as_str()
            ),
            (20, 3, vec![(5, 2), (10, 1)], None, 1_000, "cli")
        );
        let Up::CashCollection(c) = postcard::from_bytes(&rows[1].payload).unwrap() else {
            panic!("not a cash collection")
        };
        assert_eq!(
            (c.total, c.since_ms),
            (1, Some(1_000)),
            "its box began at the first"
        );

        // The office acknowledges the first: it is marked sent and never queued again.
        assert_eq!(outbox.ack(&ids[..1]).unwrap(), 1);
        let unsent = store.cash_collections_unsent(10).unwrap();
        assert_eq!(unsent.iter().map(|c| c.id).collect::<Vec<_>>(), [second.id]);
        assert_eq!(outbox.forward_cash(100).unwrap(), 0);
        assert_eq!(
            outbox.ack(&ids[..1]).unwrap(),
            0,
            "a repeated ack changes nothing"
        );
        assert_eq!(outbox.pending(10).unwrap().len(), 1);
        // An ack of another epoch's id with the same number marks nothing.
        outbox
            .ack(&[format!("cash-0000000000000000-{}", second.id)])
            .unwrap();
        assert_eq!(store.cash_collections_unsent(10).unwrap().len(), 1);
        assert_eq!(outbox.ack(&ids[1..]).unwrap(), 1);
        assert!(store.cash_collections_unsent(10).unwrap().is_empty());
    }
}
