//! The `hotspot-central` binary: parse the command line and call into the library.

use clap::Parser;

/// The central office's tool for a fleet of hotspot kiosks.
#[derive(Debug, Parser)]
#[command(name = "hotspot-central", version, about)]
struct Args {
    #[command(flatten)]
    cli: hotspot_central::cli::CentralCli,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(hotspot_central::cli::run(args.cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
