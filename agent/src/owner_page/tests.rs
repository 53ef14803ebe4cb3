//! The page's guard over real HTTP on 127.0.0.1: no session, a bad CSRF token, a
//! cross-site form and too many wrong PINs, against a simulated router.

use std::net::SocketAddr;

use firmware_config::{OwnerPageConfig, RouterConfig, Transport};
use routeros::{RouterSettings, SharedRouter};
use routeros_sim::{SimHandle, SimOptions, SimRouter};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::*;
use crate::store::Store;

const PIN: &str = "482913";

struct Running {
    addr: SocketAddr,
    store: Store,
    cancel: CancellationToken,
    _sim: SimHandle,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn running() -> Running {
    let sim = SimRouter::start(SimOptions::version("7.18")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::bundled_default();
    config.agent.state_dir = dir.path().to_path_buf();
    config.owner_page = OwnerPageConfig {
        enabled: true,
        listen: "127.0.0.1:0".into(),
        tls: false,
        ..OwnerPageConfig::default()
    };
    let chosen = crate::simulated::router_config(
        &sim,
        &RouterConfig {
            name: "sim".into(),
            transport: Transport::Api,
            ..RouterConfig::default()
        },
    );
    let router = SharedRouter::new(RouterSettings::from_config(&chosen, 0).unwrap());
    let store = Store::open_in(dir.path()).unwrap();
    let vouchers = Vouchers::from_config(
        store.clone(),
        router,
        &config,
        &chosen,
        crate::sync::outbox::sale_payload,
    )
    .unwrap();
    pin::write_pin_file(
        &config.owner_page.pin_path(dir.path()),
        &pin::hash_pin(PIN).unwrap(),
    )
    .unwrap();
    let cancel = CancellationToken::new();
    let ctx = PageContext {
        control: Arc::new(crate::control::ControlService::of(
            vouchers.clone(),
            None,
            &config,
        )),
        vouchers,
        config,
        chosen,
    };
    let page = start(ctx, cancel.clone()).await.unwrap();
    Running {
        addr: page.addr,
        store,
        cancel,
        _sim: sim,
        _dir: dir,
    }
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

async fn send(addr: SocketAddr, method: &str, path: &str, extra: &[&str], body: &str) -> Answer {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in extra {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// Logs in; returns the `Cookie:` header line and the session's CSRF token.
async fn login(addr: SocketAddr) -> (String, String) {
    let a = send(addr, "POST", "/login", &[], &format!("pin={PIN}")).await;
    assert_eq!(a.status, 303, "{}", a.head);
    let cookie = a
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let home = send(addr, "GET", "/", &[&format!("Cookie: {cookie}")], "").await;
    assert_eq!(home.status, 200, "{}", home.body);
    let csrf = home
        .body
        .split("name=csrf value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    (format!("Cookie: {cookie}"), csrf)
}

/// `token` with its last hex digit changed, so it always differs. (Appending a fixed
/// digit to the first 63 gave back the session's own token once in 16 runs.)
fn one_digit_off(token: &str) -> String {
    let (head, last) = token.split_at(token.len() - 1);
    format!("{head}{}", if last == "0" { '1' } else { '0' })
}

#[test]
fn a_token_one_digit_off_is_never_the_token() {
    for token in ["ab0", "ab1", "abf"] {
        let off = one_digit_off(token);
        assert_ne!(off, token);
        assert_eq!((off.len(), &off[..2]), (3, "ab"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_session_every_page_sends_the_browser_to_the_login_form() {
    let r = running().await;
    r.store
        .add_credit(5, "coin", crate::store::now_ms())
        .unwrap();
    for path in ["/", "/health", "/users", "/batch"] {
        let a = send(r.addr, "GET", path, &[], "").await;
        assert_eq!(
            (a.status, a.header("location")),
            (303, Some("/login")),
            "{path}"
        );
    }
    let forged = send(r.addr, "GET", "/", &["Cookie: owner_session=0123abcd"], "").await;
    assert_eq!(forged.status, 303, "a made-up cookie is no session");
    let a = send(r.addr, "POST", "/cash/collect", &[], "csrf=x").await;
    assert_eq!(a.status, 303);
    assert!(
        r.store.recent_cash_collections(1).unwrap().is_empty(),
        "nothing collected"
    );
    let form = send(r.addr, "GET", "/login", &[], "").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("type=password"), "{}", form.body);
    assert_eq!(form.header("x-frame-options"), Some("DENY"));
    assert!(!form.body.contains("<script"), "no script on any page");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_form_without_the_sessions_csrf_token_is_refused() {
    let r = running().await;
    r.store
        .add_credit(5, "coin", crate::store::now_ms())
        .unwrap();
    let (cookie, csrf) = login(r.addr).await;
    for bad in [
        "",
        "csrf=",
        "csrf=0000",
        &format!("csrf={}", one_digit_off(&csrf)),
    ] {
        let a = send(r.addr, "POST", "/cash/collect", &[&cookie], bad).await;
        assert_eq!(a.status, 403, "{bad:?}: {}", a.body);
    }
    assert!(r.store.recent_cash_collections(1).unwrap().is_empty());
    let cross = send(
        r.addr,
        "POST",
        "/cash/collect",
        &[&cookie, "Origin: https://evil.example"],
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(cross.status, 403, "a form from another site");
    assert!(r.store.recent_cash_collections(1).unwrap().is_empty());
    let ok = send(
        r.addr,
        "POST",
        "/cash/collect",
        &[&cookie],
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let done = r.store.recent_cash_collections(1).unwrap();
    assert_eq!((done[0].total, done[0].by.as_str()), (5, "owner-page"));
    let out = send(
        r.addr,
        "POST",
        "/logout",
        &[&cookie],
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(out.status, 303);
    let after = send(r.addr, "GET", "/", &[&cookie], "").await;
    assert_eq!(after.status, 303, "logged out");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_pins_are_limited_and_then_even_the_right_one_waits() {
    let r = running().await;
    for i in 0..auth::FAILS_PER_CLIENT {
        let a = send(r.addr, "POST", "/login", &[], "pin=000000").await;
        assert_eq!(a.status, 401, "try {i}");
        assert!(a.header("set-cookie").is_none());
    }
    let a = send(r.addr, "POST", "/login", &[], &format!("pin={PIN}")).await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert!(a.body.contains("Too many wrong PINs"), "{}", a.body);
    assert!(a.header("set-cookie").is_none());
    let events = r.store.alerts_since(0, 20).unwrap();
    assert!(
        events.iter().any(|e| e.kind == "owner_login_failed"),
        "status shows the wrong PINs: {events:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_on_a_kiosk_without_a_printer_is_refused_and_nothing_is_made() {
    let r = running().await;
    let (cookie, csrf) = login(r.addr).await;
    let form = send(r.addr, "GET", "/batch", &[&cookie], "").await;
    assert!(form.body.contains("no printer configured"), "{}", form.body);
    let a = send(
        r.addr,
        "POST",
        "/batch",
        &[&cookie],
        &format!("csrf={csrf}&plan=1h&count=2"),
    )
    .await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(
        a.body.contains("[kiosk.printer]"),
        "says what to set: {}",
        a.body
    );
    assert!(
        r.store
            .recent_sales(10)
            .unwrap()
            .iter()
            .all(|s| s.source != "batch"),
        "no voucher made for a batch that cannot print"
    );
}
