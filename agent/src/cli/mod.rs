//! The command line: argument definitions and the code behind each subcommand.
//! `main.rs` only parses and calls [`run`]. This module is the binary's code kept in
//! the library so tests can drive it; like `main.rs` it reports errors with `anyhow`.

pub mod cash;
pub mod config;
pub mod control;
#[cfg(feature = "sim")]
pub mod demo;
pub mod msg;
pub mod ops;
pub mod owner_page;
pub mod profiles;
pub mod router;
pub mod router_setup;
pub mod run;
#[cfg(feature = "sim")]
pub mod sim;
pub mod site;
pub mod status;
pub mod users;
pub mod voucher;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use firmware_config::{Config, RouterConfig, Secret, Transport};

use crate::store::Store;
use routeros::{Router, RouterSettings, SharedRouter};

/// hotspot-agent: WiFi voucher kiosk agent for MikroTik hotspots.
#[derive(Debug, Parser)]
#[command(name = "hotspot-agent", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Without one, the installed file the service uses
    /// (/etc/hotspot-agent/config.toml) when it exists, else the bundled default: a
    /// simulated router and simulated kiosk devices.
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

    /// Set for `demo`, the one command that means to run on a simulated router (and
    /// says so itself): no warning that a simulator stands in.
    #[arg(skip)]
    pub demo: bool,
}

/// The heading router options are listed under in every `--help`.
const ROUTER_OPTIONS: &str =
    "Router options (run, voucher, users, profiles, stats, status, reconcile, enforce, router)";

/// Which router to talk to: one from the config file by name, or one given here.
/// The password comes from `HOTSPOT_ROUTER_PASSWORD`, never from the command line.
#[derive(Debug, Clone, Default, Args)]
pub struct RouterArgs {
    /// Router name from the config file (default: the first `[[router]]`).
    #[arg(long = "router", global = true, help_heading = ROUTER_OPTIONS)]
    pub router_name: Option<String>,
    /// Router address, instead of the config file.
    #[arg(long, global = true, help_heading = ROUTER_OPTIONS)]
    pub host: Option<String>,
    /// Port of the chosen transport.
    #[arg(long, global = true, help_heading = ROUTER_OPTIONS)]
    pub port: Option<u16>,
    /// API user name.
    #[arg(long, global = true, help_heading = ROUTER_OPTIONS)]
    pub user: Option<String>,
    /// auto, api, api-ssl or rest.
    #[arg(long, global = true, value_parser = parse_transport, help_heading = ROUTER_OPTIONS)]
    pub transport: Option<Transport>,
    /// SHA-256 fingerprint of the router's certificate (api-ssl, https).
    #[arg(long, global = true, help_heading = ROUTER_OPTIONS)]
    pub fingerprint: Option<String>,
}

fn parse_transport(text: &str) -> Result<Transport, String> {
    Transport::parse(text)
        .ok_or_else(|| format!("{text:?} is not a transport: use auto, api, api-ssl or rest"))
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent: sell at the kiosk, keep the pool topped up, enforce quotas and
    /// validity, sync with the central office. This is what the systemd unit runs.
    Run(run::RunArgs),
    /// The whole kiosk against a simulated router and simulated devices, with
    /// scripted coins; tickets and screens are written as PNG files.
    #[cfg(feature = "sim")]
    Demo(demo::DemoArgs),
    /// Sell vouchers from the command line: one, or a batch with a CSV.
    #[command(subcommand)]
    Voucher(voucher::VoucherCommand),
    /// Hotspot users on the router, joined with the local cache.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Hotspot user profiles: list, and create/update the configured ones on the router.
    #[command(subcommand)]
    Profiles(profiles::ProfilesCommand),
    /// Users per profile, active vs idle, data used, and today's money by channel
    /// (coins taken apart from vouchers made), in the kiosk's time zone.
    Stats(ops::StatsArgs),
    /// The kiosk's health on one screen: router, devices, clock, pool, outbox,
    /// cash box and the alerts of the last day.
    Status(status::StatusArgs),
    /// The cash box: what it should hold, and recording that it was emptied.
    #[command(subcommand)]
    Cash(cash::CashCommand),
    /// The shop owner's page: set its PIN, print its certificate fingerprint.
    #[command(subcommand)]
    OwnerPage(owner_page::OwnerPageCmd),
    /// Compare the router with the local cache; fix on request.
    Reconcile(ops::ReconcileArgs),
    /// Run the enforcement loop (data quota, validity), or one pass with --once.
    Enforce(ops::EnforceArgs),
    /// Talk to the router: test the connection, print the set-up script.
    #[command(subcommand)]
    Router(router::RouterCmd),
    /// Check or print configuration files; list board presets.
    #[command(subcommand)]
    Config(config::ConfigCmd),
    /// The site's identity for the central office: `site id` prints its public key.
    #[command(subcommand)]
    Site(site::SiteCmd),
    /// Translate central-link messages between postcard and JSON.
    #[command(subcommand)]
    Msg(msg::MsgCommand),
    /// Run a simulated RouterOS router (binary API, api-ssl, REST) for tests and demos;
    /// or, with `coin`, `press` or `paper`, drive the simulated kiosk devices of a
    /// running service.
    #[cfg(feature = "sim")]
    #[command(args_conflicts_with_subcommands = true)]
    Sim(sim::SimArgs),
    /// Print the version.
    Version,
}

/// Where the service's configuration is installed: the unit starts
/// `hotspot-agent run --config /etc/hotspot-agent/config.toml`.
pub const INSTALLED_CONFIG: &str = "/etc/hotspot-agent/config.toml";

/// The configuration file a command reads: the one given with `--config` (or in
/// `HOTSPOT_CONFIG`, as the unit may set), else `installed` when it exists, so that a
/// technician on the box talks to the same router and store as the service. `None`
/// means the bundled default.
pub fn config_path(given: Option<&Path>, installed: &Path) -> Option<PathBuf> {
    match given {
        Some(path) => Some(path.to_path_buf()),
        None => installed.exists().then(|| installed.to_path_buf()),
    }
}

impl Cli {
    /// The configuration file this command line reads (see [`config_path`]).
    pub fn config_file(&self) -> Option<PathBuf> {
        config_path(self.config.as_deref(), Path::new(INSTALLED_CONFIG))
    }

    fn config_origin(&self) -> String {
        self.config_file()
            .map_or("<bundled default>".to_string(), |p| p.display().to_string())
    }
}

/// Loads the configuration file this command reads ([`Cli::config_file`]), or the
/// bundled default.
pub fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = match cli.config_file() {
        Some(path) => Config::load(&path)?,
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
        r.password = Some(Secret::new(
            std::env::var("HOTSPOT_ROUTER_PASSWORD").unwrap_or_default(),
        ));
        return Ok(Some((r, 0)));
    }
    let origin = cli.config_origin();
    // `load_config` has checked the file; only the choice is left.
    let chosen = config.chosen_router(&origin, args.router_name.as_deref())?;
    Ok(chosen.map(|(i, r)| {
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

/// The router a command talks to, and what keeps a simulated one alive.
pub struct RouterChoice {
    /// A simulated router inside this process stands in: whatever is made on it
    /// vanishes when the command ends.
    pub throwaway: bool,
    /// The handle; connects on first use.
    pub router: SharedRouter,
    /// The entry it was made from (for a simulated router: pointing at it).
    pub config: RouterConfig,
    /// The simulated router, when no real one is configured.
    #[cfg(feature = "sim")]
    pub sim: Option<routeros_sim::SimHandle>,
}

/// The configured router, or in host builds a simulated RouterOS 7.18 started in this
/// process when no `[[router]]` has a host (its users last as long as the process).
pub async fn open_router(
    cli: &Cli,
    config: &Config,
    clients: usize,
) -> anyhow::Result<RouterChoice> {
    if let Some((router_cfg, index)) = router_config(cli, config)? {
        let settings = RouterSettings::from_config(&router_cfg, index)?;
        return Ok(RouterChoice {
            throwaway: false,
            router: SharedRouter::new(settings),
            config: router_cfg,
            #[cfg(feature = "sim")]
            sim: None,
        });
    }
    #[cfg(feature = "sim")]
    {
        use routeros_sim::{SimOptions, SimRouter};
        let options = SimOptions {
            auto_clients: clients,
            ..SimOptions::version("7.18")
        };
        let sim = SimRouter::start(options).await?;
        let base = config
            .router(cli.router.router_name.as_deref())
            .cloned()
            .unwrap_or_default();
        let router_cfg = RouterConfig {
            name: "sim".into(),
            transport: Transport::Api,
            ..crate::simulated::router_config(&sim, &base)
        };
        tracing::info!(api = %sim.api_addr, "no router configured: using a simulated RouterOS 7.18 in this process");
        if !cli.demo {
            eprintln!("{}", throwaway_warning(&cli.config_origin()));
        }
        let settings = RouterSettings::from_config(&router_cfg, 0)?;
        let router = SharedRouter::new(settings);
        // A fresh simulated router knows only `default`; give it the configured
        // profiles, as `profiles sync` would on a real one.
        if let Err(e) = crate::app::actions::sync_profiles(&router, &config.profiles).await {
            tracing::warn!(error = %e, "profiles not created on the simulated router");
        }
        Ok(RouterChoice {
            throwaway: true,
            router,
            config: router_cfg,
            sim: Some(sim),
        })
    }
    #[cfg(not(feature = "sim"))]
    {
        let _ = clients;
        bail!("no router is configured: add a [[router]] with a host to the config file, or give --host")
    }
}

/// What a command prints, on stderr, when a simulated router inside the process
/// stands in for the real one.
#[cfg(any(feature = "sim", test))]
fn throwaway_warning(origin: &str) -> String {
    format!(
        "WARNING: SIMULATED ROUTER. {origin} has no [[router]] with a host, so this command \
         talks to a simulated RouterOS inside itself; what it makes there vanishes when it \
         ends. Give --config FILE (or install /etc/hotspot-agent/config.toml), --host, or \
         point --host/--port at a running `hotspot-agent sim`."
    )
}

/// Opens the SQLite store in the state folder (creating the folder).
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::open_in(state_dir(config)?)?)
}

/// [`open_store`] for a command that runs and exits: no full read of the file on
/// every run, and the WAL left for the next open ([`Store::open_for_command`]); the
/// service (`run`) opens with [`open_store`], which checks every page.
pub fn open_command_store(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::open_in_for_command(state_dir(config)?)?)
}

/// The state folder, created if missing.
fn state_dir(config: &Config) -> anyhow::Result<&Path> {
    let dir = &config.agent.state_dir;
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create the state folder {}; set [agent] state_dir or --state-dir",
            dir.display()
        )
    })?;
    Ok(dir)
}

impl RouterArgs {
    /// Whether any router option was given.
    fn any(&self) -> bool {
        let RouterArgs {
            router_name,
            host,
            port,
            user,
            transport,
            fingerprint,
        } = self;
        router_name.is_some()
            || host.is_some()
            || port.is_some()
            || user.is_some()
            || transport.is_some()
            || fingerprint.is_some()
    }
}

impl Command {
    /// Whether the command talks to a router, and so takes the router options.
    fn talks_to_a_router(&self) -> bool {
        match self {
            Command::Run(_)
            | Command::Voucher(_)
            | Command::Users(_)
            | Command::Profiles(_)
            | Command::Stats(_)
            | Command::Status(_)
            | Command::Reconcile(_)
            | Command::Enforce(_)
            | Command::Router(_) => true,
            #[cfg(feature = "sim")]
            Command::Demo(_) | Command::Sim(_) => false,
            Command::Config(_)
            | Command::Msg(_)
            | Command::Cash(_)
            | Command::OwnerPage(_)
            | Command::Site(_)
            | Command::Version => false,
        }
    }
}

/// Runs a parsed command line.
pub async fn run(mut cli: Cli) -> anyhow::Result<()> {
    if cli.router.any() && !cli.command.talks_to_a_router() {
        bail!("router options (--router, --host, --port, --user, --transport, --fingerprint) go with the commands that talk to a router: run, voucher, users, profiles, stats, status, reconcile, enforce, router");
    }
    let command = std::mem::replace(&mut cli.command, Command::Version);
    #[cfg(feature = "sim")]
    {
        cli.demo = matches!(command, Command::Demo(_));
    }
    match command {
        Command::Version => {
            println!("hotspot-agent {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Run(args) => run::run(&cli, args).await,
        #[cfg(feature = "sim")]
        Command::Demo(args) => demo::demo(&cli, args).await,
        Command::Config(cmd) => config::run(cmd, cli.config_file()),
        Command::Router(cmd) => router::run(cmd, &cli).await,
        #[cfg(feature = "sim")]
        Command::Sim(args) => match args.device.clone() {
            Some(device) => control::run(&cli, device.request(), false).await,
            None => sim::run(args).await,
        },
        Command::Msg(cmd) => msg::run(cmd).await,
        Command::Site(cmd) => site::run(cmd, &cli),
        Command::Voucher(cmd) => {
            if let Some((request, json)) = cmd.through_service() {
                return control::run(&cli, request, json).await;
            }
            let sells = cmd.sells();
            with_router_for(&cli, sells, |r, s, c, chosen| async move {
                voucher::run(cmd, r, s, &c, &chosen).await
            })
            .await
        }
        Command::Users(cmd) => {
            with_router(&cli, |r, s, c, chosen| async move {
                users::run(cmd, r, s, &c, &chosen).await
            })
            .await
        }
        Command::Profiles(cmd) => {
            with_router(&cli, |r, s, c, _| async move {
                profiles::run(cmd, r, s, &c).await
            })
            .await
        }
        Command::Stats(args) => {
            with_router(&cli, |r, s, c, chosen| async move {
                ops::run_stats(args, r, s, &c, &chosen).await
            })
            .await
        }
        Command::Status(args) => {
            with_router(&cli, |r, s, c, chosen| async move {
                status::run(args, r, s, &c, &chosen).await
            })
            .await
        }
        Command::Cash(cmd) => {
            let config = load_config(&cli)?;
            cash::run(cmd, &open_command_store(&config)?, &config)
        }
        Command::OwnerPage(cmd) => owner_page::run(cmd, &load_config(&cli)?),
        Command::Reconcile(args) => {
            with_router(&cli, |r, s, c, chosen| async move {
                ops::run_reconcile(args, r, s, &c, &chosen).await
            })
            .await
        }
        Command::Enforce(args) => {
            with_router(&cli, |r, s, c, chosen| async move {
                ops::run_enforce(args, r, s, &c, &chosen).await
            })
            .await
        }
    }
}

/// Loads the config, opens the router and the store, and runs `f` with them.
async fn with_router<F, Fut>(cli: &Cli, f: F) -> anyhow::Result<()>
where
    F: FnOnce(SharedRouter, Store, Config, RouterConfig) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    with_router_for(cli, false, f).await
}

/// [`with_router`] for a command that may sell (`sells`): a sale is refused against a
/// simulated router that ends with the command, since the customer would hold a code
/// that no router knows while the store records it as delivered.
async fn with_router_for<F, Fut>(cli: &Cli, sells: bool, f: F) -> anyhow::Result<()>
where
    F: FnOnce(SharedRouter, Store, Config, RouterConfig) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut config = load_config(cli)?;
    let choice = open_router(cli, &config, 0).await?;
    if sells && choice.throwaway {
        bail!(
            "refusing to sell against the simulated router inside this command: its users \
             vanish when it ends, so the voucher would not work. Configure a real router \
             ([[router]] host in --config FILE, or --host), or run `hotspot-agent sim` in \
             another terminal and give its --host and --port"
        );
    }
    let store = open_command_store(&config)?;
    // What the central office pushed is what this site sells, here too.
    crate::app::pushed_plans::load_or_warn(&mut config, &store);
    #[cfg(feature = "sim")]
    let _keep_sim_alive = choice.sim;
    f(choice.router, store, config, choice.config).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn every_subcommand_parses_without_clashing_options() {
        // clap checks names, flags and globals of the whole tree here, which it would
        // otherwise only do (by panicking) when a user runs the clashing subcommand.
        Cli::command().debug_assert();
    }

    #[tokio::test]
    async fn router_options_on_a_command_that_talks_to_no_router_are_refused() {
        let cli = Cli::try_parse_from(["hotspot-agent", "--host", "10.0.0.1", "config", "default"])
            .unwrap();
        let err = run(cli).await.unwrap_err().to_string();
        assert!(err.contains("--host"), "{err}");
        assert!(
            err.contains("go with the commands that talk to a router"),
            "{err}"
        );
    }

    #[test]
    fn help_lists_router_options_under_their_own_heading() {
        let mut cmd = Cli::command();
        cmd.build();
        let help = cmd
            .find_subcommand_mut("config")
            .unwrap()
            .render_long_help()
            .to_string();
        let heading = help
            .find("Router options")
            .expect("a heading for router options");
        assert!(help[heading..].contains("--host"), "{help}");
    }

    #[test]
    fn the_installed_config_is_used_when_none_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let installed = dir.path().join("config.toml");
        assert_eq!(config_path(None, &installed), None, "nothing installed yet");
        std::fs::write(&installed, "").unwrap();
        assert_eq!(config_path(None, &installed), Some(installed.clone()));
        let given = dir.path().join("other.toml");
        assert_eq!(
            config_path(Some(&given), &installed),
            Some(given),
            "--config or HOTSPOT_CONFIG wins"
        );
    }

    #[cfg(feature = "sim")]
    #[tokio::test]
    async fn a_sale_against_the_throwaway_simulator_is_refused_and_nothing_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.toml");
        std::fs::write(&config, "").unwrap();
        let state = dir.path().join("state");
        let args = |rest: &[&str]| {
            let mut v = vec![
                "hotspot-agent",
                "--config",
                config.to_str().unwrap(),
                "--state-dir",
                state.to_str().unwrap(),
            ];
            v.extend_from_slice(rest);
            Cli::try_parse_from(v).unwrap()
        };
        let err = run(args(&["voucher", "create", "--plan", "1h"]))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("refusing to sell"), "{err}");
        let err = run(args(&["voucher", "batch", "--plan", "1h", "--count", "2"]))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("refusing to sell"), "{err}");
        let store = Store::open_in(&state).unwrap();
        assert_eq!(store.recent_sales(10).unwrap().len(), 0, "no sale recorded");
        run(args(&["voucher", "list"]))
            .await
            .expect("listing is no sale");
    }

    #[test]
    fn the_throwaway_warning_names_the_file_and_what_to_do() {
        let text = throwaway_warning("/tmp/x.toml");
        assert!(text.starts_with("WARNING: SIMULATED ROUTER"), "{text}");
        assert!(
            text.contains("/tmp/x.toml") && text.contains("--host"),
            "{text}"
        );
    }

    #[test]
    fn the_router_password_never_comes_from_the_command_line() {
        let err = Cli::try_parse_from(["hotspot-agent", "--password", "x", "router", "test"])
            .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }
}
