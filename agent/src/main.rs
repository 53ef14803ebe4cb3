//! The `hotspot-agent` binary: parse the command line and call into the library.

fn main() {}
