//! `hotspot-agent sim`: runs the simulated RouterOS router until Ctrl-C, printing one
//! line per listener (`api=HOST:PORT`, `api-ssl=…`, `rest=…`) and the certificate's
//! `fingerprint=…`, so scripts can start it on port 0 and read where it listens.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};

use anyhow::Context as _;
use firmware_config::{ByteSize, Duration};

use crate::control::{PaperState, Request};
use routeros_sim::{FaultOptions, SimOptions, SimRouter};

fn byte_size(text: &str) -> Result<u64, String> {
    ByteSize::parse(text).map(|b| b.0)
}

/// Options of `hotspot-agent sim`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// RouterOS version to behave as: 6.42 (challenge login, no REST), 6.49 (plain
    /// login, no REST), 7.12 (REST), 7.18 (REST, `!empty`).
    #[arg(long = "routeros", value_name = "VERSION", default_value = "7.18")]
    pub routeros: String,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Binary API port (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub api_port: u16,
    /// Binary API over TLS port (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub api_ssl_port: u16,
    /// REST (HTTPS) port (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub rest_port: u16,
    /// Also serve REST over plain HTTP on this port (RouterOS 7.9+; 0 = any free port).
    #[arg(long, value_name = "PORT")]
    pub www_port: Option<u16>,
    /// Do not serve api-ssl.
    #[arg(long)]
    pub no_tls: bool,
    /// Do not serve REST even on v7.
    #[arg(long)]
    pub no_rest: bool,
    /// Link delay before each reply (e.g. 2ms); commands in flight overlap.
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub latency: Duration,
    /// Router CPU time per API command (e.g. 1ms): commands are served one after
    /// another, so N in flight take N times this, as on a real router.
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub service_time: Duration,
    /// Close the connection instead of answering every N-th command (it is carried out).
    #[arg(long, value_name = "N")]
    pub drop_every: Option<u64>,
    /// Close the connection instead of carrying out every N-th command.
    #[arg(long, value_name = "N")]
    pub drop_before_every: Option<u64>,
    /// Hold the reply to every N-th command (and all after it) for --stall-for.
    #[arg(long, value_name = "N")]
    pub stall_every: Option<u64>,
    /// How long a stall lasts.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub stall_for: Duration,
    /// Answer `!fatal` and close after N commands on a connection.
    #[arg(long, value_name = "N")]
    pub fatal_after: Option<u64>,
    /// The `!fatal` reason.
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "session terminated on request"
    )]
    pub fatal_reason: String,
    /// API/REST user of the simulated router.
    #[arg(long, default_value = "admin")]
    pub api_user: String,
    /// API/REST password (a new router has none).
    #[arg(
        long,
        env = "HOTSPOT_SIM_PASSWORD",
        hide_env_values = true,
        default_value = ""
    )]
    pub api_password: String,
    /// How often sessions' counters grow.
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub tick: Duration,
    /// Download per session per second (e.g. 125K).
    #[arg(long, value_name = "BYTES", value_parser = byte_size, default_value = "125K")]
    pub rate: u64,
    /// Simulated customers that log in with freshly created users.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub clients: usize,
    /// Read faults and operator actions from standard input, one a line, while
    /// running: `drop-before N`, `drop-after N`, `stall N [DURATION]`, `fatal N`,
    /// `faults off`, `latency DURATION`, `restart [lose-users] [boot DURATION]`,
    /// `api disable|enable`, `password NEW`, `remove-profile NAME`,
    /// `remove-user NAME`, `cut`. Each answers `ok: …` or `error: …` on stdout.
    #[arg(long)]
    pub console: bool,
    /// Instead of a router: drive a simulated device of the running service.
    #[command(subcommand)]
    pub device: Option<SimDevice>,
}

/// The simulated kiosk devices of a running service (`kind = "sim"`), driven
/// through its control socket.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SimDevice {
    /// Insert a coin of VALUE (a value of `[kiosk.coin] channel_values`).
    Coin {
        /// The coin's value, e.g. 5.
        value: u64,
    },
    /// Press button N (1 = the first, as the screen numbers them).
    Press {
        /// The button.
        button: usize,
    },
    /// Take the paper out (`out`), put it back (`in`), or make the roll nearly
    /// empty (`low`).
    Paper {
        /// in, low or out.
        state: PaperState,
    },
}

impl SimDevice {
    /// The control request.
    pub fn request(&self) -> Request {
        match self {
            SimDevice::Coin { value } => Request::SimCoin { value: *value },
            SimDevice::Press { button } => Request::SimPress { button: *button },
            SimDevice::Paper { state } => Request::SimPaper { paper: *state },
        }
    }
}

impl SimArgs {
    /// The simulator options these arguments ask for.
    pub fn options(&self) -> SimOptions {
        SimOptions {
            version: self.routeros.clone(),
            bind: self.bind,
            api_port: self.api_port,
            api_ssl_port: self.api_ssl_port,
            rest_port: self.rest_port,
            www_port: self.www_port,
            tls: !self.no_tls,
            rest: if self.no_rest { Some(false) } else { None },
            latency: self.latency.std(),
            service_time: self.service_time.std(),
            faults: FaultOptions {
                drop_every_n: self.drop_every,
                stall_every_n: self.stall_every,
                stall_for: Some(self.stall_for.std()),
                fatal_after_n: self.fatal_after,
                fatal_reason: Some(self.fatal_reason.clone()),
                drop_before_every_n: self.drop_before_every,
            },
            username: self.api_user.clone(),
            password: routeros_sim::SimPassword::new(self.api_password.clone()),
            tick: (!self.tick.std().is_zero()).then(|| self.tick.std()),
            rate_down: self.rate,
            rate_up: self.rate / 10,
            auto_clients: self.clients,
            ..SimOptions::default()
        }
    }
}

/// Starts the simulator, prints its listener lines, and runs until Ctrl-C.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot wait for Ctrl-C ({e}); stop the simulator with a signal");
            std::future::pending::<()>().await;
        }
    };
    run_until(args, &mut std::io::stdout(), ctrl_c).await
}

/// Starts the simulator, writes its listener lines to `out`, and runs until `stop` completes.
pub async fn run_until(
    args: SimArgs,
    out: &mut (dyn Write + Send),
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let handle = SimRouter::start(args.options()).await?;
    for line in handle.listener_lines() {
        writeln!(out, "{line}").context("cannot write the listener lines")?;
    }
    out.flush().context("cannot write the listener lines")?;
    if args.console {
        tokio::select! {
            _ = stop => {}
            r = console(&handle, tokio::io::BufReader::new(tokio::io::stdin()), out) => r?,
        }
    } else {
        stop.await;
    }
    handle.shutdown().await;
    Ok(())
}

/// Applies console lines until the input ends, answering each on `out`; then
/// keeps serving (an input closed early must not stop the router).
async fn console(
    handle: &routeros_sim::SimHandle,
    input: impl tokio::io::AsyncBufRead + Unpin,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = input.lines();
    while let Some(line) = lines.next_line().await.context("reading the console")? {
        if line.trim().is_empty() {
            continue;
        }
        let answer = routeros_sim::Control::parse(&line).and_then(|c| handle.apply(&c));
        match answer {
            Ok(done) => writeln!(out, "ok: {done}"),
            Err(e) => writeln!(out, "error: {e}"),
        }
        .and_then(|()| out.flush())
        .context("cannot write the console's answer")?;
    }
    std::future::pending::<()>().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    #[test]
    fn the_issue_command_line_parses_into_options() {
        let cli = Cli::try_parse_from([
            "sim",
            "--routeros",
            "6.42",
            "--latency",
            "2ms",
            "--drop-every",
            "7",
            "--no-tls",
        ])
        .unwrap();
        let o = cli.sim.options();
        assert_eq!(o.version, "6.42");
        assert_eq!(o.latency, std::time::Duration::from_millis(2));
        assert_eq!(o.faults.drop_every_n, Some(7));
        assert!(!o.tls);
        assert_eq!(o.rest, None, "REST follows the version unless --no-rest");
        assert_eq!(o.password.expose(), "");
    }

    #[test]
    fn sim_args_fit_under_the_real_cli_without_clashing_with_its_global_options() {
        use clap::{CommandFactory as _, Parser as _};
        crate::cli::Cli::command().debug_assert();
        let cli = crate::cli::Cli::try_parse_from([
            "hotspot-agent",
            "--host",
            "10.0.0.1",
            "sim",
            "--routeros",
            "6.49",
            "--api-port",
            "0",
        ])
        .unwrap();
        assert_eq!(cli.router.host.as_deref(), Some("10.0.0.1"));
        let crate::cli::Command::Sim(args) = cli.command else {
            panic!("not the sim command: {:?}", cli.command)
        };
        assert_eq!(args.options().version, "6.49");
    }

    #[test]
    fn sim_device_commands_parse_without_clashing_with_the_router_options() {
        use clap::Parser as _;
        let parse = |args: &[&str]| {
            let mut v = vec!["hotspot-agent", "sim"];
            v.extend_from_slice(args);
            match crate::cli::Cli::try_parse_from(v).unwrap().command {
                crate::cli::Command::Sim(a) => a.device.map(|d| d.request()),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(parse(&["coin", "5"]), Some(Request::SimCoin { value: 5 }));
        assert_eq!(
            parse(&["press", "1"]),
            Some(Request::SimPress { button: 1 })
        );
        assert_eq!(
            parse(&["paper", "out"]),
            Some(Request::SimPaper {
                paper: PaperState::Out
            })
        );
        assert_eq!(parse(&["--routeros", "6.49"]), None);
    }

    #[test]
    fn rates_take_units() {
        let cli = Cli::try_parse_from(["sim", "--rate", "1M"]).unwrap();
        assert_eq!(cli.sim.options().rate_down, 1 << 20);
    }

    #[tokio::test]
    async fn run_prints_one_line_per_listener_and_serves_until_stopped() {
        let cli = Cli::try_parse_from(["sim", "--routeros", "7.18"]).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (lines_tx, lines_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let task = tokio::spawn(async move {
            let mut out = Vec::new();
            let stop = async {
                let _ = rx.await;
            };
            // Hand the lines over as soon as they are written, before stopping.
            let mut tee = Tee(&mut out, lines_tx);
            run_until(cli.sim, &mut tee, stop).await
        });
        let printed = tokio::task::spawn_blocking(move || lines_rx.recv().unwrap())
            .await
            .unwrap();
        let text = String::from_utf8(printed).unwrap();
        let keys: Vec<&str> = text.lines().map(|l| l.split('=').next().unwrap()).collect();
        assert_eq!(keys, ["api", "api-ssl", "rest", "fingerprint", "version"]);
        let api: std::net::SocketAddr = text.lines().next().unwrap()["api=".len()..]
            .parse()
            .unwrap();
        assert_ne!(api.port(), 0, "port 0 was replaced by the real port");
        assert!(
            tokio::net::TcpStream::connect(api).await.is_ok(),
            "the API listens"
        );
        tx.send(()).unwrap();
        task.await.unwrap().unwrap();
        assert!(
            tokio::net::TcpStream::connect(api).await.is_err(),
            "stopped listening"
        );
    }

    #[tokio::test]
    async fn the_console_applies_each_line_and_answers_it() {
        let handle = routeros_sim::SimRouter::start(routeros_sim::SimOptions::default())
            .await
            .unwrap();
        let input: &[u8] =
            b"drop-before 3\nlatency 50ms\nreboot\npassword pw2\nremove-user nobody\n";
        let mut out = Vec::new();
        let run = console(&handle, input, &mut out);
        // The console keeps serving after its input ends.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), run).await;
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ok: DropBefore(3)");
        assert_eq!(handle.faults().drop_before_every_n, Some(3));
        assert!(
            lines[2].starts_with("error: unknown console line"),
            "{text}"
        );
        assert_eq!(lines[3], "ok: password changed; connections closed");
        assert!(!text.contains("pw2"), "{text}");
        assert!(
            lines[4].starts_with("error: /ip/hotspot/user/remove nobody"),
            "{text}"
        );
    }

    /// A writer that also sends what was flushed to a channel.
    struct Tee<'a>(&'a mut Vec<u8>, std::sync::mpsc::Sender<Vec<u8>>);

    impl Write for Tee<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            let _ = self.1.send(self.0.clone());
            Ok(())
        }
    }
}
