//! The central office's side of the MQTT contract, apart from the kiosk: what a
//! central server does (sign and push plan sets and router settings, send signed
//! commands, receive and deduplicate what sites send, acknowledge their outbox),
//! and the `hotspot-central` tool that drives a fleet with it. Built on
//! `sync-proto` (the messages) and `mqtt-link` (the broker connection); it shares
//! no code with the kiosk agent beyond those.
#![warn(unreachable_pub)]

pub mod cli;
pub mod fleet;
mod floor;
pub mod http;
pub mod ingest;
mod office;
mod orders;
pub mod pg;
pub mod store;
mod verify;

pub use office::{json_line, Central, CentralDb, CentralError, Received};
