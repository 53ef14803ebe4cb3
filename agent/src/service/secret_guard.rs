//! The tracing layer that keeps secrets out of every log output: an event with a
//! configured secret in a field, or with a field named like a secret, is replaced by a
//! warning naming where it came from; a span with one keeps its name but loses its values.
//! It also keeps repeated warnings calm ([`super::calm`]).

use std::any::TypeId;
use std::fmt::Write as _;

use firmware_config::Secret;
use tracing::callsite::{Callsite, Identifier};
use tracing::field::{Field, FieldSet, Value, Visit};
use tracing::metadata::Kind;
use tracing::span;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

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
    calm: Option<super::calm::Calm>,
}

impl<L> SecretGuard<L> {
    /// Wraps `inner`; `secrets` are the values to keep out of it.
    pub fn new(inner: L, secrets: &[Secret]) -> SecretGuard<L> {
        let secrets = secrets
            .iter()
            .map(|s| s.expose().to_string())
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        SecretGuard {
            inner,
            secrets,
            calm: None,
        }
    }

    /// Writes a repeated warning once a minute, with a count of those left out.
    pub fn calm(mut self) -> SecretGuard<L> {
        self.calm = Some(super::calm::Calm::default());
        self
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

/// The callsite of the line that counts repeated warnings left out.
struct LeftOutCallsite;
static LEFT_OUT_CALLSITE: LeftOutCallsite = LeftOutCallsite;
static LEFT_OUT_META: Metadata<'static> = Metadata::new(
    "warnings left out",
    "hotspot_agent::service",
    Level::WARN,
    Some(file!()),
    Some(line!()),
    Some(module_path!()),
    FieldSet::new(&["message", "left_out"], Identifier(&LEFT_OUT_CALLSITE)),
    Kind::EVENT,
);

impl Callsite for LeftOutCallsite {
    fn set_interest(&self, _interest: Interest) {}
    fn metadata(&self) -> &Metadata<'_> {
        &LEFT_OUT_META
    }
}

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
        use super::calm::Admit;
        let admit = self
            .calm
            .as_ref()
            .map_or(Admit::Write, |c| c.admit(event, std::time::Instant::now()));
        match admit {
            Admit::Skip => {}
            Admit::Write => self.on_event_unrepeated(event, ctx),
            Admit::WriteAfter(n) => {
                self.on_event_unrepeated(event, ctx.clone());
                let fields = LEFT_OUT_META.fields();
                let (Some(message), Some(count)) =
                    (fields.field("message"), fields.field("left_out"))
                else {
                    return;
                };
                let text = format_args!(
                    "the warning above came {n} more time(s) in the last minute; those were not written"
                );
                let values: [(&Field, Option<&dyn Value>); 2] = [
                    (&message, Some(&text as &dyn Value)),
                    (&count, Some(&n as &dyn Value)),
                ];
                let value_set = fields.value_set(&values);
                self.inner
                    .on_event(&Event::new(&LEFT_OUT_META, &value_set), ctx)
            }
        }
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

impl<L> SecretGuard<L> {
    /// Writes `event`, or the warning that replaces it when it holds a secret.
    fn on_event_unrepeated<S>(&self, event: &Event<'_>, ctx: Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        L: Layer<S>,
    {
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
        let subscriber =
            tracing_subscriber::registry().with(SecretGuard::new(layer, &secrets).calm());
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
            text.contains("secret_guard.rs"),
            "and where it came from: {text}"
        );
        assert!(
            text.contains("sale done"),
            "clean lines pass untouched: {text}"
        );
    }

    #[test]
    fn forty_three_identical_warnings_are_written_once() {
        let text = logged(&[], false, || {
            for id in 0..43 {
                tracing::warn!(
                    sale_id = id,
                    error = "router refused the login",
                    "voucher not made"
                );
            }
            tracing::warn!(error = "timed out", "voucher not made");
            tracing::info!("info lines are never held back");
            tracing::info!("info lines are never held back");
        });
        assert_eq!(
            text.matches("router refused the login").count(),
            1,
            "{text}"
        );
        assert_eq!(text.matches("timed out").count(), 1, "{text}");
        assert_eq!(text.matches("never held back").count(), 2, "{text}");
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
}
