//! Logins to the owner's page: sessions kept in memory (a restart logs the owner
//! out), a CSRF token per session for every form, and a limit on wrong PINs per
//! client address and for all clients together. Pure state: callers pass `now`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const COOKIE: &str = "owner_session";
/// Wrong PINs one client address may send within [`WINDOW`].
pub const FAILS_PER_CLIENT: usize = 5;
/// Wrong PINs all clients together may send within [`WINDOW`] (someone trying from
/// many addresses).
pub const FAILS_ALL: usize = 20;
/// The window the limits count in.
pub const WINDOW: Duration = Duration::from_secs(5 * 60);
/// Logins kept at once; the oldest goes first.
const MAX_SESSIONS: usize = 16;

/// One login.
#[derive(Clone)]
pub struct Session {
    /// The token every form of this session carries.
    pub csrf: String,
    expires: Instant,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Session { .. }")
    }
}

#[derive(Default)]
struct State {
    /// By SHA-256 of the cookie's token: a lookup never compares the secret itself.
    sessions: HashMap<[u8; 32], (Session, Instant)>,
    fails: HashMap<IpAddr, VecDeque<Instant>>,
    all_fails: VecDeque<Instant>,
}

/// Sessions and the login limits.
pub struct Auth {
    state: Mutex<State>,
    lifetime: Duration,
    secure: bool,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS random source failing is not something to serve a page through.
    getrandom::fill(&mut bytes).expect("the system random source works");
    hex::encode(bytes)
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// `a == b` in time that depends only on the lengths.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn prune(q: &mut VecDeque<Instant>, now: Instant) {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
    {
        q.pop_front();
    }
}

impl Auth {
    /// Sessions that last `lifetime`; `secure` marks the cookie HTTPS-only.
    pub fn new(lifetime: Duration, secure: bool) -> Auth {
        Auth {
            state: Mutex::new(State::default()),
            lifetime,
            secure,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(wait)` when `client` (or everyone) sent too many wrong PINs lately: the
    /// PIN is then not even checked.
    pub fn may_try(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut st = self.lock();
        prune(&mut st.all_fails, now);
        let wait_for = |q: &VecDeque<Instant>| {
            q.front()
                .map(|t| WINDOW.saturating_sub(now.saturating_duration_since(*t)))
                .unwrap_or_default()
        };
        if st.all_fails.len() >= FAILS_ALL {
            return Err(wait_for(&st.all_fails));
        }
        if let Some(q) = st.fails.get_mut(&client) {
            prune(q, now);
            if q.len() >= FAILS_PER_CLIENT {
                return Err(wait_for(q));
            }
        }
        Ok(())
    }

    /// Counts a wrong PIN from `client`.
    pub fn failed(&self, client: IpAddr, now: Instant) {
        let mut st = self.lock();
        st.all_fails.push_back(now);
        st.fails.entry(client).or_default().push_back(now);
        if st.fails.len() > 1024 {
            st.fails.retain(|_, q| {
                prune(q, now);
                !q.is_empty()
            });
        }
    }

    /// A right PIN: a new session; returns its cookie token. The client's wrong
    /// tries are forgotten.
    pub fn open(&self, client: IpAddr, now: Instant) -> String {
        let token = random_token();
        let session = Session {
            csrf: random_token(),
            expires: now + self.lifetime,
        };
        let mut st = self.lock();
        st.fails.remove(&client);
        st.sessions.retain(|_, (s, _)| s.expires > now);
        while st.sessions.len() >= MAX_SESSIONS {
            let oldest = st
                .sessions
                .iter()
                .min_by_key(|(_, (_, opened))| *opened)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => st.sessions.remove(&k),
                None => break,
            };
        }
        st.sessions.insert(key(&token), (session, now));
        token
    }

    /// The live session a cookie token names.
    pub fn session(&self, token: &str, now: Instant) -> Option<Session> {
        let mut st = self.lock();
        let k = key(token);
        match st.sessions.get(&k) {
            Some((s, _)) if s.expires > now => Some(s.clone()),
            Some(_) => {
                st.sessions.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Logs a session out.
    pub fn close(&self, token: &str) {
        self.lock().sessions.remove(&key(token));
    }

    /// The `Set-Cookie` value for a new session.
    pub fn cookie(&self, token: &str) -> String {
        format!(
            "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            self.lifetime.as_secs(),
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clear_cookie(&self) -> String {
        format!(
            "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            if self.secure { "; Secure" } else { "" }
        )
    }
}

/// The session token in a `Cookie` header, if any.
pub fn token_from_cookies(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 88, 10));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 88, 11));

    #[test]
    fn five_wrong_pins_lock_that_client_out_for_the_window_not_the_others() {
        let auth = Auth::new(Duration::from_secs(60), true);
        let t0 = Instant::now();
        for i in 0..FAILS_PER_CLIENT {
            assert!(auth.may_try(A, t0).is_ok(), "try {i}");
            auth.failed(A, t0);
        }
        let wait = auth.may_try(A, t0 + Duration::from_secs(60)).unwrap_err();
        assert_eq!(wait, WINDOW - Duration::from_secs(60));
        assert!(auth.may_try(B, t0).is_ok(), "another client may still try");
        assert!(auth.may_try(A, t0 + WINDOW).is_ok(), "the window passes");
    }

    #[test]
    fn many_clients_together_are_limited_too() {
        let auth = Auth::new(Duration::from_secs(60), true);
        let t0 = Instant::now();
        for i in 0..FAILS_ALL {
            let ip = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, i as u8));
            auth.failed(ip, t0);
        }
        assert!(auth.may_try(B, t0).is_err());
    }

    #[test]
    fn a_session_expires_and_a_logout_ends_it() {
        let auth = Auth::new(Duration::from_secs(60), true);
        let t0 = Instant::now();
        let token = auth.open(A, t0);
        let s = auth.session(&token, t0).expect("live");
        assert_eq!(s.csrf.len(), 64);
        assert!(auth.session(&token, t0 + Duration::from_secs(61)).is_none());
        let token = auth.open(A, t0);
        auth.close(&token);
        assert!(auth.session(&token, t0).is_none());
        assert!(auth.session("forged", t0).is_none());
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_https() {
        let c = Auth::new(Duration::from_secs(60), true).cookie("abc");
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"),
            "{c}"
        );
        let plain = Auth::new(Duration::from_secs(60), false).cookie("abc");
        assert!(
            !plain.contains("Secure"),
            "a browser drops a Secure cookie over http: {plain}"
        );
        assert_eq!(
            token_from_cookies("a=1; owner_session=abc; b=2"),
            Some("abc")
        );
        assert_eq!(token_from_cookies("owner_session="), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
