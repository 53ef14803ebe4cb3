//! hotspot-agent: the edge agent of a WiFi voucher kiosk beside a MikroTik hotspot router.
//!
//! The crate's modules are its layers: [`routeros`] talks to the router, [`store`]
//! keeps the SQLite cache, [`vouchers`] sells and enforces, [`kiosk`] drives the
//! devices a customer touches, [`sync`] talks to the central office, and [`cli`]
//! is the command line on top of them.

pub mod app;
pub mod cli;
pub mod kiosk;
pub mod routeros;
pub mod service;
pub mod store;
pub mod sync;
pub mod vouchers;
