//! How money, time, data and dates read on tickets and screens.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How to show an amount counted in the smallest currency unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    /// ISO 4217 code, printed before the amount (thermal printers lack most currency signs).
    pub currency: String,
    /// Digits after the decimal point.
    pub decimals: u8,
}

impl Money {
    /// `PHP 5`, `EUR 1.50`.
    pub fn show(&self, amount: u64) -> String {
        if self.decimals == 0 {
            return format!("{} {}", self.currency, amount);
        }
        let scale = 10u64.pow(u32::from(self.decimals.min(6)));
        format!(
            "{} {}.{:0width$}",
            self.currency,
            amount / scale,
            amount % scale,
            width = usize::from(self.decimals.min(6))
        )
    }
}

impl Default for Money {
    fn default() -> Self {
        Money {
            currency: "PHP".into(),
            decimals: 0,
        }
    }
}

/// `1h 30m`, `2d`, `45m`: the largest two units, for customers.
pub fn time_span(d: Duration) -> String {
    let mut secs = d.as_secs();
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            parts.push(format!("{}{}", secs / size, unit));
            secs %= size;
        }
    }
    if parts.is_empty() {
        return "0m".into();
    }
    parts.truncate(2);
    parts.join(" ")
}

/// `500 MB`, `2 GB` in powers of 1024, as plans are written.
pub fn data_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size {
            let whole = bytes / size;
            let tenth = (bytes % size) * 10 / size;
            return if tenth == 0 {
                format!("{whole} {unit}")
            } else {
                format!("{whole}.{tenth} {unit}")
            };
        }
    }
    format!("{bytes} B")
}

/// `2026-11-22 11:23` in local time `offset_minutes` east of UTC.
pub fn date_time(at: SystemTime, offset_minutes: i32) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + i64::from(offset_minutes) * 60;
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let (y, m, d) = hotspot_clock::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        in_day / 3600,
        in_day % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_shows_whole_units_and_cents() {
        assert_eq!(Money::default().show(5), "PHP 5");
        let eur = Money {
            currency: "EUR".into(),
            decimals: 2,
        };
        assert_eq!(eur.show(150), "EUR 1.50");
        assert_eq!(eur.show(7), "EUR 0.07");
    }

    #[test]
    fn time_spans_keep_the_two_largest_units() {
        assert_eq!(time_span(Duration::from_secs(5400)), "1h 30m");
        assert_eq!(time_span(Duration::from_secs(2 * 86_400 + 61)), "2d 1m");
        assert_eq!(time_span(Duration::from_secs(600)), "10m");
    }

    #[test]
    fn data_sizes_use_binary_units() {
        assert_eq!(data_size(2 << 30), "2 GB");
        assert_eq!(data_size(1536 << 20), "1.5 GB");
        assert_eq!(data_size(500 << 20), "500 MB");
    }

    #[test]
    fn dates_cross_month_ends_and_leap_days() {
        // 2024-02-29 23:30 UTC = 1709249400.
        let at = UNIX_EPOCH + Duration::from_secs(1_709_249_400);
        assert_eq!(date_time(at, 0), "2024-02-29 23:30");
        assert_eq!(date_time(at, 8 * 60), "2024-03-01 07:30");
        assert_eq!(date_time(UNIX_EPOCH, -60), "1969-12-31 23:00");
    }
}
