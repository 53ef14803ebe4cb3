//! The report: which of this site's router users and cached vouchers differ, read
//! from both sides ([`compare`] is the pure part).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::Serialize;

use crate::store::{Sale, SaleState};
use crate::vouchers::plans::{comment_prefix, sale_id_from_comment};
use crate::vouchers::{VoucherError, Vouchers};
use routeros::{HotspotApi, HotspotUser, UserQuery};

use super::DriftChange;

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

fn show<T: std::fmt::Debug>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "none".into(), |v| format!("{v:?}"))
}

/// Compares (pure): our users on the router against the cache rows.
pub fn compare(site_id: &str, sales: &[Sale], users: &[HotspotUser]) -> Vec<Drift> {
    let mut drift = Vec::new();
    let by_id: HashMap<i64, &Sale> = sales.iter().map(|s| (s.id, s)).collect();
    let mut seen = HashSet::new();
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
    /// Reads the cache, then lists our users on the router, and reports what differs
    /// (nothing fixed yet). Returns the listing too, for the repairs.
    pub(super) async fn report(&self) -> Result<(ReconcileReport, Vec<HotspotUser>), VoucherError> {
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
        let report = ReconcileReport {
            router_users: users.len(),
            cached: sales.len(),
            fixed: Vec::new(),
            drift,
            change: DriftChange::Same,
        };
        Ok((report, users))
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::now_ms;
    use crate::vouchers::tests::setup;

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
    async fn a_user_whose_sale_or_pool_row_is_still_being_made_is_not_drift() {
        let (v, router) = setup().await;
        let plan = v.plan("1h").unwrap();
        let sale = crate::vouchers::plans::new_sale_for(
            &plan,
            "MAKING01".into(),
            "x".into(),
            "fake",
            "kiosk",
        );
        let sold = v.store().reserve_sale(&sale, None, now_ms()).unwrap();
        let stock = crate::vouchers::plans::new_sale_for(
            &plan,
            "MAKING02".into(),
            "x".into(),
            "fake",
            "pool",
        );
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
}
