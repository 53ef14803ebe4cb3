//! From a `[central]` section to link settings: reads the password, CA, pin and
//! client certificate files. Used by the site and by the central office's tool.

use std::path::Path;

use firmware_config::{CentralConfig, ConfigError};

use crate::link::LinkConfig;
use crate::tls::{client_config, TlsError, TlsSettings};

/// Why the link could not be set up from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum LinkSetupError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("cannot read {key} file {file}: {message}")]
    File {
        key: &'static str,
        file: String,
        message: String,
    },
    #[error("[central] TLS: {0}")]
    Tls(#[from] TlsError),
}

fn read(path: &Path, key: &'static str) -> Result<Vec<u8>, LinkSetupError> {
    std::fs::read(path).map_err(|e| LinkSetupError::File {
        key,
        file: path.display().to_string(),
        message: e.to_string(),
    })
}

/// The link settings for `[central]`, as client `client_id`.
pub fn link_config(c: &CentralConfig, client_id: &str) -> Result<LinkConfig, LinkSetupError> {
    let tls = if c.tls {
        let settings = TlsSettings {
            ca_pem: c
                .ca_file
                .as_deref()
                .map(|p| read(p, "central.ca_file"))
                .transpose()?,
            pin: c.fingerprint_bytes(),
            client_auth: match (&c.client_cert, &c.client_key) {
                (Some(cert), Some(key)) => Some((
                    read(cert, "central.client_cert")?,
                    // A private key: refused when group or others can read it.
                    firmware_config::read_private(key, "central.client_key")?,
                )),
                _ => None,
            },
        };
        Some(client_config(&settings)?)
    } else {
        None
    };
    Ok(LinkConfig {
        host: c.broker.clone(),
        port: c.effective_port(),
        client_id: client_id.to_string(),
        username: c.username.clone(),
        password: c.password()?,
        tls,
        keep_alive: c.keep_alive.std(),
        clean_session: false,
        last_will: None,
        subscriptions: Vec::new(),
        backoff_min: c.reconnect_min.std(),
        backoff_max: c.reconnect_max.std(),
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_client_key_other_users_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert, "cert").unwrap();
        std::fs::write(&key, "PRIVATE KEY MATERIAL").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let central = CentralConfig {
            tls: true,
            client_cert: Some(cert),
            client_key: Some(key.clone()),
            ..CentralConfig::default()
        };
        let err = link_config(&central, "site").err().unwrap().to_string();
        assert!(err.contains("central.client_key"), "{err}");
        assert!(
            err.contains(&format!("chmod 600 {}", key.display())),
            "{err}"
        );
        assert!(!err.contains("PRIVATE KEY MATERIAL"), "{err}");
    }
}
