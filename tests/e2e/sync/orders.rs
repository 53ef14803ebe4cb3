//! Online orders end to end: sent while the site is offline, one voucher and one
//! router user per order id across a broker restart, site restarts and an order
//! sent again; the code comes back to the central office.

use super::*;
use hotspot_agent::app::SiteActions;
use hotspot_agent::store::Store;
use hotspot_agent::vouchers::Vouchers;
use routeros::testing::FakeRouter;

const CONFIG: &str = r#"
[agent]
site_id = "site-7"
[[profile]]
name = "kiosk"
[[plan]]
id = "1h"
name = "One hour"
price = 5
time_limit = "1h"
profile = "kiosk"
"#;

/// A site as the service runs it (real seller, store and link) over a router that
/// outlives it, started on the state folder `dir`.
pub(super) fn start_real_site(port: u16, dir: &std::path::Path, router: &FakeRouter) -> SiteHandle {
    let mut config = firmware_config::Config::parse(CONFIG, "orders.toml").unwrap();
    config.agent.state_dir = dir.to_path_buf();
    let store = Store::open_in(dir).unwrap();
    // As `hotspot-agent run` does: the plan set pushed last replaces the file's plans.
    hotspot_agent::app::pushed_plans::load_or_warn(&mut config, &store);
    let db = store.path().to_path_buf();
    let vouchers = Vouchers::from_config(
        store,
        router.clone(),
        &config,
        &Default::default(),
        hotspot_agent::sync::outbox::sale_payload,
    )
    .unwrap();
    let actions = Arc::new(SiteActions::new(vouchers, config));
    spawn_site(
        link(port, "site-7-agent"),
        site_settings(),
        Arc::new(SqliteOutbox::open(&db).unwrap()),
        Arc::new(SyncState::open(&db).unwrap()),
        actions,
    )
}

/// [`start_real_site`], connected and subscribed.
pub(super) async fn start_connected_real_site(
    port: u16,
    dir: &std::path::Path,
    router: &FakeRouter,
) -> SiteHandle {
    let site = start_real_site(port, dir, router);
    site.link().wait_connected().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    site
}

fn sold_code(result: &OrderResult) -> String {
    match &result.outcome {
        OrderOutcome::Sold(sale) => {
            assert_eq!((sale.price, sale.channel.as_str()), (7, "order"));
            sale.code.clone()
        }
        other => panic!("no voucher for the order: {other:?}"),
    }
}

fn sales_in(dir: &std::path::Path) -> usize {
    Store::open_in(dir)
        .unwrap()
        .recent_sales(100)
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_sent_while_the_site_is_offline_becomes_one_voucher_whose_code_comes_back() {
    let mut broker = Mosquitto::start();
    let cdir = tempfile::tempdir().unwrap();
    let (mut central, cdb) = start_central(broker.port, cdir.path()).await;
    let state = tempfile::tempdir().unwrap();
    let router = FakeRouter::new();
    routeros::HotspotApi::add_profile(
        &router,
        &routeros::UserProfile {
            name: "kiosk".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // The site has been online once (the broker keeps its session), then goes offline.
    let site = start_connected_real_site(broker.port, state.path(), &router).await;
    site.shutdown().await;

    let order = Order {
        order_id: "web-000123".into(),
        target: SITE.into(),
        plan_id: "1h".into(),
        amount: 7,
        currency: String::new(),
    };
    central.send_order(&order).await.unwrap();
    // The broker restarts while the order waits for the site.
    broker.stop();
    broker.resume();
    assert!(central.wait_connected(Duration::from_secs(10)).await);

    let site = start_real_site(broker.port, state.path(), &router);
    let (first, _) = central
        .await_order(&cdb, &order, Duration::from_secs(20))
        .await
        .unwrap();
    let code = sold_code(&first);
    assert_eq!(router.all_users().len(), 1);
    assert_eq!(router.all_users()[0].name, code);

    // The answer was lost (say): the order again, after a site restart in between.
    site.shutdown().await;
    let site = start_connected_real_site(broker.port, state.path(), &router).await;
    central.send_order(&order).await.unwrap();
    let (again, _) = central
        .await_order(&cdb, &order, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(sold_code(&again), code, "the same voucher");
    assert_eq!(router.all_users().len(), 1, "no second router user");
    site.shutdown().await;
    assert_eq!(sales_in(state.path()), 1, "one sale on the site");
    let stored = cdb.order_results(SITE, &order.order_id).unwrap();
    assert!(!stored.is_empty() && stored.iter().all(|r| sold_code(r) == code));

    // An order for a plan the site does not sell is refused, and says so.
    let unknown = Order {
        order_id: "web-000124".into(),
        plan_id: "9h".into(),
        ..order.clone()
    };
    let site = start_real_site(broker.port, state.path(), &router);
    central.send_order(&unknown).await.unwrap();
    let (refused, _) = central
        .await_order(&cdb, &unknown, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(
        matches!(&refused.outcome, OrderOutcome::Refused(why) if why.contains("9h")),
        "{refused:?}"
    );
    // An id far too long: refused, in an answer that fits a packet (the id clipped).
    let huge = Order {
        order_id: "x".repeat(200_000),
        ..order.clone()
    };
    central.send_order(&huge).await.unwrap();
    let r = until(&mut central, &cdb, 20, |r| {
        matches!(&r.envelope.body, Up::Order(o) if matches!(&o.outcome, OrderOutcome::Refused(w) if w.contains("128 bytes")))
    })
    .await;
    assert!(r.envelope.msg_id.len() < 100, "{}", r.envelope.msg_id.len());
    site.shutdown().await;
    central.shutdown(&cdb).await;
}
