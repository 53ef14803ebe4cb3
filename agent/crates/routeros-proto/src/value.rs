//! RouterOS value forms: how the router prints durations, counts and booleans in
//! API and REST replies, and the compact duration form it accepts. Pure.
//!
//! Durations: `1w2d3h4m5s`, `13m53s460ms`, `453us`, `00:10:00`, `1d00:00:00`,
//! `1w2d03:04:05`, `2w 1d 00:00:00`, or a bare number of seconds. The router
//! emits the compact form; the clock forms appear in old API output and error
//! texts (routeros-reference.md §4.7). Counts are plain decimal byte or packet
//! numbers. Booleans are `true`/`false` (API and REST) or `yes`/`no` (old and
//! input forms).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::word::Word;

/// One item of a reply: property name to value, the value's bytes as the router sent them.
pub type Record = BTreeMap<String, Word>;

/// Why a router value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("router value {key}={value:?} is not {expected}")]
pub struct ValueError {
    /// Property name.
    pub key: String,
    /// What the router sent.
    pub value: String,
    /// What we expected.
    pub expected: &'static str,
}

/// Why a text is not a duration; the message quotes the text and names the units.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationError(String);

/// Reads every duration form listed in the module documentation.
pub fn read_duration(text: &str) -> Result<Duration, DurationError> {
    let bad = |msg: String| DurationError(msg);
    let t = text.trim();
    if t.is_empty() {
        return Err(bad("empty duration".into()));
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total_us: u128 = 0;
    let mut rest = t;
    // Leading compact units (`1w2d`), then optionally a clock `HH:MM:SS[.fff]`.
    while !rest.is_empty() {
        rest = rest.trim_start();
        let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err(bad(format!("cannot read duration {text:?}")));
        }
        let (num, after) = rest.split_at(digits);
        if after.starts_with(':') {
            let clock = parse_clock(rest)
                .ok_or_else(|| bad(format!("cannot read clock time in {text:?}")))?;
            total_us = total_us.saturating_add(clock);
            break;
        }
        let n: u128 = num
            .parse()
            .map_err(|_| bad(format!("number too large in {text:?}")))?;
        let unit_len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        let (unit, tail) = after.split_at(unit_len);
        let mult = unit_micros(unit).ok_or_else(|| {
            let what = if unit.is_empty() {
                "number without a unit in".to_string()
            } else {
                format!("unknown unit {unit:?} in")
            };
            bad(format!(
                "{what} duration {text:?} (use w, d, h, m, s, ms, us)"
            ))
        })?;
        total_us = total_us.saturating_add(n.saturating_mul(mult));
        rest = tail;
    }
    let secs = u64::try_from(total_us / 1_000_000)
        .map_err(|_| bad(format!("duration {text:?} is too long")))?;
    let micros = (total_us % 1_000_000) as u32;
    Ok(Duration::new(secs, micros * 1000))
}

fn unit_micros(unit: &str) -> Option<u128> {
    Some(match unit {
        "w" => 7 * 86_400_000_000,
        "d" => 86_400_000_000,
        "h" => 3_600_000_000,
        "m" => 60_000_000,
        "s" => 1_000_000,
        "ms" => 1_000,
        "us" => 1,
        _ => return None,
    })
}

fn parse_clock(text: &str) -> Option<u128> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    if parts.len() != 3 {
        return None;
    }
    let h: u128 = parts[0].parse().ok()?;
    let m: u128 = parts[1].parse().ok()?;
    let (s, frac) = match parts[2].split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (parts[2], None),
    };
    let s: u128 = s.parse().ok()?;
    if m >= 60 || s >= 60 {
        return None;
    }
    // Hours are not bounded by the form: a router (or anyone) may send 30 digits.
    let whole = h.checked_mul(3600)?.checked_add(m * 60 + s)?;
    let mut us = whole.checked_mul(1_000_000)?;
    if let Some(f) = frac {
        // Digits only, counted as bytes: a multibyte character among them once made
        // the scale's exponent negative (found by the rest_reply fuzz target).
        if !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = &f[..f.len().min(6)];
        let scale = 10u128.pow(6 - digits.len() as u32);
        us = us.checked_add(digits.parse::<u128>().ok()? * scale)?;
    }
    Some(us)
}

/// The compact form RouterOS accepts and prints: `1d2h3m4s`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    let ms = d.subsec_millis();
    if secs == 0 && ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("w", 604_800),
        ("d", 86_400),
        ("h", 3_600),
        ("m", 60),
        ("s", 1),
    ] {
        if secs >= size {
            out.push_str(&format!("{}{}", secs / size, unit));
            secs %= size;
        }
    }
    if ms > 0 {
        out.push_str(&format!("{ms}ms"));
    }
    out
}

/// Reads a duration the router printed for property `key`.
pub fn parse_duration(key: &str, value: &str) -> Result<Duration, ValueError> {
    read_duration(value).map_err(|_| ValueError {
        key: key.into(),
        value: value.into(),
        expected: "a RouterOS duration (1d2h3m4s, 00:10:00)",
    })
}

/// Reads a RouterOS boolean: `true`/`false` (API and REST), `yes`/`no` (old and input forms).
pub fn parse_bool(key: &str, value: &str) -> Result<bool, ValueError> {
    match value {
        "true" | "yes" => Ok(true),
        "false" | "no" | "" => Ok(false),
        _ => Err(ValueError {
            key: key.into(),
            value: value.into(),
            expected: "true/false or yes/no",
        }),
    }
}

/// Reads a count (bytes, packets); an empty value is 0.
pub fn parse_count(key: &str, value: &str) -> Result<u64, ValueError> {
    if value.is_empty() {
        return Ok(0);
    }
    value.parse().map_err(|_| ValueError {
        key: key.into(),
        value: value.into(),
        expected: "a whole number",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(t: &str) -> f64 {
        read_duration(t).unwrap().as_secs_f64()
    }

    /// Found by the rest_reply fuzz target: `{"uptime":"1w13:04:02.22dto\u{2ed}"}` (the
    /// bytes in agent/fuzz/regressions/rest_reply/) panicked on a subtraction overflow
    /// in the fraction's scale. Such a fraction is no duration.
    #[test]
    fn a_clock_fraction_with_a_multibyte_character_is_refused_not_a_panic() {
        let text = std::str::from_utf8(b"1w13:04:02.22dto\xcb\xad").unwrap();
        assert!(read_duration(text).is_err());
        assert!(read_duration("13:04:02.2\u{e9}").is_err());
        assert!(read_duration("13:04:02.").is_err());
        assert_eq!(
            secs("13:04:02.1234567"),
            13.0 * 3600.0 + 4.0 * 60.0 + 2.123456
        );
    }

    #[test]
    fn every_router_duration_form_parses() {
        assert_eq!(secs("0s"), 0.0);
        assert_eq!(secs("1m"), 60.0);
        assert_eq!(
            secs("2d20h12m20s"),
            2.0 * 86400.0 + 20.0 * 3600.0 + 12.0 * 60.0 + 20.0
        );
        assert_eq!(secs("13m53s460ms"), 13.0 * 60.0 + 53.46);
        assert_eq!(
            secs("5w4d3h2m1s"),
            5.0 * 604800.0 + 4.0 * 86400.0 + 3.0 * 3600.0 + 121.0
        );
        assert_eq!(secs("453us"), 0.000453);
        assert_eq!(secs("00:10:00"), 600.0);
        assert_eq!(secs("1d00:00:00"), 86400.0);
        assert_eq!(secs("1d 00:00:00"), 86400.0);
        assert_eq!(secs("2w 1d 00:00:00"), 15.0 * 86400.0);
        assert_eq!(
            secs("1w2d03:04:05"),
            9.0 * 86400.0 + 3.0 * 3600.0 + 4.0 * 60.0 + 5.0
        );
        assert_eq!(
            secs("163w4d9h"),
            163.0 * 604800.0 + 4.0 * 86400.0 + 9.0 * 3600.0
        );
        assert_eq!(secs("300ms"), 0.3);
        assert_eq!(secs("42"), 42.0);
    }

    #[test]
    fn nonsense_durations_are_refused_with_the_text() {
        for bad in ["", "abc", "1x", "1h30", "12:99:00", "-8ms"] {
            let err = read_duration(bad).unwrap_err();
            assert!(!err.to_string().is_empty(), "{bad}");
        }
    }

    #[test]
    fn routeros_form_round_trips() {
        for t in ["0s", "1m", "1d2h3m4s", "1w", "13m53s460ms"] {
            assert_eq!(format_duration(read_duration(t).unwrap()), t);
        }
    }

    #[test]
    fn a_duration_too_long_for_a_u64_is_refused_not_wrapped() {
        assert!(read_duration("99999999999999999999999w").is_err());
    }

    #[test]
    fn huge_numbers_in_any_form_are_refused_not_a_panic() {
        // 27 digits of weeks saturate, then the clock part is added on top.
        let weeks = format!("{}w00:00:01", "9".repeat(27));
        assert!(read_duration(&weeks).is_err());
        // 38 digits of hours fit a u128 but not once multiplied into microseconds.
        let hours = format!("{}:00:00", "9".repeat(38));
        assert!(read_duration(&hours).is_err());
        let fraction = format!("{}:00:00.5", "9".repeat(34));
        assert!(read_duration(&fraction).is_err());
    }
}
