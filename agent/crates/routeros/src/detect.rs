//! `transport = auto`: decide between REST and the binary API by asking
//! `GET /rest/system/resource` (routeros-reference.md §6 "Detecting REST"). A 2xx
//! JSON reply with a `version` starting with 7 means REST; 401 means REST is there
//! but the credentials are wrong (reported, not hidden by a fallback); a certificate
//! that does not match the pin is reported too (it may be an impostor). Anything else
//! (refused, timeout, 404, HTML, no verifiable certificate, 403 for a user without
//! the `rest-api` policy) falls back to the binary API: api-ssl when a certificate pin
//! or CA is configured, the plaintext API only when neither is (`Router::connect`).

use std::time::Duration;

use super::error::RouterError;
use super::rest::{RestClient, RestConfig};

/// How long the probe waits: a router on the LAN answers in milliseconds.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the probe saw.
#[derive(Debug, Clone)]
pub enum RestProbe {
    /// REST answered with this `version` text (e.g. `7.18 (stable)`).
    Rest { version: String },
    /// Stop: wrong credentials or a certificate that is not the pinned one.
    Refused(RouterError),
    /// No usable REST; the text says what was seen, for `ConnectionInfo::reason`.
    NoRest(String),
}

/// Probes REST with the given configuration (its timeout should be short).
pub async fn probe_rest(cfg: RestConfig) -> RestProbe {
    let client = RestClient::new(cfg);
    let value = match client.request("GET", "/system/resource", None).await {
        Ok(value) => value,
        Err(e) => return classify(e),
    };
    let records = match client.records("/system/resource", value) {
        Ok(r) => r,
        Err(_) => return RestProbe::NoRest("REST answered JSON that is not RouterOS".into()),
    };
    match records
        .first()
        .and_then(|r| r.get("version"))
        .map(|v| v.to_string())
    {
        Some(v) if v.starts_with('7') => RestProbe::Rest { version: v },
        Some(v) => RestProbe::NoRest(format!("REST answered version {v:?}, not 7.x")),
        None => RestProbe::NoRest("REST answered without a version".into()),
    }
}

fn classify(e: RouterError) -> RestProbe {
    match e {
        RouterError::BadCredentials { .. } | RouterError::FingerprintMismatch { .. } => {
            RestProbe::Refused(e)
        }
        RouterError::Unreachable { reason, .. } => RestProbe::NoRest(plain_reason(&reason)),
        RouterError::Timeout { after, .. } => {
            RestProbe::NoRest(format!("no answer within {after:?}"))
        }
        RouterError::Trap {
            status, message, ..
        } => RestProbe::NoRest(match status {
            Some(code) => format!("HTTP {code}: {message}"),
            None => message,
        }),
        RouterError::MissingPolicy { message, .. } => {
            RestProbe::NoRest(format!("{message}: the user lacks the rest-api policy"))
        }
        RouterError::Tls { reason, .. } => RestProbe::NoRest(format!("TLS: {reason}")),
        RouterError::Protocol { .. } => RestProbe::NoRest("the reply is not RouterOS REST".into()),
        other => RestProbe::NoRest(other.to_string()),
    }
}

/// "Connection refused (os error 111)" → "connection refused", for the one-line reason.
fn plain_reason(reason: &str) -> String {
    let text = match reason.rfind(" (os error ") {
        Some(at) if reason.ends_with(')') => &reason[..at],
        _ => reason,
    };
    text.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_error_numbers_are_dropped_from_the_reason() {
        assert_eq!(
            plain_reason("Connection refused (os error 111)"),
            "connection refused"
        );
        assert_eq!(plain_reason("no answer within 2s"), "no answer within 2s");
    }
}
