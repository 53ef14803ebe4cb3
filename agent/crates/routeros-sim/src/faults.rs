//! Fault injection: which command on a connection is dropped, stalled or answered
//! with `!fatal`. Pure: the API server counts commands and asks [`FaultOptions::decide`].

use std::time::{Duration, Instant};

/// Faults to inject, counted per connection over the commands sent after login
/// (the login itself is never disturbed, so clients always get in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultOptions {
    /// Every n-th command is carried out, then the connection is closed before the
    /// reply is sent (the client cannot know whether it happened).
    pub drop_every_n: Option<u64>,
    /// Every n-th command is carried out, but its reply and everything after it on
    /// that connection is held back for [`FaultOptions::stall_for`].
    pub stall_every_n: Option<u64>,
    /// How long a stall lasts (default 60 s).
    pub stall_for: Option<Duration>,
    /// After n commands, the next one gets `!fatal` and the connection is closed.
    pub fatal_after_n: Option<u64>,
    /// The `!fatal` reason (default `session terminated on request`).
    pub fatal_reason: Option<String>,
    /// Every n-th command is *not* carried out: the connection closes before the
    /// router reads it (a cable pulled while the command was on its way).
    pub drop_before_every_n: Option<u64>,
}

/// What to do with one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally.
    None,
    /// Carry it out, then close the connection without a reply.
    Drop,
    /// Close the connection without carrying it out.
    DropBefore,
    /// Carry it out; hold replies for this long.
    Stall(Duration),
    /// Do not carry it out: `!fatal` with this reason, then close.
    Fatal(String),
}

/// Default stall: longer than any sensible client timeout.
pub const DEFAULT_STALL: Duration = Duration::from_secs(60);

impl FaultOptions {
    /// The fault for the `n`-th command after login on a connection (1-based).
    pub fn decide(&self, n: u64) -> Fault {
        let every = |k: Option<u64>| k.is_some_and(|k| k > 0 && n % k == 0);
        if self.fatal_after_n.is_some_and(|k| n > k) {
            let reason = self
                .fatal_reason
                .clone()
                .unwrap_or_else(|| "session terminated on request".into());
            return Fault::Fatal(reason);
        }
        if every(self.drop_before_every_n) {
            return Fault::DropBefore;
        }
        if every(self.drop_every_n) {
            return Fault::Drop;
        }
        if every(self.stall_every_n) {
            return Fault::Stall(self.stall_for.unwrap_or(DEFAULT_STALL));
        }
        Fault::None
    }

    /// Whether any fault is configured.
    pub fn is_empty(&self) -> bool {
        self.drop_every_n.is_none()
            && self.drop_before_every_n.is_none()
            && self.stall_every_n.is_none()
            && self.fatal_after_n.is_none()
    }
}

/// Whether the router takes API and REST connections: not while its service is
/// disabled (`/ip service disable api`) nor while it boots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Gate {
    /// `/ip service disable api,api-ssl,www-ssl`.
    pub(crate) disabled: bool,
    /// Booting until then.
    pub(crate) booting_until: Option<Instant>,
}

impl Gate {
    /// Whether a connection made at `now` is served.
    pub(crate) fn open(&self, now: Instant) -> bool {
        !self.disabled && self.booting_until.is_none_or(|t| now >= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_options_means_no_faults() {
        let f = FaultOptions::default();
        assert!(f.is_empty());
        assert!((1..100).all(|n| f.decide(n) == Fault::None));
    }

    #[test]
    fn every_third_command_is_dropped() {
        let f = FaultOptions {
            drop_every_n: Some(3),
            ..Default::default()
        };
        let dropped: Vec<u64> = (1..=9).filter(|n| f.decide(*n) == Fault::Drop).collect();
        assert_eq!(dropped, [3, 6, 9]);
    }

    #[test]
    fn a_booting_or_disabled_router_takes_no_connections() {
        let now = Instant::now();
        let booting = Gate {
            booting_until: Some(now + Duration::from_secs(2)),
            ..Gate::default()
        };
        assert!(Gate::default().open(now));
        assert!(!booting.open(now));
        assert!(booting.open(now + Duration::from_secs(2)));
        let disabled = Gate {
            disabled: true,
            ..Gate::default()
        };
        assert!(!disabled.open(now + Duration::from_secs(60)));
    }

    #[test]
    fn a_drop_before_the_command_wins_over_one_after_it() {
        let f = FaultOptions {
            drop_every_n: Some(2),
            drop_before_every_n: Some(4),
            ..Default::default()
        };
        let seen: Vec<Fault> = (1..=4).map(|n| f.decide(n)).collect();
        assert_eq!(
            seen,
            [Fault::None, Fault::Drop, Fault::None, Fault::DropBefore]
        );
    }

    #[test]
    fn stalls_use_the_configured_length() {
        let f = FaultOptions {
            stall_every_n: Some(2),
            stall_for: Some(Duration::from_millis(300)),
            ..Default::default()
        };
        assert_eq!(f.decide(1), Fault::None);
        assert_eq!(f.decide(2), Fault::Stall(Duration::from_millis(300)));
    }

    #[test]
    fn fatal_comes_after_n_commands_and_wins() {
        let f = FaultOptions {
            fatal_after_n: Some(2),
            drop_every_n: Some(3),
            ..Default::default()
        };
        assert_eq!(f.decide(2), Fault::None);
        assert_eq!(
            f.decide(3),
            Fault::Fatal("session terminated on request".into())
        );
    }
}
