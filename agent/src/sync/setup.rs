//! From the `[central]` configuration to a link and site settings: reads the
//! password, CA, pin and client certificate files, parses the central office's key.

use std::time::Duration;

use firmware_config::Config;
pub use mqtt_link::{link_config, LinkSetupError};

use super::site::SiteSettings;

/// Why the site side could not be set up from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Link(#[from] LinkSetupError),
    #[error("[central] central_public_key is not a valid ed25519 public key: print it with `hotspot-central keygen`")]
    Key,
    /// The site's own key in the state folder.
    #[error(transparent)]
    Identity(#[from] super::identity::IdentityError),
}

/// The site settings for a whole configuration, with the site's key from the state
/// folder (made there on first start).
pub fn site_settings(config: &Config) -> Result<SiteSettings, SetupError> {
    let identity = super::identity::SiteIdentity::load_or_create(&config.agent.state_dir)?;
    site_settings_with(config, identity)
}

/// The same with a given identity.
pub fn site_settings_with(
    config: &Config,
    identity: super::identity::SiteIdentity,
) -> Result<SiteSettings, SetupError> {
    let c = &config.central;
    let central_key =
        sync_proto::sign::parse_public_key(&c.central_public_key).map_err(|_| SetupError::Key)?;
    Ok(SiteSettings {
        site: config.agent.site_id.clone(),
        topic_prefix: c.topic_prefix.clone(),
        central_key,
        identity,
        resend_after: c.resend_after.std(),
        window: 500,
        status_interval: c.status_interval.std().max(Duration::from_secs(1)),
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

/// The site's MQTT client id: stable, so the broker keeps its persistent session.
pub fn site_client_id(config: &Config) -> String {
    format!(
        "{}-site-{}",
        config.central.topic_prefix, config.agent.site_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    #[test]
    fn a_pinned_tls_config_with_a_password_file_becomes_a_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let pass = dir.path().join("mqtt-pass");
        std::fs::write(&pass, "s3cret\n").unwrap();
        std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
        let text = format!(
            "[agent]\nsite_id = \"s1\"\n[central]\nbroker = \"mqtt.example.net\"\ntls = true\n\
             fingerprint = \"{}\"\nusername = \"s1\"\npassword_file = \"{}\"\ncentral_public_key = \"{KEY}\"\n",
            "00".repeat(32),
            pass.display()
        );
        let config = Config::parse(&text, "c.toml").unwrap();
        config.validate("c.toml").unwrap();
        let link = link_config(&config.central, &site_client_id(&config)).unwrap();
        assert_eq!(
            (link.port, link.client_id.as_str()),
            (8883, "hotspot-site-s1")
        );
        assert!(link.tls.is_some() && !link.clean_session);
        assert_eq!(link.password.as_ref().map(|p| p.expose()), Some("s3cret"));
        assert!(
            !format!("{link:?}").contains("s3cret"),
            "the password never shows in Debug"
        );
        let site = site_settings_with(
            &config,
            crate::sync::SiteIdentity::from_key(ed25519_dalek::SigningKey::from_bytes(&[1; 32])),
        )
        .unwrap();
        assert_eq!(hex::encode(site.central_key.to_bytes()), KEY);
    }

    #[test]
    fn a_missing_ca_file_is_named_in_the_error() {
        let text = format!(
            "[central]\nbroker = \"b\"\ntls = true\nca_file = \"/nonexistent/ca.pem\"\ncentral_public_key = \"{KEY}\"\n"
        );
        let config = Config::parse(&text, "c.toml").unwrap();
        let err = link_config(&config.central, "x").unwrap_err().to_string();
        assert!(
            err.contains("central.ca_file") && err.contains("/nonexistent/ca.pem"),
            "{err}"
        );
    }
}
