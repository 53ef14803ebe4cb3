//! The central office as a service: the ingest into PostgreSQL (a throwaway cluster
//! from Debian's package), workers sharing the subscriptions and killed mid-burst,
//! the fleet view and the admin API, against a real mosquitto and sites running the
//! agent's own sync code.

mod api;
mod fleet;
mod ingest;
mod workers;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use hotspot_agent::sync::*;
use mqtt_link::LinkConfig;
use sync_proto::messages::*;

pub const PREFIX: &str = "hs";

pub fn central_key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

pub fn site_key(n: u32) -> SiteIdentity {
    let mut b = [0u8; 32];
    b[..4].copy_from_slice(&n.to_le_bytes());
    b[31] = 7;
    SiteIdentity::from_key(SigningKey::from_bytes(&b))
}

pub fn site_name(n: u32) -> String {
    format!("site-{n:02}")
}

pub fn link(port: u16, client_id: &str) -> LinkConfig {
    hotspot_tests::mosquitto::client_link(port, client_id)
}

/// A site that answers commands like a small router would.
#[derive(Default)]
pub struct SimActions {
    pub commands: std::sync::Mutex<Vec<SiteCommand>>,
    pub routers: std::sync::Mutex<Vec<RouterSet>>,
}

impl AgentActions for SimActions {
    async fn apply_plans(&self, _: PlanSet) -> Result<AppliedReport, ActionError> {
        Ok(AppliedReport::default())
    }
    async fn apply_routers(
        &self,
        routers: RouterSet,
        _: Vec<Option<firmware_config::Secret>>,
    ) -> Result<AppliedReport, ActionError> {
        self.routers.lock().unwrap().push(routers);
        Ok(AppliedReport {
            actions: vec!["router main: up".into()],
            warnings: vec![],
        })
    }
    async fn run_command(&self, command: SiteCommand) -> CommandResult {
        self.commands.lock().unwrap().push(command.clone());
        match command {
            SiteCommand::ListUsers { .. } => CommandResult::Ok(CommandOutput::Users(UsersPage {
                users: vec![UserInfo {
                    name: "K7H3AB".into(),
                    profile: "fast".into(),
                    active: true,
                    ..Default::default()
                }],
                total: 1,
                next_offset: None,
            })),
            SiteCommand::CreateVouchers { plan_id, count } => {
                CommandResult::Ok(CommandOutput::Done(format!("{count} x {plan_id} sold")))
            }
            SiteCommand::RemoveUser { username } => {
                CommandResult::Ok(CommandOutput::Done(format!("{username} removed")))
            }
            other => CommandResult::Ok(CommandOutput::Done(format!("{other:?} done"))),
        }
    }
}

/// One simulated site: the agent's outbox and sync task on its own SQLite file.
pub struct Site {
    pub name: String,
    pub handle: SiteHandle,
    pub outbox: Arc<SqliteOutbox>,
    pub actions: Arc<SimActions>,
    _dir: tempfile::TempDir,
}

/// The epoch the hand-made outbox rows of site `n` carry.
pub fn epoch(n: u32) -> String {
    format!("{n:016x}")
}

pub fn sale(n: u32, i: u32) -> SaleRecord {
    SaleRecord {
        sale_id: format!("{i:06}"),
        code: format!("S{n:02}V{i:05}"),
        plan_id: "1h".into(),
        price: 5,
        currency: "PHP".into(),
        sold_at_ms: 1_800_000_000_000 + i as u64,
        router: "main".into(),
        state: "delivered".into(),
        channel: "coins".into(),
    }
}

/// Starts site `n` with `sales` sales waiting in its outbox.
pub fn start_site(port: u16, n: u32, sales: u32) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let outbox = Arc::new(SqliteOutbox::open(&db).unwrap());
    let state = Arc::new(SyncState::open(&db).unwrap());
    for i in 0..sales {
        let (msg_id, kind, payload) = outbox_payload_for_sale(&epoch(n), &sale(n, i));
        outbox
            .enqueue(&msg_id, kind, &payload, 1_800_000_000_000 + i as u64)
            .unwrap();
    }
    let settings = SiteSettings {
        site: site_name(n),
        topic_prefix: PREFIX.into(),
        central_key: central_key().verifying_key(),
        identity: site_key(n),
        resend_after: Duration::from_secs(3),
        window: 500,
        status_interval: Duration::from_secs(3600),
        agent_version: "test".into(),
    };
    let actions = Arc::new(SimActions::default());
    let handle = spawn_site(
        link(port, &format!("{}-agent", site_name(n))),
        settings,
        outbox.clone(),
        state,
        actions.clone(),
    );
    Site {
        name: site_name(n),
        handle,
        outbox,
        actions,
        _dir: dir,
    }
}

/// The central key in a file, as `hotspot-central keygen` writes it.
pub fn write_central_key(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("central.key");
    std::fs::write(
        &path,
        format!("{}\n", hex::encode(central_key().to_bytes())),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// `hotspot-central` with the connection flags for this broker and store.
pub fn central_cmd(port: u16, key: &std::path::Path, store: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_central-under-test"));
    c.args([
        "--broker",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--prefix",
        PREFIX,
    ])
    .arg("--key")
    .arg(key)
    .args(store)
    .env("HOTSPOT_CENTRAL_LOG", "warn");
    c
}

/// Runs a `hotspot-central` command to completion; panics with its stderr on failure.
pub fn central_ok(mut cmd: Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("run hotspot-central");
    assert!(
        out.status.success(),
        "hotspot-central failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A child process killed (SIGKILL) when dropped.
pub struct Worker(pub Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `f` is true, up to `secs`; panics with `what` otherwise.
pub async fn wait_until<F: std::future::Future<Output = bool>>(
    secs: u64,
    what: &str,
    mut f: impl FnMut() -> F,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An ingest worker in this process on `store`; send on the returned channel to stop
/// it, and the task returns what it did.
pub async fn spawn_worker(
    port: u16,
    client_id: &str,
    mut store: hotspot_central::store::Store,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<hotspot_central::ingest::IngestStats>,
) {
    use hotspot_central::ingest::{IngestOptions, IngestWorker};
    let mut worker = IngestWorker::connect(
        link(port, client_id),
        central_key(),
        PREFIX,
        IngestOptions::default(),
    );
    worker.link().wait_connected().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        let stats = worker
            .run(&mut store, async {
                let _ = stop_rx.await;
            })
            .await;
        worker.shutdown().await;
        stats
    });
    (stop_tx, run)
}
