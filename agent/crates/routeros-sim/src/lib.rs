//! A simulated MikroTik RouterOS router for tests, `demo` and `hotspot-agent sim`:
//! the binary API (plain and TLS) and REST, behaving per version, with hotspot
//! users, profiles, servers and sessions whose counters grow, and injected faults.
//!
//! Layers: [`state`] (tables, ids), [`query`] (query words), [`menus`] (paths,
//! commands, traps), [`values`] (properties and their checks), [`commands`] and
//! [`print`](mod@print) (what each command does), [`records`] (how items print), [`clients`]
//! (hotspot logins, traffic, limits), [`faults`], [`session`] (API login and
//! replies), [`rest_api`] (REST mapping) — all pure — and the I/O adapters
//! `api_server`, `rest_server` and [`tls`]; [`SimHandle`] is what callers hold.
//!
//! Use in-process (tests, `demo`): `let sim = SimRouter::start(SimOptions::version("7.18")).await?;`
//! then point a client at `sim.api_addr` / `sim.api_ssl_addr` / `sim.rest_addr`
//! (or `sim.router_config(&base)`), pinning `sim.fingerprint`. Keep the handle:
//! dropping it stops the router.
//!
//! Behaviour follows `routeros-reference.md`: framing, tags on every reply, traps
//! followed by `!done`, `!fatal` + bare reason then close, `!empty` from 7.18,
//! challenge login before 6.43 and plain login from 6.43, REST only from v7.
//!
//! # Choices where RouterOS behaviour is unknown
//! The reference marks these UNKNOWN or UNVERIFIED; this is what the simulator does.
//! - **Pre-login limit**: at most 5 `/login` sentences before a successful login; the
//!   6th, or any other command before login, gets `!fatal` `not logged in` (the text
//!   MHYCY documents) and the connection is closed.
//! - **Bare `/login` on 6.43+ and v7**: answered with `!done =ret=<challenge>` like
//!   6.45–6.47 routers; the `=response=` is accepted up to 6.45.1 and refused with
//!   `invalid user name or password (6)` after it.
//! - **`default-trial`**: listed by `print` as `*0` with `default=true` (the built-in
//!   `default` profile is `*0` too); added items start at `*1`. Neither can be
//!   removed: `failure: default item can not be removed`.
//! - **Unset limits**: `limit-uptime`/`limit-bytes-*` set to `0` are left out of the
//!   user's print, as are unset `comment`, `email`, `server`, `address`, `mac-address`.
//!   Active sessions print `session-time-left` and `limit-bytes-*` only when the user has
//!   such a limit.
//! - **Trap categories**: argument value failures (`input does not match any value of
//!   …`, `invalid time value for argument …`, `ambiguous value …`, `value of … out of
//!   range`) carry `=category=1`; `failure: …`, `no such item (4)`, `unknown parameter …`
//!   carry none; the unknown-command pair is category 0 then none; `interrupted` is 2.
//! - **Texts the sources do not give**: a missing `name` on add or `.id` on set/remove →
//!   `missing value(s) of argument(s) name|numbers` (the CLI text); a bad boolean or byte
//!   count → `invalid value for argument <name>`; a duplicate profile/server name →
//!   `failure: already have such name`.
//! - **`!empty`** (7.18+) only before the `!done` of a `print`/`getall` that found
//!   nothing (the changelog: "when API query returns nothing"); not for set/remove.
//! - **Queries**: `?<`/`?>` compare integers numerically, durations (uptime, timeouts) as
//!   times, everything else as text; a missing property is neither less nor greater, and
//!   equals the empty string. Booleans match `yes`/`no` and `true`/`false` alike, and
//!   durations match in any form (`?uptime=0s` ≡ `?uptime=00:00:00`).
//! - **Names as ids**: `=.id=` and REST item URLs accept an item's `name` as well as `*HEX`.
//! - **Words are bytes**: values and query words are stored and compared byte for byte,
//!   never decoded (routeros-reference.md §1.2: the router negotiates no encoding).
//! - **Menus operators' tools read** ([`tool_menus`]): `/system/routerboard` is a hAP ac²
//!   (`board-name` and `revision` only on v7, as RAML marks them optional); a fresh router
//!   has the four default logging rules and actions (not removable, like `default`
//!   profiles), `ether1`, `ether2`, `bridge` and the pool `hs-pool-1`. A scheduler entry
//!   added without a start starts now, its date in the version's form; scripts and
//!   scheduler entries get the full default policy and the API user as owner; `run`
//!   only counts. `/log` keeps 1,000 lines with the time as `HH:MM:SS`; a hotspot login
//!   writes `<user> (<address>): logged in` under `hotspot,account,info,debug`, and
//!   `/log/info =message=` (as `:log info`) writes under `script,info`. A login whose
//!   profile has `add-mac-cookie` adds a cookie for the MAC. Simple queues without a
//!   name become `queue1`, `queue2`, ….
//! - **Byte suffixes** on `limit-bytes-*`: `k`/`M`/`G` are powers of 1024.
//! - **`/cancel` of a tag that is not running**: just `!done` for the `/cancel`.
//! - **Hotspot login refusals** (`/ip/hotspot/active/login`, [`SimHandle::login_client`]):
//!   the hotspot `errors.txt` texts — `invalid username or password`, `user <u> has
//!   reached uptime limit`, `user <u> has reached traffic limit`, `no more sessions are
//!   allowed for user <u>` (`shared-users` of the profile) — and `user <u> is disabled`.
//!   Disabling a user does not end its running session; removing the user does.
//! - **Limits**: checked after every tick and traffic change; the session ends at once
//!   and the user's uptime stops exactly at `limit-uptime` (bytes may overshoot by one
//!   tick, as a real link's would).
//! - **REST**: PUT answers 201 with the created object, DELETE 204 with no body, other
//!   successes 200; singletons are bare objects; `.proplist` returns the listed
//!   properties only, `.id` included only when listed, for GET and POST `print` alike
//!   (DOC-REST's own `?.proplist=address,disabled` example; LAB723 saw `.id` always,
//!   the documentation wins); values whose bytes are not UTF-8 show U+FFFD in JSON
//!   (undocumented; the binary API keeps the bytes); served on HTTPS, and on plain HTTP (`www`) only when asked and the version
//!   is 7.9+; a v6 simulator has no REST listener.
//! - **Version strings**: `<number> (stable)` for v6 and v7 (`(testing)` for beta/rc).
//! - **Faults** count commands per connection after login (the login is never faulted);
//!   a dropped command *was* carried out (the outcome is unknown to the client); REST has
//!   no `!fatal`, so a fatal fault there just closes the connection.
#![warn(unreachable_pub)]

mod api_server;
mod clients;
mod commands;
pub mod control;
pub mod faults;
mod handle;
mod menus;
mod outcome;
mod print;
mod query;
mod records;
mod rest_api;
mod rest_server;
mod session;
mod state;
mod tls;
mod tool_menus;
mod values;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

pub use clients::LoginRefused;
pub use control::Control;
pub use faults::FaultOptions;
pub use handle::SimHandle;

use state::{SimVersion, State};

/// Why the simulated router could not start or do what a test asked.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A listener could not bind.
    #[error("simulated router: cannot listen for {service} on {addr}: {reason}; choose another port or use 0")]
    Bind {
        /// `api`, `api-ssl` or `rest`.
        service: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        reason: String,
    },
    /// The version is not a RouterOS version.
    #[error(
        "simulated router: {0:?} is not a RouterOS version; use e.g. 6.42, 6.49, 7.12 or 7.18"
    )]
    Version(String),
    /// The certificate could not be made.
    #[error("simulated router: cannot create its TLS certificate: {0}")]
    Tls(String),
    /// No such hotspot user.
    #[error("simulated router has no hotspot user {0:?}; add it first")]
    NoSuchUser(String),
    /// The hotspot refused a simulated client's login.
    #[error("simulated hotspot refused the login: {0}")]
    LoginRefused(#[from] LoginRefused),
}

/// The simulated router's API password. Kept out of `Debug` output like every
/// password in this project, although it only guards a simulator.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SimPassword(String);

impl SimPassword {
    /// Wraps a password.
    pub fn new(text: impl Into<String>) -> SimPassword {
        SimPassword(text.into())
    }

    /// The password itself, for the login check.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SimPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// How to run the simulated router. `Default` is a fresh 7.18 router on 127.0.0.1,
/// every listener on port 0, TLS and REST on, no latency, no faults.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// RouterOS version to behave as: `6.42`, `6.49`, `7.12`, `7.18`, …
    pub version: String,
    /// Address to listen on.
    pub bind: IpAddr,
    /// Port of `api` (0 = any free port).
    pub api_port: u16,
    /// Port of `api-ssl` (0 = any free port).
    pub api_ssl_port: u16,
    /// Port of REST over HTTPS (0 = any free port).
    pub rest_port: u16,
    /// Also serve REST over plain HTTP (`www`, RouterOS 7.9+), on this port (0 = any).
    /// Off by default; the line it prints is `www=HOST:PORT`.
    pub www_port: Option<u16>,
    /// Serve `api-ssl`.
    pub tls: bool,
    /// Serve REST: `None` = when the version has it (v7).
    pub rest: Option<bool>,
    /// One-way link delay added to every reply (commands in flight overlap).
    pub latency: Duration,
    /// CPU time the router spends on each API command. Commands are served one at a
    /// time in arrival order, as a router's CPU would, so N commands in flight take
    /// N × this; zero (the default) serves them at once.
    pub service_time: Duration,
    /// Injected faults.
    pub faults: FaultOptions,
    /// API/REST user (a new router: `admin`).
    pub username: String,
    /// API/REST password (a new router: empty).
    pub password: SimPassword,
    /// How often sessions' counters grow; `None` = only when a test calls
    /// [`SimHandle::advance`].
    pub tick: Option<Duration>,
    /// Bytes per second each session downloads.
    pub rate_down: u64,
    /// Bytes per second each session uploads.
    pub rate_up: u64,
    /// Simulated customers that log in with fresh users on each tick (0 = none).
    pub auto_clients: usize,
    /// How long REST lets a streaming command run before `Session closed` (60 s).
    pub rest_session_limit: Duration,
}

impl Default for SimOptions {
    fn default() -> SimOptions {
        SimOptions {
            version: "7.18".into(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            api_port: 0,
            api_ssl_port: 0,
            rest_port: 0,
            www_port: None,
            tls: true,
            rest: None,
            latency: Duration::ZERO,
            service_time: Duration::ZERO,
            faults: FaultOptions::default(),
            username: "admin".into(),
            password: SimPassword::new(""),
            tick: Some(Duration::from_secs(1)),
            rate_down: 125_000,
            rate_up: 12_500,
            auto_clients: 0,
            rest_session_limit: Duration::from_secs(60),
        }
    }
}

impl SimOptions {
    /// Defaults for a given version.
    pub fn version(version: &str) -> SimOptions {
        SimOptions {
            version: version.into(),
            ..SimOptions::default()
        }
    }
}

/// State shared by the listeners, the tick and the handle.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) faults: Mutex<FaultOptions>,
    pub(crate) latency: Mutex<Duration>,
    pub(crate) rest_session_limit: Mutex<Duration>,
    /// Per-command service time, and when the simulated CPU is next free.
    pub(crate) cpu: Mutex<(Duration, Instant)>,
    /// Whether the API and REST services take connections now.
    pub(crate) gate: Mutex<faults::Gate>,
    /// Cancelled to close every open connection (then replaced by a fresh token).
    pub(crate) cut: Mutex<CancellationToken>,
}

/// A token cancelled when `a` or `b` is.
pub(crate) fn either(a: &CancellationToken, b: &CancellationToken) -> CancellationToken {
    let both = a.child_token();
    let (b, done) = (b.clone(), both.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = b.cancelled() => done.cancel(),
            _ = done.cancelled() => {}
        }
    });
    both
}

/// Locks a mutex; a panic elsewhere while holding it leaves usable data for a simulator.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts simulated routers.
pub struct SimRouter;

async fn bind(
    service: &'static str,
    ip: IpAddr,
    port: u16,
) -> Result<(TcpListener, SocketAddr), SimError> {
    let addr = SocketAddr::new(ip, port);
    let err = |e: std::io::Error| SimError::Bind {
        service,
        addr,
        reason: e.to_string(),
    };
    let listener = TcpListener::bind(addr).await.map_err(err)?;
    let local = listener.local_addr().map_err(err)?;
    Ok((listener, local))
}

impl SimRouter {
    /// Binds the listeners and starts serving. Needs a tokio runtime.
    // Long on purpose: binds each listener the options ask for, in order; each step is a few lines.
    pub async fn start(options: SimOptions) -> Result<SimHandle, SimError> {
        let version = SimVersion::parse(&options.version)
            .ok_or_else(|| SimError::Version(options.version.clone()))?;
        let rest = options.rest.unwrap_or(version.has_rest()) && version.has_rest();
        let state = State::new(
            version.clone(),
            options.username.clone(),
            options.password.expose().to_string(),
            Instant::now(),
        );
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            faults: Mutex::new(options.faults.clone()),
            latency: Mutex::new(options.latency),
            rest_session_limit: Mutex::new(options.rest_session_limit),
            cpu: Mutex::new((options.service_time, Instant::now())),
            gate: Mutex::new(faults::Gate::default()),
            cut: Mutex::new(CancellationToken::new()),
        });
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        let (api, api_addr) = bind("api", options.bind, options.api_port).await?;
        tasks.push(tokio::spawn(api_server::serve(
            api,
            None,
            shared.clone(),
            stop.clone(),
        )));
        let cert = if options.tls || rest {
            Some(tls::generate(vec![
                "localhost".into(),
                options.bind.to_string(),
            ])?)
        } else {
            None
        };
        let acceptor = cert.as_ref().map(|c| TlsAcceptor::from(c.config.clone()));
        let mut api_ssl_addr = None;
        if let (true, Some(acceptor)) = (options.tls, acceptor.clone()) {
            let (l, addr) = bind("api-ssl", options.bind, options.api_ssl_port).await?;
            api_ssl_addr = Some(addr);
            tasks.push(tokio::spawn(api_server::serve(
                l,
                Some(acceptor),
                shared.clone(),
                stop.clone(),
            )));
        }
        let mut rest_addr = None;
        if let (true, Some(acceptor)) = (rest, acceptor) {
            let (l, addr) = bind("rest", options.bind, options.rest_port).await?;
            rest_addr = Some(addr);
            tasks.push(tokio::spawn(rest_server::serve(
                l,
                Some(acceptor),
                shared.clone(),
                stop.clone(),
            )));
        }
        let mut www_addr = None;
        let www_ok = rest && (version.version.major, version.version.minor) >= (7, 9);
        if let (true, Some(port)) = (www_ok, options.www_port) {
            let (l, addr) = bind("www", options.bind, port).await?;
            www_addr = Some(addr);
            tasks.push(tokio::spawn(rest_server::serve(
                l,
                None,
                shared.clone(),
                stop.clone(),
            )));
        }
        if let Some(every) = options.tick {
            tasks.push(tokio::spawn(run_ticks(
                shared.clone(),
                options.clone(),
                every,
                stop.clone(),
            )));
        }
        Ok(SimHandle {
            api_addr,
            api_ssl_addr,
            rest_addr,
            www_addr,
            fingerprint: cert.map(|c| c.fingerprint),
            version: version.version,
            version_text: version.text,
            shared,
            stop,
            tasks,
            rates: (options.rate_down, options.rate_up),
            login: (options.username.clone(), options.password.clone()),
        })
    }
}

async fn run_ticks(
    shared: Arc<Shared>,
    options: SimOptions,
    every: Duration,
    stop: CancellationToken,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = interval.tick() => {}
        }
        let mut state = lock(&shared.state);
        let (down, up) = per_tick(every, options.rate_down, options.rate_up);
        clients::tick(&mut state, every, down, up);
        if options.auto_clients > 0 {
            clients::auto_login(&mut state, options.auto_clients);
        }
    }
}

fn per_tick(dt: Duration, down: u64, up: u64) -> (u64, u64) {
    let scale = |rate: u64| (rate as u128 * dt.as_micros() / 1_000_000) as u64;
    (scale(down), scale(up))
}

#[cfg(test)]
mod tls_tests;
#[cfg(test)]
mod wire_tests;
