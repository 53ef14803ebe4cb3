//! `[owner_page]`: the shop owner's page in a browser on the shop's network. Off
//! unless `enabled`; HTTPS with a certificate the agent makes on first start, or plain
//! HTTP only on a private LAN address and only when `tls = false` is written.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Problem;

/// `[owner_page]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OwnerPageConfig {
    /// Serve the page from `hotspot-agent run`. Off by default.
    pub enabled: bool,
    /// Address and port to listen on, e.g. `192.168.88.2:8443` (`0.0.0.0:8443`: every
    /// address of the box; allowed only with TLS).
    pub listen: String,
    /// HTTPS (the default). `false` serves plain HTTP, refused unless `listen` is a
    /// private LAN address (10/8, 172.16/12, 192.168/16, fd00::/8, link-local, loopback).
    pub tls: bool,
    /// File with the Argon2id hash of the owner's PIN (written by `hotspot-agent
    /// owner-page pin`, mode 0600). Default: `owner-page/pin` in the state folder.
    pub pin_file: Option<PathBuf>,
    /// Minutes a login lasts.
    pub session_minutes: u32,
}

impl Default for OwnerPageConfig {
    fn default() -> Self {
        OwnerPageConfig {
            enabled: false,
            listen: "0.0.0.0:8443".into(),
            tls: true,
            pin_file: None,
            session_minutes: 12 * 60,
        }
    }
}

impl OwnerPageConfig {
    /// The listen address, if it is written as `ADDRESS:PORT`.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.trim().parse().ok()
    }

    /// Where the PIN hash is kept, with `state_dir` the agent's state folder.
    pub fn pin_path(&self, state_dir: &Path) -> PathBuf {
        self.pin_file
            .clone()
            .unwrap_or_else(|| state_dir.join("owner-page").join("pin"))
    }
}

/// Whether `ip` is an address only the shop's own network reaches.
pub fn is_lan_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local() || v4.is_loopback(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

pub(crate) fn validate(page: &OwnerPageConfig, problems: &mut Vec<Problem>) {
    let Some(addr) = page.listen_addr() else {
        problems.push(Problem::new(
            "owner_page.listen",
            &page.listen,
            "ADDRESS:PORT, e.g. \"192.168.88.2:8443\" or \"0.0.0.0:8443\"",
        ));
        return;
    };
    if !page.tls && !is_lan_address(addr.ip()) {
        problems.push(Problem::new(
            "owner_page.listen",
            &page.listen,
            "a private LAN address of the box (e.g. \"192.168.88.2:8080\") when tls = false: \
             plain HTTP on every address would send the PIN and the session in clear to any \
             network the box is on; or leave tls = true",
        ));
    }
    if page.session_minutes == 0 || page.session_minutes > 7 * 24 * 60 {
        problems.push(Problem::new(
            "owner_page.session_minutes",
            page.session_minutes,
            "1 to 10080 (a week)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(page: OwnerPageConfig) -> Vec<String> {
        let mut p = Vec::new();
        validate(&page, &mut p);
        p.into_iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn plain_http_is_refused_unless_bound_to_a_lan_address() {
        let plain = |listen: &str| OwnerPageConfig {
            listen: listen.into(),
            tls: false,
            ..OwnerPageConfig::default()
        };
        assert!(
            problems(OwnerPageConfig::default()).is_empty(),
            "the default is fine"
        );
        let p = problems(plain("0.0.0.0:8080"));
        assert!(p[0].contains("private LAN address"), "{p:?}");
        assert!(!problems(plain("203.0.113.5:8080")).is_empty());
        assert!(problems(plain("192.168.88.2:8080")).is_empty());
        assert!(problems(plain("127.0.0.1:8080")).is_empty());
        assert!(problems(plain("[fd12::2]:8080")).is_empty());
        assert!(!problems(plain("[2001:db8::1]:8080")).is_empty());
        let p = problems(OwnerPageConfig {
            listen: "8443".into(),
            ..OwnerPageConfig::default()
        });
        assert!(p[0].contains("ADDRESS:PORT"), "{p:?}");
    }

    #[test]
    fn the_pin_lives_in_the_state_folder_unless_a_file_is_named() {
        let page = OwnerPageConfig::default();
        assert_eq!(
            page.pin_path(Path::new("/var/lib/hotspot-agent")),
            PathBuf::from("/var/lib/hotspot-agent/owner-page/pin")
        );
        assert!(!page.enabled, "off by default");
    }
}
