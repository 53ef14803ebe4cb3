//! The clock checkpoint: the latest wall-clock time the agent trusted, kept across
//! restarts so a clock that boots behind it is known to be wrong; the clock's last
//! judgement (what the central office is told, and what makes an alert once per
//! episode); and the router's uptime at a trusted time (a second source).

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::events::{insert_tx, Level};
use super::{Durability, Store, StoreError};

/// The clock's last judgement, as the enforcement pass made it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClockState {
    pub trusted: bool,
    /// `system`, `router` or `floor` (see `vouchers::clock::ClockSource`).
    pub source: String,
    /// Why it is not trusted; empty when it is.
    pub detail: String,
    pub at_ms: i64,
    /// A trusted time and the router's uptime then, in ms.
    pub router_mark: Option<(i64, i64)>,
}

impl Store {
    /// The latest trusted time, if one was recorded.
    pub fn clock_checkpoint(&self) -> Result<Option<i64>, StoreError> {
        self.read("read the clock checkpoint", |c| {
            Ok(c.query_row(
                "SELECT trusted_ms FROM clock_checkpoint WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    /// Records `trusted_ms` as the latest trusted time; it never moves back.
    pub fn set_clock_checkpoint(&self, trusted_ms: i64) -> Result<(), StoreError> {
        self.write("record the clock checkpoint", Durability::Normal, |tx| {
            tx.execute(
                "INSERT INTO clock_checkpoint (id, trusted_ms) VALUES (1, ?1) \
                 ON CONFLICT (id) DO UPDATE SET trusted_ms = max(trusted_ms, excluded.trusted_ms)",
                params![trusted_ms],
            )?;
            Ok(())
        })
    }

    /// The clock's last judgement, if one was recorded.
    pub fn clock_state(&self) -> Result<Option<ClockState>, StoreError> {
        self.read("read the clock state", |c| {
            Ok(c.query_row(
                "SELECT trusted, source, detail, at_ms, router_wall_ms, router_uptime_ms \
                 FROM clock_state WHERE id = 1",
                [],
                |r| {
                    let wall: Option<i64> = r.get(4)?;
                    let uptime: Option<i64> = r.get(5)?;
                    Ok(ClockState {
                        trusted: r.get(0)?,
                        source: r.get(1)?,
                        detail: r.get(2)?,
                        at_ms: r.get(3)?,
                        router_mark: wall.zip(uptime),
                    })
                },
            )
            .optional()?)
        })
    }

    /// Records the clock's judgement. When trust changes (or on the first judgement
    /// if it is untrusted), records `clock_not_synchronised` (alert) or
    /// `clock_synchronised` (warn) in the same transaction, so each episode is
    /// reported once, across restarts too. Returns whether it recorded one.
    pub fn set_clock_state(&self, state: &ClockState) -> Result<bool, StoreError> {
        self.write("record the clock state", Durability::Normal, |tx| {
            let before: Option<bool> = tx
                .query_row("SELECT trusted FROM clock_state WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .optional()?;
            tx.execute(
                "INSERT OR REPLACE INTO clock_state \
                 (id, trusted, source, detail, at_ms, router_wall_ms, router_uptime_ms) \
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    state.trusted,
                    state.source,
                    state.detail,
                    state.at_ms,
                    state.router_mark.map(|m| m.0),
                    state.router_mark.map(|m| m.1)
                ],
            )?;
            let event = match (before.unwrap_or(true), state.trusted) {
                (true, false) => Some((
                    Level::Alert,
                    "clock_not_synchronised",
                    format!(
                        "{}; no voucher expires by validity until it is trusted again",
                        state.detail
                    ),
                )),
                (false, true) => Some((
                    Level::Warn,
                    "clock_synchronised",
                    format!("the clock is trusted again (source: {})", state.source),
                )),
                _ => None,
            };
            let Some((level, kind, message)) = event else {
                return Ok(false);
            };
            insert_tx(tx, state.at_ms, level, kind, None, &message)?;
            Ok(true)
        })
    }
}
