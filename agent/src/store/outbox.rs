//! The outbox: messages for the central office, written in the same transaction as
//! the change they report and kept until the sync acknowledges them. The table's
//! shape is shared with the MQTT sync (`agent/src/sync`), which drains it.

use rusqlite::{params, Transaction};

use super::{Durability, Store, StoreError};

/// One queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    /// Unique id, e.g. `sale-<epoch>-42`; the central office deduplicates on it.
    pub msg_id: String,
    /// Message family, e.g. `sale`.
    pub kind: String,
    pub payload: Vec<u8>,
    pub created_at_ms: i64,
    pub attempts: u32,
    pub last_attempt_ms: Option<i64>,
}

/// Queues a message; a second row with the same `msg_id` is ignored (the first wins).
pub(crate) fn enqueue_tx(
    tx: &Transaction<'_>,
    msg_id: &str,
    kind: &str,
    payload: &[u8],
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO outbox (msg_id, kind, payload, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![msg_id, kind, payload, now_ms])?;
    Ok(())
}

/// The message id of a sale's record, `sale-<epoch>-<id>` (`sync_proto::ids`).
pub(crate) fn sale_msg_id_tx(tx: &Transaction<'_>, id: i64) -> Result<String, StoreError> {
    Ok(sync_proto::ids::sale_msg_id(
        &epoch_tx(tx)?,
        &id.to_string(),
    ))
}

/// The store's epoch (migration 5).
pub(crate) fn epoch_tx(c: &rusqlite::Connection) -> Result<String, StoreError> {
    Ok(
        c.prepare_cached("SELECT value FROM sync_state WHERE key = 'epoch'")?
            .query_row([], |r| r.get(0))?,
    )
}

impl Store {
    /// This database's epoch: 16 hex digits drawn when it was made, in every sale's
    /// message id.
    pub fn epoch(&self) -> Result<String, StoreError> {
        self.read("read the store epoch", |c| epoch_tx(c))
    }

    /// Queues a message outside any sale (events, status).
    pub fn enqueue(
        &self,
        msg_id: &str,
        kind: &str,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.write("queue an outbox message", Durability::Normal, |tx| {
            enqueue_tx(tx, msg_id, kind, payload, now_ms)
        })
    }

    /// The oldest queued messages.
    pub fn outbox_pending(&self, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        self.read("read the outbox", |c| {
            let mut stmt = c.prepare(
                "SELECT id, msg_id, kind, payload, created_at_ms, attempts, last_attempt_ms FROM outbox ORDER BY id LIMIT ?1",
            )?;
            let rows = stmt
                .query_map([limit], |r| {
                    Ok(OutboxRow {
                        id: r.get(0)?,
                        msg_id: r.get(1)?,
                        kind: r.get(2)?,
                        payload: r.get(3)?,
                        created_at_ms: r.get(4)?,
                        attempts: r.get::<_, i64>(5)?.max(0) as u32,
                        last_attempt_ms: r.get(6)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Counts a send attempt.
    pub fn outbox_attempted(&self, msg_id: &str, now_ms: i64) -> Result<(), StoreError> {
        self.write("count an outbox attempt", Durability::Normal, |tx| {
            tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_attempt_ms = ?2 WHERE msg_id = ?1",
                params![msg_id, now_ms],
            )?;
            Ok(())
        })
    }

    /// Drops an acknowledged message.
    pub fn outbox_acked(&self, msg_id: &str) -> Result<bool, StoreError> {
        self.write("drop an acked outbox message", Durability::Normal, |tx| {
            Ok(tx.execute("DELETE FROM outbox WHERE msg_id = ?1", [msg_id])? > 0)
        })
    }
}
