//! Remote commands, and garbage on every topic a site listens to.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_round_trip_a_repeated_request_gets_its_answer_again_and_expired_ones_are_refused()
{
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
        offset: 0,
    };
    let (result, _) = central
        .command(&cdb, SITE, list.clone(), Duration::from_secs(10))
        .await
        .unwrap();
    match result {
        CommandResult::Ok(CommandOutput::Users(page)) => assert_eq!(page.users[0].profile, "fast"),
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
    // The same request again (its reply lost, or replayed): the answer it had, and
    // it does not run a second time (`ran` below).
    assert_eq!(again, first);

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
        "the repeated request ran once, the expired one never"
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
    assert_eq!(r.site, SITE);
    assert!(r.envelope.msg_id.starts_with("will-"), "{:?}", r.envelope);
    site.handle.shutdown().await;
    // The site starts again and loses power again: a second will, with its own id,
    // so a central side that deduplicates on ids still sees it.
    let again = start_site(broker.port, open_site_db());
    again.handle.link().wait_connected().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    again.handle.link().kill();
    let r2 = until(
        &mut central,
        &cdb,
        10,
        |r| matches!(&r.envelope.body, Up::Status(s) if !s.online),
    )
    .await;
    assert!(r2.envelope.msg_id.starts_with("will-"));
    assert_ne!(
        r2.envelope.msg_id, r.envelope.msg_id,
        "each will has its own id"
    );
    again.handle.shutdown().await;
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
    let (msg_id, kind, payload) = outbox_payload_for_sale(EPOCH, &sale(1));
    site.outbox.enqueue(&msg_id, kind, &payload, 1).unwrap();
    // An acknowledgement for the sale, unsigned: it must not remove it.
    let unsigned_ack = Envelope::new(
        "a",
        SITE,
        0,
        Down::Ack(Ack {
            msg_ids: vec![msg_id.clone()],
        }),
    )
    .encode();
    let mut newer_schema = signed_plans(99, &central_key());
    newer_schema[0] = 3;
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
    // Sales in the site's name that it did not sign: unsigned, or signed by another key.
    let forged = |key: Option<&SigningKey>| {
        let mut env = Envelope::new(
            sync_proto::ids::sale_msg_id(EPOCH, "00002"),
            SITE,
            1,
            Up::Sale(sale(2)),
        );
        if let Some(k) = key {
            sign(&mut env, k);
        }
        env.encode()
    };
    let up_sale = format!("{PREFIX}/site/{SITE}/up/sale");
    for bytes in [
        forged(None),
        forged(Some(&SigningKey::from_bytes(&[66u8; 32]))),
    ] {
        central.publish_raw(&up_sale, bytes, false).await.unwrap();
    }
    let seen = sync_profiles_ok(&mut central, &cdb).await;
    central.flush_acks(&cdb).await;
    let stored: Vec<String> = cdb
        .sales_since(0)
        .unwrap()
        .into_iter()
        .map(|(_, id, _)| id)
        .collect();
    assert!(
        stored.iter().all(|id| !id.ends_with("-00002")),
        "a sale the site did not sign is never stored: {stored:?}"
    );
    assert!(
        seen.iter()
            .all(|r| !matches!(&r.envelope.body, Up::Sale(s) if s.sale_id == "00002")),
        "nor handed on"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_captured_before_a_wiped_state_folder_is_refused_by_the_new_one() {
    // A fresh state folder (the wiped one), and a command the central office signed
    // ten minutes ago, still unexpired, that the old folder had run and remembered.
    let (_broker, _cdir, mut central, cdb, site) = connected_trio().await;
    let now = sync_proto::now_ms();
    let mut env = Envelope::new(
        "down-captured",
        SITE,
        now - 10 * 60 * 1000,
        Down::Command(CommandRequest {
            request_id: "req-captured".into(),
            target: SITE.into(),
            expires_ms: now + 60 * 60 * 1000,
            command: SiteCommand::Reconcile,
        }),
    );
    sign(&mut env, &central_key());
    central
        .publish_raw(&format!("{PREFIX}/site/{SITE}/cmd"), env.encode(), false)
        .await
        .unwrap();
    let (result, _) = central
        .await_reply(&cdb, SITE, "req-captured", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        matches!(&result, CommandResult::Err(e) if e.contains("before this site's state")),
        "{result:?}"
    );
    assert!(
        site.actions.commands.lock().unwrap().is_empty(),
        "it did not run"
    );
    site.handle.shutdown().await;
    central.shutdown(&cdb).await;
}
