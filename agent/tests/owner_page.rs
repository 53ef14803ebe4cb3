//! The owner's page in a real browser, on the whole agent: `hotspot-agent run` with a
//! simulated router (in this test's process), a simulated kiosk printer and
//! `[owner_page]` on. Debian's chromium, headless, driven by playwright-core
//! (`tests/node/owner_page.js`), logs in (a wrong PIN first), reads the figures,
//! presses "collected", disconnects a user and prints a batch. Each figure is
//! compared with `hotspot-agent stats --json`, the store and the simulated router.
//! The screenshots are kept in `<target>/owner-page-screenshots/` (the test prints
//! the path).

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hotspot_agent::store::{SaleState, Store};
use routeros_sim::{SimOptions, SimRouter};
use serde_json::Value;

mod support;
use support::AgentConfig;

const AGENT: &str = env!("CARGO_BIN_EXE_hotspot-agent");
const PIN: &str = "482913";

fn config(dir: &Path, router_port: u16) -> AgentConfig {
    AgentConfig::new("shop", dir, Some(router_port))
        .set("kiosk.mode", "plans")
        .set("kiosk.insert_window", "5s")
        .set("owner_page.enabled", true)
        .set("owner_page.listen", "127.0.0.1:0")
}

fn agent(config: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(AGENT)
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hotspot-agent runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "hotspot-agent {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `run`; returns it and the page's address from its log.
fn start_service(config: &Path) -> (Service, String) {
    let mut child = Command::new(AGENT)
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hotspot-agent run");
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Keep reading: a closed pipe would end the service at its next log line.
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains("owner page") && (line.contains("listening") || line.contains("off")) {
                let _ = tx.send(line.clone());
            }
        }
    });
    let service = Service(child);
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the service logs the owner page's address");
    let url = line
        .split("url=")
        .nth(1)
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .unwrap_or_else(|| panic!("the owner page did not start: {line}"));
    (service, url)
}

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/node")
}

/// playwright-core from the committed lock file, installed on first use.
fn playwright() {
    let dir = node_dir();
    if dir.join("node_modules/playwright-core").exists() {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run npm ({e}): apt-get install nodejs npm"));
    assert!(
        out.status.success(),
        "npm ci in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The page's certificate is the one whose SHA-256 `owner-page fingerprint` printed:
/// a TLS client pinned to it completes the handshake.
async fn assert_serves_the_printed_certificate(url: &str, printed: &str) {
    let hex = printed
        .lines()
        .find_map(|l| l.strip_prefix("SHA-256"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no SHA-256 line: {printed}"));
    let pin = firmware_config::router::parse_fingerprint(hex).expect("64 hex digits");
    let keys = tls_pin::ConfigKeys {
        peer: "owner page",
        fingerprint: "owner-page fingerprint",
        ca_file: "-",
    };
    let client = tls_pin::ClientTls::new(tls_pin::Trust::Pin(pin), None, keys).unwrap();
    let addr = url.trim_start_matches("https://");
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = tls_pin::server_name("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(client.config())
        .connect(name, tcp)
        .await
        .unwrap_or_else(|e| panic!("the page's certificate is not the printed one ({hex}): {e}"));
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

async fn wait_for_an_idle_kiosk(state: &Path) {
    use hotspot_agent::control::{ask, socket_path, Reply, Request};
    let socket = socket_path(state);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let screen = match ask(&socket, &Request::Status, Duration::from_secs(2)).await {
            Ok(Reply::Status(live)) => live.screen,
            other => format!("{other:?}"),
        };
        if screen.starts_with("Idle") {
            return;
        }
        assert!(Instant::now() < deadline, "the kiosk stayed busy: {screen}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// Long on purpose: one browser session through every page, then what each button did.
#[tokio::test(flavor = "multi_thread")]
async fn the_owner_page_in_chromium_shows_the_stats_figures_and_its_buttons_act() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: apt-get install chromium (tests/run.sh does)"
    );
    playwright();
    let sim = SimRouter::start(SimOptions {
        auto_clients: 0,
        ..SimOptions::version("7.18")
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    config(dir.path(), sim.api_addr.port()).write(&cfg);
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    {
        // Three coins counted in earlier today: 20 PHP in the box.
        let store = Store::open_in(&state).unwrap();
        for v in [5, 5, 10] {
            store
                .add_credit(v, "coin", hotspot_agent::store::now_ms())
                .unwrap();
        }
    }
    let said = agent(&cfg, &["owner-page", "pin"], Some(&format!("{PIN}\n")));
    assert!(said.contains("PIN set"), "{said}");
    let fp = agent(&cfg, &["owner-page", "fingerprint"], None);
    assert!(fp.contains("SHA-256"), "{fp}");
    // A customer online with a voucher made on the command line.
    agent(&cfg, &["profiles", "sync"], None);
    let sold: Value = serde_json::from_str(&agent(
        &cfg,
        &["voucher", "create", "--plan", "1h", "--json"],
        None,
    ))
    .unwrap();
    let code = sold["code"].as_str().unwrap().to_string();
    sim.login_client(
        &code,
        sold["password"].as_str().unwrap(),
        "02:00:00:00:00:01",
    )
    .unwrap();

    let (_service, url) = start_service(&cfg);
    assert!(
        url.starts_with("https://127.0.0.1:"),
        "HTTPS by default: {url}"
    );
    assert_serves_the_printed_certificate(&url, &fp).await;
    let stats: Value = serde_json::from_str(&agent(&cfg, &["stats", "--json"], None)).unwrap();

    // The coins above are credit the kiosk offers for its insert window (5 s here)
    // after the start; a batch prints only while no customer is mid-purchase.
    wait_for_an_idle_kiosk(&state).await;

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("owner-page-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let out = tokio::process::Command::new("node")
        .arg(node_dir().join("owner_page.js"))
        .args([&url, PIN, "000000"])
        .arg(&shots)
        .arg("1h")
        .env("CHROMIUM", &chromium)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out)
        .await
        .expect("the browser run ends within 120 s")
        .expect("node runs");
    assert!(
        out.status.success(),
        "owner_page.js: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("owner page screenshots in {}", shots.display());
    for s in seen["screenshots"].as_array().unwrap() {
        println!("  {}", s.as_str().unwrap());
        assert!(Path::new(s.as_str().unwrap()).exists());
    }

    // Logging in.
    assert_eq!(seen["redirected_to_login"], true);
    assert_eq!(seen["wrong_pin"]["path"], "/login");
    assert!(seen["wrong_pin"]["error"]
        .as_str()
        .unwrap()
        .contains("Wrong PIN"));
    let cookie = &seen["cookie"];
    assert_eq!(
        (&cookie["httpOnly"], &cookie["secure"], &cookie["sameSite"]),
        (
            &Value::Bool(true),
            &Value::Bool(true),
            &Value::from("Strict")
        ),
        "{cookie}"
    );

    // Today's figures are the ones `stats` gives.
    let today = &seen["today"];
    let takings = &stats["takings_today"];
    assert_eq!(today["coins_value"], takings["coins_value"]);
    assert_eq!(today["coins"], takings["coins"]);
    assert_eq!(today["coins_value"], 20);
    for c in takings["per_channel"].as_array().unwrap() {
        let ch = c["channel"].as_str().unwrap();
        assert_eq!(today["channels"][ch]["vouchers"], c["vouchers"], "{ch}");
        assert_eq!(today["channels"][ch]["value"], c["value"], "{ch}");
    }
    assert_eq!(today["channels"]["cli"]["vouchers"], 1);
    assert_eq!(today["cash_total"], stats["cash_box"]["total"]);
    assert_eq!(today["cash_coins"], stats["cash_box"]["coins"]);

    // "Collected" recorded a collection exactly like `cash collect`.
    assert_eq!(seen["collected"]["cash_total"], 0);
    assert!(seen["collected"]["message"]
        .as_str()
        .unwrap()
        .contains("20"));
    let store = Store::open_in(&state).unwrap();
    let done = store.recent_cash_collections(5).unwrap();
    assert_eq!(done.len(), 1, "one press, one collection");
    assert_eq!(
        (done[0].total, done[0].coins, done[0].by.as_str()),
        (20, 3, "owner-page")
    );
    assert_eq!(store.cash_box().unwrap().total, 0);

    // Health as `status` has it.
    assert_eq!(seen["health"]["router"], "reachable");
    let pool_plans: Vec<&str> = stats["pool"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_str().unwrap())
        .collect();
    for plan in &pool_plans {
        assert!(
            seen["health"]["pool"][plan].is_number(),
            "pool {plan} shown"
        );
    }

    // The user was online, and the button ended the session on the router.
    let names: Vec<&str> = seen["users"]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(names, [code.as_str()]);
    assert_eq!(seen["users"]["disconnected"], code.as_str());
    assert_eq!(seen["users"]["online_after"], 0);
    assert!(
        sim.active().is_empty(),
        "the simulated router has no session left: {:?}",
        sim.active()
    );

    // The batch: two vouchers made as a batch, printed by the kiosk's printer.
    assert!(seen["batch"]["message"]
        .as_str()
        .unwrap()
        .starts_with("2 voucher"));
    wait_until("the batch's tickets to print", || {
        let batch: Vec<_> = store
            .recent_sales(20)
            .unwrap()
            .into_iter()
            .filter(|s| s.source == "batch")
            .collect();
        batch.len() == 2 && batch.iter().all(|s| s.state == SaleState::Delivered)
    });
    // One sheet, the way `voucher batch --print` prints: the simulated printer's
    // only ticket holds both codes.
    let codes: Vec<String> = store
        .recent_sales(20)
        .unwrap()
        .into_iter()
        .filter(|s| s.source == "batch")
        .map(|s| s.code)
        .collect();
    let printed = state.join("sim-printer");
    wait_until("the sheet's file", || {
        printed.join("ticket-0001.txt").exists()
    });
    let tickets: Vec<PathBuf> = std::fs::read_dir(&printed)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    assert_eq!(
        tickets.len(),
        1,
        "one sheet, not a ticket each: {tickets:?}"
    );
    let sheet = std::fs::read_to_string(&tickets[0]).unwrap();
    for code in &codes {
        assert!(
            sheet.contains(code.as_str()),
            "{code} on the sheet:\n{sheet}"
        );
    }
}
