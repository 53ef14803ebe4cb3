//! Tests of the set-up script: every line it prints, per RouterOS version.

use super::*;

fn opts() -> SetupOptions {
    SetupOptions::new(
        "192.168.88.10".parse().unwrap(),
        "192.168.88.1",
        Secret::new("pa$$\"word"),
    )
}

fn script() -> String {
    setup_script(&Config::bundled_default(), &opts())
}

fn line_starting(script: &str, prefix: &str) -> String {
    script
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in\n{script}"))
        .to_string()
}

#[test]
fn profiles_carry_rate_limit_and_shared_users_but_no_user_limits() {
    let s = script();
    let set = line_starting(&s, "/ip hotspot user profile set [find name=\"kiosk-2m\"]");
    assert!(set.contains("rate-limit=\"1M/2M\""), "{set}");
    assert!(set.contains("shared-users=\"1\""), "{set}");
    // The bundled plans have time and data limits; none of them may reach a profile.
    for forbidden in ["limit-uptime", "limit-bytes", "uptime-limit"] {
        assert!(!s.contains(forbidden), "{forbidden} found in\n{s}");
    }
}

#[test]
fn every_configured_profile_is_added_when_missing() {
    let config = Config::bundled_default();
    let s = setup_script(&config, &opts());
    for p in &config.profiles {
        let add = format!(":if ([:len [/ip hotspot user profile find name={}]] = 0) do={{ /ip hotspot user profile add name={} }}", quote(&p.name), quote(&p.name));
        assert!(s.contains(&add), "missing {add}\n{s}");
    }
}

#[test]
fn profile_timeouts_use_routeros_durations_and_unset_ones_are_left_out() {
    let text = "[[profile]]\nname = \"p\"\nsession_timeout = \"90m\"\nshared_users = 0\n";
    let config = Config::parse(text, "t.toml").unwrap();
    let props = profile_properties(&config.profiles[0]);
    assert!(
        props.contains(&("session-timeout", "1h30m".to_string())),
        "{props:?}"
    );
    assert!(
        props.contains(&("shared-users", "unlimited".to_string())),
        "{props:?}"
    );
    assert!(props.iter().all(|(k, _)| *k != "idle-timeout"), "{props:?}");
    let (path, words) = profile_add_command(&config.profiles[0]);
    assert_eq!(path, "/ip/hotspot/user/profile/add");
    assert_eq!(words[0], ("name", "p".to_string()));
}

#[test]
fn with_the_version_unknown_rest_api_is_granted_only_on_routeros_7() {
    let s = script();
    let set = line_starting(&s, "/user group set");
    assert!(
        set.ends_with("policy=api,read,write,test"),
        "valid on 6 and 7: {set}"
    );
    let v7 = line_starting(
        &s,
        ":if ([:pick [/system resource get version] 0 1] = \"7\") do={ /user group set",
    );
    assert!(v7.contains("policy=api,read,write,test,rest-api }"), "{v7}");
    let www = line_starting(
        &s,
        ":if ([:pick [/system resource get version] 0 1] = \"7\") do={ /ip service set www-ssl",
    );
    assert!(www.contains("certificate=\"hotspot-agent-api\""), "{www}");
}

#[test]
fn options_from_config_follow_the_first_router() {
    let text = "[[router]]\nhost = \"10.5.0.1\"\ntransport = \"api\"\nusername = \"kiosk\"\n";
    let config = Config::parse(text, "r.toml").unwrap();
    let o = SetupOptions::from_config(&config, "10.5.0.9".parse().unwrap(), Secret::new("x"));
    assert_eq!(o.router_host, "10.5.0.1");
    assert_eq!(o.api_user, "kiosk");
    assert_eq!(o.plain_api, PlainApi::RestrictToAgent);
    let o = SetupOptions::from_config(
        &Config::default(),
        "10.5.0.9".parse().unwrap(),
        Secret::new("x"),
    );
    assert_eq!(
        o.api_user, "hotspot-agent",
        "admin is never reused for the agent"
    );
}

#[test]
fn the_group_gets_only_the_agents_policies() {
    let mut v7 = opts();
    v7.routeros_major = Some(7);
    let s = setup_script(&Config::bundled_default(), &v7);
    let set = line_starting(&s, "/user group set");
    assert!(
        set.ends_with("policy=api,read,write,test,rest-api"),
        "{set}"
    );
    assert!(
        !s.contains("system resource get version"),
        "no detection when the version is known"
    );
    let mut v6 = opts();
    v6.routeros_major = Some(6);
    let s6 = setup_script(&Config::bundled_default(), &v6);
    let set6 = line_starting(&s6, "/user group set");
    assert!(set6.ends_with("policy=api,read,write,test"), "{set6}");
    assert!(!s6.contains("www-ssl"), "no REST service on v6");
    for broad in ["policy,", "sensitive", "ftp", "reboot", "sniff", "romon"] {
        assert!(!set.contains(broad), "{broad} granted: {set}");
    }
}

#[test]
fn the_user_may_log_in_only_from_the_agent_and_its_password_is_escaped() {
    let s = script();
    let set = line_starting(&s, "/user set [find name=\"hotspot-agent\"]");
    assert!(set.contains("address=192.168.88.10/32"), "{set}");
    assert!(set.contains("group=\"hotspot-agent\""), "{set}");
    // pa$$"word: `$` would start a variable and `"` end the string.
    assert!(set.contains(r#"password="pa\$\$\"word""#), "{set}");
}

#[test]
fn api_ssl_uses_a_signed_certificate_and_is_limited_to_the_agent() {
    let s = script();
    let add = s
        .find("/certificate add name=\"hotspot-agent-api\"")
        .expect("certificate added");
    let sign = s
        .find("/certificate sign [find name=\"hotspot-agent-api\"]")
        .expect("and signed");
    let service = s
        .find("/ip service set api-ssl certificate=\"hotspot-agent-api\" address=192.168.88.10/32 disabled=no")
        .expect("api-ssl set");
    assert!(add < sign && sign < service, "created, signed, then used");
    assert!(s.contains("subject-alt-name=\"IP:192.168.88.1\""), "{s}");
    assert!(
        s.contains("/ip service set api disabled=yes"),
        "plain api off by default"
    );
}

#[test]
fn the_plain_api_can_be_kept_for_the_agent_only() {
    let mut o = opts();
    o.plain_api = PlainApi::RestrictToAgent;
    o.agent_address = "fd00::5".parse().unwrap();
    let s = setup_script(&Config::bundled_default(), &o);
    assert!(
        s.contains("/ip service set api address=fd00::5/128 disabled=no"),
        "{s}"
    );
    assert!(!s.contains("/ip service set api disabled=yes"), "{s}");
}

#[test]
fn the_script_ends_by_printing_the_fingerprint_to_pin() {
    let s = script();
    assert!(
        s.contains("[/certificate get [find name=\"hotspot-agent-api\"] fingerprint]"),
        "{s}"
    );
}

#[test]
fn quoting_escapes_what_routeros_would_interpret() {
    assert_eq!(quote(r#"a"b\c$d"#), r#""a\"b\\c\$d""#);
    assert_eq!(quote("plain"), "\"plain\"");
}
