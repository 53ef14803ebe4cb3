//! Sale latency from "buy" to Provisioned, p50/p99 over 1,000 sales, from the pool
//! and on demand, against the in-memory fake router with 2 ms per router call; and
//! a 500-voucher batch against a one-add-after-another baseline.
//! Run: `cargo run --profile bench-release --example bench_sales [-- --latency-ms 2] [--memory] [--sim]`.
//! `--sim` runs the sales against the simulated RouterOS through the real client.
//! The store is a real file (WAL, synchronous=FULL for sales) in a temporary folder;
//! `--memory` uses an in-memory store to show the cost without the disk's fsyncs.

use std::time::{Duration, Instant};

use hotspot_agent::store::{Store, StoredPlan};
use hotspot_agent::vouchers::{PlanBook, Pool, Settings, Vouchers};
use routeros::testing::FakeRouter;
use routeros::{HotspotApi, NewUser, UserProfile};

fn plan(id: &str, pool: u32) -> StoredPlan {
    StoredPlan {
        id: id.into(),
        name: id.into(),
        price: 5,
        currency: "PHP".into(),
        time_limit_s: Some(3600),
        data_limit_bytes: None,
        validity_s: Some(86_400),
        validity_from: "first-login".into(),
        profile: "kiosk".into(),
        fair_use_profile: None,
        kiosk: true,
        pool,
        source: "bench".into(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(what: &str, mut d: Vec<Duration>) {
    d.sort();
    println!(
        "{what:<28} n={:<5} p50={:>8.3} ms  p99={:>8.3} ms  max={:>8.3} ms",
        d.len(),
        percentile(&d, 0.50).as_secs_f64() * 1e3,
        percentile(&d, 0.99).as_secs_f64() * 1e3,
        d.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
}

/// Pool refill, then 1,000 sales from the pool and 1,000 on demand.
async fn sale_latencies<R: HotspotApi + Clone + 'static>(v: &Vouchers<R>) {
    let t = Instant::now();
    let levels = Pool::new(v.clone()).refill_once().await.expect("refill");
    println!(
        "pool refill: {} vouchers in {:.2} s",
        levels[0].created,
        t.elapsed().as_secs_f64()
    );

    let mut pool = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let t = Instant::now();
        let s = v.sell("pooled", None).await.expect("pool sale");
        pool.push(t.elapsed());
        assert!(s.from_pool);
    }
    report("sale from the pool", pool);

    let mut demand = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let t = Instant::now();
        let s = v.sell("ondemand", None).await.expect("sale");
        demand.push(t.elapsed());
        assert!(!s.from_pool);
    }
    report("sale on demand", demand);
}

/// The same sales against the simulated RouterOS (binary API, real client, link
/// delay `latency`), and a 500-voucher batch.
async fn against_simulator(latency: Duration, memory: bool) {
    use routeros::RouterSettings;
    use routeros::SharedRouter;
    use routeros_sim::{SimOptions, SimRouter};
    let sim = SimRouter::start(SimOptions {
        latency,
        ..SimOptions::version("7.18")
    })
    .await
    .expect("simulator");
    let rc = firmware_config::RouterConfig {
        name: "sim".into(),
        transport: firmware_config::Transport::Api,
        ..hotspot_agent::simulated::router_config(&sim, &firmware_config::RouterConfig::default())
    };
    let router = SharedRouter::new(RouterSettings::from_config(&rc, 0).expect("settings"));
    router
        .add_profile(&UserProfile {
            name: "kiosk".into(),
            ..Default::default()
        })
        .await
        .expect("profile");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = if memory {
        Store::open_in_memory().expect("store")
    } else {
        Store::open(&dir.path().join("bench.db")).expect("store")
    };
    let config = firmware_config::Config::default();
    let v = Vouchers::new(
        store,
        router,
        Settings::from_config(
            &config,
            &firmware_config::RouterConfig::default(),
            hotspot_agent::sync::outbox::sale_payload,
        ),
        PlanBook::new(vec![plan("pooled", 1000), plan("ondemand", 0)]),
    )
    .expect("seller");
    println!(
        "simulated RouterOS 7.18 over the binary API, link delay {} ms; store {}",
        latency.as_millis(),
        v.store().path().display()
    );
    sale_latencies(&v).await;
    let t = Instant::now();
    let batch = v.create_batch("ondemand", 500, None).await.expect("batch");
    assert_eq!(batch.vouchers.len(), 500);
    println!(
        "batch of 500 (128 in flight): {:.3} s; baseline: tests/bench/router.sh (librouteros, one round trip per user)",
        t.elapsed().as_secs_f64()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
// Long on purpose: a benchmark script: set up, measure, print, in one place.
async fn main() {
    let latency_ms: u64 = std::env::args()
        .skip_while(|a| a != "--latency-ms")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let latency = Duration::from_millis(latency_ms);
    if std::env::args().any(|a| a == "--sim") {
        against_simulator(latency, std::env::args().any(|a| a == "--memory")).await;
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store = if std::env::args().any(|a| a == "--memory") {
        Store::open_in_memory().expect("store")
    } else {
        Store::open(&dir.path().join("bench.db")).expect("store")
    };
    let router = FakeRouter::new();
    router
        .add_profile(&UserProfile {
            name: "kiosk".into(),
            ..Default::default()
        })
        .await
        .expect("profile");
    let config = firmware_config::Config::default();
    let settings = Settings::from_config(
        &config,
        &firmware_config::RouterConfig::default(),
        hotspot_agent::sync::outbox::sale_payload,
    );
    let v = Vouchers::new(
        store,
        router.clone(),
        settings,
        PlanBook::new(vec![plan("pooled", 1000), plan("ondemand", 0)]),
    )
    .expect("seller");
    router.set_delay(latency);
    println!(
        "fake router latency {latency_ms} ms per call; store {}",
        v.store().path().display()
    );

    sale_latencies(&v).await;

    let mut wide = Settings::from_config(
        &config,
        &firmware_config::RouterConfig::default(),
        hotspot_agent::sync::outbox::sale_payload,
    );
    wide.concurrency = 64;
    let v64 = Vouchers::new(v.store().clone(), router.clone(), wide, v.plans()).expect("seller");
    let t = Instant::now();
    let batch = v64
        .create_batch("ondemand", 500, None)
        .await
        .expect("batch");
    let batch64_time = t.elapsed();
    assert_eq!(batch.vouchers.len(), 500);
    let t = Instant::now();
    let batch = v.create_batch("ondemand", 500, None).await.expect("batch");
    let batch_time = t.elapsed();
    assert_eq!(batch.vouchers.len(), 500);
    // Baseline: one add after another, waiting for each reply (as Mikhmon does).
    let t = Instant::now();
    for i in 0..500 {
        router
            .add_user(&NewUser {
                name: format!("SEQ{i:04}"),
                password: format!("SEQ{i:04}"),
                profile: "kiosk".into(),
                ..NewUser::default()
            })
            .await
            .expect("add");
    }
    let seq_time = t.elapsed();
    println!(
        "batch of 500: {:.3} s with 32 in flight ({:.1}x), {:.3} s with 64 ({:.1}x); sequential baseline {:.3} s",
        batch_time.as_secs_f64(),
        seq_time.as_secs_f64() / batch_time.as_secs_f64(),
        batch64_time.as_secs_f64(),
        seq_time.as_secs_f64() / batch64_time.as_secs_f64(),
        seq_time.as_secs_f64(),
    );
}
