//! The shop owner's page: a few server-rendered pages served by `hotspot-agent run`
//! on the shop's network, behind a PIN. Off unless `[owner_page] enabled`; HTTPS
//! with a self-signed certificate kept in the state folder, or plain HTTP only on a
//! LAN address when the operator wrote `tls = false` (the config check refuses it
//! elsewhere). The README's "The owner's page" says what is exposed and why.

pub mod auth;
mod html;
mod pages;
pub mod pin;
pub mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use firmware_config::{Config, RouterConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::vouchers::Vouchers;
use routeros::SharedRouter;

pub use auth::Auth;
pub use pages::MAX_BATCH;

/// Connections served at once; more wait in the kernel's queue.
const MAX_CONNECTIONS: usize = 32;
/// A client that has not sent its request headers by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a connection is kept, whatever it does.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);

/// What the pages read and act on: the running service's own voucher layer, router
/// and kiosk.
pub struct PageContext {
    pub vouchers: Vouchers<SharedRouter>,
    pub config: Config,
    pub chosen: RouterConfig,
    /// The service's control, which prints a batch as `voucher batch --print` does.
    pub control: Arc<crate::control::ControlService>,
}

/// Why the page did not start. The rest of the agent runs on without it.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    Pin(#[from] pin::PinError),
    #[error(transparent)]
    Cert(#[from] tls::CertError),
    #[error("[owner_page] listen = {0:?} is not ADDRESS:PORT")]
    Listen(String),
    #[error("cannot listen on {addr} for the owner page: {source}; check [owner_page] listen (is the port free, is the address the box's?)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The shared state of the pages.
pub struct Page {
    ctx: PageContext,
    auth: Auth,
    pin_hash: String,
}

/// The client's address, set per connection.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub IpAddr);

/// The session cookie's token, for logging out.
#[derive(Clone)]
pub struct Token(String);

/// The names the certificate is made for: `localhost` and the listen address when it
/// is a single one.
pub fn cert_names(config: &Config) -> Vec<String> {
    let mut names = vec!["localhost".to_string()];
    if let Some(addr) = config.owner_page.listen_addr() {
        if !addr.ip().is_unspecified() {
            names.push(addr.ip().to_string());
        }
    }
    names
}

/// The certificate's SHA-256 as the browser shows it (made now if there is none yet).
pub fn fingerprint(config: &Config) -> Result<String, PageError> {
    let cert = tls::load_or_make(&tls::dir(&config.agent.state_dir), &cert_names(config))?;
    Ok(tls_pin::fingerprint_hex(&cert.fingerprint))
}

/// The pages and their login guard, without a listener (tests drive it directly).
pub fn router(page: Arc<Page>) -> axum::Router {
    let guarded = axum::Router::new()
        .route("/", get(pages::today))
        .route("/cash/collect", post(pages::collect))
        .route("/health", get(pages::health))
        .route("/users", get(pages::users))
        .route("/users/disconnect", post(pages::disconnect))
        .route("/batch", get(pages::batch_form).post(pages::batch))
        .route("/logout", post(pages::logout))
        .layer(middleware::from_fn_with_state(page.clone(), require_login));
    axum::Router::new()
        .route("/login", get(pages::login_form).post(pages::login))
        .merge(guarded)
        .layer(middleware::from_fn(same_origin))
        .layer(middleware::from_fn(headers))
        .layer(DefaultBodyLimit::max(16 * 1024))
        .with_state(page)
}

impl Page {
    /// The pages' state, with the PIN hash read from its file.
    pub fn new(ctx: PageContext) -> Result<Page, PageError> {
        let page = &ctx.config.owner_page;
        let pin_hash = pin::read_pin_file(&page.pin_path(&ctx.config.agent.state_dir))?;
        let auth = Auth::new(
            Duration::from_secs(u64::from(page.session_minutes) * 60),
            page.tls,
        );
        Ok(Page {
            ctx,
            auth,
            pin_hash,
        })
    }
}

/// No session cookie, or an expired one: to the login page.
async fn require_login(State(page): State<Arc<Page>>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(auth::token_from_cookies)
        .map(str::to_string);
    let session = token
        .as_deref()
        .and_then(|t| page.auth.session(t, Instant::now()));
    match (session, token) {
        (Some(s), Some(t)) => {
            req.extensions_mut().insert(s);
            req.extensions_mut().insert(Token(t));
            next.run(req).await
        }
        _ => Redirect::to("/login").into_response(),
    }
}

/// A form posted from another site is refused before anything else (the CSRF token
/// and the SameSite cookie refuse it too; this says so plainly).
async fn same_origin(req: Request, next: Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        if let Some(origin) = origin {
            let authority = origin.split_once("://").map(|(_, a)| a);
            if authority.is_none() || authority != host {
                return (StatusCode::FORBIDDEN, "cross-site form refused").into_response();
            }
        }
    }
    next.run(req).await
}

/// Headers on every answer: nothing cached, no framing, no scripts, no referrer to
/// other sites. (`no-referrer` would make the browser send `Origin: null` with the
/// page's own forms, which [`same_origin`] refuses.)
async fn headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

/// A running owner page.
pub struct OwnerPage {
    /// The address it listens on (the port is known here when the config said 0).
    pub addr: SocketAddr,
    /// `https` or `http`.
    pub scheme: &'static str,
    /// The accept loop; ends when the agent's cancel token fires.
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts the page from `[owner_page]`: reads the PIN hash, loads or makes the
/// certificate, binds, and serves until `cancel`.
pub async fn start(ctx: PageContext, cancel: CancellationToken) -> Result<OwnerPage, PageError> {
    let cfg = ctx.config.owner_page.clone();
    let addr = cfg
        .listen_addr()
        .ok_or_else(|| PageError::Listen(cfg.listen.clone()))?;
    let acceptor = if cfg.tls {
        let cert = tls::load_or_make(
            &tls::dir(&ctx.config.agent.state_dir),
            &cert_names(&ctx.config),
        )?;
        tracing::info!(fingerprint = %tls_pin::fingerprint_hex(&cert.fingerprint), "owner page certificate");
        Some(tokio_rustls::TlsAcceptor::from(cert.server_config()?))
    } else {
        None
    };
    let page = Arc::new(Page::new(ctx)?);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| PageError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| PageError::Bind { addr, source })?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let app = router(page);
    let task = tokio::spawn(accept_loop(listener, acceptor, app, cancel));
    Ok(OwnerPage { addr, scheme, task })
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: axum::Router,
    cancel: CancellationToken,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "owner page: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let app = app.clone().layer(axum::Extension(Peer(peer.ip())));
        let (tls, cancel) = (tls.clone(), cancel.clone());
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => serve_connection(stream, app, cancel).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => serve_connection(tls, app, cancel).await,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "owner page: TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "owner page: TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

async fn serve_connection<S>(io: S, app: axum::Router, cancel: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper_util::service::TowerToHyperService::new(app);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = tokio::time::timeout(CONNECTION_LIFETIME, conn) => {}
    }
}

#[cfg(all(test, feature = "sim"))]
mod tests;
