//! Whether the wall clock can be believed, for validity. The board has no real-time
//! clock and may boot at fake-hwclock's or 1970's time; NTP, an operator or a bad
//! server may step it by days. Validity and first logins are wall-clock times, so a
//! wrong clock would expire vouchers at once or let them run for ever.
//!
//! Pure: the caller passes the wall clock, a monotonic clock (both in ms) and whether
//! the system reports the clock synchronised (NTP), if it can tell. The judge keeps
//! a floor, the latest time it has trusted (persisted as a checkpoint across
//! restarts) plus the monotonic time since: real time is never below it.
//!
//! The clock is untrusted when it reads below the floor (booted without a real-time
//! clock), and from a step (wall and monotonic time disagreeing by more than
//! [`STEP_MS`]) until the system reports it synchronised again. While untrusted,
//! nothing expires by validity and no first login is recorded; counters, data
//! quotas and the router's own time limits go on.

/// Wall and monotonic time may drift apart by this much between two readings before
/// it counts as a step.
pub const STEP_MS: i64 = 60_000;

/// One judgement of the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockReading {
    /// The time to act on: the wall clock when trusted, else the floor.
    pub now_ms: i64,
    /// Whether validity may be judged on it.
    pub trusted: bool,
    /// Why not, for `stats`, the events and the central office.
    pub why: Option<String>,
}

/// Follows the wall clock against the monotonic one.
#[derive(Debug, Clone)]
pub struct ClockJudge {
    /// The latest trusted wall time and the monotonic time it was seen at.
    trusted_at: Option<(i64, i64)>,
    /// The previous reading (wall, monotonic).
    last: Option<(i64, i64)>,
    /// A step was seen and not yet confirmed by a synchronised clock.
    stepped: Option<String>,
}

impl ClockJudge {
    /// A judge that starts from `checkpoint_ms` (the latest trusted time of an earlier
    /// run, if any), at monotonic time `mono_ms`.
    pub fn new(checkpoint_ms: Option<i64>, mono_ms: i64) -> ClockJudge {
        ClockJudge {
            trusted_at: checkpoint_ms.map(|c| (c, mono_ms)),
            last: None,
            stepped: None,
        }
    }

    /// The latest trusted time, to persist as the next run's checkpoint.
    pub fn checkpoint(&self) -> Option<i64> {
        self.trusted_at.map(|(wall, _)| wall)
    }

    /// Judges the clock now. `synced` is the system's word on NTP, `None` if unknown.
    pub fn observe(&mut self, wall_ms: i64, mono_ms: i64, synced: Option<bool>) -> ClockReading {
        let floor = self
            .trusted_at
            .map(|(wall, mono)| wall.saturating_add(mono_ms.saturating_sub(mono)));
        if let Some((wall, mono)) = self.last.replace((wall_ms, mono_ms)) {
            let drift = wall_ms
                .saturating_sub(wall)
                .saturating_sub(mono_ms.saturating_sub(mono));
            if drift.unsigned_abs() > STEP_MS as u64 {
                self.stepped = Some(format!(
                    "the clock was stepped {} by {} s",
                    if drift > 0 { "forward" } else { "back" },
                    drift.unsigned_abs() / 1000
                ));
            }
        }
        if synced == Some(true) {
            // NTP is the authority: it clears a step and overrules the floor.
            self.stepped = None;
        }
        let why = match floor {
            Some(f) if synced != Some(true) && wall_ms < f.saturating_sub(STEP_MS) => Some(format!(
                "the clock reads {} s before a time already seen (no real-time clock, not yet synchronised?)",
                (f - wall_ms) / 1000
            )),
            _ => self.stepped.clone().map(|s| format!("{s} and is not synchronised since")),
        };
        match why {
            None => {
                self.trusted_at = Some((wall_ms, mono_ms));
                ClockReading {
                    now_ms: wall_ms,
                    trusted: true,
                    why: None,
                }
            }
            Some(why) => ClockReading {
                now_ms: floor.unwrap_or(wall_ms),
                trusted: false,
                why: Some(why),
            },
        }
    }
}

/// What the system says about NTP: systemd-timesyncd creates this file once it has
/// synchronised the clock; `None` where there is no timesyncd to ask.
pub fn system_synced() -> Option<bool> {
    let run = std::path::Path::new("/run/systemd/timesync");
    run.exists().then(|| run.join("synchronized").exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const REAL: i64 = 1_790_000_000_000; // late 2026

    #[test]
    fn a_clock_that_jumps_back_and_forward_by_days_is_never_trusted_until_synchronised() {
        // Yesterday's run trusted REAL; the board was off for an hour.
        let mut j = ClockJudge::new(Some(REAL), 0);
        // Boots at 1970: far below what was already seen.
        let r = j.observe(5_000, 1_000, Some(false));
        assert!(!r.trusted, "{r:?}");
        assert_eq!(r.now_ms, REAL + 1_000, "acts on the floor, never on 1970");
        assert!(r.why.unwrap().contains("before a time already seen"));
        // NTP sets the right time: trusted again.
        let r = j.observe(REAL + DAY / 24, 2_000, Some(true));
        assert!(r.trusted, "{r:?}");
        // Someone steps it three days ahead; the system no longer calls it synchronised.
        let r = j.observe(REAL + DAY / 24 + 3 * DAY, 3_000, Some(false));
        assert!(!r.trusted, "{r:?}");
        assert!(r.why.unwrap().contains("stepped forward by 259199 s"));
        // Back two days: still above the floor, but a step, so still untrusted.
        let r = j.observe(REAL + DAY / 24 + DAY, 4_000, None);
        assert!(!r.trusted, "{r:?}");
        // Once synchronised again the wall clock counts, and is the next checkpoint.
        let r = j.observe(REAL + DAY / 24 + 5_000, 5_000, Some(true));
        assert!(r.trusted, "{r:?}");
        assert_eq!(j.checkpoint(), Some(REAL + DAY / 24 + 5_000));
    }

    #[test]
    fn a_steady_clock_is_trusted_without_word_from_ntp() {
        let mut j = ClockJudge::new(None, 0);
        for i in 0..10 {
            let r = j.observe(REAL + i * 15_000, i * 15_000 + 7, None);
            assert!(r.trusted, "{r:?}");
            assert_eq!(r.now_ms, REAL + i * 15_000);
        }
    }
}
