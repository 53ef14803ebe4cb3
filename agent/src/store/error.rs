//! Errors of the local store. Each names the database file and says what to do,
//! because the operator reading it is usually standing at the kiosk.

use std::path::PathBuf;

use rusqlite::ErrorCode;

/// Why the store could not do what was asked. No variant means data was lost: a
/// failed write rolls back and everything committed before it stays.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not a SQLite database, or its pages are damaged.
    #[error(
        "the store {path} is damaged or is not a SQLite database ({detail}); stop the agent, move the file aside \
         (mv {path} {path}.broken), and start it again to create a new store; keep the old file: \
         `sqlite3 {path}.broken .recover` gets back what can be read"
    )]
    Corrupt { path: PathBuf, detail: String },

    /// The file, its folder or the disk is read-only.
    #[error(
        "cannot write the store {path}: it is read-only ({detail}); give the agent's user write access to the file \
         and its folder (SQLite also writes {path}-wal and {path}-shm there), or remount the disk read-write; \
         nothing was changed"
    )]
    ReadOnly { path: PathBuf, detail: String },

    /// No space left on the device.
    #[error(
        "the disk holding the store {path} is full; free some space (old logs, journal: journalctl --vacuum-size=50M) \
         and retry; this operation was not stored and nothing stored earlier was lost"
    )]
    DiskFull { path: PathBuf },

    /// The file could not be opened at all.
    #[error("cannot open the store {path}: {detail}; check that [agent] state_dir exists and the agent may write there")]
    Open { path: PathBuf, detail: String },

    /// Written by a newer agent: refusing is safer than guessing its schema.
    #[error(
        "the store {path} has schema version {found}, but this hotspot-agent knows versions up to {supported}; \
         install the newer hotspot-agent again (downgrades are not supported), or move the file aside"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// Another process holds the database for too long.
    #[error("the store {path} is locked by another process ({detail}); stop the other hotspot-agent and retry")]
    Busy { path: PathBuf, detail: String },

    /// Any other SQLite failure.
    #[error("store {path}: {what} failed: {detail}")]
    Sql {
        path: PathBuf,
        what: String,
        detail: String,
    },

    /// A row that should exist does not.
    #[error("store {path}: no {what}")]
    NotFound { path: PathBuf, what: String },

    /// A sale asked to spend more credit than was inserted.
    #[error("not enough credit: {balance} inserted, {needed} needed; insert more coins or pick a cheaper plan")]
    InsufficientCredit { balance: i64, needed: u64 },

    /// A price, limit or validity too large for the store's signed 64-bit columns.
    #[error(
        "{what} {value} is too large: at most {max} fits; check the [[plan]] in the config file or the plan set \
         the central office sent"
    )]
    OutOfRange { what: String, value: u64, max: i64 },

    /// The change does not fit the row's current state (e.g. delivering a sale twice).
    #[error("{what}")]
    Conflict { what: String },
}

/// `value` as the store's i64, or [`StoreError::OutOfRange`]: a cast would flip
/// a price above `i64::MAX` negative, and a negative spend adds credit.
pub(crate) fn fit(what: &str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange {
        what: what.to_string(),
        value,
        max: i64::MAX,
    })
}

/// A validity in seconds that still fits once counted in milliseconds.
pub(crate) fn fit_validity(value: u64) -> Result<i64, StoreError> {
    const MAX_S: i64 = i64::MAX / 1000;
    match i64::try_from(value) {
        Ok(v) if v <= MAX_S => Ok(v),
        _ => Err(StoreError::OutOfRange {
            what: "validity (seconds)".to_string(),
            value,
            max: MAX_S,
        }),
    }
}

impl StoreError {
    /// Classifies a rusqlite error, naming the file and the operation.
    pub fn from_sqlite(path: &std::path::Path, what: &str, e: rusqlite::Error) -> StoreError {
        let path = path.to_path_buf();
        let detail = e.to_string();
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => {
                StoreError::Corrupt { path, detail }
            }
            Some(ErrorCode::ReadOnly) => StoreError::ReadOnly { path, detail },
            Some(ErrorCode::DiskFull) => StoreError::DiskFull { path },
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
                StoreError::Busy { path, detail }
            }
            Some(ErrorCode::CannotOpen) | Some(ErrorCode::PermissionDenied) => {
                StoreError::Open { path, detail }
            }
            _ => match e {
                rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound {
                    path,
                    what: what.to_string(),
                },
                _ => StoreError::Sql {
                    path,
                    what: what.to_string(),
                    detail,
                },
            },
        }
    }

    /// Whether retrying the same operation later may work (locks, full disk).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Busy { .. } | StoreError::DiskFull { .. })
    }
}

impl From<rusqlite::Error> for StoreError {
    /// Inside a transaction closure the path is not at hand: [`Store`](super::Store)
    /// fills it in with [`StoreError::at`] before the error leaves the store.
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::from_sqlite(std::path::Path::new(""), "", e)
    }
}

impl StoreError {
    /// Fills in the file and the operation where a conversion left them empty.
    pub fn at(mut self, file: &std::path::Path, operation: &str) -> StoreError {
        match &mut self {
            StoreError::Corrupt { path, .. }
            | StoreError::ReadOnly { path, .. }
            | StoreError::DiskFull { path }
            | StoreError::Open { path, .. }
            | StoreError::TooNew { path, .. }
            | StoreError::Busy { path, .. } => {
                if path.as_os_str().is_empty() {
                    *path = file.to_path_buf();
                }
            }
            StoreError::Sql { path, what, .. } | StoreError::NotFound { path, what } => {
                if path.as_os_str().is_empty() {
                    *path = file.to_path_buf();
                }
                if what.is_empty() {
                    *what = operation.to_string();
                }
            }
            StoreError::InsufficientCredit { .. }
            | StoreError::OutOfRange { .. }
            | StoreError::Conflict { .. } => {}
        }
        self
    }
}
