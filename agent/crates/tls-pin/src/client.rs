//! The client side: the ring provider, server names, and [`ClientTls`], a rustls
//! client configuration over the one verifier plus what its last handshake showed.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use crate::error::{ConfigKeys, PinMismatch, TlsSetupError};
use crate::fingerprint::fingerprint_hex;
use crate::verifier::{Check, PinVerifier};

/// The ring provider every TLS client and server here uses (never aws-lc, so cross
/// builds need no cmake).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server name for `host`: an IP address as such (brackets allowed), else a DNS name.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsSetupError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|_| TlsSetupError::ServerName(host.to_string()))
}

/// What the peer's certificate is trusted by.
#[derive(Clone, Copy)]
pub enum Trust<'a> {
    /// The certificate whose SHA-256 (of the DER) this is, whoever signed it and
    /// whatever name it carries.
    Pin([u8; 32]),
    /// A certificate signed by a CA in this PEM file, for the name connected to.
    CaFile(&'a Path),
    /// A certificate signed by a CA in these PEM bytes, for the name connected to.
    CaPem(&'a [u8]),
    /// Nothing: every certificate is refused, and its fingerprint recorded.
    Nothing,
}

impl fmt::Debug for Trust<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trust::Pin(pin) => write!(f, "Pin({})", fingerprint_hex(pin)),
            Trust::CaFile(path) => write!(f, "CaFile({})", path.display()),
            Trust::CaPem(pem) => write!(f, "CaPem({} bytes)", pem.len()),
            Trust::Nothing => f.write_str("Nothing"),
        }
    }
}

/// A client certificate chain and its private key, both PEM, to present when the
/// peer asks for one. Its `Debug` never shows the key.
#[derive(Clone, Copy)]
pub struct ClientAuth<'a> {
    /// PEM certificate chain, the client's own certificate first.
    pub cert_pem: &'a [u8],
    /// PEM private key.
    pub key_pem: &'a [u8],
    /// Where they are configured, for messages, e.g. `"[central] client_cert and client_key"`.
    pub setting: &'static str,
}

impl fmt::Debug for ClientAuth<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuth")
            .field("cert_pem", &format_args!("{} bytes", self.cert_pem.len()))
            .field("key_pem", &"***")
            .field("setting", &self.setting)
            .finish()
    }
}

/// A rustls client configuration (for tokio-rustls, ureq or rumqttc) and what its
/// last handshake presented. Cloning shares both.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    verifier: Arc<PinVerifier>,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("peer", &self.verifier.keys().peer)
            .field("trust", &self.verifier.mode())
            .field("pin", &self.pin().as_ref().map(fingerprint_hex))
            .finish()
    }
}

impl ClientTls {
    /// Trusts as `trust` says and presents `client_auth` if the peer asks; `keys`
    /// name the settings in every message.
    pub fn new(
        trust: Trust<'_>,
        client_auth: Option<ClientAuth<'_>>,
        keys: ConfigKeys,
    ) -> Result<ClientTls, TlsSetupError> {
        let provider = provider();
        let check = match trust {
            Trust::Pin(pin) => Check::Pinned(pin),
            Trust::CaFile(path) => {
                let pem = std::fs::read(path).map_err(|e| TlsSetupError::CaFile {
                    key: keys.ca_file,
                    peer: keys.peer,
                    file: Some(path.display().to_string()),
                    reason: e.to_string(),
                })?;
                Check::Ca(ca_verifier(&pem, Some(path), keys, &provider)?)
            }
            Trust::CaPem(pem) => Check::Ca(ca_verifier(pem, None, keys, &provider)?),
            Trust::Nothing => Check::Nothing,
        };
        let verifier = Arc::new(PinVerifier::new(
            check,
            keys,
            provider.signature_verification_algorithms,
        ));
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone());
        let config = match client_auth {
            None => builder.with_no_client_auth(),
            Some(auth) => {
                let (certs, key) = client_cert(auth)?;
                builder.with_client_auth_cert(certs, key)?
            }
        };
        Ok(ClientTls {
            config: Arc::new(config),
            verifier,
        })
    }

    /// The rustls configuration.
    pub fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    /// The pin, if the certificate is pinned.
    pub fn pin(&self) -> Option<[u8; 32]> {
        self.verifier.pin()
    }

    /// Whether a pin or a CA is configured (without one every certificate is refused).
    pub fn has_trust(&self) -> bool {
        self.verifier.has_trust()
    }

    /// SHA-256 of the certificate the last handshake presented.
    pub fn presented_fingerprint(&self) -> Option<[u8; 32]> {
        self.verifier.last().fingerprint
    }

    /// If the last handshake failed on the pin: the pin and what was presented.
    pub fn mismatch(&self) -> Option<PinMismatch> {
        let last = self.verifier.last();
        let keys = self.verifier.keys();
        match (last.mismatch, self.pin(), last.fingerprint) {
            (true, Some(pinned), Some(presented)) => Some(PinMismatch {
                peer: keys.peer,
                key: keys.fingerprint,
                pinned,
                presented,
            }),
            _ => None,
        }
    }

    /// Explains a failed handshake: with nothing trusted, the fingerprint to pin;
    /// otherwise `error` as it is.
    pub fn explain(&self, error: &str) -> String {
        let keys = self.verifier.keys();
        match (self.has_trust(), self.presented_fingerprint()) {
            (false, Some(fp)) => format!(
                "no {} or {} is configured, so the certificate was not trusted; \
                 the {peer} presented SHA-256 {}: if that is your {peer}, pin it",
                keys.fingerprint,
                keys.ca_file,
                fingerprint_hex(&fp),
                peer = keys.peer,
            ),
            _ => error.to_string(),
        }
    }
}

fn ca_verifier(
    pem: &[u8],
    file: Option<&Path>,
    keys: ConfigKeys,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, TlsSetupError> {
    let err = |reason: String| TlsSetupError::CaFile {
        key: keys.ca_file,
        peer: keys.peer,
        file: file.map(|p| p.display().to_string()),
        reason,
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
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

fn client_cert(
    auth: ClientAuth<'_>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsSetupError> {
    let err = |what: &'static str, reason: String| TlsSetupError::ClientAuth {
        what,
        setting: auth.setting,
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(auth.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err("client certificate", e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(auth.key_pem)
        .map_err(|e| err("client key", e.to_string()))?;
    Ok((certs, key))
}
