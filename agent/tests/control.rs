//! A technician at a running service: `hotspot-agent run` with the simulated acceptor
//! and printer (and its built-in simulated router) in its own process, driven from
//! the command line through its control socket: coins and buttons, paper out, a
//! printed batch and a reprint, `status` with the devices' live state. A SIGTERM then
//! stops it without an error in its log.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::AgentConfig;

const AGENT: &str = env!("CARGO_BIN_EXE_hotspot-agent");

fn technician_config(dir: &Path) -> AgentConfig {
    AgentConfig::new("control", dir, None)
        .set("agent.site_name", "Warung WiFi")
        .set("vouchers.currency", "IDR")
        .set("plan.name", "1 jam")
        .set("plan.validity", "1d")
        .set("plan.pool", 0)
        .set("kiosk.language", "id")
        .set("kiosk.wifi_name", "Warung-WiFi")
}

struct Service {
    child: Child,
    config: PathBuf,
    log: PathBuf,
}

impl Service {
    fn cli(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(AGENT)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("HOTSPOT_CONFIG")
            .output()
            .expect("run the command line");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Runs `args` until its output contains `want`, for at most 30 s.
    fn until(&self, args: &[&str], want: &str) -> String {
        let start = Instant::now();
        loop {
            let (_, text) = self.cli(args);
            if text.contains(want) {
                return text;
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!(
                    "{args:?} never said {want:?}; last: {text}\nservice log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn ticket(dir: &Path, n: u32) -> String {
    let path = dir.join(format!("state/sim-printer/ticket-{n:04}.txt"));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(text) = std::fs::read_to_string(&path) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no {}", path.display())
}

#[test]
fn a_technician_drives_the_running_service_and_a_sigterm_logs_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    technician_config(dir.path()).write(&config);
    let log = dir.path().join("service.log");
    let child = Command::new(AGENT)
        .arg("--config")
        .arg(&config)
        .arg("run")
        .arg("--sim-clients")
        .arg("0")
        .env("RUST_LOG", "info")
        .env_remove("HOTSPOT_CONFIG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start hotspot-agent run");
    let service = Service { child, config, log };

    let said = service.until(&["sim", "coin", "5"], "credit Rp5");
    assert!(said.contains("Rp5"), "{said}");
    let (ok, said) = service.cli(&["sim", "press", "1"]);
    assert!(ok, "{said}");
    let first = ticket(dir.path(), 1);
    assert!(first.contains("Kode: "), "{first}");
    assert!(first.contains("Sambung ke WiFi Warung-WiFi"), "{first}");

    let (ok, said) = service.cli(&["sim", "paper", "out"]);
    assert!(ok, "{said}");
    let status = service.until(&["status"], "printer        out of paper");
    assert!(status.contains("service        running (pid"), "{status}");
    let (ok, said) = service.cli(&[
        "voucher", "batch", "--plan", "1h", "--count", "3", "--print",
    ]);
    assert!(!ok && said.contains("out of paper"), "{said}");

    service.cli(&["sim", "paper", "in"]);
    service.until(&["status"], "printer        ready");
    let (ok, said) = service.cli(&[
        "voucher", "batch", "--plan", "1h", "--count", "3", "--print",
    ]);
    assert!(ok && said.contains("printed 3 voucher(s)"), "{said}");
    let sheet = ticket(dir.path(), 2);
    let code = first
        .lines()
        .find_map(|l| l.strip_prefix("Kode: "))
        .unwrap()
        .to_string();
    let (ok, said) = service.cli(&["voucher", "reprint", &code]);
    assert!(ok, "{said}");
    let copy = ticket(dir.path(), 3);
    assert!(copy.contains("CETAK ULANG"), "{copy}");
    assert!(copy.contains("pertama dicetak 20"), "{copy}");
    assert!(
        sheet
            .lines()
            .filter(|l| l.len() == code.len() && l.chars().all(|c| c.is_ascii_alphanumeric()))
            .count()
            >= 3,
        "{sheet}"
    );

    let Service { mut child, log, .. } = service;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the service did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status:?}\n{text}");
    assert!(text.contains("agent stopping"), "{text}");
    for bad in [" ERROR ", "task ended", "check the cable", "task failed"] {
        assert!(
            !text.contains(bad),
            "{bad:?} in the log of a normal stop:\n{text}"
        );
    }
    assert!(
        !dir.path().join("state/control.sock").exists(),
        "the socket is removed at the end"
    );
}
