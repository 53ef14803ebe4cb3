//! Events: what happened, for operators and for the central office: connection
//! attempts, users created and removed, sync, errors, and alerts (router
//! unreachable, a user over their data alert, pool running low).

use std::collections::BTreeSet;

use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

use super::{Durability, Store, StoreError};

/// How much an event matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
    Error,
    /// Something an operator should act on.
    Alert,
}

impl Level {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Alert => "alert",
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub id: i64,
    pub at_ms: i64,
    pub level: String,
    /// `router_connect`, `user_created`, `user_removed`, `sync`, `error`,
    /// `router_unreachable`, `data_alert`, `pool_low`, `drift`, …
    pub kind: String,
    /// Usually the voucher code or router name.
    pub subject: Option<String>,
    pub message: String,
}

/// What [`Store::note_drift`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriftNews {
    /// Differences the episode had not reported; each is recorded now.
    pub new: Vec<String>,
    /// What the episode held before the call.
    pub before: BTreeSet<String>,
}

pub(crate) fn insert_tx(
    tx: &Transaction<'_>,
    at_ms: i64,
    level: Level,
    kind: &str,
    subject: Option<&str>,
    message: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO events (at_ms, level, kind, subject, message) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![at_ms, level.as_str(), kind, subject, message])?;
    Ok(())
}

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        at_ms: r.get(1)?,
        level: r.get(2)?,
        kind: r.get(3)?,
        subject: r.get(4)?,
        message: r.get(5)?,
    })
}

impl Store {
    /// Records an event.
    pub fn record_event(
        &self,
        level: Level,
        kind: &str,
        subject: Option<&str>,
        message: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.write("record an event", Durability::Normal, |tx| {
            insert_tx(tx, now_ms, level, kind, subject, message)
        })
    }

    /// Starts or ends the episode `name` (e.g. `user_limit_approaching`): when `active`
    /// differs from what was recorded, records `event` (level, kind, message) in the
    /// same transaction, so an episode is reported once when it starts and once when
    /// it ends, across restarts too. Returns whether it changed.
    pub fn set_episode(
        &self,
        name: &str,
        active: bool,
        event: (Level, &str, &str),
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.write("record an alert episode", Durability::Normal, |tx| {
            let before: bool = tx
                .query_row("SELECT active FROM episodes WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or(false);
            if before == active {
                return Ok(false);
            }
            tx.execute(
                "INSERT OR REPLACE INTO episodes (name, active, since_ms) VALUES (?1, ?2, ?3)",
                params![name, active, now_ms],
            )?;
            let (level, kind, message) = event;
            insert_tx(tx, now_ms, level, kind, None, message)?;
            Ok(true)
        })
    }

    /// Reports reconcile's drift once per episode, across rounds, restarts and the
    /// CLI: records a `drift` warning for each line of `found` that the episode has
    /// not reported yet, keeps `left` (what the round did not repair) as the episode,
    /// and records `drift_gone` once when a round leaves none of an episode that was
    /// on. Each line is an `episodes` row named `drift:<line>`.
    pub fn note_drift(
        &self,
        found: &[String],
        left: &[String],
        now_ms: i64,
    ) -> Result<DriftNews, StoreError> {
        self.write("record the drift episode", Durability::Normal, |tx| {
            let before: BTreeSet<String> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT substr(name, 7) FROM episodes WHERE substr(name, 1, 6) = 'drift:'",
                )?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let mut new = Vec::new();
            for line in found {
                if !before.contains(line) && !new.contains(line) {
                    insert_tx(tx, now_ms, Level::Warn, "drift", None, line)?;
                    new.push(line.clone());
                }
            }
            tx.execute("DELETE FROM episodes WHERE substr(name, 1, 6) = 'drift:'", [])?;
            for line in left {
                tx.execute(
                    "INSERT OR IGNORE INTO episodes (name, active, since_ms) VALUES ('drift:' || ?1, 1, ?2)",
                    params![line, now_ms],
                )?;
            }
            let gone = !before.is_empty() && left.is_empty();
            if gone {
                insert_tx(
                    tx,
                    now_ms,
                    Level::Warn,
                    "drift_gone",
                    None,
                    "router and cache agree again",
                )?;
            }
            Ok(DriftNews { new, before })
        })
    }

    /// Warnings, errors and alerts since `since_ms`, newest first: what `status` and
    /// the owner's page list as alerts.
    pub fn alerts_since(&self, since_ms: i64, limit: u32) -> Result<Vec<Event>, StoreError> {
        self.read("list alerts", |c| {
            let mut stmt = c.prepare(
                "SELECT id, at_ms, level, kind, subject, message FROM events \
                 WHERE at_ms >= ?1 AND level IN ('warn', 'error', 'alert') ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![since_ms, limit], event_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// The newest events, optionally of one kind.
    pub fn events(&self, kind: Option<&str>, limit: u32) -> Result<Vec<Event>, StoreError> {
        self.read("list events", |c| {
            let mut stmt = c.prepare(
                "SELECT id, at_ms, level, kind, subject, message FROM events \
                 WHERE ?1 IS NULL OR kind = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![kind, limit], event_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}
