//! The REST listener: HTTP/1.1 over TLS (the same generated certificate as api-ssl),
//! parsed with httparse, keep-alive, `Content-Length` bodies, HTTP Basic auth with the
//! router's login. Replies wait for the link latency; streaming commands are cut at
//! the REST session limit as RouterOS does (60 s, DOC-REST).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::faults::Fault;
use super::rest_api::{handle, reason_phrase, RestOutcome, RestReply, SESSION_CLOSED};
use super::{lock, Shared};

/// Largest request head or body accepted.
const MAX_REQUEST: usize = 1 << 20;

/// Accepts connections until `stop` is cancelled; `tls` `None` serves plain HTTP.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((socket, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if !lock(&shared.gate).open(Instant::now()) {
            drop(socket);
            continue;
        }
        let _ = socket.set_nodelay(true);
        let (shared, stop, tls) = (shared.clone(), stop.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                None => connection(socket, shared, stop).await,
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(socket).await {
                        connection(stream, shared, stop).await;
                    }
                }
            }
        });
    }
}

/// One parsed request.
struct Request {
    method: String,
    target: String,
    authorization: Option<String>,
    close: bool,
    body: Vec<u8>,
}

/// Parses a request from the front of `buf`: `Ok(Some((request, used)))`, `Ok(None)`
/// for "need more bytes".
fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf).map_err(|e| e.to_string())? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let mut length = 0usize;
    let mut authorization = None;
    let mut close = req.version == Some(0);
    for h in req.headers.iter() {
        let value = String::from_utf8_lossy(h.value).trim().to_string();
        if h.name.eq_ignore_ascii_case("content-length") {
            length = value
                .parse()
                .map_err(|_| "bad Content-Length".to_string())?;
        } else if h.name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value);
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    if length > MAX_REQUEST {
        return Err("request body too large".into());
    }
    if buf.len() < head_len + length {
        return Ok(None);
    }
    let request = Request {
        method: req.method.unwrap_or("").to_string(),
        target: req.path.unwrap_or("/").to_string(),
        authorization,
        close,
        body: buf[head_len..head_len + length].to_vec(),
    };
    Ok(Some((request, head_len + length)))
}

/// Whether `Authorization: Basic …` carries the router's login (`admin:` for an empty password).
fn authorized(header: Option<&str>, user: &str, password: &str) -> bool {
    let Some(encoded) = header.and_then(|h| h.strip_prefix("Basic ")) else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let text = String::from_utf8_lossy(&decoded);
    text.split_once(':')
        .is_some_and(|(u, p)| u == user && p == password)
}

fn response_bytes(reply: &RestReply, close: bool) -> Vec<u8> {
    let body = reply
        .body
        .as_ref()
        .map(|b| b.to_string())
        .unwrap_or_default();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        reply.status,
        reason_phrase(reply.status)
    );
    if reply.body.is_some() {
        head.push_str("Content-Type: application/json\r\n");
    }
    if reply.status == 401 {
        head.push_str("WWW-Authenticate: Basic realm=\"REST API\"\r\n");
    }
    if reply.status != 204 {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

// Long on purpose: one HTTP/1.1 keep-alive loop: read, route, answer or stream; the steps share the connection state.
async fn connection<S>(mut stream: S, shared: Arc<Shared>, stop: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // A reboot or a disabled service ends the connection as shutting down does.
    let stop = super::either(&stop, &lock(&shared.cut).clone());
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut requests: u64 = 0;
    loop {
        let request = loop {
            match parse_request(&buf) {
                Ok(Some((req, used))) => {
                    buf.drain(..used);
                    break req;
                }
                Ok(None) if buf.len() > MAX_REQUEST => return,
                Ok(None) => {}
                Err(_) => {
                    let bad = RestReply::error(400, Some("malformed HTTP request"));
                    let _ = stream.write_all(&response_bytes(&bad, true)).await;
                    return;
                }
            }
            let n = tokio::select! {
                _ = stop.cancelled() => return,
                r = stream.read(&mut chunk) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                },
            };
            buf.extend_from_slice(&chunk[..n]);
        };
        let arrival = Instant::now();
        let latency = *lock(&shared.latency);
        requests += 1;
        let fault = lock(&shared.faults).decide(requests);
        let outcome = if request.method == "HEAD" {
            RestOutcome::Reply(RestReply::error(501, None))
        } else {
            let mut state = lock(&shared.state);
            let (user, password) = (state.login_user.clone(), state.login_password.clone());
            if !authorized(request.authorization.as_deref(), &user, &password) {
                RestOutcome::Reply(RestReply::error(401, None))
            } else if matches!(fault, Fault::Fatal(_) | Fault::DropBefore) {
                // REST has no `!fatal`: the server just hangs up.
                return;
            } else {
                handle(
                    &mut state,
                    &request.method,
                    &request.target,
                    &request.body,
                    arrival,
                )
            }
        };
        let reply = match outcome {
            RestOutcome::Reply(r) => r,
            RestOutcome::Stream => {
                let limit = *lock(&shared.rest_session_limit);
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(limit) => {}
                }
                RestReply::error(400, Some(SESSION_CLOSED))
            }
        };
        let mut at = arrival + latency;
        match fault {
            Fault::Drop => return,
            Fault::Stall(d) => at = at.max(arrival + d),
            _ => {}
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(at.into()) => {}
        }
        if stream
            .write_all(&response_bytes(&reply, request.close))
            .await
            .is_err()
            || stream.flush().await.is_err()
        {
            return;
        }
        if request.close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_in_pieces_parses_once_complete() {
        let raw = b"PUT /rest/ip/hotspot/user HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n{\"name\":\"a\"}";
        for cut in [10, raw.len() - 13, raw.len() - 1] {
            assert!(parse_request(&raw[..cut]).unwrap().is_none(), "cut {cut}");
        }
        let (req, used) = parse_request(raw).unwrap().unwrap();
        assert_eq!(used, raw.len());
        assert_eq!(req.method, "PUT");
        assert_eq!(req.target, "/rest/ip/hotspot/user");
        assert_eq!(req.body, b"{\"name\":\"a\"}");
        assert!(!req.close);
    }

    #[test]
    fn basic_auth_accepts_admin_with_an_empty_password() {
        // base64("admin:") = YWRtaW46
        assert!(authorized(Some("Basic YWRtaW46"), "admin", ""));
        assert!(
            !authorized(Some("Basic YWRtaW46eA=="), "admin", ""),
            "admin:x"
        );
        assert!(!authorized(None, "admin", ""));
    }

    #[test]
    fn a_401_says_unauthorized_and_asks_for_basic() {
        let bytes = response_bytes(&RestReply::error(401, None), false);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
        assert!(text.contains("WWW-Authenticate: Basic"));
        assert!(text.ends_with(r#"{"error":401,"message":"Unauthorized"}"#));
    }
}
