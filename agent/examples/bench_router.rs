//! Router client benchmark: add users with many commands in flight on one API
//! connection, then list every user, against a router given on the command line
//! (the simulator with `--latency 2ms` in `tests/bench/router.sh`).
//!
//! usage: bench_router HOST PORT ADD_COUNT PREFIX [FILL_TO]
//! Prints `add_s=… list_s=… listed=… cpu_s=…` like the librouteros baseline, where
//! cpu_s is this process's CPU time (all threads) spent listing.

use std::time::{Duration, Instant};

use firmware_config::{RouterConfig, Transport};
use routeros::{model::path, Router, RouterSettings};

/// CPU time of every thread of this process, from /proc (nanosecond resolution).
fn process_cpu() -> Duration {
    let mut total = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) {
                total += text
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(total)
}

async fn add_many(router: &Router, prefix: &str, from: usize, to: usize) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in from..to {
        let router = router.clone();
        let attrs = vec![
            ("name".to_string(), format!("{prefix}{i:05}")),
            ("password".to_string(), "x".to_string()),
            ("profile".to_string(), "default".to_string()),
            ("comment".to_string(), "bench".to_string()),
        ];
        tasks.spawn(async move { router.add(path::USER, &attrs).await });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        anyhow::bail!("usage: bench_router HOST PORT ADD_COUNT PREFIX [FILL_TO]");
    }
    let count: usize = args[3].parse()?;
    let prefix = &args[4];
    let fill_to: usize = args.get(5).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let config = RouterConfig {
        name: "bench".into(),
        host: args[1].clone(),
        api_port: Some(args[2].parse()?),
        transport: Transport::Api,
        timeout: firmware_config::Duration::from_secs(30),
        ..RouterConfig::default()
    };
    let router = Router::connect(RouterSettings::from_config(&config, 0)?).await?;

    let start = Instant::now();
    add_many(&router, prefix, 0, count).await?;
    let add_s = start.elapsed().as_secs_f64();

    if fill_to > 0 {
        // Top the router up to FILL_TO users so both clients list the same table.
        let have = router.print(path::USER, &[], Some(".id")).await?.len();
        if have < fill_to {
            add_many(&router, &format!("{prefix}fill"), 0, fill_to - have).await?;
        }
    }

    let cpu0 = process_cpu();
    let start = Instant::now();
    let listed = router
        .print(path::USER, &[], Some(".id,name,bytes-in,bytes-out"))
        .await?
        .len();
    let list_s = start.elapsed().as_secs_f64();
    let cpu_s = (process_cpu() - cpu0).as_secs_f64();
    // Every active session ended at once, each `remove` in flight (what an operator's
    // "disconnect all" or an enforcement pass over expired vouchers does).
    let start = Instant::now();
    let sessions = router.print(path::ACTIVE, &[], Some(".id")).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for s in &sessions {
        let (router, id) = (
            router.clone(),
            s.get(".id").map(|w| w.to_string()).unwrap_or_default(),
        );
        tasks.spawn(async move { router.remove(path::ACTIVE, &id).await });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let disconnect_s = start.elapsed().as_secs_f64();
    println!(
        "add_s={add_s:.4} list_s={list_s:.4} listed={listed} cpu_s={cpu_s:.4} disconnect_s={disconnect_s:.4} disconnected={}",
        sessions.len()
    );
    Ok(())
}
