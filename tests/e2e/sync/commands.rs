//! Remote commands, and garbage on every topic a site listens to.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_round_trip_and_replayed_or_expired_ones_are_refused() {
    let broker = Mosquitto::start();
    let cdir = tempfile::tempdir().unwrap();
    let (mut central, cdb) = start_central(broker.port, cdir.path()).await;
    let site = start_site(broker.port, open_site_db());
    site.handle.link().wait_connected().await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let list = SiteCommand::ListUsers {
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
        SiteCommand::DisconnectUser {
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

    let (id, bytes) = central.command_bytes(SITE, SiteCommand::Reconcile, Duration::from_millis(0));
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
            SiteCommand::DisconnectUser {
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
        .command(
            &cdb,
            SITE,
            SiteCommand::SyncProfiles,
            Duration::from_secs(10),
        )
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
        vec![SiteCommand::SyncProfiles]
    );
    assert_eq!(site.state.version("plans").unwrap(), 0);
    assert_eq!(site.state.version("routers").unwrap(), 0);
    site.handle.shutdown().await;
    central.shutdown(&cdb).await;
}
