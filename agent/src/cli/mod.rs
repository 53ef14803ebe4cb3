//! The command line: argument definitions and the code behind each subcommand.
//! `main.rs` only parses and calls [`run`].

pub mod central;
pub mod msg;
