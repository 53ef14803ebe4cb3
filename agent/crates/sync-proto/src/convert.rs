//! Between the configuration's plan, profile and router sections and their wire form,
//! both ways: the central tool reads operators' TOML, the agent applies what came down.

use firmware_config::plans::ValidityFrom;
use firmware_config::{
    ByteSize, Config, Duration, PlanConfig, ProfileConfig, RouterConfig, Secret, Transport,
};

use super::messages::{PlanSet, PlanSpec, ProfileSpec, RouterSet, RouterSpec};

fn secs(d: &Option<Duration>) -> Option<u64> {
    d.map(|d| d.std().as_secs())
}

/// The wire form of a `[[plan]]`.
pub fn plan_spec(p: &PlanConfig) -> PlanSpec {
    PlanSpec {
        id: p.id.clone(),
        name: p.name.clone(),
        price: p.price,
        time_limit_s: secs(&p.time_limit),
        data_limit_bytes: p.data_limit.map(|b| b.0),
        validity_s: secs(&p.validity),
        validity_from_sale: p.validity_from == ValidityFrom::Sale,
        profile: p.profile.clone(),
        fair_use_profile: p.fair_use_profile.clone(),
        kiosk: p.kiosk,
        pool: p.pool,
    }
}

/// The wire form of a `[[profile]]`.
pub fn profile_spec(p: &ProfileConfig) -> ProfileSpec {
    ProfileSpec {
        name: p.name.clone(),
        rate_limit: p.rate_limit.clone(),
        shared_users: p.shared_users,
        session_timeout_s: secs(&p.session_timeout),
        idle_timeout_s: secs(&p.idle_timeout),
        keepalive_timeout_s: secs(&p.keepalive_timeout),
    }
}

/// A plan set from a configuration's `[vouchers] currency`, `[[plan]]` and `[[profile]]`.
pub fn plan_set(config: &Config, version: u64, target: &str) -> PlanSet {
    PlanSet {
        version,
        target: target.into(),
        currency: config.vouchers.currency.clone(),
        plans: config.plans.iter().map(plan_spec).collect(),
        profiles: config.profiles.iter().map(profile_spec).collect(),
    }
}

/// A `[[plan]]` from its wire form (what the agent stores when a plan set comes down).
pub fn plan_config(s: &PlanSpec) -> PlanConfig {
    let d = |v: Option<u64>| v.map(Duration::from_secs);
    PlanConfig {
        id: s.id.clone(),
        name: s.name.clone(),
        price: s.price,
        time_limit: d(s.time_limit_s),
        data_limit: s.data_limit_bytes.map(ByteSize),
        validity: d(s.validity_s),
        validity_from: if s.validity_from_sale {
            ValidityFrom::Sale
        } else {
            ValidityFrom::FirstLogin
        },
        profile: s.profile.clone(),
        fair_use_profile: s.fair_use_profile.clone(),
        kiosk: s.kiosk,
        pool: s.pool,
    }
}

/// A `[[profile]]` from its wire form.
pub fn profile_config(s: &ProfileSpec) -> ProfileConfig {
    let d = |v: Option<u64>| v.map(Duration::from_secs);
    ProfileConfig {
        name: s.name.clone(),
        rate_limit: s.rate_limit.clone(),
        shared_users: s.shared_users,
        session_timeout: d(s.session_timeout_s),
        idle_timeout: d(s.idle_timeout_s),
        keepalive_timeout: d(s.keepalive_timeout_s),
    }
}

/// Router settings from a configuration's `[[router]]` sections, for one site.
/// Passwords are sent only when written inline (`password`), sealed to the site's
/// key (`site_key`, as registered); a `password_file` stays on the laptop.
pub fn router_set(
    config: &Config,
    version: u64,
    target: &str,
    site_key: &ed25519_dalek::VerifyingKey,
) -> Result<RouterSet, crate::seal::SealError> {
    let mut routers = Vec::with_capacity(config.routers.len());
    for r in &config.routers {
        routers.push(RouterSpec {
            name: r.name.clone(),
            host: r.host.clone(),
            port: r.api_port.or(r.rest_port),
            transport: r.transport.as_str().into(),
            username: r.username.clone(),
            password_sealed: match &r.password {
                Some(p) => Some(crate::seal::seal_to_site(site_key, p.expose())?),
                None => None,
            },
            hotspot_server: Some(r.hotspot_server.clone()).filter(|s| !s.is_empty()),
            default_profile: None,
        });
    }
    Ok(RouterSet {
        version,
        target: target.into(),
        routers,
    })
}

/// Applies a router from its wire form onto an existing `[[router]]` (or a default one)
/// with its password as opened from the sealed box, keeping the local password when
/// none was sent.
pub fn router_config(
    s: &RouterSpec,
    password: Option<Secret>,
    base: Option<&RouterConfig>,
) -> RouterConfig {
    let mut r = base.cloned().unwrap_or_default();
    r.name = s.name.clone();
    r.host = s.host.clone();
    r.transport = Transport::parse(&s.transport).unwrap_or(Transport::Auto);
    match r.transport {
        Transport::Rest => r.rest_port = s.port,
        _ => r.api_port = s.port,
    }
    r.username = s.username.clone();
    if let Some(p) = password {
        r.password = Some(p);
        r.password_file = None;
    }
    if let Some(h) = &s.hotspot_server {
        r.hotspot_server = h.clone();
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_survive_the_trip_to_the_wire_and_back() {
        let text = "[vouchers]\ncurrency = \"USD\"\n[[profile]]\nname = \"fast\"\nrate_limit = \"1M/4M\"\n\
                    idle_timeout = \"5m\"\n[[plan]]\nid = \"day\"\nname = \"Day\"\nprice = 150\nvalidity = \"1d\"\n\
                    data_limit = \"1G\"\nvalidity_from = \"sale\"\nprofile = \"fast\"\n";
        let config = Config::parse(text, "p.toml").unwrap();
        config.validate("p.toml").unwrap();
        let set = plan_set(&config, 3, "s1");
        assert_eq!(set.currency, "USD");
        assert_eq!(set.plans[0].validity_s, Some(86_400));
        assert_eq!(set.plans[0].data_limit_bytes, Some(1 << 30));
        assert!(set.plans[0].validity_from_sale);
        assert_eq!(set.profiles[0].idle_timeout_s, Some(300));
        assert_eq!(plan_config(&set.plans[0]), config.plans[0]);
        assert_eq!(profile_config(&set.profiles[0]), config.profiles[0]);
    }
}
