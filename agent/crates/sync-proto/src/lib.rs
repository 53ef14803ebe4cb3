//! The wire contract between a kiosk and its central office, with no I/O: the
//! versioned envelope, every message up and down, ed25519 signatures over them,
//! the topic tree, postcard ⇄ JSON, and the mapping between plan sets and the
//! configuration's plans. Used by the agent and by the central office's side;
//! the contract itself is written down in this crate's `README.md`, for central
//! servers in other languages.
#![warn(unreachable_pub)]

pub mod convert;
pub mod envelope;
pub mod ids;
pub mod limits;
pub mod messages;
pub mod seal;
pub mod sign;
pub mod topics;

pub use envelope::{decode, DecodeError, Envelope, SCHEMA_VERSION};
pub use hotspot_clock::now_ms;

pub use ids::new_msg_id;
