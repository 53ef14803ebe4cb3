//! The command line: argument definitions and the code behind each subcommand.
//! `main.rs` only parses and calls [`run`].
pub mod config;
pub mod router_setup;
