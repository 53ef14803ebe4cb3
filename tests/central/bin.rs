//! `hotspot-central`, as the `central` tests run it.

fn main() -> std::process::ExitCode {
    hotspot_central::cli::main()
}
