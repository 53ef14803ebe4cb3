//! The sync part of `hotspot-agent demo`: an embedded broker (rumqttd), a site and a
//! central office in one process, showing sales going up and a plan update coming down.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::outbox::{outbox_payload_for_sale, OutboxStore, SqliteOutbox};
use super::site::{spawn, SiteSettings};
use super::state::SyncState;
use super::{ActionError, AgentActions};
use hotspot_central::{Central, CentralDb};
use hotspot_clock::now_ms;
use mqtt_link::LinkConfig;
use sync_proto::messages::*;

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("embedded broker: {0}")]
    Broker(String),
    #[error("demo state: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Outbox(#[from] super::outbox::OutboxError),
    #[error("{0}")]
    Central(#[from] hotspot_central::CentralError),
    #[error("the demo expected {0} and it did not come within 10 s")]
    Timeout(&'static str),
}

/// Starts rumqttd on 127.0.0.1 at a free port, on its own threads, and returns the port.
pub fn start_embedded_broker() -> Result<u16, DemoError> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    let server = rumqttd::ServerSettings {
        name: "demo".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections: rumqttd::ConnectionSettings {
            connection_timeout_ms: 5000,
            max_payload_size: 1 << 20,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let config = rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 64,
            max_outgoing_packet_count: 200,
            max_segment_size: 1 << 20,
            max_segment_count: 10,
            ..Default::default()
        },
        v4: Some(HashMap::from([("demo".to_string(), server)])),
        ..Default::default()
    };
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded broker stopped");
            }
        })?;
    for _ in 0..250 {
        if TcpStream::connect(listen).is_ok() {
            return Ok(port);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(DemoError::Broker(format!("did not listen on {listen}")))
}

/// Stands in for the vouchers and router code: applies plans by remembering them.
#[derive(Default)]
struct DemoActions {
    prices: Mutex<Vec<(String, u64)>>,
}

impl AgentActions for DemoActions {
    async fn apply_plans(&self, plans: PlanSet) -> Result<AppliedReport, ActionError> {
        let mut prices = self
            .prices
            .lock()
            .map_err(|_| ActionError::Unavailable("demo state poisoned"))?;
        *prices = plans
            .plans
            .iter()
            .map(|p| (p.id.clone(), p.price))
            .collect();
        Ok(AppliedReport {
            actions: plans
                .profiles
                .iter()
                .map(|p| format!("profile {} created", p.name))
                .chain(
                    plans
                        .plans
                        .iter()
                        .map(|p| format!("plan {} now costs {}", p.id, p.price)),
                )
                .collect(),
            warnings: vec![],
        })
    }
    async fn apply_routers(
        &self,
        routers: RouterSet,
        _passwords: Vec<Option<firmware_config::Secret>>,
    ) -> Result<AppliedReport, ActionError> {
        Ok(AppliedReport {
            actions: routers
                .routers
                .iter()
                .map(|r| format!("router {} stored", r.name))
                .collect(),
            warnings: vec![],
        })
    }
    async fn run_command(&self, command: SiteCommand) -> CommandResult {
        CommandResult::Ok(CommandOutput::Done(format!("{command:?} (demo)")))
    }
}

fn link(port: u16, id: &str) -> LinkConfig {
    LinkConfig {
        host: "127.0.0.1".into(),
        port,
        client_id: id.into(),
        username: None,
        password: None,
        tls: None,
        keep_alive: Duration::from_secs(30),
        clean_session: false,
        last_will: None,
        subscriptions: vec![],
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_secs(2),
    }
}

/// Runs the demo, handing each line to show (JSON lines of what the central office sees).
// Long on purpose: the sync demo's script from broker start to shutdown, printed step by step.
pub async fn run(mut show: impl FnMut(String)) -> Result<(), DemoError> {
    let port = start_embedded_broker()?;
    show(format!(
        "embedded MQTT broker (rumqttd) on 127.0.0.1:{port}"
    ));
    let dir = std::env::temp_dir().join(format!("hotspot-sync-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let key = sync_proto::sign::generate()
        .map_err(|e| DemoError::Broker(format!("no random source: {e}")))?;
    let db = CentralDb::open(&dir.join("central.db"))?;
    let mut central = Central::connect(link(port, "demo-central"), key.clone(), "hotspot", true);
    if !central.wait_connected(Duration::from_secs(10)).await {
        return Err(DemoError::Timeout("the central office to connect"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let outbox = Arc::new(SqliteOutbox::open(&dir.join("agent.db"))?);
    let state = Arc::new(SyncState::open(&dir.join("agent.db"))?);
    for i in 1..=3u32 {
        let sale = SaleRecord {
            sale_id: format!("demo-{i}"),
            code: format!("DEMO{i:04}"),
            plan_id: "1h".into(),
            price: 5,
            currency: "PHP".into(),
            sold_at_ms: now_ms(),
            router: "sim".into(),
            state: "delivered".into(),
            channel: "coins".into(),
        };
        let (msg_id, kind, payload) = outbox_payload_for_sale("demo", &sale);
        outbox.enqueue(&msg_id, kind, &payload, now_ms())?;
    }
    show("3 sales waiting in the site's outbox; starting the site's link".into());
    let identity = super::SiteIdentity::from_key(
        sync_proto::sign::generate()
            .map_err(|e| DemoError::Broker(format!("no random source: {e}")))?,
    );
    db.register_site("demo-site", &identity.public_hex())?;
    let settings = SiteSettings {
        site: "demo-site".into(),
        topic_prefix: "hotspot".into(),
        central_key: key.verifying_key(),
        identity,
        resend_after: Duration::from_secs(5),
        window: 500,
        status_interval: Duration::from_secs(3600),
        agent_version: env!("CARGO_PKG_VERSION").into(),
    };
    let actions = Arc::new(DemoActions::default());
    let site = spawn(
        link(port, "demo-site"),
        settings,
        outbox.clone(),
        state,
        actions.clone(),
    );

    let mut pushed = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = tokio::time::timeout_at(deadline, central.next(&db)).await;
        let Ok(Some(r)) = got else {
            return Err(DemoError::Timeout("3 sales and a plan report"));
        };
        show(hotspot_central::json_line(&r));
        let sales = db.sales_since(0)?.len();
        if sales == 3 && !pushed {
            pushed = true;
            show("central office: pushing plan set (1h now 10 PHP), signed".into());
            let plans = PlanSet {
                version: now_ms(),
                target: String::new(),
                currency: "PHP".into(),
                plans: vec![PlanSpec {
                    id: "1h".into(),
                    name: "1 hour".into(),
                    price: 10,
                    time_limit_s: Some(3600),
                    profile: "fast".into(),
                    kiosk: true,
                    ..Default::default()
                }],
                profiles: vec![ProfileSpec {
                    name: "fast".into(),
                    rate_limit: Some("2M/8M".into()),
                    ..Default::default()
                }],
            };
            central.push_plans(Some("demo-site"), plans).await?;
        }
        if matches!(r.envelope.body, Up::Report(_)) {
            break;
        }
    }
    central.flush_acks(&db).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    show(format!(
        "site: prices now {:?}; outbox backlog {}",
        actions.prices.lock().map(|p| p.clone()).unwrap_or_default(),
        outbox.backlog()?
    ));
    site.shutdown().await;
    central.shutdown(&db).await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_demo_shows_sales_going_up_and_a_plan_update_coming_down() {
        let mut lines = Vec::new();
        super::run(|l| lines.push(l)).await.unwrap();
        let text = lines.join("\n");
        eprintln!("{text}");
        assert_eq!(text.matches("\"kind\":\"sale\"").count(), 3, "{text}");
        assert!(text.contains("\"Applied\""), "{text}");
        assert!(
            text.contains("prices now [(\"1h\", 10)]; outbox backlog 0"),
            "{text}"
        );
    }
}
