//! Third-party RouterOS clients against the simulated router: Python librouteros and
//! routeros-api over the binary API (plain, TLS, challenge login) and urllib over REST.
//! If these pass, the simulator speaks RouterOS as others understand it, not just as
//! our own client does. The scripts live in `tests/python/`.

use std::path::PathBuf;
use std::time::Duration;

use routeros_sim::{SimHandle, SimOptions, SimRouter};

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

/// The Python modules must be there: a missing module is a failure, not a skip.
async fn require_python_modules() {
    let out = tokio::process::Command::new("python3")
        .args(["-c", "import librouteros, routeros_api"])
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): install Python 3, then pip install librouteros routeros-api"));
    assert!(
        out.status.success(),
        "the third-party checks need Python modules: pip install librouteros routeros-api\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn start(version: &str) -> SimHandle {
    require_python_modules().await;
    SimRouter::start(SimOptions {
        tick: None,
        ..SimOptions::version(version)
    })
    .await
    .expect("the simulated router starts")
}

async fn run_script(name: &str, args: &[String]) {
    let path = script(name);
    let run = tokio::process::Command::new("python3")
        .arg(&path)
        .args(args)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap_or_else(|_| panic!("{name} did not finish within 60 s"))
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", path.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} {args:?} failed:\n{stdout}{stderr}"
    );
    assert!(
        stdout.contains(": ok"),
        "{name} did not report ok:\n{stdout}{stderr}"
    );
}

fn args(addr: std::net::SocketAddr, version: &str, flags: &[&str]) -> Vec<String> {
    let mut a = vec![
        addr.ip().to_string(),
        addr.port().to_string(),
        version.to_string(),
    ];
    a.extend(flags.iter().map(|f| f.to_string()));
    a
}

#[tokio::test(flavor = "multi_thread")]
async fn librouteros_logs_in_by_challenge_on_6_42() {
    let sim = start("6.42").await;
    run_script(
        "check_librouteros.py",
        &args(sim.api_addr, "6.42", &["--token"]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn librouteros_logs_in_plainly_on_6_49() {
    let sim = start("6.49").await;
    run_script("check_librouteros.py", &args(sim.api_addr, "6.49", &[])).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn librouteros_works_on_7_18_with_empty_replies() {
    let sim = start("7.18").await;
    run_script("check_librouteros.py", &args(sim.api_addr, "7.18", &[])).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn librouteros_works_over_api_ssl() {
    let sim = start("7.18").await;
    let addr = sim.api_ssl_addr.expect("api-ssl is served");
    let pin = format!(
        "--fingerprint={}",
        sim.fingerprint.as_deref().expect("a TLS fingerprint")
    );
    run_script(
        "check_librouteros.py",
        &args(addr, "7.18", &["--ssl", &pin]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn routeros_api_logs_in_by_challenge_on_6_42() {
    let sim = start("6.42").await;
    run_script(
        "check_routeros_api.py",
        &args(sim.api_addr, "6.42", &["--challenge"]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn routeros_api_works_on_6_49() {
    let sim = start("6.49").await;
    run_script("check_routeros_api.py", &args(sim.api_addr, "6.49", &[])).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn routeros_api_works_on_7_18_over_api_ssl() {
    let sim = start("7.18").await;
    run_script("check_routeros_api.py", &args(sim.api_addr, "7.18", &[])).await;
    let addr = sim.api_ssl_addr.expect("api-ssl is served");
    run_script("check_routeros_api.py", &args(addr, "7.18", &["--ssl"])).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn urllib_speaks_rest_on_7_12_and_7_18() {
    for version in ["7.12", "7.18"] {
        let sim = start(version).await;
        let addr = sim.rest_addr.expect("v7 serves REST");
        let pin = sim.fingerprint.clone().expect("a TLS fingerprint");
        run_script("check_rest.py", &args(addr, version, &[&pin])).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn v6_has_no_rest_listener() {
    let sim = start("6.49").await;
    assert!(sim.rest_addr.is_none());
    assert!(sim.listener_lines().iter().all(|l| !l.starts_with("rest=")));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fingerprint_check_in_the_scripts_catches_a_wrong_certificate() {
    let sim = start("7.18").await;
    let addr = sim.rest_addr.expect("v7 serves REST");
    let wrong = vec!["00"; 32].join(":");
    let out = tokio::process::Command::new("python3")
        .arg(script("check_rest.py"))
        .args(args(addr, "7.18", &[&wrong]))
        .output()
        .await
        .expect("python3 runs");
    assert!(!out.status.success(), "a wrong pin must fail the check");
    assert!(String::from_utf8_lossy(&out.stderr).contains("fingerprint"));
}

#[tokio::test(flavor = "multi_thread")]
async fn words_are_bytes_for_librouteros_and_routeros_api() {
    for version in ["6.49", "7.18"] {
        let sim = start(version).await;
        let addr = sim.api_addr;
        run_script(
            "check_words_are_bytes.py",
            &[addr.ip().to_string(), addr.port().to_string()],
        )
        .await;
    }
}

/// node-routeros from npm (installed into `tests/node/node_modules` on first use with
/// `npm ci`, from the committed lock file). Missing Node.js is a failure, not a skip.
async fn run_node_check(args: &[String]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node");
    if !dir.join("node_modules/node-routeros").exists() {
        let out = tokio::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .output()
            .await
            .unwrap_or_else(|e| panic!("cannot run npm ({e}): apt-get install nodejs npm"));
        assert!(
            out.status.success(),
            "npm ci in {} failed:\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let run = tokio::process::Command::new("node")
        .arg(dir.join("check_node_routeros.js"))
        .args(args)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("check_node_routeros.js finishes within 60 s")
        .unwrap_or_else(|e| panic!("cannot run node ({e}): apt-get install nodejs npm"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains(": ok"),
        "{args:?}: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn node_routeros_sees_bytes_and_the_dashboard_menus_on_6_49_7_8_and_7_18() {
    for version in ["6.49", "7.8", "7.18"] {
        let sim = start(version).await;
        run_node_check(&args(sim.api_addr, version, &[])).await;
    }
}
