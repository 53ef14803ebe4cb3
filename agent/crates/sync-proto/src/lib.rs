//! The wire contract between a kiosk and its central office, with no I/O: the
//! versioned envelope, every message up and down, ed25519 signatures over them,
//! the topic tree, postcard ⇄ JSON, and the mapping between plan sets and the
//! configuration's plans. Used by the agent and by the central office's side;
//! the contract itself is written down in this crate's `README.md`, for central
//! servers in other languages.
#![warn(unreachable_pub)]

pub mod convert;
pub mod envelope;
pub mod messages;
pub mod sign;
pub mod topics;

pub use envelope::{decode, DecodeError, Envelope, SCHEMA_VERSION};
pub use hotspot_clock::now_ms;

/// A random message id with a readable prefix, e.g. `report-3f9c0a1b22d4e5f6`.
pub fn new_msg_id(prefix: &str) -> String {
    let mut b = [0u8; 8];
    // The OS random source does not fail on Linux after boot; a zero id still works once.
    let _ = getrandom::fill(&mut b);
    format!("{prefix}-{}", hex::encode(b))
}
