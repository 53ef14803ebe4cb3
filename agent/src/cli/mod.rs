//! The command line: argument definitions and the code behind each subcommand.
//! `main.rs` only parses and calls [`run`]. This module is the binary's code kept in
//! the library so tests can drive it; like `main.rs` it reports errors with `anyhow`.

pub mod config;
pub mod router;
pub mod router_setup;
#[cfg(feature = "sim")]
pub mod sim;

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use firmware_config::{Config, RouterConfig, Secret, Transport};

use crate::routeros::{Router, RouterSettings};

pub mod ops;
pub mod profiles;
pub mod users;
pub mod voucher;

/// hotspot-agent: WiFi voucher kiosk agent for MikroTik hotspots.
#[derive(Debug, Parser)]
#[command(name = "hotspot-agent", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML). Without one, the bundled default is used: a simulated
    /// router and simulated kiosk devices.
    #[arg(long, short, global = true, env = "HOTSPOT_CONFIG")]
    pub config: Option<PathBuf>,

    /// Folder for the SQLite store (overrides `[agent] state_dir`).
    #[arg(long, global = true, env = "STATE_DIRECTORY")]
    pub state_dir: Option<PathBuf>,

    /// Router options, for commands that talk to a router.
    #[command(flatten)]
    pub router: RouterArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Which router to talk to: one from the config file by name, or one given here.
/// The password comes from `HOTSPOT_ROUTER_PASSWORD`, never from the command line.
#[derive(Debug, Clone, Default, Args)]
pub struct RouterArgs {
    /// Router name from the config file (default: the first `[[router]]`).
    #[arg(long = "router", global = true)]
    pub router_name: Option<String>,
    /// Router address, instead of the config file.
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// Port of the chosen transport.
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// API user name.
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// auto, api, api-ssl or rest.
    #[arg(long, global = true, value_parser = parse_transport)]
    pub transport: Option<Transport>,
    /// SHA-256 fingerprint of the router's certificate (api-ssl, https).
    #[arg(long, global = true)]
    pub fingerprint: Option<String>,
}

fn parse_transport(text: &str) -> Result<Transport, String> {
    Transport::parse(text).ok_or_else(|| format!("{text:?} is not a transport: use auto, api, api-ssl or rest"))
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the version.
    Version,
    /// Check or print configuration files; list board presets.
    #[command(subcommand)]
    Config(config::ConfigCmd),
    /// Talk to the router: test the connection, print the set-up script.
    #[command(subcommand)]
    Router(router::RouterCmd),
    /// Run a simulated RouterOS router (binary API, api-ssl, REST) for tests and demos.
    #[cfg(feature = "sim")]
    Sim(sim::SimArgs),
}

/// Loads the configuration named on the command line, or the bundled default.
pub fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::bundled_default(),
    };
    if let Some(dir) = &cli.state_dir {
        config.agent.state_dir = dir.clone();
    }
    Ok(config)
}

/// The router entry to use: `--host` builds one ad hoc, else `--router NAME` or the first.
/// `None` means no real router is configured (the simulated one is used).
pub fn router_config(cli: &Cli, config: &Config) -> anyhow::Result<Option<(RouterConfig, usize)>> {
    let args = &cli.router;
    if let Some(host) = &args.host {
        let transport = args.transport.unwrap_or_default();
        let mut r = RouterConfig {
            name: host.clone(),
            host: host.clone(),
            transport,
            ..RouterConfig::default()
        };
        match transport {
            Transport::Rest => r.rest_port = args.port,
            _ => r.api_port = args.port,
        }
        if let Some(user) = &args.user {
            r.username = user.clone();
        }
        r.fingerprint = args.fingerprint.clone();
        if let Some(fp) = &r.fingerprint {
            if firmware_config::router::parse_fingerprint(fp).is_none() {
                bail!("--fingerprint {fp:?} is not 64 hex digits (SHA-256 of the router's certificate)");
            }
        }
        r.password = Some(Secret::new(std::env::var("HOTSPOT_ROUTER_PASSWORD").unwrap_or_default()));
        return Ok(Some((r, 0)));
    }
    let found = match &args.router_name {
        Some(name) => Some(
            config
                .routers
                .iter()
                .enumerate()
                .find(|(_, r)| &r.name == name)
                .with_context(|| format!("no [[router]] named {name:?} in the config file"))?,
        ),
        None => config.routers.iter().enumerate().next(),
    };
    Ok(found.filter(|(_, r)| !r.is_simulated()).map(|(i, r)| {
        let mut r = r.clone();
        if let Some(t) = args.transport {
            r.transport = t;
        }
        (r, i)
    }))
}

/// Connects to the configured router.
pub async fn connect_router(config: &RouterConfig, index: usize) -> anyhow::Result<Router> {
    let settings = RouterSettings::from_config(config, index)?;
    Ok(Router::connect(settings).await?)
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Version => {
            println!("hotspot-agent {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Config(cmd) => config::run(cmd.clone()),
        Command::Router(cmd) => router::run(cmd.clone(), &cli).await,
        #[cfg(feature = "sim")]
        Command::Sim(args) => sim::run(args.clone()).await,
    }
}
