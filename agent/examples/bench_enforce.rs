//! One enforcement pass over 5,000 active sessions: the CPU time of the policy and
//! the store work (router latency excluded: the fake router answers at once).
//! Run: `cargo run --profile bench-release --example bench_enforce`.

use std::time::{Duration, Instant};

use hotspot_agent::store::{Store, StoredPlan};
use hotspot_agent::vouchers::{Enforcer, PlanBook, Settings, Vouchers};
use routeros::testing::FakeRouter;
use routeros::{HotspotApi, UserProfile};

/// CPU time of this thread (Linux: first field of /proc/thread-self/schedstat, ns).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

#[tokio::main(flavor = "current_thread")]
// Long on purpose: a benchmark script: set up, measure, print, in one place.
async fn main() {
    const N: usize = 5000;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("bench.db")).expect("store");
    let router = FakeRouter::new();
    router
        .add_profile(&UserProfile {
            name: "kiosk".into(),
            ..Default::default()
        })
        .await
        .expect("profile");
    let plan = StoredPlan {
        id: "gb".into(),
        name: "1 GB".into(),
        price: 20,
        currency: "PHP".into(),
        time_limit_s: Some(86_400),
        data_limit_bytes: Some(1 << 30),
        validity_s: Some(2 * 86_400),
        validity_from: "first-login".into(),
        profile: "kiosk".into(),
        fair_use_profile: None,
        kiosk: true,
        pool: 0,
        source: "bench".into(),
    };
    let settings = Settings::from_config(
        &firmware_config::Config::default(),
        &firmware_config::RouterConfig::default(),
        hotspot_agent::sync::outbox::sale_payload,
    );
    let v =
        Vouchers::new(store, router.clone(), settings, PlanBook::new(vec![plan])).expect("seller");
    let batch = v.create_batch("gb", N, None).await.expect("batch");
    // Everyone online; 5 % over their data, 10 % past the 80 % alert.
    for (i, s) in batch.vouchers.iter().enumerate() {
        let id = router.log_in(&s.code, "10.0.0.2").expect("login");
        let used: u64 = match i % 20 {
            0 => 1 << 30,
            1 | 2 => (1 << 30) / 10 * 9,
            _ => 1 << 20,
        };
        router.set_session(
            &id,
            used / 4,
            used - used / 4,
            Duration::from_secs(600),
            Duration::from_secs(5),
        );
    }
    println!(
        "{N} vouchers sold, {} active sessions",
        router.sessions().len()
    );
    let e = Enforcer::new(v.clone());
    for pass in [
        "first pass (first logins, alerts, 250 cut-offs)",
        "steady pass (counters grew)",
    ] {
        let cpu = thread_cpu();
        let t = Instant::now();
        let r = e.pass_once().await.expect("pass");
        let wall = t.elapsed();
        let cpu = thread_cpu() - cpu;
        println!(
            "{pass}: policy {:.2} ms + store {:.2} ms = {:.2} ms; whole pass {:.2} ms CPU, {:.2} ms wall \
             ({} users, {} sessions, {} actions queued, {} done)",
            r.policy_us as f64 / 1e3,
            r.db_us as f64 / 1e3,
            (r.policy_us + r.db_us) as f64 / 1e3,
            cpu.as_secs_f64() * 1e3,
            wall.as_secs_f64() * 1e3,
            r.users,
            r.sessions,
            r.actions_queued,
            r.actions_done
        );
        for a in router.sessions().iter().take(N) {
            router.set_session(
                &a.id,
                a.bytes_in + 1000,
                a.bytes_out + 5000,
                a.uptime + Duration::from_secs(15),
                Duration::ZERO,
            );
        }
    }
}
