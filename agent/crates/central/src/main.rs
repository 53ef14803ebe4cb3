//! The `hotspot-central` binary: everything is in the library's [`hotspot_central::cli::main`].

fn main() -> std::process::ExitCode {
    hotspot_central::cli::main()
}
