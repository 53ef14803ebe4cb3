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
    let routers = RouterSet {
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
