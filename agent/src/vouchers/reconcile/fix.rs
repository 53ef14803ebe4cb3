//! The fix: repairs the drift a report found. A paid voucher still valid whose user
//! vanished is re-created, lost pool stock is dropped, an unknown user of ours is
//! adopted, limits and profiles are put back; a voucher that ended or expired is left
//! gone. Our hotspot profiles are put back first.

use crate::store::{now_ms, Level, NewSale, SaleState};
use crate::vouchers::enforce::EndReason;
use crate::vouchers::plans::{comment_for, new_user_for};
use crate::vouchers::{VoucherError, Vouchers};
use routeros::{HotspotApi, HotspotUser, UserUpdate};

use super::{Drift, ReconcileReport};

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

impl Fix {
    /// Whether this choice repairs `d`.
    fn repairs(self, d: &Drift) -> bool {
        match self {
            Fix::Nothing => false,
            Fix::Missing => matches!(d, Drift::MissingOnRouter { .. }),
            Fix::All => true,
        }
    }
}

impl<R: HotspotApi + Clone + 'static> Vouchers<R> {
    /// Repairs what `fix` names of `report.drift` (`lines` are its lines), recording
    /// each repair as an event and in `report.fixed`. Returns the lines left.
    pub(super) async fn repair(
        &self,
        fix: Fix,
        report: &mut ReconcileReport,
        users: &[HotspotUser],
        lines: Vec<String>,
    ) -> Result<Vec<String>, VoucherError> {
        let mut left = Vec::new();
        for (d, line) in report.drift.iter().zip(lines) {
            let done = if fix.repairs(d) {
                self.fix(d, users).await?
            } else {
                None
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
        Ok(left)
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
                            comment: Some(comment_for(&self.settings().site_id, id)),
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
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::vouchers::tests::setup;
    use routeros::testing::FakeRouter;

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
