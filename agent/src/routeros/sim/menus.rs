//! The menus the simulator knows, their commands and writable properties, how a
//! command word resolves to a menu (with CLI-style unambiguous prefixes), and how
//! values are checked with RouterOS's own error texts (routeros-reference.md §4, §5).

use crate::routeros::model::Record;

use super::state::State;

/// A menu of the simulated router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Menu {
    /// `/ip/hotspot/user`
    User,
    /// `/ip/hotspot/user/profile`
    Profile,
    /// `/ip/hotspot/active`
    Active,
    /// `/ip/hotspot/host`
    Host,
    /// `/ip/hotspot`
    Server,
    /// `/system/resource`
    Resource,
    /// `/system/identity`
    Identity,
    /// `/system/clock`
    Clock,
}

/// How a writable property's value is checked and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text.
    Text,
    /// A duration; `none_ok` also accepts `none`.
    Time { none_ok: bool },
    /// A duration where `0` means "no limit" (the property is then left out).
    Limit,
    /// A byte count where `0` means "no limit".
    Bytes,
    /// `yes`/`no`/`true`/`false`, printed `true`/`false`.
    Bool,
    /// The name of a hotspot user profile.
    Profile,
    /// `all` or the name of a hotspot server.
    Server,
    /// A number in range, or `unlimited`.
    Count { min: u32, max: u32 },
    /// One of a fixed set of words.
    OneOf(&'static [&'static str]),
}

/// An error as a `!trap` (API) or a 400 `detail` (REST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    /// `=category=`, when RouterOS sends one.
    pub category: Option<u8>,
    /// `=message=`, RouterOS's own words.
    pub message: String,
}

impl Trap {
    /// A trap without a category.
    pub fn new(message: impl Into<String>) -> Trap {
        Trap {
            category: None,
            message: message.into(),
        }
    }

    /// An argument value failure (category 1, as in the DOC-API example).
    pub fn argument(message: impl Into<String>) -> Trap {
        Trap {
            category: Some(1),
            message: message.into(),
        }
    }

    /// `no such item (4)`: an unknown id on set/remove.
    pub fn no_such_item() -> Trap {
        Trap::new("no such item (4)")
    }

    /// `interrupted` (category 2): a cancelled command (DOC-API `/cancel`).
    pub fn interrupted() -> Trap {
        Trap {
            category: Some(2),
            message: "interrupted".into(),
        }
    }

    /// `unknown parameter <name>`.
    pub fn unknown_parameter(name: &str) -> Trap {
        Trap::new(format!("unknown parameter {name}"))
    }
}

/// The two traps RouterOS sends for an unknown command or path (§5).
pub fn no_such_command(segment: &str) -> Vec<Trap> {
    vec![
        Trap {
            category: Some(0),
            message: format!("no such command or directory ({segment})"),
        },
        Trap::new("no such command prefix"),
    ]
}

const USER_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("password", Kind::Text),
    ("profile", Kind::Profile),
    ("server", Kind::Server),
    ("address", Kind::Text),
    ("mac-address", Kind::Text),
    ("email", Kind::Text),
    ("routes", Kind::Text),
    ("comment", Kind::Text),
    ("disabled", Kind::Bool),
    ("limit-uptime", Kind::Limit),
    ("limit-bytes-in", Kind::Bytes),
    ("limit-bytes-out", Kind::Bytes),
    ("limit-bytes-total", Kind::Bytes),
];

const PROFILE_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("rate-limit", Kind::Text),
    ("shared-users", Kind::Count { min: 1, max: 1000 }),
    ("session-timeout", Kind::Time { none_ok: false }),
    ("idle-timeout", Kind::Time { none_ok: true }),
    ("keepalive-timeout", Kind::Time { none_ok: true }),
    ("status-autorefresh", Kind::Time { none_ok: true }),
    ("mac-cookie-timeout", Kind::Time { none_ok: false }),
    ("add-mac-cookie", Kind::Bool),
    ("address-pool", Kind::Text),
    ("address-list", Kind::Text),
    ("transparent-proxy", Kind::Bool),
    ("on-login", Kind::Text),
    ("on-logout", Kind::Text),
    ("open-status-page", Kind::OneOf(&["http-login", "always"])),
    ("parent-queue", Kind::Text),
    ("queue-type", Kind::Text),
    ("insert-queue-before", Kind::Text),
    ("incoming-filter", Kind::Text),
    ("outgoing-filter", Kind::Text),
    ("incoming-packet-mark", Kind::Text),
    ("outgoing-packet-mark", Kind::Text),
    ("advertise", Kind::Bool),
    ("advertise-interval", Kind::Text),
    ("advertise-timeout", Kind::Text),
    ("advertise-url", Kind::Text),
];

const SERVER_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("interface", Kind::Text),
    ("address-pool", Kind::Text),
    ("profile", Kind::Text),
    ("idle-timeout", Kind::Time { none_ok: true }),
    ("keepalive-timeout", Kind::Time { none_ok: true }),
    ("login-timeout", Kind::Time { none_ok: true }),
    ("addresses-per-mac", Kind::Count { min: 1, max: 1000 }),
    ("disabled", Kind::Bool),
];

const IDENTITY_FIELDS: &[(&str, Kind)] = &[("name", Kind::Text)];
const CLOCK_FIELDS: &[(&str, Kind)] = &[
    ("time-zone-name", Kind::Text),
    ("time-zone-autodetect", Kind::Bool),
];

/// Arguments `print` accepts (RAML 7.22.3 `ip/hotspot/user/print`); the simulator
/// acts on `.proplist`, `count-only`, `follow`, `follow-only` and ignores the rest.
pub const PRINT_ARGS: &[&str] = &[
    ".proplist",
    "proplist",
    "append",
    "as-value",
    "brief",
    "bytes",
    "comments",
    "count-only",
    "detail",
    "file",
    "follow",
    "follow-only",
    "from",
    "group-by",
    "interval",
    "packets",
    "show-ids",
    "show-sensitive",
    "terse",
    "timestamp",
    "value-list",
    "without-paging",
    "stats",
];

impl Menu {
    /// Every menu.
    pub const ALL: [Menu; 8] = [
        Menu::User,
        Menu::Profile,
        Menu::Active,
        Menu::Host,
        Menu::Server,
        Menu::Resource,
        Menu::Identity,
        Menu::Clock,
    ];

    /// The menu path's components.
    pub fn components(self) -> &'static [&'static str] {
        match self {
            Menu::User => &["ip", "hotspot", "user"],
            Menu::Profile => &["ip", "hotspot", "user", "profile"],
            Menu::Active => &["ip", "hotspot", "active"],
            Menu::Host => &["ip", "hotspot", "host"],
            Menu::Server => &["ip", "hotspot"],
            Menu::Resource => &["system", "resource"],
            Menu::Identity => &["system", "identity"],
            Menu::Clock => &["system", "clock"],
        }
    }

    /// Commands available through the API (`getall` is an alias of `print`).
    pub fn commands(self) -> &'static [&'static str] {
        match self {
            Menu::User => &[
                "print",
                "getall",
                "listen",
                "add",
                "set",
                "remove",
                "enable",
                "disable",
                "reset-counters",
            ],
            Menu::Profile => &["print", "getall", "listen", "add", "set", "remove"],
            Menu::Active => &["print", "getall", "listen", "remove", "login"],
            Menu::Host => &["print", "getall", "listen", "remove"],
            Menu::Server => &[
                "print", "getall", "listen", "add", "set", "remove", "enable", "disable",
            ],
            Menu::Resource => &["print", "getall"],
            Menu::Identity | Menu::Clock => &["print", "getall", "set"],
        }
    }

    /// Writable properties and how they are checked.
    pub fn fields(self) -> &'static [(&'static str, Kind)] {
        match self {
            Menu::User => USER_FIELDS,
            Menu::Profile => PROFILE_FIELDS,
            Menu::Server => SERVER_FIELDS,
            Menu::Identity => IDENTITY_FIELDS,
            Menu::Clock => CLOCK_FIELDS,
            Menu::Active | Menu::Host | Menu::Resource => &[],
        }
    }

    /// Whether the menu is one item rather than a table.
    pub fn is_singleton(self) -> bool {
        matches!(self, Menu::Resource | Menu::Identity | Menu::Clock)
    }

    /// The menu path, e.g. `/ip/hotspot/user`.
    pub fn path(self) -> String {
        format!("/{}", self.components().join("/"))
    }
}

/// `given` names `full` exactly or as an unambiguous prefix among `choices`.
fn pick<'a>(given: &str, choices: impl Iterator<Item = &'a str> + Clone) -> Option<&'a str> {
    if let Some(exact) = choices.clone().find(|c| *c == given) {
        return Some(exact);
    }
    let mut found = choices.filter(|c| !given.is_empty() && c.starts_with(given));
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// Resolves the components of a menu path (no command), e.g. `["ip", "hotspot", "user"]`.
/// On failure returns the component that matched nothing, or `""` when every
/// component matched but they name a directory (`/ip`), not a menu.
pub fn resolve_menu(parts: &[&str]) -> Result<Menu, String> {
    let mut candidates: Vec<Menu> = Menu::ALL.to_vec();
    let mut resolved: Vec<&'static str> = Vec::new();
    for (depth, part) in parts.iter().enumerate() {
        let mut choices: Vec<&'static str> = candidates
            .iter()
            .filter_map(|m| m.components().get(depth).copied())
            .collect();
        choices.sort_unstable();
        choices.dedup();
        let Some(chosen) = pick(part, choices.iter().copied()) else {
            return Err(part.to_string());
        };
        resolved.push(chosen);
        candidates.retain(|m| m.components().get(depth) == Some(&chosen));
    }
    Menu::ALL
        .into_iter()
        .find(|m| m.components() == resolved.as_slice())
        .ok_or_else(String::new)
}

/// Resolves a command word such as `/ip/hotspot/user/print` or `/system/ident/getall`
/// to its menu and command; unknown → the two `no such command` traps.
pub fn resolve_command(word: &str) -> Result<(Menu, &'static str), Vec<Trap>> {
    let parts: Vec<&str> = word.trim_start_matches('/').split('/').collect();
    let Some((command, menu_parts)) = parts.split_last() else {
        return Err(no_such_command(word));
    };
    let menu = resolve_menu(menu_parts)
        .map_err(|seg| no_such_command(if seg.is_empty() { command } else { &seg }))?;
    let command =
        pick(command, menu.commands().iter().copied()).ok_or_else(|| no_such_command(command))?;
    Ok((menu, command))
}

fn bool_value(key: &str, value: &str) -> Result<String, Trap> {
    match value {
        "yes" | "true" => Ok("true".into()),
        "no" | "false" => Ok("false".into()),
        _ => Err(Trap::argument(format!("invalid value for argument {key}"))),
    }
}

fn time_value(key: &str, value: &str, none_ok: bool) -> Result<String, Trap> {
    if none_ok && value == "none" {
        return Ok("none".into());
    }
    firmware_config::Duration::parse(value)
        .map(|d| d.to_routeros())
        .map_err(|_| Trap::argument(format!("invalid time value for argument {key}")))
}

/// Checks one property value and returns what the router stores and prints;
/// `Ok(None)` means "not set" (a zero limit).
pub fn check_value(
    state: &State,
    menu: Menu,
    key: &str,
    value: &str,
) -> Result<Option<String>, Trap> {
    let Some(&(_, kind)) = menu.fields().iter().find(|(k, _)| *k == key) else {
        return Err(Trap::unknown_parameter(key));
    };
    match kind {
        Kind::Text => Ok(Some(value.to_string())),
        Kind::Bool => bool_value(key, value).map(Some),
        Kind::Time { none_ok } => time_value(key, value, none_ok).map(Some),
        Kind::Limit => {
            let v = time_value(key, value, false)?;
            Ok((v != "0s").then_some(v))
        }
        Kind::Bytes => {
            let n = firmware_config::ByteSize::parse(value)
                .map_err(|_| Trap::argument(format!("invalid value for argument {key}")))?
                .0;
            Ok((n != 0).then(|| n.to_string()))
        }
        Kind::Count { min, max } => {
            if value == "unlimited" {
                return Ok(Some(value.into()));
            }
            match value.parse::<u32>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n.to_string())),
                _ => Err(Trap::argument(format!(
                    "value of {key} out of range ({min}..{max})"
                ))),
            }
        }
        Kind::OneOf(words) => pick(value, words.iter().copied())
            .map(|w| Some(w.to_string()))
            .ok_or_else(|| Trap::argument(format!("input does not match any value of {key}"))),
        Kind::Profile => {
            let names = state.profiles.rows.values().map(|r| r.get("name"));
            lookup_name(key, value, names)
        }
        Kind::Server => {
            let names =
                std::iter::once("all").chain(state.servers.rows.values().map(|r| r.get("name")));
            lookup_name(key, value, names)
        }
    }
}

/// Values that name another item: exact, or an unambiguous prefix; several → ambiguous.
fn lookup_name<'a>(
    key: &str,
    value: &str,
    names: impl Iterator<Item = &'a str> + Clone,
) -> Result<Option<String>, Trap> {
    if let Some(exact) = names.clone().find(|n| *n == value) {
        return Ok(Some(exact.to_string()));
    }
    let matching: Vec<&str> = names
        .filter(|n| !value.is_empty() && n.starts_with(value))
        .collect();
    match matching.as_slice() {
        [one] => Ok(Some(one.to_string())),
        [] => Err(Trap::argument(format!(
            "input does not match any value of {key}"
        ))),
        _ => Err(Trap::argument(format!(
            "ambiguous value of {key}, more than one possible value matches input"
        ))),
    }
}

/// Checks every argument of an `add`/`set` (API attributes such as `.id` are skipped)
/// and returns the changes: `Some(value)` to store, `None` to clear.
pub fn check_args(
    state: &State,
    menu: Menu,
    args: &[(String, String)],
) -> Result<Vec<(String, Option<String>)>, Trap> {
    let mut out = Vec::with_capacity(args.len());
    for (k, v) in args {
        if k.starts_with('.') || k == "numbers" {
            continue;
        }
        out.push((k.clone(), check_value(state, menu, k, v)?));
    }
    Ok(out)
}

/// Keeps only the properties in `.proplist`, in its order; without one, all of them.
pub fn project(record: Record, proplist: Option<&[String]>) -> Vec<(String, String)> {
    match proplist {
        None => record.into_iter().collect(),
        Some(keys) => {
            let mut record = record;
            keys.iter().filter_map(|k| record.remove_entry(k)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routeros::sim::state::{SimVersion, State};

    fn state() -> State {
        State::new(
            SimVersion::parse("7.18").unwrap(),
            "admin".into(),
            String::new(),
            std::time::Instant::now(),
        )
    }

    #[test]
    fn command_words_resolve_to_menus_and_commands() {
        assert_eq!(
            resolve_command("/ip/hotspot/user/print"),
            Ok((Menu::User, "print"))
        );
        assert_eq!(
            resolve_command("/ip/hotspot/user/profile/add"),
            Ok((Menu::Profile, "add"))
        );
        assert_eq!(
            resolve_command("/ip/hotspot/print"),
            Ok((Menu::Server, "print"))
        );
        assert_eq!(
            resolve_command("/system/ident/getall"),
            Ok((Menu::Identity, "getall"))
        );
        assert_eq!(
            resolve_command("/system/reso/getall"),
            Ok((Menu::Resource, "getall"))
        );
    }

    #[test]
    fn unknown_paths_give_the_two_traps_naming_the_bad_segment() {
        let traps = resolve_command("/aasasa").unwrap_err();
        assert_eq!(traps[0].message, "no such command or directory (aasasa)");
        assert_eq!(traps[0].category, Some(0));
        assert_eq!(traps[1].message, "no such command prefix");
        let traps = resolve_command("/ip/hotspot/user/frobnicate").unwrap_err();
        assert_eq!(
            traps[0].message,
            "no such command or directory (frobnicate)"
        );
        let traps = resolve_command("/ip/hotspot/active/add").unwrap_err();
        assert_eq!(traps[0].message, "no such command or directory (add)");
    }

    #[test]
    fn limits_on_a_profile_are_unknown_parameters() {
        let s = state();
        for key in ["limit-uptime", "limit-bytes-total", "uptime-limit"] {
            let err = check_value(&s, Menu::Profile, key, "1h").unwrap_err();
            assert_eq!(err.message, format!("unknown parameter {key}"));
        }
        assert!(check_value(&s, Menu::User, "limit-uptime", "1h").is_ok());
    }

    #[test]
    fn a_missing_profile_does_not_match_any_value() {
        let s = state();
        let err = check_value(&s, Menu::User, "profile", "gold").unwrap_err();
        assert_eq!(err.message, "input does not match any value of profile");
        assert_eq!(err.category, Some(1));
        assert_eq!(
            check_value(&s, Menu::User, "profile", "def")
                .unwrap()
                .as_deref(),
            Some("default")
        );
    }

    #[test]
    fn time_values_are_checked_and_normalised() {
        let s = state();
        assert_eq!(
            check_value(&s, Menu::User, "limit-uptime", "")
                .unwrap_err()
                .message,
            "invalid time value for argument limit-uptime"
        );
        assert_eq!(
            check_value(&s, Menu::User, "limit-uptime", "01:00:00")
                .unwrap()
                .as_deref(),
            Some("1h")
        );
        assert_eq!(
            check_value(&s, Menu::User, "limit-uptime", "0s").unwrap(),
            None
        );
        assert!(check_value(&s, Menu::Profile, "session-timeout", "none").is_err());
        assert_eq!(
            check_value(&s, Menu::Profile, "idle-timeout", "none")
                .unwrap()
                .as_deref(),
            Some("none")
        );
    }

    #[test]
    fn byte_limits_and_booleans_are_normalised() {
        let s = state();
        assert_eq!(
            check_value(&s, Menu::User, "limit-bytes-total", "1M")
                .unwrap()
                .as_deref(),
            Some("1048576")
        );
        assert_eq!(
            check_value(&s, Menu::User, "disabled", "yes")
                .unwrap()
                .as_deref(),
            Some("true")
        );
        assert!(check_value(&s, Menu::User, "disabled", "maybe").is_err());
    }

    #[test]
    fn proplist_keeps_listed_properties_in_order() {
        let r: Record = [("name", "a"), (".id", "*1"), ("uptime", "0s")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let keys = vec![
            "uptime".to_string(),
            ".id".to_string(),
            "nothere".to_string(),
        ];
        assert_eq!(
            project(r, Some(&keys)),
            vec![
                ("uptime".to_string(), "0s".to_string()),
                (".id".to_string(), "*1".to_string())
            ]
        );
    }
}
