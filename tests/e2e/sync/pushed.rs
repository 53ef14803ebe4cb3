//! A plan set pushed to a real site (the service's seller and store) holds across
//! a restart: what the site sells and reports after it is the pushed set.

use super::orders::{start_connected_real_site, start_real_site};
use super::*;
use routeros::testing::FakeRouter;

fn seven(version: u64) -> PlanSet {
    let mut set = plan_set(version, SITE);
    set.plans[0].price = 7;
    set
}

async fn create_one(central: &mut Central, cdb: &CentralDb) -> SaleRecord {
    let (result, _) = central
        .command(
            cdb,
            SITE,
            SiteCommand::CreateVouchers {
                plan_id: "1h".into(),
                count: 1,
            },
            Duration::from_secs(15),
        )
        .await
        .unwrap();
    match result {
        CommandResult::Ok(CommandOutput::Vouchers(mut v)) => v.remove(0),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_plan_set_is_what_the_site_sells_and_reports_after_a_restart() {
    let broker = Mosquitto::start();
    let cdir = tempfile::tempdir().unwrap();
    let (mut central, cdb) = start_central(broker.port, cdir.path()).await;
    let state = tempfile::tempdir().unwrap();
    let router = FakeRouter::new();
    let site = start_connected_real_site(broker.port, state.path(), &router).await;
    central.push_plans(Some(SITE), seven(20)).await.unwrap();
    let rep = next_report(&mut central, &cdb).await;
    assert!(matches!(rep.outcome, Outcome::Applied(_)), "{rep:?}");
    assert_eq!(create_one(&mut central, &cdb).await.price, 7);
    site.shutdown().await;

    // Restarted: the config file still says 5; the retained set is in force, not
    // applied again (no second report), and sales are at 7.
    let site = start_real_site(broker.port, state.path(), &router);
    let status = until(
        &mut central,
        &cdb,
        15,
        |r| matches!(&r.envelope.body, Up::Status(s) if s.online),
    )
    .await;
    let Up::Status(status) = status.envelope.body else {
        unreachable!()
    };
    assert_eq!(status.plans_version, 20);
    let sale = create_one(&mut central, &cdb).await;
    assert_eq!(sale.price, 7, "the pushed price after a restart");
    site.shutdown().await;
    central.shutdown(&cdb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_settings_a_config_file_could_not_hold_are_reported_refused_and_never_stored() {
    let broker = Mosquitto::start();
    let cdir = tempfile::tempdir().unwrap();
    let (mut central, cdb) = start_central(broker.port, cdir.path()).await;
    let state = tempfile::tempdir().unwrap();
    let site = start_connected_real_site(broker.port, state.path(), &FakeRouter::new()).await;
    let site_key = cdb.site_key(SITE).unwrap().unwrap();
    let router = |name: &str, host: &str, user: &str| {
        format!("[[router]]\nname = \"{name}\"\nhost = \"{host}\"\nusername = \"{user}\"\npassword = \"pw\"\n")
    };
    let cases = [
        (
            router("a", "10.0.0.1", "admin") + &router("a", "10.0.0.2", "admin"),
            "router[1].name",
        ),
        (router("a", "10.0.0.1", ""), "router[0].username"),
        (router("a", "10.0.0.1\u{200b}", "admin"), "router[0].host"),
    ];
    for (version, (toml, named)) in (1..).zip(cases) {
        let config = firmware_config::Config::parse(&toml, "routers.toml").unwrap();
        let set = sync_proto::convert::router_set(&config, version, SITE, &site_key).unwrap();
        central.push_routers(SITE, set).await.unwrap();
        let rep = next_report(&mut central, &cdb).await;
        assert!(
            rep.subject == "routers"
                && matches!(&rep.outcome, Outcome::Refused(why) if why.contains(named)),
            "{named}: {rep:?}"
        );
    }
    assert!(
        !hotspot_agent::app::routers_file::path(state.path()).exists(),
        "nothing stored that would stop the next start"
    );
    site.shutdown().await;
    central.shutdown(&cdb).await;
}
