//! What the central office pushed and the site applied, kept so a restart (and
//! every CLI command on the same state folder) uses it: the last plan set, as the
//! bytes it came in. Version-checked in the same transaction that writes it, and
//! the down-link's `plans.version` (`sync_state`) is written there too, so the set
//! in force and the version the site reports can never disagree.

use rusqlite::{params, OptionalExtension};

use super::{Durability, Store, StoreError};

/// The stored plan set: its version and its body (`sync-proto`'s `PlanSet`, postcard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedPlans {
    pub version: u64,
    pub body: Vec<u8>,
}

impl Store {
    /// Stores plan set `version` as the one in force. Refused (`Conflict`) when a
    /// newer one is stored; the same version with the same bytes is accepted again
    /// (a set applied before a crash that lost the report).
    pub fn save_pushed_plans(
        &self,
        version: u64,
        body: &[u8],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let v = super::error::fit("plan set version", version)?;
        self.write("store the pushed plan set", Durability::Money, |tx| {
            let stored: Option<(i64, Vec<u8>)> = tx
                .query_row(
                    "SELECT version, body FROM pushed_plans WHERE id = 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match stored {
                Some((old, _)) if old > v => {
                    return Err(StoreError::Conflict {
                        what: format!("plan set version {version} is older than version {old} in force"),
                    })
                }
                Some((old, bytes)) if old == v && bytes != body => {
                    return Err(StoreError::Conflict {
                        what: format!("a different plan set with version {version} is already in force"),
                    })
                }
                _ => {}
            }
            tx.execute(
                "INSERT INTO pushed_plans (id, version, body, applied_at_ms) VALUES (1, ?1, ?2, ?3) \
                 ON CONFLICT(id) DO UPDATE SET version = excluded.version, body = excluded.body, \
                 applied_at_ms = excluded.applied_at_ms",
                params![v, body, now_ms],
            )?;
            tx.execute(
                "INSERT INTO sync_state (key, value) VALUES ('plans.version', ?1) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [version.to_string()],
            )?;
            Ok(())
        })
    }

    /// The plan set in force, if the central office pushed one.
    pub fn pushed_plans(&self) -> Result<Option<PushedPlans>, StoreError> {
        self.read("read the pushed plan set", |c| {
            Ok(c.query_row(
                "SELECT version, body FROM pushed_plans WHERE id = 1",
                [],
                |r| {
                    Ok(PushedPlans {
                        version: r.get::<_, i64>(0)?.max(0) as u64,
                        body: r.get(1)?,
                    })
                },
            )
            .optional()?)
        })
    }
}
