//! Schema migrations, numbered by SQLite's `PRAGMA user_version`. Each step runs in
//! its own transaction together with the version bump, so a crash mid-migration
//! leaves the previous version intact. Never edit a shipped step: add one.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// Steps in order; step `i` takes the schema from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: plans, sales, credit, events, outbox.
    "CREATE TABLE plans (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        price INTEGER NOT NULL,
        currency TEXT NOT NULL,
        time_limit_s INTEGER,
        data_limit_bytes INTEGER,
        validity_s INTEGER,
        validity_from TEXT NOT NULL,
        profile TEXT NOT NULL,
        fair_use_profile TEXT,
        kiosk INTEGER NOT NULL,
        pool INTEGER NOT NULL,
        source TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE TABLE sales (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        code TEXT NOT NULL UNIQUE,
        password TEXT NOT NULL,
        plan_id TEXT NOT NULL,
        price INTEGER NOT NULL,
        currency TEXT NOT NULL,
        profile TEXT NOT NULL,
        fair_use_profile TEXT,
        time_limit_s INTEGER,
        data_limit_bytes INTEGER,
        validity_s INTEGER,
        validity_from TEXT NOT NULL,
        router TEXT NOT NULL,
        state TEXT NOT NULL,
        source TEXT NOT NULL,
        router_user_id TEXT,
        created_at_ms INTEGER NOT NULL,
        provisioned_at_ms INTEGER,
        sold_at_ms INTEGER,
        delivered_at_ms INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE INDEX sales_state ON sales(state, plan_id);
    CREATE TABLE credit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        amount INTEGER NOT NULL,
        source TEXT NOT NULL,
        sale_id INTEGER,
        created_at_ms INTEGER NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        level TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT,
        message TEXT NOT NULL
    );
    CREATE INDEX events_at ON events(at_ms);
    CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, msg_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, payload BLOB NOT NULL, created_at_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_attempt_ms INTEGER);",
    // 2: router status history and enforcement actions that must survive outages.
    "CREATE TABLE router_status (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        router TEXT NOT NULL,
        ok INTEGER NOT NULL,
        transport TEXT,
        addr TEXT,
        version TEXT,
        latency_ms INTEGER,
        message TEXT
    );
    CREATE TABLE actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sale_id INTEGER NOT NULL,
        code TEXT NOT NULL,
        kind TEXT NOT NULL,
        arg TEXT,
        reason TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        done_at_ms INTEGER
    );
    CREATE INDEX actions_pending ON actions(sale_id, kind) WHERE done_at_ms IS NULL;",
    // 3: what enforcement learns about each voucher.
    "ALTER TABLE sales ADD COLUMN first_login_ms INTEGER;
    ALTER TABLE sales ADD COLUMN last_seen_ms INTEGER;
    ALTER TABLE sales ADD COLUMN ended_at_ms INTEGER;
    ALTER TABLE sales ADD COLUMN end_reason TEXT;
    ALTER TABLE sales ADD COLUMN bytes_used INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sales ADD COLUMN uptime_s INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sales ADD COLUMN usage_day INTEGER;
    ALTER TABLE sales ADD COLUMN bytes_day_start INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sales ADD COLUMN data_alerted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sales ADD COLUMN fair_use INTEGER NOT NULL DEFAULT 0;",
    // 4: the central link's own state (plan and router versions in force, command
    // ids seen), until now created by the sync layer itself; `IF NOT EXISTS` because
    // databases in the field already have it.
    "CREATE TABLE IF NOT EXISTS sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_ms INTEGER);",
    // 5: the coin acceptor's event counter as it stood after the last credit (or
    // the last event without one), written in the same transaction as that credit.
    "CREATE TABLE coin_counter (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        acceptor TEXT NOT NULL,
        counter INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );",
    // 6: the cash box's collections (store/cash.rs); `per_value` is `5x10,1x3`.
    "CREATE TABLE cash_collections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        total INTEGER NOT NULL,
        coins INTEGER NOT NULL,
        per_value TEXT NOT NULL,
        by_whom TEXT NOT NULL,
        last_credit_id INTEGER NOT NULL,
        sent_at_ms INTEGER
    );",
    // 7: the store's epoch, 16 random hex digits drawn once per database: outbox
    // message ids carry it, so a wiped state folder never reuses one (and an old
    // acknowledgement never matches a new message).
    "INSERT OR IGNORE INTO sync_state (key, value) VALUES ('epoch', lower(hex(randomblob(8))));",
    // 8: the latest wall-clock time the agent trusted, so a board that boots at 1970
    // knows its clock is behind (vouchers/clock.rs).
    "CREATE TABLE clock_checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), trusted_ms INTEGER NOT NULL);",
    // 9: the clock's last judgement (for the central office and to alert once per
    // episode) and the router's uptime at a trusted time (vouchers/clock.rs); which
    // alert episodes are on (store/events.rs), so each is reported once.
    "CREATE TABLE clock_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        trusted INTEGER NOT NULL,
        source TEXT NOT NULL,
        detail TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        router_wall_ms INTEGER,
        router_uptime_ms INTEGER
    );
    CREATE TABLE episodes (name TEXT PRIMARY KEY, active INTEGER NOT NULL, since_ms INTEGER NOT NULL);",
    // 10: the plan set the central office pushed last (store/pushed.rs), so a restart
    // and the CLI sell what the central office set, not the config file's plans.
    // The version recorded before had no set stored with it: forgotten, so the
    // retained set is applied (and stored) again rather than skipped as in force.
    "CREATE TABLE pushed_plans (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL,
        body BLOB NOT NULL,
        applied_at_ms INTEGER NOT NULL
    );
    DELETE FROM sync_state WHERE key IN ('plans.version', 'plans.msg_id');",
    // 11: sales made for a key the central office chose (an order id, a remote
    // request id), written with the sale (store/keyed.rs); what each remote command
    // answered, by request id, so a request sent again gets the same answer
    // (sync/state.rs). `seq` orders them for the count bound.
    "CREATE TABLE sale_keys (
        key TEXT PRIMARY KEY,
        sale_id INTEGER NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL
    );
    CREATE TABLE command_results (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL UNIQUE,
        expires_ms INTEGER NOT NULL,
        result BLOB
    );
    INSERT OR IGNORE INTO sync_state (key, value) VALUES ('created_ms', CAST(unixepoch('subsec') * 1000 AS INTEGER));",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`SCHEMA_VERSION`].
pub(crate) fn run(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    run_to(conn, path, SCHEMA_VERSION)
}

/// Brings the database up to `target` (tests build every earlier version with it).
pub(crate) fn run_to(conn: &mut Connection, path: &Path, target: i64) -> Result<(), StoreError> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| StoreError::from_sqlite(path, "read schema version", e))?;
    if found < 0 {
        // No agent writes a negative version: the file was changed by hand or damaged.
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("schema version {found} (PRAGMA user_version) is below zero"),
        });
    }
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for version in found..target {
        let step = MIGRATIONS[version as usize];
        let what = format!("migrate schema {version} -> {}", version + 1);
        let tx = conn
            .transaction()
            .map_err(|e| StoreError::from_sqlite(path, &what, e))?;
        tx.execute_batch(step)
            .map_err(|e| StoreError::from_sqlite(path, &what, e))?;
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(|e| StoreError::from_sqlite(path, &what, e))?;
        tx.commit()
            .map_err(|e| StoreError::from_sqlite(path, &what, e))?;
        tracing::info!(store = %path.display(), from = version, to = version + 1, "store schema migrated");
    }
    Ok(())
}
