//! `hotspot-agent run`: the service, as systemd starts it.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::{load_config, open_router, open_store, Cli};
use crate::app::{self, Agent};
use crate::control::{self, ControlService};
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
    let socket = control::socket_path(&config.agent.state_dir);
    let listener = control::bind(&socket)
        .with_context(|| format!("cannot open the control socket {}", socket.display()))?;
    let cancel = CancellationToken::new();
    let service = Arc::new(ControlService::new(&agent, &config));
    let control_task = tokio::spawn(control::serve(
        listener,
        socket.clone(),
        service,
        cancel.clone(),
    ));
    tracing::info!(socket = %socket.display(), "control socket open (status, printing, simulated devices)");
    #[cfg(feature = "sim")]
    keep_simulated_tickets(&agent, &config);
    agent.serve(app::shutdown_signal()).await;
    tracing::info!("agent stopping");
    cancel.cancel();
    let _ = control_task.await;
    agent.stop().await;
    Ok(())
}

/// The simulated printer's tickets go to `<state_dir>/sim-printer/` as PNG and text,
/// where a technician driving the kiosk with `sim coin|press` can look at them.
#[cfg(feature = "sim")]
fn keep_simulated_tickets(agent: &Agent, config: &firmware_config::Config) {
    let Some(printer) = agent.kiosk.as_ref().and_then(|k| k.sim.printer.clone()) else {
        return;
    };
    let dir = config.agent.state_dir.join("sim-printer");
    let paper = kiosk::printer::Paper::from_mm(config.kiosk.printer.paper_mm);
    tokio::spawn(async move {
        let mut n = 0u32;
        while let Some(t) = printer
            .next_ticket(std::time::Duration::from_secs(86_400 * 365))
            .await
        {
            n += 1;
            let base = dir.join(format!("ticket-{n:04}"));
            let written = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(base.with_extension("txt"), t.lines.join("\n")))
                .and_then(|()| match t.to_png(paper) {
                    Ok(png) => std::fs::write(base.with_extension("png"), png),
                    Err(e) => Err(std::io::Error::other(e.to_string())),
                });
            match written {
                Ok(()) => {
                    tracing::info!(file = %base.with_extension("png").display(), length_dots = t.length_dots, "simulated printer: ticket out")
                }
                Err(e) => {
                    tracing::warn!(error = %e, dir = %dir.display(), "simulated printer: ticket not written")
                }
            }
        }
    });
}
