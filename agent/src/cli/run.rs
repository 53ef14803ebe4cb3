//! `hotspot-agent run`: the service, as systemd starts it.

use clap::Args;

use super::{load_config, open_router, open_store, Cli};
use crate::app::{self, Agent};
use crate::service::{self, LogFormat};

/// `run` options.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Simulated customers on the built-in simulated router (no real router configured).
    #[arg(long, default_value_t = 2)]
    pub sim_clients: usize,
}

/// Runs the agent until Ctrl-C or SIGTERM.
pub async fn run(cli: &Cli, args: RunArgs) -> anyhow::Result<()> {
    let mut config = load_config(cli)?;
    let pushed = app::routers_file::apply(&mut config);
    // Refuses to start on a secret file others can read; the secrets also keep
    // their values out of every log line.
    let secrets = config.secrets()?;
    service::init_logging(LogFormat::parse(&config.agent.log_format)?, &secrets)?;
    let file = app::routers_file::path(&config.agent.state_dir);
    match &pushed {
        app::routers_file::Applied::ConfigFile => {}
        app::routers_file::Applied::Pushed => {
            tracing::info!(file = %file.display(), "router settings from the central office replace the config file's")
        }
        app::routers_file::Applied::Previous(why) => {
            tracing::error!(file = %file.display(), reason = %why, "pushed router settings not usable; the ones before them are used")
        }
        app::routers_file::Applied::FellBackToConfigFile(why) => {
            tracing::error!(file = %file.display(), reason = %why, "pushed router settings not usable; the config file's routers are used")
        }
    }
    let choice = open_router(cli, &config, args.sim_clients).await?;
    let store = open_store(&config)?;
    app::pushed_plans::load_or_warn(&mut config, &store);
    tracing::info!(site = %config.agent.site_id, state = %store.path().display(), "agent starting");
    let agent = Agent::start(&config, &choice.config, choice.router, store).await?;
    agent.serve(app::shutdown_signal()).await;
    tracing::info!("agent stopping");
    agent.stop().await;
    Ok(())
}
