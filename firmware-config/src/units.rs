//! Durations and byte sizes as operators write them and as RouterOS prints them.
//!
//! Durations: `1w2d3h4m5s`, `13m53s460ms`, `453us`, `00:10:00`, `1d00:00:00`,
//! `1w2d03:04:05`, `2w 1d 00:00:00`, or a bare number of seconds: the forms RouterOS
//! prints (routeros-reference.md §4.7), read by `routeros-proto` so that there is one
//! grammar. They print in the compact form (`1h30m`).
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

    /// Parses every form listed in the module documentation: the forms RouterOS
    /// prints, read by `routeros-proto`, so a config file and the router agree.
    pub fn parse(text: &str) -> Result<Duration, String> {
        routeros_proto::read_duration(text)
            .map(Duration)
            .map_err(|e| e.to_string())
    }

    /// A duration as a person writes it in a config file: the router's forms, but a
    /// number must carry its unit (`"60"` could mean seconds or minutes), and words
    /// (`"1 hour"`) get the form to write instead.
    pub fn parse_config(text: &str) -> Result<Duration, String> {
        let t = text.trim();
        if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "{text:?} has no unit: write \"{t}s\" for seconds or \"{t}m\" for minutes"
            ));
        }
        if let Some(fix) = spelled_out(t) {
            return Err(format!("{text:?} is not a duration: write \"{fix}\""));
        }
        Duration::parse(t).map_err(|e| {
            format!("{e}; write durations like \"30s\", \"10m\", \"1h30m\", \"1d\" or \"1w\"")
        })
    }
}

/// `"1 hour"`, `"2 days"`, `"90 minutes"` as the compact form (`1h`, `2d`, `90m`).
fn spelled_out(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut words = text.split_whitespace();
    while let Some(number) = words.next() {
        if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let unit = match words.next()?.to_ascii_lowercase().trim_end_matches(',') {
            "w" | "week" | "weeks" | "wk" | "linggo" | "minggu" => "w",
            "d" | "day" | "days" | "araw" | "hari" => "d",
            "h" | "hr" | "hrs" | "hour" | "hours" | "oras" | "jam" => "h",
            "m" | "min" | "mins" | "minute" | "minutes" | "minuto" | "menit" => "m",
            "s" | "sec" | "secs" | "second" | "seconds" | "segundo" | "detik" => "s",
            _ => return None,
        };
        out.push_str(number);
        out.push_str(unit);
    }
    (!out.is_empty()).then_some(out)
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&routeros_proto::format_duration(self.0))
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
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration with its unit, such as \"30s\", \"1h30m\", \"1d\" or \"00:10:00\"",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "{v} has no unit: write \"{v}s\" for seconds or \"{v}m\" for minutes"
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom("a duration cannot be negative")),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse_config(v).map_err(E::custom)
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

    #[test]
    fn config_durations_take_the_router_forms_and_print_the_compact_one() {
        assert_eq!(
            Duration::parse("1w2d03:04:05").unwrap().as_secs(),
            9 * 86400 + 11045
        );
        assert_eq!(Duration::parse("90").unwrap().to_string(), "1m30s");
        let err = Duration::parse("1h30").unwrap_err();
        assert!(err.contains("1h30"), "{err}");
    }

    #[test]
    fn a_config_duration_needs_its_unit_and_words_get_the_form_to_write() {
        let err = Duration::parse_config("60").unwrap_err();
        assert!(
            err.contains("\"60s\" for seconds or \"60m\" for minutes"),
            "{err}"
        );
        let err = Duration::parse_config("1 hour").unwrap_err();
        assert!(err.contains("write \"1h\""), "{err}");
        let err = Duration::parse_config("1 day 12 hours").unwrap_err();
        assert!(err.contains("write \"1d12h\""), "{err}");
        let err = Duration::parse_config("forever").unwrap_err();
        assert!(err.contains("\"1h30m\""), "{err}");
        assert_eq!(Duration::parse_config("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(Duration::parse_config("00:10:00").unwrap().as_secs(), 600);
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
