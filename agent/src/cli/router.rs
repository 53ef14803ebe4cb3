//! `hotspot-agent router …`: commands about the router connection. `router test`
//! connects as the agent would (transport detection included), logs in and shows what
//! it found, or fails with the router's error.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;

use super::{load_config, Cli};
use routeros::model::UserProfile;
use routeros::{HotspotApi, Router, RouterError, RouterSettings};

/// `router` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum RouterCmd {
    /// Connect, log in, and show the transport, version, identity, board and profiles.
    Test {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a RouterOS script (.rsc) that prepares the router for this agent: API group
    /// and user, certificate, api-ssl for the agent's address only, the plans' profiles.
    SetupScript(super::router_setup::SetupScriptArgs),
}

/// What a router test found: the part worth recording (SQLite, status messages).
#[derive(Debug, Clone, Serialize)]
pub struct RouterTestOutcome {
    /// Router name.
    pub router: String,
    /// Whether connecting, logging in and reading the router all worked.
    pub ok: bool,
    /// `api`, `api-ssl` or `rest`, once connected.
    pub transport: Option<String>,
    /// RouterOS version text, once connected.
    pub version: Option<String>,
    /// Why this transport (what `auto` saw).
    pub reason: Option<String>,
    /// The error, if any, in full.
    pub error: Option<String>,
    /// Time from start to result.
    pub elapsed: Duration,
}

/// Everything `router test` shows.
#[derive(Debug, Clone, Serialize)]
pub struct RouterTestReport {
    /// The recordable outcome.
    #[serde(flatten)]
    pub outcome: RouterTestOutcome,
    /// Address connected to.
    pub addr: Option<String>,
    /// `/system/identity` name.
    pub identity: Option<String>,
    /// `board-name`.
    pub board: Option<String>,
    /// Hotspot user profiles.
    pub profiles: Vec<UserProfile>,
}

/// Connects and reads identity, resource and profiles. Never fails: the error is in the
/// report. This is the hook the integrator records (outcome, transport, version, elapsed).
pub async fn test_router(settings: RouterSettings) -> RouterTestReport {
    let started = Instant::now();
    let name = settings.name.clone();
    let result: Result<(Router, String, String, Vec<UserProfile>), RouterError> = async {
        let router = Router::connect(settings).await?;
        let (identity, resource, profiles) =
            tokio::join!(router.identity(), router.resource(), router.profiles());
        Ok((router, identity?, resource?.board_name, profiles?))
    }
    .await;
    let elapsed = started.elapsed();
    match result {
        Ok((router, identity, board, profiles)) => {
            let info = router.info();
            RouterTestReport {
                outcome: RouterTestOutcome {
                    router: name,
                    ok: true,
                    transport: Some(info.transport.as_str().to_string()),
                    version: Some(info.version_text),
                    reason: Some(info.reason),
                    error: None,
                    elapsed,
                },
                addr: Some(info.addr),
                identity: Some(identity),
                board: Some(board),
                profiles,
            }
        }
        Err(e) => RouterTestReport {
            outcome: RouterTestOutcome {
                router: name,
                ok: false,
                transport: None,
                version: None,
                reason: None,
                error: Some(e.to_string()),
                elapsed,
            },
            addr: None,
            identity: None,
            board: None,
            profiles: Vec::new(),
        },
    }
}

/// Runs a `router` subcommand; `router test` records its outcome in the store
/// (connection status history, shown by `stats`).
pub async fn run(cmd: RouterCmd, cli: &Cli) -> anyhow::Result<()> {
    let config = load_config(cli)?;
    let store = super::open_store(&config);
    run_with(cmd, cli, |o| {
        let status = crate::store::RouterStatus {
            at_ms: crate::store::now_ms(),
            router: o.router.clone(),
            ok: o.ok,
            transport: o.transport.clone(),
            addr: None,
            version: o.version.clone(),
            latency_ms: Some(o.elapsed.as_millis() as u64),
            message: o.error.clone().or_else(|| o.reason.clone()),
        };
        match &store {
            Ok(store) => {
                if let Err(e) = store.record_router_status(&status) {
                    eprintln!("warning: the outcome was not recorded: {e}");
                }
            }
            Err(e) => eprintln!("warning: the outcome was not recorded: {e:#}"),
        }
    })
    .await
}

/// Like [`run`], handing the test outcome to `record` before printing (SQLite hook).
pub async fn run_with(
    cmd: RouterCmd,
    cli: &Cli,
    record: impl FnOnce(&RouterTestOutcome),
) -> anyhow::Result<()> {
    match cmd {
        RouterCmd::Test { json } => {
            let config = load_config(cli)?;
            // Without a real router, host builds test the simulated one (as `run` would use).
            let choice = super::open_router(cli, &config, 0).await?;
            let settings = RouterSettings::from_config(&choice.config, 0)?;
            let report = test_router(settings).await;
            record(&report.outcome);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", render(&report));
            }
            match &report.outcome.error {
                Some(e) => bail!("{e}"),
                None => Ok(()),
            }
        }
        RouterCmd::SetupScript(args) => super::router_setup::run(&args, &load_config(cli)?),
    }
}

/// The human-readable form of a report.
pub fn render(report: &RouterTestReport) -> String {
    let o = &report.outcome;
    let mut out = String::new();
    let mut line = |k: &str, v: &str| out.push_str(&format!("  {k:<10} {v}\n"));
    line("router", &o.router);
    if let Some(addr) = &report.addr {
        line("address", addr);
    }
    if let (Some(t), Some(r)) = (&o.transport, &o.reason) {
        line("transport", &format!("{t} ({r})"));
    }
    if let Some(v) = &o.version {
        line("version", v);
    }
    if let Some(i) = &report.identity {
        line("identity", i);
    }
    if let Some(b) = &report.board {
        line("board", b);
    }
    if o.ok {
        let profiles: Vec<String> = report
            .profiles
            .iter()
            .map(|p| match &p.rate_limit {
                Some(rate) => format!("{} ({rate})", p.name),
                None => p.name.clone(),
            })
            .collect();
        line(
            "profiles",
            &if profiles.is_empty() {
                "(none)".to_string()
            } else {
                profiles.join(", ")
            },
        );
    }
    line("elapsed", &format!("{} ms", o.elapsed.as_millis()));
    line("result", if o.ok { "ok" } else { "FAILED" });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use firmware_config::{Secret, Transport};
    use routeros::testing::peer::{fake_router, Peer};

    fn settings(port: u16) -> RouterSettings {
        RouterSettings {
            name: "r1".into(),
            host: "127.0.0.1".into(),
            transport: Transport::Api,
            api_port: port,
            api_ssl_port: 1,
            rest_port: 1,
            rest_tls: false,
            username: "admin".into(),
            password: Secret::new(""),
            fingerprint: None,
            ca_file: None,
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn a_router_test_shows_transport_version_identity_board_and_profiles() {
        let port = fake_router(|mut p: Peer, _| async move {
            p.login_ok().await;
            loop {
                let cmd = p.read().await;
                let tag = format!(".tag={}", cmd.tag.clone().unwrap_or_default());
                match cmd.path.as_str() {
                    "/system/resource/print" => {
                        p.send(&[
                            "!re",
                            "=version=6.49.10 (long-term)",
                            "=board-name=hAP ac2",
                            &tag,
                        ])
                        .await
                    }
                    "/system/identity/print" => p.send(&["!re", "=name=kiosk", &tag]).await,
                    "/ip/hotspot/user/profile/print" => {
                        p.send(&[
                            "!re",
                            "=.id=*1",
                            "=name=1h",
                            "=rate-limit=2M/4M",
                            "=shared-users=1",
                            &tag,
                        ])
                        .await
                    }
                    _ => {}
                }
                p.send(&["!done", &tag]).await;
            }
        })
        .await;
        let report = test_router(settings(port)).await;
        assert!(report.outcome.ok, "{:?}", report.outcome.error);
        assert_eq!(report.outcome.transport.as_deref(), Some("api"));
        assert_eq!(
            report.outcome.version.as_deref(),
            Some("6.49.10 (long-term)")
        );
        let text = render(&report);
        for part in [
            "kiosk",
            "hAP ac2",
            "1h (2M/4M)",
            "6.49.10 (long-term)",
            "result     ok",
        ] {
            assert!(text.contains(part), "{part} missing in\n{text}");
        }
    }

    #[tokio::test]
    async fn a_failed_router_test_keeps_the_error_and_is_not_ok() {
        let port = fake_router(|mut p: Peer, _| async move {
            let _ = p.read().await;
            p.send(&["!trap", "=message=invalid user name or password (6)"])
                .await;
            p.send(&["!done"]).await;
        })
        .await;
        let report = test_router(settings(port)).await;
        assert!(!report.outcome.ok);
        let error = report.outcome.error.clone().unwrap();
        assert!(
            error.contains("invalid user name or password (6)"),
            "{error}"
        );
        assert!(render(&report).contains("FAILED"));
    }
}
