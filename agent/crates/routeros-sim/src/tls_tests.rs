//! api-ssl and REST over real TLS, with `tls-pin`'s client pinning the fingerprint
//! the simulator prints (as the agent's client does): TLS login, a wrong pin refused,
//! REST keep-alive, Basic auth and the REST session limit on streaming commands.

use std::time::{Duration, Instant};

use tls_pin::{ClientTls, ConfigKeys, Trust};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{SimHandle, SimOptions, SimRouter};
use routeros_proto::{decode_sentence, encode_sentence, parse_reply, Limits, ReplyKind};

const KEYS: ConfigKeys = ConfigKeys {
    peer: "simulated router",
    fingerprint: "the test's pin",
    ca_file: "the test's CA file",
};

/// Connects pinning `pin`, read as the configuration reads a fingerprint.
async fn connect(addr: std::net::SocketAddr, pin: &str) -> std::io::Result<TlsStream<TcpStream>> {
    let pin = firmware_config::router::parse_fingerprint(pin).expect("a fingerprint");
    let tls = ClientTls::new(Trust::Pin(pin), None, KEYS).unwrap();
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(tls.config())
        .connect(tls_pin::server_name("localhost").unwrap(), tcp)
        .await
}

async fn sim(options: SimOptions) -> SimHandle {
    SimRouter::start(SimOptions {
        tick: None,
        ..options
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn api_ssl_logs_in_with_the_printed_fingerprint_pinned() {
    let sim = sim(SimOptions::version("7.18")).await;
    let pin = sim.fingerprint.clone().unwrap();
    assert!(sim.listener_lines().contains(&format!("fingerprint={pin}")));
    let mut tls = connect(sim.api_ssl_addr.unwrap(), &pin).await.unwrap();
    let mut bytes = Vec::new();
    encode_sentence(
        &["/login", "=name=admin", "=password=", ".tag=t"],
        &mut bytes,
    );
    tls.write_all(&bytes).await.unwrap();
    let mut buf = Vec::new();
    let reply = loop {
        let mut chunk = [0u8; 4096];
        let n = tls.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the login reply");
        buf.extend_from_slice(&chunk[..n]);
        if let Some((words, _)) = decode_sentence(&buf, Limits::default()).unwrap() {
            break parse_reply(&words).unwrap();
        }
    };
    assert_eq!(reply.kind, ReplyKind::Done);
    assert_eq!(reply.tag.as_deref(), Some("t"));
}

#[tokio::test]
async fn a_wrong_pin_is_refused_in_the_handshake() {
    let sim = sim(SimOptions::version("7.18")).await;
    let wrong = vec!["00"; 32].join(":");
    let refused = connect(sim.api_ssl_addr.unwrap(), &wrong).await;
    assert!(refused.is_err());
    let err = refused.err().map(|e| e.to_string()).unwrap_or_default();
    let printed = sim.fingerprint.as_deref().unwrap();
    assert!(
        err.contains(printed),
        "the error shows what was presented: {err}"
    );
}

/// Sends one HTTP/1.1 request on a kept-alive connection and reads the response.
async fn http(
    tls: &mut TlsStream<TcpStream>,
    method: &str,
    path: &str,
    auth: bool,
    body: &str,
) -> (u16, String) {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: router\r\nContent-Length: {}\r\n",
        body.len()
    );
    if auth {
        req.push_str("Authorization: Basic YWRtaW46\r\n"); // admin:
    }
    req.push_str("\r\n");
    req.push_str(body);
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head) = resp.parse(&buf).unwrap() {
            let len = resp
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map(|h| String::from_utf8_lossy(h.value).parse::<usize>().unwrap())
                .unwrap_or(0);
            if buf.len() >= head + len {
                return (
                    resp.code.unwrap(),
                    String::from_utf8_lossy(&buf[head..head + len]).into_owned(),
                );
            }
        }
        let mut chunk = [0u8; 8192];
        let n = tls.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn rest_keeps_the_connection_alive_and_wants_basic_auth() {
    let sim = sim(SimOptions::version("7.12")).await;
    let mut tls = connect(sim.rest_addr.unwrap(), sim.fingerprint.as_deref().unwrap())
        .await
        .unwrap();
    let (status, body) = http(&mut tls, "GET", "/rest/system/identity", false, "").await;
    assert_eq!(
        (status, body.as_str()),
        (401, r#"{"error":401,"message":"Unauthorized"}"#)
    );
    let (status, body) = http(
        &mut tls,
        "PUT",
        "/rest/ip/hotspot/user",
        true,
        r#"{"name":"k1","password":"p"}"#,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = http(
        &mut tls,
        "GET",
        "/rest/ip/hotspot/user?name=k1&.proplist=name",
        true,
        "",
    )
    .await;
    assert_eq!((status, body.as_str()), (200, r#"[{"name":"k1"}]"#));
}

#[tokio::test]
async fn a_streaming_rest_command_is_cut_at_the_session_limit() {
    let sim = sim(SimOptions {
        rest_session_limit: Duration::from_millis(200),
        ..SimOptions::version("7.18")
    })
    .await;
    let mut tls = connect(sim.rest_addr.unwrap(), sim.fingerprint.as_deref().unwrap())
        .await
        .unwrap();
    let start = Instant::now();
    let (status, body) = http(&mut tls, "POST", "/rest/ip/hotspot/user/listen", true, "{}").await;
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert_eq!(status, 400);
    assert_eq!(
        body,
        r#"{"detail":"Session closed","error":400,"message":"Bad Request"}"#
    );
}

#[tokio::test]
async fn plain_http_rest_is_served_from_7_9_when_asked() {
    let sim = sim(SimOptions {
        www_port: Some(0),
        ..SimOptions::version("7.12")
    })
    .await;
    let addr = sim.www_addr.expect("www is served on 7.12");
    assert!(sim.listener_lines().contains(&format!("www={addr}")));
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let req = "GET /rest/system/identity HTTP/1.1\r\nHost: r\r\nAuthorization: Basic YWRtaW46\r\nConnection: close\r\n\r\n";
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with(r#"{"name":"MikroTik"}"#), "{text}");
    let old = sim_without_www("7.8").await;
    assert!(old.www_addr.is_none(), "no plain HTTP REST before 7.9");
}

async fn sim_without_www(version: &str) -> SimHandle {
    sim(SimOptions {
        www_port: Some(0),
        ..SimOptions::version(version)
    })
    .await
}
