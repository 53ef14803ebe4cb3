//! A router handle for long-running work that must start while the router is down:
//! it connects on first use, and after a failed connect answers at once with the
//! last error until a back-off has passed, so a kiosk selling from its pool is
//! never held up by a router that does not answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::client::{ConnectionInfo, Router, RouterSettings};
use super::error::RouterError;
use super::hotspot::{HotspotApi, UserQuery};
use super::model::{
    ActiveSession, HotspotHost, HotspotUser, NewUser, SystemClock, SystemResource, UserProfile,
    UserUpdate, Word,
};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The longest wait while the router is down rather than refusing us (as the
/// connection's own back-off: `api::mux`).
const MAX_BACKOFF_DOWN: Duration = Duration::from_secs(2);

/// Cloneable; every clone shares one connection.
#[derive(Clone)]
pub struct SharedRouter {
    inner: Arc<Inner>,
}

struct Inner {
    settings: RouterSettings,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    router: Option<Router>,
    last_error: Option<RouterError>,
    retry_at: Option<Instant>,
    backoff: Option<hotspot_clock::Backoff>,
}

impl SharedRouter {
    /// A handle that has not connected yet.
    pub fn new(settings: RouterSettings) -> SharedRouter {
        SharedRouter {
            inner: Arc::new(Inner {
                settings,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// A handle over a router already connected.
    pub fn connected(settings: RouterSettings, router: Router) -> SharedRouter {
        SharedRouter {
            inner: Arc::new(Inner {
                settings,
                state: Mutex::new(State {
                    router: Some(router),
                    ..State::default()
                }),
            }),
        }
    }

    /// The router's configured name.
    pub fn name(&self) -> &str {
        &self.inner.settings.name
    }

    /// What the connection is, once connected.
    pub async fn info(&self) -> Option<ConnectionInfo> {
        self.inner
            .state
            .lock()
            .await
            .router
            .as_ref()
            .map(Router::info)
    }

    /// The connected router, connecting now unless a recent attempt failed.
    pub async fn get(&self) -> Result<Router, RouterError> {
        let mut state = self.inner.state.lock().await;
        if let Some(router) = &state.router {
            return Ok(router.clone());
        }
        if let (Some(at), Some(err)) = (state.retry_at, &state.last_error) {
            if Instant::now() < at {
                return Err(err.clone());
            }
        }
        match Router::connect(self.inner.settings.clone()).await {
            Ok(router) => {
                tracing::info!(
                    router = %self.name(),
                    transport = router.info().transport.as_str(),
                    version = %router.info().version_text,
                    "router connected"
                );
                state.router = Some(router.clone());
                state.last_error = None;
                state.retry_at = None;
                state.backoff = None;
                Ok(router)
            }
            Err(e) => {
                let wait = state
                    .backoff
                    .get_or_insert_with(|| hotspot_clock::Backoff::new(FIRST_BACKOFF, MAX_BACKOFF))
                    .failed();
                let wait = if e.refuses_us() {
                    wait
                } else {
                    wait.min(MAX_BACKOFF_DOWN)
                };
                state.retry_at = Some(Instant::now() + wait);
                state.last_error = Some(e.clone());
                tracing::warn!(router = %self.name(), error = %e, retry_in = ?wait, "router connect failed");
                Err(e)
            }
        }
    }
}

impl HotspotApi for SharedRouter {
    async fn transport(&self) -> Option<&'static str> {
        self.info().await.map(|i| i.transport.as_str())
    }
    async fn connect_now(&self) -> Result<(), RouterError> {
        self.get().await.map(drop)
    }
    async fn identity(&self) -> Result<String, RouterError> {
        self.get().await?.identity().await
    }
    async fn resource(&self) -> Result<SystemResource, RouterError> {
        self.get().await?.resource().await
    }
    async fn clock(&self) -> Result<SystemClock, RouterError> {
        self.get().await?.clock().await
    }
    async fn users(&self, query: &UserQuery) -> Result<Vec<HotspotUser>, RouterError> {
        self.get().await?.users(query).await
    }
    async fn add_user(&self, user: &NewUser) -> Result<String, RouterError> {
        self.get().await?.add_user(user).await
    }
    async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<(), RouterError> {
        self.get().await?.update_user(id, update).await
    }
    async fn remove_user(&self, id: &str) -> Result<(), RouterError> {
        self.get().await?.remove_user(id).await
    }
    async fn reset_user_counters(&self, id: &str) -> Result<(), RouterError> {
        self.get().await?.reset_user_counters(id).await
    }
    async fn profiles(&self) -> Result<Vec<UserProfile>, RouterError> {
        self.get().await?.profiles().await
    }
    async fn add_profile(&self, profile: &UserProfile) -> Result<String, RouterError> {
        self.get().await?.add_profile(profile).await
    }
    async fn set_profile(&self, id: &str, profile: &UserProfile) -> Result<(), RouterError> {
        self.get().await?.set_profile(id, profile).await
    }
    async fn remove_profile(&self, id: &str) -> Result<(), RouterError> {
        self.get().await?.remove_profile(id).await
    }
    async fn active(&self, user: Option<&Word>) -> Result<Vec<ActiveSession>, RouterError> {
        self.get().await?.active(user).await
    }
    async fn disconnect(&self, active_id: &str) -> Result<(), RouterError> {
        self.get().await?.disconnect(active_id).await
    }
    async fn hosts(&self) -> Result<Vec<HotspotHost>, RouterError> {
        self.get().await?.hosts().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firmware_config::{RouterConfig, Transport};

    fn settings(port: u16) -> RouterSettings {
        let cfg = RouterConfig {
            name: "down".into(),
            host: "127.0.0.1".into(),
            transport: Transport::Api,
            api_port: Some(port),
            ..RouterConfig::default()
        };
        RouterSettings::from_config(&cfg, 0).unwrap()
    }

    #[tokio::test]
    async fn a_router_that_is_down_fails_fast_until_the_backoff_passes() {
        // A port nothing listens on: bind, note the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let shared = SharedRouter::new(settings(port));
        let first = shared.identity().await.unwrap_err();
        assert!(matches!(first, RouterError::Unreachable { .. }), "{first}");
        let started = Instant::now();
        let second = shared.identity().await.unwrap_err();
        assert!(
            matches!(second, RouterError::Unreachable { .. }),
            "{second}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "answered from the back-off"
        );
        assert!(shared.info().await.is_none());
    }
}
