//! `[[router]]`: how to reach each MikroTik router the agent drives.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{ConfigError, Duration, Problem, Secret};

/// Which RouterOS interface to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// REST when `/rest/system/resource` reports RouterOS 7, else the binary API.
    #[default]
    Auto,
    /// Binary API over plain TCP (port 8728).
    Api,
    /// Binary API over TLS (port 8729).
    ApiSsl,
    /// REST over HTTPS (RouterOS 7.1+; port 443) or HTTP when `rest_tls = false`.
    Rest,
}

impl Transport {
    /// The name used in config files and on the command line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Transport::Auto => "auto",
            Transport::Api => "api",
            Transport::ApiSsl => "api-ssl",
            Transport::Rest => "rest",
        }
    }

    /// Parses `auto`, `api`, `api-ssl` or `rest`.
    pub fn parse(text: &str) -> Option<Transport> {
        match text {
            "auto" => Some(Transport::Auto),
            "api" => Some(Transport::Api),
            "api-ssl" => Some(Transport::ApiSsl),
            "rest" => Some(Transport::Rest),
            _ => None,
        }
    }
}

/// One router.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RouterConfig {
    /// Name used to pick this router (`--router NAME`) and in records.
    pub name: String,
    /// Address of the router on the hotspot LAN. Empty: the built-in simulated router.
    pub host: String,
    /// `auto`, `api`, `api-ssl` or `rest`.
    pub transport: Transport,
    /// Binary API port; default 8728 (`api`) or 8729 (`api-ssl`).
    pub api_port: Option<u16>,
    /// REST port; default 443, or 80 when `rest_tls = false`.
    pub rest_port: Option<u16>,
    /// REST over HTTPS (true) or plain HTTP, which RouterOS serves from 7.9.
    pub rest_tls: bool,
    /// API user name; the user's group needs the `api` (binary) or `rest-api` (REST) policy.
    pub username: String,
    /// Password; prefer `password_file`.
    pub password: Option<Secret>,
    /// File holding the password, readable only by the agent's user.
    pub password_file: Option<PathBuf>,
    /// SHA-256 fingerprint of the router's TLS certificate (hex, colons allowed).
    pub fingerprint: Option<String>,
    /// CA certificate (PEM) that signed the router's certificate, instead of a fingerprint.
    pub ca_file: Option<PathBuf>,
    /// Time allowed for each command before it fails.
    pub timeout: Duration,
    /// Hotspot server users are created on (`all` = any).
    pub hotspot_server: String,
    /// DNS name of the hotspot, for the login URL printed on tickets.
    pub dns_name: String,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            name: "main".into(),
            host: String::new(),
            transport: Transport::Auto,
            api_port: None,
            rest_port: None,
            rest_tls: true,
            username: "admin".into(),
            password: None,
            password_file: None,
            fingerprint: None,
            ca_file: None,
            timeout: Duration::from_secs(5),
            hotspot_server: "all".into(),
            dns_name: "hotspot.lan".into(),
        }
    }
}

impl RouterConfig {
    /// The password, from `password_file` if set, else `password`, else empty.
    pub fn resolve_password(&self, index: usize) -> Result<Secret, ConfigError> {
        match &self.password_file {
            Some(path) => Secret::from_file(path, &format!("router[{index}].password_file")),
            None => Ok(self.password.clone().unwrap_or_default()),
        }
    }

    /// The pinned fingerprint as 32 bytes, if one is configured and well formed.
    pub fn fingerprint_bytes(&self) -> Option<[u8; 32]> {
        self.fingerprint.as_deref().and_then(parse_fingerprint)
    }

    /// Whether this entry means the built-in simulated router.
    pub fn is_simulated(&self) -> bool {
        self.host.is_empty()
    }
}

/// Longest `timeout` accepted: a router that needs longer for one command is down.
const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Parses a SHA-256 fingerprint written as 64 hex digits, optionally with `:` or spaces.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let hex: String = text.chars().filter(|c| !matches!(c, ':' | ' ')).collect();
    hex::decode(hex).ok()?.try_into().ok()
}

/// An IP address or a DNS name: letters, digits, `-` and `.`, with no scheme, port
/// or path.
fn host_is_plain(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
        || (host.len() <= 253
            && host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }))
}

pub(crate) fn validate(routers: &[RouterConfig], problems: &mut Vec<Problem>) {
    for (i, r) in routers.iter().enumerate() {
        let key = |k: &str| format!("router[{i}].{k}");
        if r.name.is_empty() {
            problems.push(Problem::new(key("name"), "", "a non-empty name"));
        }
        if routers[..i].iter().any(|o| o.name == r.name) {
            problems.push(Problem::new(
                key("name"),
                &r.name,
                "a name no other [[router]] uses",
            ));
        }
        if !r.host.is_empty() && !host_is_plain(&r.host) {
            problems.push(Problem::new(
                key("host"),
                &r.host,
                "the router's address or DNS name alone, e.g. \"192.168.88.1\" (no https://, port or path: \
                 the transport and api_port / rest_port say how to connect)",
            ));
        }
        if let Some(fp) = &r.fingerprint {
            if parse_fingerprint(fp).is_none() {
                problems.push(Problem::new(
                    key("fingerprint"),
                    fp,
                    "64 hex digits (SHA-256 of the router's certificate), colons allowed",
                ));
            }
        }
        if r.password.is_some() && r.password_file.is_some() {
            problems.push(Problem::new(
                key("password"),
                "***",
                "either password or password_file, not both",
            ));
        }
        if r.timeout.std().is_zero() || r.timeout.std() > MAX_TIMEOUT {
            problems.push(Problem::new(
                key("timeout"),
                r.timeout,
                "a duration above zero and at most 10m, e.g. \"5s\"",
            ));
        }
        if r.username.is_empty() {
            problems.push(Problem::new(
                key("username"),
                "",
                "the RouterOS API user name",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_with_multibyte_characters_is_refused_not_a_panic() {
        // 64 bytes, but not 64 hex digits: slicing by byte offset used to panic here.
        let text = format!("{}é{}", "0".repeat(31), "0".repeat(31));
        assert_eq!(text.len(), 64);
        assert_eq!(parse_fingerprint(&text), None);
        assert!(parse_fingerprint(&"ab:".repeat(31).replace(':', "")).is_none());
        assert_eq!(parse_fingerprint(&"AB".repeat(32)), Some([0xAB; 32]));
    }

    #[test]
    fn a_timeout_of_centuries_is_refused_with_the_bound() {
        let routers = [RouterConfig {
            timeout: Duration::from_secs(u64::MAX / 4),
            ..RouterConfig::default()
        }];
        let mut problems = Vec::new();
        validate(&routers, &mut problems);
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("router[0].timeout") && t.contains("at most 10m")),
            "{text:?}"
        );
    }

    #[test]
    fn fingerprints_with_and_without_colons_parse() {
        let plain = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let colons = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff";
        assert_eq!(parse_fingerprint(plain), parse_fingerprint(colons));
        assert_eq!(parse_fingerprint(plain).unwrap()[1], 0x11);
        assert!(parse_fingerprint("abcd").is_none());
    }
}
