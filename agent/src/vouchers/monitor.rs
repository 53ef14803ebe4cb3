//! Monitoring: router users joined with the cache for `users list` (voucher, plan,
//! state, uptime, bytes used and left, time left, idle), and the `stats` summary.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::store::{now_ms, RouterStatus, Sale, SaleStats};
use routeros::{ActiveSession, HotspotApi, HotspotUser, UserQuery, Word};

use super::plans::sale_id_from_comment;
use super::{VoucherError, Vouchers};

/// A session counts as idle after this long without traffic.
pub const IDLE_AFTER_S: u64 = 120;

/// One line of `users list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRow {
    /// Login name, its bytes as on the router (shown lossily).
    pub name: Word,
    pub profile: String,
    pub disabled: bool,
    /// Sale id when the user is one of ours.
    pub voucher: Option<i64>,
    pub plan: Option<String>,
    /// Sale state, or `ended:<reason>`, or `foreign` for users the agent did not make.
    pub state: String,
    pub online: bool,
    pub address: Option<String>,
    pub uptime_s: u64,
    pub bytes_used: u64,
    pub bytes_left: Option<u64>,
    pub time_left_s: Option<u64>,
    /// Seconds of validity left, when it has started.
    pub valid_left_s: Option<i64>,
    pub idle_s: Option<u64>,
}

/// Which users to show.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only users with a session.
    pub active: bool,
    /// Only users whose session has been idle at least [`IDLE_AFTER_S`].
    pub idle: bool,
    pub profile: Option<String>,
    /// Substring of the name, plan or comment (case-insensitive).
    pub search: Option<String>,
}

/// Builds the rows (pure).
pub fn user_rows(
    site_id: &str,
    users: &[HotspotUser],
    active: &[ActiveSession],
    sales: &[Sale],
    now_ms: i64,
) -> Vec<UserRow> {
    let sales: HashMap<i64, &Sale> = sales.iter().map(|s| (s.id, s)).collect();
    let mut sessions: HashMap<&[u8], Vec<&ActiveSession>> = HashMap::new();
    for a in active {
        sessions.entry(a.user.as_bytes()).or_default().push(a);
    }
    users
        .iter()
        .map(|u| {
            let s = sessions
                .get(u.name.as_bytes())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let (bytes, uptime) = super::enforce::usage_of(u, s);
            let sale = sale_id_from_comment(site_id, u.comment_text())
                .and_then(|id| sales.get(&id).copied());
            let state = match sale {
                Some(s) => match &s.end_reason {
                    Some(r) => format!("ended:{r}"),
                    None if s.fair_use => "fair-use".into(),
                    None => s.state.as_str().into(),
                },
                None if sale_id_from_comment(site_id, u.comment_text()).is_some() => {
                    "unknown-to-cache".into()
                }
                None => "foreign".into(),
            };
            let data_limit = sale
                .and_then(|s| s.data_limit_bytes)
                .or(u.limit_bytes_total);
            UserRow {
                name: u.name.clone(),
                profile: u.profile.clone(),
                disabled: u.disabled,
                voucher: sale.map(|s| s.id),
                plan: sale.map(|s| s.plan_id.clone()),
                state,
                online: !s.is_empty(),
                address: s.first().map(|a| a.address.clone()),
                uptime_s: uptime,
                bytes_used: bytes,
                bytes_left: data_limit.map(|l| l.saturating_sub(bytes)),
                time_left_s: u.limit_uptime.map(|l| l.as_secs().saturating_sub(uptime)),
                valid_left_s: sale
                    .and_then(|s| s.expires_at_ms())
                    .map(|e| ((e - now_ms) / 1000).max(0)),
                idle_s: s.iter().map(|a| a.idle_time.as_secs()).min(),
            }
        })
        .collect()
}

/// Keeps the rows the filter asks for.
pub fn filter_rows(rows: Vec<UserRow>, f: &UserFilter) -> Vec<UserRow> {
    let needle = f.search.as_ref().map(|s| s.to_lowercase());
    rows.into_iter()
        .filter(|r| !f.active || r.online)
        .filter(|r| !f.idle || r.idle_s.is_some_and(|i| i >= IDLE_AFTER_S))
        .filter(|r| f.profile.as_ref().is_none_or(|p| &r.profile == p))
        .filter(|r| {
            needle.as_ref().is_none_or(|n| {
                r.name.lossy().to_lowercase().contains(n.as_str())
                    || r.plan
                        .as_ref()
                        .is_some_and(|p| p.to_lowercase().contains(n.as_str()))
            })
        })
        .collect()
}

/// `stats`: the site at a glance.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// None when the router could not be asked.
    pub users_per_profile: Option<BTreeMap<String, u32>>,
    pub users_total: Option<usize>,
    pub sessions_active: Option<usize>,
    pub sessions_idle: Option<usize>,
    pub data_used_today: u64,
    /// Vouchers sold since the local day began (every channel), per plan.
    pub sales_today: SaleStats,
    /// Coins counted in and vouchers made by each channel since the local day began.
    pub takings_today: crate::store::Takings,
    /// Where "today" began: the local midnight in the system's time zone.
    pub day_start_ms: i64,
    /// That time zone's name (`Asia/Manila`); `None` for UTC when the system has none.
    pub time_zone: Option<String>,
    /// Coins in the cash box since the last collection.
    pub cash_box: crate::store::CashBox,
    /// (plan, ready, target).
    pub pool: Vec<(String, u32, u32)>,
    pub pending_actions: usize,
    pub outbox_pending: usize,
    pub router_reachable: bool,
    pub router_error: Option<String>,
    pub last_router_status: Option<RouterStatus>,
}

impl<R: HotspotApi + Clone + 'static> Vouchers<R> {
    /// `users list`: every hotspot user joined with the cache.
    pub async fn users(&self, filter: &UserFilter) -> Result<Vec<UserRow>, VoucherError> {
        let users = self.router().users(&UserQuery::default()).await;
        self.note_router(&users);
        let users = users.map_err(|e| VoucherError::Router {
            during: "listing hotspot users".into(),
            source: e,
        })?;
        let active = self
            .router()
            .active(None)
            .await
            .map_err(|e| VoucherError::Router {
                during: "listing active sessions".into(),
                source: e,
            })?;
        let sales = self.store().recent_sales(u32::MAX)?;
        let rows = user_rows(&self.settings().site_id, &users, &active, &sales, now_ms());
        Ok(filter_rows(rows, filter))
    }

    /// `stats`. Works without the router (its fields are then empty).
    pub async fn stats(&self) -> Result<Stats, VoucherError> {
        let now = now_ms();
        let day = now.div_euclid(86_400_000);
        let (tz, time_zone) = crate::today::system_zone();
        let day_start_ms = crate::today::day_start_ms(now, &tz);
        let mut st = Stats {
            data_used_today: self.store().data_used_on(day)?,
            sales_today: self.store().sale_stats(day_start_ms)?,
            takings_today: self.store().takings_since(day_start_ms)?,
            day_start_ms,
            time_zone,
            cash_box: self.store().cash_box()?,
            pending_actions: self.store().pending_actions()?.len(),
            outbox_pending: self.store().outbox_pending(u32::MAX)?.len(),
            last_router_status: self
                .store()
                .last_router_status(Some(&self.settings().router_name))?,
            ..Stats::default()
        };
        for p in self.plans().all().filter(|p| p.pool > 0) {
            st.pool
                .push((p.id.clone(), self.store().pool_counts(&p.id)?.0, p.pool));
        }
        let polled = match self.router().users(&UserQuery::default()).await {
            Ok(u) => self.router().active(None).await.map(|a| (u, a)),
            Err(e) => Err(e),
        };
        self.note_router(&polled);
        match polled {
            Ok((users, active)) => {
                let mut per = BTreeMap::new();
                for u in &users {
                    *per.entry(u.profile.clone()).or_insert(0) += 1;
                }
                st.users_per_profile = Some(per);
                st.users_total = Some(users.len());
                let idle = active
                    .iter()
                    .filter(|a| a.idle_time.as_secs() >= IDLE_AFTER_S)
                    .count();
                st.sessions_idle = Some(idle);
                st.sessions_active = Some(active.len() - idle);
                st.router_reachable = true;
            }
            Err(e) => st.router_error = Some(e.to_string()),
        }
        Ok(st)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vouchers::tests::setup;
    use std::time::Duration;

    #[tokio::test]
    async fn users_list_joins_router_and_cache_and_filters() {
        let (v, router) = setup().await;
        let a = v.sell("cap", None).await.unwrap();
        let b = v.sell("1h", None).await.unwrap();
        router.add_foreign_user("STAFF", None);
        let s = router.log_in(&a.code, "10.0.0.5").unwrap();
        router.set_session(
            &s,
            100,
            200,
            Duration::from_secs(30),
            Duration::from_secs(300),
        );
        let rows = v.users(&UserFilter::default()).await.unwrap();
        assert_eq!(rows.len(), 3);
        let ra = rows.iter().find(|r| r.name == a.code).unwrap();
        assert_eq!(ra.voucher, Some(a.sale_id));
        assert_eq!(ra.plan.as_deref(), Some("cap"));
        assert_eq!(ra.bytes_used, 300);
        assert_eq!(ra.bytes_left, Some(700));
        assert!(ra.online && ra.idle_s == Some(300));
        let rb = rows.iter().find(|r| r.name == b.code).unwrap();
        assert_eq!(rb.time_left_s, Some(3600));
        assert_eq!(
            rows.iter().find(|r| r.name == "STAFF").unwrap().state,
            "foreign"
        );
        let active = v
            .users(&UserFilter {
                active: true,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(active.len(), 1);
        let idle = v
            .users(&UserFilter {
                idle: true,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(idle.len(), 1);
        let found = v
            .users(&UserFilter {
                search: Some("staf".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
    }

    #[tokio::test]
    async fn stats_count_sales_per_plan_and_survive_a_dead_router() {
        let (v, router) = setup().await;
        v.sell("1h", None).await.unwrap();
        v.sell("1h", None).await.unwrap();
        v.sell("cap", None).await.unwrap();
        let st = v.stats().await.unwrap();
        assert_eq!(st.sales_today.count, 3);
        assert_eq!(st.sales_today.total, 30);
        assert_eq!(st.sales_today.per_plan[0], ("1h".to_string(), 2, 10));
        assert_eq!(st.users_per_profile.unwrap().get("kiosk"), Some(&3));
        router.set_down(true);
        let st = v.stats().await.unwrap();
        assert!(!st.router_reachable && st.router_error.is_some());
        assert_eq!(st.sales_today.count, 3);
    }
}
