//! The RouterOS 7 REST client (routeros-reference.md §6): ureq on tokio's blocking
//! pool, HTTP Basic auth, HTTPS trusting the router as [`super::tls`] decides.
//!
//! Mapping: `print` → `GET /rest/<path>`, or with queries/proplist
//! `POST /rest/<path>/print {".query":[..],".proplist":".."}`; `add` → `PUT`; `set` →
//! `PATCH /rest/<path>/<id>`; `remove` → `DELETE`; other commands → `POST /rest/<path>/<cmd>`.
//!
//! Item ids go into the path with `*` kept literal (`/rest/ip/hotspot/user/*1`), as
//! every DOC-REST example writes them: `*` is a legal path character (RFC 3986
//! sub-delims) and whether RouterOS decodes `%2A` is not documented. Any other byte
//! outside the unreserved set (e.g. a space in a name used as id) is percent-encoded.

use std::fmt;
use std::io::Read as _;
use std::time::Duration;

use base64::Engine as _;
use firmware_config::Secret;
use serde_json::{json, Map, Value};

use super::error::RouterError;
use super::model::{Record, Word};
use super::tls::RouterTls;

/// Largest response body read, so a hostile server cannot exhaust memory.
const MAX_BODY: u64 = 64 << 20;

/// How to reach one router's REST API.
#[derive(Clone)]
pub struct RestConfig {
    /// Router name for errors.
    pub router: String,
    /// Host name or address.
    pub host: String,
    /// Port (443 for HTTPS, 80 for HTTP).
    pub port: u16,
    /// HTTPS settings; `None` means plain HTTP (RouterOS 7.9+ `www`).
    pub tls: Option<RouterTls>,
    /// User (needs the `rest-api` policy).
    pub username: String,
    /// Password.
    pub password: Secret,
    /// Time allowed to connect and for the whole reply.
    pub timeout: Duration,
}

impl fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestConfig")
            .field("router", &self.router)
            .field("base", &self.base())
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

impl RestConfig {
    /// `https://host:port` (IPv6 in brackets).
    pub fn base(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}", self.port)
    }

    /// `host:port` for messages.
    pub fn addr(&self) -> String {
        self.base()
            .split_once("://")
            .map(|(_, a)| a.to_string())
            .unwrap_or_default()
    }
}

/// A REST client for one router. Cheap to clone.
#[derive(Clone)]
pub struct RestClient {
    cfg: RestConfig,
    agent: ureq::Agent,
    auth: String,
}

impl fmt::Debug for RestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestClient")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// Percent-encodes one path segment, keeping unreserved characters and `*`.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'*') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl RestClient {
    /// A client; nothing is sent until the first call.
    pub fn new(cfg: RestConfig) -> RestClient {
        let mut builder = ureq::AgentBuilder::new()
            .timeout_connect(cfg.timeout)
            .timeout(cfg.timeout)
            .redirects(0);
        if let Some(tls) = &cfg.tls {
            builder = builder.tls_config(tls.config());
        }
        let token = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            cfg.username,
            cfg.password.expose()
        ));
        RestClient {
            agent: builder.build(),
            auth: format!("Basic {token}"),
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RestConfig {
        &self.cfg
    }

    /// One request; `path` is below `/rest` (e.g. `/system/resource`). Returns the JSON
    /// body (`Null` for an empty one).
    pub async fn request(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, RouterError> {
        let this = self.clone();
        let path = path.to_string();
        let router = self.cfg.router.clone();
        tokio::task::spawn_blocking(move || this.request_blocking(method, &path, body))
            .await
            .unwrap_or(Err(RouterError::Closed { router }))
    }

    fn request_blocking(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, RouterError> {
        let url = format!("{}/rest{}", self.cfg.base(), path);
        let command = format!("{method} /rest{path}");
        let req = self
            .agent
            .request(method, &url)
            .set("Authorization", &self.auth)
            .set("Accept", "application/json");
        let result = match body {
            Some(body) => req.send_json(body),
            None => req.call(),
        };
        match result {
            // Whatever cannot be read whole is an error: an empty or partial list read as
            // success would hide every user from enforcement.
            Ok(resp) => read_body(resp)
                .and_then(|bytes| body_json(&bytes))
                .map_err(|why| RouterError::Protocol {
                    router: self.cfg.router.clone(),
                    detail: format!("{command}: {why}"),
                }),
            Err(ureq::Error::Status(status, resp)) => {
                // The status is the error; the body only adds the router's words.
                let body = read_body(resp).unwrap_or_default();
                Err(self.status_error(&command, status, &String::from_utf8_lossy(&body)))
            }
            Err(ureq::Error::Transport(t)) => Err(self.transport_error(&command, &t)),
        }
    }

    fn status_error(&self, command: &str, status: u16, body: &str) -> RouterError {
        let parsed: Option<Map<String, Value>> = serde_json::from_str(body).ok();
        let field = |k: &str| {
            parsed
                .as_ref()
                .and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let message = field("detail")
            .or_else(|| field("message"))
            .unwrap_or_else(|| format!("HTTP {status}"));
        match status {
            401 => RouterError::BadCredentials {
                router: self.cfg.router.clone(),
                user: self.cfg.username.clone(),
                message: format!("REST answered 401 ({message})"),
            },
            403 => RouterError::MissingPolicy {
                router: self.cfg.router.clone(),
                user: self.cfg.username.clone(),
                policy: "rest-api",
                message: format!("REST answered 403 ({message})"),
            },
            _ => RouterError::Trap {
                router: self.cfg.router.clone(),
                command: command.to_string(),
                message,
                category: None,
                status: Some(status),
            },
        }
    }

    fn transport_error(&self, command: &str, t: &ureq::Transport) -> RouterError {
        let router = self.cfg.router.clone();
        let text = t.to_string();
        let io_kind = std::error::Error::source(t)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .map(|e| e.kind());
        if let Some(tls) = &self.cfg.tls {
            // ureq reports handshake failures as failed connections; rustls's words
            // ("invalid peer certificate") tell them apart.
            let lower = text.to_lowercase();
            if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
            {
                if let Some((expected, got)) = tls.mismatch() {
                    return RouterError::FingerprintMismatch {
                        router,
                        expected,
                        got,
                    };
                }
                return RouterError::Tls {
                    router,
                    reason: tls.explain(&text),
                };
            }
        }
        match t.kind() {
            ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Dns => {
                // ureq reports a connect timeout as a failed connection.
                return RouterError::Unreachable {
                    router,
                    addr: self.cfg.addr(),
                    reason: transport_reason(t),
                };
            }
            ureq::ErrorKind::BadStatus | ureq::ErrorKind::BadHeader => {
                return RouterError::Protocol {
                    router,
                    detail: format!("{command}: not an HTTP reply ({text})"),
                }
            }
            _ => {}
        }
        match io_kind {
            Some(std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {
                RouterError::Timeout {
                    router,
                    command: command.to_string(),
                    after: self.cfg.timeout,
                }
            }
            _ if text.contains("timed out") => RouterError::Timeout {
                router,
                command: command.to_string(),
                after: self.cfg.timeout,
            },
            _ => RouterError::Closed { router },
        }
    }

    /// `print`: `GET`, or `POST …/print` when there are queries or a proplist.
    pub async fn print(
        &self,
        path: &str,
        queries: &[Word],
        proplist: Option<&str>,
    ) -> Result<Vec<Record>, RouterError> {
        // JSON carries text: a query on bytes that are not UTF-8 (a name WinBox wrote in
        // a PC's code page) cannot be asked for exactly, and a lossy one could match
        // someone else.
        let queries: Vec<&str> = queries
            .iter()
            .map(|q| {
                q.text().ok_or_else(|| RouterError::Unexpected {
                    router: self.cfg.router.clone(),
                    command: format!("POST /rest{path}/print"),
                    detail: format!(
                        "the query {q:?} is not UTF-8, which REST cannot carry; use transport = api or api-ssl for this router"
                    ),
                })
            })
            .collect::<Result<_, _>>()?;
        let value = if queries.is_empty() && proplist.is_none() {
            self.request("GET", path, None).await?
        } else {
            let mut body = Map::new();
            if !queries.is_empty() {
                body.insert(".query".into(), json!(queries));
            }
            if let Some(p) = proplist {
                body.insert(".proplist".into(), json!(p));
            }
            self.request("POST", &format!("{path}/print"), Some(Value::Object(body)))
                .await?
        };
        self.records(path, value)
    }

    /// `add` (`PUT`); returns the new `.id`.
    pub async fn add(&self, path: &str, attrs: &[(String, String)]) -> Result<String, RouterError> {
        let value = self.request("PUT", path, Some(object(attrs))).await?;
        let record = self
            .records(path, value)?
            .into_iter()
            .next()
            .unwrap_or_default();
        record
            .get(".id")
            .or_else(|| record.get("ret"))
            .map(Word::to_string)
            .ok_or_else(|| RouterError::Unexpected {
                router: self.cfg.router.clone(),
                command: format!("PUT /rest{path}"),
                detail: "the reply has no .id".into(),
            })
    }

    /// `set` (`PATCH`).
    pub async fn set(
        &self,
        path: &str,
        id: &str,
        attrs: &[(String, String)],
    ) -> Result<(), RouterError> {
        let item = format!("{path}/{}", encode_segment(id));
        self.request("PATCH", &item, Some(object(attrs)))
            .await
            .map(|_| ())
    }

    /// `remove` (`DELETE`).
    pub async fn remove(&self, path: &str, id: &str) -> Result<(), RouterError> {
        let item = format!("{path}/{}", encode_segment(id));
        self.request("DELETE", &item, None).await.map(|_| ())
    }

    /// Any other command (`POST`): `!re` data comes as an array, `!done` data as an object.
    pub async fn command(
        &self,
        path: &str,
        command: &str,
        attrs: &[(String, String)],
    ) -> Result<Vec<Record>, RouterError> {
        let value = self
            .request(
                "POST",
                &format!("{path}/{}", encode_segment(command)),
                Some(object(attrs)),
            )
            .await?;
        self.records(path, value)
    }

    /// Reads an array of objects, a bare object (singletons) or nothing.
    pub fn records(&self, path: &str, value: Value) -> Result<Vec<Record>, RouterError> {
        records_of(&self.cfg.router, path, value)
    }
}

/// A 2xx reply body as JSON (`Null` for an empty one), or why it is not. Pure.
pub fn body_json(bytes: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("the reply body is not UTF-8 ({e}), so it is not JSON"))?;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text)
        .map_err(|e| format!("answered with something that is not JSON ({e})"))
}

/// The records of `router`'s reply to `/rest<path>`: an array of objects, a bare
/// object (singletons) or nothing. Pure.
pub fn records_of(router: &str, path: &str, value: Value) -> Result<Vec<Record>, RouterError> {
    let bad = |what: &str| RouterError::Protocol {
        router: router.to_string(),
        detail: format!("/rest{path} answered {what} where objects were expected"),
    };
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        Value::Object(map) if map.is_empty() => return Ok(Vec::new()),
        obj @ Value::Object(_) => vec![obj],
        _ => return Err(bad("a bare value")),
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(map) => Ok(map
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, Word::from(v))
                })
                .collect()),
            _ => Err(bad("an array of non-objects")),
        })
        .collect()
}

fn object(attrs: &[(String, String)]) -> Value {
    Value::Object(
        attrs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// The whole body, or why it could not be had (a read error, a body cut short, one
/// over [`MAX_BODY`]).
fn read_body(resp: ureq::Response) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    resp.into_reader()
        .take(MAX_BODY + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("the reply body could not be read ({e})"))?;
    if bytes.len() as u64 > MAX_BODY {
        return Err(format!("the reply body is over {} MiB", MAX_BODY >> 20));
    }
    Ok(bytes)
}

/// The innermost useful words of a transport error ("Connection refused").
fn transport_reason(t: &ureq::Transport) -> String {
    match std::error::Error::source(t) {
        Some(source) => source.to_string(),
        None => t
            .message()
            .map(str::to_string)
            .unwrap_or_else(|| t.to_string()),
    }
}

#[cfg(test)]
#[path = "rest_tests.rs"]
pub(crate) mod tests;
