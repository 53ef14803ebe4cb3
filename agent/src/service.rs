//! Running as a system service: logging (text, JSON or journald) that never writes a
//! secret, and the systemd notifications (`READY=1`, `WATCHDOG=1`) the unit expects.
//!
//! Every log line goes through [`SecretGuard`], which wraps the output layer. An event
//! whose fields hold a configured secret, or that has a field named like a secret
//! (`password`, `token`, ...), is replaced by a warning that says where it came from;
//! a span with such fields is recorded without its values. So `journalctl -u
//! hotspot-agent` can be shared with support without leaking router or broker passwords,
//! even if a future `info!` passes one by mistake.

use std::any::TypeId;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use firmware_config::Secret;
use tracing::callsite::{Callsite, Identifier};
use tracing::field::{Field, FieldSet, Value, Visit};
use tracing::metadata::Kind;
use tracing::span;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

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
        let layer = fmt::layer().with_writer(std::io::stderr).with_target(true);
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
    let guard = SecretGuard::new(output, secrets).with_filter(filter);
    tracing::subscriber::set_global_default(Registry::default().with(guard))
        .map_err(|e| ServiceError::AlreadyInitialised(e.to_string()))?;
    if let Some(reason) = fallback {
        tracing::warn!("journald is not reachable ({reason}); logging text to stderr instead");
    }
    Ok(())
}

/// Field names that hold secrets whatever their value.
const SECRET_FIELD_NAMES: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "private_key",
    "passphrase",
    "psk",
];

/// Secrets shorter than this are not searched for in values: a 2-character password
/// would blank out half the log. (Such a password is also refused by RouterOS policy
/// in practice; the field-name rule still applies.)
const MIN_SECRET_LEN: usize = 4;

fn is_secret_field(name: &str) -> bool {
    SECRET_FIELD_NAMES
        .iter()
        .any(|s| name == *s || name.ends_with(&format!("_{s}")))
}

/// A [`Layer`] wrapper that keeps secrets out of the wrapped output layer.
pub struct SecretGuard<L> {
    inner: L,
    secrets: Vec<String>,
}

impl<L> SecretGuard<L> {
    /// Wraps `inner`; `secrets` are the values to keep out of it.
    pub fn new(inner: L, secrets: &[Secret]) -> SecretGuard<L> {
        let secrets = secrets
            .iter()
            .map(|s| s.expose().to_string())
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        SecretGuard { inner, secrets }
    }

    /// The first field that is a secret, by name or by value; `None` when clean.
    fn leak(&self, record: impl FnOnce(&mut dyn Visit)) -> Option<&'static str> {
        let mut scan = Scan {
            secrets: &self.secrets,
            found: None,
            buf: String::new(),
        };
        record(&mut scan);
        scan.found
    }
}

struct Scan<'a> {
    secrets: &'a [String],
    found: Option<&'static str>,
    buf: String,
}

impl Visit for Scan<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.found.is_none()
            && (is_secret_field(field.name())
                || self.secrets.iter().any(|s| value.contains(s.as_str())))
        {
            self.found = Some(field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if self.found.is_some() {
            return;
        }
        self.buf.clear();
        // Formatting into a String cannot fail.
        let _ = write!(self.buf, "{value:?}");
        let text = std::mem::take(&mut self.buf);
        self.record_str(field, &text);
        self.buf = text;
    }
}

/// The callsite of the warning that replaces a withheld event.
struct WithheldCallsite;
static WITHHELD_CALLSITE: WithheldCallsite = WithheldCallsite;
static WITHHELD_META: Metadata<'static> = Metadata::new(
    "secret withheld",
    "hotspot_agent::service",
    Level::WARN,
    Some(file!()),
    Some(line!()),
    Some(module_path!()),
    FieldSet::new(
        &["message", "from", "field"],
        Identifier(&WITHHELD_CALLSITE),
    ),
    Kind::EVENT,
);

impl Callsite for WithheldCallsite {
    fn set_interest(&self, _interest: Interest) {}
    fn metadata(&self) -> &Metadata<'_> {
        &WITHHELD_META
    }
}

impl<S, L> Layer<S> for SecretGuard<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.inner.on_register_dispatch(subscriber)
    }
    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber)
    }
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }
    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.inner.max_level_hint()
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if self.leak(|v| attrs.record(v)).is_none() {
            return self.inner.on_new_span(attrs, id, ctx);
        }
        // Keep the span (its name and nesting matter to readers), drop every value.
        let empty = attrs.metadata().fields().value_set(&[]);
        let stripped = match attrs.parent() {
            Some(parent) => span::Attributes::child_of(parent.clone(), attrs.metadata(), &empty),
            None if attrs.is_root() => span::Attributes::new_root(attrs.metadata(), &empty),
            None => span::Attributes::new(attrs.metadata(), &empty),
        };
        self.inner.on_new_span(&stripped, id, ctx)
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if self.leak(|v| values.record(v)).is_none() {
            self.inner.on_record(id, values, ctx)
        }
    }

    fn on_follows_from(&self, span: &span::Id, follows: &span::Id, ctx: Context<'_, S>) {
        self.inner.on_follows_from(span, follows, ctx)
    }
    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(field) = self.leak(|v| event.record(v)) else {
            return self.inner.on_event(event, ctx);
        };
        let meta = event.metadata();
        let fields = WITHHELD_META.fields();
        let (Some(message), Some(from), Some(field_key)) = (
            fields.field("message"),
            fields.field("from"),
            fields.field("field"),
        ) else {
            return;
        };
        let from_text = format!(
            "{}:{}",
            meta.file().unwrap_or(meta.target()),
            meta.line().unwrap_or(0)
        );
        let text = format_args!("a log line was withheld because it contained a secret");
        let values: [(&Field, Option<&dyn Value>); 3] = [
            (&message, Some(&text as &dyn Value)),
            (&from, Some(&from_text as &dyn Value)),
            (&field_key, Some(&field as &dyn Value)),
        ];
        let value_set = fields.value_set(&values);
        let replacement = Event::new(&WITHHELD_META, &value_set);
        self.inner.on_event(&replacement, ctx)
    }

    fn on_enter(&self, id: &span::Id, ctx: Context<'_, S>) {
        self.inner.on_enter(id, ctx)
    }
    fn on_exit(&self, id: &span::Id, ctx: Context<'_, S>) {
        self.inner.on_exit(id, ctx)
    }
    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        self.inner.on_close(id, ctx)
    }
    fn on_id_change(&self, old: &span::Id, new: &span::Id, ctx: Context<'_, S>) {
        self.inner.on_id_change(old, new, ctx)
    }

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else {
            // SAFETY: forwarded unchanged; the inner layer upholds the contract.
            unsafe { self.inner.downcast_raw(id) }
        }
    }
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
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Runs `f` under a guarded text logger and returns what it wrote.
    fn logged(secrets: &[&str], json: bool, f: impl FnOnce()) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let make = move || writer.clone();
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(make)
            .with_ansi(false);
        let layer: Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync> = if json {
            Box::new(fmt.json())
        } else {
            Box::new(fmt)
        };
        let subscriber = tracing_subscriber::registry().with(SecretGuard::new(layer, &secrets));
        tracing::subscriber::with_default(subscriber, f);
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_configured_secret_in_a_message_never_reaches_the_output() {
        let text = logged(&["hunter22"], false, || {
            tracing::info!("logging in to 10.0.0.1 with password hunter22");
            tracing::info!(sale = "S-1", "sale done");
        });
        assert!(!text.contains("hunter22"), "{text}");
        assert!(
            text.contains("withheld"),
            "the reader learns a line was withheld: {text}"
        );
        assert!(
            text.contains("service.rs"),
            "and where it came from: {text}"
        );
        assert!(
            text.contains("sale done"),
            "clean lines pass untouched: {text}"
        );
    }

    #[test]
    fn a_field_named_password_is_withheld_whatever_its_value() {
        let text = logged(&[], true, || {
            tracing::warn!(router_password = "abc", "connect");
        });
        assert!(!text.contains("abc"), "{text}");
        assert!(
            text.contains("router_password"),
            "the field is named, not its value: {text}"
        );
    }

    #[test]
    fn a_secret_in_a_span_field_is_dropped_but_the_span_stays() {
        let text = logged(&["s3cr3t-key"], false, || {
            let span = tracing::info_span!("login", user = "admin", pass = "s3cr3t-key");
            let _e = span.enter();
            tracing::info!("inside");
        });
        assert!(!text.contains("s3cr3t-key"), "{text}");
        assert!(text.contains("login"), "{text}");
        assert!(text.contains("inside"), "{text}");
    }

    #[test]
    fn secret_debug_output_is_already_masked_so_it_passes() {
        let text = logged(&["hunter22"], false, || {
            let secret = Secret::new("hunter22");
            tracing::info!(auth = ?secret, "config loaded");
        });
        assert!(text.contains("config loaded"), "{text}");
        assert!(text.contains("***"), "{text}");
        assert!(!text.contains("hunter22"), "{text}");
    }

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
