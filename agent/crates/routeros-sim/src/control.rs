//! Faults and operator actions applied to a running simulator, one line each: what
//! `hotspot-agent sim --console` reads from its standard input and what the fault
//! matrix test applies, so both speak the same words. Parsing is pure;
//! [`SimHandle::apply`] performs a parsed line.

use std::time::Duration;

use routeros_proto::Command;

use super::{FaultOptions, SimHandle};

/// One line of the console.
#[derive(Clone, PartialEq, Eq)]
pub enum Control {
    /// `drop-before N`: every N-th command on a connection is not carried out and
    /// the connection closes.
    DropBefore(u64),
    /// `drop-after N`: every N-th command is carried out, then the connection
    /// closes before its reply.
    DropAfter(u64),
    /// `stall N [DURATION]`: every N-th reply (and all after it) is held back.
    Stall(u64, Duration),
    /// `fatal N`: after N commands on a connection, `!fatal` and close.
    Fatal(u64),
    /// `faults off`: no more injected faults.
    FaultsOff,
    /// `latency DURATION`: the one-way link delay from now on.
    Latency(Duration),
    /// `restart [lose-users] [boot DURATION]`: reboot; `lose-users` as a reset router
    /// or a backup from before the users were made.
    Restart {
        /// Keep the hotspot users.
        keep_users: bool,
        /// How long nothing answers (default 2 s).
        boot: Duration,
    },
    /// `api disable|enable`: `/ip service` of the API, API-SSL and REST.
    Api(bool),
    /// `password NEW`: the API user's password changes, and `cut` follows so that
    /// clients must log in again.
    Password(String),
    /// `remove-profile NAME`: a hotspot user profile removed by hand.
    RemoveProfile(String),
    /// `remove-user NAME`: a hotspot user removed by hand (WinBox).
    RemoveUser(String),
    /// `cut`: every open connection closes.
    Cut,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The new password stays out of logs and test output.
            Control::Password(_) => f.write_str("Password(***)"),
            Control::DropBefore(n) => write!(f, "DropBefore({n})"),
            Control::DropAfter(n) => write!(f, "DropAfter({n})"),
            Control::Stall(n, d) => write!(f, "Stall({n}, {d:?})"),
            Control::Fatal(n) => write!(f, "Fatal({n})"),
            Control::FaultsOff => f.write_str("FaultsOff"),
            Control::Latency(d) => write!(f, "Latency({d:?})"),
            Control::Restart { keep_users, boot } => {
                write!(f, "Restart {{ keep_users: {keep_users}, boot: {boot:?} }}")
            }
            Control::Api(on) => write!(f, "Api({on})"),
            Control::RemoveProfile(n) => write!(f, "RemoveProfile({n:?})"),
            Control::RemoveUser(n) => write!(f, "RemoveUser({n:?})"),
            Control::Cut => f.write_str("Cut"),
        }
    }
}

/// The words the console understands, for its error message.
pub const USAGE: &str =
    "drop-before N | drop-after N | stall N [DURATION] | fatal N | faults off | \
latency DURATION | restart [lose-users] [boot DURATION] | api disable|enable | password NEW | \
remove-profile NAME | remove-user NAME | cut";

/// `250ms`, `2s`, `1m`.
fn duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; use e.g. 250ms, 2s or 1m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!(
            "{text:?} is not a duration; use e.g. 250ms, 2s or 1m"
        )),
    }
}

fn count(word: Option<&str>) -> Result<u64, String> {
    word.and_then(|w| w.parse().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| "expected a count of commands (1 or more)".to_string())
}

impl Control {
    /// Parses one console line; the error says what was expected.
    pub fn parse(line: &str) -> Result<Control, String> {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        let rest: Vec<&str> = words.collect();
        let one = || -> Result<&str, String> {
            match rest.as_slice() {
                [w] => Ok(w),
                _ => Err(format!("{first} takes one word")),
            }
        };
        let parsed = match first {
            "drop-before" => Control::DropBefore(count(rest.first().copied())?),
            "drop-after" => Control::DropAfter(count(rest.first().copied())?),
            "stall" => Control::Stall(
                count(rest.first().copied())?,
                rest.get(1)
                    .map(|d| duration(d))
                    .transpose()?
                    .unwrap_or(super::faults::DEFAULT_STALL),
            ),
            "fatal" => Control::Fatal(count(rest.first().copied())?),
            "faults" if rest == ["off"] => Control::FaultsOff,
            "latency" => Control::Latency(duration(one()?)?),
            "restart" => {
                let mut keep_users = true;
                let mut boot = Duration::from_secs(2);
                let mut it = rest.iter();
                while let Some(w) = it.next() {
                    match *w {
                        "lose-users" => keep_users = false,
                        "boot" => boot = duration(it.next().copied().unwrap_or(""))?,
                        other => return Err(format!("restart: unknown word {other:?}")),
                    }
                }
                Control::Restart { keep_users, boot }
            }
            "api" if rest == ["disable"] => Control::Api(false),
            "api" if rest == ["enable"] => Control::Api(true),
            "password" => Control::Password(one()?.to_string()),
            "remove-profile" => Control::RemoveProfile(one()?.to_string()),
            "remove-user" => Control::RemoveUser(one()?.to_string()),
            "cut" if rest.is_empty() => Control::Cut,
            _ => return Err(format!("unknown console line {line:?}; use: {USAGE}")),
        };
        Ok(parsed)
    }
}

impl SimHandle {
    /// Performs a console line; returns what happened, in words.
    pub fn apply(&self, control: &Control) -> Result<String, String> {
        let faults = |f: FaultOptions| {
            self.set_fault(f);
            Ok(format!("{control:?}"))
        };
        match control {
            Control::DropBefore(n) => faults(FaultOptions {
                drop_before_every_n: Some(*n),
                ..FaultOptions::default()
            }),
            Control::DropAfter(n) => faults(FaultOptions {
                drop_every_n: Some(*n),
                ..FaultOptions::default()
            }),
            Control::Stall(n, d) => faults(FaultOptions {
                stall_every_n: Some(*n),
                stall_for: Some(*d),
                ..FaultOptions::default()
            }),
            Control::Fatal(n) => faults(FaultOptions {
                fatal_after_n: Some(*n),
                ..FaultOptions::default()
            }),
            Control::FaultsOff => faults(FaultOptions::default()),
            Control::Latency(d) => {
                self.set_latency(*d);
                Ok(format!("{control:?}"))
            }
            Control::Restart { keep_users, boot } => {
                self.restart(*boot, *keep_users);
                Ok(format!("{control:?}"))
            }
            Control::Api(on) => {
                self.set_api_enabled(*on);
                Ok(format!("{control:?}"))
            }
            Control::Password(p) => {
                self.set_password(p);
                self.cut_connections();
                Ok("password changed; connections closed".into())
            }
            Control::RemoveProfile(name) => {
                self.remove_by_hand("/ip/hotspot/user/profile/remove", name)
            }
            Control::RemoveUser(name) => self.remove_by_hand("/ip/hotspot/user/remove", name),
            Control::Cut => {
                self.cut_connections();
                Ok(format!("{control:?}"))
            }
        }
    }

    fn remove_by_hand(&self, path: &str, name: &str) -> Result<String, String> {
        let replies = self.execute(&Command::new(path).attr(".id", name));
        match replies.iter().find_map(|r| r.get("message")) {
            Some(trap) => Err(format!("{path} {name}: {}", trap.lossy())),
            None => Ok(format!("{path} {name}: done")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_console_line_of_the_fault_matrix_parses() {
        let cases = [
            ("drop-before 3", Control::DropBefore(3)),
            ("drop-after 2", Control::DropAfter(2)),
            (
                "stall 1 500ms",
                Control::Stall(1, Duration::from_millis(500)),
            ),
            ("fatal 4", Control::Fatal(4)),
            ("faults off", Control::FaultsOff),
            ("latency 50ms", Control::Latency(Duration::from_millis(50))),
            (
                "restart",
                Control::Restart {
                    keep_users: true,
                    boot: Duration::from_secs(2),
                },
            ),
            (
                "restart lose-users boot 1s",
                Control::Restart {
                    keep_users: false,
                    boot: Duration::from_secs(1),
                },
            ),
            ("api disable", Control::Api(false)),
            ("password s3cret", Control::Password("s3cret".into())),
            (
                "remove-profile hs-1h",
                Control::RemoveProfile("hs-1h".into()),
            ),
            ("remove-user ABC123", Control::RemoveUser("ABC123".into())),
            ("cut", Control::Cut),
        ];
        for (line, want) in cases {
            assert_eq!(Control::parse(line), Ok(want), "{line}");
        }
    }

    #[test]
    fn bad_lines_say_what_was_expected_and_hide_passwords() {
        let e = Control::parse("reboot").unwrap_err();
        assert!(e.contains("restart [lose-users]"), "{e}");
        assert!(Control::parse("drop-before 0").is_err());
        assert!(Control::parse("latency fast")
            .unwrap_err()
            .contains("250ms"));
        let p = Control::parse("password hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
