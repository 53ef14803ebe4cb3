//! Opening the devices `[kiosk]` names, one task each: the coin acceptor (ccTalk,
//! GPIO pulses or the simulated acceptor on a pty), the printer, the display.

use std::time::Duration;

use firmware_config::kiosk::{CoinKind, DisplayKind, PrinterKind};
use firmware_config::KioskConfig;
use tokio::sync::mpsc;

use crate::coin::{CoinHandle, CoinReport, EventMark};
use crate::display::targets::{self, DisplayHandle};
use crate::printer::device::PrinterHandle;

/// Why the kiosk could not start.
#[derive(Debug, thiserror::Error)]
pub enum KioskError {
    /// A device could not be opened.
    #[error("kiosk {device}: {message}")]
    Device {
        /// `coin acceptor`, `printer`, `display`, `buttons`.
        device: &'static str,
        /// What failed and what to check.
        message: String,
    },
    /// A simulated device was configured in a build without simulators.
    #[error("[kiosk] {key} = \"sim\" needs the host build (feature `sim`); set a real device for the box")]
    NoSimulator {
        /// The key.
        key: &'static str,
    },
}

/// Handles to simulated devices, for the demo and tests.
#[cfg(feature = "sim")]
#[derive(Clone, Default)]
pub struct SimDevices {
    /// The simulated ccTalk acceptor, when `[kiosk.coin] kind = "sim"`.
    pub acceptor: Option<super::sim::SimAcceptor>,
    /// The simulated printer, when `[kiosk.printer] kind = "sim"`.
    pub printer: Option<super::sim::SimPrinter>,
    /// Presses a button.
    pub buttons: Option<mpsc::Sender<usize>>,
    /// `[kiosk.coin] channel_values` of the simulated acceptor.
    pub channel_values: Vec<(u8, u64)>,
}

/// Where the simulated devices are recorded; nothing in a build without them.
#[cfg(feature = "sim")]
pub(crate) type SimSlot = SimDevices;
#[cfg(not(feature = "sim"))]
pub(crate) type SimSlot = NoSim;

/// The empty [`SimSlot`] of a build without simulators.
#[cfg(not(feature = "sim"))]
pub(crate) struct NoSim;

pub(crate) fn device_error(device: &'static str, e: &dyn std::fmt::Display) -> KioskError {
    KioskError::Device {
        device,
        message: e.to_string(),
    }
}

/// The coin acceptor's task, if one is configured, kept running by
/// [`supervise`](crate::coin::supervise::supervise). `resume` is the event
/// counter stored with the last credit (ccTalk).
pub(crate) fn coin(
    k: &KioskConfig,
    coin_tx: mpsc::Sender<CoinReport>,
    resume: Option<EventMark>,
    _sim: &mut SimSlot,
) -> Result<Option<CoinHandle>, KioskError> {
    use crate::coin::cctalk_device::{self, CctalkSettings};
    use crate::coin::supervise::supervise;
    let mut settings = CctalkSettings::from_config(&k.coin);
    settings.resume = resume;
    Ok(match k.coin.kind {
        CoinKind::None => None,
        CoinKind::Cctalk => {
            // Opened once here, so a wrong path stops the start with its error.
            let mut first = Some(
                cctalk_device::open_port(&k.coin.port, k.coin.baud)
                    .map_err(|e| device_error("coin acceptor", &e))?,
            );
            let (path, baud) = (k.coin.port.clone(), k.coin.baud);
            let (handle, rx) = CoinHandle::channel();
            let tx = coin_tx.clone();
            tokio::spawn(supervise(
                "coin acceptor",
                rx,
                coin_tx,
                move |rx, session| {
                    let port = first
                        .take()
                        .map_or_else(|| cctalk_device::open_port(&path, baud), Ok);
                    let (settings, tx) = (settings.clone(), tx.clone());
                    async move {
                        match port {
                            Ok(port) => {
                                cctalk_device::run_owned(port, settings, rx, tx, session).await
                            }
                            Err(e) => (Err(e), rx, session),
                        }
                    }
                },
            ));
            Some(handle)
        }
        CoinKind::Pulse => {
            let mut first = Some(
                crate::coin::gpio::GpioPulseSource::open(&k.coin)
                    .map_err(|e| device_error("coin acceptor", &e))?,
            );
            let coin = k.coin.clone();
            let (handle, rx) = CoinHandle::channel();
            let cfg = crate::coin::pulse::PulseConfig::from(&k.coin);
            let tx = coin_tx.clone();
            tokio::spawn(supervise(
                "coin acceptor",
                rx,
                coin_tx,
                move |rx, session| {
                    // The old line handle is gone by now: released, the inhibit line
                    // rests at the level the wiring gives it (see the README).
                    let source = first
                        .take()
                        .map_or_else(|| crate::coin::gpio::GpioPulseSource::open(&coin), Ok);
                    let (cfg, tx) = (cfg.clone(), tx.clone());
                    async move {
                        match source {
                            Ok(source) => {
                                crate::coin::gpio::run_owned(source, cfg, rx, tx, session).await
                            }
                            Err(e) => (Err(e), rx, session),
                        }
                    }
                },
            ));
            Some(handle)
        }
        #[cfg(feature = "sim")]
        CoinKind::Sim => {
            // The simulated acceptor speaks ccTalk on a pty; the real device task runs on the other end.
            let (device_end, agent_end) =
                crate::sim::pty_pair().map_err(|e| device_error("coin acceptor", &e))?;
            let mut spec = crate::sim::SimAcceptorSpec::new(k.coin.address);
            spec.checksum = settings.checksum;
            for c in &k.coin.channel_values {
                if let Some(slot) = spec
                    .coin_ids
                    .get_mut(usize::from(c.channel).wrapping_sub(1))
                {
                    *slot = c
                        .coin_id
                        .clone()
                        .unwrap_or_else(|| format!("PH{:03}A", c.value % 1000));
                }
            }
            _sim.acceptor = Some(crate::sim::SimAcceptor::spawn_with(device_end, spec));
            _sim.channel_values = k
                .coin
                .channel_values
                .iter()
                .map(|c| (c.channel, c.value))
                .collect();
            let (handle, rx) = CoinHandle::channel();
            settings.device = "simulated ccTalk acceptor".into();
            let mut port = Some(agent_end);
            let tx = coin_tx.clone();
            tokio::spawn(supervise(
                "coin acceptor",
                rx,
                coin_tx,
                move |rx, session| {
                    let port = port.take();
                    let (settings, tx) = (settings.clone(), tx.clone());
                    async move {
                        match port {
                            Some(port) => {
                                cctalk_device::run_owned(port, settings, rx, tx, session).await
                            }
                            None => {
                                let gone = std::io::Error::other(
                                    "the simulated acceptor's pty cannot be opened again",
                                );
                                (
                                    Err(crate::coin::CoinError::Io {
                                        device: settings.device.clone(),
                                        source: gone,
                                    }),
                                    rx,
                                    session,
                                )
                            }
                        }
                    }
                },
            ));
            Some(handle)
        }
        #[cfg(not(feature = "sim"))]
        CoinKind::Sim => {
            return Err(KioskError::NoSimulator {
                key: "kiosk.coin.kind",
            })
        }
    })
}

/// How long the simulated printer may take to answer a status request.
#[cfg(feature = "sim")]
const SIM_STATUS_TIMEOUT: Duration = Duration::from_secs(3);

/// The printer's task, if one is configured.
pub(crate) fn printer(
    k: &KioskConfig,
    _sim: &mut SimSlot,
) -> Result<Option<PrinterHandle>, KioskError> {
    let status_timeout = Duration::from_millis(500);
    Ok(match k.printer.kind {
        PrinterKind::None => None,
        PrinterKind::Escpos => {
            let port = crate::printer::device::open_port(&k.printer.port, k.printer.baud)
                .map_err(|e| device_error("printer", &e))?;
            Some(crate::printer::device::spawn(
                port,
                k.printer.port.clone(),
                status_timeout,
            ))
        }
        #[cfg(feature = "sim")]
        PrinterKind::Sim => {
            let (device_end, agent_end) =
                crate::sim::pty_pair().map_err(|e| device_error("printer", &e))?;
            _sim.printer = Some(crate::sim::SimPrinter::spawn(device_end));
            // The simulator answers from a task of this process, so a busy machine
            // delays it with the agent (a real printer answers on its own); a late
            // answer there would pass for an offline printer and lose the ticket.
            Some(crate::printer::device::spawn(
                agent_end,
                "simulated printer".into(),
                SIM_STATUS_TIMEOUT,
            ))
        }
        #[cfg(not(feature = "sim"))]
        PrinterKind::Sim => {
            return Err(KioskError::NoSimulator {
                key: "kiosk.printer.kind",
            })
        }
    })
}

/// The display's task, if one is configured.
pub(crate) fn display(
    k: &KioskConfig,
    errors: mpsc::Sender<String>,
) -> Result<Option<DisplayHandle>, KioskError> {
    let words = crate::words::words(k.language);
    Ok(match k.display.kind {
        DisplayKind::None => None,
        DisplayKind::Png => {
            let panel = targets::PngDir::new(&k.display.png_dir, 2)
                .map_err(|e| device_error("display", &e))?;
            Some(targets::spawn(panel, errors, words))
        }
        DisplayKind::Framebuffer => {
            let panel = targets::Framebuffer::open(&k.display.framebuffer)
                .map_err(|e| device_error("display", &e))?;
            Some(targets::spawn(panel, errors, words))
        }
        DisplayKind::Ssd1306 => {
            let panel = targets::Ssd1306Panel::open(&k.display.i2c_bus, k.display.i2c_address)
                .map_err(|e| device_error("display", &e))?;
            Some(targets::spawn(panel, errors, words))
        }
    })
}
