//! TLS to the router (binary API on 8729, REST over HTTPS): `tls-pin`'s verifier and
//! client configuration with the router's configuration keys, and the router's side of
//! what the last handshake showed. RouterOS certificates are usually self-signed, so
//! pinning the certificate's SHA-256 is the normal case; a CA file is the other.
//! With neither, every certificate is refused, but the error says what to pin.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use tls_pin::{ClientTls, ConfigKeys, Trust};

pub use tls_pin::{cert_fingerprint, fingerprint_hex, provider, server_name, TlsSetupError};

/// The router's settings, as messages name them.
const KEYS: ConfigKeys = ConfigKeys {
    peer: "router",
    fingerprint: "[router].fingerprint",
    ca_file: "[router].ca_file",
};

/// A TLS client configuration for one router, plus what its last handshake showed.
/// Cloning shares the configuration and the record of the last handshake.
#[derive(Clone)]
pub struct RouterTls {
    tls: ClientTls,
}

impl fmt::Debug for RouterTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterTls")
            .field("pin", &self.tls.pin().as_ref().map(fingerprint_hex))
            .field("has_trust", &self.tls.has_trust())
            .finish()
    }
}

impl RouterTls {
    /// Trusts the certificate with this SHA-256 fingerprint, else a certificate signed by
    /// the CA in `ca_file` (for the router's host name or IP), else nothing.
    pub fn new(
        fingerprint: Option<[u8; 32]>,
        ca_file: Option<&Path>,
    ) -> Result<RouterTls, TlsSetupError> {
        let trust = match (fingerprint, ca_file) {
            (Some(fp), _) => Trust::Pin(fp),
            (None, Some(path)) => Trust::CaFile(path),
            (None, None) => Trust::Nothing,
        };
        Ok(RouterTls {
            tls: ClientTls::new(trust, None, KEYS)?,
        })
    }

    /// The rustls configuration (for tokio-rustls or ureq).
    pub fn config(&self) -> Arc<ClientConfig> {
        self.tls.config()
    }

    /// Fingerprint of the certificate the last handshake presented.
    pub fn presented_fingerprint(&self) -> Option<[u8; 32]> {
        self.tls.presented_fingerprint()
    }

    /// If the last handshake failed on the pin: `(expected, presented)`, each shown as
    /// [`fingerprint_hex`] shows it.
    pub fn mismatch(&self) -> Option<(String, String)> {
        self.tls
            .mismatch()
            .map(|m| (fingerprint_hex(&m.pinned), fingerprint_hex(&m.presented)))
    }

    /// Whether a pin or CA is configured (without one every certificate is refused).
    pub fn has_trust(&self) -> bool {
        self.tls.has_trust()
    }

    /// Explains a failed handshake: the presented fingerprint when nothing is trusted.
    pub fn explain(&self, error: &str) -> String {
        self.tls.explain(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_ca_file_is_a_setup_error() {
        let err = RouterTls::new(None, Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(matches!(err, TlsSetupError::CaFile { .. }), "{err}");
        assert!(err.to_string().contains("[router].ca_file"), "{err}");
    }
}
