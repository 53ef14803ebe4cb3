//! Repeated warnings, calmly: a warning or error from the same place in the code with
//! the same message and error text (other fields, such as a sale id, may differ) is
//! written once per [`WINDOW`]; the ones in between are counted, and the first one
//! after the window is followed by a line saying how many were left out. A wrong
//! router password then gives a line a minute, not 43 lines in 30 seconds.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::{Event, Level};

/// How long a repeated warning stays quiet.
pub const WINDOW: Duration = Duration::from_secs(60);

/// What to do with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Write it.
    Write,
    /// Leave it out: the same warning was written less than a window ago.
    Skip,
    /// Write it, then say that `n` like it were left out since it was last written.
    WriteAfter(u32),
}

struct Seen {
    written: Instant,
    left_out: u32,
}

/// The warnings seen in the last window.
#[derive(Default)]
pub struct Calm {
    seen: Mutex<HashMap<u64, Seen>>,
}

/// Fields that say what went wrong; the rest (ids, codes, counts) vary between
/// repeats of the same trouble.
const WHAT_FIELDS: &[&str] = &["message", "error", "reason"];

struct Key(DefaultHasher);

impl Visit for Key {
    fn record_str(&mut self, field: &Field, value: &str) {
        if WHAT_FIELDS.contains(&field.name()) {
            field.name().hash(&mut self.0);
            value.hash(&mut self.0);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if WHAT_FIELDS.contains(&field.name()) {
            let mut text = String::new();
            let _ = write!(text, "{value:?}");
            self.record_str(field, &text);
        }
    }
}

impl Calm {
    /// Whether `event`, seen at `now`, is written. Info and below always are.
    pub fn admit(&self, event: &Event<'_>, now: Instant) -> Admit {
        let meta = event.metadata();
        if *meta.level() > Level::WARN {
            return Admit::Write;
        }
        let mut key = Key(DefaultHasher::new());
        meta.callsite().hash(&mut key.0);
        event.record(&mut key);
        self.admit_key(key.0.finish(), now)
    }

    fn admit_key(&self, key: u64, now: Instant) -> Admit {
        let Ok(mut seen) = self.seen.lock() else {
            return Admit::Write;
        };
        // Forget what has been quiet for a window, so the map stays small.
        if seen.len() > 1024 {
            seen.retain(|_, s| now.saturating_duration_since(s.written) < WINDOW);
        }
        match seen.get_mut(&key) {
            None => {
                seen.insert(
                    key,
                    Seen {
                        written: now,
                        left_out: 0,
                    },
                );
                Admit::Write
            }
            Some(s) if now.saturating_duration_since(s.written) < WINDOW => {
                s.left_out = s.left_out.saturating_add(1);
                Admit::Skip
            }
            Some(s) => {
                let n = std::mem::take(&mut s.left_out);
                s.written = now;
                if n == 0 {
                    Admit::Write
                } else {
                    Admit::WriteAfter(n)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_warning_is_written_once_a_window_and_then_says_how_many_were_left_out() {
        let calm = Calm::default();
        let t0 = Instant::now();
        assert_eq!(calm.admit_key(1, t0), Admit::Write);
        for i in 1..43 {
            assert_eq!(
                calm.admit_key(1, t0 + Duration::from_millis(700 * i)),
                Admit::Skip
            );
        }
        assert_eq!(calm.admit_key(2, t0), Admit::Write, "another warning");
        assert_eq!(calm.admit_key(1, t0 + WINDOW), Admit::WriteAfter(42));
        assert_eq!(calm.admit_key(1, t0 + WINDOW * 3), Admit::Write);
    }
}
