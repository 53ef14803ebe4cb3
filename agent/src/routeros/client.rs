//! The router handle the rest of the agent holds: one per configured router,
//! cloneable, over whichever transport `auto` detection chose.
//!
//! PLACEHOLDER: the transports (binary API task, REST, detection) are being written;
//! this file fixes the handle's public shape so other parts can build against it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use firmware_config::{ConfigError, RouterConfig, Secret, Transport};

use super::error::RouterError;
use super::model::{Record, RouterVersion};

/// Everything needed to reach one router, with the password resolved.
#[derive(Debug, Clone)]
pub struct RouterSettings {
    /// Name used in records and errors.
    pub name: String,
    /// Host name or address.
    pub host: String,
    /// Requested transport (`auto` detects).
    pub transport: Transport,
    /// Binary API port (plain); default 8728.
    pub api_port: u16,
    /// Binary API TLS port; default 8729.
    pub api_ssl_port: u16,
    /// REST port; default 443 (HTTPS) or 80.
    pub rest_port: u16,
    /// REST over HTTPS.
    pub rest_tls: bool,
    /// API user.
    pub username: String,
    /// API password.
    pub password: Secret,
    /// Pinned SHA-256 of the router's certificate.
    pub fingerprint: Option<[u8; 32]>,
    /// CA file for the router's certificate.
    pub ca_file: Option<PathBuf>,
    /// Per-command time limit.
    pub timeout: Duration,
}

impl RouterSettings {
    /// Builds settings from a `[[router]]` entry (`index` names it in errors).
    pub fn from_config(cfg: &RouterConfig, index: usize) -> Result<RouterSettings, ConfigError> {
        let password = cfg.resolve_password(index)?;
        let (api_port, api_ssl_port) = match cfg.transport {
            Transport::ApiSsl => (8728, cfg.api_port.unwrap_or(8729)),
            _ => (cfg.api_port.unwrap_or(8728), 8729),
        };
        Ok(RouterSettings {
            name: cfg.name.clone(),
            host: cfg.host.clone(),
            transport: cfg.transport,
            api_port,
            api_ssl_port,
            rest_port: cfg.rest_port.unwrap_or(if cfg.rest_tls { 443 } else { 80 }),
            rest_tls: cfg.rest_tls,
            username: cfg.username.clone(),
            password,
            fingerprint: cfg.fingerprint_bytes(),
            ca_file: cfg.ca_file.clone(),
            timeout: cfg.timeout.std(),
        })
    }
}

/// What a connection turned out to be: shown by `router test` and recorded.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The transport in use (never `auto`).
    pub transport: Transport,
    /// Address connected to, `host:port`.
    pub addr: String,
    /// RouterOS version text as the router reports it.
    pub version_text: String,
    /// Parsed version.
    pub version: Option<RouterVersion>,
    /// Why this transport was chosen (`auto`: what the probe saw).
    pub reason: String,
}

/// A cloneable handle to one router.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

struct Inner {
    settings: RouterSettings,
}

impl Router {
    /// Connects (and with `auto`, detects the transport).
    pub async fn connect(settings: RouterSettings) -> Result<Router, RouterError> {
        Err(RouterError::Unreachable {
            router: settings.name.clone(),
            addr: settings.host.clone(),
            reason: "transports not built yet".into(),
        })
    }

    /// The router's configured name.
    pub fn name(&self) -> &str {
        &self.inner.settings.name
    }

    /// What the connection is.
    pub fn info(&self) -> ConnectionInfo {
        unreachable!("no Router can be constructed yet")
    }

    /// `print` with query words (without `?`) and an optional `.proplist`.
    pub async fn print(&self, path: &str, queries: &[String], proplist: Option<&str>) -> Result<Vec<Record>, RouterError> {
        let _ = (path, queries, proplist);
        Err(self.closed())
    }

    /// `add`; returns the new item's `.id`.
    pub async fn add(&self, path: &str, attrs: &[(String, String)]) -> Result<String, RouterError> {
        let _ = (path, attrs);
        Err(self.closed())
    }

    /// `set` on one item.
    pub async fn set(&self, path: &str, id: &str, attrs: &[(String, String)]) -> Result<(), RouterError> {
        let _ = (path, id, attrs);
        Err(self.closed())
    }

    /// `remove` of one item.
    pub async fn remove(&self, path: &str, id: &str) -> Result<(), RouterError> {
        let _ = (path, id);
        Err(self.closed())
    }

    /// Any other command of a menu (`reset-counters`, `enable`, …); returns `!re` records
    /// plus, if `!done` carried data, one record with it.
    pub async fn command(&self, path: &str, command: &str, attrs: &[(String, String)]) -> Result<Vec<Record>, RouterError> {
        let _ = (path, command, attrs);
        Err(self.closed())
    }

    fn closed(&self) -> RouterError {
        RouterError::Closed {
            router: self.name().to_string(),
        }
    }
}
