//! Enforcement's writes: pending router actions (kept until the router confirms
//! them, so an outage delays them but never drops them) and what each pass learnt
//! (usage, first logins, ends, alerts), committed together in one transaction.

use rusqlite::params;
use serde::Serialize;

use super::{events, Durability, Level, Store, StoreError, Usage};

/// What to do on the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// Remove every active session of the user.
    Disconnect,
    /// `disabled=yes` so the user cannot log back in.
    Disable,
    /// Remove the user from the router.
    Remove,
    /// Switch the user to another profile (fair use); the profile is the argument.
    SetProfile,
}

impl ActionKind {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ActionKind::Disconnect => "disconnect",
            ActionKind::Disable => "disable",
            ActionKind::Remove => "remove",
            ActionKind::SetProfile => "set-profile",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<ActionKind> {
        Some(match text {
            "disconnect" => ActionKind::Disconnect,
            "disable" => ActionKind::Disable,
            "remove" => ActionKind::Remove,
            "set-profile" => ActionKind::SetProfile,
            _ => return None,
        })
    }
}

/// An action waiting for the router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingAction {
    pub id: i64,
    pub sale_id: i64,
    pub code: String,
    pub kind: ActionKind,
    pub arg: Option<String>,
    pub reason: String,
    pub created_at_ms: i64,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// An action to queue (no id yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAction {
    pub sale_id: i64,
    pub code: String,
    pub kind: ActionKind,
    pub arg: Option<String>,
    pub reason: String,
}

/// Everything one enforcement pass decided to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassWrites {
    pub usage: Vec<Usage>,
    /// (sale id, first login time) for sales without a usage row this pass.
    pub first_logins: Vec<(i64, i64)>,
    /// (sale id, reason): the voucher is over (data, validity, time).
    pub ended: Vec<(i64, String)>,
    /// Sales whose data alert has been raised.
    pub data_alerted: Vec<i64>,
    /// Sales switched to their fair-use profile.
    pub fair_use: Vec<i64>,
    pub actions: Vec<NewAction>,
    /// (level, kind, subject, message).
    pub events: Vec<(Level, String, Option<String>, String)>,
}

impl PassWrites {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.usage.is_empty()
            && self.first_logins.is_empty()
            && self.ended.is_empty()
            && self.data_alerted.is_empty()
            && self.fair_use.is_empty()
            && self.actions.is_empty()
            && self.events.is_empty()
    }
}

impl Store {
    /// Commits one pass. `day` is days since the epoch on the agent's clock (for
    /// "data used today"). Actions already pending are not queued twice.
    pub fn commit_pass(&self, w: &PassWrites, now_ms: i64, day: i64) -> Result<(), StoreError> {
        if w.is_empty() {
            return Ok(());
        }
        self.write("commit an enforcement pass", Durability::Normal, |tx| {
            {
                let mut st = tx.prepare_cached(
                    "UPDATE sales SET bytes_day_start = CASE WHEN usage_day IS ?2 THEN bytes_day_start ELSE bytes_used END, \
                     usage_day = ?2, bytes_used = ?3, uptime_s = ?4, \
                     last_seen_ms = CASE WHEN ?5 THEN ?6 ELSE last_seen_ms END, \
                     first_login_ms = COALESCE(first_login_ms, ?7) WHERE id = ?1",
                )?;
                for u in &w.usage {
                    st.execute(params![
                        u.sale_id,
                        day,
                        u.bytes_used as i64,
                        u.uptime_s as i64,
                        u.seen_now,
                        now_ms,
                        u.first_login_ms
                    ])?;
                }
            }
            let mut st = tx.prepare_cached("UPDATE sales SET first_login_ms = COALESCE(first_login_ms, ?2) WHERE id = ?1")?;
            for (id, at) in &w.first_logins {
                st.execute(params![id, at])?;
            }
            let mut st = tx.prepare_cached(
                "UPDATE sales SET ended_at_ms = COALESCE(ended_at_ms, ?2), end_reason = COALESCE(end_reason, ?3), \
                 state = CASE WHEN state IN ('pool-ready', 'pool-reserved') THEN 'failed' ELSE state END WHERE id = ?1",
            )?;
            for (id, reason) in &w.ended {
                st.execute(params![id, now_ms, reason])?;
            }
            let mut st = tx.prepare_cached("UPDATE sales SET data_alerted = 1 WHERE id = ?1")?;
            for id in &w.data_alerted {
                st.execute([id])?;
            }
            let mut st = tx.prepare_cached("UPDATE sales SET fair_use = 1 WHERE id = ?1")?;
            for id in &w.fair_use {
                st.execute([id])?;
            }
            // The partial index keeps this look-up cheap however many actions are done.
            let mut st = tx.prepare_cached(
                "INSERT INTO actions (sale_id, code, kind, arg, reason, created_at_ms) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM actions \
                 WHERE sale_id = ?1 AND kind = ?3 AND arg IS ?4 AND done_at_ms IS NULL)",
            )?;
            for a in &w.actions {
                st.execute(params![a.sale_id, a.code, a.kind.as_str(), a.arg, a.reason, now_ms])?;
            }
            for (level, kind, subject, message) in &w.events {
                events::insert_tx(tx, now_ms, *level, kind, subject.as_deref(), message)?;
            }
            Ok(())
        })
    }

    /// Actions not yet confirmed by the router, oldest first.
    pub fn pending_actions(&self) -> Result<Vec<PendingAction>, StoreError> {
        self.read("list pending actions", |c| {
            let mut stmt = c.prepare(
                "SELECT id, sale_id, code, kind, arg, reason, created_at_ms, attempts, last_error FROM actions \
                 WHERE done_at_ms IS NULL ORDER BY id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let kind: String = r.get(3)?;
                    Ok(PendingAction {
                        id: r.get(0)?,
                        sale_id: r.get(1)?,
                        code: r.get(2)?,
                        kind: ActionKind::parse(&kind).unwrap_or(ActionKind::Disconnect),
                        arg: r.get(4)?,
                        reason: r.get(5)?,
                        created_at_ms: r.get(6)?,
                        attempts: r.get::<_, i64>(7)?.max(0) as u32,
                        last_error: r.get(8)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// The router carried an action out (or it no longer applies).
    pub fn action_done(&self, id: i64, note: Option<&str>, now_ms: i64) -> Result<(), StoreError> {
        self.write("finish an action", Durability::Normal, |tx| {
            tx.execute(
                "UPDATE actions SET done_at_ms = ?2, last_error = COALESCE(?3, last_error) WHERE id = ?1",
                params![id, now_ms, note],
            )?;
            Ok(())
        })
    }

    /// An action failed; it stays pending.
    pub fn action_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.write("count an action attempt", Durability::Normal, |tx| {
            tx.execute(
                "UPDATE actions SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![id, error],
            )?;
            Ok(())
        })
    }
}
