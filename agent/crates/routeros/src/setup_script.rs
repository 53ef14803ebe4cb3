//! The RouterOS script (`.rsc`) that prepares a router for the agent: an API group
//! with only the policies the agent needs, the agent's user, a certificate for
//! api-ssl limited to the agent's address, and the hotspot user profiles the plans
//! use. Pure: it renders text from the configuration; `hotspot-agent router
//! setup-script` prints it.
//!
//! Every item is added only when missing and then set, so running the script again
//! after changing the configuration updates the router instead of failing with
//! `already have such name`.
//!
//! Profiles carry only what RouterOS profiles have: `rate-limit`, `shared-users` and
//! timeouts. Time and data limits are properties of each voucher user
//! (routeros-reference.md §4.1, §4.2), which the agent sets when it sells.

use std::fmt::Write as _;
use std::net::IpAddr;

use firmware_config::{Config, ProfileConfig, Secret, Transport};

const POLICIES_V6: &str = "api,read,write,test";
const POLICIES_V7: &str = "api,read,write,test,rest-api";
/// RouterOS condition: true on RouterOS 7 (`version` reads like `7.16.2 (stable)`).
const IS_V7: &str = "[:pick [/system resource get version] 0 1] = \"7\"";

/// What the plain (unencrypted, port 8728) API service should become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlainApi {
    /// Left as it is (the default): other tools the owner uses (Mikhmon, a billing
    /// system) may log in on 8728, and turning it off for everyone would stop them.
    /// Only when it is off and the agent needs it (`transport = "api"`) is it turned
    /// on, for the agent's address alone.
    Leave,
    /// On, but only from the agent's address and these others (CIDR or addresses).
    Restrict(Vec<String>),
    /// Turned off for everyone: nothing else uses it.
    Disable,
}

/// How the hotspot's login methods are treated, for the ticket's QR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginBy {
    /// Check that the hotspot profile has `http-pap` and warn when not (the default:
    /// the owner's hotspot is not weakened without being asked).
    Check,
    /// Add `http-pap` to the profile's `login-by`, keeping the methods it has.
    AddPap,
}

/// Choices for the script beyond what the configuration says.
#[derive(Debug, Clone)]
pub struct SetupOptions {
    /// The agent's (the Pi's) address on the hotspot LAN; the only address allowed to log in.
    pub agent_address: IpAddr,
    /// Address or DNS name the agent uses for the router; goes in the certificate.
    pub router_host: String,
    /// RouterOS user the agent logs in as.
    pub api_user: String,
    /// Group created for that user.
    pub group: String,
    /// That user's password; written into the script, so keep the script private.
    pub password: Secret,
    /// RouterOS major version: 7 also grants `rest-api` and sets up `www-ssl` for REST.
    /// `None` (the default) lets the script ask the router, so one script fits both.
    pub routeros_major: Option<u8>,
    /// Name of the certificate created for api-ssl.
    pub certificate: String,
    /// What happens to the plain API service.
    pub plain_api: PlainApi,
    /// Whether the agent talks to the router with the plain API (`transport = "api"` or
    /// `auto`), so it must stay reachable from the agent.
    pub agent_uses_plain_api: bool,
    /// Set `www-ssl` up for REST: only when the agent uses REST (`transport = "rest"`).
    pub rest: bool,
    /// Add a hotspot `ip-binding` that bypasses the hotspot for the agent's address.
    pub bypass_agent: bool,
    /// The login address printed on tickets (`[[router]] dns_name`).
    pub dns_name: String,
    /// Set each hotspot profile's `dns-name` to [`SetupOptions::dns_name`] instead of
    /// only warning when it differs.
    pub set_dns_name: bool,
    /// The hotspot server the agent sells for (`[[router]] hotspot_server`, `all`).
    pub hotspot_server: String,
    /// Check or add `http-pap`.
    pub login_by: LoginBy,
}

impl SetupOptions {
    /// Defaults: user and group `hotspot-agent`, version detected by the script, plain
    /// API left as it is, no REST, the board bypassed, `dns-name` and `login-by`
    /// checked but not changed.
    pub fn new(
        agent_address: IpAddr,
        router_host: impl Into<String>,
        password: Secret,
    ) -> SetupOptions {
        SetupOptions {
            agent_address,
            router_host: router_host.into(),
            api_user: "hotspot-agent".into(),
            group: "hotspot-agent".into(),
            password,
            routeros_major: None,
            certificate: "hotspot-agent-api".into(),
            plain_api: PlainApi::Leave,
            agent_uses_plain_api: false,
            rest: false,
            bypass_agent: true,
            dns_name: "hotspot.lan".into(),
            set_dns_name: false,
            hotspot_server: "all".into(),
            login_by: LoginBy::Check,
        }
    }

    /// Uses the first `[[router]]` of `config` for the router's address, the user name
    /// (when it is not the factory `admin`), the ticket's `dns_name`, the hotspot server,
    /// and its transport: the plain API must reach the agent with `api` or `auto`, and
    /// `www-ssl` is set up only for `rest`.
    pub fn from_config(config: &Config, agent_address: IpAddr, password: Secret) -> SetupOptions {
        let mut opts = SetupOptions::new(agent_address, "192.168.88.1", password);
        if let Some(r) = config.router(None) {
            if !r.host.is_empty() {
                opts.router_host = r.host.clone();
            }
            if r.username != "admin" && !r.username.is_empty() {
                opts.api_user = r.username.clone();
            }
            opts.agent_uses_plain_api = matches!(r.transport, Transport::Api | Transport::Auto);
            if r.transport == Transport::Rest {
                opts.routeros_major = Some(7);
                opts.rest = true;
            }
            opts.dns_name = r.dns_name.clone();
            opts.hotspot_server = r.hotspot_server.clone();
        }
        opts
    }

    /// The group's policies: `api` to log in over the binary API, `read`/`write` for
    /// users, profiles and sessions, `test` for ping; `rest-api` on RouterOS 7 (RouterOS
    /// 6 refuses that name, so with the version unknown the script adds it when it
    /// finds itself on 7).
    pub fn policies(&self) -> &'static str {
        if self.routeros_major.unwrap_or(6) >= 7 {
            POLICIES_V7
        } else {
            POLICIES_V6
        }
    }

    pub(crate) fn agent_cidr(&self) -> String {
        match self.agent_address {
            IpAddr::V4(a) => format!("{a}/32"),
            IpAddr::V6(a) => format!("{a}/128"),
        }
    }
}

/// A profile as API words, for sending to a router (or the simulator) over the API:
/// `("/ip/hotspot/user/profile/add", [("name", "kiosk-2m"), ("rate-limit", "1M/2M"), ...])`.
pub fn profile_add_command(profile: &ProfileConfig) -> (&'static str, Vec<(&'static str, String)>) {
    let mut words = vec![("name", profile.name.clone())];
    words.extend(profile_properties(profile));
    ("/ip/hotspot/user/profile/add", words)
}

/// The properties a profile sets, in RouterOS names. Unset timeouts are left out
/// rather than sent empty: `session-timeout=""` is refused (routeros-reference.md §4.2).
pub fn profile_properties(profile: &ProfileConfig) -> Vec<(&'static str, String)> {
    let mut props = Vec::new();
    if let Some(rate) = &profile.rate_limit {
        props.push(("rate-limit", rate.clone()));
    }
    if let Some(n) = profile.shared_users {
        props.push((
            "shared-users",
            if n == 0 {
                "unlimited".into()
            } else {
                n.to_string()
            },
        ));
    }
    for (key, value) in [
        ("session-timeout", profile.session_timeout),
        ("idle-timeout", profile.idle_timeout),
        ("keepalive-timeout", profile.keepalive_timeout),
    ] {
        if let Some(d) = value {
            props.push((key, routeros_proto::format_duration(d.std())));
        }
    }
    props
}

/// Quotes a value for a RouterOS script: `"` and `\` are escaped, and `$` so that a
/// password is never read as a variable.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Adds the item named `name` under `menu` when missing, then sets `props` on it.
fn ensure(out: &mut String, menu: &str, name: &str, add_extra: &str, props: &str) {
    let q = quote(name);
    let _ = writeln!(
        out,
        ":if ([:len [{menu} find name={q}]] = 0) do={{ {menu} add name={q}{add_extra} }}"
    );
    if !props.is_empty() {
        let _ = writeln!(out, "{menu} set [find name={q}] {props}");
    }
}

fn join(props: &[(&str, String)]) -> String {
    props
        .iter()
        .map(|(k, v)| format!("{k}={}", quote(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The whole `.rsc` script: a header, then eight numbered steps, each a function below
/// or in `hotspot`.
pub fn setup_script(config: &Config, opts: &SetupOptions) -> String {
    let mut out = String::new();
    header(&mut out, config);
    group_step(&mut out, opts);
    user_step(&mut out, opts);
    certificate_step(&mut out, opts);
    services_step(&mut out, opts);
    profiles_step(&mut out, config);
    hotspot::bypass_step(&mut out, opts);
    hotspot::login_step(&mut out, opts);
    fingerprint_step(&mut out, opts);
    out
}

fn header(out: &mut String, config: &Config) {
    let _ = writeln!(
        out,
        "# hotspot-agent: router set-up for site {}",
        quote(&config.agent.site_id)
    );
    let _ = writeln!(
        out,
        "# Generated by `hotspot-agent router setup-script`. It holds the agent's"
    );
    let _ = writeln!(
        out,
        "# password: keep it private. Run it in a terminal (WinBox > New Terminal,"
    );
    let _ = writeln!(
        out,
        "# or ssh) or upload it and run: /import file-name=hotspot-agent.rsc"
    );
    let _ = writeln!(
        out,
        "# Safe to run again: items are added when missing, then set."
    );
    let _ = writeln!(out);
}

/// 1. A group with only the policies the agent needs.
fn group_step(out: &mut String, opts: &SetupOptions) {
    let group = quote(&opts.group);
    let _ = writeln!(
        out,
        "# 1. A group with only what the agent needs: api (log in), read and write"
    );
    let _ = writeln!(
        out,
        "#    (hotspot users, profiles, sessions), test (ping){}.",
        match opts.routeros_major {
            Some(7..) => ", rest-api (REST)",
            Some(_) => "",
            None => ", and rest-api (REST) on RouterOS 7",
        }
    );
    ensure(
        out,
        "/user group",
        &opts.group,
        &format!(" policy={}", opts.policies()),
        &format!("policy={}", opts.policies()),
    );
    if opts.routeros_major.is_none() {
        let _ = writeln!(
            out,
            ":if ({IS_V7}) do={{ /user group set [find name={group}] policy={POLICIES_V7} }}"
        );
    }
    let _ = writeln!(out);
}

/// 2. The agent's API user, allowed only from the agent's address.
fn user_step(out: &mut String, opts: &SetupOptions) {
    let cidr = opts.agent_cidr();
    let group = quote(&opts.group);
    let _ = writeln!(
        out,
        "# 2. The agent's user, allowed to log in only from the agent ({}).",
        opts.agent_address
    );
    let user_props = format!(
        "group={group} password={} address={cidr} comment=\"hotspot-agent\"",
        quote(opts.password.expose())
    );
    let user_add = format!(" group={group} password={}", quote(opts.password.expose()));
    ensure(out, "/user", &opts.api_user, &user_add, &user_props);
    let _ = writeln!(out);
}

/// 3. A self-signed certificate for api-ssl.
fn certificate_step(out: &mut String, opts: &SetupOptions) {
    let cert = quote(&opts.certificate);
    let _ = writeln!(
        out,
        "# 3. A self-signed certificate for api-ssl. The agent pins its SHA-256"
    );
    let _ = writeln!(
        out,
        "#    fingerprint (printed at the end) instead of trusting a CA."
    );
    let san = match opts.router_host.parse::<IpAddr>() {
        Ok(_) => format!("IP:{}", opts.router_host),
        Err(_) => format!("DNS:{}", opts.router_host),
    };
    let _ = writeln!(
        out,
        ":if ([:len [/certificate find name={cert}]] = 0) do={{"
    );
    let _ = writeln!(
        out,
        "    /certificate add name={cert} common-name={} subject-alt-name={} days-valid=3650 key-size=2048 key-usage=digital-signature,key-encipherment,tls-server",
        quote(&opts.router_host),
        quote(&san)
    );
    let _ = writeln!(out, "    /certificate sign [find name={cert}]");
    let _ = writeln!(
        out,
        "    # signing a 2048-bit key takes a few seconds on small routers"
    );
    let _ = writeln!(out, "    :delay 5s");
    let _ = writeln!(out, "}}");
    let _ = writeln!(out);
}

/// 4. api-ssl with that certificate, the plain API, REST.
fn services_step(out: &mut String, opts: &SetupOptions) {
    let cidr = opts.agent_cidr();
    let cert = quote(&opts.certificate);
    let _ = writeln!(
        out,
        "# 4. api-ssl (port 8729) with that certificate, only from the agent."
    );
    let _ = writeln!(
        out,
        "/ip service set api-ssl certificate={cert} address={cidr} disabled=no"
    );
    match &opts.plain_api {
        PlainApi::Leave => {
            let _ = writeln!(
                out,
                "# The plain API (8728) is left as it is: other tools (Mikhmon, billing) may use"
            );
            let _ = writeln!(
                out,
                "# it. It sends passwords unencrypted; to allow it only from chosen machines, make"
            );
            let _ = writeln!(
                out,
                "# the script with --plain-api restrict --plain-api-allow ADDRESS, or --plain-api off."
            );
            if opts.agent_uses_plain_api {
                let _ = writeln!(
                    out,
                    "# The agent uses it (transport api or auto): when it is off, on for the agent only."
                );
                let _ = writeln!(
                    out,
                    ":if ([/ip service get api disabled]) do={{ /ip service set api address={cidr} disabled=no }}"
                );
            }
        }
        PlainApi::Restrict(others) => {
            let mut allowed = vec![cidr.clone()];
            allowed.extend(others.iter().cloned());
            let _ = writeln!(
                out,
                "# The plain API stays on, only from the agent and the addresses chosen."
            );
            let _ = writeln!(
                out,
                "/ip service set api address={} disabled=no",
                allowed.join(",")
            );
        }
        PlainApi::Disable => {
            let _ = writeln!(
                out,
                "# The plain API sends passwords and vouchers unencrypted: off for everyone."
            );
            let _ = writeln!(out, "/ip service set api disabled=yes");
        }
    }
    if opts.rest {
        let www_ssl = format!("/ip service set www-ssl certificate={cert} disabled=no");
        let _ = writeln!(
            out,
            "# REST (RouterOS 7, transport rest) is served by www-ssl, which also serves WebFig:"
        );
        let _ = writeln!(
            out,
            "# an address list already there is kept; when it was off, it opens for the agent only."
        );
        let _ = writeln!(
            out,
            ":if ([/ip service get www-ssl disabled]) do={{ /ip service set www-ssl address={cidr} }}"
        );
        match opts.routeros_major {
            None => {
                let _ = writeln!(out, ":if ({IS_V7}) do={{ {www_ssl} }}");
            }
            Some(_) => {
                let _ = writeln!(out, "{www_ssl}");
            }
        }
    }
    let _ = writeln!(out);
}

/// 5. The hotspot user profiles of the plans.
fn profiles_step(out: &mut String, config: &Config) {
    let _ = writeln!(
        out,
        "# 5. Hotspot user profiles for the plans: speed, devices per voucher and"
    );
    let _ = writeln!(
        out,
        "#    timeouts. Time and data allowances go on each voucher user, not here."
    );
    for profile in &config.profiles {
        let plans: Vec<&str> = config
            .plans
            .iter()
            .filter(|p| {
                p.profile == profile.name
                    || p.fair_use_profile.as_deref() == Some(profile.name.as_str())
            })
            .map(|p| p.id.as_str())
            .collect();
        if !plans.is_empty() {
            let _ = writeln!(out, "# used by plans: {}", plans.join(", "));
        }
        ensure(
            out,
            "/ip hotspot user profile",
            &profile.name,
            "",
            &join(&profile_properties(profile)),
        );
    }
    let _ = writeln!(out);
}

/// 6. What to copy into the agent's configuration.
fn fingerprint_step(out: &mut String, opts: &SetupOptions) {
    let cidr = opts.agent_cidr();
    let cert = quote(&opts.certificate);
    let _ = writeln!(
        out,
        "# 8. Copy this into [[router]] fingerprint in the agent's config.toml:"
    );
    let _ = writeln!(
        out,
        ":put (\"fingerprint = \\\"\" . [/certificate get [find name={cert}] fingerprint] . \"\\\"\")"
    );
    let _ = writeln!(
        out,
        ":put {}",
        quote(&format!(
            "user {} ready; api-ssl allowed from {cidr}",
            opts.api_user
        ))
    );
}

#[path = "setup_script_hotspot.rs"]
mod hotspot;

#[cfg(test)]
#[path = "setup_script_tests.rs"]
mod tests;
