//! An in-memory fake of the router's hotspot menus for tests and benchmarks, with
//! fault injection: fail the Nth call of an operation, time out *after* applying an
//! add (the case that makes duplicates), a router that is down, per-call latency.
//! It can persist its users to a JSON file so a router "outlives" a killed agent.
//! Not the simulated router (that speaks the wire protocol); this is the seam fake.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod peer;

use crate::{
    ActiveSession, HotspotApi, HotspotHost, HotspotUser, NewUser, RouterError, SystemClock,
    SystemResource, UserProfile, UserQuery, UserUpdate, Word,
};

/// Operations faults can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Users,
    AddUser,
    UpdateUser,
    RemoveUser,
    Profiles,
    AddProfile,
    SetProfile,
    Active,
    Disconnect,
    Other,
    /// [`HotspotApi::connect_now`].
    Connect,
}

/// What goes wrong.
#[derive(Debug, Clone)]
pub enum Fault {
    /// The call fails with this error and changes nothing.
    FailBefore(RouterError),
    /// The call is carried out, then the reply is lost (timeout).
    TimeoutAfterApply,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FakeUser {
    id: String,
    name: String,
    password: String,
    profile: String,
    server: String,
    comment: Option<String>,
    disabled: bool,
    limit_uptime_s: Option<u64>,
    limit_bytes_total: Option<u64>,
    uptime_s: u64,
    bytes_in: u64,
    bytes_out: u64,
}

impl FakeUser {
    fn to_user(&self) -> HotspotUser {
        HotspotUser {
            id: self.id.clone(),
            name: Word::from(&self.name),
            password: Some(self.password.clone()),
            profile: self.profile.clone(),
            server: self.server.clone(),
            comment: self.comment.as_ref().map(Word::from),
            disabled: self.disabled,
            limit_uptime: self.limit_uptime_s.map(Duration::from_secs),
            limit_bytes_total: self.limit_bytes_total,
            limit_bytes_in: None,
            limit_bytes_out: None,
            uptime: Duration::from_secs(self.uptime_s),
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            default: false,
            dynamic: false,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Persisted {
    next_id: u64,
    users: BTreeMap<String, FakeUser>,
    profiles: BTreeMap<String, UserProfileData>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct UserProfileData {
    id: String,
    name: String,
    rate_limit: Option<String>,
    shared_users: Option<u32>,
}

#[derive(Debug, Default)]
struct State {
    data: Persisted,
    /// user name -> id, for the duplicate check.
    by_name: HashMap<String, String>,
    active: Vec<ActiveSession>,
    next_session: u64,
    calls: HashMap<Op, u64>,
    faults: Vec<(Op, u64, Fault)>,
    down: bool,
    delay: Duration,
    /// Calls inside their delay now, and the most there have been at once.
    in_flight: usize,
    max_in_flight: usize,
    file: Option<PathBuf>,
    /// What `/system/clock` prints and the `/system/resource` uptime.
    clock: SystemClock,
    uptime: Duration,
}

/// The fake router; clones share state (like the real handle).
#[derive(Clone)]
pub struct FakeRouter {
    name: String,
    state: Arc<Mutex<State>>,
}

impl FakeRouter {
    /// An empty router with the `default` profile.
    pub fn new() -> FakeRouter {
        let mut state = State::default();
        state.data.next_id = 1;
        state.data.profiles.insert(
            "default".into(),
            UserProfileData {
                id: "*0".into(),
                name: "default".into(),
                ..Default::default()
            },
        );
        FakeRouter {
            name: "fake".into(),
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// A router whose users and profiles live in a JSON file, written after every change
    /// (atomically, by rename), so it keeps them across processes.
    pub fn persistent(file: &Path) -> std::io::Result<FakeRouter> {
        let r = FakeRouter::new();
        {
            let mut s = r.lock();
            if file.exists() {
                let text = std::fs::read(file)?;
                s.data = serde_json::from_slice(&text).map_err(std::io::Error::other)?;
                s.by_name = s
                    .data
                    .users
                    .values()
                    .map(|u| (u.name.clone(), u.id.clone()))
                    .collect();
            }
            s.file = Some(file.to_path_buf());
        }
        Ok(r)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Latency added to every call.
    pub fn set_delay(&self, d: Duration) {
        self.lock().delay = d;
    }

    /// The most calls that were inside their delay (`set_delay`) at the same time: how
    /// many commands a client kept in flight, without timing anything.
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    /// What the router's clock prints and how long it has been up.
    pub fn set_time(&self, clock: SystemClock, uptime: Duration) {
        let mut s = self.lock();
        s.clock = clock;
        s.uptime = uptime;
    }

    /// Whether every call fails as unreachable.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// The `nth` next call of `op` (1 = the next one) meets `fault`.
    pub fn inject(&self, op: Op, nth: u64, fault: Fault) {
        let mut s = self.lock();
        let base = s.calls.get(&op).copied().unwrap_or(0);
        s.faults.push((op, base + nth, fault));
    }

    /// Calls of an operation so far.
    pub fn calls(&self, op: Op) -> u64 {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }

    /// A user someone else made (no agent comment).
    pub fn add_foreign_user(&self, name: &str, comment: Option<&str>) -> String {
        let mut s = self.lock();
        let u = NewUser {
            name: name.into(),
            password: name.into(),
            profile: "default".into(),
            comment: comment.map(str::to_string),
            ..NewUser::default()
        };
        s.apply_add(&u)
    }

    /// All users, as the router would print them.
    pub fn all_users(&self) -> Vec<HotspotUser> {
        self.lock()
            .data
            .users
            .values()
            .map(FakeUser::to_user)
            .collect()
    }

    /// Logs a client in as `user`; returns the session id.
    pub fn log_in(&self, user: &str, address: &str) -> Option<String> {
        let mut s = self.lock();
        let u = s.by_name.get(user).and_then(|id| s.data.users.get(id))?;
        if u.disabled {
            return None;
        }
        s.next_session += 1;
        let id = format!("*A{}", s.next_session);
        s.active.push(ActiveSession {
            id: id.clone(),
            server: "hotspot1".into(),
            user: user.into(),
            address: address.into(),
            mac_address: "02:00:00:00:00:01".into(),
            login_by: "http-chap".into(),
            ..ActiveSession::default()
        });
        Some(id)
    }

    /// Sets a session's counters (and its idle time).
    pub fn set_session(
        &self,
        session_id: &str,
        bytes_in: u64,
        bytes_out: u64,
        uptime: Duration,
        idle: Duration,
    ) {
        let mut s = self.lock();
        if let Some(a) = s.active.iter_mut().find(|a| a.id == session_id) {
            a.bytes_in = bytes_in;
            a.bytes_out = bytes_out;
            a.uptime = uptime;
            a.idle_time = idle;
        }
    }

    /// Sets a user's cumulative counters.
    pub fn set_user_counters(&self, name: &str, bytes_in: u64, bytes_out: u64, uptime: Duration) {
        let mut s = self.lock();
        if let Some(id) = s.by_name.get(name).cloned() {
            if let Some(u) = s.data.users.get_mut(&id) {
                u.bytes_in = bytes_in;
                u.bytes_out = bytes_out;
                u.uptime_s = uptime.as_secs();
            }
        }
    }

    /// Active sessions now.
    pub fn sessions(&self) -> Vec<ActiveSession> {
        self.lock().active.clone()
    }

    /// Removes a user behind the agent's back (for reconcile tests).
    pub fn delete_user_by_name(&self, name: &str) {
        let mut s = self.lock();
        if let Some(id) = s.by_name.remove(name) {
            s.data.users.remove(&id);
            s.save();
        }
    }

    /// Removes a profile behind the agent's back (by hand in WinBox).
    pub fn delete_profile_by_name(&self, name: &str) {
        let mut s = self.lock();
        if s.data.profiles.remove(name).is_some() {
            s.save();
        }
    }

    /// Changes a user's limits behind the agent's back.
    pub fn tamper_limit_bytes(&self, name: &str, limit: Option<u64>) {
        let mut s = self.lock();
        if let Some(id) = s.by_name.get(name).cloned() {
            if let Some(u) = s.data.users.get_mut(&id) {
                u.limit_bytes_total = limit;
            }
        }
    }

    async fn enter(&self, op: Op) -> Result<Option<Fault>, RouterError> {
        let (delay, fault, down) = {
            let mut s = self.lock();
            let n = s.calls.entry(op).or_insert(0);
            *n += 1;
            let n = *n;
            let fault = s
                .faults
                .iter()
                .position(|(o, at, _)| *o == op && *at == n)
                .map(|i| s.faults.remove(i).2);
            (s.delay, fault, s.down)
        };
        if !delay.is_zero() {
            {
                let mut s = self.lock();
                s.in_flight += 1;
                s.max_in_flight = s.max_in_flight.max(s.in_flight);
            }
            tokio::time::sleep(delay).await;
            self.lock().in_flight -= 1;
        }
        if down {
            return Err(RouterError::Unreachable {
                router: self.name.clone(),
                addr: "fake:8728".into(),
                reason: "connection refused".into(),
            });
        }
        match fault {
            Some(Fault::FailBefore(e)) => Err(e),
            other => Ok(other),
        }
    }

    fn timeout(&self, command: &str) -> RouterError {
        RouterError::Timeout {
            router: self.name.clone(),
            command: command.into(),
            after: Duration::from_secs(5),
        }
    }

    fn trap(&self, command: &str, message: &str) -> RouterError {
        RouterError::Trap {
            router: self.name.clone(),
            command: command.into(),
            message: message.into(),
            category: None,
            status: None,
        }
    }
}

impl Default for FakeRouter {
    fn default() -> Self {
        FakeRouter::new()
    }
}

impl State {
    fn apply_add(&mut self, u: &NewUser) -> String {
        let id = format!("*{:X}", self.data.next_id);
        self.data.next_id += 1;
        self.by_name.insert(u.name.clone(), id.clone());
        self.data.users.insert(
            id.clone(),
            FakeUser {
                id: id.clone(),
                name: u.name.clone(),
                password: u.password.clone(),
                profile: u.profile.clone(),
                server: u.server.clone().unwrap_or_else(|| "all".into()),
                comment: u.comment.clone(),
                disabled: u.disabled,
                limit_uptime_s: u.limit_uptime.map(|d| d.as_secs()),
                limit_bytes_total: u.limit_bytes_total,
                uptime_s: 0,
                bytes_in: 0,
                bytes_out: 0,
            },
        );
        self.save();
        id
    }

    fn save(&self) {
        if let Some(file) = &self.file {
            let tmp = file.with_extension("tmp");
            // A test helper: a failed write shows up as a failed assertion later.
            if let Ok(bytes) = serde_json::to_vec(&self.data) {
                if std::fs::write(&tmp, bytes).is_ok() {
                    let _ = std::fs::rename(&tmp, file);
                }
            }
        }
    }
}

impl HotspotApi for FakeRouter {
    async fn identity(&self) -> Result<String, RouterError> {
        self.enter(Op::Other).await?;
        Ok("FakeRouter".into())
    }

    async fn resource(&self) -> Result<SystemResource, RouterError> {
        self.enter(Op::Other).await?;
        Ok(SystemResource {
            version: "7.18 (stable)".into(),
            board_name: "fake".into(),
            uptime: self.lock().uptime,
            ..SystemResource::default()
        })
    }

    async fn clock(&self) -> Result<SystemClock, RouterError> {
        self.enter(Op::Other).await?;
        Ok(self.lock().clock.clone())
    }

    async fn users(&self, q: &UserQuery) -> Result<Vec<HotspotUser>, RouterError> {
        let fault = self.enter(Op::Users).await?;
        let s = self.lock();
        let found: Vec<HotspotUser> = match &q.name {
            // The fake keeps names as text: bytes that are not UTF-8 match nobody here.
            Some(n) => n
                .text()
                .and_then(|n| s.by_name.get(n))
                .and_then(|id| s.data.users.get(id))
                .map(FakeUser::to_user)
                .into_iter()
                .collect(),
            None => s.data.users.values().map(FakeUser::to_user).collect(),
        };
        let found = found
            .into_iter()
            .filter(|u| q.profile.as_ref().is_none_or(|p| &u.profile == p))
            .filter(|u| {
                q.comment_prefix
                    .as_ref()
                    .is_none_or(|p| u.comment.as_ref().is_some_and(|c| c.starts_with(p)))
            })
            .collect();
        drop(s);
        match fault {
            Some(Fault::TimeoutAfterApply) => Err(self.timeout("/ip/hotspot/user/print")),
            _ => Ok(found),
        }
    }

    async fn add_user(&self, user: &NewUser) -> Result<String, RouterError> {
        let fault = self.enter(Op::AddUser).await?;
        let mut s = self.lock();
        if s.by_name.contains_key(&user.name) {
            drop(s);
            return Err(self.trap(
                "/ip/hotspot/user/add",
                "failure: already have user with this name for this server",
            ));
        }
        if !s.data.profiles.contains_key(&user.profile) {
            drop(s);
            return Err(self.trap(
                "/ip/hotspot/user/add",
                "input does not match any value of profile",
            ));
        }
        let id = s.apply_add(user);
        drop(s);
        match fault {
            Some(Fault::TimeoutAfterApply) => Err(self.timeout("/ip/hotspot/user/add")),
            _ => Ok(id),
        }
    }

    async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<(), RouterError> {
        let fault = self.enter(Op::UpdateUser).await?;
        let mut s = self.lock();
        let Some(u) = s.data.users.get_mut(id) else {
            drop(s);
            return Err(self.trap("/ip/hotspot/user/set", "no such item"));
        };
        if let Some(p) = &update.profile {
            u.profile = p.clone();
        }
        if let Some(l) = update.limit_uptime {
            u.limit_uptime_s = l.map(|d| d.as_secs());
        }
        if let Some(l) = update.limit_bytes_total {
            u.limit_bytes_total = l;
        }
        if let Some(c) = &update.comment {
            u.comment = Some(c.clone());
        }
        if let Some(d) = update.disabled {
            u.disabled = d;
        }
        s.save();
        drop(s);
        match fault {
            Some(Fault::TimeoutAfterApply) => Err(self.timeout("/ip/hotspot/user/set")),
            _ => Ok(()),
        }
    }

    async fn remove_user(&self, id: &str) -> Result<(), RouterError> {
        let fault = self.enter(Op::RemoveUser).await?;
        let mut s = self.lock();
        let Some(u) = s.data.users.remove(id) else {
            drop(s);
            return Err(self.trap("/ip/hotspot/user/remove", "no such item"));
        };
        s.by_name.remove(&u.name);
        s.save();
        drop(s);
        match fault {
            Some(Fault::TimeoutAfterApply) => Err(self.timeout("/ip/hotspot/user/remove")),
            _ => Ok(()),
        }
    }

    async fn reset_user_counters(&self, id: &str) -> Result<(), RouterError> {
        self.enter(Op::Other).await?;
        let mut s = self.lock();
        if let Some(u) = s.data.users.get_mut(id) {
            u.bytes_in = 0;
            u.bytes_out = 0;
            u.uptime_s = 0;
        }
        Ok(())
    }

    async fn profiles(&self) -> Result<Vec<UserProfile>, RouterError> {
        self.enter(Op::Profiles).await?;
        Ok(self
            .lock()
            .data
            .profiles
            .values()
            .map(|p| UserProfile {
                id: p.id.clone(),
                name: p.name.clone(),
                rate_limit: p.rate_limit.clone(),
                shared_users: p.shared_users,
                ..UserProfile::default()
            })
            .collect())
    }

    async fn add_profile(&self, profile: &UserProfile) -> Result<String, RouterError> {
        self.enter(Op::AddProfile).await?;
        let mut s = self.lock();
        if s.data.profiles.contains_key(&profile.name) {
            drop(s);
            return Err(self.trap(
                "/ip/hotspot/user/profile/add",
                "failure: already have such name",
            ));
        }
        let id = format!("*P{}", s.data.profiles.len());
        s.data.profiles.insert(
            profile.name.clone(),
            UserProfileData {
                id: id.clone(),
                name: profile.name.clone(),
                rate_limit: profile.rate_limit.clone(),
                shared_users: profile.shared_users,
            },
        );
        s.save();
        Ok(id)
    }

    async fn set_profile(&self, id: &str, profile: &UserProfile) -> Result<(), RouterError> {
        self.enter(Op::SetProfile).await?;
        let mut s = self.lock();
        let Some(p) = s.data.profiles.values_mut().find(|p| p.id == id) else {
            drop(s);
            return Err(self.trap("/ip/hotspot/user/profile/set", "no such item"));
        };
        p.rate_limit = profile.rate_limit.clone();
        p.shared_users = profile.shared_users;
        s.save();
        Ok(())
    }

    async fn remove_profile(&self, id: &str) -> Result<(), RouterError> {
        self.enter(Op::Other).await?;
        let mut s = self.lock();
        s.data.profiles.retain(|_, p| p.id != id);
        s.save();
        Ok(())
    }

    async fn active(&self, user: Option<&Word>) -> Result<Vec<ActiveSession>, RouterError> {
        self.enter(Op::Active).await?;
        let s = self.lock();
        Ok(s.active
            .iter()
            .filter(|a| user.is_none_or(|u| a.user == *u))
            .cloned()
            .collect())
    }

    async fn disconnect(&self, active_id: &str) -> Result<(), RouterError> {
        self.enter(Op::Disconnect).await?;
        let mut s = self.lock();
        let Some(pos) = s.active.iter().position(|a| a.id == active_id) else {
            drop(s);
            return Err(self.trap("/ip/hotspot/active/remove", "no such item"));
        };
        // Like RouterOS, a finished session's counters add to the user's.
        let a = s.active.remove(pos);
        if let Some(id) = a.user.text().and_then(|n| s.by_name.get(n)).cloned() {
            if let Some(u) = s.data.users.get_mut(&id) {
                u.bytes_in += a.bytes_in;
                u.bytes_out += a.bytes_out;
                u.uptime_s += a.uptime.as_secs();
            }
        }
        Ok(())
    }

    async fn hosts(&self) -> Result<Vec<HotspotHost>, RouterError> {
        self.enter(Op::Other).await?;
        Ok(Vec::new())
    }

    async fn connect_now(&self) -> Result<(), RouterError> {
        self.enter(Op::Connect).await.map(drop)
    }
}
