//! TLS client trust for the router (api-ssl, REST over HTTPS) and the MQTT broker,
//! written once: rustls on the ring provider, a verifier that trusts a pinned SHA-256
//! of the peer's certificate, or a CA, or nothing (while recording what the handshake
//! presented, so an error can tell the operator what to pin), a client-config builder
//! with an optional client certificate, and the one form a fingerprint is shown in.
//!
//! Each caller names its own configuration keys ([`ConfigKeys`]), so the messages say
//! `[router].fingerprint` for the router and `[central] fingerprint` for the broker.
//! Reading a fingerprint from text is `firmware_config::router::parse_fingerprint`'s
//! job (colons or bare hex, either case); this crate only shows one.
#![warn(unreachable_pub)]

mod client;
mod error;
mod fingerprint;
mod verifier;

#[cfg(test)]
mod tests;

pub use client::{provider, server_name, ClientAuth, ClientTls, Trust};
pub use error::{ConfigKeys, PinMismatch, TlsSetupError};
pub use fingerprint::{cert_fingerprint, fingerprint_hex};
