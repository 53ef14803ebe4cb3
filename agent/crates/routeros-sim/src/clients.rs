//! Simulated hotspot clients: logging in (as the hotspot login page would), traffic
//! and uptime that grow on a tick, and the limits RouterOS enforces on users
//! (`limit-uptime`, `limit-bytes-*`): the session ends and the user cannot log in again.

use std::time::{Duration, Instant};

use super::menus::Menu;
use super::state::{Counters, Row, State};
use super::tool_menus;
use routeros_proto::{Record, Word};

/// Why a hotspot login was refused. The texts are those of the hotspot's
/// `errors.txt` (RouterOS hotspot HTML directory), with `$(username)` filled in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginRefused {
    /// Unknown user or wrong password.
    #[error("invalid username or password")]
    Invalid,
    /// The user is disabled.
    #[error("user {0} is disabled")]
    Disabled(String),
    /// `limit-uptime` used up.
    #[error("user {0} has reached uptime limit")]
    Uptime(String),
    /// A byte limit used up.
    #[error("user {0} has reached traffic limit")]
    Traffic(String),
    /// The profile's `shared-users` sessions are all in use.
    #[error("no more sessions are allowed for user {0}")]
    Sessions(String),
}

fn limit_secs(row: &Row) -> Option<Duration> {
    row.fields
        .get("limit-uptime")
        .and_then(Word::text)
        .and_then(|v| routeros_proto::read_duration(v).ok())
        .filter(|d| !d.is_zero())
}

fn limit_bytes(row: &Row, key: &str) -> Option<u64> {
    row.fields
        .get(key)
        .and_then(Word::text)
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
}

/// Which limit, if any, the user has used up.
pub(crate) fn limit_reached(user: &Row) -> Option<LoginRefused> {
    let name = user.get("name").to_string();
    let c = &user.counters;
    if limit_secs(user).is_some_and(|l| c.uptime >= l) {
        return Some(LoginRefused::Uptime(name));
    }
    let total = c.bytes_in + c.bytes_out;
    if limit_bytes(user, "limit-bytes-total").is_some_and(|l| total >= l)
        || limit_bytes(user, "limit-bytes-in").is_some_and(|l| c.bytes_in >= l)
        || limit_bytes(user, "limit-bytes-out").is_some_and(|l| c.bytes_out >= l)
    {
        return Some(LoginRefused::Traffic(name));
    }
    None
}

/// Logs a client in as `user`; returns the new active session's id.
// Long on purpose: the hotspot's login checks in the order RouterOS applies them, each refusing with its own text.
pub(crate) fn login(
    state: &mut State,
    user: &[u8],
    password: &[u8],
    mac: &str,
    address: Option<&str>,
    via: &str,
) -> Result<u32, LoginRefused> {
    let Some(u) = state.users.by_name(user).filter(|u| !u.builtin) else {
        return Err(LoginRefused::Invalid);
    };
    if u.get("password").as_bytes() != password {
        return Err(LoginRefused::Invalid);
    }
    let shown = || String::from_utf8_lossy(user).into_owned();
    if u.get("disabled") == "true" {
        return Err(LoginRefused::Disabled(shown()));
    }
    if let Some(refused) = limit_reached(u) {
        return Err(refused);
    }
    let user_id = u.id;
    let profile = u.get("profile").clone();
    let shared: Option<usize> = state
        .profiles
        .by_name(&profile)
        .and_then(|p| p.text("shared-users").parse().ok());
    let sessions = state
        .active
        .rows
        .values()
        .filter(|a| a.link == Some(user_id))
        .count();
    if shared.is_some_and(|n| sessions >= n) {
        return Err(LoginRefused::Sessions(shown()));
    }
    let address = match address {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => state.next_address(),
    };
    let keepalive = state
        .profiles
        .by_name(&profile)
        .map(|p| p.text("keepalive-timeout").to_string())
        .unwrap_or_else(|| "2m".into());
    let mut fields: Record = [
        ("server", "hotspot1"),
        ("domain", ""),
        ("address", address.as_str()),
        ("mac-address", mac),
        ("login-by", via),
        ("radius", "false"),
        ("keepalive-timeout", keepalive.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), Word::from(*v)))
    .collect();
    fields.insert("user".into(), Word::from(user));
    let active_id = state.active.insert(Row {
        fields,
        link: Some(user_id),
        ..Row::default()
    });
    state.changed(Menu::Active, active_id, false);
    // The host table keeps one entry per MAC; it is authorized while logged in.
    let host_id = match state
        .hosts
        .rows
        .values()
        .find(|h| h.get("mac-address") == mac)
    {
        Some(h) => h.id,
        None => {
            let fields: Record = [
                ("mac-address", mac),
                ("address", address.as_str()),
                ("to-address", address.as_str()),
                ("server", "hotspot1"),
                ("found-by", "DHCP"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), Word::from(*v)))
            .collect();
            state.hosts.insert(Row {
                fields,
                ..Row::default()
            })
        }
    };
    if let Some(h) = state.hosts.rows.get_mut(&host_id) {
        h.fields.insert("authorized".into(), "true".into());
        h.fields.insert("bypassed".into(), "false".into());
        h.link = Some(active_id);
    }
    state.changed(Menu::Host, host_id, false);
    Ok(active_id)
}

/// What the router does after a login besides the session: the `/log` line the
/// hotspot writes and, when the user's profile adds MAC cookies, a cookie.
pub(crate) fn logged_in(state: &mut State, active_id: u32, now: Instant) {
    let Some(session) = state.active.rows.get(&active_id) else {
        return;
    };
    let user = session.get("user").clone();
    let mac = session.text("mac-address").to_string();
    let address = session.text("address").to_string();
    let profile = session
        .link
        .and_then(|id| state.users.rows.get(&id))
        .map(|u| u.get("profile").clone())
        .unwrap_or_default();
    let mut line = user.as_bytes().to_vec();
    line.extend_from_slice(format!(" ({address}): logged in").as_bytes());
    tool_menus::log(state, now, "hotspot,account,info,debug", Word::new(line));
    tool_menus::add_cookie(state, &user, &mac, &profile);
}

/// Ends a session (`/ip/hotspot/active/remove`, or a limit reached). `false` if no such session.
pub(crate) fn logout(state: &mut State, active_id: u32) -> bool {
    if state.active.remove(active_id).is_none() {
        return false;
    }
    state.changed(Menu::Active, active_id, true);
    let host = state
        .hosts
        .rows
        .values_mut()
        .find(|h| h.link == Some(active_id));
    if let Some(h) = host {
        h.fields.insert("authorized".into(), "false".into());
        h.link = None;
        let id = h.id;
        state.changed(Menu::Host, id, false);
    }
    true
}

/// Ends every session of a user whose limits are used up.
fn enforce(state: &mut State, user_id: u32) {
    let reached = state
        .users
        .rows
        .get(&user_id)
        .is_some_and(|u| limit_reached(u).is_some());
    if reached {
        let ids: Vec<u32> = state
            .active
            .rows
            .values()
            .filter(|a| a.link == Some(user_id))
            .map(|a| a.id)
            .collect();
        for id in ids {
            logout(state, id);
        }
    }
}

/// Adds traffic to one session, its user and its host, then enforces the user's limits.
fn grow(state: &mut State, active_id: u32, dt: Duration, bytes_in: u64, bytes_out: u64) {
    let Some(session) = state.active.rows.get_mut(&active_id) else {
        return;
    };
    session.counters.add(dt, bytes_in, bytes_out);
    let user_id = session.link;
    if let Some(h) = state
        .hosts
        .rows
        .values_mut()
        .find(|h| h.link == Some(active_id))
    {
        h.counters.add(dt, bytes_in, bytes_out);
    }
    if let Some(user) = user_id.and_then(|id| state.users.rows.get_mut(&id)) {
        user.counters.add(dt, bytes_in, bytes_out);
        // Uptime stops at the limit, as the router ends the session on the second.
        if let Some(limit) = limit_secs(user) {
            user.counters.uptime = user.counters.uptime.min(limit);
        }
        let id = user.id;
        state.changed(Menu::User, id, false);
        enforce(state, id);
    }
    if state.active.rows.contains_key(&active_id) {
        state.changed(Menu::Active, active_id, false);
    }
}

/// One tick: every session is `dt` older and moved `down` bytes to the client and
/// `up` bytes from it.
pub(crate) fn tick(state: &mut State, dt: Duration, down: u64, up: u64) {
    let ids: Vec<u32> = state.active.rows.keys().copied().collect();
    for id in ids {
        grow(state, id, dt, up, down);
    }
}

/// Adds traffic to a user's sessions (split evenly), or to the user alone when it has
/// none; then enforces its limits. `false` if there is no such user.
pub(crate) fn add_traffic(state: &mut State, user: &[u8], bytes_in: u64, bytes_out: u64) -> bool {
    let Some(user_id) = state.users.by_name(user).map(|u| u.id) else {
        return false;
    };
    let sessions: Vec<u32> = state
        .active
        .rows
        .values()
        .filter(|a| a.link == Some(user_id))
        .map(|a| a.id)
        .collect();
    if sessions.is_empty() {
        if let Some(u) = state.users.rows.get_mut(&user_id) {
            u.counters.add(Duration::ZERO, bytes_in, bytes_out);
        }
        state.changed(Menu::User, user_id, false);
        enforce(state, user_id);
        return true;
    }
    let n = sessions.len() as u64;
    for id in sessions {
        grow(state, id, Duration::ZERO, bytes_in / n, bytes_out / n);
    }
    true
}

/// Simulated customers: up to `max` clients at a time log in with users that have
/// never been used (a voucher just sold), so counters grow without a test driving them.
pub(crate) fn auto_login(state: &mut State, max: usize) {
    let mut running = state.active.rows.len();
    while running < max {
        let fresh = state
            .users
            .rows
            .values()
            .find(|u| {
                !u.builtin
                    && u.get("disabled") != "true"
                    && u.counters == Counters::default()
                    && limit_reached(u).is_none()
            })
            .map(|u| (u.get("name").clone(), u.get("password").clone(), u.id));
        let Some((name, password, id)) = fresh else {
            return;
        };
        let mac = format!(
            "02:00:00:{:02X}:{:02X}:{:02X}",
            (id >> 16) & 0xFF,
            (id >> 8) & 0xFF,
            id & 0xFF
        );
        let (name, password) = (name.as_bytes(), password.as_bytes());
        let Ok(session) = login(state, name, password, &mac, None, "http-chap") else {
            return;
        };
        logged_in(state, session, Instant::now());
        // A first byte marks the user as used, so the next round picks another.
        add_traffic(state, name, 1, 0);
        running += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SimVersion;
    use std::time::Instant;

    fn state_with_user(fields: &[(&str, &str)]) -> State {
        let mut s = State::new(
            SimVersion::parse("7.18").unwrap(),
            "admin".into(),
            String::new(),
            Instant::now(),
        );
        let mut f: Record = [
            ("name", "v1"),
            ("password", "p1"),
            ("profile", "default"),
            ("disabled", "false"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), Word::from(*v)))
        .collect();
        for (k, v) in fields {
            f.insert(k.to_string(), Word::from(*v));
        }
        s.users.insert(Row {
            fields: f,
            ..Row::default()
        });
        s
    }

    #[test]
    fn a_client_logs_in_and_its_counters_grow_on_ticks() {
        let mut s = state_with_user(&[]);
        let id = login(&mut s, b"v1", b"p1", "02:00:00:00:00:01", None, "http-chap").unwrap();
        tick(&mut s, Duration::from_secs(10), 5000, 500);
        let session = &s.active.rows[&id];
        assert_eq!(session.counters.uptime, Duration::from_secs(10));
        assert_eq!(session.counters.bytes_out, 5000);
        let user = s.users.by_name("v1").unwrap();
        assert_eq!(user.counters.bytes_in, 500);
        assert_eq!(
            s.hosts.rows.values().next().unwrap().get("authorized"),
            "true"
        );
    }

    #[test]
    fn wrong_password_and_disabled_users_are_refused() {
        let mut s = state_with_user(&[]);
        assert_eq!(
            login(&mut s, b"v1", b"nope", "m", None, "http-chap"),
            Err(LoginRefused::Invalid)
        );
        assert_eq!(
            login(&mut s, b"ghost", b"p1", "m", None, "http-chap"),
            Err(LoginRefused::Invalid)
        );
        let mut s = state_with_user(&[("disabled", "true")]);
        assert_eq!(
            login(&mut s, b"v1", b"p1", "m", None, "http-chap"),
            Err(LoginRefused::Disabled("v1".into()))
        );
    }

    #[test]
    fn the_uptime_limit_ends_the_session_and_blocks_the_next_login() {
        let mut s = state_with_user(&[("limit-uptime", "1m")]);
        login(&mut s, b"v1", b"p1", "m", None, "http-chap").unwrap();
        tick(&mut s, Duration::from_secs(45), 0, 0);
        assert_eq!(s.active.rows.len(), 1);
        tick(&mut s, Duration::from_secs(45), 0, 0);
        assert!(s.active.rows.is_empty(), "session ended at the limit");
        assert_eq!(
            s.users.by_name("v1").unwrap().counters.uptime,
            Duration::from_secs(60)
        );
        assert_eq!(
            login(&mut s, b"v1", b"p1", "m", None, "http-chap"),
            Err(LoginRefused::Uptime("v1".into()))
        );
    }

    #[test]
    fn the_byte_limit_ends_the_session_and_blocks_the_next_login() {
        let mut s = state_with_user(&[("limit-bytes-total", "1000")]);
        login(&mut s, b"v1", b"p1", "m", None, "http-chap").unwrap();
        assert!(add_traffic(&mut s, b"v1", 0, 999));
        assert_eq!(s.active.rows.len(), 1);
        add_traffic(&mut s, b"v1", 1, 0);
        assert!(s.active.rows.is_empty());
        assert_eq!(
            login(&mut s, b"v1", b"p1", "m", None, "http-chap"),
            Err(LoginRefused::Traffic("v1".into()))
        );
    }

    #[test]
    fn shared_users_of_the_profile_caps_sessions() {
        let mut s = state_with_user(&[]);
        login(&mut s, b"v1", b"p1", "m1", None, "http-chap").unwrap();
        assert_eq!(
            login(&mut s, b"v1", b"p1", "m2", None, "http-chap"),
            Err(LoginRefused::Sessions("v1".into()))
        );
    }

    #[test]
    fn auto_login_uses_fresh_users_only() {
        let mut s = state_with_user(&[]);
        auto_login(&mut s, 3);
        assert_eq!(
            s.active.rows.len(),
            1,
            "one fresh user, one client; default-trial is never used"
        );
    }
}
