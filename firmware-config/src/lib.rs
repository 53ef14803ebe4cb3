//! Typed, validated configuration for hotspot-agent.
//!
//! A configuration file is TOML. It is parsed into the raw `*Config` structs of
//! this crate (every field has a default, so an empty file is a valid
//! configuration that runs against the simulated router and devices), then
//! [`Config::validate`] checks it and returns errors that name the file, the
//! key, the bad value and what is allowed.
//!
//! Sections, each in its own module:
//! - `[agent]`: site identity and where state lives ([`AgentConfig`]);
//! - `[[router]]`: the MikroTik routers the agent drives ([`router`]);
//! - `[vouchers]`, `[[plan]]`, `[[profile]]`, `[enforcement]`: what is sold ([`plans`]);
//! - `[kiosk]`: coin acceptor, printer, display, buttons ([`kiosk`]);
//! - `[central]`: the MQTT link to the central office ([`central`]);
//! - `[owner_page]`: the shop owner's page on the LAN ([`owner_page`]);
//! - `[board]`: which board the kiosk runs on and how its devices are wired ([`boards`]).
#![warn(unreachable_pub)]

pub mod boards;
pub mod central;
pub mod error;
pub mod kiosk;
pub mod owner_page;
pub mod plans;
pub mod router;
pub mod secret;
pub mod units;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use boards::{Board, BoardConfig};
pub use central::CentralConfig;
pub use error::{ConfigError, Problem};
pub use kiosk::KioskConfig;
pub use owner_page::OwnerPageConfig;
pub use plans::{EnforcementConfig, PlanConfig, ProfileConfig, VoucherCodeConfig};
pub use router::{RouterConfig, Transport};
pub use secret::{read_private, Secret};
pub use units::{ByteSize, Duration};

/// serde's words for a number of the wrong sign or size, in the operator's.
fn explain(message: &str) -> String {
    let mut out = message.to_string();
    for t in ["u64", "u32", "u16", "u8"] {
        out = out.replace(
            &format!("expected {t}"),
            "expected a whole number of 0 or more, without quotes (prices in the smallest currency unit, e.g. price = 5)",
        );
    }
    out
}

/// The section (`plan`, `kiosk`) a byte offset of `text` falls in: the last
/// `[header]` above it.
fn section_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let header = before
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('['))?;
    let name = header.trim().trim_matches(|c| c == '[' || c == ']');
    Some(name.split('.').next().unwrap_or(name).trim().to_string())
}

/// A wrong type in one section hides nothing else: the first error with its line,
/// then the errors each other section has on its own. A file that is not TOML at all
/// can only report where it stops being TOML.
fn every_type_error(text: &str, first: &toml::de::Error) -> String {
    let mut message = explain(&first.to_string());
    let Ok(doc) = toml::from_str::<toml::Table>(text) else {
        return message;
    };
    let first_section = first.span().and_then(|s| section_at(text, s.start));
    for (key, value) in &doc {
        if Some(key) == first_section.as_ref() {
            continue;
        }
        let mut one = toml::Table::new();
        one.insert(key.clone(), value.clone());
        if let Err(e) = Config::deserialize(toml::Value::Table(one)) {
            message.push_str(&format!("\nalso in [{key}]: {}", explain(&e.to_string())));
        }
    }
    message
}

/// The bundled default configuration, printed by `hotspot-agent config default`.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// A whole configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Site identity and local state.
    pub agent: AgentConfig,
    /// Routers, addressed by name. With none, the agent uses the built-in simulated router.
    #[serde(rename = "router")]
    pub routers: Vec<RouterConfig>,
    /// How voucher codes and passwords are made.
    pub vouchers: VoucherCodeConfig,
    /// What is sold.
    #[serde(rename = "plan")]
    pub plans: Vec<PlanConfig>,
    /// Hotspot user profiles the plans use; created on the router by `profiles sync`.
    #[serde(rename = "profile")]
    pub profiles: Vec<ProfileConfig>,
    /// The enforcement loop (data quota, validity).
    pub enforcement: EnforcementConfig,
    /// Kiosk devices and selling mode.
    pub kiosk: KioskConfig,
    /// Link to the central office; off when `broker` is empty.
    pub central: CentralConfig,
    /// The board and its wiring; `preset = "none"` (the default) means no GPIO hardware.
    pub board: BoardConfig,
    /// The shop owner's page on the LAN; off unless `enabled`.
    pub owner_page: OwnerPageConfig,
}

/// `[agent]`: who this kiosk is and where it keeps its state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// Site id used in MQTT topics and on every sale; letters, digits, `-` and `_`.
    pub site_id: String,
    /// Name printed on tickets and shown on the display.
    pub site_name: String,
    /// Folder for the SQLite store. Under systemd this is `$STATE_DIRECTORY`.
    pub state_dir: PathBuf,
    /// Log format: `text`, `json` or `journald`.
    pub log_format: String,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            site_id: "demo-site".into(),
            site_name: "Hotspot WiFi".into(),
            state_dir: PathBuf::from("./hotspot-state"),
            log_format: "text".into(),
        }
    }
}

impl Config {
    /// Parses TOML text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let syntax = |e: toml::de::Error| ConfigError::Syntax {
            file: origin.to_string(),
            message: explain(&e.to_string()),
        };
        let config: Config = match toml::from_str(text) {
            Ok(c) => c,
            Err(e) => {
                return Err(ConfigError::Syntax {
                    file: origin.to_string(),
                    message: every_type_error(text, &e),
                })
            }
        };
        if config.board.preset.is_empty() || config.board.preset == "none" {
            return Ok(config);
        }
        // A board preset fills the device keys the file leaves out. Only then is the
        // file parsed a second time, through a table, so that TOML errors above keep
        // their line numbers.
        let mut doc: toml::Table = toml::from_str(text).map_err(syntax)?;
        boards::apply_board_defaults(&mut doc);
        Config::deserialize(toml::Value::Table(doc)).map_err(syntax)
    }

    /// Reads, parses and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            file: origin.clone(),
            message: e.to_string(),
        })?;
        let config = Config::parse(&text, &origin)?;
        config.validate(&origin)?;
        config.refuse_inline_secrets_if_public(path)?;
        Ok(config)
    }

    /// Keys that hold a secret written in the file itself (`password = "..."`).
    pub fn inline_secret_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .routers
            .iter()
            .enumerate()
            .filter(|(_, r)| r.password.as_ref().is_some_and(|p| !p.is_empty()))
            .map(|(i, _)| format!("router[{i}].password"))
            .collect();
        if self
            .central
            .password
            .as_ref()
            .is_some_and(|p| !p.is_empty())
        {
            keys.push("central.password".into());
        }
        keys
    }

    /// An inline secret in a file every user can read is as good as published: refuse
    /// it, naming the key and both ways out. A group-readable file (root:hotspot-agent
    /// 0640) is how the agent's user reads a root-owned config, so that is allowed.
    fn refuse_inline_secrets_if_public(&self, path: &Path) -> Result<(), ConfigError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let keys = self.inline_secret_keys();
            let mode = std::fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            if let Some(key) = keys.first().filter(|_| mode & 0o004 != 0) {
                return Err(ConfigError::Secret {
                    key: key.clone(),
                    file: path.display().to_string(),
                    message: format!(
                        "every user can read this file (mode {mode:o}) and it holds {}; move each into \
                         a *_file (mode 600, e.g. password_file), or run `chmod 640 {}`",
                        keys.join(", "),
                        path.display()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The bundled default, parsed.
    pub fn bundled_default() -> Config {
        // The bundled file is checked by a unit test, so this cannot fail at run time.
        Config::parse(DEFAULT_TOML, "<bundled default>").unwrap_or_default()
    }

    /// Checks every section and picks the `[[router]]` this run talks to: the one
    /// named `router` (from `--router`), else the first. A router without a host
    /// means the simulated one, which [`Validated::router`] gives as `None`.
    pub fn validated(self, origin: &str, router: Option<&str>) -> Result<Validated, ConfigError> {
        let mut problems = self.problems();
        let index = self.pick_router(router).unwrap_or_else(|p| {
            problems.push(p);
            None
        });
        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                file: origin.to_string(),
                problems,
            });
        }
        Ok(Validated {
            config: self,
            router: index,
        })
    }

    /// The router [`Config::validated`] would choose, for a configuration that was
    /// already checked (as [`Config::load`] does): `None` means the simulated one.
    pub fn chosen_router(
        &self,
        origin: &str,
        router: Option<&str>,
    ) -> Result<Option<(usize, &RouterConfig)>, ConfigError> {
        let index = self.pick_router(router).map_err(|p| ConfigError::Invalid {
            file: origin.to_string(),
            problems: vec![p],
        })?;
        Ok(index.map(|i| (i, &self.routers[i])))
    }

    /// The entry named `router`, else the first; `None` when it has no host.
    fn pick_router(&self, router: Option<&str>) -> Result<Option<usize>, Problem> {
        let index = match router {
            Some(name) => {
                let Some(i) = self.routers.iter().position(|r| r.name == name) else {
                    let names: Vec<&str> = self.routers.iter().map(|r| r.name.as_str()).collect();
                    return Err(Problem::new(
                        "--router",
                        name,
                        format!(
                            "the name of a [[router]] in this file ({})",
                            names.join(", ")
                        ),
                    ));
                };
                Some(i)
            }
            None => (!self.routers.is_empty()).then_some(0),
        };
        Ok(index.filter(|&i| !self.routers[i].is_simulated()))
    }

    /// Checks every section; returns all problems found, not only the first.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                file: origin.to_string(),
                problems,
            })
        }
    }

    fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.agent.site_id.is_empty()
            || !self
                .agent
                .site_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push(Problem::new(
                "agent.site_id",
                &self.agent.site_id,
                "one or more of letters, digits, '-' and '_' (it becomes part of MQTT topics)",
            ));
        }
        if !matches!(self.agent.log_format.as_str(), "text" | "json" | "journald") {
            problems.push(Problem::new(
                "agent.log_format",
                &self.agent.log_format,
                "one of text, json, journald",
            ));
        }
        router::validate(&self.routers, &mut problems);
        plans::validate(self, &mut problems);
        kiosk::validate(&self.kiosk, self, &mut problems);
        central::validate(&self.central, &mut problems);
        boards::validate(&self.board, &mut problems);
        owner_page::validate(&self.owner_page, &mut problems);
        problems
    }

    /// What stops this configuration on a build without simulators (the box's build),
    /// though the file itself is valid: a device role set to `kind = "sim"`, or no
    /// `[[router]]` with a host (the host build would start a simulated router).
    /// `config check` on the box reports these, so what it accepts can start.
    pub fn box_problems(&self) -> Vec<Problem> {
        use kiosk::{CoinKind, PrinterKind};
        let mut problems = Vec::new();
        let real = "a real device; the box's build has no simulators";
        if self.kiosk.coin.kind == CoinKind::Sim {
            problems.push(Problem::new(
                "kiosk.coin.kind",
                "sim",
                format!(
                    "\"pulse\", \"cctalk\" or \"none\" ({real}; a [board] preset picks \"pulse\")"
                ),
            ));
        }
        if self.kiosk.printer.kind == PrinterKind::Sim {
            problems.push(Problem::new(
                "kiosk.printer.kind",
                "sim",
                format!("\"escpos\" or \"none\" ({real}; a [board] preset picks \"escpos\")"),
            ));
        }
        if !self.routers.iter().any(|r| !r.is_simulated()) {
            problems.push(Problem::new(
                "router",
                "none with a host",
                "a [[router]] with host = \"<the router's LAN address>\" (the box's build has no simulated router)",
            ));
        }
        problems
    }

    /// Every secret the configuration holds, read from its `password_file` where one is
    /// set. Fails on a secret file that is missing or readable by other users, so the
    /// agent refuses to start with one (and `config check` reports it).
    pub fn secrets(&self) -> Result<Vec<Secret>, ConfigError> {
        let mut out = Vec::new();
        for (i, r) in self.routers.iter().enumerate() {
            out.push(r.resolve_password(i)?);
        }
        match &self.central.password_file {
            Some(path) => out.push(Secret::from_file(path, "central.password_file")?),
            None => out.extend(self.central.password.clone()),
        }
        out.retain(|s| !s.is_empty());
        Ok(out)
    }

    /// A plan by id.
    pub fn plan(&self, id: &str) -> Option<&PlanConfig> {
        self.plans.iter().find(|p| p.id == id)
    }

    /// A router by name; `None` picks the first one.
    pub fn router(&self, name: Option<&str>) -> Option<&RouterConfig> {
        match name {
            Some(n) => self.routers.iter().find(|r| r.name == n),
            None => self.routers.first(),
        }
    }
}

/// A configuration that passed every check, and the `[[router]]` chosen for this run.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The configuration.
    pub config: Config,
    router: Option<usize>,
}

impl Validated {
    /// The chosen router and its index in the file; `None` when it has no host, which
    /// means the built-in simulated router.
    pub fn router(&self) -> Option<(usize, &RouterConfig)> {
        self.router.map(|i| (i, &self.config.routers[i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn an_inline_password_in_a_world_readable_config_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[[router]]\nhost = \"10.0.0.1\"\npassword = \"hunter22\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("router[0].password"), "{err}");
        assert!(err.contains("chmod 640"), "{err}");
        assert!(!err.contains("hunter22"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        Config::load(&path).unwrap();
        // No inline secret: any mode will do.
        std::fs::write(&path, "[[router]]\nhost = \"10.0.0.1\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Config::load(&path).unwrap();
    }

    #[test]
    fn bundled_default_parses_and_validates() {
        let config = Config::parse(DEFAULT_TOML, "default.toml").expect("bundled default parses");
        config
            .validate("default.toml")
            .expect("bundled default is valid");
        assert!(!config.plans.is_empty(), "the default sells something");
    }

    #[test]
    fn validation_names_the_chosen_router_and_refuses_an_unknown_one() {
        let text = "[[router]]\nname = \"a\"\nhost = \"10.0.0.1\"\n\n[[router]]\nname = \"b\"\nhost = \"10.0.0.2\"\n";
        let config = Config::parse(text, "r.toml").unwrap();
        let first = config.clone().validated("r.toml", None).unwrap();
        assert_eq!(
            first.router().map(|(i, r)| (i, r.name.as_str())),
            Some((0, "a"))
        );
        let named = config.clone().validated("r.toml", Some("b")).unwrap();
        assert_eq!(
            named.router().map(|(i, r)| (i, r.name.as_str())),
            Some((1, "b"))
        );
        let err = config
            .validated("r.toml", Some("c"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--router") && err.contains("\"c\"") && err.contains("a, b"),
            "{err}"
        );
        assert_eq!(
            Config::parse(text, "r.toml")
                .unwrap()
                .chosen_router("r.toml", Some("b"))
                .unwrap()
                .map(|(i, _)| i),
            Some(1),
            "the same choice for a file already checked"
        );
        let sim = Config::parse("", "e.toml")
            .unwrap()
            .validated("e.toml", None)
            .unwrap();
        assert!(
            sim.router().is_none(),
            "no router with a host: the simulated one"
        );
    }

    #[test]
    fn the_box_build_refuses_simulated_devices_and_a_missing_router() {
        let empty = Config::parse("", "e.toml").unwrap();
        let keys: Vec<String> = empty.box_problems().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["kiosk.coin.kind", "kiosk.printer.kind", "router"]);
        let text = "[[router]]\nhost = \"10.0.0.1\"\n[board]\npreset = \"rpi4\"\n";
        let board = Config::parse(text, "b.toml").unwrap();
        assert_eq!(board.box_problems(), vec![], "a preset names real devices");
    }

    #[test]
    fn empty_file_is_a_valid_config() {
        let config = Config::parse("", "empty.toml").unwrap();
        config.validate("empty.toml").unwrap();
        assert!(config.routers.is_empty());
    }

    #[test]
    fn a_board_preset_fills_device_keys_the_file_leaves_out() {
        let text = "[board]\npreset = \"rpi4\"\n[kiosk.printer]\nport = \"/dev/ttyUSB7\"\n";
        let config = Config::parse(text, "b.toml").unwrap();
        assert_eq!(
            config.kiosk.coin.pulse_line, 17,
            "coin line from the rpi4 preset"
        );
        assert_eq!(
            config.kiosk.printer.port, "/dev/ttyUSB7",
            "a key in the file wins over the preset"
        );
    }

    #[test]
    fn unknown_key_is_named_in_the_error() {
        let err = Config::parse("[agent]\nsite_idd = \"x\"\n", "bad.toml").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("bad.toml"), "{text}");
        assert!(text.contains("site_idd"), "{text}");
    }

    #[cfg(unix)]
    #[test]
    fn a_world_readable_password_file_stops_secret_loading() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("router.pass");
        std::fs::write(&path, "r0uter\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o604)).unwrap();
        let text = format!(
            "[[router]]\nhost = \"10.0.0.1\"\npassword_file = {:?}\n",
            path
        );
        let config = Config::parse(&text, "s.toml").unwrap();
        config.validate("s.toml").unwrap();
        let err = config.secrets().unwrap_err().to_string();
        assert!(err.contains("router[0].password_file"), "{err}");
        assert!(err.contains("readable by other users"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let secrets = config.secrets().unwrap();
        assert_eq!(secrets.len(), 1);
        assert_eq!(secrets[0].expose(), "r0uter");
    }

    #[test]
    fn config_check_says_what_to_write_for_each_common_mistake() {
        let plan = |extra: &str| {
            format!(
                "[[plan]]\nid = \"1h\"\nname = \"1 hour\"\nprice = 5\ntime_limit = \"1h\"\n{extra}"
            )
        };
        let err = |text: &str| match Config::parse(text, "x.toml") {
            Err(e) => e.to_string(),
            Ok(c) => c
                .validate("x.toml")
                .map_or_else(|e| e.to_string(), |_| String::new()),
        };
        let negative =
            err("[[plan]]\nid = \"1h\"\nname = \"1 hour\"\nprice = -5\ntime_limit = \"1h\"\n");
        assert!(
            negative.contains("a whole number of 0 or more"),
            "{negative}"
        );
        let words = err(&plan("validity = \"1 hour\"\n"));
        assert!(words.contains("write \"1h\""), "{words}");
        let bare = err("[enforcement]\ninterval = \"60\"\n");
        assert!(
            bare.contains("\"60s\" for seconds or \"60m\" for minutes"),
            "{bare}"
        );
        let bare_int = err("[enforcement]\ninterval = 60\n");
        assert!(bare_int.contains("60 has no unit"), "{bare_int}");
        let url = err("[[router]]\nhost = \"https://192.168.88.1\"\n");
        assert!(
            url.contains("router[0].host") && url.contains("no https://"),
            "{url}"
        );
        assert_eq!(
            err("[[router]]\nhost = \"fd00::1\"\n"),
            "",
            "IPv6 is an address"
        );
        assert_eq!(err("[[router]]\nhost = \"router.lan\"\n"), "");
        let short = err(&plan("validity = \"30m\"\n"));
        assert!(
            short.contains("plan[1h].validity") || short.contains("validity"),
            "{short}"
        );
        assert!(short.contains("at least time_limit (1h)"), "{short}");
    }

    #[test]
    fn a_wrong_type_in_one_section_does_not_hide_the_others() {
        let text = "[agent]\nsite_id = 5\n\n[enforcement]\ninterval = \"60\"\n\n[kiosk]\ninsert_window = \"1 minute\"\n";
        let err = Config::parse(text, "x.toml").unwrap_err().to_string();
        assert!(err.contains("line 2"), "the first with its line: {err}");
        assert!(
            err.contains("also in [enforcement]") && err.contains("\"60s\""),
            "{err}"
        );
        assert!(
            err.contains("also in [kiosk]") && err.contains("write \"1m\""),
            "{err}"
        );
    }

    #[test]
    fn bad_site_id_names_key_value_and_allowed() {
        let config = Config::parse("[agent]\nsite_id = \"a/b\"\n", "x.toml").unwrap();
        let text = config.validate("x.toml").unwrap_err().to_string();
        assert!(text.contains("agent.site_id"), "{text}");
        assert!(text.contains("a/b"), "{text}");
        assert!(text.contains("letters, digits"), "{text}");
    }
}
