//! The shipped broker set-up (`deploy/mosquitto/`) on a real mosquitto: a site may
//! publish only on its own topics and read only its own, nobody else may publish
//! down, anonymous clients get nothing, and nothing over the size limit reaches a site.

use super::*;
use mqtt_link::LinkEvent;

const FLEET: &str = "hotspot";

fn login(port: u16, client_id: &str, user: &str, pass: &str) -> LinkConfig {
    let mut l = link(port, client_id);
    l.username = Some(user.into());
    l.password = Some(firmware_config::Secret::new(pass));
    l
}

/// The central side logged in as `hotspot-central`, with the test site registered.
async fn fleet_central(port: u16, dir: &std::path::Path) -> (Central, CentralDb) {
    let central = Central::connect(
        login(port, "central", "hotspot-central", "pc"),
        central_key(),
        FLEET,
        true,
    );
    assert!(central.wait_connected(Duration::from_secs(5)).await);
    let cdb = CentralDb::open(&dir.join("central.db")).unwrap();
    cdb.register_site(SITE, &site_identity().public_hex())
        .unwrap();
    (central, cdb)
}

/// Publishes one retained QoS 0 message of any size with a hand-made MQTT 3.1.1
/// CONNECT and PUBLISH (the link refuses to send over the limit itself).
fn raw_publish(port: u16, (user, pass): (&str, &str), topic: &str, payload: &[u8]) {
    use std::io::{Read, Write};
    fn field(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(&(b.len() as u16).to_be_bytes());
        out.extend_from_slice(b);
    }
    fn packet(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        let mut n = body.len();
        loop {
            let mut byte = (n % 128) as u8;
            n /= 128;
            if n > 0 {
                byte |= 0x80;
            }
            out.push(byte);
            if n == 0 {
                break;
            }
        }
        out.extend_from_slice(body);
        out
    }
    let mut connect = Vec::new();
    field(&mut connect, b"MQTT");
    connect.extend_from_slice(&[4, 0b1100_0010, 0, 30]); // 3.1.1, user+password+clean, keep-alive 30 s
    field(&mut connect, b"raw-publisher");
    field(&mut connect, user.as_bytes());
    field(&mut connect, pass.as_bytes());
    let mut publish = Vec::new();
    field(&mut publish, topic.as_bytes());
    publish.extend_from_slice(payload);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(&packet(0x10, &connect)).unwrap();
    let mut connack = [0u8; 4];
    s.read_exact(&mut connack).unwrap();
    assert_eq!(connack[3], 0, "raw publisher logged in");
    s.write_all(&packet(0x31, &publish)).unwrap(); // PUBLISH, QoS 0, retain
    s.write_all(&[0xe0, 0]).unwrap(); // DISCONNECT
    let _ = s.read(&mut [0u8; 1]);
}

/// Everything that arrived on `rx` within `ms`.
async fn drain(rx: &mut tokio::sync::mpsc::Receiver<LinkEvent>, ms: u64) -> Vec<(String, Vec<u8>)> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    while let Ok(Some(e)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        if let LinkEvent::Message { topic, payload, .. } = e {
            got.push((topic, payload.to_vec()));
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_can_publish_and_read_only_its_own_topics_under_the_shipped_acl() {
    let broker =
        Mosquitto::start_fleet(&[("hotspot-central", "pc"), (SITE, "p7"), ("site-8", "p8")]);
    let cdir = tempfile::tempdir().unwrap();
    let (mut central, cdb) = fleet_central(broker.port, cdir.path()).await;
    // Sees every message on the site's up topics, whatever the central side makes of it.
    let mut spy_cfg = login(broker.port, "spy", "hotspot-central", "pc");
    spy_cfg.subscriptions = vec![format!("{FLEET}/site/{SITE}/up/+")];
    let (_spy, mut spy) = mqtt_link::spawn(spy_cfg);
    // And what reaches site-7's own down topics.
    let mut spy7_cfg = login(broker.port, "site-7-spy", SITE, "p7");
    spy7_cfg.subscriptions = vec![
        format!("{FLEET}/site/{SITE}/+"),
        format!("{FLEET}/all/plans"),
    ];
    let (_spy7, mut spy7) = mqtt_link::spawn(spy7_cfg);

    let mut settings = site_settings();
    settings.topic_prefix = FLEET.into();
    let site = start_site_on(
        login(broker.port, "site-7-agent", SITE, "p7"),
        open_site_db(),
        settings,
    );
    tokio::time::timeout(Duration::from_secs(5), site.handle.link().wait_connected())
        .await
        .unwrap_or_else(|_| panic!("site did not connect: {}", broker.log()));

    // Another site, with a valid login of its own, tries to speak for site-7 and to
    // listen in on it; an anonymous client tries anything at all.
    let mut intruder_cfg = login(broker.port, "site-8-agent", "site-8", "p8");
    intruder_cfg.subscriptions = vec![
        format!("{FLEET}/site/{SITE}/cmd"),
        format!("{FLEET}/site/{SITE}/ack"),
        format!("{FLEET}/site/{SITE}/up/+"),
    ];
    let (intruder, mut heard) = mqtt_link::spawn(intruder_cfg);
    intruder.wait_connected().await;
    let (anon, _) = mqtt_link::spawn(link(broker.port, "anon"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!anon.is_connected(), "anonymous clients are refused");

    let forged_sale = {
        let mut env = Envelope::new("sale-forged-1", SITE, 1, Up::Sale(sale(99)));
        sign(&mut env, &SigningKey::from_bytes(&[8u8; 32]));
        env.encode()
    };
    let forged_ack = {
        let mut env = Envelope::new("ack", SITE, 1, Down::Ack(Ack { msg_ids: vec![] }));
        sign(&mut env, &SigningKey::from_bytes(&[8u8; 32]));
        env.encode()
    };
    let t = |leaf: &str| format!("{FLEET}/site/{SITE}/{leaf}");
    for (topic, bytes, retain) in [
        (t("up/sale"), forged_sale.clone(), false),
        (t("status"), forged_sale.clone(), true),
        (t("ack"), forged_ack.clone(), false),
        (t("cmd"), forged_ack.clone(), false),
        (format!("{FLEET}/all/plans"), forged_ack.clone(), true),
    ] {
        intruder.publish(&topic, bytes, true, retain).await.unwrap();
    }

    // The real site's sale and a real command still go through.
    let (msg_id, kind, payload) = outbox_payload_for_sale(EPOCH, &sale(1));
    site.outbox.enqueue(&msg_id, kind, &payload, 1).unwrap();
    site.handle.outbox_changed();
    let r = until(&mut central, &cdb, 10, |r| {
        matches!(r.envelope.body, Up::Sale(_))
    })
    .await;
    assert_eq!(r.envelope.msg_id, msg_id);
    sync_profiles_ok(&mut central, &cdb).await;

    let spied = drain(&mut spy, 1000).await;
    assert!(
        spied.iter().all(|(_, p)| *p != forged_sale),
        "the forged sale never reached the central side's topics"
    );
    assert!(spied
        .iter()
        .any(|(_, p)| decode::<Up>(p).is_ok_and(|d| d.envelope.msg_id == msg_id)));
    let overheard = drain(&mut heard, 200).await;
    assert!(
        overheard.is_empty(),
        "site-8 heard nothing of site-7: {:?}",
        overheard.iter().map(|(t, _)| t).collect::<Vec<_>>()
    );
    assert_eq!(
        site.actions.commands.lock().unwrap().len(),
        1,
        "only the real command ran"
    );
    let down = drain(&mut spy7, 200).await;
    assert!(
        down.iter()
            .all(|(_, p)| *p != forged_ack && *p != forged_sale),
        "nothing site-8 published reached site-7's topics: {:?}",
        down.iter().map(|(t, _)| t).collect::<Vec<_>>()
    );
    assert!(!down.is_empty(), "the spy hears the real traffic");
    intruder.shutdown().await;
    site.handle.shutdown().await;
    central.shutdown(&cdb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_message_over_the_size_limit_never_reaches_a_site() {
    let broker = Mosquitto::start_fleet(&[("hotspot-central", "pc"), (SITE, "p7")]);
    let cdir = tempfile::tempdir().unwrap();
    let (mut central, cdb) = fleet_central(broker.port, cdir.path()).await;
    // 1.5 MiB, retained on the fleet topic every site subscribes to: before the limit,
    // every site was disconnected on every subscribe, for ever.
    raw_publish(
        broker.port,
        ("hotspot-central", "pc"),
        &format!("{FLEET}/all/plans"),
        &vec![0x02u8; 3 << 19],
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut settings = site_settings();
    settings.topic_prefix = FLEET.into();
    let (_dir, outbox, state) = open_site_db();
    let handle = spawn_site(
        login(broker.port, "site-7-agent", SITE, "p7"),
        settings,
        outbox.clone(),
        state,
        Arc::new(FakeActions::default()),
    );
    tokio::time::timeout(Duration::from_secs(5), handle.link().wait_connected())
        .await
        .expect("site connects");
    let mut drops = handle.link().watch_connected();
    assert!(*drops.borrow_and_update());
    let (msg_id, kind, payload) = outbox_payload_for_sale(EPOCH, &sale(1));
    outbox.enqueue(&msg_id, kind, &payload, 1).unwrap();
    handle.outbox_changed();
    let r = until(&mut central, &cdb, 10, |r| {
        matches!(r.envelope.body, Up::Sale(_))
    })
    .await;
    assert_eq!(r.envelope.msg_id, msg_id);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(handle.link().is_connected());
    assert!(
        !drops.has_changed().unwrap_or(true),
        "the link never dropped after subscribing: {}",
        broker.log()
    );
    handle.shutdown().await;
    central.shutdown(&cdb).await;
}
