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

    /// Version in force for `subject` (`plans`, `routers`); 0 when none came down
    /// yet. A value that does not read as a number is an error, never 0: a 0 would
    /// let any older signed set through.
    pub fn version(&self, subject: &str) -> Result<u64, OutboxError> {
        match self.get(&format!("{subject}.version"))? {
            None => Ok(0),
            Some(v) => v.parse().map_err(|_| OutboxError::Sqlite {
                path: self.path.clone(),
                source: rusqlite::Error::InvalidColumnType(
                    0,
                    format!("{subject}.version = {v:?} is not a version number"),
                    rusqlite::types::Type::Text,
                ),
            }),
        }
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

    /// When this state (the SQLite store) was made, Unix ms (0 when unknown: a store
    /// made before this was recorded).
    pub fn state_since_ms(&self) -> Result<u64, OutboxError> {
        Ok(self
            .get("created_ms")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// The highest floor the central office set for this box (zeros without one).
    /// A value that does not read is an error, never 0.
    pub fn floor(&self) -> Result<super::downlink::FloorInForce, OutboxError> {
        let read = |k: &str| -> Result<u64, OutboxError> {
            match self.get(&format!("floor.{k}"))? {
                None => Ok(0),
                Some(v) => v.parse().map_err(|_| OutboxError::Sqlite {
                    path: self.path.clone(),
                    source: rusqlite::Error::InvalidColumnType(
                        0,
                        format!("floor.{k} = {v:?} is not a number"),
                        rusqlite::types::Type::Text,
                    ),
                }),
            }
        };
        Ok(super::downlink::FloorInForce {
            plans_version: read("plans")?,
            routers_version: read("routers")?,
            issued_ms: read("issued_ms")?,
        })
    }

    /// Keeps the highest of the stored floor and `f`, value by value.
    pub fn raise_floor(&self, f: super::downlink::FloorInForce) -> Result<(), OutboxError> {
        let now = self.floor()?;
        self.set(
            "floor.plans",
            &now.plans_version.max(f.plans_version).to_string(),
        )?;
        self.set(
            "floor.routers",
            &now.routers_version.max(f.routers_version).to_string(),
        )?;
        self.set(
            "floor.issued_ms",
            &now.issued_ms.max(f.issued_ms).to_string(),
        )
    }

    /// Notes that a command is starting and says what became of it before, if it
    /// came already. Ids are kept by number, newest [`KEPT_COMMANDS`], not by age:
    /// a clock that jumps forward forgets none of them.
    pub fn begin_command(
        &self,
        request_id: &str,
        expires_ms: u64,
    ) -> Result<CommandRecord, OutboxError> {
        self.with(|c| {
            let inserted = c.execute(
                "INSERT OR IGNORE INTO command_results (request_id, expires_ms) VALUES (?1, ?2)",
                params![request_id, expires_ms as i64],
            )?;
            if inserted == 1 {
                c.execute(
                    "DELETE FROM command_results WHERE seq <= (SELECT MAX(seq) FROM command_results) - ?1",
                    [KEPT_COMMANDS],
                )?;
                return Ok(CommandRecord::Fresh);
            }
            let result: Option<Vec<u8>> = c.query_row(
                "SELECT result FROM command_results WHERE request_id = ?1",
                [request_id],
                |r| r.get(0),
            )?;
            Ok(match result {
                Some(bytes) => CommandRecord::Answered(bytes),
                None => CommandRecord::Unfinished,
            })
        })
    }

    /// Keeps a command's answer (postcard of its `CommandResult`), so the same
    /// request id gets it again instead of running twice.
    pub fn finish_command(&self, request_id: &str, result: &[u8]) -> Result<(), OutboxError> {
        self.with(|c| {
            c.execute(
                "UPDATE command_results SET result = ?2 WHERE request_id = ?1",
                params![request_id, result],
            )
            .map(|_| ())
        })
    }
}

/// How many command ids (and answers) the site keeps.
pub const KEPT_COMMANDS: i64 = 4096;

/// What the site knows of a request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandRecord {
    /// Never seen: run it.
    Fresh,
    /// Run before; this is its answer (postcard of a `CommandResult`).
    Answered(Vec<u8>),
    /// Started before and never answered (a read-only command, or a restart
    /// mid-command): run again; commands that sell are keyed, so nothing doubles.
    Unfinished,
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
            assert_eq!(st.begin_command("r1", 5000).unwrap(), CommandRecord::Fresh);
            st.finish_command("r1", b"answer").unwrap();
            assert_eq!(st.begin_command("r2", 5000).unwrap(), CommandRecord::Fresh);
        }
        let st = SyncState::open(&path).unwrap();
        assert_eq!(st.version("plans").unwrap(), 7);
        assert_eq!(st.get("plans.msg_id").unwrap().as_deref(), Some("m7"));
        assert_eq!(
            st.begin_command("r1", 5000).unwrap(),
            CommandRecord::Answered(b"answer".to_vec()),
            "the same answer after a restart"
        );
        assert_eq!(
            st.begin_command("r2", 5000).unwrap(),
            CommandRecord::Unfinished
        );
    }

    #[test]
    fn a_damaged_version_is_an_error_not_zero() {
        let dir = tempfile::tempdir().unwrap();
        let st = SyncState::open(&dir.path().join("s.db")).unwrap();
        st.set("plans.version", "seven").unwrap();
        assert!(st.version("plans").is_err());
    }

    #[test]
    fn ids_are_forgotten_by_count_never_by_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        let st = SyncState::open(&dir.path().join("s.db")).unwrap();
        st.with(|c| c.pragma_update(None, "synchronous", "OFF"))
            .unwrap();
        // Expiring at once: a purge by wall-clock age (a clock jumped forward) would
        // drop it; only KEPT_COMMANDS newer ids push it out.
        assert_eq!(st.begin_command("old", 1).unwrap(), CommandRecord::Fresh);
        for i in 0..KEPT_COMMANDS - 1 {
            st.begin_command(&format!("r{i}"), u64::MAX / 2).unwrap();
        }
        assert_ne!(st.begin_command("old", 1).unwrap(), CommandRecord::Fresh);
        st.begin_command("one-more", 1).unwrap();
        assert_eq!(st.begin_command("old", 1).unwrap(), CommandRecord::Fresh);
    }
}
