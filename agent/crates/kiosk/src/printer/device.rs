//! The printer task: owns the serial port, checks paper, prints tickets, reports errors.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::escpos::{PaperStatus, PAPER_STATUS_REQUEST};

/// Why printing did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrinterError {
    /// The paper roll sensor says the roll is empty; nothing was sent.
    #[error("printer {0} is out of paper: load a new roll")]
    OutOfPaper(String),
    /// No answer to the status request.
    #[error(
        "printer {0} does not answer DLE EOT 4: check power, cable and [kiosk.printer] port/baud"
    )]
    NoAnswer(String),
    /// Writing to the port failed.
    #[error("printer {device}: {message}: check the cable and [kiosk.printer] port")]
    Io {
        /// Device path.
        device: String,
        /// What failed.
        message: String,
    },
    /// The printer task is gone.
    #[error("printer task stopped")]
    Closed,
}

enum Request {
    Print(Vec<u8>, oneshot::Sender<Result<PaperStatus, PrinterError>>),
    Status(oneshot::Sender<Result<PaperStatus, PrinterError>>),
}

/// Cloneable handle to the printer task.
#[derive(Clone)]
pub struct PrinterHandle {
    tx: mpsc::Sender<Request>,
}

impl PrinterHandle {
    /// Prints `bytes` if there is paper; returns the paper status after printing.
    pub async fn print(&self, bytes: Vec<u8>) -> Result<PaperStatus, PrinterError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Request::Print(bytes, tx))
            .await
            .map_err(|_| PrinterError::Closed)?;
        rx.await.map_err(|_| PrinterError::Closed)?
    }

    /// Asks the paper sensors.
    pub async fn status(&self) -> Result<PaperStatus, PrinterError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Request::Status(tx))
            .await
            .map_err(|_| PrinterError::Closed)?;
        rx.await.map_err(|_| PrinterError::Closed)?
    }
}

/// Opens a printer serial port, 8N1.
pub fn open_port(path: &str, baud: u32) -> Result<tokio_serial::SerialStream, PrinterError> {
    use tokio_serial::SerialPortBuilderExt;
    tokio_serial::new(path, baud)
        .open_native_async()
        .map_err(|e| PrinterError::Io {
            device: path.to_string(),
            message: e.to_string(),
        })
}

/// Starts the printer task on `port`; `device` names it in errors.
pub fn spawn<P>(port: P, device: String, status_timeout: Duration) -> PrinterHandle
where
    P: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(run(port, device, status_timeout, rx));
    PrinterHandle { tx }
}

async fn run<P: AsyncRead + AsyncWrite + Unpin>(
    port: P,
    device: String,
    status_timeout: Duration,
    rx: mpsc::Receiver<Request>,
) {
    use tracing::Instrument as _;
    let span = tracing::info_span!("printer", device = %device);
    serve(port, device, status_timeout, rx)
        .instrument(span)
        .await
}

async fn serve<P: AsyncRead + AsyncWrite + Unpin>(
    mut port: P,
    device: String,
    status_timeout: Duration,
    mut rx: mpsc::Receiver<Request>,
) {
    while let Some(req) = rx.recv().await {
        match req {
            Request::Status(reply) => {
                let _ = reply.send(status(&mut port, &device, status_timeout).await);
            }
            Request::Print(bytes, reply) => {
                let result = async {
                    let before = status(&mut port, &device, status_timeout).await?;
                    if before.out {
                        return Err(PrinterError::OutOfPaper(device.clone()));
                    }
                    let io = |e: std::io::Error| PrinterError::Io {
                        device: device.clone(),
                        message: e.to_string(),
                    };
                    port.write_all(&bytes).await.map_err(io)?;
                    port.flush().await.map_err(io)?;
                    // The printer answers the status request after the ticket it has buffered.
                    status(&mut port, &device, status_timeout + Duration::from_secs(5)).await
                }
                .await;
                if let Err(e) = &result {
                    tracing::warn!(error = %e, "print failed");
                }
                let _ = reply.send(result);
            }
        }
    }
}

async fn status<P: AsyncRead + AsyncWrite + Unpin>(
    port: &mut P,
    device: &str,
    timeout: Duration,
) -> Result<PaperStatus, PrinterError> {
    let io = |e: std::io::Error| PrinterError::Io {
        device: device.to_string(),
        message: e.to_string(),
    };
    port.write_all(&PAPER_STATUS_REQUEST).await.map_err(io)?;
    port.flush().await.map_err(io)?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut byte = [0u8; 1];
    loop {
        match tokio::time::timeout_at(deadline, port.read(&mut byte)).await {
            Err(_) => return Err(PrinterError::NoAnswer(device.to_string())),
            Ok(Ok(0)) => return Err(io(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(Ok(_)) => {
                // Bytes that are not a status reply (automatic status, noise) are skipped.
                if let Some(s) = PaperStatus::parse(byte[0]) {
                    return Ok(s);
                }
            }
            Ok(Err(e)) => return Err(io(e)),
        }
    }
}
