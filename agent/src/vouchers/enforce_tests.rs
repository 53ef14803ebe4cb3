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

#[tokio::test]
async fn an_untrusted_clock_is_reported_once_per_episode_and_so_is_its_end() {
    let (v, _router) = setup().await;
    let three_days = 3 * 86_400_000;
    v.store()
        .set_clock_checkpoint(crate::store::now_ms() + three_days)
        .unwrap();
    let e = Enforcer::with_clock(v.clone(), || Some(false));
    e.pass_once().await.unwrap();
    e.pass_once().await.unwrap();
    // The agent restarts within the same episode: still one alert.
    let e = Enforcer::with_clock(v.clone(), || Some(false));
    e.pass_once().await.unwrap();
    let alerts = v
        .store()
        .events(Some("clock_not_synchronised"), 10)
        .unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].level, "alert");
    assert!(
        alerts[0].message.contains("no voucher expires"),
        "{alerts:?}"
    );
    let state = v.store().clock_state().unwrap().unwrap();
    assert_eq!((state.trusted, state.source.as_str()), (false, "floor"));
    assert!(
        state.detail.contains("before a time already seen"),
        "{state:?}"
    );
    // NTP synchronises the clock: the end of the episode is reported once.
    let e = Enforcer::with_clock(v.clone(), || Some(true));
    e.pass_once().await.unwrap();
    e.pass_once().await.unwrap();
    let ended = v.store().events(Some("clock_synchronised"), 10).unwrap();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(
        ended[0].level, "warn",
        "goes up to the central office as an event"
    );
    let state = v.store().clock_state().unwrap().unwrap();
    assert_eq!((state.trusted, state.source.as_str()), (true, "system"));
    assert_eq!(
        v.store()
            .events(Some("clock_not_synchronised"), 10)
            .unwrap()
            .len(),
        1
    );
}

/// `/system/clock` as a router at +08:00 prints `utc_ms`.
fn router_clock_at(utc_ms: i64) -> routeros::SystemClock {
    let local = utc_ms / 1000 + 8 * 3600;
    let (y, m, d) = hotspot_clock::civil_from_days(local.div_euclid(86_400));
    let s = local.rem_euclid(86_400);
    routeros::SystemClock {
        date: format!("{y:04}-{m:02}-{d:02}"),
        time: format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60),
        time_zone_name: "Asia/Manila".into(),
        gmt_offset: "+08:00".into(),
    }
}

#[tokio::test]
async fn a_board_booted_behind_acts_on_the_routers_uptime_when_the_routers_clock_agrees() {
    const HOUR: i64 = 3_600_000;
    let (v, router) = setup().await;
    let sold = v.sell("1h", None).await.unwrap();
    router.log_in(&sold.code, "10.0.0.2").unwrap();
    // The real time is two days after what the board's clock reads. An hour before,
    // a trusted pass saw that time and the router's uptime (5 h).
    let real = crate::store::now_ms() + 2 * 24 * HOUR;
    v.store().set_clock_checkpoint(real - HOUR).unwrap();
    v.store()
        .set_clock_state(&crate::store::ClockState {
            trusted: true,
            source: "system".into(),
            detail: String::new(),
            at_ms: real - HOUR,
            router_mark: Some((real - HOUR, 5 * HOUR)),
        })
        .unwrap();
    let uptime = Duration::from_millis((6 * HOUR) as u64);

    // The router's clock disagrees with its own uptime: nothing is believed.
    router.set_time(router_clock_at(real + 2 * HOUR), uptime);
    let r = Enforcer::with_clock(v.clone(), || Some(false))
        .pass_once()
        .await
        .unwrap();
    assert!(!r.clock_trusted, "{r:?}");
    assert!(r.clock_untrusted.unwrap().contains("off its uptime"));
    assert_eq!(v.store().sale(sold.sale_id).unwrap().first_login_ms, None);

    // It agrees: the time is the mark plus the router's uptime since.
    router.set_time(router_clock_at(real), uptime);
    let r = Enforcer::with_clock(v.clone(), || Some(false))
        .pass_once()
        .await
        .unwrap();
    assert!(r.clock_trusted, "{r:?}");
    let first = v
        .store()
        .sale(sold.sale_id)
        .unwrap()
        .first_login_ms
        .unwrap();
    assert!(
        (first - real).abs() < 5_000,
        "first login at the router's time: {first} vs {real}"
    );
    let state = v.store().clock_state().unwrap().unwrap();
    assert_eq!((state.trusted, state.source.as_str()), (true, "router"));
}

#[test]
fn the_user_limit_episode_starts_at_the_threshold_and_ends_ten_points_below() {
    use crate::vouchers::enforce::user_limit_episode;
    assert_eq!(user_limit_episode(179, 200, 90), None, "89.5 %: in between");
    assert_eq!(user_limit_episode(180, 200, 90), Some(true));
    assert_eq!(user_limit_episode(161, 200, 90), None, "80.5 %: still on");
    assert_eq!(user_limit_episode(159, 200, 90), Some(false));
    assert_eq!(
        user_limit_episode(1, 1, 100),
        Some(true),
        "level 3: one user"
    );
    assert_eq!(user_limit_episode(usize::MAX, u32::MAX, 100), Some(true));
}

#[tokio::test]
async fn active_users_near_the_limit_alert_once_and_say_when_it_is_over() {
    let (v, router) = crate::vouchers::tests::setup_with(|c| {
        c.enforcement.user_limit = Some(4);
        c.enforcement.user_limit_alert_percent = 75;
    })
    .await;
    let mut sessions = Vec::new();
    for i in 0..3 {
        let sold = v.sell("1h", None).await.unwrap();
        sessions.push(
            router
                .log_in(&sold.code, &format!("10.0.0.{}", i + 2))
                .unwrap(),
        );
    }
    let e = Enforcer::with_clock(v.clone(), || Some(true));
    e.pass_once().await.unwrap();
    e.pass_once().await.unwrap();
    // A restart in the same episode says nothing new.
    Enforcer::with_clock(v.clone(), || Some(true))
        .pass_once()
        .await
        .unwrap();
    let alerts = v
        .store()
        .events(Some("user_limit_approaching"), 10)
        .unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].level, "alert");
    assert!(alerts[0].message.contains("3 of 4"), "{alerts:?}");
    for id in &sessions[..2] {
        router.disconnect(id).await.unwrap();
    }
    e.pass_once().await.unwrap();
    e.pass_once().await.unwrap();
    let ok = v.store().events(Some("user_limit_ok"), 10).unwrap();
    assert_eq!(ok.len(), 1, "{ok:?}");
    assert_eq!(ok[0].level, "warn", "goes up to the central office");
}
