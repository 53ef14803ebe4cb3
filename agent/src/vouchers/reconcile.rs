//! Reconcile: compare the router's users that carry this site's comment with the
//! cache, report the drift, and fix it on request. Users without our comment are
//! never looked at twice, let alone touched.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::store::{now_ms, Level, NewSale, Sale, SaleState};
use routeros::{HotspotApi, HotspotUser, UserQuery, UserUpdate};

use super::enforce::EndReason;
use super::plans::{comment_prefix, new_user_for, sale_id_from_comment};
use super::{VoucherError, Vouchers};

/// One difference between the router and the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Drift {
    /// A router user with our comment that the cache does not know under that name.
    UnknownToCache {
        name: String,
        router_id: String,
        comment: String,
    },
    /// A cached voucher that should be on the router and is not.
    MissingOnRouter {
        sale_id: i64,
        code: String,
        state: SaleState,
    },
    /// A limit or the profile differs from what was sold.
    Differs {
        sale_id: i64,
        code: String,
        field: String,
        cache: String,
        router: String,
    },
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Drift::UnknownToCache { name, comment, .. } => {
                write!(f, "router user {name} ({comment}) is not in the cache")
            }
            Drift::MissingOnRouter {
                sale_id,
                code,
                state,
            } => {
                write!(
                    f,
                    "voucher {code} (sale {sale_id}, {}) is missing on the router",
                    state.as_str()
                )
            }
            Drift::Differs {
                code,
                field,
                cache,
                router,
                ..
            } => {
                write!(
                    f,
                    "voucher {code}: {field} is {router} on the router but {cache} was sold"
                )
            }
        }
    }
}

/// Which drift a reconcile repairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// Report only.
    Nothing,
    /// Re-create sold vouchers still valid that are missing on the router, and drop
    /// lost pool stock (what the service does every round).
    Missing,
    /// Everything (`reconcile --fix`).
    All,
}

/// What a reconcile found and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconcileReport {
    pub router_users: usize,
    pub cached: usize,
    pub drift: Vec<Drift>,
    /// What `--fix` did, one line each.
    pub fixed: Vec<String>,
    /// What this reconcile changed in the drift episode.
    #[serde(skip)]
    pub change: DriftChange,
}

/// How a reconcile changed the drift episode: the drift it leaves unrepaired is
/// told when that starts or changes and when none is left, not every round
/// ([`crate::store::Store::note_drift`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DriftChange {
    /// As before: no drift, or the same drift as the last reconcile left.
    #[default]
    Same,
    /// Drift is left, other than before; `new` of the `left` differences are new.
    Changed { left: usize, new: usize },
    /// Drift there was (before, or found and repaired now) and none is left.
    Gone,
}

fn show<T: std::fmt::Debug>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "none".into(), |v| format!("{v:?}"))
}

/// Compares (pure): our users on the router against the cache rows.
pub fn compare(site_id: &str, sales: &[Sale], users: &[HotspotUser]) -> Vec<Drift> {
    let mut drift = Vec::new();
    let by_id: HashMap<i64, &Sale> = sales.iter().map(|s| (s.id, s)).collect();
    let mut seen = std::collections::HashSet::new();
    for u in users {
        let Some(id) = sale_id_from_comment(site_id, u.comment_text()) else {
            continue;
        };
        let Some(sale) = by_id
            .get(&id)
            .filter(|s| s.code == u.name && s.state.on_router())
        else {
            drift.push(Drift::UnknownToCache {
                name: u.name.to_string(),
                router_id: u.id.clone(),
                comment: u.comment_text().unwrap_or_default().to_string(),
            });
            continue;
        };
        seen.insert(id);
        let mut differs = |field: &str, cache: String, router: String| {
            if cache != router {
                drift.push(Drift::Differs {
                    sale_id: id,
                    code: sale.code.clone(),
                    field: field.into(),
                    cache,
                    router,
                });
            }
        };
        let want_uptime = sale.time_limit_s.map(Duration::from_secs);
        differs("limit-uptime", show(&want_uptime), show(&u.limit_uptime));
        let want_bytes = if sale.fair_use_profile.is_some() {
            None
        } else {
            sale.data_limit_bytes
        };
        differs(
            "limit-bytes-total",
            show(&want_bytes),
            show(&u.limit_bytes_total),
        );
        let want_profile = match (&sale.fair_use_profile, sale.fair_use) {
            (Some(p), true) => p.clone(),
            _ => sale.profile.clone(),
        };
        differs("profile", want_profile, u.profile.clone());
    }
    for s in sales {
        // A voucher that ended may have been removed on purpose ([enforcement] on_expiry = "remove").
        if s.state.on_router() && s.ended_at_ms.is_none() && !seen.contains(&s.id) {
            drift.push(Drift::MissingOnRouter {
                sale_id: s.id,
                code: s.code.clone(),
                state: s.state,
            });
        }
    }
    drift
}

impl<R: HotspotApi + Clone + 'static> Vouchers<R> {
    /// Compares router and cache; with `fix`, adopts unknown users of ours into the
    /// cache, re-creates sold vouchers that vanished (the customer paid), drops lost
    /// pool stock, and puts limits and profiles back. Drift is recorded as events.
    pub async fn reconcile(&self, fix: bool) -> Result<ReconcileReport, VoucherError> {
        self.reconcile_fixing(if fix { Fix::All } else { Fix::Nothing })
            .await
    }

    /// [`Vouchers::reconcile`], repairing the drift `fix` names.
    pub async fn reconcile_fixing(&self, fix: Fix) -> Result<ReconcileReport, VoucherError> {
        let site = self.settings().site_id.clone();
        let q = UserQuery {
            comment_prefix: Some(comment_prefix(&site)),
            ..UserQuery::default()
        };
        // The cache first: a voucher provisioned after this read is not compared,
        // while one read here was on the router before the listing, so its absence
        // from the listing means it is gone (and not merely not yet made).
        let sales = self.store().sales_in(&[
            SaleState::Provisioned,
            SaleState::Delivered,
            SaleState::PoolReady,
        ])?;
        let users = self.router().users(&q).await;
        self.note_router(&users);
        let users = users.map_err(|e| VoucherError::Router {
            during: "reconcile: listing the router's users".into(),
            source: e,
        })?;
        let mut drift = Vec::new();
        for d in compare(&site, &sales, &users) {
            if !self.made_meanwhile(&d)? {
                drift.push(d);
            }
        }
        let mut report = ReconcileReport {
            router_users: users.len(),
            cached: sales.len(),
            fixed: Vec::new(),
            drift,
            change: DriftChange::Same,
        };
        // Told before the repairs, so a repair that fails still leaves the drift told.
        let found: Vec<String> = report.drift.iter().map(ToString::to_string).collect();
        let news = self.store().note_drift(&found, &found, now_ms())?;
        let mut left = Vec::new();
        for (d, line) in report.drift.iter().zip(found) {
            let missing = matches!(d, Drift::MissingOnRouter { .. });
            let done = match fix {
                Fix::Nothing => None,
                Fix::Missing if !missing => None,
                _ => self.fix(d, &users).await?,
            };
            match done {
                Some(done) => {
                    self.store()
                        .record_event(Level::Info, "drift_fixed", None, &done, now_ms())?;
                    report.fixed.push(done);
                }
                None => left.push(line),
            }
        }
        if !report.fixed.is_empty() {
            self.store().note_drift(&[], &left, now_ms())?;
        }
        let left: BTreeSet<String> = left.into_iter().collect();
        report.change = if left.is_empty() {
            if news.before.is_empty() && report.drift.is_empty() {
                DriftChange::Same
            } else {
                DriftChange::Gone
            }
        } else if left != news.before {
            DriftChange::Changed {
                left: left.len(),
                new: news.new.len(),
            }
        } else {
            DriftChange::Same
        };
        Ok(report)
    }

    /// Whether `d` is a router user the cache read did not know only because its
    /// row was being made then (a sale or a pool voucher whose add was under way):
    /// read again after the listing, the row names that user and is still being
    /// made or is on the router now. Such a user is no drift; `resume` finishes a
    /// row that stays unfinished.
    fn made_meanwhile(&self, d: &Drift) -> Result<bool, VoucherError> {
        let Drift::UnknownToCache { name, comment, .. } = d else {
            return Ok(false);
        };
        let Some(id) = sale_id_from_comment(&self.settings().site_id, Some(comment)) else {
            return Ok(false);
        };
        match self.store().sale(id) {
            Ok(s) => Ok(s.code == *name
                && (s.state.on_router()
                    || matches!(s.state, SaleState::Reserved | SaleState::PoolReserved))),
            Err(crate::store::StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    // Long on purpose: one arm per kind of drift, each a short repair.
    async fn fix(&self, d: &Drift, users: &[HotspotUser]) -> Result<Option<String>, VoucherError> {
        let router_err = |during: &str| {
            let during = during.to_string();
            move |e| VoucherError::Router { during, source: e }
        };
        match d {
            Drift::UnknownToCache {
                name, router_id, ..
            } => {
                if self.store().code_exists(name)? {
                    return Ok(None); // same code under another sale id: needs a human
                }
                let Some(u) = users.iter().find(|u| &u.id == router_id) else {
                    return Ok(None);
                };
                // A voucher code is text; a name whose bytes are not UTF-8 was renamed
                // by hand and needs a human.
                let Some(code) = u.name.text() else {
                    return Ok(None);
                };
                let plan = self
                    .plans()
                    .all()
                    .find(|p| p.profile == u.profile)
                    .map(|p| p.id.clone());
                let sale = NewSale {
                    code: code.to_string(),
                    password: u.password.clone().unwrap_or_default(),
                    plan_id: plan.unwrap_or_else(|| "adopted".into()),
                    price: 0,
                    currency: self.settings().codes.currency.clone(),
                    profile: u.profile.clone(),
                    fair_use_profile: None,
                    time_limit_s: u.limit_uptime.map(|d| d.as_secs()),
                    data_limit_bytes: u.limit_bytes_total,
                    validity_s: None,
                    validity_from: "first-login".into(),
                    router: self.settings().router_name.clone(),
                    source: "adopted".into(),
                };
                let id = self.store().adopt(&sale, router_id, now_ms())?;
                // Point the router user at its new row so it stays ours.
                self.router()
                    .update_user(
                        router_id,
                        &UserUpdate {
                            comment: Some(super::plans::comment_for(&self.settings().site_id, id)),
                            ..UserUpdate::default()
                        },
                    )
                    .await
                    .map_err(router_err("reconcile: re-marking an adopted user"))?;
                Ok(Some(format!("adopted router user {name} as sale {id}")))
            }
            Drift::MissingOnRouter {
                sale_id,
                code,
                state,
            } => {
                // Read again: enforcement may have ended it since the listing.
                let sale = self.store().sale(*sale_id)?;
                if sale.ended_at_ms.is_some() || sale.expires_at_ms().is_some_and(|e| e <= now_ms())
                {
                    return Ok(None);
                }
                if *state == SaleState::PoolReady {
                    self.store().mark_ended(
                        *sale_id,
                        EndReason::MissingOnRouter.as_str(),
                        now_ms(),
                    )?;
                    return Ok(Some(format!(
                        "dropped pool voucher {code}: it was missing on the router"
                    )));
                }
                let user = new_user_for(
                    &sale,
                    &self.settings().site_id,
                    self.settings().hotspot_server.as_deref(),
                );
                let id = self
                    .router()
                    .add_user(&user)
                    .await
                    .map_err(router_err("reconcile: re-creating a sold voucher"))?;
                self.store().set_router_user_id(*sale_id, &id)?;
                self.store().record_event(
                    Level::Info,
                    "user_created",
                    Some(code),
                    "re-created by reconcile",
                    now_ms(),
                )?;
                Ok(Some(format!(
                    "re-created sold voucher {code} on the router"
                )))
            }
            Drift::Differs { sale_id, code, .. } => {
                let sale = self.store().sale(*sale_id)?;
                let Some(u) = users.iter().find(|u| u.name == *code) else {
                    return Ok(None);
                };
                let want = new_user_for(&sale, &self.settings().site_id, None);
                let profile = match (&sale.fair_use_profile, sale.fair_use) {
                    (Some(p), true) => p.clone(),
                    _ => sale.profile.clone(),
                };
                let update = UserUpdate {
                    profile: Some(profile),
                    limit_uptime: Some(want.limit_uptime),
                    limit_bytes_total: Some(want.limit_bytes_total),
                    ..UserUpdate::default()
                };
                self.router()
                    .update_user(&u.id, &update)
                    .await
                    .map_err(router_err("reconcile: restoring limits"))?;
                Ok(Some(format!("restored limits and profile of {code}")))
            }
        }
    }

    /// Puts back every `[[profile]]` missing on the router (removed by hand, lost with
    /// a reset): pool vouchers already made with it can log in again, and users this
    /// round re-creates find it. Returns the names put back.
    pub async fn restore_missing_profiles(&self) -> Result<Vec<String>, VoucherError> {
        let plans = self.plans();
        if plans.profiles().next().is_none() {
            return Ok(Vec::new());
        }
        let have = self.router().profiles().await;
        self.note_router(&have);
        let have = have.map_err(|source| VoucherError::Router {
            during: "reconcile: listing the router's hotspot profiles".into(),
            source,
        })?;
        let mut restored = Vec::new();
        for p in plans
            .profiles()
            .filter(|p| !have.iter().any(|h| h.name == p.name))
        {
            match self.restore_profile(p).await {
                Ok(_) => restored.push(p.name.clone()),
                // A sale put it back meanwhile.
                Err(e @ routeros::RouterError::Trap { .. }) => {
                    tracing::debug!(profile = %p.name, error = %e, "profile not re-created")
                }
                Err(source) => {
                    return Err(VoucherError::Router {
                        during: format!("reconcile: re-creating hotspot profile {}", p.name),
                        source,
                    })
                }
            }
        }
        Ok(restored)
    }

    /// Reconciles every `interval` until cancelled, re-creating our profiles and the
    /// sold vouchers that are missing on the router (the rest is reported).
    pub async fn run_reconcile(self, interval: Duration, cancel: CancellationToken) {
        // The journal hears of drift a start finds still there once too.
        let mut first = true;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            // A paid voucher whose user vanished (a reset router, an old backup, a
            // user removed by hand) is put back at once, and so is a vanished profile
            // of ours first; other drift waits for the operator.
            if let Err(e) = self.restore_missing_profiles().await {
                tracing::warn!(error = %e, "reconcile failed; retrying next round");
                continue;
            }
            match self.reconcile_fixing(Fix::Missing).await {
                Ok(r) => {
                    for line in &r.fixed {
                        tracing::warn!("{line}");
                    }
                    let left = r.drift.len() - r.fixed.len();
                    match r.change {
                        DriftChange::Changed { left, new } => drift_differs(left, new),
                        DriftChange::Same if first && left > 0 => drift_differs(left, 0),
                        DriftChange::Gone => tracing::info!("router and cache agree again"),
                        DriftChange::Same => {}
                    }
                    first = false;
                }
                Err(e) => tracing::warn!(error = %e, "reconcile failed; retrying next round"),
            }
        }
    }
}

/// The journal's line for drift left to the operator. The figures are in the text,
/// so a changed drift is not taken for a repeat of the last line.
fn drift_differs(left: usize, new: usize) {
    tracing::warn!(
        "router and cache differ in {left} place(s), {new} new; `hotspot-agent reconcile` lists them, `reconcile --fix` repairs them"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vouchers::tests::setup;
    use routeros::testing::FakeRouter;

    #[tokio::test]
    async fn drift_of_every_kind_is_reported_and_fixed() {
        let (v, router) = setup().await;
        let a = v.sell("cap", None).await.unwrap();
        let b = v.sell("1h", None).await.unwrap();
        let c = v.sell("1h", None).await.unwrap();
        router.delete_user_by_name(&b.code);
        router.tamper_limit_bytes(&a.code, Some(999_999));
        router.add_foreign_user("LOST99", Some("hsa:t1:4242"));
        router.add_foreign_user("STAFF", Some("not ours"));
        let r = v.reconcile(false).await.unwrap();
        assert_eq!(r.drift.len(), 3, "{:?}", r.drift);
        assert!(r
            .drift
            .iter()
            .any(|d| matches!(d, Drift::MissingOnRouter { code, .. } if *code == b.code)));
        assert!(r
            .drift
            .iter()
            .any(|d| matches!(d, Drift::Differs { field, .. } if field == "limit-bytes-total")));
        assert!(r
            .drift
            .iter()
            .any(|d| matches!(d, Drift::UnknownToCache { name, .. } if name == "LOST99")));
        assert_eq!(v.store().events(Some("drift"), 10).unwrap().len(), 3);

        let r = v.reconcile(true).await.unwrap();
        assert_eq!(r.fixed.len(), 3, "{:?}", r.fixed);
        let again = v.reconcile(false).await.unwrap();
        assert!(again.drift.is_empty(), "{:?}", again.drift);
        let staff = router
            .all_users()
            .into_iter()
            .find(|u| u.name == "STAFF")
            .unwrap();
        assert_eq!(staff.comment_text(), Some("not ours"), "never touched");
        assert!(v.store().sale_by_code("LOST99").unwrap().is_some());
        let _ = c;
    }

    #[tokio::test]
    async fn the_service_round_puts_back_lost_users_of_paid_vouchers_without_a_second_sale() {
        let (v, router) = setup().await;
        let lost = v.sell("1h", None).await.unwrap();
        let tampered = v.sell("cap", None).await.unwrap();
        router.delete_user_by_name(&lost.code);
        router.tamper_limit_bytes(&tampered.code, Some(999_999));
        let sales_before = v.store().recent_sales(100).unwrap().len();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(
            v.clone()
                .run_reconcile(Duration::from_millis(20), cancel.clone()),
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !router.all_users().iter().any(|u| u.name == lost.code) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the lost user was not re-created"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
        task.await.unwrap();
        let users: Vec<_> = router
            .all_users()
            .into_iter()
            .filter(|u| u.name == lost.code)
            .collect();
        assert_eq!(users.len(), 1, "one router user for the voucher");
        assert_eq!(
            v.store()
                .sale(lost.sale_id)
                .unwrap()
                .router_user_id
                .as_deref(),
            Some(users[0].id.as_str()),
            "the cache follows the new user"
        );
        assert_eq!(
            v.store().recent_sales(100).unwrap().len(),
            sales_before,
            "no second sale"
        );
        let capped = router
            .all_users()
            .into_iter()
            .find(|u| u.name == tampered.code)
            .unwrap();
        assert_eq!(
            capped.limit_bytes_total,
            Some(999_999),
            "other drift waits for the operator"
        );
    }

    #[tokio::test]
    async fn a_user_whose_sale_or_pool_row_is_still_being_made_is_not_drift() {
        let (v, router) = setup().await;
        let plan = v.plan("1h").unwrap();
        let sale = super::super::plans::new_sale_for(
            &plan,
            "MAKING01".into(),
            "x".into(),
            "fake",
            "kiosk",
        );
        let sold = v.store().reserve_sale(&sale, None, now_ms()).unwrap();
        let stock =
            super::super::plans::new_sale_for(&plan, "MAKING02".into(), "x".into(), "fake", "pool");
        let pooled = v.store().reserve_pool(&[stock], now_ms()).unwrap()[0];
        // Both adds reached the router; each row is marked when its reply is back.
        router.add_foreign_user("MAKING01", Some(&format!("hsa:t1:{sold}")));
        router.add_foreign_user("MAKING02", Some(&format!("hsa:t1:{pooled}")));
        let r = v.reconcile(false).await.unwrap();
        assert!(r.drift.is_empty(), "{:?}", r.drift);
        assert!(v.store().events(Some("drift"), 10).unwrap().is_empty());
        // A row that failed meanwhile has no business with a router user: drift.
        v.store().mark_failed(sold, "gave up", now_ms()).unwrap();
        let r = v.reconcile(false).await.unwrap();
        assert!(
            matches!(&r.drift[..], [Drift::UnknownToCache { name, .. }] if name == "MAKING01"),
            "{:?}",
            r.drift
        );
    }

    /// Waits until the round listed the router's users `n` more times (so at least
    /// `n - 1` whole rounds ran).
    async fn rounds(router: &FakeRouter, n: u64) {
        let until = router.calls(routeros::testing::Op::Users) + n;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while router.calls(routeros::testing::Op::Users) < until {
            assert!(tokio::time::Instant::now() < deadline, "the rounds stopped");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_lasting_drift_is_told_once_when_it_starts_when_it_grows_and_when_it_is_gone() {
        let (v, router) = setup().await;
        let (log, _guard) = crate::vouchers::tests::log_to_file(tracing::Level::INFO);
        let capped = v.sell("cap", None).await.unwrap();
        let sold_limit = router
            .all_users()
            .into_iter()
            .find(|u| u.name == capped.code)
            .unwrap()
            .limit_bytes_total;
        router.tamper_limit_bytes(&capped.code, Some(999_999));
        let cancel = CancellationToken::new();
        let task = tokio::spawn(
            v.clone()
                .run_reconcile(Duration::from_millis(10), cancel.clone()),
        );
        rounds(&router, 6).await;
        // A second difference joins the first; then both are repaired by hand.
        router.add_foreign_user("LOST99", Some("hsa:t1:4242"));
        rounds(&router, 6).await;
        router.tamper_limit_bytes(&capped.code, sold_limit);
        router.delete_user_by_name("LOST99");
        rounds(&router, 6).await;
        cancel.cancel();
        task.await.unwrap();

        let kinds = |kind| v.store().events(Some(kind), 100).unwrap();
        let drift = kinds("drift");
        assert_eq!(
            drift.len(),
            2,
            "each difference once, not every round: {drift:?}"
        );
        assert!(drift[1].message.contains("limit-bytes-total"), "{drift:?}");
        assert!(drift[0].message.contains("LOST99"), "{drift:?}");
        let gone = kinds("drift_gone");
        assert_eq!(gone.len(), 1, "{gone:?}");
        assert_eq!(gone[0].level, "warn", "the central office hears it too");
        let journal = std::fs::read_to_string(log.path()).unwrap();
        let lines = |text| journal.lines().filter(|l| l.contains(text)).count();
        assert_eq!(
            lines("router and cache differ"),
            2,
            "start and growth:\n{journal}"
        );
        assert_eq!(lines("router and cache agree again"), 1, "{journal}");
    }

    #[tokio::test]
    async fn a_voucher_that_ended_or_expired_is_not_put_back() {
        let (v, router) = setup().await;
        let ended = v.sell("1h", None).await.unwrap();
        v.store()
            .mark_ended(
                ended.sale_id,
                EndReason::RemovedByOperator.as_str(),
                now_ms(),
            )
            .unwrap();
        router.delete_user_by_name(&ended.code);
        let r = v.reconcile_fixing(Fix::Missing).await.unwrap();
        assert!(r.fixed.is_empty(), "{:?}", r.fixed);
        assert!(!router.all_users().iter().any(|u| u.name == ended.code));
    }

    #[tokio::test]
    async fn the_service_round_puts_back_a_deleted_profile_of_ours_once_without_a_sale() {
        let (v, router) = setup().await;
        // Pool vouchers made with it could no longer log in; nobody needs to buy first.
        router.delete_profile_by_name("kiosk");
        let cancel = CancellationToken::new();
        let round = tokio::spawn(
            v.clone()
                .run_reconcile(Duration::from_millis(50), cancel.clone()),
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        cancel.cancel();
        round.await.unwrap();
        let profiles = router.profiles().await.unwrap();
        assert!(profiles.iter().any(|p| p.name == "kiosk"), "{profiles:?}");
        let told = v.store().events(Some("profile_restored"), 10).unwrap();
        assert_eq!(told.len(), 1, "once, not every round: {told:?}");
    }

    #[tokio::test]
    async fn reconcile_its_fix_and_enforcement_never_touch_users_the_agent_did_not_make() {
        let (v, router) = setup().await;
        let ours = v.sell("1h", None).await.unwrap();
        router.delete_user_by_name(&ours.code);
        for (name, comment) in [
            ("STAFF", None),
            ("WINBOX", Some("made in WinBox")),
            ("OTHERSITE", Some("hsa:other-site:1")),
            ("NOTANID", Some("hsa:t1:x")),
            ("PREFIXLESS", Some("xhsa:t1:1")),
        ] {
            router.add_foreign_user(name, comment);
        }
        let foreign = |router: &FakeRouter| {
            let mut users: Vec<HotspotUser> = router
                .all_users()
                .into_iter()
                .filter(|u| u.name != ours.code)
                .collect();
            users.sort_by(|a, b| a.name.cmp(&b.name));
            users
        };
        let before = foreign(&router);
        assert_eq!(before.len(), 5);
        v.reconcile_fixing(Fix::Missing).await.unwrap();
        v.reconcile(true).await.unwrap();
        crate::vouchers::Enforcer::new(v.clone())
            .pass_once()
            .await
            .unwrap();
        assert_eq!(foreign(&router), before, "left exactly as they were");
        assert!(
            router.all_users().iter().any(|u| u.name == ours.code),
            "our own lost user is put back"
        );
    }
}
