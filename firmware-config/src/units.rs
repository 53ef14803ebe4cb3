//! Durations and byte sizes as operators write them and as RouterOS prints them.
//!
//! Durations: `1w2d3h4m5s`, `13m53s460ms`, `453us`, `00:10:00`, `1d00:00:00`,
//! `1w2d03:04:05`, `2w 1d 00:00:00`, or a bare number of seconds. The router
//! emits the compact form; the clock forms appear in old API output and error
//! texts (routeros-reference.md §4.7).
//!
//! Byte sizes: a bare number of bytes, or a number with `k`/`K`, `M`, `G`, `T`
//! (powers of 1024, as RouterOS's console shows `KiB`/`MiB`), `KiB`/`MiB`/`GiB`
//! (the same), or `kB`/`MB`/`GB` (powers of 1000). The agent always sends the
//! router a plain byte count, because the router's own suffix base is not
//! documented (routeros-reference.md §9).

use std::fmt;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A span of time with microsecond resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    /// Whole seconds.
    pub fn from_secs(secs: u64) -> Duration {
        Duration(std::time::Duration::from_secs(secs))
    }

    /// Whole seconds, rounded down.
    pub fn as_secs(&self) -> u64 {
        self.0.as_secs()
    }

    /// The std duration.
    pub fn std(&self) -> std::time::Duration {
        self.0
    }

    /// Parses every form listed in the module documentation.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("empty duration".into());
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
                return Err(format!("cannot read duration {text:?}"));
            }
            let (num, after) = rest.split_at(digits);
            if after.starts_with(':') {
                total_us += parse_clock(rest)
                    .ok_or_else(|| format!("cannot read clock time in {text:?}"))?;
                rest = "";
                break;
            }
            let n: u128 = num
                .parse()
                .map_err(|_| format!("number too large in {text:?}"))?;
            let unit_len = after
                .bytes()
                .take_while(|b| b.is_ascii_alphabetic())
                .count();
            let (unit, tail) = after.split_at(unit_len);
            let mult: u128 = match unit {
                "w" => 7 * 86_400_000_000,
                "d" => 86_400_000_000,
                "h" => 3_600_000_000,
                "m" => 60_000_000,
                "s" => 1_000_000,
                "ms" => 1_000,
                "us" => 1,
                "" => {
                    return Err(format!(
                        "number without a unit in duration {text:?} (use w, d, h, m, s, ms, us)"
                    ))
                }
                _ => {
                    return Err(format!(
                        "unknown unit {unit:?} in duration {text:?} (use w, d, h, m, s, ms, us)"
                    ))
                }
            };
            total_us += n * mult;
            rest = tail;
        }
        let _ = rest;
        let secs = (total_us / 1_000_000) as u64;
        let micros = (total_us % 1_000_000) as u32;
        Ok(Duration(std::time::Duration::new(secs, micros * 1000)))
    }

    /// The compact form RouterOS accepts and prints: `1d2h3m4s`, `0s`.
    pub fn to_routeros(&self) -> String {
        let mut secs = self.0.as_secs();
        let ms = self.0.subsec_millis();
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
    let mut us = (h * 3600 + m * 60 + s) * 1_000_000;
    if let Some(f) = frac {
        let digits: String = f.chars().take(6).collect();
        let scale = 10u128.pow(6 - digits.len() as u32);
        us += digits.parse::<u128>().ok()? * scale;
    }
    Some(us)
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_routeros())
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Duration, String> {
        Duration::parse(s)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_routeros())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"30s\", \"1h30m\", \"1d\", \"00:10:00\" or a number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration::from_secs(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map(Duration::from_secs)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses a byte count with an optional unit (see the module documentation).
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        if num.is_empty() {
            return Err(format!("cannot read byte size {text:?}"));
        }
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "k" | "K" | "KiB" => 1 << 10,
            "M" | "MiB" => 1 << 20,
            "G" | "GiB" => 1 << 30,
            "T" | "TiB" => 1 << 40,
            "kB" | "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "TB" => 1_000_000_000_000,
            other => {
                return Err(format!(
                    "unknown unit {other:?} in byte size {text:?} (use K, M, G, T for 1024s or kB, MB, GB for 1000s)"
                ))
            }
        };
        let value: f64 = num
            .parse()
            .map_err(|_| format!("cannot read number in {text:?}"))?;
        if num.contains('.') {
            Ok(ByteSize((value * mult as f64).round() as u64))
        } else {
            let n: u64 = num
                .parse()
                .map_err(|_| format!("number too large in {text:?}"))?;
            n.checked_mul(mult)
                .map(ByteSize)
                .ok_or_else(|| format!("byte size {text:?} is too large"))
        }
    }

    /// A short human form: `1.5 GiB`, `200 MiB`, `512 B`.
    pub fn human(&self) -> String {
        let b = self.0 as f64;
        for (unit, size) in [
            ("TiB", 1u64 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ] {
            if self.0 >= size {
                let v = b / size as f64;
                return if v.fract() == 0.0 {
                    format!("{v:.0} {unit}")
                } else {
                    format!("{v:.1} {unit}")
                };
            }
        }
        format!("{} B", self.0)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.human())
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ByteSize, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte size such as \"500M\", \"1G\", \"2GB\" or a number of bytes")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a byte size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(t: &str) -> f64 {
        Duration::parse(t).unwrap().0.as_secs_f64()
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
            let err = Duration::parse(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
    }

    #[test]
    fn routeros_form_round_trips() {
        for t in ["0s", "1m", "1d2h3m4s", "1w", "13m53s460ms"] {
            assert_eq!(Duration::parse(t).unwrap().to_routeros(), t);
        }
    }

    #[test]
    fn byte_sizes_use_the_documented_bases() {
        assert_eq!(ByteSize::parse("0").unwrap().0, 0);
        assert_eq!(ByteSize::parse("500M").unwrap().0, 500 << 20);
        assert_eq!(ByteSize::parse("1G").unwrap().0, 1 << 30);
        assert_eq!(ByteSize::parse("1GiB").unwrap().0, 1 << 30);
        assert_eq!(ByteSize::parse("2GB").unwrap().0, 2_000_000_000);
        assert_eq!(ByteSize::parse("1.5G").unwrap().0, 3 << 29);
        assert!(ByteSize::parse("5 parsecs").is_err());
        assert!(ByteSize::parse("G").is_err());
    }
}
