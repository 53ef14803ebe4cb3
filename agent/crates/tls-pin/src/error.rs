//! Why a TLS client configuration could not be built, and the pin mismatch a handshake
//! fails with; each names the caller's configuration key to fix.

use crate::fingerprint::fingerprint_hex;

/// The configuration keys a caller's messages name, and what the peer is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigKeys {
    /// The peer in messages: `"router"`, `"broker"`.
    pub peer: &'static str,
    /// The setting that pins the certificate, e.g. `"[router].fingerprint"`.
    pub fingerprint: &'static str,
    /// The setting that names the CA file, e.g. `"[router].ca_file"`.
    pub ca_file: &'static str,
}

/// Why a TLS client configuration could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file could not be read, is not PEM or holds no usable certificate.
    #[error(
        "CA file{}: {reason}; check {key} (the PEM certificate of the CA that signed the {peer}'s certificate)",
        .file.as_deref().map(|f| format!(" {f}")).unwrap_or_default()
    )]
    CaFile {
        /// The setting that names the file.
        key: &'static str,
        /// The peer whose certificate the CA signs.
        peer: &'static str,
        /// The file, when the CA came from one this crate read.
        file: Option<String>,
        /// What was wrong with it.
        reason: String,
    },
    /// Neither a pin nor a CA, where the caller requires one.
    #[error("TLS needs a CA file or a pinned fingerprint: set {ca_file} or {fingerprint}")]
    NoTrust {
        /// The setting that names the CA file.
        ca_file: &'static str,
        /// The setting that pins the certificate.
        fingerprint: &'static str,
    },
    /// The client certificate or its key is not usable PEM.
    #[error("{what}: {reason}; check {setting}")]
    ClientAuth {
        /// `"client certificate"` or `"client key"`.
        what: &'static str,
        /// The settings they came from.
        setting: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the configuration (for example a key that does not match the
    /// client certificate).
    #[error("rustls refused the TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The host cannot be used as a TLS server name.
    #[error("{0:?} is not a valid host name or IP address for TLS")]
    ServerName(String),
}

/// The peer presented a certificate other than the pinned one. A handshake fails with
/// this inside `rustls::Error::Other`, so its words reach the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {peer}'s certificate has SHA-256 fingerprint {}, but {key} pins {}; \
     if the certificate was replaced on purpose, pin the new fingerprint",
    fingerprint_hex(.presented),
    fingerprint_hex(.pinned)
)]
pub struct PinMismatch {
    /// The peer in messages.
    pub peer: &'static str,
    /// The setting that holds the pin.
    pub key: &'static str,
    /// The pin.
    pub pinned: [u8; 32],
    /// SHA-256 of the certificate the peer presented.
    pub presented: [u8; 32],
}
