//! Time, the way every layer of the agent reads it: the wall clock in Unix
//! milliseconds (stored with sales, sent in envelopes), the calendar date of a day
//! count (tickets, the simulated router's log), and the reconnect back-off
//! that the router connection, the shared router handle, the MQTT link and the
//! outbox's resend all follow. Nothing else here; the state machines take `now`
//! as an argument and never call this themselves.
#![warn(unreachable_pub)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds; 0 if the clock is before 1970 (a Pi with no RTC
/// before NTP may say 1970, never earlier, but the agent must not panic on it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Days since 1970-01-01 to the (year, month, day) of the proleptic Gregorian
/// calendar: Howard Hinnant's published `civil_from_days` algorithm (the dates
/// chrono gives).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The inverse: (year, month 1–12, day 1–31) to days since 1970-01-01 (Hinnant's
/// `days_from_civil`). The caller checks the month and day ranges.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Exponential back-off: the first failure waits `min`, each further one twice as
/// long, never more than `max`; a success starts again from `min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// A back-off from `min` up to `max` (`max` below `min` is taken as `min`).
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            next: min,
        }
    }

    /// Records a failure; returns how long to wait before the next try.
    pub fn failed(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// Records a success: the next failure waits `min` again.
    pub fn reset(&mut self) {
        self.next = self.min;
    }

    /// What the `n`-th failure in a row waits (`n` from 1), without keeping count:
    /// for callers that store the count themselves, like the outbox.
    pub fn wait_after(&self, n: u32) -> Duration {
        let doublings = n.saturating_sub(1).min(31);
        self.min
            .checked_mul(1 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_the_cap_and_a_success_starts_over() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let waits: Vec<u64> = (0..5).map(|_| b.failed().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.failed(), Duration::from_secs(1));
    }

    #[test]
    fn the_nth_wait_matches_counting_failures_one_by_one() {
        let policy = Backoff::new(Duration::from_millis(300), Duration::from_secs(10));
        let mut counted = policy;
        for n in 1..=40 {
            assert_eq!(policy.wait_after(n), counted.failed(), "failure {n}");
        }
    }

    #[test]
    fn days_from_civil_undoes_civil_from_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 12, 1), 20_788);
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn a_cap_below_the_start_is_the_start() {
        let mut b = Backoff::new(Duration::from_secs(3), Duration::from_secs(1));
        assert_eq!(
            (b.failed(), b.failed()),
            (Duration::from_secs(3), Duration::from_secs(3))
        );
    }

    #[test]
    fn the_wall_clock_is_after_2020() {
        assert!(now_ms() > 1_577_836_800_000);
    }
}
