//! Typed RouterOS records for a voucher agent: hotspot users and profiles, active
//! sessions, hosts, system resource. Parsing is lenient about the forms the router
//! prints (routeros-reference.md §4.7) and strict about what we send.

use std::time::Duration;

use routeros_proto::{
    format_duration as routeros_duration, parse_bool, parse_count, parse_duration,
};
use serde::Serialize;

pub use routeros_proto::{Record, RouterVersion, ValueError, Word};

/// Menu paths, as binary API command prefixes (REST uses the same with `/rest` in front).
pub mod path {
    /// `/ip/hotspot/user`
    pub const USER: &str = "/ip/hotspot/user";
    /// `/ip/hotspot/user/profile`
    pub const PROFILE: &str = "/ip/hotspot/user/profile";
    /// `/ip/hotspot/active`
    pub const ACTIVE: &str = "/ip/hotspot/active";
    /// `/ip/hotspot/host`
    pub const HOST: &str = "/ip/hotspot/host";
    /// `/ip/hotspot`
    pub const SERVER: &str = "/ip/hotspot";
    /// `/system/resource`
    pub const RESOURCE: &str = "/system/resource";
    /// `/system/identity`
    pub const IDENTITY: &str = "/system/identity";
    /// `/system/clock`
    pub const CLOCK: &str = "/system/clock";
}

/// A value as text. Numbers, times and flags are always ASCII on a router; a value
/// that is not UTF-8 reads with U+FFFD and then fails its parse, naming the key.
fn value<'a>(r: &'a Record, key: &str) -> Option<std::borrow::Cow<'a, str>> {
    r.get(key).map(Word::lossy)
}

fn optional_duration(r: &Record, key: &str) -> Result<Option<Duration>, ValueError> {
    match value(r, key).as_deref() {
        None | Some("") | Some("none") | Some("never") | Some("immediately") => Ok(None),
        Some(v) => parse_duration(key, v).map(|d| if d.is_zero() { None } else { Some(d) }),
    }
}

fn duration_or_zero(r: &Record, key: &str) -> Result<Duration, ValueError> {
    Ok(optional_duration(r, key)?.unwrap_or_default())
}

fn count(r: &Record, key: &str) -> Result<u64, ValueError> {
    value(r, key).map_or(Ok(0), |v| parse_count(key, &v))
}

fn optional_limit(r: &Record, key: &str) -> Result<Option<u64>, ValueError> {
    count(r, key).map(|n| if n == 0 { None } else { Some(n) })
}

fn flag(r: &Record, key: &str) -> Result<bool, ValueError> {
    value(r, key).map_or(Ok(false), |v| parse_bool(key, &v))
}

/// Text for fields the agent only shows or that the router itself writes (ids,
/// addresses, profile names): lossy.
fn text(r: &Record, key: &str) -> String {
    value(r, key).map(|v| v.into_owned()).unwrap_or_default()
}

fn optional_text(r: &Record, key: &str) -> Option<String> {
    value(r, key)
        .filter(|v| !v.is_empty())
        .map(|v| v.into_owned())
}

/// Names and comments another tool may have written: their bytes, exactly.
fn word(r: &Record, key: &str) -> Word {
    r.get(key).cloned().unwrap_or_default()
}

/// A hotspot user (`/ip/hotspot/user`). Limits are user properties in RouterOS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HotspotUser {
    /// `.id`, e.g. `*1A`.
    pub id: String,
    /// Login name (voucher code), its bytes as the router keeps them: `007` stays
    /// `007`, and a name WinBox wrote in a PC's code page (`Ren\xe9`) is sent back
    /// exactly. Shown lossily.
    pub name: Word,
    /// Password as the router prints it (v7 prints it; voucher passwords are not secrets
    /// once printed on a ticket, but we still never log them).
    #[serde(skip)]
    pub password: Option<String>,
    /// Profile name.
    pub profile: String,
    /// Hotspot server (`all` = any).
    pub server: String,
    /// Comment; the agent's users carry `hsa:<site>:<sale id>`. Bytes, as for `name`.
    pub comment: Option<Word>,
    /// Whether the user is disabled.
    pub disabled: bool,
    /// `limit-uptime`; `None` = unlimited.
    pub limit_uptime: Option<Duration>,
    /// `limit-bytes-total`; `None` = unlimited.
    pub limit_bytes_total: Option<u64>,
    /// `limit-bytes-in` (client upload).
    pub limit_bytes_in: Option<u64>,
    /// `limit-bytes-out` (client download).
    pub limit_bytes_out: Option<u64>,
    /// Cumulative connected time.
    pub uptime: Duration,
    /// Cumulative bytes uploaded by the client.
    pub bytes_in: u64,
    /// Cumulative bytes downloaded by the client.
    pub bytes_out: u64,
    /// Built-in `default-trial` user: never a voucher.
    pub default: bool,
    /// Dynamic (created by the router, e.g. trial).
    pub dynamic: bool,
}

impl HotspotUser {
    /// Reads a printed record.
    pub fn from_record(r: &Record) -> Result<HotspotUser, ValueError> {
        Ok(HotspotUser {
            id: text(r, ".id"),
            name: word(r, "name"),
            password: value(r, "password").map(|v| v.into_owned()),
            profile: optional_text(r, "profile").unwrap_or_else(|| "default".into()),
            server: optional_text(r, "server").unwrap_or_else(|| "all".into()),
            comment: r.get("comment").filter(|c| !c.is_empty()).cloned(),
            disabled: flag(r, "disabled")?,
            limit_uptime: optional_duration(r, "limit-uptime")?,
            limit_bytes_total: optional_limit(r, "limit-bytes-total")?,
            limit_bytes_in: optional_limit(r, "limit-bytes-in")?,
            limit_bytes_out: optional_limit(r, "limit-bytes-out")?,
            uptime: duration_or_zero(r, "uptime")?,
            bytes_in: count(r, "bytes-in")?,
            bytes_out: count(r, "bytes-out")?,
            default: flag(r, "default")?,
            dynamic: flag(r, "dynamic")?,
        })
    }

    /// The comment as text; a comment whose bytes are not UTF-8 was never the
    /// agent's (`hsa:` comments are ASCII) and reads as `None` here.
    pub fn comment_text(&self) -> Option<&str> {
        self.comment.as_ref().and_then(Word::text)
    }

    /// Bytes used in both directions.
    pub fn bytes_total(&self) -> u64 {
        self.bytes_in.saturating_add(self.bytes_out)
    }
}

/// A user to create. Only set fields are sent; limits go on the user, not the profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUser {
    /// Login name.
    pub name: String,
    /// Password (equal to `name` in user=password mode).
    pub password: String,
    /// Profile name.
    pub profile: String,
    /// Hotspot server; `None` leaves the router default (`all`).
    pub server: Option<String>,
    /// Comment identifying the agent and the sale.
    pub comment: Option<String>,
    /// `limit-uptime`.
    pub limit_uptime: Option<Duration>,
    /// `limit-bytes-total`.
    pub limit_bytes_total: Option<u64>,
    /// Create disabled (pool vouchers are enabled when sold).
    pub disabled: bool,
}

impl NewUser {
    /// The attribute words of `add`, in a stable order.
    pub fn to_attrs(&self) -> Vec<(String, String)> {
        let mut a = vec![
            ("name".to_string(), self.name.clone()),
            ("password".to_string(), self.password.clone()),
            ("profile".to_string(), self.profile.clone()),
        ];
        if let Some(s) = &self.server {
            a.push(("server".into(), s.clone()));
        }
        if let Some(d) = self.limit_uptime {
            a.push(("limit-uptime".into(), routeros_duration(d)));
        }
        if let Some(b) = self.limit_bytes_total {
            a.push(("limit-bytes-total".into(), b.to_string()));
        }
        if let Some(c) = &self.comment {
            a.push(("comment".into(), c.clone()));
        }
        if self.disabled {
            a.push(("disabled".into(), "yes".into()));
        }
        a
    }
}

/// Changes to an existing user; `None` fields are left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// New profile (e.g. the fair-use profile after the data is used up).
    pub profile: Option<String>,
    /// New `limit-uptime` (`Some(None)` clears it).
    pub limit_uptime: Option<Option<Duration>>,
    /// New `limit-bytes-total` (`Some(None)` clears it).
    pub limit_bytes_total: Option<Option<u64>>,
    /// New comment.
    pub comment: Option<String>,
    /// Enable or disable.
    pub disabled: Option<bool>,
}

impl UserUpdate {
    /// The attribute words of `set` (without `.id`).
    pub fn to_attrs(&self) -> Vec<(String, String)> {
        let mut a = Vec::new();
        if let Some(p) = &self.profile {
            a.push(("profile".into(), p.clone()));
        }
        if let Some(d) = self.limit_uptime {
            a.push((
                "limit-uptime".into(),
                d.map(routeros_duration).unwrap_or_else(|| "0s".into()),
            ));
        }
        if let Some(b) = self.limit_bytes_total {
            a.push(("limit-bytes-total".into(), b.unwrap_or(0).to_string()));
        }
        if let Some(c) = &self.comment {
            a.push(("comment".into(), c.clone()));
        }
        if let Some(d) = self.disabled {
            a.push(("disabled".into(), if d { "yes" } else { "no" }.into()));
        }
        a
    }
}

/// A hotspot user profile (`/ip/hotspot/user/profile`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserProfile {
    /// `.id`.
    pub id: String,
    /// Name.
    pub name: String,
    /// `rate-limit`, router's view (`rx/tx` = client upload/download).
    pub rate_limit: Option<String>,
    /// `shared-users`; `None` = unlimited.
    pub shared_users: Option<u32>,
    /// `session-timeout`.
    pub session_timeout: Option<Duration>,
    /// `idle-timeout`.
    pub idle_timeout: Option<Duration>,
    /// `keepalive-timeout`.
    pub keepalive_timeout: Option<Duration>,
}

impl UserProfile {
    /// Reads a printed record.
    pub fn from_record(r: &Record) -> Result<UserProfile, ValueError> {
        let shared_users = match value(r, "shared-users").as_deref() {
            None | Some("unlimited") | Some("") => None,
            Some(v) => Some(v.parse().map_err(|_| ValueError {
                key: "shared-users".into(),
                value: v.into(),
                expected: "a number or `unlimited`",
            })?),
        };
        Ok(UserProfile {
            id: text(r, ".id"),
            name: text(r, "name"),
            rate_limit: optional_text(r, "rate-limit"),
            shared_users,
            session_timeout: optional_duration(r, "session-timeout")?,
            idle_timeout: optional_duration(r, "idle-timeout")?,
            keepalive_timeout: optional_duration(r, "keepalive-timeout")?,
        })
    }

    /// The attribute words of `add`/`set` (without `.id`). Unset times are omitted,
    /// never sent as `""` (RouterOS rejects empty `session-timeout`, §4.2).
    pub fn to_attrs(&self) -> Vec<(String, String)> {
        let mut a = vec![("name".to_string(), self.name.clone())];
        if let Some(r) = &self.rate_limit {
            a.push(("rate-limit".into(), r.clone()));
        }
        a.push((
            "shared-users".into(),
            self.shared_users
                .map_or("unlimited".to_string(), |n| n.to_string()),
        ));
        for (key, value) in [
            ("session-timeout", self.session_timeout),
            ("idle-timeout", self.idle_timeout),
            ("keepalive-timeout", self.keepalive_timeout),
        ] {
            if let Some(d) = value {
                a.push((key.into(), routeros_duration(d)));
            }
        }
        a
    }
}

/// An active hotspot session (`/ip/hotspot/active`); removing it disconnects the client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActiveSession {
    /// `.id`.
    pub id: String,
    /// Hotspot server.
    pub server: String,
    /// User name, its bytes as the router keeps them (see [`HotspotUser::name`]).
    pub user: Word,
    /// Client IP address.
    pub address: String,
    /// Client MAC address.
    pub mac_address: String,
    /// How the client logged in (`http-chap`, `cookie`, `mac`, …).
    pub login_by: String,
    /// Time in this session.
    pub uptime: Duration,
    /// Time since the client last sent traffic.
    pub idle_time: Duration,
    /// Time left before a limit ends the session, if the router reports one.
    pub session_time_left: Option<Duration>,
    /// Bytes uploaded by the client in this session.
    pub bytes_in: u64,
    /// Bytes downloaded by the client in this session.
    pub bytes_out: u64,
}

impl ActiveSession {
    /// Reads a printed record.
    pub fn from_record(r: &Record) -> Result<ActiveSession, ValueError> {
        Ok(ActiveSession {
            id: text(r, ".id"),
            server: text(r, "server"),
            user: word(r, "user"),
            address: text(r, "address"),
            mac_address: text(r, "mac-address"),
            login_by: text(r, "login-by"),
            uptime: duration_or_zero(r, "uptime")?,
            idle_time: duration_or_zero(r, "idle-time")?,
            session_time_left: optional_duration(r, "session-time-left")?,
            bytes_in: count(r, "bytes-in")?,
            bytes_out: count(r, "bytes-out")?,
        })
    }
}

/// A host seen by the hotspot (`/ip/hotspot/host`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HotspotHost {
    /// `.id`.
    pub id: String,
    /// MAC address.
    pub mac_address: String,
    /// IP address.
    pub address: String,
    /// Whether the host is logged in.
    pub authorized: bool,
    /// Whether the host bypasses the hotspot.
    pub bypassed: bool,
}

impl HotspotHost {
    /// Reads a printed record.
    pub fn from_record(r: &Record) -> Result<HotspotHost, ValueError> {
        Ok(HotspotHost {
            id: text(r, ".id"),
            mac_address: text(r, "mac-address"),
            address: text(r, "address"),
            authorized: flag(r, "authorized")?,
            bypassed: flag(r, "bypassed")?,
        })
    }
}

/// `/system/resource`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SystemResource {
    /// `version`, e.g. `7.18 (stable)`.
    pub version: String,
    /// Router uptime.
    pub uptime: Duration,
    /// `board-name`.
    pub board_name: String,
    /// `architecture-name`.
    pub architecture: String,
    /// `cpu-load`, percent.
    pub cpu_load: u64,
    /// `free-memory`, bytes.
    pub free_memory: u64,
    /// `total-memory`, bytes.
    pub total_memory: u64,
}

impl SystemResource {
    /// Reads a printed record.
    pub fn from_record(r: &Record) -> Result<SystemResource, ValueError> {
        Ok(SystemResource {
            version: text(r, "version"),
            uptime: duration_or_zero(r, "uptime")?,
            board_name: text(r, "board-name"),
            architecture: text(r, "architecture-name"),
            cpu_load: count(r, "cpu-load")?,
            free_memory: count(r, "free-memory")?,
            total_memory: count(r, "total-memory")?,
        })
    }

    /// The parsed version.
    pub fn parsed_version(&self) -> Option<RouterVersion> {
        RouterVersion::parse(&self.version)
    }
}

/// `/system/clock`: the router's local date and time and its zone. `date` is
/// `dec/01/2026` before RouterOS 7.10 and `2026-12-01` from 7.10 on; `time` is
/// `HH:MM:SS`; `gmt-offset` is `+HH:MM` or `-HH:MM` (help.mikrotik.com, "Clock").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SystemClock {
    pub date: String,
    pub time: String,
    /// `time-zone-name`, e.g. `Asia/Manila` or `manual`.
    pub time_zone_name: String,
    /// `gmt-offset`, e.g. `+08:00`.
    pub gmt_offset: String,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

impl SystemClock {
    /// Reads a printed record.
    pub fn from_record(r: &Record) -> SystemClock {
        SystemClock {
            date: text(r, "date"),
            time: text(r, "time"),
            time_zone_name: text(r, "time-zone-name"),
            gmt_offset: text(r, "gmt-offset"),
        }
    }

    /// The router's time as Unix milliseconds UTC (local time less the offset);
    /// `None` when a field does not read as RouterOS writes it.
    pub fn utc_ms(&self) -> Option<i64> {
        let (y, m, d) = parse_router_date(&self.date)?;
        let mut hms = self.time.split(':').map(|p| p.parse::<i64>().ok());
        let (h, min, sec) = (hms.next()??, hms.next()??, hms.next()??);
        if hms.next().is_some() || h > 24 || min > 59 || sec > 60 {
            return None;
        }
        let offset = parse_gmt_offset(&self.gmt_offset)?;
        let days = hotspot_clock::days_from_civil(y, m, d);
        let local = days * 86_400 + h * 3_600 + min * 60 + sec;
        Some((local - offset) * 1000)
    }
}

/// `dec/01/2026` or `2026-12-01` as (year, month, day).
fn parse_router_date(date: &str) -> Option<(i64, u32, u32)> {
    let (y, m, d) = if let Some((mon, rest)) = date.split_once('/') {
        let (d, y) = rest.split_once('/')?;
        let m = MONTHS.iter().position(|n| n.eq_ignore_ascii_case(mon))? as u32 + 1;
        (y.parse().ok()?, m, d.parse().ok()?)
    } else {
        let mut parts = date.split('-');
        let y = parts.next()?.parse().ok()?;
        let m = parts.next()?.parse().ok()?;
        let d = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        (y, m, d)
    };
    ((1970..=9999).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d))
        .then_some((y, m, d))
}

/// `+08:00`, `-03:30` (or `+0800`) as seconds east of UTC.
fn parse_gmt_offset(text: &str) -> Option<i64> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => (1, text),
    };
    let (h, m) = rest
        .split_once(':')
        .unwrap_or((rest.get(..2)?, rest.get(2..)?));
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 3_600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_routers_clock_reads_in_both_date_forms_and_its_offset_comes_off() {
        // 2026-12-01 13:43:12 at +08:00 is 05:43:12 UTC.
        let utc = (hotspot_clock::days_from_civil(2026, 12, 1) * 86_400 + 5 * 3_600 + 43 * 60 + 12)
            * 1000;
        for date in ["dec/01/2026", "2026-12-01"] {
            let c = SystemClock::from_record(&record(&[
                ("time", "13:43:12"),
                ("date", date),
                ("time-zone-name", "Asia/Manila"),
                ("gmt-offset", "+08:00"),
            ]));
            assert_eq!(c.utc_ms(), Some(utc), "{date}");
            assert_eq!(c.time_zone_name, "Asia/Manila");
        }
        let west = SystemClock {
            date: "2026-12-01".into(),
            time: "02:13:12".into(),
            gmt_offset: "-03:30".into(),
            ..SystemClock::default()
        };
        assert_eq!(west.utc_ms(), Some(utc), "02:13:12 at -03:30");
        // What a router does not write is no time at all.
        for (date, time, off) in [
            ("dec/32/2026", "13:43:12", "+08:00"),
            ("foo/01/2026", "13:43:12", "+08:00"),
            ("2026-13-01", "13:43:12", "+08:00"),
            ("2026-12-01", "13:43", "+08:00"),
            ("2026-12-01", "13:43:12", "+8"),
            ("", "", ""),
            ("2026-12-01-1", "13:43:12", "+08:00"),
            ("99999999999999999999-01-01", "13:43:12", "+08:00"),
        ] {
            let c = SystemClock {
                date: date.into(),
                time: time.into(),
                gmt_offset: off.into(),
                ..SystemClock::default()
            };
            assert_eq!(c.utc_ms(), None, "{date} {time} {off}");
        }
    }

    fn record(pairs: &[(&str, &str)]) -> Record {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Word::from(*v)))
            .collect()
    }

    #[test]
    fn a_name_that_is_not_utf8_keeps_its_bytes_and_a_bad_number_names_its_key() {
        let mut r = record(&[(".id", "*4"), ("comment", "made in WinBox")]);
        r.insert("name".into(), Word::new(b"Ren\xe9".to_vec()));
        let u = HotspotUser::from_record(&r).unwrap();
        assert_eq!(u.name.as_bytes(), b"Ren\xe9");
        assert_eq!(u.name.to_string(), "Ren\u{FFFD}");
        r.insert("bytes-in".into(), Word::new(b"1\xff".to_vec()));
        assert_eq!(HotspotUser::from_record(&r).unwrap_err().key, "bytes-in");
    }

    #[test]
    fn the_v7_rest_user_dump_reads_into_a_user() {
        // routeros-reference.md §4.1, TF resource_ip_hotspot_user.go
        let r = record(&[
            (".id", "*1"),
            ("address", "0.0.0.1"),
            ("bytes-in", "0"),
            ("bytes-out", "0"),
            ("disabled", "false"),
            ("dynamic", "false"),
            ("limit-bytes-in", "100"),
            ("limit-bytes-out", "200"),
            ("limit-bytes-total", "500"),
            ("limit-uptime", "1m"),
            ("name", "user1"),
            ("password", "123"),
            ("profile", "default"),
            ("uptime", "0s"),
        ]);
        let u = HotspotUser::from_record(&r).unwrap();
        assert_eq!(u.id, "*1");
        assert_eq!(u.limit_uptime, Some(Duration::from_secs(60)));
        assert_eq!(u.limit_bytes_total, Some(500));
        assert_eq!(u.limit_bytes_in, Some(100));
        assert!(!u.disabled);
        assert_eq!(u.password.as_deref(), Some("123"));
    }

    #[test]
    fn codes_with_leading_zeros_stay_strings() {
        let u = HotspotUser::from_record(&record(&[(".id", "*2"), ("name", "007")])).unwrap();
        assert_eq!(u.name, "007");
    }

    #[test]
    fn old_clock_forms_and_yes_no_read_too() {
        let r = record(&[
            (".id", "*3"),
            ("name", "a"),
            ("uptime", "1w2d03:04:05"),
            ("disabled", "yes"),
        ]);
        let u = HotspotUser::from_record(&r).unwrap();
        assert_eq!(
            u.uptime,
            Duration::from_secs(9 * 86400 + 3 * 3600 + 4 * 60 + 5)
        );
        assert!(u.disabled);
    }

    #[test]
    fn garbage_values_are_refused_with_the_key() {
        let err = HotspotUser::from_record(&record(&[("bytes-in", "lots")])).unwrap_err();
        assert_eq!(err.key, "bytes-in");
        let err = HotspotUser::from_record(&record(&[("disabled", "maybe")])).unwrap_err();
        assert_eq!(err.key, "disabled");
    }

    #[test]
    fn the_v7_profile_dump_reads_and_unset_times_are_not_sent() {
        let r = record(&[
            (".id", "*1"),
            ("name", "uprof1"),
            ("idle-timeout", "none"),
            ("keepalive-timeout", "2m"),
            ("rate-limit", "1"),
            ("session-timeout", "1s"),
            ("shared-users", "1"),
        ]);
        let p = UserProfile::from_record(&r).unwrap();
        assert_eq!(p.idle_timeout, None);
        assert_eq!(p.keepalive_timeout, Some(Duration::from_secs(120)));
        assert_eq!(p.shared_users, Some(1));
        let attrs = UserProfile {
            name: "x".into(),
            ..UserProfile::default()
        }
        .to_attrs();
        assert!(
            attrs.iter().all(|(k, _)| k != "session-timeout"),
            "{attrs:?}"
        );
        assert!(
            attrs.iter().all(|(k, _)| !k.starts_with("limit-")),
            "{attrs:?}"
        );
    }

    #[test]
    fn new_user_puts_limits_on_the_user_in_router_form() {
        let attrs = NewUser {
            name: "ABCD".into(),
            password: "ABCD".into(),
            profile: "kiosk".into(),
            limit_uptime: Some(Duration::from_secs(3600)),
            limit_bytes_total: Some(1 << 30),
            comment: Some("hsa:site:42".into()),
            ..NewUser::default()
        }
        .to_attrs();
        assert!(attrs.contains(&("limit-uptime".into(), "1h".into())));
        assert!(attrs.contains(&("limit-bytes-total".into(), "1073741824".into())));
    }
}
