//! hotspot-agent: the edge agent of a WiFi voucher kiosk beside a MikroTik hotspot router.
//!
//! This crate is the top of the stack; the layers below it are crates of their own
//! (`routeros-proto`, `routeros`, `kiosk`, `sync-proto`, `mqtt-link`, …; the
//! README draws them). Here: [`store`] (the one owner of SQLite, every table),
//! [`vouchers`] (selling, the pool, enforcement, reconcile), [`sync`] (the site's
//! outbox and down-link over `mqtt-link`), [`app`] (the running service and demo,
//! tying the layers together) and [`cli`] (the command line on top of them).
#![warn(unreachable_pub)]

pub mod app;
pub mod cli;
pub mod control;
pub mod owner_page;
pub mod service;
#[cfg(feature = "sim")]
pub mod simulated;
pub mod store;
pub mod sync;
pub mod today;
pub mod vouchers;
