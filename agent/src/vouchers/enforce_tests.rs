//! Unit tests of the expiry and quota policy, and of the loop against the fake router.

use std::time::Duration;

use super::*;
use crate::vouchers::tests::setup;
use crate::vouchers::Enforcer;
use routeros::testing::Op;
use routeros::HotspotApi;

fn cfg() -> EnforcementConfig {
    EnforcementConfig::default()
}

#[tokio::test]
async fn used_up_data_disconnects_and_disables_and_a_dead_router_only_delays_it() {
    let (v, router) = setup().await;
    let sold = v.sell("cap", None).await.unwrap();
    let session = router.log_in(&sold.code, "10.0.0.2").unwrap();
    router.set_session(&session, 400, 700, Duration::from_secs(60), Duration::ZERO);
    let e = Enforcer::new(v.clone());
    // The router goes away between the poll and the actions.
    router.inject(
        Op::Active,
        2,
        routeros::testing::Fault::FailBefore(routeros::RouterError::Closed {
            router: "fake".into(),
        }),
    );
    let r = e.pass_once().await.unwrap();
    assert_eq!(r.actions_queued, 2);
    assert_eq!(r.actions_pending, 2, "kept for later");
    assert_eq!(router.sessions().len(), 1);
    router.set_down(true);
    let r = e.pass_once().await.unwrap();
    assert!(!r.router_ok);
    assert_eq!(
        v.store().pending_actions().unwrap().len(),
        2,
        "never dropped"
    );
    router.set_down(false);
    let r = e.pass_once().await.unwrap();
    assert_eq!(r.actions_pending, 0);
    assert!(router.sessions().is_empty());
    let u = router
        .all_users()
        .into_iter()
        .find(|u| u.name == sold.code)
        .unwrap();
    assert!(u.disabled);
    let sale = v.store().sale(sold.sale_id).unwrap();
    assert_eq!(sale.end_reason.as_deref(), Some("data"));
    assert_eq!(sale.bytes_used, 1100);
    assert!(sale.first_login_ms.is_some());
    assert!(!v
        .store()
        .events(Some("router_unreachable"), 5)
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn with_a_fair_use_profile_the_user_is_slowed_not_cut_off() {
    let (v, router) = setup().await;
    let sold = v.sell("gb", None).await.unwrap();
    let u = router
        .all_users()
        .into_iter()
        .find(|u| u.name == sold.code)
        .unwrap();
    assert_eq!(
        u.limit_bytes_total, None,
        "the agent, not the router, enforces a fair-use quota"
    );
    router.set_user_counters(&sold.code, 600, 600, Duration::from_secs(100));
    let e = Enforcer::new(v.clone());
    e.pass_once().await.unwrap();
    let u = router
        .all_users()
        .into_iter()
        .find(|u| u.name == sold.code)
        .unwrap();
    assert_eq!(u.profile, "slow");
    assert!(!u.disabled);
    let sale = v.store().sale(sold.sale_id).unwrap();
    assert!(sale.fair_use && sale.ended_at_ms.is_none());
    // A second pass does not switch again.
    let r = e.pass_once().await.unwrap();
    assert_eq!(r.actions_queued, 0);
}

#[tokio::test]
async fn the_data_alert_fires_once_past_the_threshold() {
    let (v, router) = setup().await;
    let sold = v.sell("cap", None).await.unwrap();
    router.set_user_counters(&sold.code, 850, 0, Duration::from_secs(10));
    let e = Enforcer::new(v.clone());
    e.pass_once().await.unwrap();
    e.pass_once().await.unwrap();
    let alerts = v.store().events(Some("data_alert"), 10).unwrap();
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].message.contains("85%"), "{}", alerts[0].message);
}

/// A 1-hour voucher sold on the fake router: its receipt, its row and its router user.
async fn sold_1h() -> (crate::vouchers::SoldVoucher, Sale, routeros::HotspotUser) {
    let (v, router) = setup().await;
    let sold = v.sell("1h", None).await.unwrap();
    let sale = v.store().sale(sold.sale_id).unwrap();
    let user = router
        .all_users()
        .into_iter()
        .find(|u| u.name == sold.code)
        .unwrap();
    (sold, sale, user)
}

#[tokio::test]
async fn validity_runs_from_first_login_on_the_agents_clock() {
    let (sold, mut sale, user) = sold_1h().await;
    // Never logged in: a year later it is still valid.
    let d = decide(&sale, Some(&user), &[], 365 * 86_400_000, &cfg());
    assert!(d.ended.is_none() && d.actions.is_empty());
    // First seen online at t: recorded; valid until t + 1 day.
    let s = routeros::ActiveSession {
        id: "*A1".into(),
        user: sold.code.as_str().into(),
        ..Default::default()
    };
    let d = decide(&sale, Some(&user), &[&s], 1_000, &cfg());
    assert_eq!(d.first_login_ms, Some(1_000));
    sale.first_login_ms = Some(1_000);
    let d = decide(&sale, Some(&user), &[&s], 1_000 + 86_400_000 - 1, &cfg());
    assert!(d.ended.is_none());
    let d = decide(&sale, Some(&user), &[&s], 1_000 + 86_400_000, &cfg());
    assert_eq!(d.ended.map(EndReason::as_str), Some("validity"));
    assert_eq!(d.actions[0].0, ActionKind::Disconnect);
    assert_eq!(d.actions[1].0, ActionKind::Disable);
    let remove = EnforcementConfig {
        on_expiry: ExpiryAction::Remove,
        ..cfg()
    };
    let d = decide(&sale, Some(&user), &[], 1_000 + 86_400_000, &remove);
    assert_eq!(d.actions[1].0, ActionKind::Remove);
}

#[tokio::test]
async fn an_unsold_pool_voucher_in_use_is_cut_off_and_reported() {
    let (v, router) = setup().await;
    crate::vouchers::Pool::new(v.clone())
        .refill_once()
        .await
        .unwrap();
    let stock = v.store().sales_in(&[SaleState::PoolReady]).unwrap();
    router.log_in(&stock[0].code, "10.0.0.9").unwrap();
    Enforcer::new(v.clone()).pass_once().await.unwrap();
    assert!(router.sessions().is_empty());
    assert!(
        router.all_users().iter().all(|u| u.name != stock[0].code),
        "removed from the router"
    );
    assert_eq!(v.store().events(Some("pool_misuse"), 5).unwrap().len(), 1);
    assert_eq!(
        v.store().sale(stock[0].id).unwrap().state,
        SaleState::Failed,
        "out of the pool"
    );
    assert_eq!(v.store().pool_counts("pooled").unwrap().0, 3);
    for _ in 0..3 {
        let sold = v.sell("pooled", None).await.unwrap();
        assert_ne!(sold.code, stock[0].code, "never sold");
    }
    assert!(v.reconcile(false).await.unwrap().drift.is_empty());
}

#[tokio::test]
async fn users_without_our_comment_are_never_touched() {
    let (v, router) = setup().await;
    router.add_foreign_user("STAFF", None);
    router.set_user_counters("STAFF", 1 << 40, 0, Duration::from_secs(1 << 20));
    router.log_in("STAFF", "10.0.0.3").unwrap();
    let r = Enforcer::new(v.clone()).pass_once().await.unwrap();
    assert_eq!(r.actions_queued, 0);
    assert_eq!(router.sessions().len(), 1);
    assert_eq!(router.calls(Op::UpdateUser), 0);
    let _ = router.identity().await;
}

#[tokio::test]
async fn a_huge_validity_never_wraps_into_immediate_expiry() {
    let (_, mut sale, user) = sold_1h().await;
    sale.first_login_ms = Some(1_000);
    // Seconds whose milliseconds overflow i64 (and u64 values past i64::MAX).
    for validity in [i64::MAX as u64 / 1000 + 1, i64::MAX as u64, u64::MAX] {
        sale.validity_s = Some(validity);
        let d = decide(&sale, Some(&user), &[], 2_000, &cfg());
        assert!(d.ended.is_none(), "validity {validity}s ended at once");
        assert!(sale.expires_at_ms().unwrap() > 2_000, "{validity}");
    }
}

#[tokio::test]
async fn router_counters_at_the_top_of_the_range_saturate_and_end_the_quota() {
    let (v, router) = setup().await;
    let sold = v.sell("cap", None).await.unwrap();
    let sale = v.store().sale(sold.sale_id).unwrap();
    let mut user = router
        .all_users()
        .into_iter()
        .find(|u| u.name == sold.code)
        .unwrap();
    // A broken or hostile router: counters whose sum does not fit in 64 bits.
    user.bytes_in = u64::MAX;
    user.uptime = Duration::from_secs(u64::MAX);
    let session = ActiveSession {
        user: sold.code.clone().into(),
        bytes_in: u64::MAX,
        bytes_out: u64::MAX,
        uptime: Duration::from_secs(u64::MAX),
        ..ActiveSession::default()
    };
    let d = decide(&sale, Some(&user), &[&session], 1_000, &cfg());
    let usage = d.usage.unwrap();
    assert_eq!(usage.bytes_used, u64::MAX);
    assert_eq!(usage.uptime_s, u64::MAX);
    assert_eq!(d.ended, Some(EndReason::Data));
    let rows = crate::vouchers::monitor::user_rows("t1", &[user], &[session], &[sale], 1_000);
    assert_eq!((rows[0].bytes_used, rows[0].uptime_s), (u64::MAX, u64::MAX));
}

#[tokio::test]
async fn a_clock_days_behind_what_was_seen_expires_nothing_and_says_so() {
    let (v, router) = setup().await;
    let sold = v.sell("1h", None).await.unwrap();
    // A pass three days ago-by-this-clock trusted a later time: the board booted behind.
    let three_days = 3 * 86_400_000;
    v.store()
        .set_clock_checkpoint(crate::store::now_ms() + three_days)
        .unwrap();
    router.log_in(&sold.code, "10.0.0.2").unwrap();
    let e = Enforcer::with_clock(v.clone(), || Some(false));
    let r = e.pass_once().await.unwrap();
    assert!(!r.clock_trusted);
    assert!(
        r.clock_untrusted
            .as_deref()
            .unwrap()
            .contains("before a time already seen"),
        "{r:?}"
    );
    let sale = v.store().sale(sold.sale_id).unwrap();
    assert_eq!(
        sale.first_login_ms, None,
        "no first login on a clock that is wrong"
    );
    assert_eq!(sale.ended_at_ms, None);
    // NTP synchronises the clock: the first login is recorded at the real time.
    let e = Enforcer::with_clock(v.clone(), || Some(true));
    let r = e.pass_once().await.unwrap();
    assert!(r.clock_trusted, "{r:?}");
    assert!(v
        .store()
        .sale(sold.sale_id)
        .unwrap()
        .first_login_ms
        .is_some());
}
