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

/// The settings in force before the last push, kept so a file that cannot be used
/// at start-up falls back to them rather than stopping the agent.
pub fn previous_path(state_dir: &Path) -> PathBuf {
    state_dir.join("routers-from-central.prev.toml")
}

/// One `[[router]]` entry as a TOML table, written by the `toml` crate (so every
/// string is escaped the TOML way, whatever it holds).
fn entry(r: &RouterConfig, password_file: Option<&Path>) -> toml::Table {
    let mut t = toml::Table::new();
    let mut put = |k: &str, v: toml::Value| {
        t.insert(k.to_string(), v);
    };
    put("name", r.name.clone().into());
    put("host", r.host.clone().into());
    put("transport", r.transport.as_str().into());
    if let Some(p) = r.api_port {
        put("api_port", i64::from(p).into());
    }
    if let Some(p) = r.rest_port {
        put("rest_port", i64::from(p).into());
    }
    put("username", r.username.clone().into());
    put("hotspot_server", r.hotspot_server.clone().into());
    put("dns_name", r.dns_name.clone().into());
    if let Some(fp) = &r.fingerprint {
        put("fingerprint", fp.clone().into());
    }
    if let Some(f) = password_file {
        put("password_file", f.display().to_string().into());
    }
    t
}

/// Writes `routers` (pushed as settings version `version`) for the next start; the
/// file they replace is kept as [`previous_path`].
pub fn save(state_dir: &Path, version: u64, routers: &[RouterConfig]) -> std::io::Result<()> {
    let mut entries = Vec::new();
    for (i, r) in routers.iter().enumerate() {
        let password_file = match (&r.password, &r.password_file) {
            (Some(secret), _) => {
                let file = state_dir.join(format!("router-v{version}-{i}.pass"));
                write_private(&file, secret.expose().as_bytes())?;
                Some(file)
            }
            (None, Some(f)) => Some(f.clone()),
            (None, None) => None,
        };
        entries.push(toml::Value::Table(entry(r, password_file.as_deref())));
    }
    let mut doc = toml::Table::new();
    doc.insert("router".into(), toml::Value::Array(entries));
    let body = toml::to_string(&doc).map_err(std::io::Error::other)?;
    let text = format!("# Router settings version {version} from the central office. Replaces the config file's [[router]] entries at start-up.\n\n{body}");
    let tmp = path(state_dir).with_extension("toml.new");
    write_private(&tmp, text.as_bytes())?;
    if path(state_dir).exists() {
        std::fs::rename(path(state_dir), previous_path(state_dir))?;
    }
    std::fs::rename(&tmp, path(state_dir))?;
    forget_old_passwords(state_dir);
    Ok(())
}

/// Deletes the password files of pushes older than the two kept (a password no
/// settings file names is only a secret lying about). Best effort.
fn forget_old_passwords(state_dir: &Path) {
    let named: String = [path(state_dir), previous_path(state_dir)]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("router-")
            && name.ends_with(".pass")
            && !named.contains(&file.display().to_string())
        {
            let _ = std::fs::remove_file(&file);
        }
    }
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

/// Which router settings a start uses.
#[derive(Debug, PartialEq)]
pub enum Applied {
    /// None were pushed: the config file's.
    ConfigFile,
    /// The last pushed settings.
    Pushed,
    /// The pushed file could not be used (the reason); the settings before it were.
    Previous(String),
    /// Neither pushed file could be used (the reason): the config file's.
    FellBackToConfigFile(String),
}

fn read(file: &Path) -> Result<Vec<RouterConfig>, ConfigError> {
    let origin = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| ConfigError::Read {
        file: origin.clone(),
        message: e.to_string(),
    })?;
    let pushed = Config::parse(&text, &origin)?;
    pushed.validate(&origin)?;
    Ok(pushed.routers)
}

/// Replaces `config.routers` with the pushed ones, if any were saved. A pushed file
/// that does not parse or validate never stops the agent (a restart would only
/// fail again): the settings before it are used, or the config file's, and the
/// returned value says which and why.
pub fn apply(config: &mut Config) -> Applied {
    let file = path(&config.agent.state_dir);
    if !file.exists() {
        return Applied::ConfigFile;
    }
    let why = match read(&file) {
        Ok(routers) => {
            config.routers = routers;
            return Applied::Pushed;
        }
        Err(e) => e.to_string(),
    };
    let prev = previous_path(&config.agent.state_dir);
    match prev.exists().then(|| read(&prev)) {
        Some(Ok(routers)) => {
            config.routers = routers;
            Applied::Previous(why)
        }
        Some(Err(e)) => {
            Applied::FellBackToConfigFile(format!("{why}; and the settings before: {e}"))
        }
        None => Applied::FellBackToConfigFile(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_quotes_and_control_characters_are_written_as_toml_strings() {
        for text in ["main \"lobby\"", "tab\there", "esc\u{1b}[0m", "ñandú"] {
            let r = RouterConfig {
                name: text.into(),
                ..RouterConfig::default()
            };
            let line = toml::to_string(&entry(&r, None)).unwrap();
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
        assert_eq!(apply(&mut config), Applied::Pushed);
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
        assert_eq!(apply(&mut config), Applied::ConfigFile);
    }
}

#[cfg(test)]
mod fallback_tests {
    use super::*;

    const GOOD: &str = "[[router]]\nname = \"main\"\nhost = \"10.0.0.1\"\npassword = \"pw\"\n";
    const DUPLICATE: &str = "[[router]]\nname = \"a\"\nhost = \"10.0.0.1\"\npassword = \"pw\"\n\n[[router]]\nname = \"a\"\nhost = \"10.0.0.2\"\npassword = \"pw\"\n";

    #[test]
    fn a_bad_pushed_file_falls_back_to_the_settings_before_it_then_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.agent.state_dir = dir.path().to_path_buf();
        config.routers = vec![RouterConfig {
            name: "from-config".into(),
            ..RouterConfig::default()
        }];
        std::fs::write(path(dir.path()), DUPLICATE).unwrap();
        std::fs::write(previous_path(dir.path()), GOOD).unwrap();
        let mut c = config.clone();
        match apply(&mut c) {
            Applied::Previous(why) => assert!(why.contains("router[1].name"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.routers[0].name, "main");

        std::fs::write(previous_path(dir.path()), "not toml [").unwrap();
        let mut c = config.clone();
        assert!(matches!(apply(&mut c), Applied::FellBackToConfigFile(_)));
        assert_eq!(c.routers[0].name, "from-config", "the agent still starts");
    }

    #[test]
    fn a_new_push_keeps_the_one_before_as_the_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let r = |name: &str| RouterConfig {
            name: name.into(),
            host: "10.0.0.1".into(),
            password: Some(firmware_config::Secret::new("pw")),
            ..RouterConfig::default()
        };
        save(dir.path(), 1, &[r("one")]).unwrap();
        save(dir.path(), 2, &[r("two")]).unwrap();
        let mut c = Config::default();
        c.agent.state_dir = dir.path().to_path_buf();
        assert_eq!(apply(&mut c), Applied::Pushed);
        assert_eq!(c.routers[0].name, "two");
        std::fs::write(path(dir.path()), DUPLICATE).unwrap();
        assert!(matches!(apply(&mut c), Applied::Previous(_)));
        assert_eq!(c.routers[0].name, "one");
        assert_eq!(c.routers[0].resolve_password(0).unwrap().expose(), "pw");
    }

    #[test]
    fn only_the_two_kept_pushes_keep_password_files() {
        let dir = tempfile::tempdir().unwrap();
        let r = RouterConfig {
            name: "main".into(),
            host: "10.0.0.1".into(),
            password: Some(firmware_config::Secret::new("pw")),
            ..RouterConfig::default()
        };
        for version in 1..=3 {
            save(dir.path(), version, std::slice::from_ref(&r)).unwrap();
        }
        let mut passwords: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".pass"))
            .collect();
        passwords.sort();
        assert_eq!(passwords, ["router-v2-0.pass", "router-v3-0.pass"]);
    }
}
