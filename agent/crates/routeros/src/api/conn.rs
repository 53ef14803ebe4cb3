//! Opening one binary API connection: TCP (or TLS on 8729), then the login —
//! plain `/login =name= =password=` first, the pre-6.43 challenge step only if the
//! router answers with `=ret=` (routeros-reference.md §2.3).
//!
//! Login failures are told apart by the router's words: `invalid user name or
//! password (6)` (6.43+) and `cannot log in` (pre-6.43) are bad credentials. A
//! trap that mentions a permission or policy (`not enough permissions`, `...policy...`)
//! is read as the user's group lacking the `api` policy. This is a choice: no source
//! consulted shows what RouterOS answers then, and it may well say "invalid user name or
//! password", which is why the bad-credentials message also names the policy.

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::ApiConfig;
use crate::error::RouterError;
use routeros_proto::{self as proto, Command, Reply, ReplyKind};
use routeros_proto::{FramingError, SentenceCodec};

/// A byte stream to a router: TCP or TLS (or, in tests, anything duplex).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A logged-in connection, framed as sentences.
pub(crate) type Transport = Framed<Box<dyn Io>, SentenceCodec>;

/// Connects, does TLS if configured, and logs in.
pub(crate) async fn open(cfg: &ApiConfig) -> Result<Transport, RouterError> {
    let unreachable = |reason: String| RouterError::Unreachable {
        router: cfg.router.clone(),
        addr: cfg.addr(),
        reason,
    };
    let tcp = tokio::time::timeout(cfg.timeout, TcpStream::connect((cfg.bare_host(), cfg.port)))
        .await
        .map_err(|_| unreachable(format!("no answer within {:?}", cfg.timeout)))?
        .map_err(|e| unreachable(e.to_string()))?;
    // Commands are small and latency matters more than packet count.
    let _ = tcp.set_nodelay(true);
    let _ = keep_alive(&tcp);
    let io: Box<dyn Io> = match &cfg.tls {
        None => Box::new(tcp),
        Some(tls) => {
            let name = crate::tls::server_name(&cfg.host).map_err(|e| RouterError::Tls {
                router: cfg.router.clone(),
                reason: e.to_string(),
            })?;
            let connector = tokio_rustls::TlsConnector::from(tls.config());
            match tokio::time::timeout(cfg.timeout, connector.connect(name, tcp)).await {
                Err(_) => {
                    return Err(unreachable(format!(
                        "TLS handshake not finished within {:?}",
                        cfg.timeout
                    )))
                }
                Ok(Err(e)) => {
                    if let Some((expected, got)) = tls.mismatch() {
                        return Err(RouterError::FingerprintMismatch {
                            router: cfg.router.clone(),
                            expected,
                            got,
                        });
                    }
                    return Err(RouterError::Tls {
                        router: cfg.router.clone(),
                        reason: tls.explain(&e.to_string()),
                    });
                }
                Ok(Ok(stream)) => Box::new(stream),
            }
        }
    };
    let mut framed = Framed::new(io, SentenceCodec::new(cfg.limits));
    match tokio::time::timeout(cfg.timeout, login(&mut framed, cfg)).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(RouterError::Timeout {
                router: cfg.router.clone(),
                command: "/login".into(),
                after: cfg.timeout,
            })
        }
    }
    Ok(framed)
}

/// How long an idle connection waits before the kernel probes the router, and then
/// how often: a router that vanished (power cut, cable pulled) is noticed in about a
/// minute and a half, not after the kernel's default two hours.
const KEEPALIVE_IDLE: std::time::Duration = std::time::Duration::from_secs(60);
const KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
const KEEPALIVE_PROBES: u32 = 3;

/// Turns on TCP keepalive with the timings above.
pub(crate) fn keep_alive(tcp: &TcpStream) -> std::io::Result<()> {
    let params = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_PROBES);
    socket2::SockRef::from(tcp).set_tcp_keepalive(&params)
}

/// Runs the login on an already open stream (tests drive it over scripted peers).
pub(crate) async fn login(t: &mut Transport, cfg: &ApiConfig) -> Result<(), RouterError> {
    let user = cfg.username.as_str();
    let plain = Command::new("/login")
        .attr("name", user)
        .attr("password", cfg.password.expose());
    let done = match exchange(t, cfg, &plain).await? {
        Ok(done) => done,
        Err(message) => return Err(login_refused(cfg, message)),
    };
    let Some(challenge) = done.text("ret") else {
        return Ok(());
    };
    // Pre-6.43: the router ignored our arguments and sent a challenge.
    let response = proto::challenge_response(cfg.password.expose(), &challenge).map_err(|e| {
        RouterError::Protocol {
            router: cfg.router.clone(),
            detail: e.to_string(),
        }
    })?;
    let answer = Command::new("/login")
        .attr("name", user)
        .attr("response", response);
    match exchange(t, cfg, &answer).await? {
        Ok(_) => Ok(()),
        Err(message) => Err(login_refused(cfg, message)),
    }
}

fn login_refused(cfg: &ApiConfig, message: String) -> RouterError {
    let lower = message.to_lowercase();
    if lower.contains("permission") || lower.contains("policy") {
        RouterError::MissingPolicy {
            router: cfg.router.clone(),
            user: cfg.username.clone(),
            policy: "api",
            message,
        }
    } else {
        RouterError::BadCredentials {
            router: cfg.router.clone(),
            user: cfg.username.clone(),
            message,
        }
    }
}

/// Sends one untagged command and reads until `!done`: `Ok(Ok(done))`, or
/// `Ok(Err(trap messages))` if the router trapped it.
async fn exchange(
    t: &mut Transport,
    cfg: &ApiConfig,
    cmd: &Command,
) -> Result<Result<Reply, String>, RouterError> {
    let protocol = |detail: String| RouterError::Protocol {
        router: cfg.router.clone(),
        detail,
    };
    t.send(cmd).await.map_err(|e| framing_error(cfg, e))?;
    let mut traps: Vec<String> = Vec::new();
    loop {
        let words = match t.next().await {
            None => {
                return Err(RouterError::Closed {
                    router: cfg.router.clone(),
                })
            }
            Some(Err(e)) => return Err(framing_error(cfg, e)),
            Some(Ok(words)) => words,
        };
        let reply = proto::parse_reply(&words).map_err(|e| protocol(e.to_string()))?;
        match reply.kind {
            ReplyKind::Fatal => {
                return Err(RouterError::Fatal {
                    router: cfg.router.clone(),
                    reason: reply.reason.unwrap_or_default(),
                })
            }
            ReplyKind::Trap => traps.push(
                reply
                    .text("message")
                    .unwrap_or_else(|| "(no message)".into()),
            ),
            ReplyKind::Re | ReplyKind::Empty => {}
            ReplyKind::Done if traps.is_empty() => return Ok(Ok(reply)),
            ReplyKind::Done => return Ok(Err(traps.join("; "))),
        }
    }
}

/// Maps a read/write failure: bad bytes are a protocol error, I/O means the link died.
pub(crate) fn framing_error(cfg: &ApiConfig, e: FramingError) -> RouterError {
    match e {
        FramingError::Proto(p) => RouterError::Protocol {
            router: cfg.router.clone(),
            detail: p.to_string(),
        },
        FramingError::Io(_) => RouterError::Closed {
            router: cfg.router.clone(),
        },
    }
}
