//! The central office link against a real mosquitto: sales up exactly once and in
//! order across a broker outage, signed plan sets down, commands, garbage, TLS.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use hotspot_agent::sync::central::{Central, CentralDb, Received};
use hotspot_agent::sync::envelope::Envelope;
use hotspot_agent::sync::link::LinkConfig;
use hotspot_agent::sync::sign::{self, sign};
use hotspot_agent::sync::tls::{client_config, fingerprint, TlsSettings};
use hotspot_agent::sync::*;
use hotspot_tests::mosquitto::Mosquitto;

const SITE: &str = "site-7";
const PREFIX: &str = "hs";

fn central_key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

fn link(port: u16, client_id: &str) -> LinkConfig {
    LinkConfig {
        host: "127.0.0.1".into(),
        port,
        client_id: client_id.into(),
        username: None,
        password: None,
        tls: None,
        keep_alive: Duration::from_secs(5),
        clean_session: false,
        last_will: None,
        subscriptions: vec![],
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
    }
}

/// Records what the central office asked the agent to do.
#[derive(Default)]
struct FakeActions {
    plans: Mutex<Vec<PlanSet>>,
    routers: Mutex<Vec<RouterSettings>>,
    commands: Mutex<Vec<Command>>,
}

impl AgentActions for FakeActions {
    async fn apply_plans(&self, plans: PlanSet) -> Result<AppliedReport, String> {
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
    async fn apply_routers(&self, routers: RouterSettings) -> Result<AppliedReport, String> {
        self.routers.lock().unwrap().push(routers);
        Ok(AppliedReport {
            actions: vec!["router main: up".into()],
            warnings: vec![],
        })
    }
    async fn run_command(&self, command: Command) -> CommandResult {
        self.commands.lock().unwrap().push(command.clone());
        match command {
            Command::ListUsers { profile, .. } => {
                CommandResult::Ok(CommandOutput::Users(vec![UserInfo {
                    name: "ABC123".into(),
                    profile: profile.unwrap_or_default(),
                    active: true,
                    ..Default::default()
                }]))
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
    let (dir, outbox, state) = db;
    let actions = Arc::new(FakeActions::default());
    let handle = spawn_site(
        link(port, "site-7-agent"),
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

async fn start_central(port: u16, db_dir: &std::path::Path) -> (Central, CentralDb) {
    let central = Central::connect(link(port, "central-test"), central_key(), PREFIX, true);
    assert!(
        central.wait_connected(Duration::from_secs(5)).await,
        "central connects"
    );
    // Let the SUBSCRIBE reach the broker before anything is published.
    tokio::time::sleep(Duration::from_millis(200)).await;
    (
        central,
        CentralDb::open(&db_dir.join("central.db")).unwrap(),
    )
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sales_made_while_the_broker_is_down_arrive_once_each_in_order() {
    let mut broker = Mosquitto::start();
    let cdir = tempfile::tempdir().unwrap();
    let (mut central, cdb) = start_central(broker.port, cdir.path()).await;
    broker.stop();

    let db = open_site_db();
    for i in 0..1000 {
        let (msg_id, kind, payload) = outbox_payload_for_sale(&sale(i));
        db.1.enqueue(&msg_id, kind, &payload, 1_700_000_000_000 + i as u64)
            .unwrap();
    }
    let site = start_site(broker.port, db);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!site.handle.link().is_connected(), "no broker, no link");
    let unsent = site
        .outbox
        .pending(2000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "sale" && e.attempts == 0)
        .count();
    assert_eq!(unsent, 1000, "nothing is sent while the broker is down");

    broker.resume();
    let mut first_seen = Vec::new();
    let mut duplicates = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while first_seen.len() < 1000 {
        let r = tokio::time::timeout_at(deadline, central.next(&cdb))
            .await
            .unwrap_or_else(|_| panic!("only {} sales arrived", first_seen.len()))
            .expect("central link");
        if let Up::Sale(s) = &r.envelope.body {
            if r.first_time {
                first_seen.push(s.sale_id.clone());
            } else {
                duplicates += 1;
            }
        }
    }
    let expected: Vec<_> = (0..1000).map(|i| format!("{i:05}")).collect();
    assert_eq!(first_seen, expected, "every sale, once, oldest first");
    assert_eq!(
        cdb.sales_since(0).unwrap().len(),
        1000,
        "the central side stored each once"
    );
    central.flush_acks(&cdb).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while site.outbox.backlog().unwrap() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox not emptied by the acks"
        );
        // Keep receiving so the central side acknowledges whatever else arrives.
        let _ = tokio::time::timeout(Duration::from_millis(100), central.next(&cdb)).await;
        central.flush_acks(&cdb).await;
    }
    eprintln!("duplicates delivered (and dropped by the central side): {duplicates}");
    site.handle.shutdown().await;
    central.shutdown(&cdb).await;
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
        "central",
        0,
        Down::Plans(plan_set(version, SITE)),
    );
    sign(&mut env, key);
    env.encode()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_plan_set_is_applied_and_replays_old_versions_and_forgeries_are_refused() {
    let broker = Mosquitto::start();
    let cdir = tempfile::tempdir().unwrap();
    let (mut central, cdb) = start_central(broker.port, cdir.path()).await;
    let site = start_site(broker.port, open_site_db());
    site.handle.link().wait_connected().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let plans_topic = format!("{PREFIX}/site/{SITE}/plans");

    let good = signed_plans(10, &central_key());
    central
        .publish_raw(&plans_topic, good.clone(), true)
        .await
        .unwrap();
    let rep = next_report(&mut central, &cdb).await;
    assert_eq!((rep.subject.as_str(), rep.version), ("plans", 10));
    assert!(
        matches!(&rep.outcome, Outcome::Applied(a) if a.actions == ["profile fast created"]),
        "{rep:?}"
    );
    assert_eq!(site.state.version("plans").unwrap(), 10);

    // The same push again, an older version, another key, a tampered price.
    central
        .publish_raw(&plans_topic, good.clone(), true)
        .await
        .unwrap();
    let rep = next_report(&mut central, &cdb).await;
    assert!(
        matches!(&rep.outcome, Outcome::Refused(r) if r.contains("not newer")),
        "replay: {rep:?}"
    );

    central
        .publish_raw(&plans_topic, signed_plans(9, &central_key()), true)
        .await
        .unwrap();
    let rep = next_report(&mut central, &cdb).await;
    assert!(
        matches!(&rep.outcome, Outcome::Refused(r) if r.contains("not newer")) && rep.version == 9,
        "{rep:?}"
    );

    central
        .publish_raw(
            &plans_topic,
            signed_plans(11, &SigningKey::from_bytes(&[9u8; 32])),
            true,
        )
        .await
        .unwrap();
    let rep = next_report(&mut central, &cdb).await;
    assert!(
        matches!(&rep.outcome, Outcome::Refused(r) if r.contains("signature")) && rep.version == 11,
        "{rep:?}"
    );

    let mut tampered = signed_plans(12, &central_key());
    let at = tampered.windows(8).position(|w| w == b"One hour").unwrap();
    tampered[at] = b'X';
    central
        .publish_raw(&plans_topic, tampered, true)
        .await
        .unwrap();
    let rep = next_report(&mut central, &cdb).await;
    assert!(
        matches!(&rep.outcome, Outcome::Refused(r) if r.contains("signature")) && rep.version == 12,
        "{rep:?}"
    );

    assert_eq!(
        site.actions.plans.lock().unwrap().len(),
        1,
        "only the good push was applied"
    );
    assert_eq!(site.state.version("plans").unwrap(), 10);

    // A newer set pushed with the tool, and router settings the same way.
    central
        .push_plans(Some(SITE), plan_set(13, ""))
        .await
        .unwrap();
    let rep = next_report(&mut central, &cdb).await;
    assert!(
        matches!(rep.outcome, Outcome::Applied(_)) && rep.version == 13,
        "{rep:?}"
    );
    let routers = RouterSettings {
        version: 1,
        target: String::new(),
        routers: vec![RouterSpec {
            name: "main".into(),
            ..Default::default()
        }],
    };
    central.push_routers(SITE, routers).await.unwrap();
    let rep = next_report(&mut central, &cdb).await;
    assert!(
        rep.subject == "routers"
            && matches!(&rep.outcome, Outcome::Applied(a) if a.actions == ["router main: up"]),
        "{rep:?}"
    );
    assert_eq!(site.actions.plans.lock().unwrap()[1].target, SITE);
    site.handle.shutdown().await;
    central.shutdown(&cdb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_round_trip_and_replayed_or_expired_ones_are_refused() {
    let broker = Mosquitto::start();
    let cdir = tempfile::tempdir().unwrap();
    let (mut central, cdb) = start_central(broker.port, cdir.path()).await;
    let site = start_site(broker.port, open_site_db());
    site.handle.link().wait_connected().await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let list = Command::ListUsers {
        router: None,
        active: Some(true),
        profile: Some("fast".into()),
    };
    let (result, _) = central
        .command(&cdb, SITE, list.clone(), Duration::from_secs(10))
        .await
        .unwrap();
    match result {
        CommandResult::Ok(CommandOutput::Users(users)) => assert_eq!(users[0].profile, "fast"),
        other => panic!("{other:?}"),
    }

    let cmd_topic = format!("{PREFIX}/site/{SITE}/cmd");
    let (id, bytes) = central.command_bytes(
        SITE,
        Command::DisconnectUser {
            username: "ABC".into(),
        },
        Duration::from_secs(30),
    );
    central
        .publish_raw(&cmd_topic, bytes.clone(), false)
        .await
        .unwrap();
    let (first, _) = central
        .await_reply(&cdb, SITE, &id, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        matches!(first, CommandResult::Ok(CommandOutput::Done(_))),
        "{first:?}"
    );
    central.publish_raw(&cmd_topic, bytes, false).await.unwrap();
    let (again, _) = central
        .await_reply(&cdb, SITE, &id, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        matches!(&again, CommandResult::Err(e) if e.contains("replay")),
        "{again:?}"
    );

    let (id, bytes) = central.command_bytes(SITE, Command::Reconcile, Duration::from_millis(0));
    central.publish_raw(&cmd_topic, bytes, false).await.unwrap();
    let (expired, _) = central
        .await_reply(&cdb, SITE, &id, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        matches!(&expired, CommandResult::Err(e) if e.contains("expired")),
        "{expired:?}"
    );

    let ran = site.actions.commands.lock().unwrap().clone();
    assert_eq!(
        ran,
        vec![
            list,
            Command::DisconnectUser {
                username: "ABC".into()
            }
        ],
        "refused commands never ran"
    );

    // A power cut: the broker publishes the site's last-will, a retained "offline".
    site.handle.link().kill();
    let r = until(
        &mut central,
        &cdb,
        10,
        |r| matches!(&r.envelope.body, Up::Status(s) if !s.online),
    )
    .await;
    assert_eq!(
        (r.site.as_str(), r.envelope.msg_id.as_str()),
        (SITE, "will-site-7")
    );
    site.handle.shutdown().await;
    central.shutdown(&cdb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_every_subscribed_topic_is_logged_and_changes_nothing() {
    let broker = Mosquitto::start();
    let cdir = tempfile::tempdir().unwrap();
    let (mut central, cdb) = start_central(broker.port, cdir.path()).await;
    let site = start_site(broker.port, open_site_db());
    site.handle.link().wait_connected().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (msg_id, kind, payload) = outbox_payload_for_sale(&sale(1));
    site.outbox.enqueue(&msg_id, kind, &payload, 1).unwrap();
    // An acknowledgement for the sale, unsigned: it must not remove it.
    let unsigned_ack = Envelope::new(
        "a",
        "c",
        0,
        Down::Ack(Ack {
            msg_ids: vec![msg_id.clone()],
        }),
    )
    .encode();
    let mut newer_schema = signed_plans(99, &central_key());
    newer_schema[0] = 2;
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        b"{\"json\": true}".to_vec(),
        vec![0xff; 64],
        vec![
            0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f,
        ],
        newer_schema,
        unsigned_ack,
    ];
    let topics = ["plans", "routers", "cmd", "ack"].map(|t| format!("{PREFIX}/site/{SITE}/{t}"));
    for topic in topics.iter().chain([&format!("{PREFIX}/all/plans")]) {
        for g in &garbage {
            central.publish_raw(topic, g.clone(), false).await.unwrap();
        }
    }
    // A command after the garbage: its reply proves the garbage was handled first and
    // the agent still answers.
    let (result, seen) = central
        .command(&cdb, SITE, Command::SyncProfiles, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(matches!(result, CommandResult::Ok(_)), "{result:?}");
    assert!(
        !seen
            .iter()
            .any(|r| matches!(r.envelope.body, Up::Report(_) | Up::Reply(_))),
        "no reports for garbage: {seen:?}"
    );
    assert!(site.actions.plans.lock().unwrap().is_empty());
    assert!(site.actions.routers.lock().unwrap().is_empty());
    assert_eq!(
        *site.actions.commands.lock().unwrap(),
        vec![Command::SyncProfiles]
    );
    assert_eq!(site.state.version("plans").unwrap(), 0);
    assert_eq!(site.state.version("routers").unwrap(), 0);
    site.handle.shutdown().await;
    central.shutdown(&cdb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_works_with_a_ca_a_pinned_certificate_and_a_client_certificate_and_refuses_a_wrong_pin()
{
    let broker = Mosquitto::start_tls();
    let pki = broker.pki.as_ref().unwrap();
    let tls_link = |port: Option<u16>, settings: TlsSettings, id: &str| {
        let mut l = link(port.unwrap(), id);
        l.host = "localhost".into();
        l.tls = Some(client_config(&settings).unwrap());
        l
    };
    let with_ca = TlsSettings {
        ca_pem: Some(pki.ca_pem.clone().into_bytes()),
        ..Default::default()
    };
    let pinned = TlsSettings {
        pin: Some(fingerprint(&pki.server_cert_der)),
        ..Default::default()
    };
    let wrong_pin = TlsSettings {
        pin: Some([0u8; 32]),
        ..Default::default()
    };
    let mutual = TlsSettings {
        client_auth: Some((
            pki.client_cert_pem.clone().into_bytes(),
            pki.client_key_pem.clone().into_bytes(),
        )),
        ..with_ca.clone()
    };
    for (name, port, settings, should_connect) in [
        ("ca", broker.tls_port, with_ca.clone(), true),
        ("pin", broker.tls_port, pinned, true),
        ("wrong-pin", broker.tls_port, wrong_pin, false),
        ("mtls", broker.mtls_port, mutual, true),
        ("mtls-without-cert", broker.mtls_port, with_ca, false),
    ] {
        let c = Central::connect(tls_link(port, settings, name), central_key(), PREFIX, false);
        let up = c
            .wait_connected(Duration::from_secs(if should_connect { 5 } else { 1 }))
            .await;
        assert_eq!(up, should_connect, "{name}: {}", broker.log());
        c.link().shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_central_tool_makes_a_key_and_pushes_a_plan_file_a_site_applies() {
    use hotspot_agent::cli::central::{run, CentralCli, CentralCommand, ConnectArgs};
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let args = || ConnectArgs {
        broker: "127.0.0.1".into(),
        port: Some(broker.port),
        tls: false,
        ca_file: None,
        fingerprint: None,
        client_cert: None,
        client_key: None,
        username: None,
        password_file: None,
        prefix: PREFIX.into(),
        client_id: "central-cli".into(),
        key: dir.path().join("central.key"),
        db: dir.path().join("central.db"),
    };
    let cli = |command| CentralCli {
        connect: args(),
        command,
    };
    run(cli(CentralCommand::Keygen { force: false }))
        .await
        .unwrap();
    assert!(
        run(cli(CentralCommand::Keygen { force: false }))
            .await
            .is_err(),
        "an existing key is kept"
    );
    let key_text =
        firmware_config::Secret::from_file(&dir.path().join("central.key"), "key").unwrap();
    let key = sign::parse_secret_key(key_text.expose()).unwrap();

    let settings = SiteSettings {
        central_key: key.verifying_key(),
        ..site_settings()
    };
    let site = start_site_with(broker.port, open_site_db(), settings);
    site.handle.link().wait_connected().await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let plans = dir.path().join("plans.toml");
    std::fs::write(
        &plans,
        "[[profile]]\nname = \"fast\"\nrate_limit = \"1M/4M\"\n\
         [[plan]]\nid = \"1h\"\nname = \"1 hour\"\nprice = 5\ntime_limit = \"1h\"\nprofile = \"fast\"\n",
    )
    .unwrap();
    let push = CentralCommand::PushPlans {
        file: plans,
        site: Some(SITE.into()),
        all: false,
        version: Some(7),
    };
    run(cli(push)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while site.state.version("plans").unwrap() != 7 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "plan push from the tool not applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let applied = site.actions.plans.lock().unwrap()[0].clone();
    assert_eq!(
        (
            applied.plans[0].time_limit_s,
            applied.profiles[0].name.as_str()
        ),
        (Some(3600), "fast")
    );
    run(cli(CentralCommand::Sales {
        since: "24h".into(),
    }))
    .await
    .unwrap();
    site.handle.shutdown().await;
}
