//! The local SQLite store: one file in WAL mode, migrations run at start-up, one
//! file per table family. Money and sale state are committed with
//! `synchronous=FULL`; everything else with `NORMAL` (WAL keeps it consistent, a
//! power cut may lose the last few events but never a coin or a sale).

mod actions;
mod cash;
mod clock;
mod credit;
mod error;
mod events;
mod keyed;
mod migrate;
mod outbox;
mod plans;
mod pushed;
mod router_status;
mod sales;
mod sales_read;
mod takings;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use actions::{ActionKind, NewAction, PassWrites, PendingAction};
pub(crate) use cash::parse_per_value;
pub use cash::{CashBox, CashCollection};
pub use clock::ClockState;
pub use credit::CreditEntry;
pub use error::StoreError;
pub use events::{DriftNews, Event, Level};
pub use migrate::SCHEMA_VERSION;
pub use outbox::OutboxRow;
pub use plans::StoredPlan;
pub use pushed::PushedPlans;
pub use router_status::RouterStatus;
pub use sales::{NewSale, Usage};
pub use sales_read::{validity_end_ms, Sale, SaleState, SaleStats};
pub use takings::{channel_of, ChannelSales, Takings};

/// Milliseconds since the Unix epoch, from the agent's clock ([`hotspot_clock::now_ms`]),
/// as SQLite's INTEGER columns hold it.
pub fn now_ms() -> i64 {
    i64::try_from(hotspot_clock::now_ms()).unwrap_or(i64::MAX)
}

/// How hard a write must be on disk before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL`: events, usage, status.
    Normal,
    /// `synchronous=FULL`: coins, sales, the outbox row of a sale.
    Money,
}

/// A handle to the store; clones share one connection. Calls are short local
/// transactions, so async code calls them directly.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// The wire form of a sale, for the outbox message each later state of a sale
    /// (delivered, failed) writes in its own transaction; set by the layer above.
    sale_payload: std::sync::OnceLock<fn(&Sale) -> Vec<u8>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

/// What opening the store checks and what closing it leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opening {
    /// The service, which systemd starts at boot, so also the first open after a
    /// power cut or a card going bad: every page is read (`PRAGMA quick_check`) and a
    /// damaged store is refused before anything is sold on it. Closing checkpoints
    /// the WAL into the main file.
    Service,
    /// A command that runs and exits (`voucher batch`, `cash show`, ...): the whole
    /// file is not read on every run (14,000 sales, 8.6 MB, are 3,680 page reads
    /// before the first router byte). A damaged page the command touches still fails
    /// it: SQLite checks each page it reads and answers SQLITE_CORRUPT, which is
    /// [`StoreError::Corrupt`], and the transaction rolls back. Closing leaves the WAL
    /// as it is (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE): copying it into the main file
    /// costs two fsyncs, and the next command would create the WAL again (two more).
    /// This loses nothing at a power cut: a commit with `synchronous=FULL` is on disk
    /// in the WAL when it returns, and the next open reads the WAL back (the WAL is
    /// only deleted once checkpointed); a `NORMAL` commit could always be lost at a
    /// power cut until the next checkpoint or FULL commit, with or without this.
    /// SQLite still checkpoints when the WAL grows past 1,000 pages, and the service
    /// when it stops.
    Command,
}

impl Store {
    /// Creates or migrates the database at `path` without keeping it open: for the
    /// other connections to the same file (the outbox pump, the sync state), which
    /// use tables only these migrations create. It does not read every page again:
    /// the service's own open ([`Store::open`]) has checked them by then (the service
    /// started by reading the whole file three times), and a damaged page these
    /// connections read still fails their statement ([`Opening::Command`]).
    pub fn ensure_schema(path: &Path) -> Result<(), StoreError> {
        Store::open_as(path, Opening::Command).map(drop)
    }

    /// Opens (or creates) the store at `path` for the service and brings its schema
    /// up to date; a damaged store is refused ([`StoreError::Corrupt`]).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_as(path, Opening::Service)
    }

    /// [`Store::open`] for a command that runs and exits: the pages are checked as
    /// they are read rather than all at once, and closing leaves the WAL for the next
    /// open (see [`Opening::Command`]).
    pub fn open_for_command(path: &Path) -> Result<Store, StoreError> {
        Store::open_as(path, Opening::Command)
    }

    fn open_as(path: &Path, opening: Opening) -> Result<Store, StoreError> {
        // Root ignores file modes, so a file an operator marked read-only would
        // otherwise be written anyway; honour the mark.
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().readonly() {
                return Err(StoreError::ReadOnly {
                    path: path.to_path_buf(),
                    detail: "the file has no write permission".into(),
                });
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                    path: path.to_path_buf(),
                    detail: format!("cannot create folder {}: {e}", dir.display()),
                })?;
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| StoreError::from_sqlite(path, "open", e))?;
        Store::setup(conn, path.to_path_buf(), opening)
    }

    /// The store's file name inside `[agent] state_dir`.
    pub const FILE_NAME: &'static str = "hotspot-agent.db";

    /// Opens the store in a state folder (`<dir>/hotspot-agent.db`), creating the folder.
    pub fn open_in(state_dir: &Path) -> Result<Store, StoreError> {
        Store::open(&state_dir.join(Store::FILE_NAME))
    }

    /// [`Store::open_for_command`] in a state folder.
    pub fn open_in_for_command(state_dir: &Path) -> Result<Store, StoreError> {
        Store::open_for_command(&state_dir.join(Store::FILE_NAME))
    }

    /// A private in-memory store, for tests and benchmarks.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory()
            .map_err(|e| StoreError::from_sqlite(Path::new(":memory:"), "open", e))?;
        Store::setup(conn, PathBuf::from(":memory:"), Opening::Service)
    }

    fn setup(mut conn: Connection, path: PathBuf, opening: Opening) -> Result<Store, StoreError> {
        let err = |what: &'static str| {
            let path = path.clone();
            move |e: rusqlite::Error| StoreError::from_sqlite(&path, what, e)
        };
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(StoreError::ReadOnly {
                path,
                detail: "SQLite opened it read-only".into(),
            });
        }
        // The first statement reads the header: a damaged file fails here.
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(err("switch to WAL"))?;
        if path != Path::new(":memory:") && !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path,
                detail: format!("SQLite refused WAL mode (journal_mode is {mode}); the folder must allow shared memory files"),
            });
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err("set synchronous"))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err("enable foreign keys"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err("set busy timeout"))?;
        match opening {
            Opening::Service => {
                let check: String = conn
                    .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
                    .map_err(err("check integrity"))?;
                if check != "ok" {
                    return Err(StoreError::Corrupt {
                        path,
                        detail: check,
                    });
                }
            }
            Opening::Command => {
                conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
                    .map_err(err("keep the WAL at close"))?;
            }
        }
        migrate::run(&mut conn, &path)?;
        Ok(Store {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                path,
                sale_payload: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled its transaction back (Drop), so the
        // connection is still consistent.
        self.inner.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets how a sale is written for the central office: from then on a sale that
    /// is delivered or fails also queues its own outbox message
    /// (`sale-<epoch>-<id>-<state>`) in the same transaction. The first call wins.
    pub fn set_sale_payload(&self, payload: fn(&Sale) -> Vec<u8>) {
        let _ = self.inner.sale_payload.set(payload);
    }

    /// Queues the message of a sale's new state, if a payload is set.
    pub(crate) fn sale_state_tx(
        &self,
        tx: &Transaction<'_>,
        id: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let Some(payload) = self.inner.sale_payload.get() else {
            return Ok(());
        };
        let sale = sales_read::get(tx, id)?;
        let msg_id = sync_proto::ids::sale_state_msg_id(
            &outbox::epoch_tx(tx)?,
            &id.to_string(),
            sale.state.as_str(),
        );
        outbox::enqueue_tx(tx, &msg_id, "sale", &payload(&sale), now_ms)
    }

    /// Runs a read.
    pub(crate) fn read<T>(
        &self,
        what: &str,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.lock();
        f(&conn).map_err(|e| e.at(self.path(), what))
    }

    /// Runs `f` in one immediate transaction and commits it with the given durability.
    /// An error from `f` rolls everything back.
    pub(crate) fn write<T>(
        &self,
        what: &str,
        durability: Durability,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let path = self.path();
        if durability == Durability::Money {
            conn.pragma_update(None, "synchronous", "FULL")
                .map_err(|e| StoreError::from_sqlite(path, what, e))?;
        }
        let result = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        if durability == Durability::Money {
            // Best effort: a failure here only makes later writes safer than needed.
            let _ = conn.pragma_update(None, "synchronous", "NORMAL");
        }
        result.map_err(|e: StoreError| e.at(path, what))
    }
}

#[cfg(test)]
mod tests;
