//! Kill -9 between coin and ticket, on the whole agent: `hotspot-agent run` drives a
//! simulated ccTalk acceptor and an ESC/POS printer on real pseudo-terminals and a
//! simulated RouterOS in its own process. The agent is SIGKILLed at a named step of
//! a sale, started again, and must then finish that sale exactly once: one ticket
//! code, one router user, the coin spent on it, nothing left over.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use firmware_config::{RouterConfig, Transport};
use hotspot_agent::store::{SaleState, Store};
use kiosk::sim::{SimAcceptor, SimPrinter};
use routeros::{HotspotApi, Router, RouterSettings, UserQuery};
use tokio_serial::SerialPort;

mod support;
use support::AgentConfig;

const AGENT: &str = env!("CARGO_BIN_EXE_hotspot-agent");

/// A simulated router in its own process, so it outlives every agent we kill.
struct SimProcess {
    child: Child,
    port: u16,
}

impl SimProcess {
    fn start() -> SimProcess {
        let mut child = Command::new(AGENT)
            .args(["sim", "--clients", "0", "--no-rest", "--no-tls"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hotspot-agent sim");
        let out = child.stdout.take().expect("sim stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Keep reading: a closed pipe would kill the simulator at its next line.
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("api=") {
                    let _ = tx.send(addr.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()));
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(10))
            .ok()
            .flatten()
            .expect("the simulator printed its api= line");
        SimProcess { child, port }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(
    dir: &Path,
    router_port: u16,
    coin_port: &str,
    printer_port: &str,
    poll: &str,
) -> AgentConfig {
    AgentConfig::new("kill", dir, Some(router_port))
        .set("kiosk.mode", "plans")
        .set("kiosk.auto_buy", true)
        .set("kiosk.coin.kind", "cctalk")
        .set("kiosk.coin.port", coin_port)
        .set("kiosk.coin.poll_interval", poll)
        .set("kiosk.printer.kind", "escpos")
        .set("kiosk.printer.port", printer_port)
}

fn start_agent(config: &Path, crash_at: Option<&str>) -> Child {
    let mut cmd = Command::new(AGENT);
    cmd.arg("--config").arg(config).arg("run");
    cmd.env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(step) = crash_at {
        cmd.env("HOTSPOT_CRASH_AT", step);
    }
    cmd.spawn().expect("start hotspot-agent run")
}

/// Waits (on a thread) for the agent to announce the crash point, then SIGKILLs it.
fn kill_at_crash_point(mut agent: Child, step: &str) {
    let err = agent.stderr.take().expect("agent stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.starts_with("HOTSPOT_CRASH_POINT") {
                let _ = tx.send(line);
                return;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("the agent never reached crash point {step}"));
    assert_eq!(line, format!("HOTSPOT_CRASH_POINT {step}"));
    agent.kill().expect("SIGKILL");
    let status = agent.wait().expect("wait");
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL");
}

fn stop_agent(mut agent: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(agent.id().to_string())
        .status();
    for _ in 0..100 {
        if agent.try_wait().expect("wait").is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = agent.kill();
    let _ = agent.wait();
}

fn code_of(qr: &str) -> String {
    qr.split_once("username=")
        .map(|(_, rest)| rest.split('&').next().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// One agent at a time: five agents, five simulators and their ptys at once on a
/// 2-core machine would test the machine, not the agent.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn killed_once_at(step: &str) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sim = SimProcess::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // Device ends stay in the test for the whole run; the agent opens the other ends
    // by path, as it would /dev/ttyUSB0.
    let (coin_dev, coin_agent) = tokio_serial::SerialStream::pair().expect("coin pty");
    let (printer_dev, printer_agent) = tokio_serial::SerialStream::pair().expect("printer pty");
    let coin_path = coin_agent.name().expect("coin pty path");
    let printer_path = printer_agent.name().expect("printer pty path");
    let acceptor = SimAcceptor::spawn(coin_dev, 2);
    let printer = SimPrinter::spawn(printer_dev);
    let config_path = dir.path().join("agent.toml");
    config(dir.path(), sim.port, &coin_path, &printer_path, "50ms").write(&config_path);

    let agent = start_agent(&config_path, Some(step));
    if tokio::time::timeout(Duration::from_secs(30), acceptor.wait_for(|s| s.accepting))
        .await
        .is_err()
    {
        let mut agent = agent;
        let _ = agent.kill();
        let mut err = String::new();
        if let Some(mut e) = agent.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        panic!("{step}: the coin slot never opened; agent said:\n{err}");
    }
    acceptor.insert(2).await; // channel 2 = 5, the price of the only plan: auto-buy
    kill_at_crash_point(agent, step);
    let mut codes = Vec::new();
    while let Some(t) = printer.next_ticket(Duration::from_millis(300)).await {
        codes.push(code_of(t.qr.as_deref().unwrap_or_default()));
    }
    let printed_before_kill = codes.len();

    let agent = start_agent(&config_path, None);
    let ticket = printer
        .next_ticket(Duration::from_secs(20))
        .await
        .unwrap_or_else(|| panic!("{step}: no ticket after the restart"));
    codes.push(code_of(ticket.qr.as_deref().unwrap_or_default()));
    let reprint = ticket.lines.iter().any(|l| l.contains("REPRINT"));
    // A ticket that may already be in the customer's hand comes out marked as a copy.
    assert_eq!(reprint, step == "after_print", "{step}: {:?}", ticket.lines);
    if reprint {
        assert!(
            ticket.lines.iter().any(|l| l.contains("first printed 20")),
            "{:?}",
            ticket.lines
        );
    }
    // Nothing more comes: the sale completes once.
    while let Some(t) = printer.next_ticket(Duration::from_secs(2)).await {
        codes.push(code_of(t.qr.as_deref().unwrap_or_default()));
    }
    stop_agent(agent);

    let first = codes[0].clone();
    assert!(!first.is_empty(), "{step}: the ticket carries a login QR");
    assert!(
        codes.iter().all(|c| *c == first),
        "{step}: every ticket is the same voucher (a reprint at most), got {codes:?}"
    );
    let expected_tickets = if step == "after_print" { 2 } else { 1 };
    assert_eq!(
        codes.len(),
        expected_tickets,
        "{step}: tickets {codes:?}, {printed_before_kill} before the kill"
    );

    let store = Store::open_in(&dir.path().join("state")).expect("store");
    let sales: Vec<_> = store
        .recent_sales(100)
        .expect("sales")
        .into_iter()
        .filter(|s| s.source == "kiosk")
        .collect();
    assert_eq!(sales.len(), 1, "{step}: one sale for one coin: {sales:?}");
    assert_eq!(sales[0].state, SaleState::Delivered, "{step}");
    assert_eq!(sales[0].code, first, "{step}");
    assert_eq!(
        store.credit_balance().expect("credit"),
        0,
        "{step}: the coin paid for the voucher"
    );

    let rc = RouterConfig {
        name: "sim".into(),
        host: "127.0.0.1".into(),
        transport: Transport::Api,
        api_port: Some(sim.port),
        ..RouterConfig::default()
    };
    let router = Router::connect(RouterSettings::from_config(&rc, 0).expect("settings"))
        .await
        .expect("connect to the simulator");
    let ours = router
        .users(&UserQuery {
            comment_prefix: Some("hsa:kill:".into()),
            ..UserQuery::default()
        })
        .await
        .expect("users");
    let names: Vec<_> = ours.iter().map(|u| u.name.clone()).collect();
    assert_eq!(
        names,
        vec![first],
        "{step}: exactly one router user, the ticket's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_coin_is_committed() {
    killed_once_at("after_credit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_sale_is_reserved() {
    killed_once_at("after_reserve").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_router_created_the_user() {
    killed_once_at("after_router_add").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_sale_is_provisioned() {
    killed_once_at("after_provisioned").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_ticket_is_printed() {
    killed_once_at("after_print").await;
}

/// A tiny deterministic generator for kill instants (no crate for one line).
fn next_random(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

/// The kill harness: `KIOSK_KILLS` rounds (3 by default) of: slot open, a coin,
/// SIGKILL at a random instant up to 400 ms later, one or two coins dropped while
/// the agent is dead (the acceptor stays powered and keeps accepting, as real
/// ones do), restart. Every coin the acceptor took must end up in exactly one
/// sale with exactly one router user. Prints the figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coins_accepted_while_the_agent_is_dead_are_credited_after_the_restart() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let kills: u64 = std::env::var("KIOSK_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut seed: u64 = std::env::var("KIOSK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(11);
    let sim = SimProcess::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (coin_dev, coin_agent) = tokio_serial::SerialStream::pair().expect("coin pty");
    let (printer_dev, printer_agent) = tokio_serial::SerialStream::pair().expect("printer pty");
    let coin_path = coin_agent.name().expect("coin pty path");
    let printer_path = printer_agent.name().expect("printer pty path");
    let acceptor = SimAcceptor::spawn(coin_dev, 2);
    let printer = SimPrinter::spawn(printer_dev);
    let config_path = dir.path().join("agent.toml");
    config(dir.path(), sim.port, &coin_path, &printer_path, "150ms").write(&config_path);

    let mut dead_coins = 0u64;
    let log_path = dir.path().join("agents.log");
    let start = || {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("log file");
        Command::new(AGENT)
            .arg("--config")
            .arg(&config_path)
            .arg("run")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start hotspot-agent run")
    };
    let mut agent = start();
    for round in 0..kills {
        // Opened by this agent: it shut the slot first (one 228), then opened it.
        let shut_before = acceptor.state().master_commands;
        tokio::time::timeout(
            Duration::from_secs(30),
            acceptor.wait_for(|s| s.accepting && s.master_commands >= shut_before + 2),
        )
        .await
        .unwrap_or_else(|_| panic!("round {round}: the coin slot never opened"));
        acceptor.insert(2).await;
        tokio::time::sleep(Duration::from_millis(next_random(&mut seed) % 400)).await;
        agent.kill().expect("SIGKILL");
        agent.wait().expect("wait");
        for _ in 0..1 + round % 2 {
            let before = acceptor.state().accepted;
            acceptor.insert(2).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            dead_coins += acceptor.state().accepted - before;
        }
        agent = start();
    }
    let accepted = acceptor.state().accepted;
    let state = dir.path().join("state");
    let sold = |store: &Store| {
        store
            .recent_sales(1000)
            .expect("sales")
            .into_iter()
            .filter(|s| s.source == "kiosk")
            .collect::<Vec<_>>()
    };
    let coins = |store: &Store| {
        store
            .credit_entries(10_000)
            .expect("credit")
            .into_iter()
            .filter(|c| c.source == "coin")
            .count() as u64
    };
    // A sale is settled when delivered, or held for the operator because its
    // customer is likely gone (a coin came after it; README, "Reprints").
    let held = |store: &Store| {
        store
            .events(Some("ticket_held"), 10_000)
            .expect("events")
            .into_iter()
            .filter_map(|e| e.subject)
            .collect::<std::collections::BTreeSet<_>>()
    };
    let settled = |store: &Store| {
        let held = held(store);
        sold(store)
            .iter()
            .all(|s| s.state == SaleState::Delivered || held.contains(&s.code))
    };
    // Until every coin is on disk and no sale is left half done.
    // Twice in a row, a second apart: a sale the last coins start must finish too.
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let mut calm = 0;
    while calm < 2 && std::time::Instant::now() < deadline {
        let store = Store::open_in(&state).expect("store");
        let sales = sold(&store).len();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let done = coins(&store) >= accepted && settled(&store) && sold(&store).len() == sales;
        calm = if done { calm + 1 } else { 0 };
    }
    let mut tickets = 0;
    while printer
        .next_ticket(Duration::from_millis(300))
        .await
        .is_some()
    {
        tickets += 1;
    }
    stop_agent(agent);

    let store = Store::open_in(&state).expect("store");
    let sales = sold(&store);
    let credited = coins(&store);
    // Coins the acceptor's 5-event buffer could not hold, as the agent reported them.
    let reported_lost: u64 = store
        .events(Some("kiosk_alert"), 10_000)
        .expect("events")
        .iter()
        .filter_map(|e| {
            let (n, _) = e.message.split_once(" coin acceptor event(s) lost")?;
            n.rsplit('"').next()?.trim().parse::<u64>().ok()
        })
        .sum();
    let codes: std::collections::BTreeSet<_> = sales.iter().map(|s| s.code.clone()).collect();
    println!(
        "kill harness: {kills} kills, {accepted} coins accepted ({dead_coins} while the agent was dead), \
         {credited} credited, {reported_lost} reported lost (over the acceptor's 5-event buffer), {} kiosk sales ({} held for the operator), {} distinct codes, {tickets} tickets, credit left {}",
        sales.len(),
        held(&store).len(),
        codes.len(),
        store.credit_balance().expect("credit"),
    );
    let open_sales: Vec<_> = sales
        .iter()
        .filter(|s| s.state != SaleState::Delivered)
        .map(|s| (s.id, s.code.clone(), s.state))
        .collect();
    println!("not delivered: {open_sales:?}; held: {:?}", held(&store));
    if credited + reported_lost != accepted {
        println!("{}", std::fs::read_to_string(&log_path).unwrap_or_default());
    }
    assert!(
        dead_coins > 0,
        "the harness dropped coins while the agent was dead"
    );
    assert!(credited <= accepted, "no coin credited twice");
    assert_eq!(
        credited + reported_lost,
        accepted,
        "every coin credited, or reported lost when the acceptor's buffer overflowed"
    );
    assert!(
        !sales.is_empty() && settled(&store),
        "every sale delivered or held"
    );
    assert_eq!(codes.len(), sales.len(), "no voucher doubled");
    assert!(store.credit_balance().expect("credit") >= 0);
    let rc = RouterConfig {
        name: "sim".into(),
        host: "127.0.0.1".into(),
        transport: Transport::Api,
        api_port: Some(sim.port),
        ..RouterConfig::default()
    };
    let router = Router::connect(RouterSettings::from_config(&rc, 0).expect("settings"))
        .await
        .expect("connect to the simulator");
    let users: std::collections::BTreeSet<_> = router
        .users(&UserQuery {
            comment_prefix: Some("hsa:kill:".into()),
            ..UserQuery::default()
        })
        .await
        .expect("users")
        .into_iter()
        .map(|u| u.name.lossy().into_owned())
        .collect();
    assert_eq!(users, codes, "every paid sale is exactly one router user");
}

/// A router that accepts connections and never answers (stalled, not refused).
fn stalled_router() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().map_while(Result::ok) {
            held.push(conn);
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_router_does_not_delay_shutting_and_polling_the_acceptor() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sim = SimProcess::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (coin_dev, coin_agent) = tokio_serial::SerialStream::pair().expect("coin pty");
    let (printer_dev, printer_agent) = tokio_serial::SerialStream::pair().expect("printer pty");
    let coin_path = coin_agent.name().expect("coin pty path");
    let printer_path = printer_agent.name().expect("printer pty path");
    let acceptor = SimAcceptor::spawn(coin_dev, 2);
    let _printer = SimPrinter::spawn(printer_dev);
    let write = |port| {
        let path = dir.path().join("agent.toml");
        config(dir.path(), port, &coin_path, &printer_path, "150ms").write(&path);
        path
    };
    // A first agent opens the slot, then dies: the acceptor stays open.
    let mut agent = start_agent(&write(sim.port), None);
    tokio::time::timeout(Duration::from_secs(30), acceptor.wait_for(|s| s.accepting))
        .await
        .expect("the slot opened");
    agent.kill().expect("SIGKILL");
    agent.wait().expect("wait");
    assert!(acceptor.state().accepting, "left open by the dead agent");
    // The next one finds its router stalled.
    let polls = acceptor.state().polls;
    let started = std::time::Instant::now();
    let agent = start_agent(&write(stalled_router()), None);
    tokio::time::timeout(Duration::from_secs(3), acceptor.wait_for(|s| !s.accepting))
        .await
        .expect("the slot is shut at once, router or not");
    let shut = started.elapsed();
    tokio::time::timeout(
        Duration::from_secs(3),
        acceptor.wait_for(|s| s.polls > polls),
    )
    .await
    .expect("header 229 is polled while the router stalls");
    let polled = started.elapsed();
    println!("stalled router: slot shut after {shut:?}, first 229 poll after {polled:?}");
    acceptor.insert(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        acceptor.state().accepted,
        0,
        "the coin dropped meanwhile is refused, not swallowed"
    );
    stop_agent(agent);
}
