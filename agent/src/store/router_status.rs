//! Router status history: the outcome, transport and version of every connection
//! and `router test`, so `stats` and the central office can show when a router was
//! last reachable and what it was.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Durability, Store, StoreError};

/// One connection attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouterStatus {
    pub at_ms: i64,
    pub router: String,
    pub ok: bool,
    /// `api`, `api-ssl`, `rest`.
    pub transport: Option<String>,
    pub addr: Option<String>,
    pub version: Option<String>,
    pub latency_ms: Option<u64>,
    /// The error text when `ok` is false, or a note.
    pub message: Option<String>,
}

impl Store {
    /// Records a connection attempt or `router test`; failures also become events.
    pub fn record_router_status(&self, s: &RouterStatus) -> Result<(), StoreError> {
        self.write("record router status", Durability::Normal, |tx| {
            tx.execute(
                "INSERT INTO router_status (at_ms, router, ok, transport, addr, version, latency_ms, message) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    s.at_ms,
                    s.router,
                    s.ok,
                    s.transport,
                    s.addr,
                    s.version,
                    s.latency_ms.map(|v| v as i64),
                    s.message
                ],
            )?;
            let (level, kind) = if s.ok {
                (super::Level::Info, "router_connect")
            } else {
                (super::Level::Alert, "router_unreachable")
            };
            let message = match (&s.message, s.ok) {
                (Some(m), _) => m.clone(),
                (None, true) => format!(
                    "connected over {} to RouterOS {}",
                    s.transport.as_deref().unwrap_or("?"),
                    s.version.as_deref().unwrap_or("?")
                ),
                (None, false) => "connection failed".into(),
            };
            super::events::insert_tx(tx, s.at_ms, level, kind, Some(&s.router), &message)
        })
    }

    /// The newest status of a router (or of any router).
    pub fn last_router_status(
        &self,
        router: Option<&str>,
    ) -> Result<Option<RouterStatus>, StoreError> {
        self.newest_router_status(router, false)
    }

    /// The newest status that was a success: the router's last good contact, which a
    /// failure of one command (or of a process that has since gone) does not hide.
    pub fn last_good_router_status(
        &self,
        router: Option<&str>,
    ) -> Result<Option<RouterStatus>, StoreError> {
        self.newest_router_status(router, true)
    }

    fn newest_router_status(
        &self,
        router: Option<&str>,
        only_ok: bool,
    ) -> Result<Option<RouterStatus>, StoreError> {
        self.read("read router status", |c| {
            Ok(c.query_row(
                "SELECT at_ms, router, ok, transport, addr, version, latency_ms, message FROM router_status \
                 WHERE (?1 IS NULL OR router = ?1) AND (?2 = 0 OR ok = 1) ORDER BY id DESC LIMIT 1",
                rusqlite::params![router, only_ok],
                |r| {
                    Ok(RouterStatus {
                        at_ms: r.get(0)?,
                        router: r.get(1)?,
                        ok: r.get(2)?,
                        transport: r.get(3)?,
                        addr: r.get(4)?,
                        version: r.get(5)?,
                        latency_ms: r.get::<_, Option<i64>>(6)?.map(|v| v.max(0) as u64),
                        message: r.get(7)?,
                    })
                },
            )
            .optional()?)
        })
    }
}
