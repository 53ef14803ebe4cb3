//! The README's first command, `hotspot-agent demo --headless`, run twice in the same
//! folder: each run's router users are made on that run's simulated router. (A store
//! kept from an earlier run once sold pool vouchers whose users had vanished with
//! that run's simulator.)

use std::process::Command;

fn demo_in(dir: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hotspot-agent"))
        .args(["demo", "--headless", "--no-central", "--out"])
        .arg(dir)
        .output()
        .expect("run hotspot-agent demo");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("WARNING: SIMULATED ROUTER"),
        "the demo means to run on its simulator and says so itself"
    );
    stdout
}

#[test]
fn every_ticket_of_a_second_demo_run_is_a_user_on_its_router() {
    let dir = tempfile::tempdir().unwrap();
    for run in 1..=2 {
        let stdout = demo_in(dir.path());
        let tickets: Vec<&str> = stdout.lines().filter(|l| l.starts_with("sale ")).collect();
        assert_eq!(tickets.len(), 3, "run {run}: {stdout}");
        for t in tickets {
            assert!(t.contains("router user created"), "run {run}: {t}");
        }
    }
}
