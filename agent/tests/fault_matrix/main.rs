//! The fault matrix: each fault of the simulator's console (`hotspot-agent sim
//! --console`, the same words) against the agent as `hotspot-agent run` starts it
//! (`Agent::start` + `serve`: pool, enforcement, reconcile, and the kiosk on a
//! simulated ccTalk acceptor and ESC/POS printer), while customers buy at the kiosk
//! (coins, button, ticket) and an operator sells on the router (`voucher create
//! --no-pool`). For each fault: what the agent did, how long until it sold again,
//! what it told the operator (log) and the central office (warn/alert events, which
//! the outbox forwards), and the books: coins = credit + kiosk sales, one router
//! user per sold voucher, and lost users re-created without a second sale.
//!
//! `cargo test -p hotspot-agent --features sim --test fault_matrix` runs the short form (CI);
//! `FAULT_MATRIX=full` every row, `FAULT_MATRIX=<words of a row's name>` that row;
//! `tests/fault-matrix.sh` prints the table.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use firmware_config::kiosk::{CoinKind, DisplayKind, PrinterKind};
use firmware_config::{Config, RouterConfig, Transport};
use hotspot_agent::app::Agent;
use hotspot_agent::store::{SaleState, Store};
use hotspot_agent::vouchers::Vouchers;
use routeros::{RouterSettings, SharedRouter};
use routeros_sim::{Control, SimHandle, SimOptions, SimRouter};

mod judge;
mod rows;

use judge::{books, judge_slot, what_it_did, OPEN_SETTLE, SHUT_SETTLE};
use rows::{rows, Fault};

/// What happened in one row.
#[derive(Debug, Default)]
struct Outcome {
    kiosk_sales_during: usize,
    router_sales_during: usize,
    kiosk_back: Option<Duration>,
    router_back: Option<Duration>,
    /// The acceptor's master inhibit was on.
    shut: Duration,
    /// Shut while the kiosk could sell, past [`SHUT_SETTLE`].
    shut_wrongly: Duration,
    /// Open while the kiosk could not sell, past [`OPEN_SETTLE`].
    open_wrongly: Duration,
    /// Events of level warn and above since the fault started, `level:kind`.
    events: BTreeMap<String, usize>,
    /// Every event since the fault started, by kind (info too), for what the agent did.
    kinds: BTreeMap<String, usize>,
    /// Log lines of level warn and above, by message (voucher codes left out).
    log: BTreeMap<String, usize>,
    /// Tickets the customers took home, the whole row.
    tickets: usize,
    problems: Vec<String>,
}

/// Log lines at warn and above, by message, for the operator column.
#[derive(Clone, Default)]
struct LogTap(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogTap {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogTap {
    fn take(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut *self.0.lock().unwrap())).into_owned()
    }
}

fn log_tap() -> LogTap {
    static TAP: std::sync::OnceLock<LogTap> = std::sync::OnceLock::new();
    TAP.get_or_init(|| {
        let tap = LogTap::default();
        let writer = tap.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .with_writer(move || writer.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        tap
    })
    .clone()
}

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::bundled_default();
    c.kiosk.coin.kind = CoinKind::Sim;
    c.kiosk.printer.kind = PrinterKind::Sim;
    c.kiosk.display.kind = DisplayKind::None;
    c.kiosk.auto_buy = false;
    c.agent.state_dir = dir.to_path_buf();
    // The kiosk sells plan 1h alone (pool 5), so a router outage empties what it can
    // sell within a row and the coin slot has to shut.
    for p in c.plans.iter_mut().filter(|p| p.id != "1h") {
        p.kiosk = false;
    }
    // Short rounds so a row sees reconcile and enforcement act.
    c.enforcement.reconcile_interval = firmware_config::Duration::from_secs(1);
    c.enforcement.interval = firmware_config::Duration::from_secs(1);
    c
}

struct Rig {
    sim: SimHandle,
    agent: Agent,
    store: Store,
    /// `voucher create --no-pool` in another process: its own store connection and
    /// router link.
    operator: Vouchers<SharedRouter>,
    _dir: tempfile::TempDir,
}

async fn rig() -> Rig {
    let sim = SimRouter::start(SimOptions {
        latency: Duration::from_millis(2),
        tls: false,
        rest: Some(false),
        ..SimOptions::version("7.18")
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let base = RouterConfig {
        name: "main".into(),
        transport: Transport::Api,
        timeout: firmware_config::Duration::from_secs(2),
        ..RouterConfig::default()
    };
    let chosen = hotspot_agent::simulated::router_config(&sim, &base);
    let router = SharedRouter::new(RouterSettings::from_config(&chosen, 0).unwrap());
    let store = Store::open_in(dir.path()).unwrap();
    let agent = Agent::start(&config, &chosen, router, store.clone())
        .await
        .unwrap();
    let operator = Vouchers::from_config(
        Store::open_in(dir.path()).unwrap(),
        SharedRouter::new(RouterSettings::from_config(&chosen, 0).unwrap()),
        &config,
        &chosen,
        hotspot_agent::sync::outbox::sale_payload,
    )
    .unwrap();
    Rig {
        sim,
        agent,
        store,
        operator,
        _dir: dir,
    }
}

/// A timeline of what the workload saw.
#[derive(Default)]
struct Seen {
    kiosk_sales: Vec<Instant>,
    router_sales: Vec<Instant>,
    /// (when, the acceptor's slot open, ready pool vouchers of the kiosk's plans)
    samples: Vec<(Instant, bool, u32)>,
}

// Long on purpose: one row from start to the books; the steps share the rig and timeline.
async fn run_row(fault: &Fault, tap: &LogTap) -> Outcome {
    let rig = rig().await;
    let kiosk = rig.agent.kiosk.as_ref().expect("kiosk started");
    let acceptor = kiosk.sim.acceptor.clone().unwrap();
    let printer = kiosk.sim.printer.clone().unwrap();
    let handle = kiosk.handle.clone();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    // The pool is full and the slot open before the row starts.
    let ready =
        tokio::time::timeout(Duration::from_secs(10), acceptor.wait_for(|s| s.accepting)).await;
    assert!(ready.is_ok(), "{}: the slot never opened", fault.name);

    let customers = {
        let (seen, stop, acceptor, handle, store, printer) = (
            seen.clone(),
            stop.clone(),
            acceptor.clone(),
            handle.clone(),
            rig.store.clone(),
            printer.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if !acceptor.state().accepting {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                let before = handle.status();
                acceptor.insert(2).await; // 5 pesos: the price of plan 1h
                let credited = tokio::time::timeout(
                    Duration::from_secs(3),
                    handle.wait_for(|s| {
                        s.credit >= before.credit + 5 || s.delivered > before.delivered
                    }),
                )
                .await;
                if credited.is_err() {
                    continue; // refused at the slot: the coin came back out
                }
                let pressed = now_ms();
                handle.press(0).await;
                // The ticket, or the sale failing (the credit is given back and stays), or
                // the kiosk going out of service.
                let deadline = Instant::now() + Duration::from_secs(15);
                while Instant::now() < deadline {
                    if printer
                        .next_ticket(Duration::from_millis(50))
                        .await
                        .is_some()
                    {
                        seen.lock().unwrap().kiosk_sales.push(Instant::now());
                        break;
                    }
                    let failed = store.sales_in(&[SaleState::Failed]).unwrap_or_default();
                    if failed
                        .iter()
                        .any(|s| s.source == "kiosk" && s.created_at_ms >= pressed)
                    {
                        break;
                    }
                    // Out of service before anything was sold: the press bought nothing
                    // and the credit stays.
                    if handle.status().out_of_service.is_some() {
                        let sold = store
                            .sales_in(&[
                                SaleState::Reserved,
                                SaleState::Provisioned,
                                SaleState::Delivered,
                            ])
                            .unwrap_or_default();
                        if !sold.iter().any(|s| {
                            s.source == "kiosk"
                                && s.sold_at_ms.unwrap_or(s.created_at_ms) >= pressed
                        }) {
                            break;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        })
    };
    let operator = {
        let (seen, stop, vouchers) = (seen.clone(), stop.clone(), rig.operator.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(v) = vouchers.sell_from("1h", None, "cli", false).await {
                    let _ = vouchers.mark_delivered(v.sale_id);
                    seen.lock().unwrap().router_sales.push(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        })
    };
    let sampler = {
        let (seen, stop, acceptor, store) = (
            seen.clone(),
            stop.clone(),
            acceptor.clone(),
            rig.store.clone(),
        );
        let pooled: Vec<String> = rig
            .agent
            .vouchers
            .plans()
            .all()
            .filter(|p| p.kiosk && p.pool > 0)
            .map(|p| p.id.clone())
            .collect();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ready = pooled
                    .iter()
                    .map(|p| store.pool_counts(p).map_or(0, |c| c.0))
                    .sum();
                let sample = (Instant::now(), acceptor.state().accepting, ready);
                seen.lock().unwrap().samples.push(sample);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // Both kinds of sale under way before the fault (a loaded machine may need longer).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let warm = Instant::now() + Duration::from_secs(10);
    while Instant::now() < warm {
        let s = seen.lock().unwrap();
        if !s.kiosk_sales.is_empty() && !s.router_sales.is_empty() {
            break;
        }
        drop(s);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = tap.take();
    let t0 = Instant::now();
    let t0_ms = now_ms();
    let mut out = Outcome::default();
    for line in fault.start {
        let line = if line.contains("$SOLD") {
            let sold = rig
                .store
                .sales_in(&[SaleState::Delivered])
                .unwrap()
                .into_iter()
                .find(|s| s.source == "cli")
                .expect("an operator sale before the fault");
            line.replace("$SOLD", &sold.code)
        } else {
            line.to_string()
        };
        if let Err(e) = rig.sim.apply(&Control::parse(&line).unwrap()) {
            out.problems.push(format!("console {line:?}: {e}"));
        }
    }
    tokio::time::sleep(fault.hold).await;
    for line in fault.heal {
        let control = if line.starts_with("password") {
            Control::Password(String::new())
        } else {
            Control::parse(line).unwrap()
        };
        let _ = rig.sim.apply(&control);
    }
    let healed = Instant::now();
    let deadline = healed + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let s = seen.lock().unwrap();
        let k = s.kiosk_sales.iter().any(|t| *t > healed);
        let r = s.router_sales.iter().any(|t| *t > healed);
        if (k && r) || Instant::now() > deadline {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let _ = operator.await;
    // A customer in the middle of a purchase finishes it.
    let _ = tokio::time::timeout(Duration::from_secs(20), customers).await;
    // Reconcile runs every second: give it three rounds to put lost users back.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let s = seen.lock().unwrap();
    out.kiosk_sales_during = s
        .kiosk_sales
        .iter()
        .filter(|t| **t > t0 && **t <= healed)
        .count();
    out.router_sales_during = s
        .router_sales
        .iter()
        .filter(|t| **t > t0 && **t <= healed)
        .count();
    out.kiosk_back = s
        .kiosk_sales
        .iter()
        .find(|t| **t > healed)
        .map(|t| *t - healed);
    out.router_back = s
        .router_sales
        .iter()
        .find(|t| **t > healed)
        .map(|t| *t - healed);
    judge_slot(&s.samples, fault.down, t0, healed, &mut out);
    drop(s);
    for e in rig.store.events(None, 10_000).unwrap() {
        if e.at_ms >= t0_ms {
            *out.kinds.entry(e.kind.clone()).or_default() += 1;
            if e.level != "info" {
                *out.events
                    .entry(format!("{}:{}", e.level, e.kind))
                    .or_default() += 1;
            }
        }
    }
    for line in tap.take().lines() {
        let message: String = line
            .split_whitespace()
            .skip(1)
            .take_while(|w| !w.contains('='))
            .map(|w| if is_code(w) { "…" } else { w })
            .collect::<Vec<_>>()
            .join(" ");
        *out.log.entry(message).or_default() += 1;
    }
    // A ticket nobody waited for any more is still in the printer's tray.
    let mut left = 0;
    while printer
        .next_ticket(Duration::from_millis(200))
        .await
        .is_some()
    {
        left += 1;
    }
    out.tickets = seen.lock().unwrap().kiosk_sales.len() + left;
    books(&rig, &acceptor, &handle, &mut out);
    rig.agent.stop().await;
    rig.sim.shutdown().await;
    out
}

/// A voucher code in a log line (8 capitals and digits by default), left out so the
/// same message counts once.
fn is_code(word: &str) -> bool {
    let w = word.trim_end_matches(':');
    w.len() >= 6
        && w.chars().any(|c| c.is_ascii_digit())
        && w.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}
fn now_ms() -> i64 {
    hotspot_agent::store::now_ms()
}
fn secs(d: Option<Duration>) -> String {
    d.map_or("never".into(), |d| format!("{:.1} s", d.as_secs_f64()))
}

fn summary(m: &BTreeMap<String, usize>) -> String {
    if m.is_empty() {
        return "-".into();
    }
    m.iter()
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `FAULT_MATRIX`: `full` (every row), unset or `short` (the CI rows), or words of
/// a row's name (that row alone, e.g. `FAULT_MATRIX=profile`).
async fn matrix(choice: &str) {
    let tap = log_tap();
    let mut table = vec![
        format!("| fault | what the agent did | sales during it (kiosk / operator) | sold again after it ended (kiosk / operator) | coin slot shut; wrongly shut (past {} s) / wrongly open (past {} s) | told the operator (log, warn and above) | told the central office (events) | books |", SHUT_SETTLE.as_secs(), OPEN_SETTLE.as_secs()),
        "|---|---|---|---|---|---|---|---|".to_string(),
    ];
    let mut failures = Vec::new();
    let chosen = |f: &Fault| match choice {
        "full" => true,
        "" | "short" => f.short,
        words => f.name.contains(words),
    };
    for fault in rows().iter().filter(|f| chosen(f)) {
        let o = run_row(fault, &tap).await;
        let books = if o.problems.is_empty() {
            "ok".to_string()
        } else {
            o.problems.join("; ")
        };
        table.push(format!(
            "| {} | {} | {} / {} | {} / {} | {:.1} s; {:.1} s / {:.1} s | {} | {} | {} |",
            fault.name,
            what_it_did(&o),
            o.kiosk_sales_during,
            o.router_sales_during,
            secs(o.kiosk_back),
            secs(o.router_back),
            o.shut.as_secs_f64(),
            o.shut_wrongly.as_secs_f64(),
            o.open_wrongly.as_secs_f64(),
            summary(&o.log),
            summary(&o.events),
            books
        ));
        if !o.problems.is_empty() {
            failures.push(format!("{}: {}", fault.name, books));
        }
        if !(o.shut_wrongly.is_zero() && o.open_wrongly.is_zero()) {
            failures.push(format!(
                "{}: the coin slot was wrongly shut {:.1} s (past {} s) and wrongly open {:.1} s (past {} s)",
                fault.name,
                o.shut_wrongly.as_secs_f64(),
                SHUT_SETTLE.as_secs(),
                o.open_wrongly.as_secs_f64(),
                OPEN_SETTLE.as_secs()
            ));
        }
        if o.kiosk_back.is_none() || o.router_back.is_none() {
            failures.push(format!(
                "{}: did not sell again within 20 s of the fault ending",
                fault.name
            ));
        }
    }
    println!("\n{}", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_leaves_the_books_right_and_the_kiosk_selling_again() {
    matrix(&std::env::var("FAULT_MATRIX").unwrap_or_default()).await;
}
