//! How the simulator prints its items: table rows with their read-only properties,
//! and the `/system` singletons (resource, identity, clock with the date format of
//! the simulated version, routeros-reference.md §4.6 and §7).

use std::time::{Duration, Instant};

use super::menus::Menu;
use super::state::{format_id, Row, State};
use routeros_proto::{Record, Word};

fn to_ros(d: Duration) -> String {
    routeros_proto::format_duration(d)
}

/// A table row as `print` shows it.
pub(crate) fn render_row(state: &State, menu: Menu, row: &Row) -> Record {
    let mut r = row.fields.clone();
    r.insert(".id".into(), format_id(row.id).into());
    match menu {
        Menu::User => {
            row.counters.render(&mut r);
            r.insert("dynamic".into(), Word::from("false"));
            r.insert("default".into(), row.builtin.to_string().into());
        }
        Menu::Profile => {
            r.insert("default".into(), row.builtin.to_string().into());
        }
        Menu::Active => {
            row.counters.render(&mut r);
            r.insert("idle-time".into(), Word::from("0s"));
            if let Some(user) = row.link.and_then(|id| state.users.rows.get(&id)) {
                if let Ok(limit) = routeros_proto::read_duration(user.text("limit-uptime")) {
                    let left = limit.saturating_sub(user.counters.uptime);
                    r.insert("session-time-left".into(), to_ros(left).into());
                }
                for key in ["limit-bytes-in", "limit-bytes-out", "limit-bytes-total"] {
                    if let Some(v) = user.fields.get(key) {
                        r.insert(key.into(), v.clone());
                    }
                }
            }
        }
        Menu::Host => {
            row.counters.render(&mut r);
            r.insert("idle-time".into(), Word::from("0s"));
            r.insert("dynamic".into(), Word::from("true"));
        }
        Menu::Server => {
            r.insert("HTTPS".into(), Word::from("false"));
            r.insert("invalid".into(), Word::from("false"));
            r.insert("proxy-status".into(), Word::from("running"));
        }
        Menu::Logging | Menu::LoggingAction => {
            r.insert("default".into(), row.builtin.to_string().into());
        }
        _ => {}
    }
    r
}

fn record(pairs: &[(&str, String)]) -> Record {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Word::from(v)))
        .collect()
}

/// The one item of a singleton menu.
pub(crate) fn render_singleton(state: &State, menu: Menu, now: Instant) -> Record {
    match menu {
        Menu::Resource => {
            let uptime = now.saturating_duration_since(state.booted);
            let build = format_datetime(
                state.wall_clock(state.booted).saturating_sub(30 * 86_400),
                state.version.iso_dates(),
            );
            record(&[
                ("uptime", to_ros(Duration::from_secs(uptime.as_secs()))),
                ("version", state.version.text.clone()),
                ("build-time", build),
                ("factory-software", "6.44.6".into()),
                ("free-memory", "201326592".into()),
                ("total-memory", "268435456".into()),
                ("cpu", "QEMU".into()),
                ("cpu-count", "1".into()),
                ("cpu-frequency", "2400".into()),
                ("cpu-load", "1".into()),
                ("free-hdd-space", "83886080".into()),
                ("total-hdd-space", "100663296".into()),
                ("write-sect-since-reboot", "0".into()),
                ("write-sect-total", "0".into()),
                ("architecture-name", "x86_64".into()),
                ("board-name", "CHR".into()),
                ("platform", "MikroTik".into()),
            ])
        }
        Menu::Identity => Record::from([("name".to_string(), state.identity.clone())]),
        Menu::Clock => {
            let secs = state.wall_clock(now);
            let datetime = format_datetime(secs, state.version.iso_dates());
            let (date, time) = datetime.split_once(' ').unwrap_or((datetime.as_str(), ""));
            record(&[
                ("time", time.to_string()),
                ("date", date.to_string()),
                ("time-zone-name", "UTC".into()),
                ("time-zone-autodetect", "false".into()),
                ("gmt-offset", "+00:00".into()),
                ("dst-active", "false".into()),
            ])
        }
        Menu::Routerboard => super::tool_menus::routerboard(state),
        _ => Record::new(),
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// `2023-07-14 13:43:12` (7.10+) or `jul/14/2023 13:43:12` (older), §7.
pub(crate) fn format_datetime(unix_secs: u64, iso: bool) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let (y, m, d) = hotspot_clock::civil_from_days(days);
    let time = format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    if iso {
        format!("{y:04}-{m:02}-{d:02} {time}")
    } else {
        format!("{}/{d:02}/{y:04} {time}", MONTHS[(m - 1) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_use_the_format_of_the_version() {
        // 2023-07-14 13:43:12 UTC = 1689342192
        assert_eq!(format_datetime(1_689_342_192, true), "2023-07-14 13:43:12");
        assert_eq!(
            format_datetime(1_689_342_192, false),
            "jul/14/2023 13:43:12"
        );
        assert_eq!(format_datetime(0, true), "1970-01-01 00:00:00");
        // A leap day: 2024-02-29 00:00:00 UTC = 1709164800
        assert_eq!(
            format_datetime(1_709_164_800, false),
            "feb/29/2024 00:00:00"
        );
    }
}
