//! The link to the central office over MQTT: messages, outbox pump, commands, signatures.
//!
//! Layers, bottom up: [`messages`] and [`envelope`] (the wire contract, pure),
//! [`sign`] (ed25519), [`topics`], [`outbox`] and [`state`] (SQLite), [`downlink`]
//! (judging what comes down, pure), [`tls`] and [`link`] (the rumqttc task), then
//! [`site`] (the agent's side at run time) and [`central`] (the other end).
//! The contract itself is written down in `README.md` beside this file.

pub mod actions;
pub mod central;
pub mod convert;
#[cfg(feature = "sim")]
pub mod demo;
pub mod downlink;
pub mod envelope;
pub mod link;
pub mod messages;
pub mod outbox;
pub mod setup;
pub mod sign;
pub mod site;
pub mod state;
pub mod tls;
pub mod topics;

pub use actions::AgentActions;
pub use envelope::{decode, DecodeError, Envelope, SCHEMA_VERSION};
pub use messages::*;
pub use outbox::{
    outbox_payload, outbox_payload_for_sale, OutboxEntry, OutboxError, OutboxStore, SqliteOutbox,
};
pub use site::{spawn as spawn_site, SiteHandle, SiteSettings};
pub use state::SyncState;
