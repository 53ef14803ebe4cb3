//! REST client tests against a scripted HTTP responder on a std TcpListener
//! (optionally behind a rustls server with a self-signed certificate).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use super::*;

/// One request as the responder saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub method: String,
    pub path: String,
    pub auth: Option<String>,
    pub body: String,
}

fn read_request(stream: &mut impl Read) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head)) = req.parse(&buf) {
            let header = |name: &str| {
                req.headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).into_owned())
            };
            let len: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let seen_head = (
                req.method?.to_string(),
                req.path?.to_string(),
                header("authorization"),
            );
            while buf.len() < head + len {
                let n = stream.read(&mut chunk).ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(Seen {
                method: seen_head.0,
                path: seen_head.1,
                auth: seen_head.2,
                body: String::from_utf8_lossy(&buf[head..head + len]).into_owned(),
            });
        }
    }
}

fn respond(stream: &mut impl Write, status: u16, body: &str) {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}

type Script = Arc<dyn Fn(&Seen) -> (u16, String) + Send + Sync>;

/// An HTTP responder: answers each request with `script(request)`; every request
/// is also sent on the returned channel. `tls`: serve HTTPS with this config.
pub(crate) fn http_router(
    tls: Option<Arc<rustls::ServerConfig>>,
    script: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static,
) -> (u16, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let script: Script = Arc::new(script);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let script = script.clone();
            let tx = tx.clone();
            let tls = tls.clone();
            std::thread::spawn(move || match tls {
                None => {
                    if let Some(seen) = read_request(&mut stream) {
                        let (status, body) = script(&seen);
                        let _ = tx.send(seen);
                        respond(&mut stream, status, &body);
                    }
                }
                Some(cfg) => {
                    let Ok(conn) = rustls::ServerConnection::new(cfg) else {
                        return;
                    };
                    let mut tls = rustls::StreamOwned::new(conn, stream);
                    if let Some(seen) = read_request(&mut tls) {
                        let (status, body) = script(&seen);
                        let _ = tx.send(seen);
                        respond(&mut tls, status, &body);
                        tls.conn.send_close_notify();
                        let _ = tls.flush();
                    }
                }
            });
        }
    });
    (port, rx)
}

pub(crate) fn rest_config(port: u16, tls: Option<RouterTls>) -> RestConfig {
    RestConfig {
        router: "test".into(),
        host: "127.0.0.1".into(),
        port,
        tls,
        username: "admin".into(),
        password: Secret::new("pw"),
        timeout: Duration::from_secs(5),
    }
}

fn plain(port: u16) -> RestClient {
    RestClient::new(rest_config(port, None))
}

#[tokio::test]
async fn print_with_queries_posts_query_and_proplist_with_basic_auth() {
    let (port, seen) = http_router(None, |_| {
        (200, r#"[{".id":"*1","name":"v1","uptime":"0s"}]"#.into())
    });
    let rows = plain(port)
        .print("/ip/hotspot/user", &["name=v1".into()], Some(".id,name"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], "v1");
    let req = seen.recv().unwrap();
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/rest/ip/hotspot/user/print")
    );
    let body: Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(
        body,
        json!({".query": ["name=v1"], ".proplist": ".id,name"})
    );
    // admin:pw
    assert_eq!(req.auth.as_deref(), Some("Basic YWRtaW46cHc="));
}

#[tokio::test]
async fn a_singleton_reads_as_a_bare_object_or_a_one_element_array() {
    for body in [
        r#"{"version":"7.18 (stable)"}"#,
        r#"[{"version":"7.18 (stable)"}]"#,
    ] {
        let (port, seen) = http_router(None, move |_| (200, body.to_string()));
        let rows = plain(port)
            .print("/system/resource", &[], None)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{body}");
        assert_eq!(rows[0]["version"], "7.18 (stable)");
        let req = seen.recv().unwrap();
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("GET", "/rest/system/resource")
        );
    }
}

#[tokio::test]
async fn add_puts_and_returns_the_new_id() {
    let (port, seen) = http_router(None, |_| (201, r#"{".id":"*2A","name":"v2"}"#.into()));
    let id = plain(port)
        .add(
            "/ip/hotspot/user",
            &[
                ("name".into(), "v2".into()),
                ("limit-uptime".into(), "1h".into()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(id, "*2A");
    let req = seen.recv().unwrap();
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("PUT", "/rest/ip/hotspot/user")
    );
    let body: Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(body, json!({"name": "v2", "limit-uptime": "1h"}));
}

#[tokio::test]
async fn set_and_remove_put_the_id_in_the_path_with_a_literal_star() {
    let (port, seen) = http_router(None, |req| match req.method.as_str() {
        "PATCH" => (200, r#"{".id":"*1","disabled":"true"}"#.into()),
        _ => (204, String::new()),
    });
    let c = plain(port);
    c.set(
        "/ip/hotspot/user",
        "*1",
        &[("disabled".into(), "yes".into())],
    )
    .await
    .unwrap();
    c.remove("/ip/hotspot/user", "*1").await.unwrap();
    c.remove("/interface", "ether 1").await.unwrap();
    let paths: Vec<(String, String)> = seen.try_iter().map(|s| (s.method, s.path)).collect();
    assert_eq!(
        paths,
        [
            ("PATCH".to_string(), "/rest/ip/hotspot/user/*1".to_string()),
            ("DELETE".to_string(), "/rest/ip/hotspot/user/*1".to_string()),
            (
                "DELETE".to_string(),
                "/rest/interface/ether%201".to_string()
            ),
        ]
    );
}

#[tokio::test]
async fn other_commands_post_and_read_an_object_or_an_array() {
    let (port, seen) = http_router(None, |req| match req.path.as_str() {
        "/rest/ip/hotspot/user/reset-counters" => (200, "[]".into()),
        _ => (200, r#"{"ret":"*2"}"#.into()),
    });
    let c = plain(port);
    let none = c
        .command(
            "/ip/hotspot/user",
            "reset-counters",
            &[(".id".into(), "*1".into())],
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    let ret = c
        .command("/user", "add", &[("name".into(), "x".into())])
        .await
        .unwrap();
    assert_eq!(ret[0]["ret"], "*2");
    let first = seen.recv().unwrap();
    assert_eq!(first.method, "POST");
    assert_eq!(
        serde_json::from_str::<Value>(&first.body).unwrap(),
        json!({".id": "*1"})
    );
}

#[tokio::test]
async fn an_error_body_keeps_the_routers_detail_and_status() {
    let (port, _) = http_router(None, |_| {
        (
            400,
            r#"{"error":400,"message":"Bad Request","detail":"failure: already have user with this name for this server"}"#
                .into(),
        )
    });
    let err = plain(port)
        .add("/ip/hotspot/user", &[("name".into(), "v1".into())])
        .await
        .unwrap_err();
    match &err {
        RouterError::Trap {
            message, status, ..
        } => {
            assert_eq!(
                message,
                "failure: already have user with this name for this server"
            );
            assert_eq!(*status, Some(400));
        }
        other => panic!("{other}"),
    }
    assert!(err.is_duplicate_user());
}

#[tokio::test]
async fn not_found_without_detail_is_no_such_item() {
    let (port, _) = http_router(None, |_| {
        (404, r#"{"error":404,"message":"Not Found"}"#.into())
    });
    let err = plain(port)
        .remove("/ip/hotspot/user", "*9")
        .await
        .unwrap_err();
    assert!(err.is_no_such_item(), "{err}");
    assert_eq!(err.trap_message(), Some("Not Found"));
}

#[tokio::test]
async fn status_401_is_bad_credentials_and_403_a_missing_rest_api_policy() {
    let (port, _) = http_router(None, |_| {
        (401, r#"{"error":401,"message":"Unauthorized"}"#.into())
    });
    let err = plain(port)
        .print("/system/resource", &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, RouterError::BadCredentials { .. }), "{err}");
    let (port, _) = http_router(None, |_| {
        (403, r#"{"error":403,"message":"Forbidden"}"#.into())
    });
    let err = plain(port)
        .print("/system/resource", &[], None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RouterError::MissingPolicy {
                policy: "rest-api",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_unreachable_and_html_is_a_protocol_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = plain(port)
        .print("/system/resource", &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, RouterError::Unreachable { .. }), "{err}");

    let (port, _) = http_router(None, |_| (200, "<html>RouterOS</html>".into()));
    let err = plain(port)
        .print("/system/resource", &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, RouterError::Protocol { .. }), "{err}");
}

pub(crate) fn tls_server() -> (Arc<rustls::ServerConfig>, [u8; 32]) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert: CertificateDer<'static> = ck.cert.der().clone();
    let fp = crate::tls::cert_fingerprint(&cert);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    (Arc::new(config), fp)
}

#[tokio::test]
async fn https_with_the_pinned_certificate_works_and_another_pin_is_a_mismatch() {
    let (server, fp) = tls_server();
    let (port, _) = http_router(Some(server), |_| (200, r#"{"name":"MikroTik"}"#.into()));
    let tls = RouterTls::new(Some(fp), None).unwrap();
    let rows = RestClient::new(rest_config(port, Some(tls)))
        .print("/system/identity", &[], None)
        .await
        .unwrap();
    assert_eq!(rows[0]["name"], "MikroTik");

    let wrong = [0x22u8; 32];
    let tls = RouterTls::new(Some(wrong), None).unwrap();
    let err = RestClient::new(rest_config(port, Some(tls)))
        .print("/system/identity", &[], None)
        .await
        .unwrap_err();
    match err {
        RouterError::FingerprintMismatch { expected, got, .. } => {
            assert_eq!(expected, crate::tls::fingerprint_hex(&wrong));
            assert_eq!(got, crate::tls::fingerprint_hex(&fp));
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_silent_server_is_a_timeout() {
    let (port, _) = http_router(None, |_| {
        std::thread::sleep(Duration::from_millis(1500));
        (200, "[]".into())
    });
    let mut cfg = rest_config(port, None);
    cfg.timeout = Duration::from_millis(300);
    let err = RestClient::new(cfg)
        .print("/system/resource", &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, RouterError::Timeout { .. }), "{err}");
}

/// A server that answers every request with `response`, byte for byte, then closes.
fn raw_http(response: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut seen = Vec::new();
            let mut byte = [0u8; 1];
            while !seen.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                seen.push(byte[0]);
            }
            let _ = stream.write_all(response);
        }
    });
    port
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_an_error_not_an_empty_list() {
    // A user made with WinBox on a Windows PC: `Ren\xe9` in the PC's code page.
    let port = raw_http(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n[{\"name\":\"Ren\xe9\"}]",
    );
    let err = plain(port)
        .print("/ip/hotspot/user", &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, RouterError::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[tokio::test]
async fn a_body_cut_short_is_an_error_not_an_empty_list() {
    // Content-Length promises 100 bytes; 2 arrive before the connection closes.
    let port = raw_http(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[]",
    );
    let err = plain(port)
        .print("/ip/hotspot/user", &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, RouterError::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("could not be read"), "{err}");
}
