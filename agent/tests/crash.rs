//! Kill -9 safety of the sale: a child process sells vouchers against a fake
//! router whose users live in a file (so the router outlives the agent), and is
//! SIGKILLed at named crash points (`HOTSPOT_CRASH_AT`) and at random instants.
//! After a restart (resume) every paid sale must be delivered exactly once, the
//! money must add up, and the router must hold no user the cache does not know
//! and no duplicate.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crash_point::crash_point;
use firmware_config::Config;
use hotspot_agent::store::{SaleState, Store};
use hotspot_agent::vouchers::{CreditSpend, Pool, VoucherError, Vouchers};
use routeros::testing::{FakeRouter, Fault, Op};
use routeros::HotspotApi;

const CHILD_DIR: &str = "HOTSPOT_CRASH_CHILD_DIR";
const CHILD_SALES: &str = "HOTSPOT_CRASH_CHILD_SALES";
const CHILD_FAULT: &str = "HOTSPOT_CRASH_CHILD_ADD_TIMEOUT";

const CONFIG: &str = r#"
[agent]
site_id = "crash"
[[profile]]
name = "kiosk"
[[plan]]
id = "1h"
name = "1 hour"
price = 5
time_limit = "1h"
profile = "kiosk"
[[plan]]
id = "pooled"
name = "pooled"
price = 10
time_limit = "2h"
profile = "kiosk"
pool = 3
"#;

// ---- the child: one run of a kiosk that sells and prints ----

/// The child's entry point; does nothing unless started by a test below.
#[test]
fn child_process_entry() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let sales: usize = std::env::var(CHILD_SALES)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(child(PathBuf::from(dir), sales));
}

async fn child(dir: PathBuf, sales: usize) {
    let config = Config::parse(CONFIG, "crash.toml").unwrap();
    let router = FakeRouter::persistent(&dir.join("router.json")).unwrap();
    if router
        .profiles()
        .await
        .unwrap()
        .iter()
        .all(|p| p.name != "kiosk")
    {
        router
            .add_profile(&routeros::UserProfile {
                name: "kiosk".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    if let Some(n) = std::env::var(CHILD_FAULT).ok().and_then(|s| s.parse().ok()) {
        router.inject(Op::AddUser, n, Fault::TimeoutAfterApply);
    }
    let store = Store::open(&dir.join("store.db")).unwrap();
    let v = Vouchers::from_config(
        store,
        router,
        &config,
        &config.routers.first().cloned().unwrap_or_default(),
        hotspot_agent::sync::outbox::sale_payload,
    )
    .unwrap();
    let report = v.resume().await.unwrap();
    for id in report.awaiting_delivery {
        deliver(&v, &dir, id);
    }
    Pool::new(v.clone()).refill_once().await.unwrap();
    for i in 0..sales {
        let plan = if i % 2 == 0 { "1h" } else { "pooled" };
        let price = v.plan(plan).unwrap().price;
        v.record_credit(price, "coin").unwrap();
        crash_point("after_credit");
        match v.sell(plan, Some(CreditSpend { amount: price })).await {
            Ok(sold) => deliver(&v, &dir, sold.sale_id),
            Err(VoucherError::Pending { .. }) => {}
            Err(e) => panic!("sale failed: {e}"),
        }
    }
}

/// "Prints" the ticket (appends to tickets.log), then marks the sale delivered.
fn deliver(v: &Vouchers<FakeRouter>, dir: &Path, sale_id: i64) {
    let sold = v.voucher(sale_id).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("tickets.log"))
        .unwrap();
    writeln!(f, "{} {}", sold.sale_id, sold.code).unwrap();
    drop(f);
    crash_point("after_print");
    v.mark_delivered(sale_id).unwrap();
}

// ---- the parent ----

enum Kill {
    /// Stop at the n-th pass through a crash point.
    At(&'static str, u32),
    /// Kill after this long, wherever the child is.
    After(Duration),
    /// Let it finish.
    Never,
}

/// Runs the child once; returns whether it was SIGKILLed.
fn run_child(dir: &Path, sales: usize, kill: Kill, add_timeout: Option<u32>) -> bool {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        "child_process_entry",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_DIR, dir)
    .env(CHILD_SALES, sales.to_string())
    .env_remove("HOTSPOT_CRASH_AT")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if let Kill::At(step, n) = &kill {
        cmd.env("HOTSPOT_CRASH_AT", format!("{step}:{n}"));
    }
    if let Some(n) = add_timeout {
        cmd.env(CHILD_FAULT, n.to_string());
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("HOTSPOT_CRASH_POINT") {
                let _ = tx.send(());
            }
            seen.push(line);
        }
        seen
    });
    let killed = match kill {
        Kill::At(..) => {
            if rx.recv_timeout(Duration::from_secs(60)).is_ok() {
                child.kill().unwrap(); // SIGKILL on Unix
                true
            } else {
                false
            }
        }
        Kill::After(d) => {
            let deadline = Instant::now() + d;
            loop {
                if child.try_wait().unwrap().is_some() {
                    break false;
                }
                if Instant::now() >= deadline {
                    child.kill().unwrap();
                    break true;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Kill::Never => false,
    };
    let status = child.wait().unwrap();
    let lines = reader.join().unwrap();
    if killed {
        assert_eq!(status.signal(), Some(9), "the child died of SIGKILL");
    } else {
        assert!(
            status.success(),
            "child failed: {status:?}\n{}",
            lines.join("\n")
        );
    }
    killed
}

/// Checks every invariant on the files the child left.
async fn check(dir: &Path) -> usize {
    let store = Store::open(&dir.join("store.db")).unwrap();
    let router = FakeRouter::persistent(&dir.join("router.json")).unwrap();
    let all = store.recent_sales(100_000).unwrap();
    // 1. Nothing unfinished, every sold voucher delivered.
    for s in &all {
        assert!(
            !matches!(
                s.state,
                SaleState::Reserved | SaleState::PoolReserved | SaleState::Provisioned
            ),
            "sale {} left {:?}",
            s.id,
            s.state
        );
    }
    // 2. Router users with our comment == cache rows that should be on the router.
    let users: Vec<_> = router.all_users();
    let mut by_sale: HashMap<i64, Vec<String>> = HashMap::new();
    for u in &users {
        let id = u
            .comment_text()
            .and_then(|c| c.strip_prefix("hsa:crash:"))
            .and_then(|i| i.parse::<i64>().ok())
            .unwrap_or_else(|| panic!("router user {} has no agent comment", u.name));
        by_sale.entry(id).or_default().push(u.name.to_string());
    }
    let cached: BTreeMap<i64, &str> = all
        .iter()
        .filter(|s| s.state.on_router())
        .map(|s| (s.id, s.code.as_str()))
        .collect();
    for (id, names) in &by_sale {
        assert_eq!(
            names.len(),
            1,
            "sale {id} has {} router users: duplicate",
            names.len()
        );
        assert_eq!(
            cached.get(id).copied(),
            Some(names[0].as_str()),
            "router user {} unknown to the cache",
            names[0]
        );
    }
    assert_eq!(
        by_sale.len(),
        cached.len(),
        "cached vouchers missing on the router"
    );
    // 3. Every delivered sale was printed, at most twice (a kill between printing and
    //    marking reprints once), and every printed sale is delivered.
    let tickets = std::fs::read_to_string(dir.join("tickets.log")).unwrap_or_default();
    let mut printed: HashMap<i64, usize> = HashMap::new();
    for line in tickets.lines() {
        let id: i64 = line.split(' ').next().unwrap().parse().unwrap();
        *printed.entry(id).or_default() += 1;
    }
    let delivered: Vec<_> = all
        .iter()
        .filter(|s| s.state == SaleState::Delivered)
        .collect();
    for s in &delivered {
        let n = printed.get(&s.id).copied().unwrap_or(0);
        assert!((1..=2).contains(&n), "sale {} printed {n} times", s.id);
    }
    for id in printed.keys() {
        assert!(
            delivered.iter().any(|s| s.id == *id),
            "printed sale {id} not delivered"
        );
    }
    // 4. Money: every coin is either still credit or paid for a delivered sale.
    let coins: i64 = store
        .credit_entries(100_000)
        .unwrap()
        .iter()
        .filter(|c| c.source == "coin")
        .map(|c| c.amount)
        .sum();
    let paid: i64 = delivered.iter().map(|s| s.price as i64).sum();
    assert_eq!(
        coins,
        store.credit_balance().unwrap() + paid,
        "coins = balance + delivered sales"
    );
    // 5. Per sold voucher one outbox row for its record and one for its delivery.
    let outbox = store.outbox_pending(100_000).unwrap();
    let later = |r: &&hotspot_agent::store::OutboxRow| {
        r.msg_id.ends_with("-delivered") || r.msg_id.ends_with("-failed")
    };
    let records = outbox.iter().filter(|r| !later(r)).count();
    let deliveries = outbox
        .iter()
        .filter(|r| r.msg_id.ends_with("-delivered"))
        .count();
    assert_eq!((records, deliveries), (delivered.len(), delivered.len()));
    delivered.len()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_kill_at_every_crash_point_loses_no_sale_and_duplicates_nothing() {
    let points: &[(&str, u32, Option<u32>)] = &[
        ("after_credit", 1, None),
        ("after_reserve", 1, None),
        ("after_reserve", 2, None),
        ("after_router_add", 1, None),
        ("after_router_add", 2, Some(2)),
        ("after_provisioned", 1, None),
        ("after_provisioned", 3, Some(1)),
        ("after_pool_take", 1, None),
        ("after_pool_take", 2, None),
        ("after_print", 1, None),
        ("after_print", 3, None),
        ("after_batch_adds", 1, None),
    ];
    for &(step, n, add_timeout) in points {
        let dir = tempfile::tempdir().unwrap();
        let killed = run_child(dir.path(), 6, Kill::At(step, n), add_timeout);
        assert!(killed, "{step}:{n} was never reached");
        // A lost reply on the restart too, to exercise resume's look-up.
        run_child(dir.path(), 2, Kill::Never, Some(1));
        let delivered = rt().block_on(check(dir.path()));
        assert!(delivered >= 2, "{step}:{n}: only {delivered} sales");
    }
}

#[test]
fn kills_at_random_instants_during_a_stream_of_sales_keep_every_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let mut kills = 0;
    for i in 0..24u64 {
        // Spread the kills over start-up, SQLite commits and router writes.
        let after = Duration::from_millis(10 + (i * 37) % 170);
        if run_child(dir.path(), 400, Kill::After(after), None) {
            kills += 1;
        }
    }
    run_child(dir.path(), 2, Kill::Never, None);
    let delivered = rt().block_on(check(dir.path()));
    println!("{kills} of 24 runs SIGKILLed; {delivered} sales delivered, every invariant held");
    assert!(kills >= 12, "only {kills} of 24 runs were killed");
    assert!(delivered > 0);
}
