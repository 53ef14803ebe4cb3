//! Plans as the seller sees them, the comment that marks the agent's router users,
//! and the sale record sent to the central office.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::store::{NewSale, Sale, StoredPlan};
use firmware_config::ProfileConfig;
use routeros::{NewUser, UserProfile};

/// The plans on offer, by id, and the hotspot profiles the agent manages for them.
#[derive(Debug, Clone, Default)]
pub struct PlanBook {
    plans: BTreeMap<String, StoredPlan>,
    /// The `[[profile]]`s in router form, by name: what the agent puts back when one
    /// has vanished from the router.
    profiles: BTreeMap<String, UserProfile>,
}

impl PlanBook {
    /// From a list (config or central office), managing no profiles.
    pub fn new(plans: Vec<StoredPlan>) -> PlanBook {
        PlanBook {
            plans: plans.into_iter().map(|p| (p.id.clone(), p)).collect(),
            profiles: BTreeMap::new(),
        }
    }

    /// From the config's `[[plan]]`s and `[[profile]]`s.
    pub fn from_config(config: &firmware_config::Config) -> PlanBook {
        let mut book = PlanBook::new(
            config
                .plans
                .iter()
                .map(|p| StoredPlan::from_config(p, &config.vouchers.currency))
                .collect(),
        );
        book.profiles = config
            .profiles
            .iter()
            .map(|p| (p.name.clone(), router_profile(p)))
            .collect();
        book
    }

    /// Every profile the agent manages, in router form.
    pub fn profiles(&self) -> impl Iterator<Item = &UserProfile> {
        self.profiles.values()
    }

    /// A profile the agent manages (a `[[profile]]`), in router form.
    pub fn profile(&self, name: &str) -> Option<&UserProfile> {
        self.profiles.get(name)
    }

    /// One plan.
    pub fn get(&self, id: &str) -> Option<&StoredPlan> {
        self.plans.get(id)
    }

    /// All plans, by id.
    pub fn all(&self) -> impl Iterator<Item = &StoredPlan> {
        self.plans.values()
    }

    /// The ids, for "unknown plan" messages.
    pub fn ids(&self) -> Vec<String> {
        self.plans.keys().cloned().collect()
    }
}

/// The router form of a `[[profile]]`.
pub fn router_profile(p: &ProfileConfig) -> UserProfile {
    UserProfile {
        id: String::new(),
        name: p.name.clone(),
        rate_limit: p.rate_limit.clone(),
        // 0 means unlimited in the config, as `shared-users=unlimited` does on the router.
        shared_users: p.shared_users.filter(|n| *n > 0),
        session_timeout: p.session_timeout.map(|d| d.std()),
        idle_timeout: p.idle_timeout.map(|d| d.std()),
        keepalive_timeout: p.keepalive_timeout.map(|d| d.std()),
    }
}

/// The comment on every router user the agent creates: `hsa:<site>:<sale id>`.
pub fn comment_for(site_id: &str, sale_id: i64) -> String {
    format!("hsa:{site_id}:{sale_id}")
}

/// The comment prefix of this site's users.
pub fn comment_prefix(site_id: &str) -> String {
    format!("hsa:{site_id}:")
}

/// The sale id in one of this site's comments; `None` for anyone else's user.
pub fn sale_id_from_comment(site_id: &str, comment: Option<&str>) -> Option<i64> {
    comment?
        .strip_prefix(&comment_prefix(site_id))?
        .parse()
        .ok()
}

/// The router user for a row.
pub fn new_user_for(sale: &Sale, site_id: &str, server: Option<&str>) -> NewUser {
    NewUser {
        name: sale.code.clone(),
        password: sale.password.clone(),
        profile: sale.profile.clone(),
        server: server.filter(|s| *s != "all").map(str::to_string),
        comment: Some(comment_for(site_id, sale.id)),
        limit_uptime: sale.time_limit_s.map(Duration::from_secs),
        // With a fair-use fallback the agent enforces the quota (switching the
        // profile); a router limit would cut the user off instead.
        limit_bytes_total: if sale.fair_use_profile.is_some() {
            None
        } else {
            sale.data_limit_bytes
        },
        disabled: false,
    }
}

/// A row to insert for a plan.
pub fn new_sale_for(
    plan: &StoredPlan,
    code: String,
    password: String,
    router: &str,
    source: &str,
) -> NewSale {
    NewSale {
        code,
        password,
        plan_id: plan.id.clone(),
        price: plan.price,
        currency: plan.currency.clone(),
        profile: plan.profile.clone(),
        fair_use_profile: plan.fair_use_profile.clone(),
        time_limit_s: plan.time_limit_s,
        data_limit_bytes: plan.data_limit_bytes,
        validity_s: plan.validity_s,
        validity_from: plan.validity_from.clone(),
        router: router.to_string(),
        source: source.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_carry_the_site_and_sale_and_read_back() {
        let c = comment_for("kiosk-7", 42);
        assert_eq!(c, "hsa:kiosk-7:42");
        assert_eq!(sale_id_from_comment("kiosk-7", Some(&c)), Some(42));
        assert_eq!(
            sale_id_from_comment("kiosk-8", Some(&c)),
            None,
            "another site's user is not ours"
        );
        assert_eq!(sale_id_from_comment("kiosk-7", Some("hsa:kiosk-7:x")), None);
        assert_eq!(sale_id_from_comment("kiosk-7", None), None);
    }
}
