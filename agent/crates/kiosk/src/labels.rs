//! How money, time, data and dates read on tickets and screens: prices as people
//! write them (`₱5`, `Rp2.000`, `$1.50`), spans in the customer's words
//! (`1 hour`, `1 araw`, `2 jam`), dates in the kiosk's own time zone.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::tz::TimeZone;

use crate::words::Words;

/// How to show an amount counted in the smallest currency unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    /// ISO 4217 code (`[vouchers] currency`).
    pub currency: String,
    /// Digits after the decimal point (`[vouchers] currency_decimals`).
    pub decimals: u8,
}

/// How a currency is written where it is used: its sign, whether the sign goes
/// after the number, and the thousands and decimal separators.
struct Notation {
    sign: &'static str,
    after: bool,
    thousands: char,
    decimal: char,
}

/// The common notation of each currency in its own country (the sign as shops and
/// price tags show it; Indonesia and most of the euro area group with `.`).
fn notation(code: &str) -> Option<Notation> {
    let n = |sign, after, thousands, decimal| Notation {
        sign,
        after,
        thousands,
        decimal,
    };
    Some(match code {
        "PHP" => n("\u{20b1}", false, ',', '.'),
        "IDR" => n("Rp", false, '.', ','),
        "USD" => n("$", false, ',', '.'),
        "MYR" => n("RM", false, ',', '.'),
        "SGD" => n("S$", false, ',', '.'),
        "THB" => n("\u{e3f}", false, ',', '.'),
        "VND" => n("\u{20ab}", true, '.', ','),
        "INR" => n("\u{20b9}", false, ',', '.'),
        "GBP" => n("\u{a3}", false, ',', '.'),
        "EUR" => n("\u{20ac}", false, '.', ','),
        _ => return None,
    })
}

impl Money {
    /// `₱5`, `Rp2.000`, `$1.50`, `₱1,250`; a currency without a known sign as
    /// `KES 1,250`.
    pub fn show(&self, amount: u64) -> String {
        let places = u32::from(self.decimals.min(6));
        let scale = 10u64.pow(places);
        let n = notation(&self.currency);
        let (thousands, decimal) = n.as_ref().map_or((',', '.'), |n| (n.thousands, n.decimal));
        let mut number = group(amount / scale, thousands);
        if places > 0 {
            number.push(decimal);
            number.push_str(&format!(
                "{:0width$}",
                amount % scale,
                width = places as usize
            ));
        }
        match n {
            Some(n) if n.after => format!("{number}{}", n.sign),
            Some(n) => format!("{}{number}", n.sign),
            None => format!("{} {number}", self.currency),
        }
    }
}

/// `1234567` as `1,234,567` with `sep`.
fn group(whole: u64, sep: char) -> String {
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

impl Default for Money {
    fn default() -> Self {
        Money {
            currency: "PHP".into(),
            decimals: 0,
        }
    }
}

/// `1h 30m`, `2d`, `45m`: the largest two units, short, for the rate screen.
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

/// `1 day`, `2 hours 30 min`, `1 araw`, `3 jam`: the largest two units in words.
pub fn time_words(d: Duration, w: &Words) -> String {
    let mut secs = d.as_secs();
    let mut parts = Vec::new();
    for ((one, many), size) in [(w.day, 86_400), (w.hour, 3_600), (w.minute, 60)] {
        if secs >= size {
            let n = secs / size;
            parts.push(format!("{n} {}", if n == 1 { one } else { many }));
            secs %= size;
        }
    }
    if parts.is_empty() {
        return format!("{} {}", d.as_secs().div_ceil(60), w.minute.1);
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

/// Where ticket dates are told: the system's zone, or a fixed offset from
/// `[kiosk] utc_offset` on a system without one.
#[derive(Debug, Clone)]
pub struct Clock {
    zone: TimeZone,
}

impl Clock {
    /// The system's time zone (`/etc/localtime`, `TZ`); UTC when it has none.
    pub fn system() -> Clock {
        Clock {
            zone: TimeZone::try_system().unwrap_or(TimeZone::UTC),
        }
    }

    /// A fixed offset, `minutes` east of UTC.
    pub fn fixed(minutes: i32) -> Clock {
        let zone = jiff::tz::Offset::from_seconds(minutes.saturating_mul(60))
            .map(TimeZone::fixed)
            .unwrap_or(TimeZone::UTC);
        Clock { zone }
    }

    /// A zone by its rules (`TimeZone::posix("PHT-8")`), for tests.
    pub fn zone(zone: TimeZone) -> Clock {
        Clock { zone }
    }

    /// `[kiosk] utc_offset` when written, else the system's zone.
    pub fn from_config(utc_offset: &str) -> Clock {
        match firmware_config::kiosk::parse_utc_offset(utc_offset) {
            Some(minutes) if !utc_offset.is_empty() => Clock::fixed(minutes),
            _ => Clock::system(),
        }
    }

    /// `2026-11-22 11:23` in this zone.
    pub fn date_time(&self, at: SystemTime) -> String {
        let ms = match at.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        };
        match jiff::Timestamp::from_millisecond(ms) {
            Ok(t) => t
                .to_zoned(self.zone.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string(),
            Err(_) => "----------".into(),
        }
    }
}

impl PartialEq for Clock {
    fn eq(&self, other: &Clock) -> bool {
        self.zone == other.zone
    }
}

/// Greedy word wrap to `cols` characters; a word longer than a line is cut.
pub fn wrap(s: &str, cols: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for w in s.split_whitespace() {
        let w: String = w.chars().take(cols.max(1)).collect();
        if !cur.is_empty() && cur.chars().count() + 1 + w.chars().count() > cols {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&w);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::words::words;
    use firmware_config::kiosk::Language;

    fn money(code: &str, decimals: u8) -> Money {
        Money {
            currency: code.into(),
            decimals,
        }
    }

    #[test]
    fn prices_read_as_people_write_them() {
        assert_eq!(money("PHP", 0).show(5), "\u{20b1}5");
        assert_eq!(money("PHP", 0).show(1250), "\u{20b1}1,250");
        assert_eq!(money("IDR", 0).show(2000), "Rp2.000");
        assert_eq!(money("IDR", 0).show(1_500_000), "Rp1.500.000");
        assert_eq!(money("USD", 2).show(150), "$1.50");
        assert_eq!(money("USD", 2).show(7), "$0.07");
        assert_eq!(money("EUR", 2).show(123_456), "\u{20ac}1.234,56");
        assert_eq!(money("VND", 0).show(10_000), "10.000\u{20ab}");
        assert_eq!(money("KES", 0).show(1250), "KES 1,250");
    }

    #[test]
    fn time_spans_keep_the_two_largest_units() {
        assert_eq!(time_span(Duration::from_secs(5400)), "1h 30m");
        assert_eq!(time_span(Duration::from_secs(2 * 86_400 + 61)), "2d 1m");
        assert_eq!(time_span(Duration::from_secs(600)), "10m");
    }

    #[test]
    fn time_in_words_follows_the_language() {
        let day = Duration::from_secs(86_400);
        assert_eq!(time_words(day, words(Language::En)), "1 day");
        assert_eq!(time_words(day * 3, words(Language::En)), "3 days");
        assert_eq!(time_words(day, words(Language::Fil)), "1 araw");
        assert_eq!(
            time_words(Duration::from_secs(5400), words(Language::Id)),
            "1 jam 30 menit"
        );
        assert_eq!(
            time_words(Duration::from_secs(30), words(Language::En)),
            "1 min"
        );
    }

    #[test]
    fn data_sizes_use_binary_units() {
        assert_eq!(data_size(2 << 30), "2 GB");
        assert_eq!(data_size(1536 << 20), "1.5 GB");
        assert_eq!(data_size(500 << 20), "500 MB");
    }

    #[test]
    fn dates_are_told_in_the_kiosk_zone_across_month_ends_and_leap_days() {
        // 2024-02-29 23:30 UTC = 1709249400.
        let at = UNIX_EPOCH + Duration::from_secs(1_709_249_400);
        assert_eq!(Clock::fixed(0).date_time(at), "2024-02-29 23:30");
        assert_eq!(Clock::fixed(8 * 60).date_time(at), "2024-03-01 07:30");
        assert_eq!(Clock::fixed(-60).date_time(UNIX_EPOCH), "1969-12-31 23:00");
        let jakarta = Clock::zone(TimeZone::posix("WIB-7").unwrap());
        assert_eq!(jakarta.date_time(at), "2024-03-01 06:30");
        assert_eq!(Clock::from_config("+08:00"), Clock::fixed(480));
    }

    #[test]
    fn words_wrap_at_the_column_limit() {
        assert_eq!(
            wrap("printer out of paper", 11),
            vec!["printer out", "of paper"]
        );
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd"]);
    }
}
