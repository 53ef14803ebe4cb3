//! The site's side of the link to the central office: the outbox and sync state
//! (SQLite), judging what comes down (pure), the pump and down-link handler
//! ([`site`]), and the set-up from `[central]`. The messages are `sync-proto`'s;
//! the broker connection is `mqtt-link`'s.

pub mod actions;
#[cfg(feature = "sim")]
pub mod demo;
pub mod downlink;
pub mod identity;
pub mod outbox;
pub mod setup;
pub mod site;
pub mod state;

pub use actions::{ActionError, AgentActions, NoActions};
pub use identity::{IdentityError, SiteIdentity};
pub use outbox::{
    outbox_payload, outbox_payload_for_sale, OutboxEntry, OutboxError, OutboxStore, SqliteOutbox,
};
pub use site::{spawn as spawn_site, SiteHandle, SiteSettings};
pub use state::SyncState;
