//! `hotspot-central ...`: the central office's tool. Drives a fleet from a
//! laptop (keys, plan pushes, commands, a live view, sales) and is the reference
//! implementation of the other end of the wire contract.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};

use mqtt_link::{client_config, LinkConfig, TlsSettings};
use sync_proto::messages::{CommandResult, SiteCommand};
use sync_proto::{convert, now_ms, sign};

use crate::fleet;
use crate::ingest::{valid_group, IngestOptions, IngestWorker};
use crate::store::{latest_per_sale, Store};
use crate::{json_line, Central, CentralDb};

/// How the central tool reaches the broker. Every flag also reads an environment variable.
#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    #[arg(long, env = "HOTSPOT_CENTRAL_BROKER", default_value = "localhost")]
    pub broker: String,
    /// Default 1883, or 8883 with --tls.
    #[arg(long, env = "HOTSPOT_CENTRAL_PORT")]
    pub port: Option<u16>,
    #[arg(long, env = "HOTSPOT_CENTRAL_TLS")]
    pub tls: bool,
    #[arg(long, env = "HOTSPOT_CENTRAL_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// SHA-256 of the broker certificate (hex).
    #[arg(long, env = "HOTSPOT_CENTRAL_FINGERPRINT")]
    pub fingerprint: Option<String>,
    #[arg(long, env = "HOTSPOT_CENTRAL_CLIENT_CERT")]
    pub client_cert: Option<PathBuf>,
    #[arg(long, env = "HOTSPOT_CENTRAL_CLIENT_KEY")]
    pub client_key: Option<PathBuf>,
    #[arg(long, env = "HOTSPOT_CENTRAL_USERNAME")]
    pub username: Option<String>,
    /// File holding the MQTT password (chmod 600).
    #[arg(long, env = "HOTSPOT_CENTRAL_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    #[arg(long, env = "HOTSPOT_CENTRAL_PREFIX", default_value = "hotspot")]
    pub prefix: String,
    /// MQTT client id; keep it stable so the broker queues messages while you are away.
    #[arg(
        long,
        env = "HOTSPOT_CENTRAL_CLIENT_ID",
        default_value = "hotspot-central"
    )]
    pub client_id: String,
    /// The central office's secret key file (from `keygen`).
    #[arg(long, env = "HOTSPOT_CENTRAL_KEY", default_value = "central.key")]
    pub key: PathBuf,
    /// Where received messages are kept (deduplication, `sales`).
    #[arg(long, env = "HOTSPOT_CENTRAL_DB", default_value = "central.db")]
    pub db: PathBuf,
    /// Keep received messages and site keys in PostgreSQL instead of --db: a
    /// connection string such as `host=/run/postgresql dbname=hotspot user=hotspot`
    /// (for `ingest`, `register`, `sales`, `sites`, `serve-api`).
    #[arg(long, env = "HOTSPOT_CENTRAL_POSTGRES")]
    pub postgres: Option<String>,
    /// File holding the PostgreSQL password (chmod 600), kept out of --postgres.
    #[arg(long, env = "HOTSPOT_CENTRAL_POSTGRES_PASSWORD_FILE")]
    pub postgres_password_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct CentralCli {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: CentralCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CentralCommand {
    /// Make a signing key pair: the secret key goes to --key (mode 600), the public key
    /// is printed for each site's `[central] central_public_key`.
    Keygen {
        /// Replace an existing key file.
        #[arg(long)]
        force: bool,
    },
    /// Register a site's public key (what `hotspot-agent site id` prints on the site):
    /// messages from the site are stored only when they verify against it, and
    /// router passwords pushed to it are sealed to it.
    Register {
        #[arg(long)]
        site: String,
        /// 64 hex digits.
        #[arg(long)]
        key: String,
    },
    /// Sign and push a plan set: FILE is TOML with `[vouchers] currency`, `[[plan]]`, `[[profile]]`.
    PushPlans {
        file: PathBuf,
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        site: Option<String>,
        #[arg(long)]
        all: bool,
        /// Default: the current time in milliseconds (always newer than the last push).
        #[arg(long)]
        version: Option<u64>,
    },
    /// Sign and push router settings: FILE is TOML with `[[router]]` sections.
    PushRouters {
        file: PathBuf,
        #[arg(long)]
        site: String,
        #[arg(long)]
        version: Option<u64>,
    },
    /// Run a command on a site and print its reply as JSON.
    Command {
        #[arg(long)]
        site: String,
        /// How long the command is valid and how long to wait for the reply.
        #[arg(long, default_value = "30")]
        timeout_secs: u64,
        #[command(subcommand)]
        command: RemoteCommand,
    },
    /// Publish the floor for a registered site (retained, bound to its key): it
    /// then refuses plan and router sets below these versions, and commands and
    /// orders signed before now. Run it after `register`, above all after a box
    /// was wiped and registered again.
    Floor {
        #[arg(long)]
        site: String,
        /// The version of the plan set in force for the site (0: no floor).
        #[arg(long, default_value = "0")]
        plans_version: u64,
        #[arg(long, default_value = "0")]
        routers_version: u64,
    },
    /// Send an online order (paid through the central office) to a site and print
    /// the voucher it sold for it as JSON. Safe to repeat with the same --id: the
    /// site answers with the same voucher, never a second one.
    Order {
        #[arg(long)]
        site: String,
        #[arg(long)]
        plan: String,
        /// What the customer paid, smallest currency unit.
        #[arg(long)]
        amount: u64,
        /// Default: the site's currency.
        #[arg(long, default_value = "")]
        currency: String,
        /// The order's id (default: a new one, printed).
        #[arg(long)]
        id: Option<String>,
        /// How long to wait for the answer; the order itself waits at the broker
        /// for a site that is offline.
        #[arg(long, default_value = "30")]
        timeout_secs: u64,
    },
    /// Print sales, status, events and replies from every site as JSON lines, and
    /// acknowledge outbox messages.
    Watch,
    /// Print the sales received so far as JSON lines.
    Sales {
        /// Unix time in seconds, or a duration back from now like `24h` or `7d`.
        #[arg(long, default_value = "0")]
        since: String,
        /// One line per sale in its latest state (delivered, failed, ...) instead of
        /// one line per state message.
        #[arg(long)]
        latest: bool,
    },
    /// Run as the central office's ingest service: store what sites send (in --db,
    /// or --postgres) and acknowledge each message after its commit. Several workers,
    /// on one machine or many, share the work with the same --group.
    Ingest {
        /// Shared-subscription group (`$share/<group>/...`); without it this worker
        /// receives everything alone.
        #[arg(long, env = "HOTSPOT_CENTRAL_GROUP")]
        group: Option<String>,
        /// Most messages stored in one transaction.
        #[arg(long, default_value = "500")]
        batch: usize,
    },
    /// The fleet: per site online/offline (the retained status on the broker, or the
    /// store's last one if the broker is not reached), outbox depth, plans version,
    /// sales, last sale and the alerts of the last 24 hours.
    Sites {
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Serve the admin API (HTTP JSON: settings, test, users, profiles, voucher, per
    /// site), each request carried to the site as a signed message.
    ServeApi {
        /// Address to listen on; put a TLS proxy in front for anything but localhost.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// File holding the bearer token clients send (chmod 600).
        #[arg(long, env = "HOTSPOT_CENTRAL_API_TOKEN_FILE")]
        token_file: PathBuf,
        /// How long a command may take on the site.
        #[arg(long, default_value = "30")]
        timeout_secs: u64,
    },
    /// Print the cash-box collections received so far as JSON lines, one per
    /// collection, to reconcile each box against the sales of its period.
    Cash {
        /// Unix time in seconds, or a duration back from now like `24h` or `7d`.
        #[arg(long, default_value = "0")]
        since: String,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum RemoteCommand {
    TestRouter {
        /// Router name at the site (default: its first).
        #[arg(long = "site-router")]
        router: Option<String>,
    },
    ListUsers {
        /// Router name at the site (default: its first).
        #[arg(long = "site-router")]
        router: Option<String>,
        #[arg(long)]
        active: Option<bool>,
        #[arg(long)]
        profile: Option<String>,
    },
    ListProfiles {
        /// Router name at the site (default: its first).
        #[arg(long = "site-router")]
        router: Option<String>,
    },
    CreateVouchers {
        #[arg(long)]
        plan: String,
        #[arg(long, default_value = "1")]
        count: u32,
    },
    DisconnectUser {
        username: String,
    },
    RemoveUser {
        username: String,
    },
    SyncProfiles,
    Reconcile,
}

impl From<RemoteCommand> for SiteCommand {
    fn from(c: RemoteCommand) -> SiteCommand {
        match c {
            RemoteCommand::TestRouter { router } => SiteCommand::TestRouter { router },
            RemoteCommand::ListUsers {
                router,
                active,
                profile,
            } => SiteCommand::ListUsers {
                router,
                active,
                profile,
                offset: 0,
            },
            RemoteCommand::ListProfiles { router } => SiteCommand::ListProfiles { router },
            RemoteCommand::CreateVouchers { plan, count } => SiteCommand::CreateVouchers {
                plan_id: plan,
                count,
            },
            RemoteCommand::DisconnectUser { username } => SiteCommand::DisconnectUser { username },
            RemoteCommand::RemoveUser { username } => SiteCommand::RemoveUser { username },
            RemoteCommand::SyncProfiles => SiteCommand::SyncProfiles,
            RemoteCommand::Reconcile => SiteCommand::Reconcile,
        }
    }
}

// Long on purpose: one match arm per `hotspot-central` subcommand; each arm is the whole command.
pub async fn run(cli: CentralCli) -> anyhow::Result<()> {
    let c = &cli.connect;
    match cli.command {
        CentralCommand::Keygen { force } => keygen(&c.key, force),
        CentralCommand::Register { site, key } => {
            open_store(c).await?.register_site(&site, &key).await?;
            eprintln!("site {site} registered in {}", store_name(c));
            Ok(())
        }
        CentralCommand::Sales { since, latest } => {
            let store = open_store(c).await?;
            let mut rows = store.sales_since(parse_since(&since)?).await?;
            if latest {
                rows = latest_per_sale(rows);
            }
            for r in rows {
                let line = serde_json::json!({"site": r.site, "msg_id": r.msg_id, "sale": r.sale});
                if !emit(&line.to_string())? {
                    break;
                }
            }
            Ok(())
        }
        CentralCommand::Ingest { group, batch } => ingest(c, group, batch).await,
        CentralCommand::ServeApi {
            listen,
            token_file,
            timeout_secs,
        } => {
            let token = firmware_config::Secret::from_file(&token_file, "--token-file")?;
            let config = crate::http::ApiConfig {
                link: link_config(c)?,
                key: central_key(c)?,
                prefix: c.prefix.clone(),
                token,
                timeout: Duration::from_secs(timeout_secs.max(1)),
            };
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let app = crate::http::router(config, open_store(c).await?).await;
            tracing::info!(listen, "admin API serving");
            axum::serve(listener, app)
                .with_graceful_shutdown(stop_signal())
                .await
                .context("admin API")?;
            Ok(())
        }
        CentralCommand::Sites { json } => {
            let store = open_store(c).await?;
            let retained = fleet::retained_statuses(
                link_config(c)?,
                &c.prefix,
                &store,
                Duration::from_millis(1000),
                Duration::from_secs(5),
            )
            .await;
            if retained.is_none() {
                eprintln!(
                    "broker {} not reached: state and outbox are the store's last status",
                    c.broker
                );
            }
            let rows = fleet::fleet(&store, retained.as_ref()).await?;
            if json {
                for r in &rows {
                    if !emit(&serde_json::to_string(r)?)? {
                        break;
                    }
                }
            } else {
                emit(fleet::table(&rows, now_ms()).trim_end())?;
            }
            Ok(())
        }
        CentralCommand::Cash { since } => {
            let store = open_store(c).await?;
            for (site, msg_id, json) in store.cash_since(parse_since(&since)?).await? {
                let line = format!(
                    "{{\"site\":{},\"msg_id\":{},\"cash\":{json}}}",
                    serde_json::json!(site),
                    serde_json::json!(msg_id)
                );
                if !emit(&line)? {
                    break;
                }
            }
            Ok(())
        }
        CentralCommand::PushPlans {
            file,
            site,
            all,
            version,
        } => {
            let config = read_toml(&file)?;
            let version = version.unwrap_or_else(now_ms);
            let target = if all { None } else { site.as_deref() };
            let set = convert::plan_set(&config, version, target.unwrap_or("*"));
            let central = connect(c, false).await?;
            central.push_plans(target, set).await?;
            eprintln!(
                "plan set version {version} pushed to {}; `central watch` shows each site's report",
                target.unwrap_or("every site")
            );
            central.link().shutdown().await;
            Ok(())
        }
        CentralCommand::PushRouters {
            file,
            site,
            version,
        } => {
            let config = read_toml(&file)?;
            let version = version.unwrap_or_else(now_ms);
            let site_key = CentralDb::open(&c.db)?
                .site_key(&site)?
                .ok_or_else(|| crate::CentralError::Unregistered(site.clone()))?;
            let set = convert::router_set(&config, version, &site, &site_key)
                .map_err(crate::CentralError::from)?;
            let central = connect(c, false).await?;
            central.push_routers(&site, set).await?;
            eprintln!("router settings version {version} pushed to {site}");
            central.link().shutdown().await;
            Ok(())
        }
        CentralCommand::Command {
            site,
            timeout_secs,
            command,
        } => {
            let db = CentralDb::open(&c.db)?;
            let mut central = connect(c, true).await?;
            // A user list comes in pages (each message stays under the size limit):
            // fetched page by page and printed as one.
            let result = central
                .command_all_pages(
                    &db,
                    &site,
                    command.into(),
                    Duration::from_secs(timeout_secs),
                )
                .await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            central.shutdown(&db).await;
            refused(&site, &result)
        }
        CentralCommand::Floor {
            site,
            plans_version,
            routers_version,
        } => {
            let db = CentralDb::open(&c.db)?;
            let mut central = connect(c, false).await?;
            let floor = central
                .push_floor(&db, &site, plans_version, routers_version)
                .await?;
            eprintln!(
                "floor for {site}: plan sets from version {plans_version}, router settings from {routers_version}, commands and orders signed from {} on",
                floor.issued_ms
            );
            central.link().shutdown().await;
            Ok(())
        }
        CentralCommand::Order {
            site,
            plan,
            amount,
            currency,
            id,
            timeout_secs,
        } => {
            let order = sync_proto::messages::Order {
                order_id: id.unwrap_or_else(|| sync_proto::new_msg_id("order")),
                target: site,
                plan_id: plan,
                amount,
                currency,
            };
            eprintln!("order {}", order.order_id);
            let db = CentralDb::open(&c.db)?;
            let mut central = connect(c, true).await?;
            central.send_order(&order).await?;
            let (result, _) = central
                .await_order(&db, &order, Duration::from_secs(timeout_secs))
                .await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            central.shutdown(&db).await;
            Ok(())
        }
        CentralCommand::Watch => {
            let db = CentralDb::open(&c.db)?;
            let mut central = connect(c, true).await?;
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => break,
                    got = central.next(&db) => match got {
                        Some(r) => if !emit(&json_line(&r))? { break },
                        None => bail!("link to the broker closed"),
                    }
                }
            }
            central.shutdown(&db).await;
            Ok(())
        }
    }
}

/// A site's refusal fails `command` (exit status 1) after its reply is printed, so a
/// script never takes a refused command (a user the site did not make, an expired
/// request) for done.
fn refused(site: &str, result: &CommandResult) -> anyhow::Result<()> {
    match result {
        CommandResult::Ok(_) => Ok(()),
        CommandResult::Err(why) => bail!("site {site} refused the command: {why}"),
    }
}

fn keygen(path: &Path, force: bool) -> anyhow::Result<()> {
    if path.exists() && !force {
        bail!(
            "{} exists; use --force to replace it (sites will then refuse the old key's messages)",
            path.display()
        );
    }
    let key = sign::generate().map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(
        &mut f,
        format!("{}\n", hex::encode(key.to_bytes())).as_bytes(),
    )?;
    eprintln!(
        "secret key written to {} (keep it on this machine only)",
        path.display()
    );
    eprintln!("put this in each site's [central] central_public_key:");
    println!("{}", hex::encode(key.verifying_key().to_bytes()));
    Ok(())
}

fn read_toml(path: &Path) -> anyhow::Result<firmware_config::Config> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {origin}"))?;
    let config = firmware_config::Config::parse(&text, &origin)?;
    config.validate(&origin)?;
    Ok(config)
}

/// Stored messages as JSON lines: `{"site":…,"msg_id":…,"<field>":<body>}`.
fn parse_since(text: &str) -> anyhow::Result<u64> {
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(secs * 1000);
    }
    let back = firmware_config::Duration::parse(text)
        .map_err(|e| anyhow::anyhow!("--since {text:?}: {e}"))?;
    Ok(now_ms().saturating_sub(back.std().as_millis() as u64))
}

fn central_key(c: &ConnectArgs) -> anyhow::Result<ed25519_dalek::SigningKey> {
    let key_text = firmware_config::Secret::from_file(&c.key, "--key")?;
    Ok(sign::parse_secret_key(key_text.expose())?)
}

/// The broker connection the flags describe.
fn link_config(c: &ConnectArgs) -> anyhow::Result<LinkConfig> {
    let tls = if c.tls {
        let read =
            |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
        let settings = TlsSettings {
            ca_pem: c.ca_file.as_deref().map(read).transpose()?,
            pin: match &c.fingerprint {
                Some(f) => Some(
                    firmware_config::central::parse_key32(&f.replace(':', ""))
                        .context("--fingerprint: 64 hex digits")?,
                ),
                None => None,
            },
            client_auth: match (&c.client_cert, &c.client_key) {
                (Some(cert), Some(k)) => Some((read(cert)?, read(k)?)),
                _ => None,
            },
        };
        Some(client_config(&settings)?)
    } else {
        None
    };
    let password = c
        .password_file
        .as_deref()
        .map(|p| firmware_config::Secret::from_file(p, "--password-file"))
        .transpose()?;
    let config = LinkConfig {
        host: c.broker.clone(),
        port: c.port.unwrap_or(if c.tls { 8883 } else { 1883 }),
        client_id: c.client_id.clone(),
        username: c.username.clone(),
        password,
        tls,
        keep_alive: Duration::from_secs(30),
        clean_session: false,
        last_will: None,
        subscriptions: Vec::new(),
        backoff_min: Duration::from_millis(500),
        backoff_max: Duration::from_secs(30),
    };
    Ok(config)
}

async fn connect(c: &ConnectArgs, subscribe: bool) -> anyhow::Result<Central> {
    let key = central_key(c)?;
    let config = link_config(c)?;
    let central = Central::connect(config, key, &c.prefix, subscribe);
    if !central.wait_connected(Duration::from_secs(10)).await {
        bail!(
            "cannot reach the broker {}:{} within 10 s: check --broker, --port and --tls",
            c.broker,
            c.port.unwrap_or(1883)
        );
    }
    // Let the subscription settle before anything that expects an answer.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(central)
}

/// Writes one line to stdout. `Ok(false)` when the reader has gone (`| head`): the
/// caller stops quietly instead of failing on a broken pipe.
fn emit(line: &str) -> anyhow::Result<bool> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|_| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("cannot write to standard output"),
    }
}

/// The store the flags name: PostgreSQL with --postgres, else the SQLite --db.
async fn open_store(c: &ConnectArgs) -> anyhow::Result<Store> {
    match &c.postgres {
        Some(params) => {
            let password = c
                .postgres_password_file
                .as_deref()
                .map(|p| firmware_config::Secret::from_file(p, "--postgres-password-file"))
                .transpose()?;
            let pg =
                crate::pg::PgStore::connect(params, password.as_ref().map(|p| p.expose())).await?;
            Ok(Store::Postgres(pg))
        }
        None => Ok(Store::sqlite(&c.db)?),
    }
}

fn store_name(c: &ConnectArgs) -> String {
    match &c.postgres {
        Some(_) => "PostgreSQL".into(),
        None => c.db.display().to_string(),
    }
}

/// `hotspot-central ingest`: one worker, until SIGTERM or Ctrl-C.
async fn ingest(c: &ConnectArgs, group: Option<String>, batch: usize) -> anyhow::Result<()> {
    if let Some(g) = &group {
        if !valid_group(g) {
            bail!("--group {g:?}: one topic level without `/`, `+` or `#`, e.g. `ingest`");
        }
    }
    if batch == 0 {
        bail!("--batch must be at least 1");
    }
    let mut store = open_store(c).await?;
    let mut config = link_config(c)?;
    // Each worker its own client id; the session is clean, so none is left behind.
    config.client_id = sync_proto::new_msg_id(&format!("{}-ingest", c.client_id))
        [..c.client_id.len() + "-ingest-".len() + 8]
        .to_string();
    let options = IngestOptions {
        group: group.clone(),
        batch,
        ..IngestOptions::default()
    };
    let mut worker = IngestWorker::connect(config, central_key(c)?, &c.prefix, options);
    if tokio::time::timeout(Duration::from_secs(30), worker.link().wait_connected())
        .await
        .is_err()
    {
        bail!(
            "cannot reach the broker {}:{} within 30 s: check --broker, --port and --tls",
            c.broker,
            c.port.unwrap_or(1883)
        );
    }
    tracing::info!(group = group.as_deref().unwrap_or("-"), store = %store_name(c), "ingest running");
    let stats = worker.run(&mut store, stop_signal()).await;
    worker.shutdown().await;
    tracing::info!(
        stored = stats.stored,
        duplicates = stats.duplicates,
        refused = stats.refused,
        "ingest stopped"
    );
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM (what systemd sends to stop a service).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The whole `hotspot-central` program: parse the command line, run, exit code.
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    /// The central office's tool for a fleet of hotspot kiosks.
    #[derive(Debug, clap::Parser)]
    #[command(name = "hotspot-central", version, about)]
    struct Args {
        #[command(flatten)]
        cli: CentralCli,
    }
    let args = Args::parse();
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HOTSPOT_CENTRAL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
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
    match runtime.block_on(run(args.cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_proto::messages::CommandOutput;

    #[test]
    fn a_command_the_site_refused_fails_with_the_sites_reason() {
        let why = "NOTANID was not created by this agent; it is left alone";
        let err = refused("shop", &CommandResult::Err(why.into())).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("site shop refused the command: {why}")
        );
        let done = CommandResult::Ok(CommandOutput::Done("NOTANID removed".into()));
        assert!(refused("shop", &done).is_ok());
    }
}
