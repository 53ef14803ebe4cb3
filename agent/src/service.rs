//! Running as a system service: logging (text, JSON or journald) that never writes a
//! secret, and the systemd notifications (`READY=1`, `WATCHDOG=1`) the unit expects.
//!
//! Every log line goes through [`SecretGuard`], which wraps the output layer. An event
//! whose fields hold a configured secret, or that has a field named like a secret
//! (`password`, `token`, ...), is replaced by a warning that says where it came from;
//! a span with such fields is recorded without its values. So `journalctl -u
//! hotspot-agent` can be shared with support without leaking router or broker passwords,
//! even if a future `info!` passes one by mistake.

pub mod calm;
mod secret_guard;

use std::time::{Duration, Instant};

use firmware_config::Secret;
use tracing_subscriber::layer::Layer;

pub use secret_guard::SecretGuard;

/// Why logging or a systemd notification could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// `[agent] log_format` holds something else.
    #[error("unknown log format {0:?}: use text, json or journald in [agent] log_format")]
    UnknownLogFormat(String),
    /// A global logger was already installed (logging initialised twice).
    #[error("logging was already initialised: {0}")]
    AlreadyInitialised(String),
    /// The notification socket named by `$NOTIFY_SOCKET` refused the message.
    #[error("cannot notify systemd through $NOTIFY_SOCKET: {0}; check the unit's NotifyAccess")]
    Notify(std::io::Error),
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines on stderr (systemd puts stderr in the journal too).
    Text,
    /// One JSON object per line on stderr, for log shippers.
    Json,
    /// Native journald fields (`journalctl -o verbose` shows `SALE_ID=...`).
    Journald,
}

impl LogFormat {
    /// Parses `text`, `json` or `journald` (the values `[agent] log_format` allows).
    pub fn parse(text: &str) -> Result<LogFormat, ServiceError> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            "journald" => Ok(LogFormat::Journald),
            other => Err(ServiceError::UnknownLogFormat(other.to_string())),
        }
    }
}

/// Installs the global logger. `RUST_LOG` filters as usual (default `info`);
/// `secrets` are the values never to print (from `Config::secrets`).
///
/// With `journald` and no journal socket (a container, a laptop) it falls back to
/// text on stderr and says so in the first line.
pub fn init_logging(format: LogFormat, secrets: &[Secret]) -> Result<(), ServiceError> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::{fmt, EnvFilter, Registry};

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Under systemd the journal stamps each line; a second timestamp is noise.
    let under_journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let text = || -> Box<dyn Layer<Registry> + Send + Sync> {
        // Colour only for a person at a terminal: escapes in a log file or the journal
        // are noise.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let layer = fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(true)
            .with_ansi(ansi);
        if under_journal {
            Box::new(layer.without_time())
        } else {
            Box::new(layer)
        }
    };
    let mut fallback = None;
    let output: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => text(),
        LogFormat::Json => Box::new(
            fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_writer(std::io::stderr),
        ),
        LogFormat::Journald => match tracing_journald::layer() {
            Ok(layer) => Box::new(layer.with_syslog_identifier("hotspot-agent".into())),
            Err(e) => {
                fallback = Some(e.to_string());
                text()
            }
        },
    };
    let guard = SecretGuard::new(output, secrets).calm().with_filter(filter);
    tracing::subscriber::set_global_default(Registry::default().with(guard))
        .map_err(|e| ServiceError::AlreadyInitialised(e.to_string()))?;
    if let Some(reason) = fallback {
        tracing::warn!("journald is not reachable ({reason}); logging text to stderr instead");
    }
    Ok(())
}

/// Tells systemd the agent is ready (`Type=notify`): call once the store is open and
/// the first router call has answered. A no-op outside systemd.
pub fn notify_ready() -> Result<(), ServiceError> {
    sd_notify::notify(&[sd_notify::NotifyState::Ready]).map_err(ServiceError::Notify)
}

/// Sets the one-line status `systemctl status hotspot-agent` shows.
pub fn notify_status(status: &str) -> Result<(), ServiceError> {
    sd_notify::notify(&[sd_notify::NotifyState::Status(status)]).map_err(ServiceError::Notify)
}

/// Tells systemd the agent is shutting down on purpose.
pub fn notify_stopping() -> Result<(), ServiceError> {
    sd_notify::notify(&[sd_notify::NotifyState::Stopping]).map_err(ServiceError::Notify)
}

/// Pets the watchdog (`WATCHDOG=1`). Call it from the main loop, not from a timer
/// task of its own, so a stuck loop gets the service restarted.
pub fn watchdog_ping() -> Result<(), ServiceError> {
    sd_notify::notify(&[sd_notify::NotifyState::Watchdog]).map_err(ServiceError::Notify)
}

/// How often to ping: half of `$WATCHDOG_USEC` (what sd_watchdog_enabled(3)
/// recommends), or `None` when the unit has no `WatchdogSec=` or the variable is
/// meant for another process (`$WATCHDOG_PID`).
pub fn watchdog_interval() -> Option<Duration> {
    watchdog_interval_from(
        std::env::var("WATCHDOG_USEC").ok().as_deref(),
        std::env::var("WATCHDOG_PID").ok().as_deref(),
        std::process::id(),
    )
}

/// [`watchdog_interval`] on given values, for tests.
pub fn watchdog_interval_from(
    usec: Option<&str>,
    pid: Option<&str>,
    my_pid: u32,
) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|u| *u > 0)?;
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok() != Some(my_pid) {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2))
}

/// The main loop's watchdog: `ping_if_due(now)` on every turn of the loop.
#[derive(Debug, Clone)]
pub struct Watchdog {
    interval: Option<Duration>,
    last: Option<Instant>,
}

impl Watchdog {
    /// From the environment systemd sets; inactive outside systemd.
    pub fn from_env() -> Watchdog {
        Watchdog::with_interval(watchdog_interval())
    }

    /// With a given interval (`None` = never ping).
    pub fn with_interval(interval: Option<Duration>) -> Watchdog {
        Watchdog {
            interval,
            last: None,
        }
    }

    /// The interval the main loop must turn at least once in; `None` when inactive.
    pub fn interval(&self) -> Option<Duration> {
        self.interval
    }

    /// Whether a ping is due at `now`; records it as sent when it is.
    pub fn due(&mut self, now: Instant) -> bool {
        let Some(interval) = self.interval else {
            return false;
        };
        match self.last {
            Some(last) if now.saturating_duration_since(last) < interval => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }

    /// Pings systemd when due. Errors are returned so the caller can log them once.
    pub fn ping_if_due(&mut self, now: Instant) -> Result<(), ServiceError> {
        if self.due(now) {
            watchdog_ping()
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_format_names_match_the_config_values() {
        assert_eq!(LogFormat::parse("journald").unwrap(), LogFormat::Journald);
        let err = LogFormat::parse("xml").unwrap_err().to_string();
        assert!(err.contains("[agent] log_format"), "{err}");
    }

    #[test]
    fn watchdog_interval_is_half_of_watchdog_usec_for_this_process() {
        // WatchdogSec=30s gives WATCHDOG_USEC=30000000.
        assert_eq!(
            watchdog_interval_from(Some("30000000"), None, 7),
            Some(Duration::from_secs(15))
        );
        assert_eq!(
            watchdog_interval_from(Some("30000000"), Some("7"), 7),
            Some(Duration::from_secs(15))
        );
        assert_eq!(
            watchdog_interval_from(Some("30000000"), Some("8"), 7),
            None,
            "meant for another pid"
        );
        assert_eq!(watchdog_interval_from(None, None, 7), None);
        assert_eq!(watchdog_interval_from(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval_from(Some("ten"), None, 7), None);
    }

    #[test]
    fn watchdog_is_due_once_per_interval() {
        let start = Instant::now();
        let mut dog = Watchdog::with_interval(Some(Duration::from_secs(10)));
        assert!(dog.due(start), "the first turn pings");
        assert!(!dog.due(start + Duration::from_secs(9)));
        assert!(dog.due(start + Duration::from_secs(10)));
        assert!(!dog.due(start + Duration::from_secs(11)));
        let mut off = Watchdog::with_interval(None);
        assert!(!off.due(start), "no WatchdogSec, no pings");
    }

    #[test]
    fn ready_and_watchdog_reach_the_notify_socket() {
        use std::os::unix::net::UnixDatagram;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        // The only test that sets NOTIFY_SOCKET; others never read it.
        std::env::set_var("NOTIFY_SOCKET", &path);
        notify_ready().unwrap();
        watchdog_ping().unwrap();
        std::env::remove_var("NOTIFY_SOCKET");
        let mut buf = [0u8; 64];
        let n = sock.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");
        let n = sock.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1\n");
    }
}
