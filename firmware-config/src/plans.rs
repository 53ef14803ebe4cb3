//! `[vouchers]`, `[[plan]]`, `[[profile]]` and `[enforcement]`: what the kiosk sells
//! and how the agent keeps users within what they bought.

use serde::{Deserialize, Serialize};

use crate::{ByteSize, Config, Duration, Problem};

/// Characters that cannot be mistaken for one another on a ticket:
/// no 0/O/o, 1/l/I/i, 2/Z, 5/S, 8/B, q/g/9.
pub const DEFAULT_ALPHABET: &str = "ACDEFHJKMNPRTUVWXY34679";

/// How the voucher's password relates to its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeMode {
    /// One code, used as both user name and password (what JuanFi and most tickets do).
    #[default]
    UserEqualsPassword,
    /// A user name and a separate password.
    SeparatePassword,
}

/// `[vouchers]`: how codes are made and how money is shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct VoucherCodeConfig {
    /// Random characters in a code, after the prefix.
    pub length: usize,
    /// Fixed text before the random part.
    pub prefix: String,
    /// Characters codes are drawn from.
    pub alphabet: String,
    /// `user-equals-password` or `separate-password`.
    pub mode: CodeMode,
    /// Length of the separate password.
    pub password_length: usize,
    /// Currency code shown on tickets and in sales (ISO 4217).
    pub currency: String,
    /// Digits after the decimal point in prices (0 for PHP coins, 2 for cents).
    pub currency_decimals: u8,
}

impl Default for VoucherCodeConfig {
    fn default() -> Self {
        VoucherCodeConfig {
            length: 8,
            prefix: String::new(),
            alphabet: DEFAULT_ALPHABET.into(),
            mode: CodeMode::UserEqualsPassword,
            password_length: 6,
            currency: "PHP".into(),
            currency_decimals: 0,
        }
    }
}

/// When a voucher's validity starts running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValidityFrom {
    /// From the user's first login (what customers expect of a ticket bought for later).
    #[default]
    FirstLogin,
    /// From the moment of sale.
    Sale,
}

/// `[[plan]]`: one thing the kiosk sells.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PlanConfig {
    /// Short id used on the command line, in records and in MQTT messages.
    pub id: String,
    /// Name shown to customers.
    pub name: String,
    /// Price in the smallest unit the kiosk counts (see `[vouchers] currency_decimals`).
    pub price: u64,
    /// Connected time allowed (router `limit-uptime`); none = unlimited.
    pub time_limit: Option<Duration>,
    /// Data allowed, upload plus download (router `limit-bytes-total`); none = unlimited.
    pub data_limit: Option<ByteSize>,
    /// Wall-clock lifetime; none = no expiry.
    pub validity: Option<Duration>,
    /// Whether validity runs from first login or from the sale.
    pub validity_from: ValidityFrom,
    /// Hotspot user profile (rate limit, shared users) given to the user.
    pub profile: String,
    /// Profile to switch to when the data is used up, instead of cutting the user off.
    pub fair_use_profile: Option<String>,
    /// Whether the kiosk offers this plan to customers.
    pub kiosk: bool,
    /// Vouchers kept pre-created on the router for this plan.
    pub pool: u32,
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            id: String::new(),
            name: String::new(),
            price: 0,
            time_limit: None,
            data_limit: None,
            validity: None,
            validity_from: ValidityFrom::FirstLogin,
            profile: "default".into(),
            fair_use_profile: None,
            kiosk: true,
            pool: 0,
        }
    }
}

/// `[[profile]]`: a hotspot user profile (`/ip/hotspot/user/profile`). Limits on time
/// and data belong on users (plans), not here: RouterOS profiles have no such fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileConfig {
    /// Profile name on the router.
    pub name: String,
    /// RouterOS rate limit, router's view: `rx/tx` = upload/download, e.g. `1M/4M`.
    pub rate_limit: Option<String>,
    /// Devices that may use one voucher at once; 0 = unlimited.
    pub shared_users: Option<u32>,
    /// Longest single session.
    pub session_timeout: Option<Duration>,
    /// Idle time before a session is closed.
    pub idle_timeout: Option<Duration>,
    /// Time an unreachable client keeps its session.
    pub keepalive_timeout: Option<Duration>,
}

/// What to do with a user whose validity is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpiryAction {
    /// Disconnect and disable the user, keeping it for the records.
    #[default]
    Disable,
    /// Disconnect and remove the user from the router.
    Remove,
}

/// `[enforcement]`: the loop that watches sessions and counters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EnforcementConfig {
    /// Time between passes.
    pub interval: Duration,
    /// What happens when validity is over.
    pub on_expiry: ExpiryAction,
    /// Alert when a user has used this share of their data (percent).
    pub data_alert_percent: u8,
    /// Time between reconcile passes (router vs cache).
    pub reconcile_interval: Duration,
    /// Most hotspot users the router can have logged in at once: its licence's limit
    /// (RouterOS level 3: 1, level 4: 200, level 5: 500, level 6: none) or the size of
    /// the hotspot's address pool, whichever is smaller. `None`: no alert.
    pub user_limit: Option<u32>,
    /// Alert (`user_limit_approaching`, once per episode) when active users reach
    /// this share of `user_limit`, percent.
    pub user_limit_alert_percent: u8,
}

impl Default for EnforcementConfig {
    fn default() -> Self {
        EnforcementConfig {
            interval: Duration::from_secs(15),
            on_expiry: ExpiryAction::Disable,
            data_alert_percent: 80,
            reconcile_interval: Duration::from_secs(600),
            user_limit: None,
            user_limit_alert_percent: 90,
        }
    }
}

/// Longest validity the store can count in milliseconds.
const MAX_VALIDITY_S: u64 = (i64::MAX / 1000) as u64;

// Long on purpose: one check per key, in file order, so the list of problems reads like the file.
pub(crate) fn validate(config: &Config, problems: &mut Vec<Problem>) {
    let v = &config.vouchers;
    if !(4..=32).contains(&v.length) {
        problems.push(Problem::new("vouchers.length", v.length, "4 to 32"));
    }
    let distinct: std::collections::BTreeSet<char> = v.alphabet.chars().collect();
    if distinct.len() < 10 || distinct.len() != v.alphabet.chars().count() {
        problems.push(Problem::new(
            "vouchers.alphabet",
            &v.alphabet,
            "at least 10 different characters, none repeated",
        ));
    }
    if v.alphabet.chars().any(|c| !c.is_ascii_alphanumeric()) {
        problems.push(Problem::new(
            "vouchers.alphabet",
            &v.alphabet,
            "letters and digits only",
        ));
    }
    if v.prefix
        .chars()
        .any(|c| !c.is_ascii_alphanumeric() && c != '-')
    {
        problems.push(Problem::new(
            "vouchers.prefix",
            &v.prefix,
            "letters, digits and '-'",
        ));
    }
    if v.mode == CodeMode::SeparatePassword && !(4..=32).contains(&v.password_length) {
        problems.push(Problem::new(
            "vouchers.password_length",
            v.password_length,
            "4 to 32",
        ));
    }
    for (i, p) in config.plans.iter().enumerate() {
        let key = |k: &str| format!("plan[{i}].{k}");
        if p.id.is_empty()
            || !p
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push(Problem::new(
                key("id"),
                &p.id,
                "letters, digits, '-' and '_'",
            ));
        }
        if config.plans[..i].iter().any(|o| o.id == p.id) {
            problems.push(Problem::new(
                key("id"),
                &p.id,
                "an id no other [[plan]] uses",
            ));
        }
        if p.name.is_empty() {
            problems.push(Problem::new(key("name"), "", "a name customers will see"));
        }
        if p.profile.is_empty() {
            problems.push(Problem::new(
                key("profile"),
                "",
                "a hotspot user profile name, e.g. \"default\"",
            ));
        }
        let known =
            |name: &str| name == "default" || config.profiles.iter().any(|pr| pr.name == name);
        if !p.profile.is_empty() && !known(&p.profile) {
            problems.push(Problem::new(
                key("profile"),
                &p.profile,
                "\"default\" or the name of a [[profile]] in this file",
            ));
        }
        if let Some(fu) = &p.fair_use_profile {
            if !known(fu) {
                problems.push(Problem::new(
                    key("fair_use_profile"),
                    fu,
                    "\"default\" or the name of a [[profile]] in this file",
                ));
            }
            if p.data_limit.is_none() {
                problems.push(Problem::new(
                    key("fair_use_profile"),
                    fu,
                    "only with a data_limit to fall back from",
                ));
            }
        }
        if p.time_limit.is_none() && p.data_limit.is_none() && p.validity.is_none() {
            problems.push(Problem::new(
                key("time_limit"),
                "none",
                "at least one of time_limit, data_limit or validity (else the voucher never ends)",
            ));
        }
        if let (Some(t), Some(v)) = (p.time_limit, p.validity) {
            if v < t {
                problems.push(Problem::new(
                    key("validity"),
                    v,
                    format!(
                        "at least time_limit ({t}): a shorter validity ends the voucher before its time can be used"
                    ),
                ));
            }
        }
        if p.pool > 500 {
            problems.push(Problem::new(key("pool"), p.pool, "0 to 500"));
        }
        // The store keeps money and times as signed 64-bit numbers (milliseconds for times).
        if p.price > i64::MAX as u64 {
            problems.push(Problem::new(
                key("price"),
                p.price,
                "at most 9223372036854775807",
            ));
        }
        if p.validity.is_some_and(|v| v.as_secs() > MAX_VALIDITY_S) {
            problems.push(Problem::new(
                key("validity"),
                p.validity.map_or(0, |v| v.as_secs()),
                "a validity under 290 million years (in seconds: at most 9223372036854775)",
            ));
        }
    }
    for (i, pr) in config.profiles.iter().enumerate() {
        if pr.name.is_empty() {
            problems.push(Problem::new(
                format!("profile[{i}].name"),
                "",
                "a profile name",
            ));
        }
        if let Some(rl) = &pr.rate_limit {
            if !valid_rate_limit(rl) {
                problems.push(Problem::new(
                    format!("profile[{i}].rate_limit"),
                    rl,
                    "RouterOS rate-limit like \"512k/2M\" (upload/download, units k or M)",
                ));
            }
        }
    }
    let e = &config.enforcement;
    if e.interval.std() < std::time::Duration::from_secs(1) {
        problems.push(Problem::new(
            "enforcement.interval",
            e.interval,
            "1s or more",
        ));
    }
    if !(1..=100).contains(&e.data_alert_percent) {
        problems.push(Problem::new(
            "enforcement.data_alert_percent",
            e.data_alert_percent,
            "1 to 100",
        ));
    }
    if !(1..=100).contains(&e.user_limit_alert_percent) {
        problems.push(Problem::new(
            "enforcement.user_limit_alert_percent",
            e.user_limit_alert_percent,
            "1 to 100",
        ));
    }
    if e.user_limit == Some(0) {
        problems.push(Problem::new(
            "enforcement.user_limit",
            0,
            "1 or more (leave it out for no alert)",
        ));
    }
}

fn valid_rate_limit(text: &str) -> bool {
    let rate = |s: &str| {
        let digits = s.trim_end_matches(['k', 'K', 'M', 'G']);
        !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit())
            && s.len() - digits.len() <= 1
    };
    let first = text.split_whitespace().next().unwrap_or("");
    !first.is_empty() && first.split('/').count() <= 2 && first.split('/').all(rate)
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn a_user_limit_of_zero_or_an_alert_share_out_of_range_is_refused() {
        let mut c = crate::Config::bundled_default();
        c.enforcement.user_limit = Some(0);
        c.enforcement.user_limit_alert_percent = 0;
        let text = c.validate("t.toml").unwrap_err().to_string();
        assert!(text.contains("enforcement.user_limit"), "{text}");
        assert!(
            text.contains("enforcement.user_limit_alert_percent"),
            "{text}"
        );
        c.enforcement.user_limit = Some(200);
        c.enforcement.user_limit_alert_percent = 90;
        c.validate("t.toml").unwrap();
        let parsed = crate::Config::parse(
            "[enforcement]\nuser_limit = 500\nuser_limit_alert_percent = 80\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(parsed.enforcement.user_limit, Some(500));
    }

    #[test]
    fn plan_naming_an_unknown_profile_is_refused() {
        let text = "[[plan]]\nid = \"1h\"\nname = \"1 hour\"\nprice = 5\ntime_limit = \"1h\"\nprofile = \"fast\"\n";
        let config = Config::parse(text, "p.toml").unwrap();
        let err = config.validate("p.toml").unwrap_err().to_string();
        assert!(err.contains("plan[0].profile"), "{err}");
        assert!(err.contains("fast"), "{err}");
    }

    #[test]
    fn plan_limits_read_as_operators_write_them() {
        let text = "[[plan]]\nid = \"day\"\nname = \"1 day\"\nprice = 50\nvalidity = \"1d\"\ndata_limit = \"1G\"\n";
        let config = Config::parse(text, "p.toml").unwrap();
        config.validate("p.toml").unwrap();
        assert_eq!(config.plans[0].data_limit.unwrap().0, 1 << 30);
        assert_eq!(config.plans[0].validity.unwrap().as_secs(), 86400);
    }

    #[test]
    fn a_price_or_validity_the_store_cannot_hold_is_refused() {
        // One above i64::MAX: would read as a negative price in the store.
        let text =
            "[[plan]]\nid = \"x\"\nname = \"x\"\nprice = 9223372036854775808\nvalidity = \"1d\"\n";
        if let Ok(config) = Config::parse(text, "p.toml") {
            let err = config.validate("p.toml").unwrap_err().to_string();
            assert!(err.contains("plan[0].price"), "{err}");
        }
        let text =
            "[[plan]]\nid = \"x\"\nname = \"x\"\nprice = 5\nvalidity = \"9223372036854776s\"\n";
        let config = Config::parse(text, "p.toml").unwrap();
        let err = config.validate("p.toml").unwrap_err().to_string();
        assert!(err.contains("plan[0].validity"), "{err}");
    }

    #[test]
    fn a_bad_rate_limit_is_refused() {
        let text = "[[profile]]\nname = \"x\"\nrate_limit = \"fast\"\n";
        let err = Config::parse(text, "p.toml")
            .unwrap()
            .validate("p.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("profile[0].rate_limit"), "{err}");
    }
}
