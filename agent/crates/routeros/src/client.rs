//! The router handle the rest of the agent holds: one per configured router,
//! cloneable, over whichever transport was configured or `auto` detection chose.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use firmware_config::{ConfigError, RouterConfig, Secret, Transport};

use super::api::{ApiClient, ApiConfig, Listener};
use super::detect::{self, RestProbe};
use super::error::RouterError;
use super::model::{path, Record, RouterVersion, Word};
use super::rest::{RestClient, RestConfig};
use super::tls::RouterTls;
use routeros_proto::{Command, Limits};

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

    /// Whether the router's certificate is to be verified (a pin or a CA is set).
    pub fn verifies_tls(&self) -> bool {
        self.fingerprint.is_some() || self.ca_file.is_some()
    }

    fn tls(&self) -> Result<RouterTls, RouterError> {
        RouterTls::new(self.fingerprint, self.ca_file.as_deref()).map_err(|e| RouterError::Tls {
            router: self.name.clone(),
            reason: e.to_string(),
        })
    }

    /// The binary API configuration (plain or TLS).
    pub fn api_config(&self, tls: bool) -> Result<ApiConfig, RouterError> {
        Ok(ApiConfig {
            router: self.name.clone(),
            host: self.host.clone(),
            port: if tls {
                self.api_ssl_port
            } else {
                self.api_port
            },
            tls: if tls { Some(self.tls()?) } else { None },
            username: self.username.clone(),
            password: self.password.clone(),
            timeout: self.timeout,
            limits: Limits::default(),
        })
    }

    /// The REST configuration, with the given time limit.
    pub fn rest_config(&self, timeout: Duration) -> Result<RestConfig, RouterError> {
        Ok(RestConfig {
            router: self.name.clone(),
            host: self.host.clone(),
            port: self.rest_port,
            tls: if self.rest_tls {
                Some(self.tls()?)
            } else {
                None
            },
            username: self.username.clone(),
            password: self.password.clone(),
            timeout,
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
    info: ConnectionInfo,
    backend: Backend,
}

enum Backend {
    Api(ApiClient),
    Rest(RestClient),
}

impl Router {
    /// Connects (and with `auto`, detects the transport), logs in and reads the version.
    pub async fn connect(settings: RouterSettings) -> Result<Router, RouterError> {
        let (backend, transport, reason) = match settings.transport {
            Transport::Api => (
                Backend::Api(ApiClient::spawn(settings.api_config(false)?)),
                Transport::Api,
                None,
            ),
            Transport::ApiSsl => (
                Backend::Api(ApiClient::spawn(settings.api_config(true)?)),
                Transport::ApiSsl,
                None,
            ),
            Transport::Rest => (
                Backend::Rest(RestClient::new(settings.rest_config(settings.timeout)?)),
                Transport::Rest,
                None,
            ),
            Transport::Auto => {
                match detect::probe_rest(settings.rest_config(detect::PROBE_TIMEOUT)?).await {
                    RestProbe::Rest { version } => (
                        Backend::Rest(RestClient::new(settings.rest_config(settings.timeout)?)),
                        Transport::Rest,
                        Some(format!("REST answered {version}")),
                    ),
                    RestProbe::Refused(e) => return Err(e),
                    // With a pin or a CA the operator asked for a verified router: a
                    // refused :443 (which anyone on the LAN can fake) must not turn that
                    // into a password in clear on 8728. Plaintext only when `api` is chosen.
                    RestProbe::NoRest(why) if settings.verifies_tls() => (
                        Backend::Api(ApiClient::spawn(settings.api_config(true)?)),
                        Transport::ApiSsl,
                        Some(format!(
                            "no REST on :{} ({why}); api-ssl, because a certificate pin or CA is configured",
                            settings.rest_port
                        )),
                    ),
                    RestProbe::NoRest(why) => (
                        Backend::Api(ApiClient::spawn(settings.api_config(false)?)),
                        Transport::Api,
                        Some(format!("no REST on :{} ({why})", settings.rest_port)),
                    ),
                }
            }
        };
        let addr = match &backend {
            Backend::Api(c) => c.config().addr(),
            Backend::Rest(c) => c.config().addr(),
        };
        let info = ConnectionInfo {
            transport,
            addr,
            version_text: String::new(),
            version: None,
            reason: String::new(),
        };
        let mut router = Router {
            inner: Arc::new(Inner {
                settings,
                info,
                backend,
            }),
        };
        // Reading the version proves the login works and fills in the info.
        let version_text = router
            .print(path::RESOURCE, &[], None)
            .await?
            .first()
            .and_then(|r| r.get("version").map(|v| v.to_string()))
            .unwrap_or_default();
        let reason = match (reason, transport) {
            (Some(r), Transport::Rest) => r,
            (Some(r), _) => format!("{r}; binary API {version_text}"),
            (None, t) => format!("transport = {} in the configuration", t.as_str()),
        };
        if let Some(inner) = Arc::get_mut(&mut router.inner) {
            inner.info.version = RouterVersion::parse(&version_text);
            inner.info.version_text = version_text;
            inner.info.reason = reason;
        }
        Ok(router)
    }

    /// The router's configured name.
    pub fn name(&self) -> &str {
        &self.inner.settings.name
    }

    /// What the connection is.
    pub fn info(&self) -> ConnectionInfo {
        self.inner.info.clone()
    }

    /// `print` with query words (without `?`, their bytes sent unchanged) and an
    /// optional `.proplist`.
    pub async fn print(
        &self,
        path: &str,
        queries: &[Word],
        proplist: Option<&str>,
    ) -> Result<Vec<Record>, RouterError> {
        match &self.inner.backend {
            Backend::Api(api) => {
                let mut cmd = Command::new(format!("{path}/print"));
                if let Some(p) = proplist {
                    cmd = cmd.attr(".proplist", p);
                }
                for q in queries {
                    cmd = cmd.query(q);
                }
                Ok(api.call(cmd).await?.rows)
            }
            Backend::Rest(rest) => rest.print(path, queries, proplist).await,
        }
    }

    /// `add`; returns the new item's `.id`.
    pub async fn add(&self, path: &str, attrs: &[(String, String)]) -> Result<String, RouterError> {
        match &self.inner.backend {
            Backend::Api(api) => {
                let command = format!("{path}/add");
                let response = api.call(with_attrs(&command, attrs)).await?;
                response
                    .done
                    .get("ret")
                    .map(Word::to_string)
                    .ok_or_else(|| RouterError::Unexpected {
                        router: self.name().to_string(),
                        command,
                        detail: "!done carried no =ret= with the new id".into(),
                    })
            }
            Backend::Rest(rest) => rest.add(path, attrs).await,
        }
    }

    /// `set` on one item.
    pub async fn set(
        &self,
        path: &str,
        id: &str,
        attrs: &[(String, String)],
    ) -> Result<(), RouterError> {
        match &self.inner.backend {
            Backend::Api(api) => {
                let cmd = with_attrs(&format!("{path}/set"), attrs).attr(".id", id);
                api.call(cmd).await.map(|_| ())
            }
            Backend::Rest(rest) => rest.set(path, id, attrs).await,
        }
    }

    /// `remove` of one item.
    pub async fn remove(&self, path: &str, id: &str) -> Result<(), RouterError> {
        match &self.inner.backend {
            Backend::Api(api) => api
                .call(Command::new(format!("{path}/remove")).attr(".id", id))
                .await
                .map(|_| ()),
            Backend::Rest(rest) => rest.remove(path, id).await,
        }
    }

    /// Any other command of a menu (`reset-counters`, `enable`, …); returns `!re` records
    /// plus, if `!done` carried data, one record with it.
    pub async fn command(
        &self,
        path: &str,
        command: &str,
        attrs: &[(String, String)],
    ) -> Result<Vec<Record>, RouterError> {
        match &self.inner.backend {
            Backend::Api(api) => {
                let mut response = api
                    .call(with_attrs(&format!("{path}/{command}"), attrs))
                    .await?;
                if !response.done.is_empty() {
                    response.rows.push(response.done);
                }
                Ok(response.rows)
            }
            Backend::Rest(rest) => rest.command(path, command, attrs).await,
        }
    }

    /// A streaming command (`listen`, or `print` with `=follow=`): records arrive until
    /// the [`Listener`] is cancelled or dropped. Binary API only: REST cuts commands
    /// after 60 s (routeros-reference.md §6).
    pub async fn stream(
        &self,
        path: &str,
        command: &str,
        attrs: &[(String, String)],
    ) -> Result<Listener, RouterError> {
        match &self.inner.backend {
            Backend::Api(api) => {
                api.stream(with_attrs(&format!("{path}/{command}"), attrs))
                    .await
            }
            Backend::Rest(_) => Err(RouterError::Unexpected {
                router: self.name().to_string(),
                command: format!("{path}/{command}"),
                detail: "streaming needs the binary API (transport = api or api-ssl)".into(),
            }),
        }
    }
}

fn with_attrs(path: &str, attrs: &[(String, String)]) -> Command {
    attrs.iter().fold(Command::new(path), |cmd, (k, v)| {
        cmd.attr(k.as_str(), v.as_str())
    })
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
