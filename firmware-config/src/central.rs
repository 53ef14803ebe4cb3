//! `[central]`: the MQTT link to the central office: broker, TLS, credentials,
//! the central office's signing key and how the link backs off.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{ConfigError, Duration, Problem, Secret};

/// `[central]`. The link is off while `broker` is empty: a kiosk sells on its own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CentralConfig {
    /// Broker host name or address; empty = no central office.
    pub broker: String,
    /// Broker port; default 1883, or 8883 with TLS.
    pub port: Option<u16>,
    /// MQTT user name.
    pub username: Option<String>,
    /// MQTT password; prefer `password_file`.
    pub password: Option<Secret>,
    /// File holding the MQTT password, readable only by the agent's user.
    pub password_file: Option<PathBuf>,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// First level of every topic.
    pub topic_prefix: String,
    /// Whether the link uses TLS.
    pub tls: bool,
    /// PEM file with the certificate authorities that may sign the broker's certificate.
    /// Without it (and without `fingerprint`), TLS is refused: there is no system store on the box.
    pub ca_file: Option<PathBuf>,
    /// SHA-256 of the broker's certificate (DER), 64 hex digits, `:` allowed. When set,
    /// exactly that certificate is accepted, whoever signed it.
    pub fingerprint: Option<String>,
    /// PEM client certificate, for brokers that authenticate sites by certificate.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert` (PKCS#8, PKCS#1 or SEC1), readable only by the agent.
    pub client_key: Option<PathBuf>,
    /// The central office's ed25519 public key (32 bytes, hex or base64). Plans,
    /// settings and commands signed by any other key are refused.
    pub central_public_key: String,
    /// First wait before reconnecting to the broker.
    pub reconnect_min: Duration,
    /// Longest wait between reconnect attempts (the wait doubles up to this).
    pub reconnect_max: Duration,
    /// Time an unacknowledged outbox message waits before it is sent again
    /// (doubling per attempt, up to 64 times this).
    pub resend_after: Duration,
    /// Time between status (retained) and telemetry messages.
    pub status_interval: Duration,
}

impl Default for CentralConfig {
    fn default() -> Self {
        CentralConfig {
            broker: String::new(),
            port: None,
            username: None,
            password: None,
            password_file: None,
            keep_alive: Duration::from_secs(30),
            topic_prefix: "hotspot".into(),
            tls: false,
            ca_file: None,
            fingerprint: None,
            client_cert: None,
            client_key: None,
            central_public_key: String::new(),
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            resend_after: Duration::from_secs(30),
            status_interval: Duration::from_secs(60),
        }
    }
}

impl CentralConfig {
    /// Whether a central office is configured at all.
    pub fn enabled(&self) -> bool {
        !self.broker.is_empty()
    }

    /// The port to connect to: `port`, else 8883 with TLS, else 1883.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(if self.tls { 8883 } else { 1883 })
    }

    /// The MQTT password: from `password_file` (checked for permissions) or `password`.
    pub fn password(&self) -> Result<Option<Secret>, ConfigError> {
        match &self.password_file {
            Some(path) => Secret::from_file(path, "central.password_file").map(Some),
            None => Ok(self.password.clone()),
        }
    }

    /// The central office's public key as 32 bytes, if it is written correctly.
    pub fn central_key_bytes(&self) -> Option<[u8; 32]> {
        parse_key32(&self.central_public_key)
    }

    /// The pinned certificate fingerprint as 32 bytes, if set and written correctly.
    pub fn fingerprint_bytes(&self) -> Option<[u8; 32]> {
        self.fingerprint
            .as_deref()
            .and_then(crate::router::parse_fingerprint)
    }
}

/// 32 bytes written as 64 hex digits or as base64 (standard alphabet, padding optional).
pub fn parse_key32(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    parse_hex32(text).or_else(|| decode_base64(text).and_then(|b| b.try_into().ok()))
}

fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
}

// Long on purpose: one check per `[central]` key, in file order, so the list of problems reads like the file.
pub(crate) fn validate(central: &CentralConfig, problems: &mut Vec<Problem>) {
    if central.topic_prefix.is_empty() || central.topic_prefix.contains(['#', '+', '/']) {
        problems.push(Problem::new(
            "central.topic_prefix",
            &central.topic_prefix,
            "a non-empty topic level without '#', '+' or '/'",
        ));
    }
    if !central.enabled() {
        return;
    }
    if central.broker.contains(['/', ' ']) {
        problems.push(Problem::new(
            "central.broker",
            &central.broker,
            "a host name or address, no scheme or path",
        ));
    }
    if central.central_key_bytes().is_none() {
        problems.push(Problem::new(
            "central.central_public_key",
            &central.central_public_key,
            "the central office's ed25519 public key, 64 hex digits or base64 \
             (print it with `hotspot-central keygen`)",
        ));
    }
    if central.password.is_some() && central.password_file.is_some() {
        problems.push(Problem::new(
            "central.password",
            "***",
            "either password or password_file, not both",
        ));
    }
    if let Some(f) = &central.fingerprint {
        if central.fingerprint_bytes().is_none() {
            problems.push(Problem::new(
                "central.fingerprint",
                f,
                "SHA-256 of the broker certificate: 64 hex digits, ':' separators allowed",
            ));
        }
    }
    let tls_only = [
        ("central.ca_file", central.ca_file.is_some()),
        ("central.fingerprint", central.fingerprint.is_some()),
        ("central.client_cert", central.client_cert.is_some()),
        ("central.client_key", central.client_key.is_some()),
    ];
    if !central.tls {
        for (key, set) in tls_only {
            if set {
                problems.push(Problem::new(key, "set", "only with tls = true"));
            }
        }
    } else if central.ca_file.is_none() && central.fingerprint.is_none() {
        problems.push(Problem::new(
            "central.tls",
            "true",
            "with ca_file (the broker's CA) or fingerprint (the broker's certificate pinned)",
        ));
    }
    if central.client_cert.is_some() != central.client_key.is_some() {
        problems.push(Problem::new(
            "central.client_cert",
            "half set",
            "client_cert and client_key together",
        ));
    }
    let secs = |d: &Duration| d.std().as_secs_f64();
    if secs(&central.keep_alive) < 5.0 {
        problems.push(Problem::new(
            "central.keep_alive",
            central.keep_alive,
            "5s or more",
        ));
    }
    if secs(&central.reconnect_min) < 0.05
        || central.reconnect_min.std() > central.reconnect_max.std()
    {
        problems.push(Problem::new(
            "central.reconnect_min",
            central.reconnect_min,
            "50ms or more, and no more than reconnect_max",
        ));
    }
    if secs(&central.resend_after) < 1.0 {
        problems.push(Problem::new(
            "central.resend_after",
            central.resend_after,
            "1s or more",
        ));
    }
    if secs(&central.status_interval) < 1.0 {
        problems.push(Problem::new(
            "central.status_interval",
            central.status_interval,
            "1s or more",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    const KEY_HEX: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    #[test]
    fn a_central_key_with_multibyte_characters_is_refused_not_a_panic() {
        let text = format!("{}é{}", "0".repeat(31), "0".repeat(31));
        assert_eq!(super::parse_key32(&text), None);
    }

    #[test]
    fn a_central_office_without_a_public_key_is_refused() {
        let text = "[central]\nbroker = \"mqtt.example.net\"\n";
        let err = Config::parse(text, "c.toml")
            .unwrap()
            .validate("c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("central.central_public_key"), "{err}");
    }

    #[test]
    fn the_public_key_reads_as_hex_or_base64_alike() {
        let hex_text = format!("[central]\nbroker = \"b\"\ncentral_public_key = \"{KEY_HEX}\"\n");
        let config = Config::parse(&hex_text, "c.toml").unwrap();
        config.validate("c.toml").unwrap();
        let from_hex = config.central.central_key_bytes().unwrap();
        // The same 32 bytes in base64 (RFC 8032 test vector 1's public key).
        let b64_text = "[central]\nbroker = \"b\"\ncentral_public_key = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n";
        let from_b64 = Config::parse(b64_text, "c.toml")
            .unwrap()
            .central
            .central_key_bytes()
            .unwrap();
        assert_eq!(from_hex, from_b64);
        assert_eq!(from_hex[0], 0xd7);
    }

    #[test]
    fn tls_needs_a_ca_or_a_pinned_fingerprint() {
        let text =
            format!("[central]\nbroker = \"b\"\ntls = true\ncentral_public_key = \"{KEY_HEX}\"\n");
        let err = Config::parse(&text, "c.toml")
            .unwrap()
            .validate("c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("central.tls"), "{err}");
        let pinned = format!("{text}fingerprint = \"{}\"\n", "ab:".repeat(31) + "ab");
        let config = Config::parse(&pinned, "c.toml").unwrap();
        config.validate("c.toml").unwrap();
        assert_eq!(config.central.fingerprint_bytes(), Some([0xab; 32]));
        assert_eq!(config.central.effective_port(), 8883);
    }

    #[test]
    fn tls_files_without_tls_and_half_a_client_certificate_are_refused() {
        let text = format!(
            "[central]\nbroker = \"b\"\ncentral_public_key = \"{KEY_HEX}\"\nca_file = \"ca.pem\"\nclient_cert = \"c.pem\"\n"
        );
        let err = Config::parse(&text, "c.toml")
            .unwrap()
            .validate("c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("central.ca_file"), "{err}");
        assert!(err.contains("client_cert and client_key together"), "{err}");
    }

    #[test]
    fn no_broker_means_no_central_checks() {
        let config = Config::parse("[central]\n", "c.toml").unwrap();
        config.validate("c.toml").unwrap();
        assert!(!config.central.enabled());
    }
}
