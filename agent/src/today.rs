//! "Today" as the kiosk's owner means it: the calendar day in the kiosk's own time
//! zone, which the system keeps (`/etc/localtime`, set by `timedatectl set-timezone`;
//! `TZ` overrides it), not the UTC day. A Manila kiosk's day starts at 16:00 UTC.

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The kiosk's time zone as the system gives it; UTC when the system has none
/// (a board image without tzdata), which the status screen says.
pub fn system_zone() -> (TimeZone, Option<String>) {
    match TimeZone::try_system() {
        Ok(tz) => {
            let name = tz.iana_name().map(str::to_string);
            (tz, name)
        }
        Err(_) => (TimeZone::UTC, None),
    }
}

/// The start of the local day that holds `now_ms`, in ms since the epoch.
pub fn day_start_ms(now_ms: i64, tz: &TimeZone) -> i64 {
    let Ok(now) = Timestamp::from_millisecond(now_ms) else {
        return now_ms.div_euclid(86_400_000) * 86_400_000;
    };
    now.to_zoned(tz.clone())
        .start_of_day()
        .map(|z| z.timestamp().as_millisecond())
        // A day with no midnight (a DST jump at 00:00) still has a start; failing that,
        // the UTC day is the truthful fallback.
        .unwrap_or_else(|_| now_ms.div_euclid(86_400_000) * 86_400_000)
}

/// A moment as the kiosk's local date and time, `2026-12-01 07:00`.
pub fn local_text(ms: i64, tz: &TimeZone) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => t
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => format!("{ms} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manila() -> TimeZone {
        TimeZone::posix("PST-8").unwrap()
    }

    #[test]
    fn a_sale_at_seven_in_manila_belongs_to_that_days_takings() {
        // 2026-12-01 07:00 in Manila is 2026-11-30 23:00 UTC.
        let sale: i64 = "2026-11-30T23:00:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .as_millisecond();
        // 16:40 Manila the same day.
        let later: i64 = "2026-12-01T08:40:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .as_millisecond();
        let start = day_start_ms(later, &manila());
        assert!(sale >= start, "the morning sale is today's in Manila");
        let utc_start = day_start_ms(later, &TimeZone::UTC);
        assert!(sale < utc_start, "and would be missed by the UTC day");
        assert_eq!(local_text(sale, &manila()), "2026-12-01 07:00");
    }

    #[test]
    fn the_system_zone_reads_something_or_falls_back_to_utc() {
        let (tz, _name) = system_zone();
        let now = 1_764_547_200_000; // a fixed instant
        assert!(day_start_ms(now, &tz) <= now);
        assert!(now - day_start_ms(now, &tz) < 86_400_000 + 3_600_000);
    }
}
