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
        /// The file to check, e.g. /etc/hotspot-agent/config.toml.
        file: PathBuf,
    },
    /// Print the bundled default configuration (a starting point for a new kiosk).
    Default,
    /// List the board presets `[board] preset` accepts, with their GPIO lines and ports.
    Boards,
}

/// Runs one `config` subcommand, printing to stdout.
pub fn run(cmd: ConfigCmd) -> anyhow::Result<()> {
    match cmd {
        ConfigCmd::Check { file } => {
            let report = check(&file)?;
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

/// Loads and validates `path`, then checks the secret files it names: one that is
/// readable by other users is an error (the agent would refuse to start), one that
/// does not exist yet is a warning (the file may be checked on another machine).
pub fn check(path: &Path) -> Result<CheckReport, ConfigError> {
    let config = Config::load(path)?;
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
        if file.exists() {
            Secret::from_file(file, &key)?;
        } else {
            warnings.push(format!(
                "{key}: {} does not exist on this machine; create it (chmod 600) before starting the agent",
                file.display()
            ));
        }
    }
    Ok(CheckReport {
        text: summary(path, &config),
        warnings,
    })
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
            "  router     built-in simulated router (no [[router]] entry)"
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
            "simulated"
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
            let _ = writeln!(
                out,
                "  board      none (simulated coin acceptor and buttons)"
            );
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
    let central = if config.central.broker.is_empty() {
        "off"
    } else {
        config.central.broker.as_str()
    };
    let _ = writeln!(out, "  central    {central}");
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
        let report = check(&example).expect("deploy/config.example.toml is valid");
        assert!(report.text.contains("board      rpi4"), "{}", report.text);
        assert!(report.text.contains("via api-ssl"), "{}", report.text);
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
        let report = check(&path).unwrap();
        assert_eq!(report.warnings.len(), 1);
        assert!(
            report.warnings[0].contains("router[0].password_file"),
            "{:?}",
            report.warnings
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
            matches!(cli.cmd, ConfigCmd::Check { file } if file == Path::new("/etc/hotspot-agent/config.toml"))
        );
        assert!(matches!(
            Cli::try_parse_from(["config", "boards"]).unwrap().cmd,
            ConfigCmd::Boards
        ));
    }
}
