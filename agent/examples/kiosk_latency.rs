//! Kiosk latency benchmark: time from the end of a coin event (last pulse edge +
//! train gap, when the pulse decoder may report the coin) to the last ticket
//! byte reaching the printer, through the real pulse task, runner, state machine,
//! ESC/POS builder and printer task on a pseudo-terminal, with an in-memory
//! seller that hands out pool vouchers at once.
//!
//! `cargo run -p hotspot-agent --example kiosk_latency [RUNS] [--real-time]`
//! Default: 1000 runs with trains stamped in the past so each coin is due at
//! once; `--real-time` plays the pulses in real time (slower, ~0.4 s a run).

use std::sync::Arc;
use std::time::{Duration, Instant};

use kiosk::coin::gpio;
use kiosk::coin::pulse::PulseConfig;
use kiosk::coin::CoinHandle;
use kiosk::printer::device as printer_device;
use kiosk::runner::{spawn_runner, KioskDevices};
use kiosk::sim::seller::{MemorySeller, SellerEvent};
use kiosk::sim::{pty_pair, SimPrinter, SimPulses};
use tokio::sync::mpsc;

const CONFIG: &str = r#"
[[plan]]
id = "10m"
name = "10 minutes"
price = 1
time_limit = "10m"

[kiosk]
auto_buy = true
[kiosk.coin]
kind = "pulse"
[kiosk.display]
kind = "none"
"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
// Long on purpose: a benchmark script: set up, measure, print, in one place.
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let real_time = args.iter().any(|a| a == "--real-time");
    let runs: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1000);

    let config = firmware_config::Config::parse(CONFIG, "kiosk_latency")?;
    config.validate("kiosk_latency")?;
    let pulse = PulseConfig::from(&config.kiosk.coin);
    let gap = pulse.train_gap;

    // Printer: simulated device on one end of a pty, the real printer task on the other.
    let (device_end, agent_end) = pty_pair()?;
    let printer = SimPrinter::spawn(device_end);
    let printer_handle = printer_device::spawn(agent_end, "pty".into(), Duration::from_millis(500));

    // Coin acceptor: simulated pulses into the real pulse task.
    let (pulses, source) = SimPulses::new();
    let (coin, inhibit) = CoinHandle::channel();
    let (coin_tx, coin_reports) = mpsc::channel(32);
    tokio::spawn(gpio::run(source, pulse, inhibit, coin_tx));

    let (_buttons_tx, buttons) = mpsc::channel(1);
    let (_display_err_tx, display_errors) = mpsc::channel(1);
    let devices = KioskDevices {
        coin: Some(coin),
        coin_reports,
        printer: Some(printer_handle),
        display: None,
        buttons,
        display_errors,
    };
    let seller = Arc::new(MemorySeller::new(&config));
    let (handle, task) = spawn_runner(&config, seller.clone(), devices, None);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let width = Duration::from_millis(40);
    let mut samples = Vec::with_capacity(runs);
    for run in 0..runs {
        let due = if real_time {
            pulses.insert(1, width, Duration::from_millis(100)).await + gap
        } else {
            // The train ended exactly one gap ago: the coin is due now.
            let start = Instant::now() - gap - width;
            pulses
                .insert_at(start, 1, width, Duration::from_millis(100))
                .await
                + gap
        };
        let ticket = printer
            .next_ticket(Duration::from_secs(5))
            .await
            .ok_or_else(|| format!("run {run}: no ticket within 5 s"))?;
        samples.push(ticket.at.saturating_duration_since(due));
        // The next customer comes once this sale is delivered (voucher on screen).
        let delivered = |s: &MemorySeller| {
            s.events()
                .iter()
                .filter(|e| matches!(e, SellerEvent::Delivered { .. }))
                .count()
        };
        while delivered(&seller) <= run {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    handle.stop().await;
    task.await?;
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "kiosk latency, coin event end -> last ticket byte ({} runs, {}): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, mean {:.2} ms",
        samples.len(),
        if real_time { "real-time pulses" } else { "due-now pulses" },
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
    );
    println!(
        "target: p99 < 20 ms beyond the {} ms train gap",
        gap.as_millis()
    );
    Ok(())
}
