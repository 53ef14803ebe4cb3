//! Secrets (router and broker passwords, keys): never printed, loadable from files
//! that only the agent's user can read.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ConfigError;

/// A secret string. `Debug`, `Display` and `Serialize` print `***`; only
/// [`Secret::expose`] gives the value, at the one place that sends it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one call that needs it (a login, a TLS key).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string (a new RouterOS router's admin has one).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads a secret from a file, trimming one trailing newline. Refuses a file
    /// that group or others can read, so a world-readable config can point at it, and
    /// an empty one: a step left out, not a choice (a router user without a password
    /// is written by leaving `password_file` out).
    pub fn from_file(path: &Path, key: &str) -> Result<Secret, ConfigError> {
        let secret = Secret::from_file_or_empty(path, key)?;
        if secret.is_empty() {
            return Err(ConfigError::Secret {
                key: key.to_string(),
                file: path.display().to_string(),
                message: format!(
                    "is empty; write the password into it (printf '%s' 'PASSWORD' > {})",
                    path.display()
                ),
            });
        }
        Ok(secret)
    }

    /// [`Secret::from_file`] that gives an empty file as the empty secret, for the one
    /// caller that fills such a file (the router set-up script's fresh password).
    pub fn from_file_or_empty(path: &Path, key: &str) -> Result<Secret, ConfigError> {
        let bytes = read_private(path, key)?;
        let text = String::from_utf8(bytes).map_err(|_| ConfigError::Secret {
            key: key.to_string(),
            file: path.display().to_string(),
            message: "is not UTF-8 text".into(),
        })?;
        let value = text.strip_suffix('\n').unwrap_or(&text);
        let value = value.strip_suffix('\r').unwrap_or(value);
        Ok(Secret(value.to_string()))
    }
}

/// Reads a file that holds a secret (a password, a private key), refusing one that
/// group or others can read. `key` names the setting in the error.
pub fn read_private(path: &Path, key: &str) -> Result<Vec<u8>, ConfigError> {
    let err = |message: String| ConfigError::Secret {
        key: key.to_string(),
        file: path.display().to_string(),
        message,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "is readable by other users (mode {mode:o}); run `chmod 600 {}`",
                path.display()
            )));
        }
    }
    std::fs::read(path).map_err(|e| err(e.to_string()))
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "hunter2");
    }

    #[cfg(unix)]
    #[test]
    fn an_empty_secret_file_is_refused_with_what_to_write() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pass");
        std::fs::write(&path, "\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = Secret::from_file(&path, "router[0].password_file")
            .unwrap_err()
            .to_string();
        assert!(err.contains("router[0].password_file"), "{err}");
        assert!(err.contains("is empty; write the password"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn secret_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pass");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Secret::from_file(&path, "router[0].password_file")
            .unwrap_err()
            .to_string();
        assert!(err.contains("chmod 600"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let s = Secret::from_file(&path, "router[0].password_file").unwrap();
        assert_eq!(s.expose(), "s3cret");
    }
}
