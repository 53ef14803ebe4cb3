//! The central tool (`hotspot-central`) driving a site.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_central_tool_makes_a_key_and_pushes_a_plan_file_a_site_applies() {
    use hotspot_central::cli::{run, CentralCli, CentralCommand, ConnectArgs};
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
        postgres: None,
        postgres_password_file: None,
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
        latest: false,
    }))
    .await
    .unwrap();
    site.handle.shutdown().await;
}
