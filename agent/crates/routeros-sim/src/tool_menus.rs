//! The menus beyond the hotspot that operators' own tools read on every dashboard
//! and profile page (Mikhmon, the PHP and node clients' examples): routerboard,
//! logging rules and actions, the log, scripts, the scheduler, interfaces, simple
//! queues, IP pools and hotspot cookies. Their writable properties, the defaults a
//! fresh router and an `add` give them, and the rows a fresh router has.
//!
//! Property names are RouterOS's (RAML 7.22.3 for `/system/routerboard`: `model`,
//! `firmware-type`, `upgrade-firmware`, `serial-number`, `current-firmware`,
//! `factory-firmware`, `routerboard`, and the optional `board-name`, `revision`).
//! Where the sources do not say, the choices are written in the crate documentation.

use std::time::Instant;

use super::menus::Menu;
use super::records::format_datetime;
use super::state::{Row, State, Table};
use super::values::Kind;
use routeros_proto::{Record, Word};

/// The policy a new script or scheduler entry gets (RouterOS's default set).
pub(crate) const DEFAULT_POLICY: &str =
    "ftp,reboot,read,write,policy,test,password,sniff,sensitive,romon";

const LOGGING_FIELDS: &[(&str, Kind)] = &[
    ("topics", Kind::Text),
    ("prefix", Kind::Text),
    ("action", Kind::Text),
    ("disabled", Kind::Bool),
];

const TARGETS: &[&str] = &["disk", "echo", "email", "memory", "remote"];

const LOGGING_ACTION_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("target", Kind::OneOf(TARGETS)),
    ("memory-lines", Kind::Count { min: 1, max: 65535 }),
    ("memory-stop-on-full", Kind::Bool),
    ("disk-file-name", Kind::Text),
    ("disk-lines-per-file", Kind::Count { min: 1, max: 65535 }),
    ("disk-file-count", Kind::Count { min: 1, max: 65535 }),
    ("disk-stop-on-full", Kind::Bool),
    ("remote", Kind::Text),
    ("remote-port", Kind::Count { min: 1, max: 65535 }),
    ("src-address", Kind::Text),
    ("bsd-syslog", Kind::Bool),
    ("syslog-facility", Kind::Text),
    ("syslog-severity", Kind::Text),
    ("syslog-time-format", Kind::Text),
    ("remember", Kind::Bool),
    ("email-to", Kind::Text),
    ("email-start-tls", Kind::Bool),
];

const SCRIPT_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("owner", Kind::Text),
    ("policy", Kind::Text),
    ("dont-require-permissions", Kind::Bool),
    ("source", Kind::Text),
    ("comment", Kind::Text),
];

const SCHEDULER_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("start-date", Kind::Text),
    ("start-time", Kind::Text),
    ("interval", Kind::Time { none_ok: false }),
    ("on-event", Kind::Text),
    ("policy", Kind::Text),
    ("comment", Kind::Text),
    ("disabled", Kind::Bool),
];

const INTERFACE_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("mtu", Kind::Text),
    ("l2mtu", Kind::Text),
    ("comment", Kind::Text),
    ("disabled", Kind::Bool),
];

const QUEUE_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("target", Kind::Text),
    ("dst", Kind::Text),
    ("max-limit", Kind::Text),
    ("limit-at", Kind::Text),
    ("burst-limit", Kind::Text),
    ("burst-threshold", Kind::Text),
    ("burst-time", Kind::Text),
    ("parent", Kind::Text),
    ("queue", Kind::Text),
    ("priority", Kind::Text),
    ("comment", Kind::Text),
    ("disabled", Kind::Bool),
];

const POOL_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("ranges", Kind::Text),
    ("next-pool", Kind::Text),
    ("comment", Kind::Text),
];

/// Writable properties of the menus in this module.
pub(crate) fn fields(menu: Menu) -> &'static [(&'static str, Kind)] {
    match menu {
        Menu::Logging => LOGGING_FIELDS,
        Menu::LoggingAction => LOGGING_ACTION_FIELDS,
        Menu::Script => SCRIPT_FIELDS,
        Menu::Scheduler => SCHEDULER_FIELDS,
        Menu::Interface => INTERFACE_FIELDS,
        Menu::SimpleQueue => QUEUE_FIELDS,
        Menu::Pool => POOL_FIELDS,
        _ => &[],
    }
}

/// How an item of a menu is named on `add`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Naming {
    /// `name` is required and unique.
    Required,
    /// `name` is unique; without one the router picks `<prefix><n>` (`queue1`).
    Auto(&'static str),
    /// Items have no name (logging rules).
    Unnamed,
}

/// How `add` names items of `menu`.
pub(crate) fn naming(menu: Menu) -> Naming {
    match menu {
        Menu::SimpleQueue => Naming::Auto("queue"),
        Menu::Logging => Naming::Unnamed,
        _ => Naming::Required,
    }
}

fn put(r: &mut Record, pairs: &[(&str, &str)]) {
    for (k, v) in pairs {
        r.entry((*k).to_string()).or_insert_with(|| Word::from(*v));
    }
}

/// `2026-12-01` and `13:43:12` (7.10+), or `dec/01/2026` and `13:43:12`, now.
pub(crate) fn date_and_time(state: &State, now: Instant) -> (String, String) {
    let text = format_datetime(state.wall_clock(now), state.version.iso_dates());
    match text.split_once(' ') {
        Some((d, t)) => (d.to_string(), t.to_string()),
        None => (text, String::new()),
    }
}

/// Fills in what `add` leaves to the router, after the given properties.
pub(crate) fn add_defaults(state: &State, menu: Menu, fields: &mut Record, now: Instant) {
    match menu {
        Menu::Logging => put(fields, &[("action", "memory"), ("disabled", "false")]),
        Menu::LoggingAction => {
            let target = fields
                .get("target")
                .and_then(Word::text)
                .unwrap_or("memory");
            let defaults: &[(&str, &str)] = match target {
                "disk" => &[
                    ("disk-file-name", "log"),
                    ("disk-lines-per-file", "1000"),
                    ("disk-file-count", "2"),
                    ("disk-stop-on-full", "false"),
                ],
                "echo" => &[("remember", "true")],
                "remote" => &[
                    ("remote", "0.0.0.0"),
                    ("remote-port", "514"),
                    ("src-address", "0.0.0.0"),
                    ("bsd-syslog", "false"),
                    ("syslog-time-format", "bsd-syslog"),
                    ("syslog-facility", "daemon"),
                    ("syslog-severity", "auto"),
                ],
                "email" => &[("email-to", ""), ("email-start-tls", "false")],
                _ => &[("memory-lines", "1000"), ("memory-stop-on-full", "false")],
            };
            put(fields, &[("target", "memory")]);
            put(fields, defaults);
        }
        Menu::Script => {
            put(
                fields,
                &[
                    ("owner", &state.login_user),
                    ("policy", DEFAULT_POLICY),
                    ("dont-require-permissions", "false"),
                    ("source", ""),
                    ("run-count", "0"),
                    ("invalid", "false"),
                ],
            );
        }
        Menu::Scheduler => {
            // Without a start the entry starts now (the date in the version's format).
            let (date, time) = date_and_time(state, now);
            put(
                fields,
                &[
                    ("start-date", &date),
                    ("start-time", &time),
                    ("interval", "0s"),
                    ("on-event", ""),
                    ("owner", &state.login_user),
                    ("policy", DEFAULT_POLICY),
                    ("run-count", "0"),
                    ("disabled", "false"),
                ],
            );
        }
        Menu::SimpleQueue => put(
            fields,
            &[
                ("target", ""),
                ("parent", "none"),
                ("packet-marks", ""),
                ("priority", "8/8"),
                ("queue", "default-small/default-small"),
                ("limit-at", "0/0"),
                ("max-limit", "0/0"),
                ("burst-limit", "0/0"),
                ("burst-threshold", "0/0"),
                ("burst-time", "0s/0s"),
                ("invalid", "false"),
                ("dynamic", "false"),
                ("disabled", "false"),
            ],
        ),
        Menu::Pool => put(fields, &[("next-pool", "none")]),
        _ => {}
    }
}

fn row(pairs: &[(&str, &str)]) -> Row {
    Row {
        fields: pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), Word::from(*v)))
            .collect(),
        ..Row::default()
    }
}

fn interface(name: &str, kind: &str, mac: &str) -> Row {
    let mut r = row(&[
        ("name", name),
        ("type", kind),
        ("mtu", if kind == "bridge" { "auto" } else { "1500" }),
        ("actual-mtu", "1500"),
        ("mac-address", mac),
        ("running", "true"),
        ("disabled", "false"),
        ("link-downs", "0"),
        ("rx-byte", "0"),
        ("tx-byte", "0"),
        ("rx-packet", "0"),
        ("tx-packet", "0"),
    ]);
    if kind == "ether" {
        r.fields.insert("l2mtu".into(), "1598".into());
        r.fields.insert("max-l2mtu".into(), "9796".into());
    }
    r
}

/// The tables of this module on a fresh router.
pub(crate) fn fresh_tables() -> Vec<(Menu, Table)> {
    let mut logging = Table::starting_at(4);
    for (id, topics, action) in [
        (0, "info", "memory"),
        (1, "error", "memory"),
        (2, "warning", "memory"),
        (3, "critical", "echo"),
    ] {
        logging.insert_builtin(
            id,
            row(&[
                ("topics", topics),
                ("action", action),
                ("prefix", ""),
                ("invalid", "false"),
                ("disabled", "false"),
            ]),
        );
    }
    let mut actions = Table::starting_at(4);
    for (id, pairs) in [
        (
            0,
            &[
                ("name", "memory"),
                ("target", "memory"),
                ("memory-lines", "1000"),
                ("memory-stop-on-full", "false"),
            ][..],
        ),
        (
            1,
            &[
                ("name", "disk"),
                ("target", "disk"),
                ("disk-file-name", "log"),
                ("disk-lines-per-file", "1000"),
                ("disk-file-count", "2"),
                ("disk-stop-on-full", "false"),
            ][..],
        ),
        (
            2,
            &[("name", "echo"), ("target", "echo"), ("remember", "true")][..],
        ),
        (
            3,
            &[
                ("name", "remote"),
                ("target", "remote"),
                ("remote", "0.0.0.0"),
                ("remote-port", "514"),
                ("src-address", "0.0.0.0"),
                ("bsd-syslog", "false"),
                ("syslog-time-format", "bsd-syslog"),
                ("syslog-facility", "daemon"),
                ("syslog-severity", "auto"),
            ][..],
        ),
    ] {
        actions.insert_builtin(id, row(pairs));
    }
    let mut interfaces = Table::starting_at(1);
    interfaces.insert(interface("ether1", "ether", "02:00:00:AA:00:01"));
    interfaces.insert(interface("ether2", "ether", "02:00:00:AA:00:02"));
    interfaces.insert(interface("bridge", "bridge", "02:00:00:AA:00:02"));
    let mut pools = Table::starting_at(1);
    pools.insert(row(&[
        ("name", "hs-pool-1"),
        ("ranges", "10.5.50.2-10.5.50.254"),
        ("next-pool", "none"),
    ]));
    vec![
        (Menu::Logging, logging),
        (Menu::LoggingAction, actions),
        (Menu::Log, Table::starting_at(1)),
        (Menu::Script, Table::starting_at(1)),
        (Menu::Scheduler, Table::starting_at(1)),
        (Menu::Interface, interfaces),
        (Menu::SimpleQueue, Table::starting_at(1)),
        (Menu::Pool, pools),
        (Menu::Cookie, Table::starting_at(1)),
    ]
}

/// `/system/routerboard print`: a hAP ac² (v7 adds `board-name` and `revision`).
pub(crate) fn routerboard(state: &State) -> Record {
    let number = state
        .version
        .text
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    let mut pairs = vec![
        ("routerboard", "true".to_string()),
        ("model", "RBD52G-5HacD2HnD".to_string()),
        ("serial-number", "D4E60B2A91C7".to_string()),
        ("firmware-type", "ipq4000L".to_string()),
        ("factory-firmware", "6.45.9".to_string()),
        ("current-firmware", number.clone()),
        ("upgrade-firmware", number),
    ];
    if state.version.version.major >= 7 {
        pairs.push(("board-name", "hAP ac^2".to_string()));
        pairs.push(("revision", "r2".to_string()));
    }
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), Word::from(v)))
        .collect()
}

/// Appends a line to `/log` (the simulator keeps the last 1,000, as the default
/// `memory` action does).
pub(crate) fn log(state: &mut State, now: Instant, topics: &str, message: Word) {
    let (_, time) = date_and_time(state, now);
    let Some(table) = state.extra.get_mut(&Menu::Log) else {
        return;
    };
    let mut r = row(&[("time", &time), ("topics", topics)]);
    r.fields.insert("message".into(), message);
    let id = table.insert(r);
    while table.rows.len() > 1000 {
        let Some(oldest) = table.rows.keys().next().copied() else {
            break;
        };
        table.remove(oldest);
    }
    state.changed(Menu::Log, id, false);
}

/// A hotspot cookie for a login, when the user's profile adds MAC cookies.
pub(crate) fn add_cookie(state: &mut State, user: &Word, mac: &str, profile: &Word) {
    let Some(p) = state.profiles.by_name(profile) else {
        return;
    };
    if p.get("add-mac-cookie") != "true" {
        return;
    }
    let expires = p.text("mac-cookie-timeout").to_string();
    let Some(table) = state.extra.get_mut(&Menu::Cookie) else {
        return;
    };
    if table.rows.values().any(|c| c.get("mac-address") == mac) {
        return;
    }
    let mut r = row(&[
        ("mac-address", mac),
        ("domain", ""),
        ("expires-in", &expires),
    ]);
    r.fields.insert("user".into(), user.clone());
    let id = table.insert(r);
    state.changed(Menu::Cookie, id, false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::tests::{run, state_of as state};
    use crate::outcome::Outcome;

    fn first_trap(o: &Outcome) -> String {
        match o {
            Outcome::Traps(t) => t[0].message.clone(),
            other => panic!("expected a trap, got {other:?}"),
        }
    }

    #[test]
    fn a_scheduler_entry_starts_now_in_the_date_form_of_the_version() {
        for (version, iso) in [("6.49", false), ("7.18", true)] {
            let mut s = state(version);
            run(
                &mut s,
                &["/system/scheduler/add", "=name=j", "=interval=5m"],
            );
            let row = s.extra[&Menu::Scheduler].by_name("j").unwrap();
            let date = row.text("start-date");
            assert_eq!(date.as_bytes()[4] == b'-', iso, "{version}: {date}");
            assert_eq!(row.text("interval"), "5m");
            assert_eq!(row.text("owner"), "admin");
        }
    }

    #[test]
    fn default_logging_actions_stay_and_added_ones_go() {
        let mut s = state("7.18");
        let o = run(&mut s, &["/system/logging/action/remove", "=.id=memory"]);
        assert_eq!(first_trap(&o), "failure: default item can not be removed");
        run(
            &mut s,
            &["/system/logging/action/add", "=name=mk", "=target=disk"],
        );
        let row = s.extra[&Menu::LoggingAction].by_name("mk").unwrap();
        assert_eq!(row.text("disk-file-name"), "log");
        let o = run(
            &mut s,
            &["/system/logging/action/add", "=name=mk", "=target=echo"],
        );
        assert_eq!(first_trap(&o), "failure: already have such name");
        let o = run(
            &mut s,
            &["/system/logging/action/add", "=name=x", "=target=tape"],
        );
        assert_eq!(first_trap(&o), "input does not match any value of target");
        run(&mut s, &["/system/logging/action/remove", "=.id=mk"]);
        assert!(s.extra[&Menu::LoggingAction].by_name("mk").is_none());
    }

    #[test]
    fn simple_queues_are_named_like_the_router_names_them() {
        let mut s = state("7.18");
        run(&mut s, &["/queue/simple/add", "=target=10.5.50.2/32"]);
        run(&mut s, &["/queue/simple/add", "=target=10.5.50.3/32"]);
        let names: Vec<&str> = s.extra[&Menu::SimpleQueue]
            .rows
            .values()
            .map(|r| r.text("name"))
            .collect();
        assert_eq!(names, ["queue1", "queue2"]);
    }

    #[test]
    fn a_hotspot_login_writes_the_log_and_a_mac_cookie() {
        let mut s = state("7.18");
        run(&mut s, &["/ip/hotspot/user/add", "=name=v1", "=password=p"]);
        let o = run(
            &mut s,
            &[
                "/ip/hotspot/active/login",
                "=user=v1",
                "=password=p",
                "=mac-address=02:00:00:00:00:07",
            ],
        );
        assert!(matches!(o, Outcome::Done { .. }), "{o:?}");
        let log = &s.extra[&Menu::Log];
        let line = log.rows.values().last().unwrap();
        assert_eq!(line.text("topics"), "hotspot,account,info,debug");
        assert!(line.text("message").starts_with("v1 (10.5."), "{line:?}");
        let cookie = s.extra[&Menu::Cookie].rows.values().next().unwrap();
        assert_eq!(cookie.text("user"), "v1");
        assert_eq!(cookie.text("expires-in"), "3d");
        run(&mut s, &["/log/warning", "=message=from a script"]);
        let line = s.extra[&Menu::Log].rows.values().last().unwrap();
        assert_eq!(line.text("topics"), "script,warning");
    }

    #[test]
    fn the_routerboard_has_board_name_on_v7_only() {
        let v6 = routerboard(&state("6.49"));
        let v7 = routerboard(&state("7.18"));
        assert!(!v6.contains_key("board-name") && v7.contains_key("board-name"));
        assert_eq!(v7["current-firmware"], "7.18");
        assert_eq!(v6["routerboard"], "true");
    }
}
