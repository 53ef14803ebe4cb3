//! Persistent state of the down-link (`sync_state` table, same database as the
//! outbox): versions in force and the command ids already seen, so a restart does
//! not reopen the door to replays. The checks themselves are pure functions.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::outbox::OutboxError;
use sync_proto::messages::CommandRequest;

/// Longest a command may be valid for: it bounds how long ids must be remembered.
pub const MAX_COMMAND_LIFETIME_MS: u64 = 24 * 3600 * 1000;

/// Why a versioned push or a command from the central office is refused. The text
/// goes back to the central office in the refusal report or reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A plan or router set no newer than the one in force.
    #[error("version {received} is not newer than version {in_force} in force")]
    NotNewer { received: u64, in_force: u64 },
    /// A command for another site.
    #[error("command is for site {target:?}, this is {site:?}")]
    OtherSite { target: String, site: String },
    /// A command without a request id (it could not be told from a replay).
    #[error("command has no request id")]
    NoRequestId,
    /// A command past its expiry, by this many milliseconds.
    #[error("command expired {0} ms ago")]
    Expired(u64),
    /// A command whose expiry is further ahead than [`MAX_COMMAND_LIFETIME_MS`].
    #[error("command expiry is more than 24 h ahead; refused so replays stay bounded")]
    TooLong,
    /// A request id seen before.
    #[error("request id {0} was already used (replay)")]
    Replay(String),
}

/// Why a versioned message (plans, routers) is refused, if it is.
pub fn check_version(received: u64, in_force: u64) -> Result<(), Refusal> {
    if received <= in_force {
        Err(Refusal::NotNewer { received, in_force })
    } else {
        Ok(())
    }
}

/// Why a command is refused, if it is: for another site, expired, valid for too long, or seen.
pub fn check_command(
    req: &CommandRequest,
    site: &str,
    now_ms: u64,
    seen_before: bool,
) -> Result<(), Refusal> {
    if req.target != site {
        return Err(Refusal::OtherSite {
            target: req.target.clone(),
            site: site.to_string(),
        });
    }
    if req.request_id.is_empty() {
        return Err(Refusal::NoRequestId);
    }
    if req.expires_ms <= now_ms {
        return Err(Refusal::Expired(now_ms - req.expires_ms));
    }
    if req.expires_ms - now_ms > MAX_COMMAND_LIFETIME_MS {
        return Err(Refusal::TooLong);
    }
    if seen_before {
        return Err(Refusal::Replay(req.request_id.clone()));
    }
    Ok(())
}

/// The `sync_state` table.
pub struct SyncState {
    conn: Mutex<Connection>,
    path: String,
}

impl SyncState {
    pub fn open(path: &Path) -> Result<SyncState, OutboxError> {
        let conn = super::outbox::open_db(path, false)?;
        Ok(SyncState {
            conn: Mutex::new(conn),
            path: path.display().to_string(),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, OutboxError> {
        let conn = self.conn.lock().map_err(|_| OutboxError::Poisoned)?;
        f(&conn).map_err(|source| OutboxError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    pub fn get(&self, key: &str) -> Result<Option<String>, OutboxError> {
        self.with(|c| {
            c.query_row("SELECT value FROM sync_state WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    pub fn set(&self, key: &str, value: &str) -> Result<(), OutboxError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO sync_state (key, value) VALUES (?1, ?2) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
        })
    }

    /// Version in force for `subject` (`plans`, `routers`); 0 when none came down yet.
    pub fn version(&self, subject: &str) -> Result<u64, OutboxError> {
        Ok(self
            .get(&format!("{subject}.version"))?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Records a version in force and the message id that carried it.
    pub fn set_version(
        &self,
        subject: &str,
        version: u64,
        msg_id: &str,
    ) -> Result<(), OutboxError> {
        self.set(&format!("{subject}.version"), &version.to_string())?;
        self.set(&format!("{subject}.msg_id"), msg_id)
    }

    /// Remembers a command id until it expires; `Ok(false)` if it was already there.
    /// Forgets ids whose commands have expired (they would be refused as expired anyway).
    pub fn remember_command(
        &self,
        request_id: &str,
        expires_ms: u64,
        now_ms: u64,
    ) -> Result<bool, OutboxError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM sync_state WHERE key LIKE 'cmd:%' AND expires_ms < ?1",
                [now_ms as i64],
            )?;
            c.execute(
                "INSERT OR IGNORE INTO sync_state (key, value, expires_ms) VALUES (?1, '', ?2)",
                params![format!("cmd:{request_id}"), expires_ms as i64],
            )
            .map(|n| n == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_proto::messages::SiteCommand;

    fn req(id: &str, expires_ms: u64) -> CommandRequest {
        CommandRequest {
            request_id: id.into(),
            target: "s1".into(),
            expires_ms,
            command: SiteCommand::Reconcile,
        }
    }

    #[test]
    fn only_a_newer_version_passes() {
        assert!(check_version(5, 4).is_ok());
        assert!(check_version(4, 4)
            .unwrap_err()
            .to_string()
            .contains("not newer"));
        assert!(check_version(3, 4).is_err());
    }

    #[test]
    fn expired_foreign_far_future_and_replayed_commands_are_refused() {
        assert!(check_command(&req("a", 2000), "s1", 1000, false).is_ok());
        assert!(check_command(&req("a", 2000), "s1", 2000, false)
            .unwrap_err()
            .to_string()
            .contains("expired"));
        assert!(check_command(&req("a", 2000), "s2", 1000, false)
            .unwrap_err()
            .to_string()
            .contains("for site"));
        assert!(check_command(
            &req("a", 1000 + MAX_COMMAND_LIFETIME_MS + 1),
            "s1",
            1000,
            false
        )
        .is_err());
        assert!(check_command(&req("a", 2000), "s1", 1000, true)
            .unwrap_err()
            .to_string()
            .contains("replay"));
    }

    #[test]
    fn command_ids_and_versions_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let st = SyncState::open(&path).unwrap();
            assert_eq!(st.version("plans").unwrap(), 0);
            st.set_version("plans", 7, "m7").unwrap();
            assert!(st.remember_command("r1", 5000, 1000).unwrap());
            assert!(!st.remember_command("r1", 5000, 1000).unwrap());
        }
        let st = SyncState::open(&path).unwrap();
        assert_eq!(st.version("plans").unwrap(), 7);
        assert_eq!(st.get("plans.msg_id").unwrap().as_deref(), Some("m7"));
        assert!(
            !st.remember_command("r1", 5000, 2000).unwrap(),
            "still remembered after a restart"
        );
        assert!(st.remember_command("r2", 9000, 6000).unwrap());
        assert!(
            st.remember_command("r1", 9000, 6000).unwrap(),
            "forgotten once expired"
        );
    }
}
