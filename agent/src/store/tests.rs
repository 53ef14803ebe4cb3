//! Tests of the store: migrations from every earlier version, durability rules,
//! and the errors operators see for damaged or read-only files.

use super::migrate::{run_to, MIGRATIONS};
use super::*;

fn schema(conn: &rusqlite::Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT type || ' ' || name || ': ' || sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn columns(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("PRAGMA table_info({table})"))
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(1))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

#[test]
fn a_store_at_every_earlier_schema_version_migrates_and_keeps_its_rows() {
    let fresh = tempfile::tempdir().unwrap();
    let fresh_path = fresh.path().join("fresh.db");
    drop(Store::open(&fresh_path).unwrap());
    let want = schema(&rusqlite::Connection::open(&fresh_path).unwrap());
    for version in 0..SCHEMA_VERSION {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            run_to(&mut conn, &path, version).unwrap();
            if version >= 1 {
                // A sale and a coin written by that version.
                conn.execute(
                    "INSERT INTO sales (code, password, plan_id, price, currency, profile, validity_from, router, state, source, created_at_ms) \
                     VALUES ('OLD1', 'OLD1', '1h', 5, 'PHP', 'default', 'first-login', 'main', 'delivered', 'kiosk', 1)",
                    [],
                )
                .unwrap();
                conn.execute(
                    "INSERT INTO credit (amount, source, created_at_ms) VALUES (7, 'coin', 1)",
                    [],
                )
                .unwrap();
            }
        }
        let store = Store::open(&path).unwrap_or_else(|e| panic!("from version {version}: {e}"));
        let conn = rusqlite::Connection::open(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION, "from version {version}");
        assert_eq!(
            schema(&conn),
            want,
            "from version {version}: schema differs from a fresh store"
        );
        if version >= 1 {
            let sale = store.sale_by_code("OLD1").unwrap().expect("old sale kept");
            assert_eq!(sale.state, SaleState::Delivered);
            assert_eq!(sale.bytes_used, 0, "new columns get their defaults");
            assert_eq!(store.credit_balance().unwrap(), 7);
        }
    }
    assert_eq!(MIGRATIONS.len() as i64, SCHEMA_VERSION);
}

#[test]
fn the_outbox_table_has_exactly_the_shared_shape() {
    let store = Store::open_in_memory().unwrap();
    store
        .read("t", |c| {
            assert_eq!(
                columns(c, "outbox"),
                [
                    "id",
                    "msg_id",
                    "kind",
                    "payload",
                    "created_at_ms",
                    "attempts",
                    "last_attempt_ms"
                ]
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_store_from_a_newer_agent_is_refused_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 5)
            .unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
    assert!(err.to_string().contains("newer hotspot-agent"), "{err}");
}

#[test]
fn a_negative_schema_version_is_a_damaged_store_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("negative.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", -1).unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("schema version -1"), "{err}");
}

#[test]
fn a_garbage_file_is_named_with_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    std::fs::write(&path, b"this is not a database, it is a shopping list ........................................................").unwrap();
    let err = Store::open(&path).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(
        text.contains("move the file aside") && text.contains(".recover"),
        "{text}"
    );
    // Nothing was overwritten.
    assert!(std::fs::read(&path)
        .unwrap()
        .starts_with(b"this is not a database"));
}

/// A store whose `events` table spans many pages, with its root page overwritten:
/// the header and the schema still read, so only a page check or a read of
/// `events` finds the damage.
fn store_with_a_damaged_events_page(path: &Path) {
    let store = Store::open(path).unwrap();
    for i in 0..400 {
        let text = format!("event {i} {}", "x".repeat(200));
        store
            .record_event(Level::Info, "test", None, &text, i)
            .unwrap();
    }
    drop(store); // the service's close checkpoints: every page is in the main file
    let conn = rusqlite::Connection::open(path).unwrap();
    let (root, page_size): (i64, i64) = conn
        .query_row(
            "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master WHERE name = 'events'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(conn);
    assert!(root > 1, "events must not live on the schema page");
    let mut bytes = std::fs::read(path).unwrap();
    let at = ((root - 1) * page_size) as usize;
    bytes[at..at + page_size as usize].fill(0x5a);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_damaged_page_is_refused_when_the_service_starts_and_fails_the_command_that_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    store_with_a_damaged_events_page(&path);
    // The service (started at boot, so after a power cut too) reads every page.
    let err = Store::open(&path).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{text}");
    assert!(text.contains("move the file aside"), "{text}");
    // A one-shot command does not read the whole file on every run, but the damaged
    // page fails it as soon as it is read, with the same way out.
    let store = Store::open_for_command(&path).unwrap();
    let err = store.events(None, 1_000).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{text}");
    assert!(text.contains("move the file aside"), "{text}");
}

#[test]
fn the_sync_connections_schema_check_leaves_the_page_check_to_the_services_own_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    store_with_a_damaged_events_page(&path);
    // The outbox pump and the sync state open their connections after the service's
    // own open, which refuses this file; their schema check does not read every page
    // a second and third time.
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::Corrupt { .. })
    ));
    Store::ensure_schema(&path).unwrap();
}

#[test]
fn a_command_leaves_its_commits_in_the_wal_and_the_next_open_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let wal = dir.path().join("store.db-wal");
    drop(Store::open(&path).unwrap());
    let store = Store::open_for_command(&path).unwrap();
    store.add_credit(5, "coin", 1).unwrap();
    drop(store);
    // Not copied into the main file at close (two fsyncs saved), and the WAL is not
    // deleted: the coin is in it, on disk since its FULL commit.
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let in_wal: i64 = conn
        .query_row("SELECT COUNT(*) FROM credit", [], |r| r.get(0))
        .unwrap();
    drop(conn);
    assert_eq!(in_wal, 1, "a reader sees the WAL's commit");
    let store = Store::open_for_command(&path).unwrap();
    assert_eq!(store.credit_balance().unwrap(), 5);
    drop(store);
    // The service's close checkpoints and removes the WAL.
    let store = Store::open(&path).unwrap();
    assert_eq!(store.credit_balance().unwrap(), 5);
    drop(store);
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);
}

#[test]
fn a_read_only_store_is_named_with_the_fix_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = Store::open(&path).unwrap();
    store.add_credit(5, "coin", 1).unwrap();
    drop(store);
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&path, perms).unwrap();
    let err = Store::open(&path).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{text}");
    assert!(
        text.contains(&path.display().to_string()) && text.contains("write access"),
        "{text}"
    );
    // SQLite's own read-only refusal maps to the same message.
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let e = conn
        .execute(
            "INSERT INTO credit (amount, source, created_at_ms) VALUES (1, 'x', 1)",
            [],
        )
        .unwrap_err();
    assert!(matches!(
        StoreError::from_sqlite(&path, "write", e),
        StoreError::ReadOnly { .. }
    ));
    let n: i64 = conn
        .query_row("SELECT SUM(amount) FROM credit", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 5, "stored credit intact");
}

#[test]
fn a_full_disk_error_says_nothing_earlier_was_lost() {
    let e =
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL), None);
    let err = StoreError::from_sqlite(
        std::path::Path::new("/var/lib/x/store.db"),
        "reserve sale",
        e,
    );
    let text = err.to_string();
    assert!(
        text.contains("/var/lib/x/store.db")
            && text.contains("full")
            && text.contains("nothing stored earlier was lost"),
        "{text}"
    );
}

#[test]
fn a_failed_transaction_leaves_nothing_behind() {
    let store = Store::open_in_memory().unwrap();
    store.add_credit(3, "coin", 1).unwrap();
    let sale = NewSale {
        code: "C1".into(),
        password: "C1".into(),
        plan_id: "1h".into(),
        price: 5,
        currency: "PHP".into(),
        profile: "default".into(),
        fair_use_profile: None,
        time_limit_s: None,
        data_limit_bytes: None,
        validity_s: None,
        validity_from: "first-login".into(),
        router: "r".into(),
        source: "kiosk".into(),
    };
    let err = store.reserve_sale(&sale, Some(5), 2).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InsufficientCredit {
                balance: 3,
                needed: 5
            }
        ),
        "{err}"
    );
    assert!(
        store.sale_by_code("C1").unwrap().is_none(),
        "the sale row rolled back with the spend"
    );
    let id = store.reserve_sale(&sale, Some(3), 2).unwrap();
    assert_eq!(store.credit_balance().unwrap(), 0);
    store.mark_failed(id, "router said no", 3).unwrap();
    assert_eq!(store.credit_balance().unwrap(), 3, "refunded once");
    assert!(store.mark_failed(id, "again", 4).is_err());
    assert_eq!(store.credit_balance().unwrap(), 3);
}

#[test]
fn the_provisioned_mark_and_its_outbox_row_commit_together_and_only_once() {
    let store = Store::open_in_memory().unwrap();
    let sale = NewSale {
        code: "C2".into(),
        password: "C2".into(),
        plan_id: "1h".into(),
        price: 5,
        currency: "PHP".into(),
        profile: "default".into(),
        fair_use_profile: None,
        time_limit_s: None,
        data_limit_bytes: None,
        validity_s: None,
        validity_from: "first-login".into(),
        router: "r".into(),
        source: "kiosk".into(),
    };
    let id = store.reserve_sale(&sale, None, 1).unwrap();
    assert!(store
        .mark_on_router(id, "*1", 2, |s| s.code.as_bytes().to_vec())
        .unwrap());
    assert!(!store
        .mark_on_router(id, "*1", 3, |_| b"second".to_vec())
        .unwrap());
    let rows = store.outbox_pending(10).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].payload, b"C2");
    let epoch = store.epoch().unwrap();
    assert!(store.outbox_acked(&format!("sale-{epoch}-{id}")).unwrap());
}

#[test]
fn router_status_is_kept_and_failures_become_alerts() {
    let store = Store::open_in_memory().unwrap();
    store
        .record_router_status(&RouterStatus {
            at_ms: 5,
            router: "main".into(),
            ok: false,
            transport: Some("api".into()),
            addr: Some("10.0.0.1:8728".into()),
            version: None,
            latency_ms: None,
            message: Some("connection refused".into()),
        })
        .unwrap();
    let last = store.last_router_status(Some("main")).unwrap().unwrap();
    assert!(!last.ok);
    let ev = store.events(Some("router_unreachable"), 5).unwrap();
    assert_eq!(ev[0].level, "alert");
}

#[test]
fn a_full_disk_refuses_the_sale_keeps_what_was_stored_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).unwrap();
    store.add_credit(5000, "coin", 1).unwrap();
    // SQLite reports SQLITE_FULL when the file may not grow: the same error a full disk gives.
    let pages: i64 = store
        .read("t", |c| {
            Ok(c.query_row("PRAGMA page_count", [], |r| r.get(0))?)
        })
        .unwrap();
    store
        .read("t", |c| {
            Ok(
                c.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                    r.get::<_, i64>(0)
                })?,
            )
        })
        .unwrap();
    let mut err = None;
    for i in 0..200 {
        let mut sale = sample_sale(&format!("FULL{i}"));
        sale.password = "x".repeat(2000);
        if let Err(e) = store.reserve_sale(&sale, Some(5), 2) {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("the file limit was reached");
    let text = err.to_string();
    assert!(matches!(err, StoreError::DiskFull { .. }), "{text}");
    assert!(
        text.contains("hotspot-agent.db") && text.contains("free some space"),
        "{text}"
    );
    // Every committed sale and its spend are intact; the failed one left nothing.
    let sold = store.recent_sales(1000).unwrap().len() as i64;
    assert_eq!(store.credit_balance().unwrap(), 5000 - 5 * sold);
    store
        .read("t", |c| {
            Ok(c.query_row("PRAGMA max_page_count = 1000000", [], |r| {
                r.get::<_, i64>(0)
            })?)
        })
        .unwrap();
    store.reserve_sale(&sample_sale("AFTER"), None, 3).unwrap();
}

fn sample_sale(code: &str) -> NewSale {
    NewSale {
        code: code.into(),
        password: code.into(),
        plan_id: "1h".into(),
        price: 5,
        currency: "PHP".into(),
        profile: "default".into(),
        fair_use_profile: None,
        time_limit_s: None,
        data_limit_bytes: None,
        validity_s: None,
        validity_from: "first-login".into(),
        router: "r".into(),
        source: "kiosk".into(),
    }
}

#[test]
fn a_price_above_i64_max_is_refused_and_never_adds_credit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).unwrap();
    store.add_credit(10, "coin", 1).unwrap();
    let huge = i64::MAX as u64 + 1;
    let mut sale = sample_sale("HUGE1");
    sale.price = huge;
    let err = store.reserve_sale(&sale, Some(huge), 2).unwrap_err();
    assert!(matches!(err, StoreError::OutOfRange { .. }), "{err}");
    assert!(err.to_string().contains("9223372036854775807"), "{err}");
    assert!(store.add_credit(u64::MAX, "coin", 3).is_err());
    assert_eq!(
        store.forfeit_credit(u64::MAX, 4).unwrap(),
        10,
        "takes the balance, no more"
    );
    assert_eq!(store.credit_balance().unwrap(), 0);
    assert!(store.recent_sales(10).unwrap().is_empty());
}

#[test]
fn a_plan_whose_price_or_validity_does_not_fit_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).unwrap();
    let good = StoredPlan::for_time(std::time::Duration::from_secs(3600), 5, "default", "PHP");
    let mut bad_price = good.clone();
    bad_price.id = "bad".into();
    bad_price.price = u64::MAX;
    let err = store
        .replace_plans("central", &[good.clone(), bad_price], 1)
        .unwrap_err();
    assert!(matches!(err, StoreError::OutOfRange { .. }), "{err}");
    assert!(
        store.plans().unwrap().is_empty(),
        "nothing of the set was stored"
    );
    let mut bad_validity = good.clone();
    bad_validity.validity_s = Some(i64::MAX as u64 / 1000 + 1);
    assert!(store.replace_plans("central", &[bad_validity], 1).is_err());
    store.replace_plans("central", &[good], 1).unwrap();
}

#[test]
fn takings_keep_coins_apart_from_vouchers_made_by_each_channel() {
    let store = Store::open_in_memory().unwrap();
    store.add_credit(5, "coin", 1_000).unwrap();
    store.add_credit(5, "coin", 1_000).unwrap();
    store.add_credit(5, "coin", 10).unwrap(); // before the day began
    store
        .reserve_sale(&sample_sale("K1"), Some(5), 1_001)
        .unwrap();
    for (code, source) in [
        ("B1", "batch"),
        ("B2", "batch"),
        ("C1", "cli"),
        ("R1", "remote"),
    ] {
        let sale = NewSale {
            source: source.into(),
            ..sample_sale(code)
        };
        store.reserve_sale(&sale, None, 1_002).unwrap();
    }
    let t = store.takings_since(500).unwrap();
    assert_eq!(
        (t.coins, t.coins_value),
        (2, 10),
        "money taken is coins counted in"
    );
    let per: Vec<(&str, u64, u64)> = t
        .per_channel
        .iter()
        .map(|c| (c.channel.as_str(), c.vouchers, c.value))
        .collect();
    assert_eq!(
        per,
        vec![
            ("coins", 1, 5),
            ("batch", 2, 10),
            ("cli", 1, 5),
            ("remote", 1, 5)
        ]
    );
}

#[test]
fn a_failed_row_says_whether_anyone_was_paid_back() {
    let store = Store::open_in_memory().unwrap();
    store.add_credit(5, "coin", 1).unwrap();
    let paid = store
        .reserve_sale(&sample_sale("PAID"), Some(5), 2)
        .unwrap();
    assert_eq!(store.mark_failed(paid, "router said no", 3).unwrap(), 5);
    let unpaid = store.reserve_sale(&sample_sale("FREE"), None, 2).unwrap();
    assert_eq!(store.mark_failed(unpaid, "router said no", 3).unwrap(), 0);
    assert_eq!(
        crate::vouchers::issue::failure_text(unpaid, 0, "router said no"),
        format!("voucher {unpaid} not made (nobody had paid for it): router said no")
    );
    assert!(crate::vouchers::issue::failure_text(paid, 5, "x").contains("5 credit given back"));
}

#[test]
fn each_new_database_draws_its_own_epoch_and_keeps_it() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ea = Store::open_in(a.path()).unwrap().epoch().unwrap();
    let eb = Store::open_in(b.path()).unwrap().epoch().unwrap();
    assert_eq!(ea.len(), 16);
    assert_ne!(
        ea, eb,
        "a wiped or another state folder never reuses message ids"
    );
    assert_eq!(
        Store::open_in(a.path()).unwrap().epoch().unwrap(),
        ea,
        "kept on reopening"
    );
}

#[test]
fn drift_is_told_once_per_episode_across_a_restart_and_its_end_once() {
    let dir = tempfile::tempdir().unwrap();
    let lines = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (a, ab) = (lines(&["A"]), lines(&["A", "B"]));
    {
        let store = Store::open_in(dir.path()).unwrap();
        assert_eq!(store.note_drift(&a, &a, 1).unwrap().new, a);
    }
    // Another process (a restart, the CLI) sees the same episode.
    let store = Store::open_in(dir.path()).unwrap();
    let again = store.note_drift(&ab, &ab, 2).unwrap();
    assert_eq!(again.new, lines(&["B"]));
    assert_eq!(again.before.into_iter().collect::<Vec<_>>(), a);
    assert!(store.note_drift(&ab, &ab, 3).unwrap().new.is_empty());
    // B repaired in the round that found it again: A stays the episode.
    assert_eq!(store.note_drift(&[], &a, 4).unwrap().before.len(), 2);
    for at in [5, 6] {
        store.note_drift(&[], &[], at).unwrap();
    }
    let told = |kind| store.events(Some(kind), 10).unwrap().len();
    assert_eq!((told("drift"), told("drift_gone")), (2, 1));
}

#[test]
fn storing_the_plans_it_already_holds_writes_nothing() {
    let store = Store::open_in_memory().unwrap();
    let plan = StoredPlan::for_time(std::time::Duration::from_secs(3600), 5, "default", "PHP");
    store.replace_plans("config", &[plan.clone()], 1).unwrap();
    let written_at = |store: &Store| -> Vec<i64> {
        store
            .read("t", |c| {
                let mut stmt = c.prepare("SELECT updated_at_ms FROM plans ORDER BY id")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .unwrap()
    };
    // Every command that sells stores the config's plans on start.
    store.replace_plans("config", &[plan.clone()], 2).unwrap();
    assert_eq!(written_at(&store), vec![1], "the same plans: no write");
    let mut dearer = plan.clone();
    dearer.price = 6;
    store.replace_plans("config", &[dearer.clone()], 3).unwrap();
    assert_eq!(written_at(&store), vec![3], "a changed plan is written");
    assert_eq!(store.plans().unwrap()[0].price, 6);
    store.replace_plans("config", &[], 4).unwrap();
    assert!(
        store.plans().unwrap().is_empty(),
        "a dropped plan is removed"
    );
}

/// The outbox and events of three batch sales, with the store's epoch taken out.
fn batch_books(
    store: &Store,
) -> (
    Vec<(String, String, Vec<u8>)>,
    Vec<(String, String)>,
    Vec<Sale>,
) {
    let epoch = store.epoch().unwrap();
    let mut outbox: Vec<_> = store
        .outbox_pending(100)
        .unwrap()
        .into_iter()
        .map(|r| (r.msg_id.replace(&epoch, "E"), r.kind, r.payload))
        .collect();
    let mut events: Vec<_> = store
        .events(None, 100)
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.message))
        .collect();
    // The same rows; one commit writes each sale's two messages side by side.
    outbox.sort();
    events.sort();
    (outbox, events, store.recent_sales(100).unwrap())
}

#[test]
fn a_batch_delivered_in_one_commit_leaves_the_rows_of_the_two_steps_with_one_record_per_sale() {
    let payload =
        |s: &Sale| format!("{} {} {:?}", s.id, s.state.as_str(), s.delivered_at_ms).into_bytes();
    let rows: Vec<NewSale> = ["B1", "B2", "B3"].map(sample_sale).into();
    let two_steps = Store::open_in_memory().unwrap();
    two_steps.set_sale_payload(|s| format!("{} {}", s.id, s.state.as_str()).into_bytes());
    let one = Store::open_in_memory().unwrap();
    one.set_sale_payload(|s| format!("{} {}", s.id, s.state.as_str()).into_bytes());
    let mut in_hand = Vec::new();
    for store in [&two_steps, &one] {
        in_hand = store.reserve_batch(&rows, 10).unwrap();
    }
    // The rows in hand are what a read returns, field for field.
    assert!(
        in_hand == one.sales_by_ids(&[1, 2, 3]).unwrap(),
        "{in_hand:?}"
    );
    let added = vec![(1, "*A".to_string()), (2, "*B".to_string())];
    let in_hand: Vec<(Sale, String)> = in_hand
        .into_iter()
        .take(2)
        .zip(added.iter().map(|a| a.1.clone()))
        .collect();
    // Sale 3 was settled on its own (a lost reply, then a look-up).
    for store in [&two_steps, &one] {
        store.mark_on_router(3, "*C", 20, payload).unwrap();
    }
    two_steps.mark_many_on_router(&added, 30, payload).unwrap();
    two_steps.mark_many_delivered(&[1, 2, 3], 30).unwrap();
    assert_eq!(one.deliver_batch(&in_hand, &[3], 30, payload).unwrap(), 3);
    let books = batch_books(&one);
    let theirs = batch_books(&two_steps);
    assert_eq!(books.2, theirs.2, "the same rows");
    assert!(books.2.iter().all(|s| s.state == SaleState::Delivered));
    // Sales 1 and 2: their record, already delivered (the office keeps a sale's latest
    // state); sale 3, settled on its own, has the two steps' two messages.
    let msgs: Vec<(String, String)> = books
        .0
        .iter()
        .map(|(id, _, p)| (id.clone(), String::from_utf8_lossy(p).into_owned()))
        .collect();
    assert_eq!(
        msgs,
        vec![
            ("sale-E-1".to_string(), "1 delivered Some(30)".to_string()),
            ("sale-E-2".to_string(), "2 delivered Some(30)".to_string()),
            ("sale-E-3".to_string(), "3 provisioned None".to_string()),
            ("sale-E-3-delivered".to_string(), "3 delivered".to_string()),
        ]
    );
    assert_eq!(
        theirs.0.len(),
        6,
        "the two steps: a record and a delivery per sale"
    );
    // One event for the batch's own users, one for the sale settled alone.
    assert_eq!(
        books.1,
        vec![
            (
                "user_created".to_string(),
                "batch: 2 router users made and handed over (sales 1 to 2; plan 1h)".to_string()
            ),
            (
                "user_created".to_string(),
                "sale 3 (kiosk, plan 1h) is router user *C".to_string()
            ),
        ]
    );
    // A row in hand that moved on meanwhile goes through the checked steps: already
    // delivered, it changes nothing; a row not ours to deliver fails the commit.
    assert_eq!(
        one.deliver_batch(&in_hand[..1], &[], 60, payload).unwrap(),
        0
    );
    assert_eq!(batch_books(&one), books);
    one.reserve_batch(&[sample_sale("B4")], 40).unwrap();
    assert!(one.deliver_batch(&[], &[4], 50, payload).is_err());
    assert_eq!(one.recent_sales(1).unwrap()[0].state, SaleState::Reserved);
}

#[test]
fn a_code_already_stored_is_refused_by_its_index_naming_the_sale_that_holds_it() {
    let store = Store::open_in_memory().unwrap();
    store.reserve_batch(&[sample_sale("TWICE")], 10).unwrap();
    let err = store
        .reserve_batch(&[sample_sale("ONCE"), sample_sale("TWICE")], 20)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict { what } if what == "code TWICE is already used by sale 1"),
        "{err}"
    );
    assert!(
        !store.code_exists("ONCE").unwrap(),
        "the whole set rolled back"
    );
    assert_eq!(
        store.codes_taken(["ONCE", "TWICE", "OTHER"]).unwrap(),
        std::collections::HashSet::from(["TWICE".to_string()])
    );
}
