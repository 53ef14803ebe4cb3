//! Talking to MikroTik RouterOS: the binary API codec and client, the REST client,
//! transport detection, the typed model, and (with the `sim` feature) a simulated router.

pub mod api;
pub mod client;
pub mod detect;
pub mod error;
pub mod framing;
pub mod hotspot;
pub mod model;
pub mod proto;
pub mod rest;
pub mod sentence;
pub mod setup_script;
pub mod shared;
#[cfg(feature = "sim")]
pub mod sim;
pub mod tls;

pub use client::{ConnectionInfo, Router, RouterSettings};
pub use error::RouterError;
pub use hotspot::{HotspotApi, UserQuery};
pub use model::{
    ActiveSession, HotspotHost, HotspotUser, NewUser, Record, RouterVersion, SystemResource,
    UserProfile, UserUpdate,
};
