//! The ccTalk coin acceptor task: polls header 229 over any serial stream and reports coins.
//!
//! Owns the port (a `tokio_serial::SerialStream`, or a pty in tests). The ccTalk
//! spec asks hosts to poll 229 often enough that the 5-event buffer never
//! overflows; 100-200 ms is what acceptor makers recommend, and losses are still
//! detected from the counter and reported.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::cctalk::{check_reply, request, Decoder, Frame, HOST};
use super::cctalk_credit::{BufferedCredit, CreditEvent, EventTracker};
use super::{Coin, CoinError, CoinFault, CoinReport, CoinSource};

/// How the task talks to the acceptor.
#[derive(Debug, Clone)]
pub struct CctalkSettings {
    /// Device path, for errors and logs.
    pub device: String,
    /// ccTalk address of the acceptor.
    pub address: u8,
    /// Time between 229 polls.
    pub poll_interval: Duration,
    /// How long to wait for a reply.
    pub reply_timeout: Duration,
    /// Credit channel to value; channels not listed stay inhibited.
    pub channel_values: Vec<(u8, u64)>,
}

impl CctalkSettings {
    /// From `[kiosk.coin]`.
    pub fn from_config(c: &firmware_config::kiosk::CoinConfig) -> CctalkSettings {
        CctalkSettings {
            device: c.port.clone(),
            address: c.address,
            poll_interval: c.poll_interval.std(),
            reply_timeout: Duration::from_millis(200),
            channel_values: c
                .channel_values
                .iter()
                .map(|cv| (cv.channel, cv.value))
                .collect(),
        }
    }

    fn enable_mask(&self) -> u16 {
        self.channel_values
            .iter()
            .filter(|(ch, _)| (1..=16).contains(ch))
            .fold(0u16, |m, (ch, _)| m | 1 << (ch - 1))
    }
}

/// Opens a serial port at `baud` 8N1, as ccTalk uses.
pub fn open_port(path: &str, baud: u32) -> Result<tokio_serial::SerialStream, CoinError> {
    use tokio_serial::SerialPortBuilderExt;
    tokio_serial::new(path, baud)
        .timeout(Duration::from_millis(50))
        .open_native_async()
        .map_err(|e| CoinError::Io {
            device: path.to_string(),
            source: std::io::Error::other(e.to_string()),
        })
}

struct Link<P> {
    port: P,
    buf: BytesMut,
    decoder: Decoder,
    settings: CctalkSettings,
}

impl<P: AsyncRead + AsyncWrite + Unpin> Link<P> {
    /// Sends one request and waits for the reply addressed to us from the acceptor.
    /// `Ok(None)` = no (valid) reply in time.
    async fn transact(&mut self, frame: Frame) -> Result<Option<Frame>, CoinError> {
        let device = self.settings.device.clone();
        let io = |source| CoinError::Io {
            device: device.clone(),
            source,
        };
        let bytes = frame.encode().map_err(|e| io(std::io::Error::other(e)))?;
        // Stale bytes (a late reply, noise) must not be taken as this reply.
        self.buf.clear();
        self.port.write_all(&bytes).await.map_err(io)?;
        self.port.flush().await.map_err(io)?;
        let deadline = tokio::time::Instant::now() + self.settings.reply_timeout;
        loop {
            while let Some(f) = self.decoder.decode(&mut self.buf) {
                // Our own echo (one-wire bus) and frames for other devices are skipped.
                if f.dest == HOST && f.src == self.settings.address {
                    return Ok(Some(f));
                }
            }
            let mut chunk = [0u8; 64];
            match tokio::time::timeout_at(deadline, self.port.read(&mut chunk)).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) => return Err(io(std::io::ErrorKind::UnexpectedEof.into())),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => return Err(io(e)),
            }
        }
    }

    /// Sends inhibit mask and master inhibit; true when the acceptor acknowledged both.
    async fn configure(&mut self, inhibited: bool) -> Result<bool, CoinError> {
        let a = self.settings.address;
        let mask = self.settings.enable_mask();
        let r1 = self.transact(request::modify_inhibit(a, mask)).await?;
        let r2 = self
            .transact(request::modify_master_inhibit(a, !inhibited))
            .await?;
        Ok(matches!((r1, r2), (Some(x), Some(y)) if x.header == 0 && y.header == 0))
    }
}

/// Runs the acceptor until the runner goes away. Starts inhibited; the runner
/// sends `false` on `inhibit` when the kiosk can sell.
pub async fn run<P: AsyncRead + AsyncWrite + Unpin>(
    port: P,
    settings: CctalkSettings,
    inhibit: mpsc::Receiver<bool>,
    reports: mpsc::Sender<CoinReport>,
) -> Result<(), CoinError> {
    use tracing::Instrument as _;
    let span = tracing::info_span!("cctalk", device = %settings.device, address = settings.address);
    serve(port, settings, inhibit, reports)
        .instrument(span)
        .await
}

// Long on purpose: the poll loop of the ccTalk exchange; its arms follow the order of the exchange (inhibit, poll, credit), which splitting would hide.
async fn serve<P: AsyncRead + AsyncWrite + Unpin>(
    port: P,
    settings: CctalkSettings,
    mut inhibit: mpsc::Receiver<bool>,
    reports: mpsc::Sender<CoinReport>,
) -> Result<(), CoinError> {
    let mut link = Link {
        port,
        buf: BytesMut::new(),
        decoder: Decoder::default(),
        settings,
    };
    let mut tracker = EventTracker::new();
    let mut inhibited = true;
    let mut online = false;
    let mut configured = false;
    // The master inhibit still has to be set to `inhibited` after a (re)configure.
    let mut need_master = true;
    let mut misses = 0u32;
    let mut tick = tokio::time::interval(link.settings.poll_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let send = |r: CoinReport| {
        let reports = reports.clone();
        async move { reports.send(r).await.map_err(|_| CoinError::Closed) }
    };
    loop {
        tokio::select! {
            cmd = inhibit.recv() => {
                let Some(on) = cmd else { return Ok(()) };
                inhibited = on;
                // Until configured (and the event counter read), the acceptor stays
                // inhibited; `configure` applies the wanted state.
                if !configured || need_master {
                    continue;
                }
                let reply = link.transact(request::modify_master_inhibit(link.settings.address, !on)).await?;
                if reply.is_none() {
                    tracing::warn!(inhibit = on, "acceptor did not acknowledge master inhibit; will resend");
                    configured = false;
                }
            }
            _ = tick.tick() => {
                if !configured {
                    // Configure inhibited and read the event counter first, so the
                    // baseline holds no coin of ours; enable after that read.
                    configured = link.configure(true).await?;
                    if !configured {
                        misses += 1;
                        if online || misses == 3 {
                            online = false;
                            send(CoinReport::Fault(CoinFault::NoAnswer)).await?;
                        }
                        continue;
                    }
                    need_master = true;
                }
                let reply = link.transact(request::read_buffered_credit(link.settings.address)).await?;
                let Some(reply) = reply else {
                    misses += 1;
                    if misses >= 3 && online {
                        online = false;
                        send(CoinReport::Fault(CoinFault::StoppedAnswering)).await?;
                    }
                    continue;
                };
                let parsed = check_reply(&reply, 229).and_then(|_| BufferedCredit::parse(&reply));
                let credit = match parsed {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "bad 229 reply ignored");
                        continue;
                    }
                };
                misses = 0;
                if !online {
                    online = true;
                    send(CoinReport::Online).await?;
                }
                let new = tracker.update(&credit);
                if new.reset {
                    tracing::warn!("acceptor reset (event counter 0): re-sending inhibits");
                    send(CoinReport::Warning("coin acceptor was reset (event counter 0); inhibits re-sent".into())).await?;
                    configured = link.configure(true).await?;
                    need_master = true;
                }
                if let Some(fault) = new.fault {
                    tracing::error!(%fault, "event counter not counted");
                    send(CoinReport::Warning(fault.to_string())).await?;
                }
                if new.lost > 0 {
                    send(CoinReport::Warning(format!("{} coin acceptor event(s) lost between polls", new.lost))).await?;
                }
                for event in new.events {
                    match event {
                        CreditEvent::Credit { channel, .. } => {
                            match link.settings.channel_values.iter().find(|(c, _)| *c == channel) {
                                Some(&(_, value)) => {
                                    tracing::info!(channel, value, "coin");
                                    send(CoinReport::Coin(Coin { value, source: CoinSource::Channel(channel) })).await?;
                                }
                                None => {
                                    send(CoinReport::Warning(format!(
                                        "coin in channel {channel} has no value: add it to [kiosk.coin] channel_values"
                                    ))).await?;
                                }
                            }
                        }
                        // Rejected coins, slugs and the like: the acceptor returned them.
                        CreditEvent::Error { code } => tracing::debug!(code, "acceptor error event"),
                    }
                }
                if need_master && configured {
                    let ok = link.transact(request::modify_master_inhibit(link.settings.address, !inhibited)).await?;
                    need_master = ok.is_none();
                }
            }
        }
    }
}
