//! The running service's local control channel: a unix socket in the state folder
//! (`/var/lib/hotspot-agent/control.sock` on the box) through which commands on the
//! same machine reach the service, which owns the printer and the kiosk devices:
//! `status` reads the devices' live state, `voucher batch --print` and `voucher
//! reprint` print on the kiosk's printer, `sim coin|press|paper` drive the simulated
//! devices of a host build.
//!
//! The protocol is one JSON object per line: the client connects, writes one
//! [`Request`], reads one [`Reply`], and the service closes the connection. Requests
//! are at most [`MAX_REQUEST`] bytes. Who may ask is decided by the socket's
//! permissions: the file is `0660`, owned by the service's user and group, inside the
//! state folder (`0750`); each connection's peer credentials are checked again
//! (root, the service's user, or a member of its group), so a socket file whose mode
//! someone loosened still answers nobody else.

mod server;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

pub use server::{bind, serve, ControlError, ControlService, MAX_SHEET};

/// The socket's file name in the state folder.
pub const SOCKET_NAME: &str = "control.sock";

/// The longest request line the service reads.
pub const MAX_REQUEST: usize = 4096;

/// The longest reply line a client reads.
const MAX_REPLY: u64 = 1 << 20;

/// Where the service listens, in `state_dir`.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_NAME)
}

/// Paper sensor states a technician can give the simulated printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PaperState {
    /// A full roll.
    In,
    /// Near the end of the roll.
    Low,
    /// No paper.
    Out,
}

/// What a client asks the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The kiosk's live state.
    Status,
    /// Create `count` vouchers of `plan` and print them as a sheet on the kiosk printer.
    PrintBatch { plan: String, count: u32 },
    /// Print the voucher `code` again, marked as a reprint.
    Reprint { code: String },
    /// Put a coin of `value` into the simulated acceptor.
    SimCoin { value: u64 },
    /// Press button `button` (1 = the first) of the simulated kiosk.
    SimPress { button: usize },
    /// Set the simulated printer's paper sensor.
    SimPaper { paper: PaperState },
}

/// The kiosk's devices as the running service sees them now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveStatus {
    /// The service's process id.
    pub pid: u32,
    /// Whether a kiosk runs (coin acceptor or printer configured).
    pub kiosk: bool,
    /// Credit on the kiosk now.
    pub credit: u64,
    /// Why the kiosk cannot sell, if it cannot.
    pub out_of_service: Option<String>,
    /// The screen shown now.
    pub screen: String,
    /// Vouchers handed over since the service started.
    pub delivered: u64,
    /// `ready`, `paper low`, `out of paper`, `offline`; `None` = no printer.
    pub printer: Option<String>,
    /// `ok` or what is wrong; `None` = no acceptor.
    pub coin: Option<String>,
    /// The acceptor's identification (ccTalk).
    pub acceptor: Option<String>,
    /// `ok` or the last error; `None` = no display.
    pub display: Option<String>,
    /// The simulated devices a technician can drive (`coin`, `printer`, `buttons`).
    pub simulated: Vec<String>,
}

/// A sheet or a reprint that went to the printer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Printed {
    /// Vouchers on paper.
    pub printed: usize,
    /// Their sale ids.
    pub sale_ids: Vec<i64>,
    /// What else the operator should know (vouchers the router did not take).
    pub note: Option<String>,
}

/// What the service answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// To [`Request::Status`].
    Status(LiveStatus),
    /// To a print request.
    Printed(Printed),
    /// Done; what happened, for the person at the terminal.
    Done { message: String },
    /// Not done, and why.
    Error { message: String },
}

/// Why a client got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens: the service is not running (or runs with another state folder).
    #[error("the service is not running: no control socket at {path} ({source}); start it with `systemctl start hotspot-agent` or `hotspot-agent run`, or give the --state-dir it uses")]
    NotRunning {
        /// The socket path tried.
        path: String,
        /// What connecting said.
        source: std::io::Error,
    },
    /// The socket refuses this user.
    #[error("no permission to use {path}: run as root or as a member of the service's group (`sudo usermod -aG hotspot-agent $USER`, then log in again)")]
    Denied {
        /// The socket path.
        path: String,
    },
    /// The exchange failed midway.
    #[error("control socket {path}: {message}")]
    Exchange {
        /// The socket path.
        path: String,
        /// What failed.
        message: String,
    },
}

/// Sends `request` to the service listening at `path` and waits for its reply, at
/// most `timeout`.
pub async fn ask(path: &Path, request: &Request, timeout: Duration) -> Result<Reply, ClientError> {
    let shown = path.display().to_string();
    let exchange = |message: String| ClientError::Exchange {
        path: shown.clone(),
        message,
    };
    let stream = match tokio::net::UnixStream::connect(path).await {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(ClientError::Denied { path: shown })
        }
        Err(e) => {
            return Err(ClientError::NotRunning {
                path: shown,
                source: e,
            })
        }
    };
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(request).map_err(|e| exchange(e.to_string()))?;
    line.push('\n');
    let talk = async {
        write.write_all(line.as_bytes()).await?;
        write.flush().await?;
        let mut reply = String::new();
        let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REPLY));
        reader.read_line(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(timeout, talk)
        .await
        .map_err(|_| exchange(format!("no answer within {timeout:?}")))?
        .map_err(|e| exchange(e.to_string()))?;
    if reply.is_empty() {
        return Err(exchange(
            "the service closed the connection without answering (see its log)".into(),
        ));
    }
    serde_json::from_str(&reply).map_err(|e| exchange(format!("unreadable reply: {e}")))
}

#[cfg(test)]
mod tests;
