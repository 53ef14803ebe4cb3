//! The seed's admin endpoints as a small HTTP JSON API on the central side
//! (`hotspot-central serve-api`). Every request names a site and becomes the same
//! signed down message the command line sends: router settings are a signed,
//! retained `Routers` push (passwords sealed to the site's key), the rest are
//! signed commands whose reply is returned as the response. Requests carry
//! `Authorization: Bearer <token>`, the token read from a file only its owner can
//! read.
//!
//! | Method and path | Site command |
//! |---|---|
//! | `GET /api/sites` | none: the fleet view from the store |
//! | `GET /api/sites/{site}/settings` | none: the retained router settings, passwords left out |
//! | `POST /api/sites/{site}/settings` | `Routers` push |
//! | `POST /api/sites/{site}/test` | `TestRouter` |
//! | `GET /api/sites/{site}/users?active=true&profile=P` | `ListUsers`, every page |
//! | `DELETE /api/sites/{site}/users?username=U` | `RemoveUser` |
//! | `GET /api/sites/{site}/profiles` | `ListProfiles` |
//! | `POST /api/sites/{site}/voucher` `{"plan": "1h", "count": 1}` | `CreateVouchers` |

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use mqtt_link::{self as link, LinkConfig, LinkEvent, LinkHandle};
use sync_proto::envelope::decode;
use sync_proto::messages::{
    CommandOutput, CommandResult, Down, RouterSet, RouterSpec, SiteCommand, Up,
};
use sync_proto::topics::Topics;

use crate::store::Store;
use crate::verify::read_up;
use crate::Central;

/// What the API needs to run.
pub struct ApiConfig {
    pub link: LinkConfig,
    pub key: SigningKey,
    pub prefix: String,
    pub token: firmware_config::Secret,
    /// How long a command may take, and how long it stays valid on the site.
    pub timeout: Duration,
}

type Waiting = Arc<Mutex<HashMap<String, oneshot::Sender<CommandResult>>>>;

struct Api {
    central: Central,
    store: tokio::sync::Mutex<Store>,
    waiting: Waiting,
    link: LinkConfig,
    prefix: String,
    token: firmware_config::Secret,
    timeout: Duration,
}

/// An error response: status and a sentence saying what to do.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// Starts the API: connects to the broker (one link to send, one to hear replies)
/// and returns the router to serve.
pub async fn router(config: ApiConfig, store: Store) -> Router {
    let mut send = config.link.clone();
    send.client_id = format!("{}-api", config.link.client_id);
    send.clean_session = true;
    let central = Central::connect(send, config.key.clone(), &config.prefix, false);
    let waiting: Waiting = Arc::default();
    let mut hear = config.link.clone();
    hear.client_id = format!("{}-api-replies", config.link.client_id);
    hear.clean_session = true;
    hear.subscriptions = vec![format!("{}/site/+/reply", config.prefix)];
    let (reply_link, replies) = link::spawn(hear);
    let api = Arc::new(Api {
        central,
        store: tokio::sync::Mutex::new(store),
        waiting: waiting.clone(),
        link: config.link,
        prefix: config.prefix,
        token: config.token,
        timeout: config.timeout,
    });
    tokio::spawn(route_replies(api.clone(), reply_link, replies));
    let _ =
        tokio::time::timeout(Duration::from_secs(10), api.central.link().wait_connected()).await;
    Router::new()
        .route("/api/sites", get(sites))
        .route(
            "/api/sites/{site}/settings",
            get(get_settings).post(post_settings),
        )
        .route("/api/sites/{site}/test", post(test_router))
        .route("/api/sites/{site}/users", get(users).delete(remove_user))
        .route("/api/sites/{site}/profiles", get(profiles))
        .route("/api/sites/{site}/voucher", post(voucher))
        .with_state(api)
}

// Hands each verified reply to the request waiting for it.
async fn route_replies(api: Arc<Api>, _link: LinkHandle, mut events: mpsc::Receiver<LinkEvent>) {
    let mut keys: HashMap<String, VerifyingKey> = HashMap::new();
    while let Some(event) = events.recv().await {
        let LinkEvent::Message { topic, payload, .. } = event else {
            continue;
        };
        let Ok(unverified) = read_up(&api.prefix, &topic, &payload) else {
            tracing::warn!(topic, "unreadable reply ignored");
            continue;
        };
        let site = unverified.site.clone();
        let key = match keys.get(&site) {
            Some(k) => *k,
            None => match api.store.lock().await.site_key(&site).await {
                Ok(Some(k)) => {
                    keys.insert(site.clone(), k);
                    k
                }
                _ => continue,
            },
        };
        let Ok(env) = unverified.verify(&key) else {
            tracing::warn!(topic, "reply not signed by the site; ignored");
            continue;
        };
        if let Up::Reply(reply) = env.body {
            let waiter = api
                .waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&reply.request_id);
            if let Some(tx) = waiter {
                let _ = tx.send(reply.result);
            }
        }
    }
}

// Constant time: the comparison takes as long whatever the first wrong byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorised(api: &Api, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if same(given.as_bytes(), api.token.expose().as_bytes()) {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "send `Authorization: Bearer <the token in --token-file>`".into(),
        ))
    }
}

async fn site_key(api: &Api, site: &str) -> Result<VerifyingKey, ApiError> {
    match api.store.lock().await.site_key(site).await {
        Ok(Some(k)) => Ok(k),
        Ok(None) => Err(ApiError(
            StatusCode::NOT_FOUND,
            crate::CentralError::Unregistered(site.into()).to_string(),
        )),
        Err(e) => Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
    }
}

/// Sends one signed command and waits for the site's signed reply.
async fn command(api: &Api, site: &str, command: SiteCommand) -> Result<CommandResult, ApiError> {
    site_key(api, site).await?;
    let (request_id, bytes) = api.central.command_bytes(site, command, api.timeout);
    let (tx, rx) = oneshot::channel();
    api.waiting
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(request_id.clone(), tx);
    let sent = api
        .central
        .publish_raw(&Topics::new(&api.prefix, site).cmd(), bytes, false)
        .await;
    let result = match sent {
        Ok(()) => tokio::time::timeout(api.timeout, rx)
            .await
            .ok()
            .and_then(|r| r.ok()),
        Err(e) => {
            tracing::warn!(error = %e, "cannot send a command");
            None
        }
    };
    api.waiting
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&request_id);
    result.ok_or_else(|| {
        ApiError(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "no reply from site {site} within {} s: is it online? (GET /api/sites)",
                api.timeout.as_secs()
            ),
        )
    })
}

fn reply(site: &str, result: CommandResult) -> ApiResult {
    match result {
        CommandResult::Ok(output) => Ok(Json(json!({ "site": site, "ok": output }))),
        CommandResult::Err(why) => Err(ApiError(
            StatusCode::BAD_GATEWAY,
            format!("site {site}: {why}"),
        )),
    }
}

async fn sites(State(api): State<Arc<Api>>, headers: HeaderMap) -> ApiResult {
    authorised(&api, &headers)?;
    let store = api.store.lock().await;
    let rows = crate::fleet::fleet(&store, None)
        .await
        .map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    Ok(Json(json!({ "sites": rows })))
}

#[derive(Deserialize)]
struct RouterIn {
    name: String,
    host: String,
    port: Option<u16>,
    #[serde(default = "auto")]
    transport: String,
    username: String,
    /// Sealed to the site before it leaves this process; `None` keeps the site's own.
    password: Option<String>,
    hotspot_server: Option<String>,
    default_profile: Option<String>,
}

fn auto() -> String {
    "auto".into()
}

#[derive(Deserialize)]
struct SettingsIn {
    version: Option<u64>,
    routers: Vec<RouterIn>,
}

// The same rules as a config file's `[[router]]`: names unique and plain, a host,
// a user, a known transport.
fn check_routers(routers: &[RouterIn]) -> Result<(), String> {
    if routers.is_empty() {
        return Err("`routers` is empty: give at least one router".into());
    }
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic());
    for (i, r) in routers.iter().enumerate() {
        if !plain(&r.name) || !plain(&r.host) || !plain(&r.username) {
            return Err(format!(
                "router {}: name, host and username must be non-empty printable ASCII without spaces",
                i + 1
            ));
        }
        if !["auto", "api", "api-ssl", "rest"].contains(&r.transport.as_str()) {
            return Err(format!(
                "router {}: transport {:?} is none of auto, api, api-ssl, rest",
                r.name, r.transport
            ));
        }
        if routers[..i].iter().any(|o| o.name == r.name) {
            return Err(format!("router name {:?} appears twice", r.name));
        }
    }
    Ok(())
}

async fn post_settings(
    State(api): State<Arc<Api>>,
    Path(site): Path<String>,
    headers: HeaderMap,
    Json(body): Json<SettingsIn>,
) -> ApiResult {
    authorised(&api, &headers)?;
    check_routers(&body.routers).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
    let key = site_key(&api, &site).await?;
    let mut routers = Vec::new();
    for r in body.routers {
        let password_sealed = match &r.password {
            Some(p) => Some(
                sync_proto::seal::seal_to_site(&key, p)
                    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
            ),
            None => None,
        };
        routers.push(RouterSpec {
            name: r.name,
            host: r.host,
            port: r.port,
            transport: r.transport,
            username: r.username,
            password_sealed,
            hotspot_server: r.hotspot_server,
            default_profile: r.default_profile,
        });
    }
    let version = body.version.unwrap_or_else(sync_proto::now_ms);
    let set = RouterSet {
        version,
        target: site.clone(),
        routers,
    };
    api.central
        .push_routers(&site, set)
        .await
        .map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    Ok(Json(json!({
        "site": site,
        "pushed": { "version": version },
        "note": "the site's report comes on up/report (hotspot-central watch or sales store)"
    })))
}

async fn get_settings(
    State(api): State<Arc<Api>>,
    Path(site): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    authorised(&api, &headers)?;
    site_key(&api, &site).await?;
    let topic = Topics::new(&api.prefix, &site).routers();
    let mut config = api.link.clone();
    config.client_id = format!("{}-api-read", api.link.client_id);
    let got = crate::fleet::read_retained(
        config,
        vec![topic],
        Duration::from_millis(1000),
        Duration::from_secs(5),
    )
    .await
    .ok_or_else(|| ApiError(StatusCode::SERVICE_UNAVAILABLE, "broker not reached".into()))?;
    let own = api.central_public();
    let set = got.iter().find_map(|(_, payload)| {
        let d = decode::<Down>(payload).ok()?;
        sync_proto::sign::verify(d.signed_bytes, d.envelope.sig.as_deref(), &own).ok()?;
        match d.envelope.body {
            Down::Routers(set) if set.target == site => Some(set),
            _ => None,
        }
    });
    let Some(set) = set else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no router settings pushed to {site} yet: POST them to this path"),
        ));
    };
    let routers: Vec<Value> = set
        .routers
        .iter()
        .map(|r| {
            json!({
                "name": r.name, "host": r.host, "port": r.port, "transport": r.transport,
                "username": r.username, "password_set": r.password_sealed.is_some(),
                "hotspot_server": r.hotspot_server, "default_profile": r.default_profile,
            })
        })
        .collect();
    Ok(Json(
        json!({ "site": site, "version": set.version, "routers": routers }),
    ))
}

impl Api {
    fn central_public(&self) -> VerifyingKey {
        self.central.public_key()
    }
}

#[derive(Deserialize, Default)]
struct RouterQuery {
    router: Option<String>,
}

async fn test_router(
    State(api): State<Arc<Api>>,
    Path(site): Path<String>,
    headers: HeaderMap,
    body: Option<Json<RouterQuery>>,
) -> ApiResult {
    authorised(&api, &headers)?;
    let router = body.and_then(|b| b.0.router);
    reply(
        &site,
        command(&api, &site, SiteCommand::TestRouter { router }).await?,
    )
}

#[derive(Deserialize)]
struct UsersQuery {
    router: Option<String>,
    active: Option<bool>,
    profile: Option<String>,
}

async fn users(
    State(api): State<Arc<Api>>,
    Path(site): Path<String>,
    headers: HeaderMap,
    Query(q): Query<UsersQuery>,
) -> ApiResult {
    authorised(&api, &headers)?;
    let ask = |offset| SiteCommand::ListUsers {
        router: q.router.clone(),
        active: q.active,
        profile: q.profile.clone(),
        offset,
    };
    let mut result = command(&api, &site, ask(0)).await?;
    // Long lists come in pages that each fit a message: fetched and joined here.
    while let CommandResult::Ok(CommandOutput::Users(page)) = &mut result {
        let Some(offset) = page.next_offset.take() else {
            break;
        };
        match command(&api, &site, ask(offset)).await? {
            CommandResult::Ok(CommandOutput::Users(more)) => {
                page.users.extend(more.users);
                page.next_offset = more.next_offset;
            }
            other => return reply(&site, other),
        }
    }
    reply(&site, result)
}

#[derive(Deserialize)]
struct UserQuery {
    username: String,
}

async fn remove_user(
    State(api): State<Arc<Api>>,
    Path(site): Path<String>,
    headers: HeaderMap,
    Query(q): Query<UserQuery>,
) -> ApiResult {
    authorised(&api, &headers)?;
    let command_ = SiteCommand::RemoveUser {
        username: q.username,
    };
    reply(&site, command(&api, &site, command_).await?)
}

async fn profiles(
    State(api): State<Arc<Api>>,
    Path(site): Path<String>,
    headers: HeaderMap,
    Query(q): Query<RouterQuery>,
) -> ApiResult {
    authorised(&api, &headers)?;
    let c = SiteCommand::ListProfiles { router: q.router };
    reply(&site, command(&api, &site, c).await?)
}

#[derive(Deserialize)]
struct VoucherIn {
    plan: String,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

async fn voucher(
    State(api): State<Arc<Api>>,
    Path(site): Path<String>,
    headers: HeaderMap,
    Json(body): Json<VoucherIn>,
) -> ApiResult {
    authorised(&api, &headers)?;
    if body.count == 0 || body.count > 1000 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "count must be 1 to 1000".into(),
        ));
    }
    let c = SiteCommand::CreateVouchers {
        plan_id: body.plan,
        count: body.count,
    };
    reply(&site, command(&api, &site, c).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, transport: &str) -> RouterIn {
        RouterIn {
            name: name.into(),
            host: "192.168.88.1".into(),
            port: None,
            transport: transport.into(),
            username: "api".into(),
            password: None,
            hotspot_server: None,
            default_profile: None,
        }
    }

    #[test]
    fn a_command_the_site_refused_is_a_502_carrying_the_sites_reason() {
        let why = "NOTANID was not created by this agent; it is left alone";
        let Err(ApiError(status, text)) = reply("shop", CommandResult::Err(why.into())) else {
            panic!("a refusal answered as done");
        };
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert_eq!(text, format!("site shop: {why}"));
    }

    #[test]
    fn router_settings_are_checked_as_a_config_file_is() {
        assert!(check_routers(&[r("main", "api"), r("annex", "rest")]).is_ok());
        assert!(check_routers(&[]).is_err());
        assert!(check_routers(&[r("main", "api"), r("main", "api")]).is_err());
        assert!(check_routers(&[r("main", "telnet")]).is_err());
        assert!(check_routers(&[r("ma\u{200b}in", "api")]).is_err());
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
    }
}
