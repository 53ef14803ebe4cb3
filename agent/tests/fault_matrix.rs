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

use std::collections::{BTreeMap, HashMap};
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

/// One row: console lines that start the fault, how long it lasts, the lines that
/// end it (none: the agent must cope by itself).
struct Fault {
    name: &'static str,
    start: &'static [&'static str],
    hold: Duration,
    heal: &'static [&'static str],
    /// When the router itself cannot take an add, as the fault set it (not as the
    /// agent believes): what the coin slot is judged against.
    down: Down,
    /// In the short form CI runs.
    short: bool,
}

/// When the router cannot create a user.
#[derive(Clone, Copy)]
enum Down {
    /// It always can (a fault of the link or of its data, which the agent must ride out).
    Never,
    /// From the start of the fault until the lines that end it.
    WhileHeld,
    /// For this long from the start (a reboot).
    For(Duration),
}

const S: Duration = Duration::from_secs(1);

/// How long the slot may stay open after the kiosk became unable to sell before it
/// counts as wrong: the agent learns of the router's going on its next router call
/// (pool and enforcement rounds every second here) and the kiosk reads that within
/// 250 ms.
const OPEN_SETTLE: Duration = Duration::from_secs(2);
/// How long it may stay shut after the kiosk became able to sell again: a reconnect
/// first waits out the link's back-off (1, then 2 s while the router was down; 1, 2,
/// 4 s … after refused logins), then the next round finds the router.
const SHUT_SETTLE: Duration = Duration::from_secs(5);

fn rows() -> Vec<Fault> {
    let row = |name, start, hold, heal, down, short| Fault {
        name,
        start,
        hold,
        heal,
        down,
        short,
    };
    vec![
        row(
            "connection dropped before the reply (command not carried out)",
            &["drop-before 3"],
            3 * S,
            &["faults off"],
            Down::Never,
            false,
        ),
        row(
            "connection dropped after the command was carried out",
            &["drop-after 3"],
            3 * S,
            &["faults off"],
            Down::Never,
            true,
        ),
        row(
            "replies stalled 4 s",
            &["stall 5 4s"],
            3 * S,
            &["faults off"],
            Down::Never,
            false,
        ),
        row(
            "!fatal after 4 commands",
            &["fatal 4"],
            3 * S,
            &["faults off"],
            Down::Never,
            false,
        ),
        row(
            "slow link 50 ms",
            &["latency 50ms"],
            3 * S,
            &["latency 2ms"],
            Down::Never,
            false,
        ),
        row(
            "slow link 500 ms",
            &["latency 500ms"],
            3 * S,
            &["latency 2ms"],
            Down::Never,
            false,
        ),
        row(
            "router restarted, users intact",
            &["restart boot 2s"],
            2 * S,
            &[],
            Down::For(2 * S),
            false,
        ),
        row(
            "router restarted, users lost (reset / old backup)",
            &["restart lose-users boot 2s"],
            2 * S,
            &[],
            Down::For(2 * S),
            true,
        ),
        row(
            "API service disabled",
            &["api disable"],
            4 * S,
            &["api enable"],
            Down::WhileHeld,
            true,
        ),
        row(
            "the agent's API password changed",
            &["password changed-by-admin"],
            4 * S,
            &["password "],
            Down::WhileHeld,
            false,
        ),
        row(
            "the profile of a plan deleted",
            &["remove-profile kiosk-2m"],
            3 * S,
            &[],
            Down::Never,
            false,
        ),
        row(
            "a sold voucher's user removed by hand",
            &["remove-user $SOLD"],
            S,
            &[],
            Down::Never,
            false,
        ),
    ]
}

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

/// The coin slot against what the kiosk could really do: sell when the router takes
/// an add (the fault's [`Down`]) or a ready pool voucher is left. A mismatch counts
/// only for the part that lasts past its settling time (the slot also shuts for a moment
/// during each purchase).
fn judge_slot(
    samples: &[(Instant, bool, u32)],
    down: Down,
    t0: Instant,
    healed: Instant,
    out: &mut Outcome,
) {
    let router_up = |t: Instant| match down {
        Down::Never => true,
        Down::WhileHeld => t < t0 || t >= healed,
        Down::For(d) => t < t0 || t >= t0 + d,
    };
    // Since when the slot has disagreed with the kiosk's ability, and which way.
    let mut since: Option<(Instant, bool)> = None;
    for w in samples.windows(2).filter(|w| w[0].0 >= t0) {
        let (at, open, ready) = w[0];
        let dt = w[1].0 - at;
        if !open {
            out.shut += dt;
        }
        let can_sell = router_up(at) || ready > 0;
        since = match since {
            _ if open == can_sell => None,
            Some((from, was_open)) if was_open == open => Some((from, was_open)),
            _ => Some((at, open)),
        };
        if let Some((from, _)) = since {
            let settle = if open { OPEN_SETTLE } else { SHUT_SETTLE };
            let past = (w[1].0 - from).saturating_sub(settle).min(dt);
            if open {
                out.open_wrongly += past;
            } else {
                out.shut_wrongly += past;
            }
        }
    }
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

/// What the agent did, in words, from its log and events.
fn what_it_did(o: &Outcome) -> String {
    let log = |words: &str| -> usize {
        o.log
            .iter()
            .filter(|(m, _)| m.contains(words))
            .map(|(_, n)| n)
            .sum()
    };
    let kind = |k: &str| o.kinds.get(k).copied().unwrap_or(0);
    let mut did = Vec::new();
    let lost = log("connection ended") + log("connection failed") + log("connection reopened");
    if lost > 0 {
        did.push(format!("reopened the router link ({lost} losses)"));
    }
    if o.shut > OPEN_SETTLE {
        did.push(format!(
            "shut the coin slot for {:.1} s",
            o.shut.as_secs_f64()
        ));
    }
    if kind("sale_pending") > 0 {
        did.push(format!(
            "recorded {} sales whose user waited for the router (kiosk: ticket at once), made them when it answered",
            kind("sale_pending")
        ));
    }
    // (log words, what they mean) — each counted line is one such act.
    for (words, act) in [
        (
            "credit was given back",
            "gave the credit back for {} sales it could not make",
        ),
        (
            "nobody had paid for it",
            "failed {} operator sales, saying why (nothing paid)",
        ),
        (
            "re-created sold voucher",
            "re-created {} lost users of sold vouchers",
        ),
        ("dropped pool voucher", "dropped {} lost pool vouchers"),
    ] {
        let n = log(words);
        if n > 0 {
            did.push(act.replace("{}", &n.to_string()));
        }
    }
    if kind("profile_restored") > 0 {
        did.push("re-created the deleted profile".into());
    }
    if did.is_empty() {
        did.push("sold on; nothing to repair".into());
    }
    did.join("; ")
}

fn now_ms() -> i64 {
    hotspot_agent::store::now_ms()
}

/// Coins = credit + kiosk sales; every sold or ready voucher has exactly one router
/// user, and every router user of ours belongs to one.
fn books(
    rig: &Rig,
    acceptor: &kiosk::sim::SimAcceptor,
    handle: &kiosk::runner::KioskHandle,
    out: &mut Outcome,
) {
    let coins = (acceptor.state().accepted * 5) as i64;
    let entries = rig.store.credit_entries(100_000).unwrap();
    let credited: i64 = entries
        .iter()
        .filter(|e| e.source.starts_with("coin"))
        .map(|e| e.amount)
        .sum();
    let forfeited: i64 = -entries
        .iter()
        .filter(|e| e.source == "forfeit")
        .map(|e| e.amount)
        .sum::<i64>();
    if coins != credited {
        out.problems.push(format!(
            "the acceptor took {coins} but {credited} was credited"
        ));
    }
    // Paid kiosk sales: on the router, or recorded and waiting for it (ticket printed).
    let kiosk_sales: Vec<_> = rig
        .store
        .sales_in(&[
            SaleState::Provisioned,
            SaleState::Delivered,
            SaleState::Reserved,
        ])
        .unwrap()
        .into_iter()
        .filter(|s| s.source == "kiosk")
        .collect();
    let paid: i64 = kiosk_sales.iter().map(|s| s.price as i64).sum();
    let credit = rig.store.credit_balance().unwrap();
    if coins != paid + credit + forfeited {
        out.problems.push(format!(
            "coins {coins} != kiosk sales {paid} + credit {credit} + left to the operator {forfeited}"
        ));
    }
    if handle.status().credit as i64 != credit {
        out.problems.push(format!(
            "the kiosk shows credit {} but the store holds {credit}",
            handle.status().credit
        ));
    }
    let unfinished = rig
        .store
        .sales_in(&[SaleState::Reserved, SaleState::PoolReserved])
        .unwrap();
    if !unfinished.is_empty() {
        out.problems.push(format!(
            "{} sales still unfinished (e.g. sale {} from {}, {} attempts: {})",
            unfinished.len(),
            unfinished[0].id,
            unfinished[0].source,
            unfinished[0].attempts,
            unfinished[0].last_error.as_deref().unwrap_or("-")
        ));
    }
    let kiosk_sold = kiosk_sales.len();
    if kiosk_sold != out.tickets {
        out.problems.push(format!(
            "{} tickets printed for {kiosk_sold} paid kiosk sales",
            out.tickets
        ));
    }
    // Router users of ours: name -> the sale ids their comments name.
    let mut users: HashMap<String, Vec<String>> = HashMap::new();
    for u in rig.sim.users() {
        let comment = u
            .get("comment")
            .map(|c| c.lossy().into_owned())
            .unwrap_or_default();
        if let Some(rest) = comment.strip_prefix("hsa:") {
            let name = u
                .get("name")
                .map(|n| n.lossy().into_owned())
                .unwrap_or_default();
            let sale = rest.rsplit(':').next().unwrap_or_default().to_string();
            users.entry(name).or_default().push(sale);
        }
    }
    let mut expected = rig
        .store
        .sales_in(&[
            SaleState::Provisioned,
            SaleState::Delivered,
            SaleState::PoolReady,
        ])
        .unwrap();
    expected.retain(|s| s.ended_at_ms.is_none());
    let missing: Vec<&str> = expected
        .iter()
        .filter(|s| !users.contains_key(&s.code))
        .map(|s| s.code.as_str())
        .collect();
    if !missing.is_empty() {
        out.problems.push(format!(
            "{} valid vouchers have no router user (e.g. {})",
            missing.len(),
            missing[0]
        ));
    }
    let doubled = users.values().filter(|n| n.len() > 1).count();
    if doubled > 0 {
        out.problems
            .push(format!("{doubled} codes have more than one router user"));
    }
    // A user put back is the same sale, not a second one: its comment names the
    // sale that holds its code.
    let resold = expected
        .iter()
        .filter(|s| {
            users
                .get(&s.code)
                .is_some_and(|ids| ids.iter().any(|id| *id != s.id.to_string()))
        })
        .count();
    if resold > 0 {
        out.problems.push(format!(
            "{resold} router users carry another sale's id than the voucher's"
        ));
    }
    let known: std::collections::HashSet<&str> = expected.iter().map(|s| s.code.as_str()).collect();
    let strays = users.keys().filter(|n| !known.contains(n.as_str())).count();
    if strays > 0 {
        out.problems.push(format!(
            "{strays} router users of ours belong to no valid sale"
        ));
    }
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
