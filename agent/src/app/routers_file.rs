//! Router settings pushed by the central office, kept in the state folder so they
//! take effect at the next start and survive reboots. Passwords go to files of
//! their own (mode 600) that the TOML names, like an operator's `password_file`.

use std::io::Write;
use std::path::{Path, PathBuf};

use firmware_config::{Config, ConfigError, RouterConfig};

/// The file, in the state folder.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("routers-from-central.toml")
}

/// `s` as a TOML string, escaped the way TOML escapes (Rust's `Debug` form differs:
/// `\u{1b}` is not TOML).
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Writes `routers` (pushed as settings version `version`) for the next start.
pub fn save(state_dir: &Path, version: u64, routers: &[RouterConfig]) -> std::io::Result<()> {
    let mut text = format!("# Router settings version {version} from the central office. Replaces the config file's [[router]] entries at start-up.\n");
    for (i, r) in routers.iter().enumerate() {
        text.push_str("\n[[router]]\n");
        text.push_str(&format!(
            "name = {}\nhost = {}\ntransport = {}\n",
            quote(&r.name),
            quote(&r.host),
            quote(r.transport.as_str())
        ));
        if let Some(p) = r.api_port {
            text.push_str(&format!("api_port = {p}\n"));
        }
        if let Some(p) = r.rest_port {
            text.push_str(&format!("rest_port = {p}\n"));
        }
        text.push_str(&format!(
            "username = {}\nhotspot_server = {}\ndns_name = {}\n",
            quote(&r.username),
            quote(&r.hotspot_server),
            quote(&r.dns_name)
        ));
        if let Some(fp) = &r.fingerprint {
            text.push_str(&format!("fingerprint = {}\n", quote(fp)));
        }
        let password_file = match (&r.password, &r.password_file) {
            (Some(secret), _) => {
                let file = state_dir.join(format!("router-{i}.pass"));
                write_private(&file, secret.expose().as_bytes())?;
                Some(file)
            }
            (None, Some(f)) => Some(f.clone()),
            (None, None) => None,
        };
        if let Some(f) = password_file {
            text.push_str(&format!(
                "password_file = {}\n",
                quote(&f.display().to_string())
            ));
        }
    }
    let tmp = path(state_dir).with_extension("toml.new");
    write_private(&tmp, text.as_bytes())?;
    std::fs::rename(&tmp, path(state_dir))
}

fn write_private(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(file)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Replaces `config.routers` with the pushed ones, if any were saved. Returns whether it did.
pub fn apply(config: &mut Config) -> Result<bool, ConfigError> {
    let file = path(&config.agent.state_dir);
    if !file.exists() {
        return Ok(false);
    }
    let origin = file.display().to_string();
    let text = std::fs::read_to_string(&file).map_err(|e| ConfigError::Read {
        file: origin.clone(),
        message: e.to_string(),
    })?;
    let pushed = Config::parse(&text, &origin)?;
    pushed.validate(&origin)?;
    config.routers = pushed.routers;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_quotes_and_control_characters_are_written_as_toml_strings() {
        for text in ["main \"lobby\"", "tab\there", "esc\u{1b}[0m", "ñandú"] {
            let line = format!("name = {}", quote(text));
            let back: toml::Table = toml::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(back["name"].as_str(), Some(text), "{line}");
        }
    }
    use firmware_config::{Secret, Transport};

    #[test]
    fn pushed_routers_come_back_with_their_password_in_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let r = RouterConfig {
            name: "branch".into(),
            host: "10.1.1.1".into(),
            transport: Transport::ApiSsl,
            api_port: Some(8729),
            password: Some(Secret::new("s3cret")),
            fingerprint: Some("ab".repeat(32)),
            ..RouterConfig::default()
        };
        save(dir.path(), 7, &[r]).unwrap();
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert!(
            !text.contains("s3cret"),
            "the password is not in the TOML: {text}"
        );
        let mut config = Config::default();
        config.agent.state_dir = dir.path().to_path_buf();
        assert!(apply(&mut config).unwrap());
        let back = &config.routers[0];
        assert_eq!(
            (back.name.as_str(), back.host.as_str(), back.transport),
            ("branch", "10.1.1.1", Transport::ApiSsl)
        );
        assert_eq!(back.resolve_password(0).unwrap().expose(), "s3cret");
    }

    #[test]
    fn without_a_pushed_file_the_config_stays() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.agent.state_dir = dir.path().to_path_buf();
        assert!(!apply(&mut config).unwrap());
    }
}
