//! The binary API client (TCP 8728, TLS 8729). One task owns the connection
//! ([`mux`]); [`ApiClient`] is the cloneable handle that sends it requests over a
//! bounded channel. Every command carries a unique `.tag`, so many commands are in
//! flight at once on one connection and replies are routed by tag (DOC-API "Tags").
//!
//! The connection is opened on the first call and reopened on the next call after it
//! dies, with exponential backoff between failing attempts (1 s doubling to 2 s while
//! the router is down, to 30 s while it refuses the login; a connection that completed
//! commands resets it). Commands in flight when it dies fail with `Closed`, `Fatal` or
//! `Protocol`: their outcome on the router is unknown.

mod conn;
mod mux;
#[cfg(test)]
pub(crate) mod tests;

use std::sync::Arc;
use std::time::Duration;

use firmware_config::Secret;
use tokio::sync::{mpsc, oneshot};

pub use conn::Io;

use super::error::RouterError;
use super::model::Record;
use super::tls::RouterTls;
use routeros_proto::{Command, Limits};

/// How many requests may wait for the connection task before callers wait to send.
const QUEUE: usize = 256;
/// How many streamed records may wait for a slow listener.
const STREAM_QUEUE: usize = 1024;

/// The limit on one call from the caller's side: the connection (connect + TLS +
/// login), the queue and the command's own deadline. Saturates: a configured timeout
/// of centuries means "wait", not an overflow.
fn outer_limit(timeout: Duration) -> Duration {
    timeout
        .saturating_mul(4)
        .saturating_add(Duration::from_secs(1))
}

/// When something that may take `d` from `now` is due; "never" for an absurd `d`.
pub(crate) fn due(now: tokio::time::Instant, d: Duration) -> tokio::time::Instant {
    // tokio's own "far future" is 30 years; that is never for a router command.
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// How to reach and log in to one router's binary API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Router name for errors.
    pub router: String,
    /// Host name or address.
    pub host: String,
    /// TCP port (8728, or 8729 with TLS).
    pub port: u16,
    /// TLS settings for api-ssl; `None` for plain TCP.
    pub tls: Option<RouterTls>,
    /// API user.
    pub username: String,
    /// API password.
    pub password: Secret,
    /// Time allowed to connect and log in, and for each command's complete reply.
    pub timeout: Duration,
    /// Limits on what the router may send.
    pub limits: Limits,
}

impl ApiConfig {
    /// `host:port` for messages (IPv6 in brackets).
    pub fn addr(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn bare_host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }
}

/// A completed command: the `!re` records and the attributes of `!done` (`ret`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// One record per `!re`; none after `!empty`.
    pub rows: Vec<Record>,
    /// Attributes carried by `!done`, e.g. `ret` after `add`.
    pub done: Record,
}

/// The receiving end of a stream's records.
pub(crate) type Records = mpsc::Receiver<Result<Record, RouterError>>;

pub(crate) enum Request {
    Call {
        cmd: Command,
        reply: oneshot::Sender<Result<Response, RouterError>>,
    },
    Stream {
        cmd: Command,
        reply: oneshot::Sender<Result<(String, Records), RouterError>>,
    },
    Cancel {
        tag: String,
    },
}

/// Handle to one router's binary API connection task.
#[derive(Clone)]
pub struct ApiClient {
    tx: mpsc::Sender<Request>,
    cfg: Arc<ApiConfig>,
}

impl ApiClient {
    /// Starts the connection task (it connects on the first call). Needs a tokio runtime.
    pub fn spawn(cfg: ApiConfig) -> ApiClient {
        let cfg = Arc::new(cfg);
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(mux::run(cfg.clone(), rx));
        ApiClient { tx, cfg }
    }

    /// The configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.cfg
    }

    /// Runs one command and collects its reply.
    pub async fn call(&self, cmd: Command) -> Result<Response, RouterError> {
        let command = cmd.path.clone();
        let (reply, rx) = oneshot::channel();
        // The task enforces the per-command deadline once the command is written.
        let limit = outer_limit(self.cfg.timeout);
        let outcome = tokio::time::timeout(limit, async {
            self.tx
                .send(Request::Call { cmd, reply })
                .await
                .map_err(|_| self.closed())?;
            rx.await.map_err(|_| self.closed())?
        })
        .await;
        outcome.unwrap_or_else(|_| {
            Err(RouterError::Timeout {
                router: self.cfg.router.clone(),
                command,
                after: limit,
            })
        })
    }

    /// Starts a command that streams (`listen`, `print =follow=`): records arrive on
    /// the returned [`Listener`] until it is cancelled or dropped.
    pub async fn stream(&self, cmd: Command) -> Result<Listener, RouterError> {
        let command = cmd.path.clone();
        let (reply, rx) = oneshot::channel();
        let limit = outer_limit(self.cfg.timeout);
        let started = tokio::time::timeout(limit, async {
            self.tx
                .send(Request::Stream { cmd, reply })
                .await
                .map_err(|_| self.closed())?;
            rx.await.map_err(|_| self.closed())?
        })
        .await
        .unwrap_or_else(|_| {
            Err(RouterError::Timeout {
                router: self.cfg.router.clone(),
                command,
                after: limit,
            })
        });
        let (tag, records) = started?;
        Ok(Listener {
            tag,
            records,
            tx: self.tx.clone(),
        })
    }

    fn closed(&self) -> RouterError {
        RouterError::Closed {
            router: self.cfg.router.clone(),
        }
    }
}

/// Records from a streaming command. Dropping it sends `/cancel`.
pub struct Listener {
    tag: String,
    records: mpsc::Receiver<Result<Record, RouterError>>,
    tx: mpsc::Sender<Request>,
}

impl Listener {
    /// The next record; `None` once the command ended (cancelled, `!done`, or the
    /// connection closed after an error was delivered).
    pub async fn recv(&mut self) -> Option<Result<Record, RouterError>> {
        self.records.recv().await
    }

    /// The command's tag on the connection.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Asks the router to stop the command (`/cancel =tag=`).
    pub async fn cancel(self) {
        let _ = self
            .tx
            .send(Request::Cancel {
                tag: self.tag.clone(),
            })
            .await;
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Best effort: if the queue is full the command runs until the connection ends.
        let _ = self.tx.try_send(Request::Cancel {
            tag: self.tag.clone(),
        });
    }
}
