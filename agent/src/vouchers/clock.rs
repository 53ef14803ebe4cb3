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

/// Where the time of a reading comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSource {
    /// The board's wall clock, trusted.
    System,
    /// The router's uptime since a trusted reading, its own clock agreeing.
    Router,
    /// Untrusted: the latest trusted time plus the monotonic time since (or the
    /// wall clock where nothing was trusted yet).
    Floor,
}

impl ClockSource {
    /// The name the central office and `status` see.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockSource::System => "system",
            ClockSource::Router => "router",
            ClockSource::Floor => "floor",
        }
    }
}

/// One judgement of the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockReading {
    /// The time to act on: the wall clock when trusted, the router's time when it
    /// vouches for one, else the floor.
    pub now_ms: i64,
    /// Whether validity may be judged on it.
    pub trusted: bool,
    /// Why not, for `stats`, the events and the central office.
    pub why: Option<String>,
    pub source: ClockSource,
}

/// What the router says about time, read with `/system/clock` and `/system/resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterTime {
    /// Its clock in UTC (its local time less its `gmt-offset`), if it could be read.
    pub utc_ms: Option<i64>,
    /// Its uptime.
    pub uptime_ms: i64,
}

/// A trusted time and the router's uptime at that moment, kept across restarts:
/// with the router's uptime later, it measures the time elapsed since, even over
/// the board's own restarts, as long as the router has not restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterMark {
    pub wall_ms: i64,
    pub uptime_ms: i64,
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
    /// The router's uptime at a trusted time.
    router_mark: Option<RouterMark>,
}

impl ClockJudge {
    /// A judge that starts from `checkpoint_ms` (the latest trusted time of an earlier
    /// run, if any), at monotonic time `mono_ms`.
    pub fn new(checkpoint_ms: Option<i64>, mono_ms: i64) -> ClockJudge {
        ClockJudge {
            trusted_at: checkpoint_ms.map(|c| (c, mono_ms)),
            last: None,
            stepped: None,
            router_mark: None,
        }
    }

    /// The same, with the router mark of an earlier run.
    pub fn with_router_mark(mut self, mark: Option<RouterMark>) -> ClockJudge {
        self.router_mark = mark;
        self
    }

    /// The router's uptime at a trusted time, to persist.
    pub fn router_mark(&self) -> Option<RouterMark> {
        self.router_mark
    }

    /// Takes the router as a second source, after [`ClockJudge::observe`] gave
    /// `reading`. A trusted reading only marks the router's uptime at that time. An
    /// untrusted one becomes trusted (source [`ClockSource::Router`]) when the
    /// router vouches for a time: its uptime runs on from the mark (it has not
    /// restarted since), the time that gives (mark + uptime since) is not below the
    /// floor, and the router's own clock agrees with it within [`STEP_MS`]. The
    /// router is never believed alone: its clock may be as unset as ours.
    pub fn corroborate(&mut self, reading: ClockReading, router: &RouterTime) -> ClockReading {
        if reading.trusted {
            if reading.source == ClockSource::System {
                self.router_mark = Some(RouterMark {
                    wall_ms: reading.now_ms,
                    uptime_ms: router.uptime_ms,
                });
            }
            return reading;
        }
        let vouched = match self.router_mark {
            None => Err("no earlier reading of the router to measure from".to_string()),
            Some(m) if router.uptime_ms < m.uptime_ms => {
                Err("the router has restarted since the last trusted time".to_string())
            }
            Some(m) => {
                let at = m.wall_ms.saturating_add(router.uptime_ms - m.uptime_ms);
                match router.utc_ms {
                    None => Err("the router's clock could not be read".to_string()),
                    Some(utc) if utc.saturating_sub(at).unsigned_abs() > STEP_MS as u64 => {
                        Err(format!(
                            "the router's clock is {} s off its uptime since the last trusted time",
                            utc.saturating_sub(at).unsigned_abs() / 1000
                        ))
                    }
                    Some(_) if at < reading.now_ms.saturating_sub(STEP_MS) => {
                        Err("the router's time is before a time already seen".to_string())
                    }
                    Some(_) => Ok(at),
                }
            }
        };
        match vouched {
            Ok(at) => {
                let mono = self.last.map_or(0, |(_, mono)| mono);
                self.trusted_at = Some((at, mono));
                ClockReading {
                    now_ms: at,
                    trusted: true,
                    why: None,
                    source: ClockSource::Router,
                }
            }
            Err(router_says) => ClockReading {
                why: reading
                    .why
                    .map(|w| format!("{w}; the router does not vouch for a time: {router_says}")),
                ..reading
            },
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
                    source: ClockSource::System,
                }
            }
            Some(why) => ClockReading {
                now_ms: floor.unwrap_or(wall_ms),
                trusted: false,
                why: Some(why),
                source: ClockSource::Floor,
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
    fn the_routers_uptime_vouches_for_the_time_over_a_restart_when_its_clock_agrees() {
        const HOUR: i64 = 3_600_000;
        // A trusted pass marks the router's uptime (5 h) at REAL.
        let mut j = ClockJudge::new(None, 0);
        let r = j.observe(REAL, 0, None);
        let r = j.corroborate(
            r,
            &RouterTime {
                utc_ms: Some(REAL + 2_000),
                uptime_ms: 5 * HOUR,
            },
        );
        assert_eq!((r.trusted, r.source), (true, ClockSource::System));
        let mark = j.router_mark();
        assert_eq!(
            mark,
            Some(RouterMark {
                wall_ms: REAL,
                uptime_ms: 5 * HOUR
            })
        );

        // The board is off for two days and boots at 1970; the router ran on.
        let boot = || ClockJudge::new(Some(REAL), 0).with_router_mark(mark);
        let later = REAL + 2 * DAY;
        let router = RouterTime {
            utc_ms: Some(later + 5_000),
            uptime_ms: 5 * HOUR + 2 * DAY,
        };
        let mut j = boot();
        let r = j.observe(10_000, 1_000, Some(false));
        assert_eq!((r.trusted, r.source), (false, ClockSource::Floor));
        let r = j.corroborate(r, &router);
        assert_eq!(
            (r.trusted, r.source, r.now_ms),
            (true, ClockSource::Router, later)
        );
        assert_eq!(j.checkpoint(), Some(later), "the floor moves up with it");
        // The next pass a minute on, the router still vouches; the floor holds anyway.
        let r = j.observe(70_000, 61_000, Some(false));
        assert!(!r.trusted);
        assert_eq!(r.now_ms, later + 60_000);

        // A router whose clock disagrees with its own uptime (set by hand, unset,
        // or lying) vouches for nothing: nothing expires.
        let mut j = boot();
        let r = j.observe(10_000, 1_000, Some(false));
        let off = RouterTime {
            utc_ms: Some(later + 3 * DAY),
            ..router
        };
        let r = j.corroborate(r, &off);
        assert_eq!((r.trusted, r.source), (false, ClockSource::Floor));
        assert!(
            r.why.as_deref().unwrap().contains("off its uptime"),
            "{r:?}"
        );
        // A router that restarted since the mark cannot measure the gap.
        let mut j = boot();
        let r = j.observe(10_000, 1_000, Some(false));
        let restarted = RouterTime {
            utc_ms: Some(later),
            uptime_ms: HOUR,
        };
        let r = j.corroborate(r, &restarted);
        assert!(!r.trusted);
        assert!(r.why.as_deref().unwrap().contains("restarted"), "{r:?}");
        // Nor does a router read without an earlier mark, or one whose clock is unread.
        let mut j = ClockJudge::new(Some(REAL), 0);
        let r = j.observe(10_000, 1_000, Some(false));
        assert!(!j.corroborate(r, &router).trusted);
        let mut j = boot();
        let r = j.observe(10_000, 1_000, Some(false));
        assert!(
            !j.corroborate(
                r,
                &RouterTime {
                    utc_ms: None,
                    ..router
                }
            )
            .trusted
        );
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
