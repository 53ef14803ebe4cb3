//! Pulse acceptors on GPIO: edges from a [`PulseSource`] feed the [`PulseDecoder`].
//!
//! The real source reads line events from the GPIO character device (gpio-cdev,
//! through linux-embedded-hal) on a blocking thread and uses the kernel's event
//! timestamps, so scheduling delays do not stretch or shrink pulses. The
//! simulated source (`kiosk::sim`) sends edges over a channel.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::pulse::{PulseConfig, PulseDecoder, PulseEvent};
use super::{Coin, CoinError, CoinReport, CoinSource};

/// One change of the COIN line, in logical terms (active = pulse on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// New logical level.
    pub active: bool,
    /// When it changed.
    pub at: Instant,
}

/// Where edges come from and where the inhibit goes.
pub trait PulseSource: Send + 'static {
    /// The next edge; `None` when the source is gone.
    fn next_edge(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Option<Edge>, CoinError>> + Send;
    /// Drives the acceptor's inhibit input (`true` = refuse coins).
    fn set_inhibit(&mut self, on: bool) -> Result<(), CoinError>;
}

/// Runs the decoder over a source until the runner goes away.
pub async fn run<S: PulseSource>(
    source: S,
    config: PulseConfig,
    mut inhibit: mpsc::Receiver<bool>,
    reports: mpsc::Sender<CoinReport>,
) -> Result<(), CoinError> {
    run_borrowed(source, config, &mut inhibit, reports).await
}

/// [`run`] owning its inhibit channel and handing it back, for
/// [`super::supervise::supervise`]; a pulse acceptor has no session to keep.
pub async fn run_owned<S: PulseSource>(
    source: S,
    config: PulseConfig,
    mut inhibit: mpsc::Receiver<bool>,
    reports: mpsc::Sender<CoinReport>,
    session: super::cctalk_device::Session,
) -> super::supervise::Ended {
    let result = run_borrowed(source, config, &mut inhibit, reports).await;
    (result, inhibit, session)
}

async fn run_borrowed<S: PulseSource>(
    mut source: S,
    config: PulseConfig,
    inhibit: &mut mpsc::Receiver<bool>,
    reports: mpsc::Sender<CoinReport>,
) -> Result<(), CoinError> {
    let mut decoder = PulseDecoder::new(config, Instant::now());
    source.set_inhibit(true)?;
    reports
        .send(CoinReport::Online)
        .await
        .map_err(|_| CoinError::Closed)?;
    loop {
        let deadline = decoder
            .next_deadline()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        let events = tokio::select! {
            cmd = inhibit.recv() => {
                let Some(on) = cmd else { return Ok(()) };
                source.set_inhibit(on)?;
                Vec::new()
            }
            edge = source.next_edge() => match edge? {
                Some(e) => decoder.handle_edge(e.active, e.at),
                None => return Ok(()),
            },
            _ = tokio::time::sleep_until(deadline.into()) => decoder.poll(Instant::now()).into_iter().collect(),
        };
        for report in events.into_iter().filter_map(report) {
            reports.send(report).await.map_err(|_| CoinError::Closed)?;
        }
    }
}

/// What the runner hears about a decoder event.
fn report(event: PulseEvent) -> Option<CoinReport> {
    match event {
        PulseEvent::Coin { value, pulses } => {
            tracing::info!(pulses, value, "coin");
            Some(CoinReport::Coin(Coin { value, source: CoinSource::Pulses(pulses), mark: None }))
        }
        PulseEvent::Noise { width } => {
            tracing::debug!(width_ms = width.as_millis() as u64, "noise on the coin line");
            None
        }
        PulseEvent::Rejected { pulses, reason } => Some(CoinReport::Warning(format!(
            "pulse train of {pulses} pulses not credited ({reason:?}): check the acceptor's pulse setting against [kiosk.coin] pulse_values"
        ))),
    }
}

/// The COIN line and the optional inhibit line on a GPIO character device.
pub struct GpioPulseSource {
    edges: mpsc::Receiver<Result<Edge, CoinError>>,
    inhibit: Option<linux_embedded_hal::gpio_cdev::LineHandle>,
    inhibit_level: bool,
    chip: String,
    inhibit_line: u32,
}

impl GpioPulseSource {
    /// Opens `[kiosk.coin]` gpio_chip / pulse_line / inhibit_line.
    pub fn open(c: &firmware_config::kiosk::CoinConfig) -> Result<GpioPulseSource, CoinError> {
        use linux_embedded_hal::gpio_cdev::{Chip, EventRequestFlags, EventType, LineRequestFlags};
        let err = |line: u32, e: &dyn std::fmt::Display| CoinError::Gpio {
            chip: c.gpio_chip.clone(),
            line,
            message: e.to_string(),
        };
        let mut chip = Chip::new(&c.gpio_chip).map_err(|e| err(c.pulse_line, &e))?;
        let mut flags = LineRequestFlags::INPUT;
        if c.active_low {
            flags |= LineRequestFlags::ACTIVE_LOW;
        }
        let line = chip
            .get_line(c.pulse_line)
            .map_err(|e| err(c.pulse_line, &e))?;
        let mut events = line
            .events(flags, EventRequestFlags::BOTH_EDGES, "hotspot-agent-coin")
            .map_err(|e| err(c.pulse_line, &e))?;
        let inhibit = match c.inhibit_line {
            Some(n) => {
                let l = chip.get_line(n).map_err(|e| err(n, &e))?;
                // Start refusing coins until the kiosk says it can sell.
                Some(
                    l.request(
                        LineRequestFlags::OUTPUT,
                        u8::from(c.inhibit_level),
                        "hotspot-agent-inhibit",
                    )
                    .map_err(|e| err(n, &e))?,
                )
            }
            None => None,
        };
        let (tx, rx) = mpsc::channel(64);
        let chip_name = c.gpio_chip.clone();
        let pulse_line = c.pulse_line;
        std::thread::Builder::new()
            .name("coin-gpio".into())
            .spawn(move || {
                // Kernel timestamps (CLOCK_MONOTONIC on Linux 5.7+) are mapped onto
                // Instant through the first event; only differences matter to the decoder.
                let mut anchor: Option<(u64, Instant)> = None;
                loop {
                    let item = match events.get_event() {
                        Ok(ev) => {
                            let now = Instant::now();
                            let (ns0, t0) = *anchor.get_or_insert((ev.timestamp(), now));
                            let at = t0
                                .checked_add(Duration::from_nanos(
                                    ev.timestamp().saturating_sub(ns0),
                                ))
                                .map_or(now, |t| t.min(now));
                            Ok(Edge {
                                active: matches!(ev.event_type(), EventType::RisingEdge),
                                at,
                            })
                        }
                        Err(e) => Err(CoinError::Gpio {
                            chip: chip_name.clone(),
                            line: pulse_line,
                            message: e.to_string(),
                        }),
                    };
                    let failed = item.is_err();
                    if tx.blocking_send(item).is_err() || failed {
                        return;
                    }
                }
            })
            .map_err(|e| err(c.pulse_line, &e))?;
        Ok(GpioPulseSource {
            edges: rx,
            inhibit,
            inhibit_level: c.inhibit_level,
            chip: c.gpio_chip.clone(),
            inhibit_line: c.inhibit_line.unwrap_or(0),
        })
    }
}

impl PulseSource for GpioPulseSource {
    async fn next_edge(&mut self) -> Result<Option<Edge>, CoinError> {
        self.edges.recv().await.transpose()
    }

    fn set_inhibit(&mut self, on: bool) -> Result<(), CoinError> {
        let Some(line) = &self.inhibit else {
            return Ok(());
        };
        let level = if on {
            self.inhibit_level
        } else {
            !self.inhibit_level
        };
        line.set_value(u8::from(level))
            .map_err(|e| CoinError::Gpio {
                chip: self.chip.clone(),
                line: self.inhibit_line,
                message: e.to_string(),
            })
    }
}

/// Edges sent over a channel: the simulated acceptor and tests use it.
pub struct ChannelPulseSource {
    /// Edges in.
    pub edges: mpsc::Receiver<Edge>,
    /// Inhibit states set, for tests to look at.
    pub inhibit_log: std::sync::Arc<std::sync::Mutex<Vec<bool>>>,
}

impl PulseSource for ChannelPulseSource {
    async fn next_edge(&mut self) -> Result<Option<Edge>, CoinError> {
        Ok(self.edges.recv().await)
    }

    fn set_inhibit(&mut self, on: bool) -> Result<(), CoinError> {
        if let Ok(mut log) = self.inhibit_log.lock() {
            log.push(on);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn edges_from_a_source_become_a_coin_report() {
        let (etx, erx) = mpsc::channel(16);
        let (_itx, irx) = mpsc::channel(1);
        let (rtx, mut rrx) = mpsc::channel(8);
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let source = ChannelPulseSource {
            edges: erx,
            inhibit_log: log.clone(),
        };
        let task = tokio::spawn(run(source, PulseConfig::default(), irx, rtx));
        assert_eq!(rrx.recv().await, Some(CoinReport::Online));
        let t0 = Instant::now();
        for i in 0..5u64 {
            etx.send(Edge {
                active: true,
                at: t0 + Duration::from_millis(100 * i),
            })
            .await
            .unwrap();
            etx.send(Edge {
                active: false,
                at: t0 + Duration::from_millis(100 * i + 40),
            })
            .await
            .unwrap();
        }
        let report = tokio::time::timeout(Duration::from_secs(3), rrx.recv())
            .await
            .unwrap();
        assert_eq!(
            report,
            Some(CoinReport::Coin(Coin {
                value: 5,
                source: CoinSource::Pulses(5),
                mark: None,
            }))
        );
        assert_eq!(log.lock().unwrap().first(), Some(&true), "starts inhibited");
        task.abort();
    }
}
