//! Coin to credit committed, over ccTalk: a coin dropped into the simulated
//! acceptor (pty), read by the real ccTalk task polling header 229 every
//! `--poll` (150 ms by default), and written with its event counter by the
//! store in one durable transaction (`synchronous=FULL`), as the kiosk does.
//! Coins are dropped at random phases of the poll cycle.
//!
//! `cargo run -p hotspot-agent --features sim --example coin_latency [COINS] [--poll MS]`

use std::time::{Duration, Instant};

use hotspot_agent::store::Store;
use kiosk::coin::cctalk::Checksum;
use kiosk::coin::cctalk_device::{self, CctalkSettings};
use kiosk::coin::{CoinHandle, CoinReport};
use kiosk::sim::{pty_pair, SimAcceptor};
use tokio::sync::mpsc;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let coins: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100);
    let poll_ms: u64 = args
        .iter()
        .position(|a| a == "--poll")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let dir = tempfile::tempdir()?;
    let store = Store::open_in(dir.path())?;
    let (device_end, agent_end) = pty_pair()?;
    let acceptor = SimAcceptor::spawn(device_end, 2);
    let settings = CctalkSettings {
        device: "pty".into(),
        address: 2,
        poll_interval: Duration::from_millis(poll_ms),
        reply_timeout: Duration::from_millis(200),
        channel_values: vec![(1, 1), (2, 5), (3, 10)],
        coin_ids: vec![],
        checksum: Checksum::Simple,
        resume: None,
    };
    let (handle, inhibit) = CoinHandle::channel();
    let (tx, mut rx) = mpsc::channel(32);
    tokio::spawn(cctalk_device::run(agent_end, settings, inhibit, tx));
    handle.inhibit(false).await?;
    acceptor.wait_for(|s| s.accepting).await;
    let mut seed: u64 = 5;
    let mut took = Vec::with_capacity(coins);
    for _ in 0..coins {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        tokio::time::sleep(Duration::from_millis((seed >> 33) % poll_ms)).await;
        let t0 = Instant::now();
        acceptor.insert(2).await;
        let coin = loop {
            match rx.recv().await {
                Some(CoinReport::Coin(c)) => break c,
                Some(_) => continue,
                None => anyhow::bail!("the ccTalk task ended"),
            }
        };
        let mark = coin.mark.expect("a ccTalk coin has its counter");
        let s = store.clone();
        tokio::task::spawn_blocking(move || {
            s.add_coin(coin.value, "coin", Some((&mark.acceptor, mark.counter)), 0)
        })
        .await??;
        took.push(t0.elapsed());
    }
    took.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "coin -> credit committed over ccTalk ({coins} coins, {poll_ms} ms poll): p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        ms(percentile(&took, 0.5)),
        ms(percentile(&took, 0.9)),
        ms(percentile(&took, 1.0)),
    );
    Ok(())
}
