//! `hotspot-agent router setup-script`: prints the RouterOS set-up script for this
//! kiosk, with the agent's password taken from (or written to) its password file so
//! the router and the agent agree.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use firmware_config::{Config, Secret};

use routeros::setup_script::{setup_script, PlainApi, SetupOptions};

/// Options of `router setup-script`.
#[derive(Debug, Clone, clap::Args)]
pub struct SetupScriptArgs {
    /// This board's address on the hotspot LAN: the only address allowed to log in.
    #[arg(long)]
    pub agent_address: IpAddr,
    /// RouterOS major version (6 or 7); by default the script checks on the router.
    #[arg(long, value_parser = clap::value_parser!(u8).range(6..=7))]
    pub routeros: Option<u8>,
    /// Keep the unencrypted API (port 8728) on for this board only, instead of turning it off.
    #[arg(long)]
    pub keep_plain_api: bool,
    /// File with the agent's router password (default: `[[router]] password_file`).
    /// When it is empty, a new random password is written to it.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
}

/// Prints the script for `config` to stdout.
pub fn run(args: &SetupScriptArgs, config: &Config) -> anyhow::Result<()> {
    let password = agent_password(args, config)?;
    let mut opts = SetupOptions::from_config(config, args.agent_address, password);
    if args.routeros.is_some() {
        opts.routeros_major = args.routeros;
    }
    if args.keep_plain_api {
        opts.plain_api = PlainApi::RestrictToAgent;
    }
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
    let existing = Secret::from_file(&file, "--password-file")?;
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
            keep_plain_api: false,
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
    fn two_random_passwords_differ() {
        assert_ne!(random_password().unwrap(), random_password().unwrap());
    }
}
