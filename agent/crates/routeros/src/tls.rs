//! TLS to the router (binary API on 8729, REST over HTTPS) and reusable by the MQTT
//! link: rustls on the ring provider, trusting either a pinned SHA-256 certificate
//! fingerprint or a CA file, never "anything". RouterOS certificates are usually
//! self-signed, so pinning is the normal case.
//!
//! Pinning compares the SHA-256 of the end-entity certificate (DER) with the pin and
//! ignores names and dates: the pin *is* the trust decision. The handshake signature is
//! still checked with the provider's algorithms, so the peer must hold the key.
//! With neither a pin nor a CA file every certificate is refused, but its fingerprint
//! is remembered so the error can tell the operator what to pin.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use sha2::{Digest, Sha256};

/// Why a TLS client configuration could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file could not be read or holds no usable certificate.
    #[error("CA file {path}: {reason}; check [router].ca_file (PEM certificate of the CA that signed the router's certificate)")]
    CaFile { path: String, reason: String },
    /// rustls refused the configuration.
    #[error("TLS setup failed: {0}")]
    Config(String),
    /// The host cannot be used as a TLS server name.
    #[error("{0:?} is not a valid host name or IP address for TLS")]
    ServerName(String),
}

/// SHA-256 of a DER certificate.
pub fn cert_fingerprint(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// A fingerprint as colon-separated upper-case hex, as RouterOS and browsers show it.
pub fn fingerprint_hex(fp: &[u8; 32]) -> String {
    fp.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The ring provider every TLS client here uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server name for `host`: an IP address as such, else a DNS name.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsSetupError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|_| TlsSetupError::ServerName(host.to_string()))
}

/// How the router's certificate is trusted.
enum Trust {
    Pinned([u8; 32]),
    Ca(Arc<WebPkiServerVerifier>),
    Nothing,
}

/// What the last handshake presented, for error messages.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    fingerprint: Option<[u8; 32]>,
    mismatch: bool,
}

struct RouterVerifier {
    trust: Trust,
    algorithms: WebPkiSupportedAlgorithms,
    seen: Arc<Mutex<Seen>>,
}

impl fmt::Debug for RouterVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.trust {
            Trust::Pinned(_) => "pinned",
            Trust::Ca(_) => "ca",
            Trust::Nothing => "nothing",
        };
        f.debug_struct("RouterVerifier")
            .field("trust", &mode)
            .finish()
    }
}

impl ServerCertVerifier for RouterVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = cert_fingerprint(end_entity);
        let mut seen = Seen {
            fingerprint: Some(fp),
            mismatch: false,
        };
        let result = match &self.trust {
            Trust::Pinned(pin) if *pin == fp => Ok(ServerCertVerified::assertion()),
            Trust::Pinned(_) => {
                seen.mismatch = true;
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::ApplicationVerificationFailure,
                ))
            }
            Trust::Ca(webpki) => {
                webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            }
            Trust::Nothing => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        };
        if let Ok(mut slot) = self.seen.lock() {
            *slot = seen;
        }
        result
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TLS client configuration for one router, plus what its last handshake showed.
/// Cloning shares the configuration and the record of the last handshake.
#[derive(Clone)]
pub struct RouterTls {
    config: Arc<ClientConfig>,
    seen: Arc<Mutex<Seen>>,
    pin: Option<[u8; 32]>,
    has_trust: bool,
}

impl fmt::Debug for RouterTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterTls")
            .field("pin", &self.pin.as_ref().map(fingerprint_hex))
            .field("has_trust", &self.has_trust)
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
        let provider = provider();
        let trust = match (fingerprint, ca_file) {
            (Some(fp), _) => Trust::Pinned(fp),
            (None, Some(path)) => Trust::Ca(ca_verifier(path, &provider)?),
            (None, None) => Trust::Nothing,
        };
        let has_trust = !matches!(trust, Trust::Nothing);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let verifier = RouterVerifier {
            trust,
            algorithms: provider.signature_verification_algorithms,
            seen: seen.clone(),
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Config(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(RouterTls {
            config: Arc::new(config),
            seen,
            pin: fingerprint,
            has_trust,
        })
    }

    /// The rustls configuration (for tokio-rustls, ureq or rumqttc).
    pub fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    /// Fingerprint of the certificate the last handshake presented.
    pub fn presented_fingerprint(&self) -> Option<[u8; 32]> {
        self.seen.lock().ok().and_then(|s| s.fingerprint)
    }

    /// If the last handshake failed on the pin: `(expected, presented)` in hex.
    pub fn mismatch(&self) -> Option<(String, String)> {
        let seen = *self.seen.lock().ok()?;
        match (seen.mismatch, self.pin, seen.fingerprint) {
            (true, Some(pin), Some(got)) => Some((fingerprint_hex(&pin), fingerprint_hex(&got))),
            _ => None,
        }
    }

    /// Whether a pin or CA is configured (without one every certificate is refused).
    pub fn has_trust(&self) -> bool {
        self.has_trust
    }

    /// Explains a failed handshake: the presented fingerprint when nothing is trusted.
    pub fn explain(&self, error: &str) -> String {
        match (self.has_trust, self.presented_fingerprint()) {
            (false, Some(fp)) => format!(
                "no [router].fingerprint or ca_file is configured, so the certificate was not trusted; \
                 the router presented SHA-256 {}: if that is your router, pin it",
                fingerprint_hex(&fp)
            ),
            _ => error.to_string(),
        }
    }
}

fn ca_verifier(
    path: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, TlsSetupError> {
    let err = |reason: String| TlsSetupError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| err(format!("not PEM: {e}")))?;
        roots.add(cert).map_err(|e| err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(err("no certificate in the file".into()));
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_print_as_colon_separated_hex() {
        let mut fp = [0u8; 32];
        fp[0] = 0xAB;
        fp[31] = 0x01;
        let text = fingerprint_hex(&fp);
        assert!(text.starts_with("AB:00:"), "{text}");
        assert!(text.ends_with(":01"), "{text}");
        assert_eq!(text.len(), 32 * 3 - 1);
        assert_eq!(firmware_config::router::parse_fingerprint(&text), Some(fp));
    }

    #[test]
    fn ip_addresses_and_names_become_server_names() {
        assert!(matches!(
            server_name("10.0.0.1").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("router.lan").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(server_name("bad name").is_err());
    }

    #[test]
    fn a_missing_ca_file_is_a_setup_error() {
        let err = RouterTls::new(None, Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(matches!(err, TlsSetupError::CaFile { .. }), "{err}");
    }
}
