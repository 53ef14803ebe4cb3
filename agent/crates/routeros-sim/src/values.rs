//! Writable properties of each menu and how their values are checked and stored,
//! with RouterOS's own error texts (`unknown parameter`, `invalid time value for
//! argument`, `input does not match any value of`, routeros-reference.md §4, §5).

use super::menus::{pick, Menu, Trap};
use super::state::State;
use routeros_proto::Word;

/// How a writable property's value is checked and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
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

impl Menu {
    /// Writable properties and how they are checked.
    pub(crate) fn fields(self) -> &'static [(&'static str, Kind)] {
        match self {
            Menu::User => USER_FIELDS,
            Menu::Profile => PROFILE_FIELDS,
            Menu::Server => SERVER_FIELDS,
            Menu::Identity => IDENTITY_FIELDS,
            Menu::Clock => CLOCK_FIELDS,
            other => super::tool_menus::fields(other),
        }
    }
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
    routeros_proto::read_duration(value)
        .map(routeros_proto::format_duration)
        .map_err(|_| Trap::argument(format!("invalid time value for argument {key}")))
}

/// A byte count as the console takes it: digits with an optional `k`, `M`, `G`
/// or `T` (powers of 1024, the choice written down in the crate documentation).
fn byte_count(value: &str) -> Option<u64> {
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = value.split_at(digits);
    let shift = match unit {
        "" => 0,
        "k" | "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    num.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// Checks one property value and returns what the router stores and prints;
/// `Ok(None)` means "not set" (a zero limit). Text and names keep their bytes.
pub(crate) fn check_value(
    state: &State,
    menu: Menu,
    key: &str,
    value: &Word,
) -> Result<Option<Word>, Trap> {
    let Some(&(_, kind)) = menu.fields().iter().find(|(k, _)| *k == key) else {
        return Err(Trap::unknown_parameter(key));
    };
    match kind {
        Kind::Text => Ok(Some(value.clone())),
        Kind::Profile => {
            let names = state
                .profiles
                .rows
                .values()
                .map(|r| r.get("name").as_bytes());
            lookup_name(key, value, names)
        }
        Kind::Server => {
            let names = std::iter::once(&b"all"[..]).chain(
                state
                    .servers
                    .rows
                    .values()
                    .map(|r| r.get("name").as_bytes()),
            );
            lookup_name(key, value, names)
        }
        _ => {
            let text = value
                .text()
                .ok_or_else(|| Trap::argument(format!("invalid value for argument {key}")))?;
            Ok(check_text(key, kind, text)?.map(Word::from))
        }
    }
}

/// Checks a value the router reads as a number, time, flag or keyword.
fn check_text(key: &str, kind: Kind, value: &str) -> Result<Option<String>, Trap> {
    match kind {
        Kind::Bool => bool_value(key, value).map(Some),
        Kind::Time { none_ok } => time_value(key, value, none_ok).map(Some),
        Kind::Limit => {
            let v = time_value(key, value, false)?;
            Ok((v != "0s").then_some(v))
        }
        Kind::Bytes => {
            let n = byte_count(value)
                .ok_or_else(|| Trap::argument(format!("invalid value for argument {key}")))?;
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
        Kind::Text | Kind::Profile | Kind::Server => Ok(Some(value.to_string())),
    }
}

/// Values that name another item: exact, or an unambiguous prefix; several → ambiguous.
/// Names are compared as bytes: `Ren\xe9` is not `René`.
fn lookup_name<'a>(
    key: &str,
    value: &Word,
    names: impl Iterator<Item = &'a [u8]> + Clone,
) -> Result<Option<Word>, Trap> {
    let value = value.as_bytes();
    if let Some(exact) = names.clone().find(|n| *n == value) {
        return Ok(Some(Word::from(exact)));
    }
    let matching: Vec<&[u8]> = names
        .filter(|n| !value.is_empty() && n.starts_with(value))
        .collect();
    match matching.as_slice() {
        [one] => Ok(Some(Word::from(*one))),
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
pub(crate) fn check_args(
    state: &State,
    menu: Menu,
    args: &[(String, Word)],
) -> Result<Vec<(String, Option<Word>)>, Trap> {
    let mut out = Vec::with_capacity(args.len());
    for (k, v) in args {
        if k.starts_with('.') || k == "numbers" {
            continue;
        }
        out.push((k.clone(), check_value(state, menu, k, v)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SimVersion;

    fn state() -> State {
        State::new(
            SimVersion::parse("7.18").unwrap(),
            "admin".into(),
            String::new(),
            std::time::Instant::now(),
        )
    }

    #[test]
    fn limits_on_a_profile_are_unknown_parameters() {
        let s = state();
        for key in ["limit-uptime", "limit-bytes-total", "uptime-limit"] {
            let err = check_value(&s, Menu::Profile, key, &Word::from("1h")).unwrap_err();
            assert_eq!(err.message, format!("unknown parameter {key}"));
        }
        assert!(check_value(&s, Menu::User, "limit-uptime", &Word::from("1h")).is_ok());
    }

    #[test]
    fn a_missing_profile_does_not_match_any_value() {
        let s = state();
        let err = check_value(&s, Menu::User, "profile", &Word::from("gold")).unwrap_err();
        assert_eq!(err.message, "input does not match any value of profile");
        assert_eq!(err.category, Some(1));
        assert_eq!(
            check_value(&s, Menu::User, "profile", &Word::from("def"))
                .unwrap()
                .as_ref()
                .and_then(Word::text),
            Some("default")
        );
    }

    #[test]
    fn time_values_are_checked_and_normalised() {
        let s = state();
        assert_eq!(
            check_value(&s, Menu::User, "limit-uptime", &Word::from(""))
                .unwrap_err()
                .message,
            "invalid time value for argument limit-uptime"
        );
        assert_eq!(
            check_value(&s, Menu::User, "limit-uptime", &Word::from("01:00:00"))
                .unwrap()
                .as_ref()
                .and_then(Word::text),
            Some("1h")
        );
        assert_eq!(
            check_value(&s, Menu::User, "limit-uptime", &Word::from("0s")).unwrap(),
            None
        );
        assert!(check_value(&s, Menu::Profile, "session-timeout", &Word::from("none")).is_err());
        assert_eq!(
            check_value(&s, Menu::Profile, "idle-timeout", &Word::from("none"))
                .unwrap()
                .as_ref()
                .and_then(Word::text),
            Some("none")
        );
    }

    #[test]
    fn byte_limits_and_booleans_are_normalised() {
        let s = state();
        assert_eq!(
            check_value(&s, Menu::User, "limit-bytes-total", &Word::from("1M"))
                .unwrap()
                .as_ref()
                .and_then(Word::text),
            Some("1048576")
        );
        assert_eq!(
            check_value(&s, Menu::User, "disabled", &Word::from("yes"))
                .unwrap()
                .as_ref()
                .and_then(Word::text),
            Some("true")
        );
        assert!(check_value(&s, Menu::User, "disabled", &Word::from("maybe")).is_err());
    }
}
