//! `hotspot-agent config ...`: check a configuration file, print the bundled default,
//! list the board presets.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use firmware_config::boards::PRESETS;
use firmware_config::{Config, ConfigError, Secret, DEFAULT_TOML};

/// The `config` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ConfigCmd {
    /// Check a configuration file: syntax, every value, secret files and board wiring.
    /// Exits with status 1 and one line per problem when something is wrong.
    Check {
        /// The file to check (default: the one other commands read: --config or
        /// HOTSPOT_CONFIG, else /etc/hotspot-agent/config.toml).
        file: Option<PathBuf>,
        /// The file is meant for another machine: secret files it names need not
        /// exist here (they are warned about instead).
        #[arg(long)]
        elsewhere: bool,
    },
    /// Print the bundled default configuration (a starting point for a new kiosk).
    Default,
    /// List the board presets `[board] preset` accepts, with their GPIO lines and ports.
    Boards,
}

/// Runs one `config` subcommand, printing to stdout. `default_file` is the file
/// `check` reads when none is named.
pub fn run(cmd: ConfigCmd, default_file: Option<PathBuf>) -> anyhow::Result<()> {
    match cmd {
        ConfigCmd::Check { file, elsewhere } => {
            let Some(file) = file.or(default_file) else {
                anyhow::bail!(
                    "no file to check: name one (config check FILE), or install it as {}",
                    super::INSTALLED_CONFIG
                );
            };
            let report = check_for(&file, Build::THIS, elsewhere)?;
            print!("{}", report.text);
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
            Ok(())
        }
        ConfigCmd::Default => {
            print!("{DEFAULT_TOML}");
            Ok(())
        }
        ConfigCmd::Boards => {
            print!("{}", boards_table());
            Ok(())
        }
    }
}

/// What `config check` found in a file that can be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// A summary of what the agent will do with this file.
    pub text: String,
    /// Things that will stop the agent on this machine but are not errors in the file
    /// (a secret file that does not exist here yet).
    pub warnings: Vec<String>,
}

/// Which build runs the check, and so which devices and routers can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// The box's build: no simulated router or devices.
    Box,
    /// A host build with the `sim` feature: simulators stand in where nothing is set.
    Host,
}

impl Build {
    /// The build this binary is.
    pub const THIS: Build = if cfg!(feature = "sim") {
        Build::Host
    } else {
        Build::Box
    };
}

/// [`check_for`] on this build, for a file on this machine.
pub fn check(path: &Path) -> Result<CheckReport, ConfigError> {
    check_for(path, Build::THIS, false)
}

/// Loads and validates `path` as `build` would run it (the box's build refuses what
/// only a simulator could be), then checks the secret files it names: one that is
/// empty or readable by other users is an error (the agent would refuse to start), and
/// so is one that does not exist, unless the file is for another machine
/// (`elsewhere`), when that is a warning.
pub fn check_for(path: &Path, build: Build, elsewhere: bool) -> Result<CheckReport, ConfigError> {
    let config = Config::load(path)?;
    if build == Build::Box {
        let problems = config.box_problems();
        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                file: path.display().to_string(),
                problems,
            });
        }
    }
    let mut warnings = Vec::new();
    let mut files: Vec<(String, &Path)> = Vec::new();
    for (i, r) in config.routers.iter().enumerate() {
        if let Some(f) = &r.password_file {
            files.push((format!("router[{i}].password_file"), f));
        }
    }
    if let Some(f) = &config.central.password_file {
        files.push(("central.password_file".into(), f));
    }
    for (key, file) in files {
        if file.exists() || !elsewhere {
            Secret::from_file(file, &key).map_err(|e| match e {
                ConfigError::Secret { key, file, message } if !Path::new(&file).exists() => {
                    ConfigError::Secret {
                        key,
                        message: format!(
                            "{message}; create it with the password (chmod 600, owner hotspot-agent), \
                             or check with --elsewhere a file meant for another machine"
                        ),
                        file,
                    }
                }
                other => other,
            })?;
        } else {
            warnings.push(format!(
                "{key}: {} does not exist on this machine; create it (chmod 600) before starting the agent",
                file.display()
            ));
        }
    }
    if let Some(w) = owner_page_warning(&config) {
        warnings.push(w);
    }
    Ok(CheckReport {
        text: summary(path, &config),
        warnings,
    })
}

/// The owner's page is on but would stay off at start (no PIN set, or a PIN file the
/// service refuses). A warning, not an error: the kiosk sells without the page.
fn owner_page_warning(config: &Config) -> Option<String> {
    let page = &config.owner_page;
    if !page.enabled {
        return None;
    }
    crate::owner_page::pin::read_pin_file(&page.pin_path(&config.agent.state_dir))
        .err()
        .map(|e| format!("owner_page: the page will stay off: {e}"))
}

fn summary(path: &Path, config: &Config) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: OK", path.display());
    let a = &config.agent;
    let _ = writeln!(out, "  site       {} ({:?})", a.site_id, a.site_name);
    let _ = writeln!(out, "  state      {}", a.state_dir.display());
    let _ = writeln!(out, "  logs       {}", a.log_format);
    if config.routers.is_empty() {
        let _ = writeln!(
            out,
            "  router     SIMULATED: built-in router, host build only (no [[router]] entry)"
        );
    }
    for r in &config.routers {
        let password = match (&r.password_file, &r.password) {
            (Some(f), _) => format!("password from {}", f.display()),
            (None, Some(_)) => "password in the file".into(),
            (None, None) => "empty password".into(),
        };
        let pin = if r.fingerprint.is_some() {
            ", certificate pinned"
        } else {
            ""
        };
        let host = if r.is_simulated() {
            "SIMULATED (no host; host build only)"
        } else {
            r.host.as_str()
        };
        let _ = writeln!(
            out,
            "  router     {}: {} via {} as {} ({password}{pin})",
            r.name,
            host,
            r.transport.as_str(),
            r.username
        );
    }
    let v = &config.vouchers;
    for p in &config.plans {
        let _ = writeln!(
            out,
            "  plan       {}: {:?}, {} {}, profile {}",
            p.id, p.name, p.price, v.currency, p.profile
        );
    }
    match config.board.resolve() {
        None => {
            let _ = writeln!(out, "  board      none (no GPIO wiring preset)");
        }
        Some(b) => {
            let buttons: Vec<String> = b.button_lines.iter().map(|l| l.to_string()).collect();
            let _ = writeln!(
                out,
                "  board      {}: {} coin {}, inhibit {}, buttons {}, lamp {}; i2c {}; printer {}",
                b.preset,
                b.gpio_chip.display(),
                b.coin_line,
                b.coin_inhibit_line,
                buttons.join(","),
                b.led_line,
                b.i2c_bus.display(),
                b.printer_port.display()
            );
        }
    }
    for (role, device) in config.kiosk.device_summary() {
        let _ = writeln!(out, "  {role:<10} {device}");
    }
    let central = if config.central.broker.is_empty() {
        "off"
    } else {
        config.central.broker.as_str()
    };
    let _ = writeln!(out, "  central    {central}");
    let page = &config.owner_page;
    let owner = match (page.enabled, page.tls) {
        (false, _) => "off".to_string(),
        (true, true) => format!("https://{}/", page.listen),
        (true, false) => format!("http://{}/ (plain HTTP, LAN only)", page.listen),
    };
    let _ = writeln!(out, "  owner page {owner}");
    out
}

/// The presets as a table.
pub fn boards_table() -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<11} {:<15} {:>4} {:>7} {:<11} {:>4} {:<11} {:<13} description",
        "preset", "gpio chip", "coin", "inhibit", "buttons", "lamp", "i2c", "printer"
    );
    for p in PRESETS {
        let buttons: Vec<String> = p.button_lines.iter().map(|l| l.to_string()).collect();
        let _ = writeln!(
            out,
            "{:<11} {:<15} {:>4} {:>7} {:<11} {:>4} {:<11} {:<13} {}",
            p.id,
            p.gpio_chip,
            p.coin_line,
            p.coin_inhibit_line,
            buttons.join(","),
            p.led_line,
            p.i2c_bus,
            p.printer_port,
            p.description
        );
    }
    let _ = writeln!(
        out,
        "\nLines are offsets on the GPIO chip (what `gpioinfo` shows): BCM numbers on a"
    );
    let _ = writeln!(
        out,
        "Raspberry Pi, bank*32+index on an Orange Pi (PC9 = 73). Pick one with"
    );
    let _ = writeln!(
        out,
        "[board] preset = \"rpi4\" and override any key, e.g. coin_line = 23."
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_shipped_example_config_checks_clean() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config.example.toml");
        let report = check_for(&example, Build::Box, true)
            .expect("deploy/config.example.toml starts on the box's build");
        assert!(report.text.contains("board      rpi4"), "{}", report.text);
        assert!(report.text.contains("via api-ssl"), "{}", report.text);
        assert!(
            report
                .text
                .contains("coin       pulse acceptor on /dev/gpiochip0 line 17"),
            "{}",
            report.text
        );
        assert!(
            report.text.contains("printer    ESC/POS on /dev/serial0"),
            "{}",
            report.text
        );
        assert!(!report.text.contains("SIMULATED"), "{}", report.text);
    }

    #[test]
    fn the_box_build_refuses_a_simulated_device_the_host_build_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "c.toml",
            "[[router]]\nhost = \"10.0.0.1\"\n[kiosk.coin]\nkind = \"cctalk\"\nport = \"/dev/ttyUSB3\"\n",
        );
        let err = check_for(&path, Build::Box, false).unwrap_err().to_string();
        assert!(err.contains("kiosk.printer.kind = \"sim\""), "{err}");
        assert!(!err.contains("kiosk.coin.kind"), "{err}");
        let report = check_for(&path, Build::Host, false).unwrap();
        assert!(
            report
                .text
                .contains("coin       ccTalk acceptor on /dev/ttyUSB3 at 9600 baud"),
            "{}",
            report.text
        );
        assert!(
            report.text.contains("printer    SIMULATED ESC/POS printer"),
            "{}",
            report.text
        );
        assert!(report.text.contains("board      none"), "{}", report.text);
    }

    #[test]
    fn check_names_file_key_value_and_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "bad.toml",
            "[board]\npreset = \"rpi4\"\ncoin_line = 99\n",
        );
        let err = check(&path).unwrap_err().to_string();
        assert!(err.contains("bad.toml"), "{err}");
        assert!(err.contains("board.coin_line = \"99\""), "{err}");
        assert!(err.contains("2..27"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_world_readable_secret_file_fails_the_check_and_a_missing_one_warns() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let secret = write(dir.path(), "router.pass", "hunter22\n");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let text = format!(
            "[[router]]\nhost = \"10.0.0.1\"\npassword_file = {:?}\n",
            secret
        );
        let path = write(dir.path(), "c.toml", &text);
        let err = check(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        assert!(!err.contains("hunter22"), "{err}");

        let missing = dir.path().join("nope.pass");
        let text = format!(
            "[[router]]\nhost = \"10.0.0.1\"\npassword_file = {:?}\n",
            missing
        );
        let path = write(dir.path(), "c2.toml", &text);
        let err = check(&path).unwrap_err().to_string();
        assert!(
            err.contains("router[0].password_file") && err.contains("create it with the password"),
            "a missing secret file fails a check on this machine: {err}"
        );
        let report = check_for(&path, Build::THIS, true).unwrap();
        assert_eq!(report.warnings.len(), 1);
        assert!(
            report.warnings[0].contains("router[0].password_file"),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn an_owner_page_without_a_pin_is_a_warning_that_says_how_to_set_one() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[agent]\nstate_dir = {:?}\n[owner_page]\nenabled = true\n",
            dir.path()
        );
        let path = write(dir.path(), "c.toml", &text);
        let report = check(&path).unwrap();
        assert!(
            report.text.contains("owner page https://0.0.0.0:8443/"),
            "{}",
            report.text
        );
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert!(
            report.warnings[0].contains("owner-page pin"),
            "{:?}",
            report.warnings
        );
        let pin = Config::load(&path).unwrap().owner_page.pin_path(dir.path());
        let hash = crate::owner_page::pin::hash_pin("482913").unwrap();
        crate::owner_page::pin::write_pin_file(&pin, &hash).unwrap();
        assert!(check(&path).unwrap().warnings.is_empty());
        let plain = write(
            dir.path(),
            "p.toml",
            "[owner_page]\nenabled = true\ntls = false\nlisten = \"0.0.0.0:8080\"\n",
        );
        let err = check(&plain).unwrap_err().to_string();
        assert!(
            err.contains("owner_page.listen") && err.contains("private LAN address"),
            "{err}"
        );
    }

    #[test]
    fn the_boards_table_lists_every_preset() {
        let table = boards_table();
        for p in PRESETS {
            assert!(table.contains(p.id), "{table}");
        }
        assert!(table.contains("/dev/i2c-3"), "Orange Pi's bus: {table}");
    }

    #[test]
    fn config_subcommands_parse_from_the_command_line() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(subcommand)]
            cmd: ConfigCmd,
        }
        let cli =
            Cli::try_parse_from(["config", "check", "/etc/hotspot-agent/config.toml"]).unwrap();
        assert!(
            matches!(cli.cmd, ConfigCmd::Check { file: Some(file), elsewhere: false } if file == Path::new("/etc/hotspot-agent/config.toml"))
        );
        assert!(matches!(
            Cli::try_parse_from(["config", "boards"]).unwrap().cmd,
            ConfigCmd::Boards
        ));
    }
}
