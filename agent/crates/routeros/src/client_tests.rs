//! `Router::connect` end to end: transport detection and the handle over each backend,
//! against the scripted fake routers of the API and REST tests.

use std::time::Duration;

use super::*;
use crate::hotspot::HotspotApi;
use crate::rest::tests::http_router;
use crate::testing::peer::{fake_router, Peer};

fn settings(transport: Transport, api_port: u16, rest_port: u16) -> RouterSettings {
    RouterSettings {
        name: "r1".into(),
        host: "127.0.0.1".into(),
        transport,
        api_port,
        api_ssl_port: 1,
        rest_port,
        rest_tls: false,
        username: "admin".into(),
        password: Secret::new("pw"),
        fingerprint: None,
        ca_file: None,
        timeout: Duration::from_secs(5),
    }
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A v6 router on the binary API: answers `/system/resource/print` and `/system/identity/print`.
async fn api_v6() -> u16 {
    fake_router(|mut p: Peer, _| async move {
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
                "/system/identity/print" => p.send(&["!re", "=name=kiosk-router", &tag]).await,
                _ => {}
            }
            p.send(&["!done", &tag]).await;
        }
    })
    .await
}

#[tokio::test]
async fn auto_picks_rest_when_it_answers_with_a_v7_version() {
    let (rest_port, _) = http_router(None, |req| match req.path.as_str() {
        "/rest/system/resource" => (
            200,
            r#"{"version":"7.18 (stable)","board-name":"CHR"}"#.into(),
        ),
        _ => (200, r#"{"name":"MikroTik"}"#.into()),
    });
    let router = Router::connect(settings(Transport::Auto, closed_port(), rest_port))
        .await
        .unwrap();
    let info = router.info();
    assert_eq!(info.transport, Transport::Rest);
    assert_eq!(info.reason, "REST answered 7.18 (stable)");
    assert_eq!(info.version.map(|v| (v.major, v.minor)), Some((7, 18)));
    assert_eq!(router.identity().await.unwrap(), "MikroTik");
}

#[tokio::test]
async fn auto_falls_back_to_the_binary_api_when_rest_is_refused() {
    let rest_port = closed_port();
    let router = Router::connect(settings(Transport::Auto, api_v6().await, rest_port))
        .await
        .unwrap();
    let info = router.info();
    assert_eq!(info.transport, Transport::Api);
    assert_eq!(info.version_text, "6.49.10 (long-term)");
    assert!(
        info.reason
            .starts_with(&format!("no REST on :{rest_port} (connection refused")),
        "{}",
        info.reason
    );
    assert!(
        info.reason.ends_with("binary API 6.49.10 (long-term)"),
        "{}",
        info.reason
    );
    assert_eq!(router.identity().await.unwrap(), "kiosk-router");
}

#[tokio::test]
async fn auto_falls_back_when_rest_answers_404_html() {
    let (rest_port, _) = http_router(None, |_| (404, "<html>not here</html>".into()));
    let router = Router::connect(settings(Transport::Auto, api_v6().await, rest_port))
        .await
        .unwrap();
    assert_eq!(router.info().transport, Transport::Api);
    assert!(
        router.info().reason.contains("HTTP 404"),
        "{}",
        router.info().reason
    );
}

#[tokio::test]
async fn auto_reports_bad_credentials_when_rest_answers_401() {
    let (rest_port, _) = http_router(None, |_| {
        (401, r#"{"error":401,"message":"Unauthorized"}"#.into())
    });
    let err = Router::connect(settings(Transport::Auto, closed_port(), rest_port))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, RouterError::BadCredentials { .. }), "{err}");
}

#[tokio::test]
async fn api_transport_adds_users_and_reads_the_new_id() {
    let port = fake_router(|mut p: Peer, _| async move {
        p.login_ok().await;
        loop {
            let cmd = p.read().await;
            let tag = format!(".tag={}", cmd.tag.clone().unwrap_or_default());
            match cmd.path.as_str() {
                "/system/resource/print" => p.send(&["!re", "=version=7.18 (stable)", &tag]).await,
                "/ip/hotspot/user/add" => {
                    let name = cmd.get_text("name").unwrap_or("").to_string();
                    p.send(&["!done", &format!("=ret=*{}", name.len()), &tag])
                        .await;
                    continue;
                }
                "/ip/hotspot/user/remove" => {
                    assert_eq!(cmd.get_text(".id"), Some("*5"));
                }
                _ => {}
            }
            p.send(&["!done", &tag]).await;
        }
    })
    .await;
    let router = Router::connect(settings(Transport::Api, port, 1))
        .await
        .unwrap();
    assert_eq!(router.info().reason, "transport = api in the configuration");
    let id = router
        .add("/ip/hotspot/user", &[("name".into(), "abcde".into())])
        .await
        .unwrap();
    assert_eq!(id, "*5");
    router.remove("/ip/hotspot/user", &id).await.unwrap();
}

#[tokio::test]
async fn auto_with_a_pin_falls_back_to_api_ssl_never_to_the_plaintext_api() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    // Plain 8728: any connection to it would carry the password in clear.
    let plain_connections = Arc::new(AtomicUsize::new(0));
    let counter = plain_connections.clone();
    let plain = fake_router(move |_p: Peer, _| {
        counter.fetch_add(1, Ordering::SeqCst);
        async {}
    })
    .await;
    let (acceptor, pin) = crate::api::tests::tls_tests::self_signed();
    let tls = crate::testing::peer::fake_router_with(Some(acceptor), |mut p: Peer, _| async move {
        p.login_ok().await;
        loop {
            let tag = format!(".tag={}", p.read().await.tag.unwrap_or_default());
            p.send(&["!re", "=version=6.49.10 (long-term)", &tag]).await;
            p.send(&["!done", &tag]).await;
        }
    })
    .await;
    let mut s = settings(Transport::Auto, plain, closed_port());
    s.api_ssl_port = tls;
    s.fingerprint = Some(pin);
    let router = Router::connect(s).await.unwrap();
    assert_eq!(router.info().transport, Transport::ApiSsl);
    assert_eq!(router.info().addr, format!("127.0.0.1:{tls}"));
    assert_eq!(plain_connections.load(Ordering::SeqCst), 0);
}
