//! The menus the simulator knows, their commands and writable properties, how a
//! command word resolves to a menu (with CLI-style unambiguous prefixes), and how
//! values are checked with RouterOS's own error texts (routeros-reference.md §4, §5).

use routeros_proto::{Record, Word};

/// A menu of the simulated router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Menu {
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
    /// `/system/routerboard` (one item)
    Routerboard,
    /// `/system/logging`: which topics go to which action
    Logging,
    /// `/system/logging/action`
    LoggingAction,
    /// `/log`
    Log,
    /// `/system/script`
    Script,
    /// `/system/scheduler`
    Scheduler,
    /// `/interface`
    Interface,
    /// `/queue/simple`
    SimpleQueue,
    /// `/ip/pool`
    Pool,
    /// `/ip/hotspot/cookie`
    Cookie,
}

/// An error as a `!trap` (API) or a 400 `detail` (REST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trap {
    /// `=category=`, when RouterOS sends one.
    pub category: Option<u8>,
    /// `=message=`, RouterOS's own words.
    pub message: String,
}

impl Trap {
    /// A trap without a category.
    pub(crate) fn new(message: impl Into<String>) -> Trap {
        Trap {
            category: None,
            message: message.into(),
        }
    }

    /// An argument value failure (category 1, as in the DOC-API example).
    pub(crate) fn argument(message: impl Into<String>) -> Trap {
        Trap {
            category: Some(1),
            message: message.into(),
        }
    }

    /// `no such item (4)`: an unknown id on set/remove.
    pub(crate) fn no_such_item() -> Trap {
        Trap::new("no such item (4)")
    }

    /// `interrupted` (category 2): a cancelled command (DOC-API `/cancel`).
    pub(crate) fn interrupted() -> Trap {
        Trap {
            category: Some(2),
            message: "interrupted".into(),
        }
    }

    /// `unknown parameter <name>`.
    pub(crate) fn unknown_parameter(name: &str) -> Trap {
        Trap::new(format!("unknown parameter {name}"))
    }
}

/// The two traps RouterOS sends for an unknown command or path (§5).
pub(crate) fn no_such_command(segment: &str) -> Vec<Trap> {
    vec![
        Trap {
            category: Some(0),
            message: format!("no such command or directory ({segment})"),
        },
        Trap::new("no such command prefix"),
    ]
}

/// Arguments `print` accepts (RAML 7.22.3 `ip/hotspot/user/print`); the simulator
/// acts on `.proplist`, `count-only`, `follow`, `follow-only` and ignores the rest.
pub(crate) const PRINT_ARGS: &[&str] = &[
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
    pub(crate) const ALL: [Menu; 18] = [
        Menu::User,
        Menu::Profile,
        Menu::Active,
        Menu::Host,
        Menu::Server,
        Menu::Resource,
        Menu::Identity,
        Menu::Clock,
        Menu::Routerboard,
        Menu::Logging,
        Menu::LoggingAction,
        Menu::Log,
        Menu::Script,
        Menu::Scheduler,
        Menu::Interface,
        Menu::SimpleQueue,
        Menu::Pool,
        Menu::Cookie,
    ];

    /// The menu path's components.
    pub(crate) fn components(self) -> &'static [&'static str] {
        match self {
            Menu::User => &["ip", "hotspot", "user"],
            Menu::Profile => &["ip", "hotspot", "user", "profile"],
            Menu::Active => &["ip", "hotspot", "active"],
            Menu::Host => &["ip", "hotspot", "host"],
            Menu::Server => &["ip", "hotspot"],
            Menu::Resource => &["system", "resource"],
            Menu::Identity => &["system", "identity"],
            Menu::Clock => &["system", "clock"],
            Menu::Routerboard => &["system", "routerboard"],
            Menu::Logging => &["system", "logging"],
            Menu::LoggingAction => &["system", "logging", "action"],
            Menu::Log => &["log"],
            Menu::Script => &["system", "script"],
            Menu::Scheduler => &["system", "scheduler"],
            Menu::Interface => &["interface"],
            Menu::SimpleQueue => &["queue", "simple"],
            Menu::Pool => &["ip", "pool"],
            Menu::Cookie => &["ip", "hotspot", "cookie"],
        }
    }

    /// Commands available through the API (`getall` is an alias of `print`).
    pub(crate) fn commands(self) -> &'static [&'static str] {
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
            Menu::Resource | Menu::Routerboard => &["print", "getall"],
            Menu::Identity | Menu::Clock => &["print", "getall", "set"],
            Menu::Logging | Menu::Scheduler | Menu::SimpleQueue => &[
                "print", "getall", "listen", "add", "set", "remove", "enable", "disable",
            ],
            Menu::LoggingAction | Menu::Pool => {
                &["print", "getall", "listen", "add", "set", "remove"]
            }
            Menu::Script => &["print", "getall", "listen", "add", "set", "remove", "run"],
            // `/log info|warning|error|debug =message=` append a line, as `:log` does.
            Menu::Log => &["print", "getall", "info", "warning", "error", "debug"],
            Menu::Interface => &["print", "getall", "listen", "set", "enable", "disable"],
            Menu::Cookie => &["print", "getall", "listen", "remove"],
        }
    }

    /// Whether the menu is one item rather than a table.
    pub(crate) fn is_singleton(self) -> bool {
        matches!(
            self,
            Menu::Resource | Menu::Identity | Menu::Clock | Menu::Routerboard
        )
    }

    /// The menu path, e.g. `/ip/hotspot/user`.
    pub(crate) fn path(self) -> String {
        format!("/{}", self.components().join("/"))
    }
}

/// `given` names `full` exactly or as an unambiguous prefix among `choices`.
pub(crate) fn pick<'a>(
    given: &str,
    choices: impl Iterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
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
pub(crate) fn resolve_menu(parts: &[&str]) -> Result<Menu, String> {
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
pub(crate) fn resolve_command(word: &str) -> Result<(Menu, &'static str), Vec<Trap>> {
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

/// Keeps only the properties in `.proplist`, in its order; without one, all of them.
pub(crate) fn project(record: Record, proplist: Option<&[String]>) -> Vec<(String, Word)> {
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
    use routeros_proto::Record;

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
    fn proplist_keeps_listed_properties_in_order() {
        let r: Record = [("name", "a"), (".id", "*1"), ("uptime", "0s")]
            .iter()
            .map(|(k, v)| (k.to_string(), Word::from(*v)))
            .collect();
        let keys = vec![
            "uptime".to_string(),
            ".id".to_string(),
            "nothere".to_string(),
        ];
        assert_eq!(
            project(r, Some(&keys)),
            vec![
                ("uptime".to_string(), Word::from("0s")),
                (".id".to_string(), Word::from("*1"))
            ]
        );
    }
}
