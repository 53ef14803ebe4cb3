//! Plan sets and router settings coming down: applied, or refused and reported.

use super::*;

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

    // Signed with another key, or tampered with: not the central office's, so logged
    // and dropped: no report (nothing written, nothing sent). The next report is the
    // answer to the push after them.
    central
        .publish_raw(
            &plans_topic,
            signed_plans(11, &SigningKey::from_bytes(&[9u8; 32])),
            true,
        )
        .await
        .unwrap();
    let mut tampered = signed_plans(12, &central_key());
    let at = tampered.windows(8).position(|w| w == b"One hour").unwrap();
    tampered[at] = b'X';
    central
        .publish_raw(&plans_topic, tampered, true)
        .await
        .unwrap();
    let backlog = site.outbox.backlog().unwrap();

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
        "no report came for the forgeries before this one: {rep:?}"
    );
    assert!(backlog <= 1, "forgeries queued nothing: {backlog}");
    // The router password is sealed to the site's key: the retained message on the
    // broker holds no clear text, and the site opens it.
    let config = firmware_config::Config::parse(
        "[[router]]\nname = \"main\"\nhost = \"10.0.0.1\"\npassword = \"Pa55-w0rd\"\n",
        "r.toml",
    )
    .unwrap();
    let routers =
        sync_proto::convert::router_set(&config, 1, SITE, &cdb.site_key(SITE).unwrap().unwrap())
            .unwrap();
    let mut watch = link(broker.port, "routers-watch");
    watch.subscriptions = vec![format!("{PREFIX}/site/{SITE}/routers")];
    let (_w, mut retained) = mqtt_link::spawn(watch);
    central.push_routers(SITE, routers).await.unwrap();
    let rep = next_report(&mut central, &cdb).await;
    assert!(
        rep.subject == "routers"
            && matches!(&rep.outcome, Outcome::Applied(a) if a.actions == ["router main: up"]),
        "{rep:?}"
    );
    assert_eq!(site.actions.plans.lock().unwrap()[1].target, SITE);
    let (_, passwords) = site.actions.routers.lock().unwrap()[0].clone();
    assert_eq!(passwords[0].as_ref().map(|p| p.expose()), Some("Pa55-w0rd"));
    let on_broker = loop {
        match tokio::time::timeout(Duration::from_secs(5), retained.recv()).await {
            Ok(Some(mqtt_link::LinkEvent::Message { payload, .. })) => break payload,
            Ok(Some(_)) => continue,
            other => panic!("no retained router settings: {other:?}"),
        }
    };
    assert!(
        !on_broker.windows(9).any(|w| w == b"Pa55-w0rd"),
        "no clear password on the broker"
    );
    let decoded = hotspot_agent::cli::msg::decode_to_json(
        hotspot_agent::cli::msg::Direction::Down,
        &on_broker,
    )
    .unwrap();
    assert!(
        !decoded.contains("Pa55-w0rd"),
        "msg decode shows ciphertext only"
    );
    site.handle.shutdown().await;
    central.shutdown(&cdb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_in_force_that_cannot_be_read_refuses_the_push_instead_of_taking_it_as_zero() {
    let (_broker, _cdir, mut central, cdb, site) = connected_trio().await;
    let push_v3 = async |central: &Central| {
        let topic = format!("{PREFIX}/site/{SITE}/plans");
        let bytes = signed_plans(3, &central_key());
        central.publish_raw(&topic, bytes, false).await.unwrap();
    };
    // What a damaged row reads as: not a number (a database error takes the same path).
    site.state.set("plans.version", "garbage").unwrap();
    push_v3(&central).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        site.actions.plans.lock().unwrap().is_empty(),
        "nothing applied against a version it could not read"
    );
    // Readable again: the same push is judged and applied.
    site.state.set("plans.version", "2").unwrap();
    push_v3(&central).await;
    let rep = next_report(&mut central, &cdb).await;
    assert!(
        matches!(rep.outcome, Outcome::Applied(_)) && rep.version == 3,
        "the first push got no report; this one did: {rep:?}"
    );
    site.handle.shutdown().await;
    central.shutdown(&cdb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_box_given_its_floor_refuses_an_older_signed_set_and_a_floor_for_another_key_is_ignored(
) {
    // The trio's site is the wiped box: a fresh store (its version in force is 0).
    let (_broker, _cdir, mut central, cdb, site) = connected_trio().await;
    central.push_floor(&cdb, SITE, 10, 0).await.unwrap();
    // A floor for the box's old key (before the wipe), higher: means nothing here.
    let mut stale = Envelope::new(
        "floor-old-key",
        SITE,
        sync_proto::now_ms(),
        Down::Floor(Floor {
            site_key: SigningKey::from_bytes(&[8u8; 32])
                .verifying_key()
                .to_bytes()
                .to_vec(),
            plans_version: 50,
            ..Default::default()
        }),
    );
    sign(&mut stale, &central_key());
    let cmd = format!("{PREFIX}/site/{SITE}/cmd");
    central
        .publish_raw(&cmd, stale.encode(), false)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let plans = format!("{PREFIX}/site/{SITE}/plans");
    // A set signed before the wipe, captured and replayed: newer than nothing, but
    // below the floor.
    central
        .publish_raw(&plans, signed_plans(5, &central_key()), false)
        .await
        .unwrap();
    let rep = next_report(&mut central, &cdb).await;
    assert!(
        matches!(&rep.outcome, Outcome::Refused(why) if why.contains("floor")) && rep.version == 5,
        "{rep:?}"
    );
    central
        .publish_raw(&plans, signed_plans(10, &central_key()), false)
        .await
        .unwrap();
    let rep = next_report(&mut central, &cdb).await;
    assert!(
        matches!(rep.outcome, Outcome::Applied(_)) && rep.version == 10,
        "the floor's own version is taken, the other key's floor of 50 was not: {rep:?}"
    );
    let floor = site.state.floor().unwrap();
    assert_eq!(floor.plans_version, 10);
    site.handle.shutdown().await;
    central.shutdown(&cdb).await;
}
