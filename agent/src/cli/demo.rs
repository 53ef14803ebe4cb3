//! `hotspot-agent demo`: the whole kiosk against a simulated router and simulated
//! devices, with scripted (or typed) coins, an embedded broker and a central office.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use firmware_config::Config;
use kiosk::printer::Paper;
use kiosk::sim::demo::purchase;

use super::{load_config, open_router, open_store, Cli};
use crate::app::{self, Agent};
use crate::service::{self, LogFormat};

/// `demo` options.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Coins one customer inserts, by value, e.g. `5,5,10`.
    #[arg(long, default_value = "5")]
    pub coins: String,
    /// Customers served one after the other, each inserting --coins and pressing --button.
    #[arg(long, default_value_t = 3)]
    pub customers: u32,
    /// Button the customer presses (0 = the first kiosk plan).
    #[arg(long, default_value_t = 0)]
    pub button: usize,
    /// Run the script and exit; without it, in a terminal, type coins and buttons.
    #[arg(long)]
    pub headless: bool,
    /// Folder for tickets, screens and the demo's own store.
    #[arg(long, default_value = "./demo-out")]
    pub out: PathBuf,
    /// Leave out the embedded MQTT broker and central office.
    #[arg(long)]
    pub no_central: bool,
}

fn demo_config(cli: &Cli, args: &DemoArgs) -> anyhow::Result<Config> {
    use firmware_config::kiosk::{CoinKind, DisplayKind, PrinterKind};
    let mut config = load_config(cli)?;
    config.routers.retain(|r| !r.is_simulated());
    if !config.routers.is_empty() {
        anyhow::bail!("the demo runs against the simulated router; run it without a config that names a real [[router]]");
    }
    config.kiosk.coin.kind = CoinKind::Sim;
    config.kiosk.printer.kind = PrinterKind::Sim;
    config.kiosk.display.kind = DisplayKind::Png;
    config.kiosk.display.png_dir = args.out.join("screens").display().to_string();
    config.agent.state_dir = args.out.join("state");
    Ok(config)
}

/// Runs the kiosk on simulated everything and prints what happens.
pub async fn demo(cli: &Cli, args: DemoArgs) -> anyhow::Result<()> {
    let mut config = demo_config(cli, &args)?;
    // The simulated router lives only as long as this process, so a store left by an
    // earlier demo holds pool vouchers whose router users are gone: start afresh.
    let state = &config.agent.state_dir;
    if state.exists() {
        std::fs::remove_dir_all(state)
            .with_context(|| format!("cannot clear the demo's state folder {}", state.display()))?;
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    if std::env::var_os("RUST_LOG").is_some() {
        service::init_logging(LogFormat::Text, &[])?;
    }
    let central = if args.no_central {
        None
    } else {
        Some(demo_central(&mut config).await?)
    };

    let choice = open_router(cli, &config, 0).await?;
    let sim = choice.sim.context("the demo needs the simulated router")?;
    println!(
        "router    simulated RouterOS {} at {} (api)",
        sim.version_text, sim.api_addr
    );
    let store = open_store(&config)?;
    let agent = Agent::start(&config, &choice.config, choice.router, store).await?;
    let kiosk = agent.kiosk.as_ref().context("the demo needs the kiosk")?;
    println!("kiosk     screens in {}", config.kiosk.display.png_dir);
    for p in agent.vouchers.plans().all().filter(|p| p.kiosk) {
        println!(
            "plan      {:<4} {:<16} {} {}",
            p.id, p.name, p.price, p.currency
        );
    }

    let coins = Coins(kiosk.sim.channel_values.clone());
    let mut tickets = Tickets {
        out: args.out.clone(),
        sim: &sim,
        printed: 0,
    };
    if !args.headless && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        interactive(kiosk, &coins, &mut tickets).await?;
    } else {
        let channels = coins.channels(&args.coins)?;
        for n in 1..=args.customers {
            println!("customer  {n}: inserts {}", args.coins);
            let ticket = tokio::select! {
                _ = app::shutdown_signal() => {
                    println!("stopping  (interrupted)");
                    break;
                }
                t = purchase(kiosk, &channels, args.button, Duration::from_secs(20)) => t?,
            };
            tickets.serve(ticket)?;
        }
    }

    if let Some(mut c) = central {
        c.finish(&agent).await;
    }
    let stats = agent.vouchers.stats().await?;
    println!(
        "done      {} sale(s) today, {} taken; outbox waiting: {}",
        stats.sales_today.count, stats.sales_today.total, stats.outbox_pending
    );
    agent.stop().await;
    Ok(())
}

/// The simulated acceptor's coins: `(channel, value)`.
struct Coins(Vec<(u8, u64)>);

impl Coins {
    fn channel_of(&self, value: u64) -> anyhow::Result<u8> {
        self.0
            .iter()
            .find(|(_, v)| *v == value)
            .map(|(c, _)| *c)
            .with_context(|| {
                format!(
                    "no coin of value {value}; the simulated acceptor takes {}",
                    self.values()
                )
            })
    }

    /// `--coins 5,5,10` as acceptor channels.
    fn channels(&self, script: &str) -> anyhow::Result<Vec<u8>> {
        script
            .split(',')
            .map(|c| {
                let value = c
                    .trim()
                    .parse::<u64>()
                    .with_context(|| format!("--coins: {c:?} is not a coin value"))?;
                self.channel_of(value)
            })
            .collect()
    }

    fn values(&self) -> String {
        let known: Vec<String> = self.0.iter().map(|(_, v)| v.to_string()).collect();
        known.join(", ")
    }
}

/// Writes each printed ticket as a PNG and says whether its user is on the router.
struct Tickets<'a> {
    out: PathBuf,
    sim: &'a routeros_sim::SimHandle,
    printed: u32,
}

impl Tickets<'_> {
    fn serve(&mut self, ticket: kiosk::sim::PrintedTicket) -> anyhow::Result<()> {
        self.printed += 1;
        let n = self.printed;
        let path = self.out.join(format!("ticket-{n}.png"));
        std::fs::write(&path, ticket.to_png(Paper::Mm58)?)?;
        let url = ticket.qr.clone().unwrap_or_default();
        let code = url
            .split_once("username=")
            .map(|(_, rest)| rest.split('&').next().unwrap_or_default().to_string())
            .unwrap_or_default();
        let on_router = self.sim.user(&code).is_some();
        println!(
            "sale      ticket {n}: code {code} (QR {}), router user {}, printed to {}",
            if url.is_empty() { "missing" } else { "ok" },
            if on_router { "created" } else { "MISSING" },
            path.display()
        );
        Ok(())
    }
}

/// Typed coins and button presses, until `q`, end of input or Ctrl-C.
async fn interactive(
    kiosk: &kiosk::runner::Kiosk,
    coins: &Coins,
    tickets: &mut Tickets<'_>,
) -> anyhow::Result<()> {
    println!(
        "type a coin value and Enter to insert it ({}), b<N> to press button N, q to quit",
        coins.values()
    );
    let acceptor = kiosk.sim.acceptor.clone().context("simulated acceptor")?;
    let printer = kiosk.sim.printer.clone().context("simulated printer")?;
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(tokio::io::stdin()));
    loop {
        tokio::select! {
            _ = app::shutdown_signal() => break,
            line = lines.next_line() => {
                let Ok(Some(line)) = line else { break };
                let line = line.trim();
                if line == "q" { break }
                if let Some(b) = line.strip_prefix('b') {
                    match b.parse() { Ok(n) => kiosk.handle.press(n).await, Err(_) => println!("b<N>: N is a button number") }
                } else if let Ok(v) = line.parse::<u64>() {
                    match coins.channel_of(v) { Ok(ch) => acceptor.insert(ch).await, Err(e) => println!("{e}") }
                }
                println!("credit    {}", kiosk.handle.status().credit);
            }
            ticket = printer.next_ticket(Duration::from_secs(3600)) => {
                if let Some(t) = ticket { tickets.serve(t)? }
            }
        }
    }
    Ok(())
}

/// The demo's central office: an embedded broker and a watcher that prints what arrives.
struct DemoCentral {
    central: hotspot_central::Central,
    db: hotspot_central::CentralDb,
    _dir: tempfile_dir::TempDir,
}

mod tempfile_dir {
    //! A folder removed when dropped (the demo's central database).
    pub(super) struct TempDir(pub std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn demo_central(config: &mut Config) -> anyhow::Result<DemoCentral> {
    use hotspot_central::{Central, CentralDb};
    let port = crate::sync::demo::start_embedded_broker()?;
    let key = sync_proto::sign::generate().map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    config.central.broker = "127.0.0.1".into();
    config.central.port = Some(port);
    config.central.tls = false;
    config.central.central_public_key = hex::encode(key.verifying_key().to_bytes());
    let dir = std::env::temp_dir().join(format!("hotspot-demo-central-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = CentralDb::open(&dir.join("central.db"))?;
    // The office knows the kiosk's key, as after `hotspot-central register`.
    let identity = crate::sync::SiteIdentity::load_or_create(&config.agent.state_dir)?;
    db.register_site(&config.agent.site_id, &identity.public_hex())?;
    let link = crate::sync::setup::link_config(&config.central, "demo-central")?;
    let central = Central::connect(link, key, &config.central.topic_prefix, true);
    if !central.wait_connected(Duration::from_secs(10)).await {
        anyhow::bail!(
            "the demo's central office could not reach its embedded broker on port {port}"
        );
    }
    println!("central   embedded MQTT broker (rumqttd) on 127.0.0.1:{port}; the central office watches it");
    Ok(DemoCentral {
        central,
        db,
        _dir: tempfile_dir::TempDir(dir),
    })
}

impl DemoCentral {
    /// Waits for the sales to arrive, then pushes a signed plan update and shows the report.
    async fn finish(&mut self, agent: &Agent) {
        use sync_proto::messages::Up;
        let sold = agent
            .vouchers
            .stats()
            .await
            .map(|s| s.sales_today.count as usize)
            .unwrap_or(0);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut pushed = false;
        while let Ok(Some(r)) = tokio::time::timeout_at(deadline, self.central.next(&self.db)).await
        {
            if matches!(r.envelope.body, Up::Sale(_) | Up::Report(_)) {
                println!("central   {}", hotspot_central::json_line(&r));
            }
            let arrived = self.db.sales_since(0).map(|s| s.len()).unwrap_or(0);
            if arrived >= sold && !pushed {
                pushed = true;
                let mut config = Config::bundled_default();
                for p in &mut config.plans {
                    p.price *= 2;
                }
                let plans =
                    sync_proto::convert::plan_set(&config, crate::store::now_ms() as u64, "");
                println!("central   all {arrived} sale(s) received; pushing a signed plan set with doubled prices");
                let site = config_site(agent);
                if let Err(e) = self.central.push_plans(Some(&site), plans).await {
                    println!("central   push failed: {e}");
                    break;
                }
            }
            if matches!(r.envelope.body, Up::Report(_)) {
                break;
            }
        }
        self.central.flush_acks(&self.db).await;
        for p in agent.vouchers.plans().all().filter(|p| p.kiosk) {
            println!(
                "plan      {:<4} {:<16} now {} {}",
                p.id, p.name, p.price, p.currency
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.central.shutdown(&self.db).await;
    }
}

fn config_site(agent: &Agent) -> String {
    agent.vouchers.settings().site_id.clone()
}
