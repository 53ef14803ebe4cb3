//! The handle of a running simulated router: where it listens, and what tests and
//! `demo` use to look at and change its state (users, sessions, traffic, faults).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::commands::select;
use super::menus::Menu;
use super::query::Query;
use super::session::{outcome_replies, Session, Step};
use super::state::{format_id, parse_id};
use super::{clients, lock, per_tick, FaultOptions, Shared, SimError};
use routeros_proto::{self as proto, Command, Reply};
use routeros_proto::{Record, RouterVersion};

/// A running simulated router. Dropping it stops the listeners.
pub struct SimHandle {
    /// Binary API address.
    pub api_addr: SocketAddr,
    /// Binary API over TLS, if served.
    pub api_ssl_addr: Option<SocketAddr>,
    /// REST over HTTPS, if served (v7 only).
    pub rest_addr: Option<SocketAddr>,
    /// REST over plain HTTP, if asked for ([`super::SimOptions::www_port`], 7.9+).
    pub www_addr: Option<SocketAddr>,
    /// SHA-256 fingerprint of the TLS certificate, `AB:CD:…`.
    pub fingerprint: Option<String>,
    /// Version simulated.
    pub version: RouterVersion,
    /// Version as `/system/resource` prints it, e.g. `7.18 (stable)`.
    pub version_text: String,
    pub(super) shared: Arc<Shared>,
    pub(super) stop: CancellationToken,
    pub(super) tasks: Vec<JoinHandle<()>>,
    pub(super) rates: (u64, u64),
    pub(super) login: (String, crate::SimPassword),
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("api_addr", &self.api_addr)
            .field("api_ssl_addr", &self.api_ssl_addr)
            .field("rest_addr", &self.rest_addr)
            .field("version", &self.version_text)
            .finish()
    }
}

impl SimHandle {
    /// The lines `hotspot-agent sim` prints: `api=HOST:PORT`, `api-ssl=…`, `rest=…`,
    /// `fingerprint=…`, `version=…`.
    pub fn listener_lines(&self) -> Vec<String> {
        let mut lines = vec![format!("api={}", self.api_addr)];
        if let Some(a) = self.api_ssl_addr {
            lines.push(format!("api-ssl={a}"));
        }
        if let Some(a) = self.rest_addr {
            lines.push(format!("rest={a}"));
        }
        if let Some(a) = self.www_addr {
            lines.push(format!("www={a}"));
        }
        if let Some(f) = &self.fingerprint {
            lines.push(format!("fingerprint={f}"));
        }
        lines.push(format!("version={}", self.version_text));
        lines
    }

    /// The API user and password this simulator accepts.
    pub fn login(&self) -> (&str, &str) {
        (&self.login.0, self.login.1.expose())
    }

    fn print(&self, menu: Menu) -> Vec<Record> {
        let state = lock(&self.shared.state);
        select(&state, menu, &Query::default(), Instant::now())
    }

    /// `/ip/hotspot/user print`, as records.
    pub fn users(&self) -> Vec<Record> {
        self.print(Menu::User)
    }

    /// One user as printed, by name.
    pub fn user(&self, name: impl AsRef<[u8]>) -> Option<Record> {
        let name = name.as_ref();
        self.users()
            .into_iter()
            .find(|u| u.get("name").is_some_and(|n| n.as_bytes() == name))
    }

    /// `/ip/hotspot/user/profile print`.
    pub fn profiles(&self) -> Vec<Record> {
        self.print(Menu::Profile)
    }

    /// `/ip/hotspot/active print`.
    pub fn active(&self) -> Vec<Record> {
        self.print(Menu::Active)
    }

    /// `/ip/hotspot/host print`.
    pub fn hosts(&self) -> Vec<Record> {
        self.print(Menu::Host)
    }

    /// A customer's device logs in through the hotspot page; returns the session's `.id`.
    pub fn login_client(
        &self,
        user: impl AsRef<[u8]>,
        password: impl AsRef<[u8]>,
        mac: &str,
    ) -> Result<String, SimError> {
        let mut state = lock(&self.shared.state);
        let (user, password) = (user.as_ref(), password.as_ref());
        let id = clients::login(&mut state, user, password, mac, None, "http-chap")?;
        clients::logged_in(&mut state, id, Instant::now());
        Ok(format_id(id))
    }

    /// Ends a session as if the client logged out; `false` if there is no such session.
    pub fn logout_client(&self, active_id: &str) -> bool {
        let mut state = lock(&self.shared.state);
        parse_id(active_id).is_some_and(|id| clients::logout(&mut state, id))
    }

    /// Adds downloaded bytes to a user (its sessions, or the user alone), enforcing limits.
    pub fn add_traffic(&self, user: &str, bytes: u64) -> Result<(), SimError> {
        let mut state = lock(&self.shared.state);
        if clients::add_traffic(&mut state, user.as_bytes(), 0, bytes) {
            Ok(())
        } else {
            Err(SimError::NoSuchUser(user.into()))
        }
    }

    /// Lets `dt` pass for every session (a tick by hand; with `tick: None` the only one).
    pub fn advance(&self, dt: Duration) {
        let (down, up) = per_tick(dt, self.rates.0, self.rates.1);
        let mut state = lock(&self.shared.state);
        clients::tick(&mut state, dt, down, up);
    }

    /// Replaces the injected faults (affects commands from now on).
    pub fn set_fault(&self, faults: FaultOptions) {
        *lock(&self.shared.faults) = faults;
    }

    /// The injected faults.
    pub fn faults(&self) -> FaultOptions {
        lock(&self.shared.faults).clone()
    }

    /// Changes the link latency for replies from now on.
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.shared.latency) = latency;
    }

    /// Closes every open API and REST connection (clients see the peer hang up).
    pub fn cut_connections(&self) {
        let old = std::mem::replace(&mut *lock(&self.shared.cut), CancellationToken::new());
        old.cancel();
    }

    /// `/ip service disable|enable`: while disabled, open connections are closed
    /// and new ones closed as soon as they are made.
    pub fn set_api_enabled(&self, enabled: bool) {
        lock(&self.shared.gate).disabled = !enabled;
        if !enabled {
            self.cut_connections();
        }
    }

    /// Restarts the router: connections close, nothing answers for `boot`, sessions
    /// end; without `keep_users` the users are lost as on a reset (see the crate's
    /// choices).
    pub fn restart(&self, boot: Duration, keep_users: bool) {
        let now = Instant::now();
        lock(&self.shared.gate).booting_until = Some(now + boot);
        lock(&self.shared.state).reboot(now + boot, keep_users);
        self.cut_connections();
    }

    /// Changes the API user's password (`/user set admin password=…`). Connections
    /// already logged in stay logged in, as on RouterOS.
    pub fn set_password(&self, password: &str) {
        lock(&self.shared.state).login_password = password.to_string();
    }

    /// Runs one command as a logged-in API client would and returns the replies
    /// (streams return only their first replies).
    pub fn execute(&self, cmd: &Command) -> Vec<Reply> {
        let mut state = lock(&self.shared.state);
        let mut session = Session::default();
        let (user, password) = (state.login_user.clone(), state.login_password.clone());
        let login = Command::new("/login")
            .attr("name", user)
            .attr("password", password);
        let now = Instant::now();
        if state.version.plain_login() {
            session.handle(login, &mut state, now, [0; 16]);
        } else {
            session.handle(Command::new("/login"), &mut state, now, [0; 16]);
            let response =
                proto::challenge_response(&state.login_password, &hex::encode([0u8; 16]))
                    .unwrap_or_default();
            let login = Command::new("/login")
                .attr("name", state.login_user.clone())
                .attr("response", response);
            session.handle(login, &mut state, now, [0; 16]);
        }
        match session.handle(cmd.clone(), &mut state, now, [0; 16]) {
            Step::Reply(r) => r,
            Step::Stream { head, .. } => head,
            Step::Fatal(reason) => {
                let mut r = Reply::new(proto::ReplyKind::Fatal);
                r.reason = Some(reason);
                vec![r]
            }
            Step::Cancel { own_tag, .. } => outcome_replies(
                super::outcome::Outcome::Traps(Vec::new()),
                &state.version,
                &own_tag,
            ),
        }
    }

    /// Stops every listener and connection and waits for the listeners to close.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
