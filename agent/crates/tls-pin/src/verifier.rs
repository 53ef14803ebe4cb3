//! The one server-certificate verifier: a pinned SHA-256, a CA (webpki), or nothing,
//! and a record of what the last handshake presented.
//!
//! A pin compares the SHA-256 of the end-entity certificate (DER) and ignores names
//! and dates: the pin *is* the trust decision. The handshake signature is still
//! checked with the provider's algorithms, so the peer must hold the key. With
//! nothing trusted every certificate is refused, but its fingerprint is recorded so
//! the error can tell the operator what to pin.

use std::fmt;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

use crate::error::{ConfigKeys, PinMismatch};
use crate::fingerprint::cert_fingerprint;

/// How the peer's certificate is checked.
pub(crate) enum Check {
    Pinned([u8; 32]),
    Ca(Arc<WebPkiServerVerifier>),
    Nothing,
}

/// What the last handshake presented.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Presented {
    pub(crate) fingerprint: Option<[u8; 32]>,
    pub(crate) mismatch: bool,
}

pub(crate) struct PinVerifier {
    check: Check,
    keys: ConfigKeys,
    algorithms: WebPkiSupportedAlgorithms,
    last: Mutex<Presented>,
}

impl PinVerifier {
    pub(crate) fn new(
        check: Check,
        keys: ConfigKeys,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> PinVerifier {
        PinVerifier {
            check,
            keys,
            algorithms,
            last: Mutex::new(Presented::default()),
        }
    }

    pub(crate) fn keys(&self) -> ConfigKeys {
        self.keys
    }

    pub(crate) fn pin(&self) -> Option<[u8; 32]> {
        match self.check {
            Check::Pinned(pin) => Some(pin),
            _ => None,
        }
    }

    pub(crate) fn has_trust(&self) -> bool {
        !matches!(self.check, Check::Nothing)
    }

    pub(crate) fn mode(&self) -> &'static str {
        match self.check {
            Check::Pinned(_) => "pinned",
            Check::Ca(_) => "ca",
            Check::Nothing => "nothing",
        }
    }

    pub(crate) fn last(&self) -> Presented {
        self.last.lock().map(|p| *p).unwrap_or_default()
    }
}

impl fmt::Debug for PinVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinVerifier")
            .field("peer", &self.keys.peer)
            .field("trust", &self.mode())
            .finish()
    }
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = cert_fingerprint(end_entity);
        let mut seen = Presented {
            fingerprint: Some(fp),
            mismatch: false,
        };
        let result = match &self.check {
            Check::Pinned(pin) if *pin == fp => Ok(ServerCertVerified::assertion()),
            Check::Pinned(pin) => {
                seen.mismatch = true;
                let mismatch = PinMismatch {
                    peer: self.keys.peer,
                    key: self.keys.fingerprint,
                    pinned: *pin,
                    presented: fp,
                };
                // Not `InvalidCertificate`: rustls shows that one's inner error in
                // `Debug` form, and this message is for the operator.
                Err(rustls::Error::Other(OtherError(Arc::new(mismatch))))
            }
            Check::Ca(webpki) => {
                webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            }
            Check::Nothing => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        };
        if let Ok(mut slot) = self.last.lock() {
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
