//! Tests of the seller against the fake router: sales, faults, pool, batch, resume.

use std::time::Duration;

use firmware_config::Config;

use super::*;
use crate::store::{SaleState, Store};
use routeros::testing::{FakeRouter, Fault, Op};
use routeros::HotspotApi;

pub(crate) const CONFIG: &str = r#"
[agent]
site_id = "t1"
[[profile]]
name = "kiosk"
rate_limit = "1M/2M"
[[profile]]
name = "slow"
rate_limit = "128k/256k"
[[plan]]
id = "1h"
name = "1 hour"
price = 5
time_limit = "1h"
validity = "1d"
profile = "kiosk"
[[plan]]
id = "pooled"
name = "pooled 1h"
price = 10
time_limit = "1h"
profile = "kiosk"
pool = 4
[[plan]]
id = "gb"
name = "1 GB"
price = 20
data_limit = "1000"
validity = "2d"
profile = "kiosk"
fair_use_profile = "slow"
[[plan]]
id = "cap"
name = "capped"
price = 20
data_limit = "1000"
profile = "kiosk"
"#;

pub(crate) async fn setup() -> (Vouchers<FakeRouter>, FakeRouter) {
    setup_with(|_| {}).await
}

/// This thread's log lines from `level` up, written to the returned file while the
/// guard lives (a current-thread runtime's spawned tasks log there too).
pub(crate) fn log_to_file(
    level: tracing::Level,
) -> (tempfile::NamedTempFile, tracing::subscriber::DefaultGuard) {
    let log = tempfile::NamedTempFile::new().unwrap();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(log.reopen().unwrap())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (log, guard)
}

/// [`setup`] with the test configuration changed by `edit` first.
pub(crate) async fn setup_with(
    edit: impl FnOnce(&mut Config),
) -> (Vouchers<FakeRouter>, FakeRouter) {
    let mut config = Config::parse(CONFIG, "test.toml").unwrap();
    edit(&mut config);
    config.validate("test.toml").unwrap();
    let router = FakeRouter::new();
    for p in &config.profiles {
        router
            .add_profile(&routeros::UserProfile {
                name: p.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let store = Store::open_in_memory().unwrap();
    (
        Vouchers::from_config(
            store,
            router.clone(),
            &config,
            &config.routers.first().cloned().unwrap_or_default(),
            crate::sync::outbox::sale_payload,
        )
        .unwrap(),
        router,
    )
}

fn ours(router: &FakeRouter) -> Vec<routeros::HotspotUser> {
    router
        .all_users()
        .into_iter()
        .filter(|u| u.comment_text().is_some_and(|c| c.starts_with("hsa:t1:")))
        .collect()
}

#[tokio::test]
async fn an_on_demand_sale_creates_one_user_with_the_sale_comment_and_queues_one_outbox_row() {
    let (v, router) = setup().await;
    let credit = v.record_credit(5, "coin").unwrap();
    assert!(credit > 0);
    let sold = v.sell("1h", Some(CreditSpend { amount: 5 })).await.unwrap();
    assert!(!sold.from_pool);
    let users = ours(&router);
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].name, sold.code);
    assert_eq!(
        users[0].comment_text(),
        Some(format!("hsa:t1:{}", sold.sale_id).as_str())
    );
    assert_eq!(users[0].limit_uptime, Some(Duration::from_secs(3600)));
    let sale = v.store().sale(sold.sale_id).unwrap();
    assert_eq!(sale.state, SaleState::Provisioned);
    let outbox = v.store().outbox_pending(10).unwrap();
    assert_eq!(outbox.len(), 1);
    let epoch = v.store().epoch().unwrap();
    assert_eq!(outbox[0].msg_id, format!("sale-{epoch}-{}", sold.sale_id));
    let sync_proto::messages::Up::Sale(record) = postcard::from_bytes(&outbox[0].payload).unwrap()
    else {
        panic!("the outbox row is not a sale message")
    };
    assert_eq!(record.code, sold.code);
    assert_eq!(record.sale_id, sold.sale_id.to_string());
    assert_eq!(v.credit_balance().unwrap(), 0);
    assert!(sold.login_url.contains(&sold.code));

    // Delivered: the central office hears it as a message of its own (a re-send of
    // the first would be deduplicated away), once however often it is marked.
    assert!(v.mark_delivered(sold.sale_id).unwrap());
    assert!(!v.mark_delivered(sold.sale_id).unwrap());
    let outbox = v.store().outbox_pending(10).unwrap();
    assert_eq!(outbox.len(), 2);
    assert_eq!(
        outbox[1].msg_id,
        format!("sale-{epoch}-{}-delivered", sold.sale_id)
    );
    let sync_proto::messages::Up::Sale(later) = postcard::from_bytes(&outbox[1].payload).unwrap()
    else {
        panic!("the outbox row is not a sale message")
    };
    assert_eq!(
        (record.state.as_str(), later.state.as_str()),
        ("provisioned", "delivered")
    );
    assert_eq!(later.sale_id, record.sale_id);
}

#[tokio::test]
async fn an_add_that_times_out_after_the_router_applied_it_is_confirmed_by_lookup_not_repeated() {
    let (v, router) = setup().await;
    router.inject(Op::AddUser, 1, Fault::TimeoutAfterApply);
    let sold = v.sell("1h", None).await.unwrap();
    assert_eq!(
        ours(&router).len(),
        1,
        "exactly one user despite the lost reply"
    );
    assert_eq!(router.calls(Op::AddUser), 1, "no blind second add");
    assert_eq!(
        v.store().sale(sold.sale_id).unwrap().state,
        SaleState::Provisioned
    );
}

#[tokio::test]
async fn a_code_taken_by_someone_elses_user_is_replaced_and_the_foreign_user_untouched() {
    let (v, router) = setup().await;
    // Make the first add trap as a duplicate by creating a foreign user with the
    // code the sale will reserve: reserve first, then plant the user.
    let plan = v.plan("1h").unwrap();
    let new = plans::new_sale_for(&plan, "TAKEN1".into(), "TAKEN1".into(), "fake", "kiosk");
    let id = v
        .store()
        .reserve_sale(&new, None, crate::store::now_ms())
        .unwrap();
    router.add_foreign_user("TAKEN1", Some("made by hand"));
    let report = v.resume().await.unwrap();
    assert_eq!(report.provisioned, vec![id]);
    let sale = v.store().sale(id).unwrap();
    assert_ne!(sale.code, "TAKEN1");
    let foreign: Vec<_> = router
        .all_users()
        .into_iter()
        .filter(|u| u.name == "TAKEN1")
        .collect();
    assert_eq!(foreign[0].comment_text(), Some("made by hand"));
    assert_eq!(ours(&router).len(), 1);
    assert_eq!(
        v.store().events(Some("code_collision"), 10).unwrap().len(),
        1
    );
}

#[tokio::test]
async fn a_duplicate_trap_for_our_own_sale_counts_as_done() {
    let (v, router) = setup().await;
    let plan = v.plan("1h").unwrap();
    let new = plans::new_sale_for(&plan, "MINE22".into(), "MINE22".into(), "fake", "kiosk");
    let id = v
        .store()
        .reserve_sale(&new, None, crate::store::now_ms())
        .unwrap();
    router.add_foreign_user("MINE22", Some(&format!("hsa:t1:{id}")));
    v.resume().await.unwrap();
    let sale = v.store().sale(id).unwrap();
    assert_eq!(sale.state, SaleState::Provisioned);
    assert_eq!(sale.code, "MINE22");
    assert_eq!(router.calls(Op::AddUser), 0, "resume looks first");
}

#[tokio::test]
async fn an_unreachable_router_fails_a_live_sale_and_gives_the_credit_back() {
    let (v, router) = setup().await;
    v.record_credit(5, "coin").unwrap();
    router.set_down(true);
    let err = v
        .sell("1h", Some(CreditSpend { amount: 5 }))
        .await
        .unwrap_err();
    assert!(matches!(err, VoucherError::Failed { .. }), "{err}");
    assert_eq!(v.credit_balance().unwrap(), 5, "refunded");
    assert!(ours(&router).is_empty());
    assert!(v.can_sell_plan("1h").is_err());
    // The central office hears of the failed (refunded) sale too.
    let outbox = v.store().outbox_pending(10).unwrap();
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert!(
        outbox[0].msg_id.ends_with("-failed"),
        "{}",
        outbox[0].msg_id
    );
    let sync_proto::messages::Up::Sale(s) = postcard::from_bytes(&outbox[0].payload).unwrap()
    else {
        panic!("not a sale message")
    };
    assert_eq!(s.state, "failed");
}

#[tokio::test]
async fn a_lost_reply_then_a_dead_router_leaves_the_sale_pending_until_resume() {
    let (v, router) = setup().await;
    router.inject(Op::AddUser, 1, Fault::TimeoutAfterApply);
    router.inject(
        Op::Users,
        1,
        Fault::FailBefore(routeros::RouterError::Closed {
            router: "fake".into(),
        }),
    );
    let err = v.sell("1h", None).await.unwrap_err();
    let VoucherError::Pending { sale_id, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(v.store().sale(sale_id).unwrap().state, SaleState::Reserved);
    let report = v.resume().await.unwrap();
    assert_eq!(report.provisioned, vec![sale_id]);
    assert_eq!(report.awaiting_delivery, vec![sale_id]);
    assert_eq!(ours(&router).len(), 1);
}

#[tokio::test]
async fn not_enough_credit_reserves_nothing() {
    let (v, router) = setup().await;
    v.record_credit(2, "coin").unwrap();
    let err = v
        .sell("1h", Some(CreditSpend { amount: 5 }))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not enough credit"), "{err}");
    assert!(v.store().recent_sales(10).unwrap().is_empty());
    assert!(router.all_users().is_empty());
}

#[tokio::test]
async fn an_unknown_plan_names_the_known_ones() {
    let (v, _) = setup().await;
    let err = v.sell("nope", None).await.unwrap_err().to_string();
    assert!(
        err.contains("nope") && err.contains("1h") && err.contains("[[plan]]"),
        "{err}"
    );
}

#[tokio::test]
async fn a_sale_is_delivered_exactly_once() {
    let (v, _) = setup().await;
    let sold = v.sell("1h", None).await.unwrap();
    assert!(v.mark_delivered(sold.sale_id).unwrap());
    assert!(
        !v.mark_delivered(sold.sale_id).unwrap(),
        "second mark changes nothing"
    );
    assert_eq!(
        v.store().sale(sold.sale_id).unwrap().state,
        SaleState::Delivered
    );
}

#[tokio::test]
async fn the_pool_sells_without_the_router_and_cannot_sell_when_empty_and_down() {
    let (v, router) = setup().await;
    let pool = Pool::new(v.clone());
    let levels = pool.refill_once().await.unwrap();
    let l = levels.iter().find(|l| l.plan_id == "pooled").unwrap();
    assert_eq!((l.ready, l.created), (4, 4));
    router.set_down(true);
    let adds_before = router.calls(Op::AddUser);
    for _ in 0..4 {
        let sold = v.sell("pooled", None).await.unwrap();
        assert!(sold.from_pool);
    }
    assert_eq!(
        router.calls(Op::AddUser),
        adds_before,
        "pool sales do not call the router"
    );
    assert_eq!(v.store().outbox_pending(10).unwrap().len(), 4);
    // Empty pool, dead router: the on-demand fallback fails and refunds; the kiosk must not sell.
    assert!(v.sell("pooled", None).await.is_err());
    assert!(matches!(
        v.can_sell_plan("pooled"),
        Err(Reason::RouterDownAndPoolEmpty { .. })
    ));
    router.set_down(false);
    pool.refill_once().await.unwrap();
    assert_eq!(v.store().pool_counts("pooled").unwrap(), (4, 0));
    assert!(v.can_sell().is_ok());
}

#[tokio::test]
async fn a_batch_creates_every_voucher_with_many_adds_in_flight_and_writes_csv() {
    let (v, router) = setup().await;
    router.set_delay(Duration::from_millis(5));
    let report = v.create_batch("1h", 64, None).await.unwrap();
    assert_eq!(report.vouchers.len(), 64);
    assert_eq!(ours(&router).len(), 64);
    // In flight together, not one after another (counted at the router, not timed, so
    // a busy machine cannot fail it): at most 64, and far more than one.
    let most = router.max_in_flight();
    assert!(
        (16..=64).contains(&most),
        "at most {most} adds were in flight at once"
    );
    let mut csv = Vec::new();
    batch::write_csv(&mut csv, &report.vouchers).unwrap();
    let text = String::from_utf8(csv).unwrap();
    assert_eq!(text.lines().count(), 65);
    assert!(text.starts_with("code,password,plan,price"));
    assert!(text.contains(&report.vouchers[0].code));
}

#[tokio::test]
async fn a_batch_sends_one_add_per_voucher_and_never_prints_the_router_table() {
    let (v, router) = setup().await;
    for i in 0..200 {
        router.add_foreign_user(&format!("STAFF{i}"), None);
    }
    let listings = router.calls(Op::Users);
    let report = v.create_batch("1h", 50, None).await.unwrap();
    assert_eq!(report.vouchers.len(), 50);
    assert_eq!(
        router.calls(Op::Users),
        listings,
        "no print of the whole user table: its cost grows with the router, not the batch"
    );
    assert_eq!(router.calls(Op::AddUser), 50, "one add per voucher");
}

#[tokio::test]
async fn a_batch_handed_over_as_a_file_is_committed_before_its_adds_and_delivered_after_the_file() {
    let (v, router) = setup().await;
    // One lost reply: that row is settled on its own (look-up) before the hand-over.
    router.inject(Op::AddUser, 7, Fault::TimeoutAfterApply);
    let store = v.store().clone();
    let watcher = router.clone();
    let (report, handed) = v
        .create_batch_delivered("1h", 30, None, move |report| {
            // Handed over: every user is on the router, and not one row is marked
            // yet beyond Reserved, except the one settled on its own.
            assert_eq!(report.vouchers.len(), 30);
            assert_eq!(ours(&watcher).len(), 30);
            let states: Vec<SaleState> = store
                .recent_sales(100)
                .unwrap()
                .iter()
                .map(|s| s.state)
                .collect();
            assert_eq!(states.len(), 30, "every row was committed before its add");
            let reserved = states.iter().filter(|s| **s == SaleState::Reserved).count();
            assert_eq!((reserved, 30 - reserved), (29, 1), "{states:?}");
            Ok(())
        })
        .await
        .unwrap();
    handed.unwrap();
    assert_eq!(
        router.calls(Op::Connect),
        1,
        "connected while the rows were reserved"
    );
    assert_eq!(router.calls(Op::AddUser), 30);
    let sales = v.store().recent_sales(100).unwrap();
    assert!(sales.iter().all(|s| s.state == SaleState::Delivered));
    let mut ids: Vec<i64> = report.vouchers.iter().map(|s| s.sale_id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 30, "each voucher once, in sale order");
}

#[tokio::test]
async fn a_batch_larger_than_a_reserve_set_delivers_every_voucher_once() {
    let (v, router) = setup().await;
    // Sets of FIRST_SET, RESERVE_CHUNK and the rest (100, 500, 407).
    let count = 2 * batch::RESERVE_CHUNK + 7;
    assert!(batch::FIRST_SET < batch::RESERVE_CHUNK);
    // A lost reply in the second set: settled on its own, not made twice.
    router.inject(
        Op::AddUser,
        batch::RESERVE_CHUNK as u64 + 3,
        Fault::TimeoutAfterApply,
    );
    let (report, handed) = v
        .create_batch_delivered("1h", count, None, |_| Ok(()))
        .await
        .unwrap();
    handed.unwrap();
    assert_eq!(report.vouchers.len(), count);
    assert_eq!(ours(&router).len(), count);
    let codes: std::collections::HashSet<&str> =
        report.vouchers.iter().map(|s| s.code.as_str()).collect();
    assert_eq!(codes.len(), count, "every code once");
    let sales = v.store().recent_sales(count as u32 + 10).unwrap();
    assert_eq!(sales.len(), count);
    assert!(sales.iter().all(|s| s.state == SaleState::Delivered));
    // One record per voucher for the office (the one settled alone has its two), and
    // one event for the batch beside that one's own.
    let outbox = v.store().outbox_pending(10 * count as u32).unwrap();
    assert_eq!(outbox.len(), count + 1, "{:?}", &outbox[..3]);
    let made: Vec<_> = v
        .store()
        .events(None, 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "user_created")
        .map(|e| e.message)
        .collect();
    assert_eq!(made.len(), 2, "{made:?}");
    assert!(
        made.iter()
            .any(|m| m.starts_with(&format!("batch: {} router users", count - 1))),
        "{made:?}"
    );
}

#[tokio::test]
async fn a_batch_whose_file_cannot_be_written_stays_on_the_router_not_delivered() {
    let (v, router) = setup().await;
    let (report, handed) = v
        .create_batch_delivered("1h", 5, None, |_| Err(std::io::Error::other("disk full")))
        .await
        .unwrap();
    assert_eq!(handed.unwrap_err().to_string(), "disk full");
    assert_eq!(report.vouchers.len(), 5);
    assert_eq!(ours(&router).len(), 5);
    assert!(v
        .store()
        .recent_sales(100)
        .unwrap()
        .iter()
        .all(|s| s.state == SaleState::Provisioned));
}

#[tokio::test]
async fn a_batch_survives_a_lost_reply_in_the_middle_without_duplicates() {
    let (v, router) = setup().await;
    router.inject(Op::AddUser, 10, Fault::TimeoutAfterApply);
    let report = v.create_batch("1h", 20, None).await.unwrap();
    assert_eq!(report.vouchers.len(), 20);
    assert_eq!(ours(&router).len(), 20);
}

#[tokio::test]
async fn rate_table_time_sells_as_a_one_off_plan() {
    let (v, router) = setup().await;
    let plan = crate::store::StoredPlan::for_time(Duration::from_secs(600), 1, "kiosk", "PHP");
    let sold = v.sell_plan(&plan, None, "kiosk", true).await.unwrap();
    assert_eq!(sold.time_limit_s, Some(600));
    let u = router
        .all_users()
        .into_iter()
        .find(|u| u.name == sold.code)
        .unwrap();
    assert_eq!(u.limit_uptime, Some(Duration::from_secs(600)));
    assert_eq!(sold.login_address, "http://hotspot.lan");
}

#[tokio::test]
async fn forfeited_credit_leaves_the_balance_and_never_more_than_it() {
    let (v, _) = setup().await;
    v.record_credit(3, "coin").unwrap();
    assert_eq!(v.forfeit_credit(5).unwrap(), 3);
    assert_eq!(v.credit_balance().unwrap(), 0);
}

#[tokio::test]
async fn can_sell_answers_from_memory_and_follows_the_pool() {
    let (v, router) = setup().await;
    Pool::new(v.clone()).refill_once().await.unwrap();
    router.set_down(true);
    // A failed call teaches the seller the router is down.
    assert!(v.sell("1h", None).await.is_err());
    assert!(
        v.can_sell_plan("pooled").is_ok(),
        "the pool still has vouchers"
    );
    assert!(v.can_sell_plan("1h").is_err());
    for _ in 0..4 {
        v.sell("pooled", None).await.unwrap();
    }
    assert!(
        v.can_sell_plan("pooled").is_err(),
        "cache follows the sales"
    );
}

#[tokio::test]
async fn a_router_that_refuses_our_login_closes_the_slot_as_one_that_is_down() {
    let (v, router) = setup().await;
    assert!(v.can_sell_plan("1h").is_ok());
    router.inject(
        Op::AddUser,
        1,
        Fault::FailBefore(routeros::RouterError::BadCredentials {
            router: "fake".into(),
            user: "hotspot-agent".into(),
            message: "invalid user name or password (6)".into(),
        }),
    );
    assert!(v.sell("1h", None).await.is_err());
    assert!(
        v.can_sell_plan("1h").is_err(),
        "a router that refuses the login cannot make the voucher a coin would pay for"
    );
    // The router's own answer to a command (a trap) is a router that works.
    router.inject(
        Op::AddUser,
        1,
        Fault::FailBefore(routeros::RouterError::Trap {
            router: "fake".into(),
            command: "/ip/hotspot/user/add".into(),
            message: "input does not match any value of profile".into(),
            category: None,
            status: None,
        }),
    );
    let _ = v.sell("1h", None).await;
    assert!(
        v.can_sell_plan("1h").is_ok(),
        "a trap is the router answering"
    );
}

/// A second seller over the same store and router, as `voucher create` in another
/// process has (nothing in memory shared with `v`).
fn another_process(v: &Vouchers<FakeRouter>, router: &FakeRouter) -> Vouchers<FakeRouter> {
    Vouchers::new(
        v.store().clone(),
        router.clone(),
        v.settings().clone(),
        v.plans(),
    )
    .unwrap()
}

/// A sale whose add was carried out but answered by nobody, and whose look-up
/// failed too: paid, recorded, waiting for the router.
async fn pending_sale(v: &Vouchers<FakeRouter>, router: &FakeRouter) -> i64 {
    router.inject(Op::AddUser, 1, Fault::TimeoutAfterApply);
    router.inject(
        Op::Users,
        1,
        Fault::FailBefore(routeros::RouterError::Closed {
            router: "fake".into(),
        }),
    );
    let VoucherError::Pending { sale_id, .. } = v.sell("1h", None).await.unwrap_err() else {
        panic!("the sale should wait for the router")
    };
    sale_id
}

#[tokio::test]
async fn a_pending_sale_is_finished_by_the_background_pool_round() {
    let (v, router) = setup().await;
    let sale_id = pending_sale(&v, &router).await;
    Pool::new(v.clone()).refill_once().await.unwrap();
    assert_eq!(
        v.store().sale(sale_id).unwrap().state,
        SaleState::Provisioned
    );
}

#[tokio::test]
async fn a_pending_sale_is_finished_within_a_retry_of_the_router_answering_not_a_whole_round() {
    let (v, router) = setup().await;
    let sale_id = pending_sale(&v, &router).await;
    router.set_down(true);
    let cancel = tokio_util::sync::CancellationToken::new();
    // A round every minute, as a quiet service has; the waiting sale must not wait that long.
    let task = tokio::spawn(Pool::new(v.clone()).run(Duration::from_secs(60), cancel.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    router.set_down(false);
    let back = std::time::Instant::now();
    while v.store().sale(sale_id).unwrap().state != SaleState::Provisioned {
        assert!(
            back.elapsed() < pool::RETRY * 3,
            "the sale was still waiting {:?} after the router came back",
            back.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_sale_that_starts_waiting_while_the_pool_sleeps_is_finished_within_a_retry() {
    let (v, router) = setup().await;
    let cancel = tokio_util::sync::CancellationToken::new();
    // A quiet service: its first round finds nothing to do, so the next is a minute away.
    let task = tokio::spawn(Pool::new(v.clone()).run(Duration::from_secs(60), cancel.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    // `voucher create` in another process (its own seller over the same store) and the
    // kiosk in this one: both sales are left waiting for the router during that minute.
    let operator = another_process(&v, &router);
    let theirs = pending_sale(&operator, &router).await;
    let ours = pending_sale(&v, &router).await;
    let since = std::time::Instant::now();
    for sale_id in [theirs, ours] {
        while v.store().sale(sale_id).unwrap().state != SaleState::Provisioned {
            assert!(
                since.elapsed() < pool::RETRY * 3,
                "sale {sale_id} was still waiting {:?} after the router answered again",
                since.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_plan_whose_profile_was_deleted_on_the_router_sells_again_and_says_so_once() {
    let (v, router) = setup().await;
    v.sell("1h", None).await.unwrap();
    // Removed by hand in WinBox; profiles are otherwise synced only at start.
    router.delete_profile_by_name("kiosk");
    v.record_credit(10, "coin").unwrap();
    for _ in 0..2 {
        let sold = v.sell("1h", Some(CreditSpend { amount: 5 })).await;
        assert!(sold.is_ok(), "{sold:?}");
    }
    let kiosk = router
        .profiles()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == "kiosk")
        .expect("the profile is back");
    assert_eq!(kiosk.rate_limit.as_deref(), Some("1M/2M"), "as configured");
    let told = v.store().events(Some("profile_restored"), 10).unwrap();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].level, "warn", "the central office hears of it");
    assert_eq!(
        v.credit_balance().unwrap(),
        0,
        "both sales paid, nothing refunded"
    );
}

/// A live sale whose first add fails (slowly) while the pool's background round
/// runs beside it: the round must not finish the row the seller is still driving.
/// Either the sale failed, was refunded and left no router user, or it is on the
/// router and paid: never a refunded sale whose user works.
async fn a_live_sale_raced_by_the_pool_round(
    seller: &Vouchers<FakeRouter>,
    v: &Vouchers<FakeRouter>,
    router: &FakeRouter,
) {
    v.record_credit(5, "coin").unwrap();
    router.set_delay(Duration::from_millis(300));
    router.inject(
        Op::AddUser,
        1,
        Fault::FailBefore(routeros::RouterError::Unreachable {
            router: "fake".into(),
            addr: "a".into(),
            reason: "refused".into(),
        }),
    );
    let live = {
        let seller = seller.clone();
        tokio::spawn(async move { seller.sell("1h", Some(CreditSpend { amount: 5 })).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = Pool::new(v.clone()).refill_once().await;
    let sold = live.await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let sale = v
        .store()
        .sales_in(&[
            SaleState::Failed,
            SaleState::Provisioned,
            SaleState::Reserved,
        ])
        .unwrap();
    let sale = sale
        .iter()
        .find(|s| s.plan_id == "1h" && s.source == "kiosk")
        .unwrap();
    let users = router
        .all_users()
        .into_iter()
        .filter(|u| u.comment_text() == Some(plans::comment_for("t1", sale.id).as_str()))
        .count();
    match sale.state {
        SaleState::Failed => {
            assert_eq!(
                users, 0,
                "a refunded sale left a working router user ({sold:?})"
            );
            assert_eq!(v.credit_balance().unwrap(), 5, "refunded");
        }
        state => {
            assert_eq!(users, 1, "{state:?}");
            assert_eq!(v.credit_balance().unwrap(), 0, "paid");
        }
    }
}

#[tokio::test]
async fn the_pool_round_leaves_alone_a_sale_this_process_is_still_making() {
    let (v, router) = setup().await;
    a_live_sale_raced_by_the_pool_round(&v, &v, &router).await;
}

#[tokio::test]
async fn the_pool_round_leaves_alone_a_sale_another_process_is_still_making() {
    let (v, router) = setup().await;
    let operator = another_process(&v, &router);
    a_live_sale_raced_by_the_pool_round(&operator, &v, &router).await;
}

#[tokio::test]
async fn a_ticket_handed_out_while_its_user_waits_is_delivered_once_the_user_is_made() {
    let (v, router) = setup().await;
    let sale_id = pending_sale(&v, &router).await;
    // The kiosk prints the ticket of a waiting sale at once, then records it handed out.
    assert!(v.mark_delivered(sale_id).unwrap(), "the first time");
    assert_eq!(v.store().sale(sale_id).unwrap().state, SaleState::Reserved);
    v.resume().await.unwrap();
    // Not left "provisioned, not handed out", which a restart would print again.
    assert_eq!(v.store().sale(sale_id).unwrap().state, SaleState::Delivered);
    assert!(!v.mark_delivered(sale_id).unwrap(), "only once");
}

#[tokio::test]
async fn a_sale_waiting_through_many_rounds_is_told_to_the_central_office_once() {
    let (v, router) = setup().await;
    let sale_id = pending_sale(&v, &router).await;
    router.set_down(true);
    for _ in 0..3 {
        // The background round comes every second while the router is away.
        v.resume().await.unwrap();
    }
    let told = v.store().events(Some("sale_pending"), 10).unwrap();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(
        v.store().sale(sale_id).unwrap().attempts,
        4,
        "each round still counts"
    );
}

#[tokio::test]
async fn a_user_made_for_a_sale_that_failed_meanwhile_is_removed_again() {
    let (v, router) = setup().await;
    let plan = v.plan("1h").unwrap();
    let new = plans::new_sale_for(&plan, "LATE0001".into(), "LATE0001".into(), "main", "kiosk");
    let now = crate::store::now_ms();
    let id = v.store().reserve_sale(&new, None, now).unwrap();
    let (i, step) = Issuance::fresh(&v.store().sale(id).unwrap(), "t1", None);
    // Another driver (another process, past its grace) gave up on the row and
    // refunded it while this one's add was on its way.
    v.store().mark_failed(id, "gave up", now).unwrap();
    let done = v.drive(i, step).await.unwrap();
    assert!(matches!(done, Finished::Failed(_)), "{done:?}");
    assert!(
        !router.all_users().iter().any(|u| u.name == "LATE0001"),
        "no free voucher is left on the router for a refunded sale"
    );
}
