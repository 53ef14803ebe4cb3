//! The connection to the MQTT broker, for the site and for the central office
//! alike: one rumqttc task that reconnects with back-off and resubscribes, TLS
//! (a CA file, a pinned certificate, a client certificate), and the link settings
//! read from a `[central]` section. It moves bytes on topics; what the bytes mean
//! is `sync-proto`'s.
#![warn(unreachable_pub)]

mod link;
mod setup;
mod tls;

pub use link::{
    spawn, spawn_with, LinkClosed, LinkConfig, LinkEvent, LinkExtras, LinkHandle, WillMaker,
    EVENT_QUEUE, MAX_PACKET,
};
pub use setup::{link_config, LinkSetupError};
pub use tls::{client_config, fingerprint, TlsError, TlsSettings};
