//! Talking to a MikroTik RouterOS router: the binary API connection (one task per
//! socket, tags, login, TLS), the REST client, transport detection, the typed
//! hotspot model, the [`HotspotApi`] seam the agent works through, and the
//! connect-on-use [`SharedRouter`]. With the `testing` feature, [`testing`] holds an
//! in-memory fake of that seam for other crates' tests.
//!
//! The bytes on the wire are `routeros-proto`'s; this crate adds the I/O.
#![warn(unreachable_pub)]

pub mod api;
mod client;
pub mod detect;
mod error;
mod hotspot;
pub mod model;
pub mod rest;
pub mod setup_script;
mod shared;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tls;

pub use client::{ConnectionInfo, Router, RouterSettings};
pub use error::RouterError;
pub use hotspot::{HotspotApi, UserQuery, ACTIVE_PROPS, USER_COUNTER_PROPS, USER_NAME_PROPS};
pub use model::{
    ActiveSession, HotspotHost, HotspotUser, NewUser, Record, RouterVersion, SystemClock,
    SystemResource, UserProfile, UserUpdate, ValueError, Word,
};
pub use shared::SharedRouter;
