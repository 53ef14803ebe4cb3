//! `hotspot-agent router setup-script`: prints the RouterOS set-up script for this
//! kiosk, with the agent's password taken from (or written to) its password file so
//! the router and the agent agree.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use firmware_config::{Config, Secret};

use routeros::setup_script::{setup_script, LoginBy, PlainApi, SetupOptions};

/// Options of `router setup-script`.
#[derive(Debug, Clone, clap::Args)]
pub struct SetupScriptArgs {
    /// This board's address on the hotspot LAN: the only address allowed to log in.
    #[arg(long)]
    pub agent_address: IpAddr,
    /// RouterOS major version (6 or 7); by default the script checks on the router.
    #[arg(long, value_parser = clap::value_parser!(u8).range(6..=7))]
    pub routeros: Option<u8>,
    /// The unencrypted API (port 8728): `leave` it as it is for other tools (default),
    /// `restrict` it to this board and --plain-api-allow addresses, or turn it `off`.
    #[arg(long, value_enum, default_value_t = PlainApiChoice::Leave)]
    pub plain_api: PlainApiChoice,
    /// With --plain-api restrict: another address or CIDR that may use it (e.g. the
    /// machine running Mikhmon); repeat for more.
    #[arg(long, value_parser = parse_address)]
    pub plain_api_allow: Vec<String>,
    /// Do not add the hotspot ip-binding that lets this board past the hotspot.
    #[arg(long)]
    pub no_bypass: bool,
    /// Set the hotspot profile's dns-name to [[router]] dns_name instead of warning.
    #[arg(long)]
    pub set_dns_name: bool,
    /// `check` (default) warns when the hotspot profile lacks http-pap, which the
    /// ticket's QR login needs; `add-pap` adds it (the password then crosses the WiFi
    /// in plain text).
    #[arg(long, value_enum, default_value_t = LoginByChoice::Check)]
    pub login_by: LoginByChoice,
    /// File with the agent's router password (default: `[[router]] password_file`).
    /// When it is empty, a new random password is written to it.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
}

/// An address or `address/prefix`, as `/ip service set address=` takes; it goes into
/// the script unquoted, so nothing else is let through.
fn parse_address(text: &str) -> Result<String, String> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("{text:?} is not an IP address or address/prefix"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix.map(str::parse::<u8>) {
        None => Ok(ip.to_string()),
        Some(Ok(p)) if p <= max => Ok(format!("{ip}/{p}")),
        Some(_) => Err(format!("{text:?}: the prefix must be 0 to {max}")),
    }
}

/// `--plain-api`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlainApiChoice {
    /// Leave it as it is (other tools may use it).
    Leave,
    /// Only this board and the --plain-api-allow addresses.
    Restrict,
    /// Off for everyone.
    Off,
}

/// `--login-by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoginByChoice {
    /// Warn when http-pap is missing.
    Check,
    /// Add http-pap.
    AddPap,
}

/// Prints the script for `config` to stdout.
pub fn run(args: &SetupScriptArgs, config: &Config) -> anyhow::Result<()> {
    let password = agent_password(args, config)?;
    let mut opts = SetupOptions::from_config(config, args.agent_address, password);
    if args.routeros.is_some() {
        opts.routeros_major = args.routeros;
    }
    if !args.plain_api_allow.is_empty() && args.plain_api != PlainApiChoice::Restrict {
        anyhow::bail!("--plain-api-allow goes with --plain-api restrict");
    }
    opts.plain_api = match args.plain_api {
        PlainApiChoice::Leave => PlainApi::Leave,
        PlainApiChoice::Restrict => PlainApi::Restrict(args.plain_api_allow.clone()),
        PlainApiChoice::Off => PlainApi::Disable,
    };
    opts.bypass_agent = !args.no_bypass;
    opts.set_dns_name = args.set_dns_name;
    opts.login_by = match args.login_by {
        LoginByChoice::Check => LoginBy::Check,
        LoginByChoice::AddPap => LoginBy::AddPap,
    };
    let script = setup_script(config, &opts);
    std::io::stdout()
        .write_all(script.as_bytes())
        .context("cannot write the script to stdout")?;
    Ok(())
}

/// The password from the password file; a fresh one (written to the file) when the
/// file is empty, as `install.sh` and the package leave it.
fn agent_password(args: &SetupScriptArgs, config: &Config) -> anyhow::Result<Secret> {
    let file = args
        .password_file
        .clone()
        .or_else(|| config.router(None).and_then(|r| r.password_file.clone()));
    let Some(file) = file else {
        anyhow::bail!(
            "no password file: set [[router]] password_file in the config or pass --password-file \
             (the script must not hold a password the agent does not know)"
        );
    };
    let existing = Secret::from_file_or_empty(&file, "--password-file")?;
    if !existing.is_empty() {
        return Ok(existing);
    }
    let fresh = random_password()?;
    write_secret(&file, &fresh)?;
    eprintln!(
        "wrote a new random password to {}; the script sets the same one on the router",
        file.display()
    );
    Ok(fresh)
}

/// 20 characters from 62: about 119 bits.
fn random_password() -> anyhow::Result<Secret> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(20);
    let mut buf = [0u8; 64];
    while out.len() < 20 {
        getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
        // Rejection sampling keeps every character equally likely (248 = 4 * 62).
        out.extend(
            buf.iter()
                .filter(|b| **b < 248)
                .map(|b| ALPHABET[(*b % 62) as usize] as char)
                .take(20 - out.len()),
        );
    }
    Ok(Secret::new(out))
}

fn write_secret(path: &Path, secret: &Secret) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {} (run with sudo?)", path.display()))?;
    f.write_all(secret.expose().as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn args(file: &Path) -> SetupScriptArgs {
        SetupScriptArgs {
            agent_address: "192.168.88.10".parse().unwrap(),
            routeros: None,
            plain_api: PlainApiChoice::Leave,
            plain_api_allow: Vec::new(),
            no_bypass: false,
            set_dns_name: false,
            login_by: LoginByChoice::Check,
            password_file: Some(file.to_path_buf()),
        }
    }

    #[test]
    fn an_empty_password_file_gets_a_random_password_that_the_script_uses() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("router.pass");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let first = agent_password(&args(&file), &Config::default()).unwrap();
        assert_eq!(first.expose().len(), 20);
        assert!(first.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), first.expose());
        let again = agent_password(&args(&file), &Config::default()).unwrap();
        assert_eq!(
            again, first,
            "a second run reuses the file instead of changing the password"
        );
    }

    #[test]
    fn a_world_readable_password_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("router.pass");
        std::fs::write(&file, "secret99").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = agent_password(&args(&file), &Config::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn plain_api_addresses_are_checked_before_they_reach_the_script() {
        assert_eq!(parse_address("192.168.88.20").unwrap(), "192.168.88.20");
        assert_eq!(parse_address("10.0.0.0/24").unwrap(), "10.0.0.0/24");
        assert!(parse_address("10.0.0.0/33").is_err());
        assert!(parse_address("1.2.3.4 disabled=yes").is_err());
        assert!(parse_address("$x").is_err());
    }

    #[test]
    fn two_random_passwords_differ() {
        assert_ne!(random_password().unwrap(), random_password().unwrap());
    }
}
