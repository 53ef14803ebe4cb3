//! The simulator's TLS: a self-signed certificate generated at start (rcgen), served
//! by rustls on the ring provider for api-ssl and REST, and its SHA-256 fingerprint
//! in the colon-hex form a client pins.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use sha2::{Digest, Sha256};

use super::SimError;

/// A generated certificate and the server configuration that presents it.
#[derive(Clone)]
pub(crate) struct SimCert {
    /// rustls server configuration (ring provider).
    pub config: Arc<ServerConfig>,
    /// DER of the certificate (the tests check the fingerprint against it).
    #[cfg(test)]
    der: Vec<u8>,
    /// SHA-256 of the DER, `AB:CD:…` (95 characters).
    pub fingerprint: String,
}

impl std::fmt::Debug for SimCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCert")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

/// SHA-256 of `der` as upper-case hex pairs joined by `:`.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Generates a self-signed certificate for `names` (host names or IP addresses).
pub(crate) fn generate(names: Vec<String>) -> Result<SimCert, SimError> {
    let tls = |e: &dyn std::fmt::Display| SimError::Tls(e.to_string());
    let key = rcgen::generate_simple_self_signed(names).map_err(|e| tls(&e))?;
    let der = key.cert.der().to_vec();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(&e))?
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(der.clone())], private)
        .map_err(|e| tls(&e))?;
    Ok(SimCert {
        config: Arc::new(config),
        fingerprint: fingerprint(&der),
        #[cfg(test)]
        der,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_has_a_colon_hex_sha256_fingerprint() {
        let cert = generate(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        assert_eq!(cert.fingerprint.len(), 32 * 3 - 1);
        assert_eq!(cert.fingerprint, fingerprint(&cert.der));
        assert!(firmware_config::router::parse_fingerprint(&cert.fingerprint).is_some());
        let other = generate(vec!["localhost".into()]).unwrap();
        assert_ne!(
            cert.fingerprint, other.fingerprint,
            "each start makes a new key"
        );
    }

    #[test]
    fn the_printed_fingerprint_is_the_form_the_agent_shows() {
        let cert = generate(vec!["localhost".into()]).unwrap();
        let fp = tls_pin::cert_fingerprint(&cert.der);
        assert_eq!(cert.fingerprint, tls_pin::fingerprint_hex(&fp));
    }
}
