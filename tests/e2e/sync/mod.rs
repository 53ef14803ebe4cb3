//! The central office link against a real mosquitto: sales up exactly once and in
//! order across a broker outage, signed plan sets down, commands, garbage, TLS, and
//! the central tool. This file holds the shared fixtures; one module per area.

mod acl;
mod cash;
mod commands;
mod events;
mod orders;
mod outage;
mod plans;
mod pushed;
mod tls;
mod tool;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use hotspot_agent::sync::*;
use hotspot_central::{Central, CentralDb, Received};
use hotspot_tests::mosquitto::Mosquitto;
use mqtt_link::LinkConfig;
use mqtt_link::{client_config, fingerprint, TlsSettings};
use sync_proto::envelope::{decode, Envelope};
use sync_proto::messages::*;
use sync_proto::sign::{self, sign};

pub const SITE: &str = "site-7";
pub const PREFIX: &str = "hs";

fn central_key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

/// The test site's own key, registered at the central side by [`start_central`].
fn site_identity() -> SiteIdentity {
    SiteIdentity::from_key(SigningKey::from_bytes(&[7u8; 32]))
}

fn link(port: u16, client_id: &str) -> LinkConfig {
    hotspot_tests::mosquitto::client_link(port, client_id)
}

/// Records what the central office asked the agent to do.
#[derive(Default)]
struct FakeActions {
    plans: Mutex<Vec<PlanSet>>,
    routers: Mutex<Vec<(RouterSet, Vec<Option<firmware_config::Secret>>)>>,
    commands: Mutex<Vec<SiteCommand>>,
}

impl AgentActions for FakeActions {
    async fn apply_plans(&self, plans: PlanSet) -> Result<AppliedReport, ActionError> {
        let names = plans
            .profiles
            .iter()
            .map(|p| format!("profile {} created", p.name))
            .collect();
        self.plans.lock().unwrap().push(plans);
        Ok(AppliedReport {
            actions: names,
            warnings: vec![],
        })
    }
    async fn apply_routers(
        &self,
        routers: RouterSet,
        passwords: Vec<Option<firmware_config::Secret>>,
    ) -> Result<AppliedReport, ActionError> {
        self.routers.lock().unwrap().push((routers, passwords));
        Ok(AppliedReport {
            actions: vec!["router main: up".into()],
            warnings: vec![],
        })
    }
    async fn run_command(&self, command: SiteCommand) -> CommandResult {
        self.commands.lock().unwrap().push(command.clone());
        match command {
            SiteCommand::ListUsers { profile, .. } => {
                CommandResult::Ok(CommandOutput::Users(UsersPage {
                    users: vec![UserInfo {
                        name: "ABC123".into(),
                        profile: profile.unwrap_or_default(),
                        active: true,
                        ..Default::default()
                    }],
                    total: 1,
                    next_offset: None,
                }))
            }
            other => CommandResult::Ok(CommandOutput::Done(format!("{other:?} done"))),
        }
    }
}

struct Site {
    handle: SiteHandle,
    outbox: Arc<SqliteOutbox>,
    state: Arc<SyncState>,
    actions: Arc<FakeActions>,
    _dir: tempfile::TempDir,
}

fn site_settings() -> SiteSettings {
    SiteSettings {
        site: SITE.into(),
        topic_prefix: PREFIX.into(),
        central_key: central_key().verifying_key(),
        identity: site_identity(),
        resend_after: Duration::from_secs(3),
        window: 500,
        status_interval: Duration::from_secs(3600),
        agent_version: "test".into(),
    }
}

fn open_site_db() -> (tempfile::TempDir, Arc<SqliteOutbox>, Arc<SyncState>) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let outbox = Arc::new(SqliteOutbox::open(&db).unwrap());
    let state = Arc::new(SyncState::open(&db).unwrap());
    (dir, outbox, state)
}

fn start_site(port: u16, db: (tempfile::TempDir, Arc<SqliteOutbox>, Arc<SyncState>)) -> Site {
    start_site_with(port, db, site_settings())
}

fn start_site_with(
    port: u16,
    db: (tempfile::TempDir, Arc<SqliteOutbox>, Arc<SyncState>),
    settings: SiteSettings,
) -> Site {
    start_site_on(link(port, "site-7-agent"), db, settings)
}

fn start_site_on(
    link: LinkConfig,
    db: (tempfile::TempDir, Arc<SqliteOutbox>, Arc<SyncState>),
    settings: SiteSettings,
) -> Site {
    let (dir, outbox, state) = db;
    let actions = Arc::new(FakeActions::default());
    let handle = spawn_site(
        link,
        settings,
        outbox.clone(),
        state.clone(),
        actions.clone(),
    );
    Site {
        handle,
        outbox,
        state,
        actions,
        _dir: dir,
    }
}

/// A broker, a central office with the test site registered, and the test site on
/// a fresh state folder, connected and subscribed.
async fn connected_trio() -> (Mosquitto, tempfile::TempDir, Central, CentralDb, Site) {
    let broker = Mosquitto::start();
    let cdir = tempfile::tempdir().unwrap();
    let (central, cdb) = start_central(broker.port, cdir.path()).await;
    let site = start_site(broker.port, open_site_db());
    site.handle.link().wait_connected().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    (broker, cdir, central, cdb, site)
}

async fn start_central(port: u16, db_dir: &std::path::Path) -> (Central, CentralDb) {
    let central = Central::connect(link(port, "central-test"), central_key(), PREFIX, true);
    assert!(
        central.wait_connected(Duration::from_secs(5)).await,
        "central connects"
    );
    // Let the SUBSCRIBE reach the broker before anything is published.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let db = CentralDb::open(&db_dir.join("central.db")).unwrap();
    db.register_site(SITE, &site_identity().public_hex())
        .unwrap();
    (central, db)
}

/// The epoch the tests' hand-made outbox rows carry.
pub const EPOCH: &str = "00e2e00e2e00e2e0";

fn sale(i: u32) -> SaleRecord {
    SaleRecord {
        sale_id: format!("{i:05}"),
        code: format!("V{i:05}"),
        plan_id: "1h".into(),
        price: 5,
        currency: "PHP".into(),
        sold_at_ms: 1_700_000_000_000 + i as u64,
        router: "main".into(),
        state: "delivered".into(),
        channel: "coins".into(),
    }
}

/// Receives until `pred` returns true for a message, or panics after `secs`.
async fn until(
    central: &mut Central,
    db: &CentralDb,
    secs: u64,
    mut pred: impl FnMut(&Received) -> bool,
) -> Received {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, central.next(db)).await {
            Ok(Some(r)) if pred(&r) => return r,
            Ok(Some(_)) => {}
            Ok(None) => panic!("central link closed"),
            Err(_) => panic!("nothing matching arrived within {secs} s"),
        }
    }
}

fn plan_set(version: u64, target: &str) -> PlanSet {
    PlanSet {
        version,
        target: target.into(),
        currency: "PHP".into(),
        plans: vec![PlanSpec {
            id: "1h".into(),
            name: "One hour".into(),
            price: 5,
            time_limit_s: Some(3600),
            profile: "fast".into(),
            kiosk: true,
            ..Default::default()
        }],
        profiles: vec![ProfileSpec {
            name: "fast".into(),
            rate_limit: Some("1M/4M".into()),
            ..Default::default()
        }],
    }
}

fn signed_plans(version: u64, key: &SigningKey) -> Vec<u8> {
    let mut env = Envelope::new(
        format!("plans-v{version}"),
        SITE,
        0,
        Down::Plans(plan_set(version, SITE)),
    );
    sign(&mut env, key);
    env.encode()
}

/// Runs `SyncProfiles` on the site, expects it to succeed, and returns what else
/// arrived meanwhile.
async fn sync_profiles_ok(central: &mut Central, db: &CentralDb) -> Vec<Received> {
    let (result, seen) = central
        .command(db, SITE, SiteCommand::SyncProfiles, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(matches!(result, CommandResult::Ok(_)), "{result:?}");
    seen
}

async fn next_report(central: &mut Central, db: &CentralDb) -> Report {
    let r = until(central, db, 10, |r| {
        matches!(r.envelope.body, Up::Report(_))
    })
    .await;
    match r.envelope.body {
        Up::Report(rep) => rep,
        _ => unreachable!(),
    }
}
