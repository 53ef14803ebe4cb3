//! Opening the devices `[kiosk]` names, one task each: the coin acceptor (ccTalk,
//! GPIO pulses or the simulated acceptor on a pty), the printer, the display.

use std::time::Duration;

use firmware_config::kiosk::{CoinKind, DisplayKind, PrinterKind};
use firmware_config::KioskConfig;
use tokio::sync::mpsc;

use crate::coin::{CoinHandle, CoinReport};
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

pub(crate) async fn log_end<E: std::fmt::Display>(
    what: &'static str,
    fut: impl std::future::Future<Output = Result<(), E>>,
) {
    if let Err(e) = fut.await {
        tracing::error!(error = %e, "{what} task ended");
    }
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

/// The coin acceptor's task, if one is configured.
pub(crate) fn coin(
    k: &KioskConfig,
    coin_tx: mpsc::Sender<CoinReport>,
    _sim: &mut SimSlot,
) -> Result<Option<CoinHandle>, KioskError> {
    Ok(match k.coin.kind {
        CoinKind::None => None,
        CoinKind::Cctalk => {
            let port = crate::coin::cctalk_device::open_port(&k.coin.port, k.coin.baud)
                .map_err(|e| device_error("coin acceptor", &e))?;
            let (handle, rx) = CoinHandle::channel();
            let settings = crate::coin::cctalk_device::CctalkSettings::from_config(&k.coin);
            tokio::spawn(log_end(
                "coin acceptor",
                crate::coin::cctalk_device::run(port, settings, rx, coin_tx),
            ));
            Some(handle)
        }
        CoinKind::Pulse => {
            let source = crate::coin::gpio::GpioPulseSource::open(&k.coin)
                .map_err(|e| device_error("coin acceptor", &e))?;
            let (handle, rx) = CoinHandle::channel();
            let cfg = crate::coin::pulse::PulseConfig::from(&k.coin);
            tokio::spawn(log_end(
                "coin acceptor",
                crate::coin::gpio::run(source, cfg, rx, coin_tx),
            ));
            Some(handle)
        }
        #[cfg(feature = "sim")]
        CoinKind::Sim => {
            // The simulated acceptor speaks ccTalk on a pty; the real device task runs on the other end.
            let (device_end, agent_end) =
                crate::sim::pty_pair().map_err(|e| device_error("coin acceptor", &e))?;
            _sim.acceptor = Some(crate::sim::SimAcceptor::spawn(device_end, k.coin.address));
            _sim.channel_values = k
                .coin
                .channel_values
                .iter()
                .map(|c| (c.channel, c.value))
                .collect();
            let (handle, rx) = CoinHandle::channel();
            let mut settings = crate::coin::cctalk_device::CctalkSettings::from_config(&k.coin);
            settings.device = "simulated ccTalk acceptor".into();
            tokio::spawn(log_end(
                "coin acceptor",
                crate::coin::cctalk_device::run(agent_end, settings, rx, coin_tx),
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
            Some(crate::printer::device::spawn(
                agent_end,
                "simulated printer".into(),
                status_timeout,
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
    Ok(match k.display.kind {
        DisplayKind::None => None,
        DisplayKind::Png => {
            let panel = targets::PngDir::new(&k.display.png_dir, 2)
                .map_err(|e| device_error("display", &e))?;
            Some(targets::spawn(panel, errors))
        }
        DisplayKind::Framebuffer => {
            let panel = targets::Framebuffer::open(&k.display.framebuffer)
                .map_err(|e| device_error("display", &e))?;
            Some(targets::spawn(panel, errors))
        }
        DisplayKind::Ssd1306 => {
            let panel = targets::Ssd1306Panel::open(&k.display.i2c_bus, k.display.i2c_address)
                .map_err(|e| device_error("display", &e))?;
            Some(targets::spawn(panel, errors))
        }
    })
}
