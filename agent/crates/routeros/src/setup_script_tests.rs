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
    assert!(
        !s.contains("www-ssl"),
        "no REST wanted, so www-ssl is left alone: {s}"
    );
    let mut rest = opts();
    rest.rest = true;
    let s = setup_script(&Config::bundled_default(), &rest);
    let www = line_starting(
        &s,
        ":if ([:pick [/system resource get version] 0 1] = \"7\") do={ /ip service set www-ssl",
    );
    assert!(www.contains("certificate=\"hotspot-agent-api\""), "{www}");
}

#[test]
fn www_ssl_is_set_up_only_for_rest_and_opens_only_for_the_agent_when_it_was_off() {
    for (transport, wanted) in [
        ("api-ssl", false),
        ("api", false),
        ("auto", false),
        ("rest", true),
    ] {
        let text = format!("[[router]]\nhost = \"10.5.0.1\"\ntransport = \"{transport}\"\n");
        let config = Config::parse(&text, "r.toml").unwrap();
        let o = SetupOptions::from_config(&config, "10.5.0.9".parse().unwrap(), Secret::new("x"));
        let s = setup_script(&config, &o);
        assert_eq!(s.contains("www-ssl"), wanted, "{transport}: {s}");
        if wanted {
            assert!(
                s.contains(":if ([/ip service get www-ssl disabled]) do={ /ip service set www-ssl address=10.5.0.9/32 }"),
                "{s}"
            );
        }
    }
}

#[test]
fn options_from_config_follow_the_first_router() {
    let text = "[[router]]\nhost = \"10.5.0.1\"\ntransport = \"api\"\nusername = \"kiosk\"\n";
    let config = Config::parse(text, "r.toml").unwrap();
    let o = SetupOptions::from_config(&config, "10.5.0.9".parse().unwrap(), Secret::new("x"));
    assert_eq!(o.router_host, "10.5.0.1");
    assert_eq!(o.api_user, "kiosk");
    assert_eq!(o.plain_api, PlainApi::Leave);
    assert!(o.agent_uses_plain_api);
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
}

#[test]
fn the_plain_api_is_left_for_other_tools_by_default() {
    let s = script();
    assert!(!s.contains("/ip service set api "), "untouched: {s}");
    assert!(s.contains("Mikhmon"), "the comment says why: {s}");
    let mut agent = opts();
    agent.agent_uses_plain_api = true;
    let s = setup_script(&Config::bundled_default(), &agent);
    let on = line_starting(&s, ":if ([/ip service get api disabled])");
    assert!(
        on.contains("/ip service set api address=192.168.88.10/32 disabled=no"),
        "turned on only when off, and then for the agent: {on}"
    );
}

#[test]
fn the_plain_api_can_be_restricted_by_address_or_turned_off() {
    let mut o = opts();
    o.plain_api = PlainApi::Restrict(vec!["192.168.88.20".into()]);
    o.agent_address = "fd00::5".parse().unwrap();
    let s = setup_script(&Config::bundled_default(), &o);
    assert!(
        s.contains("/ip service set api address=fd00::5/128,192.168.88.20 disabled=no"),
        "{s}"
    );
    assert!(!s.contains("/ip service set api disabled=yes"), "{s}");
    o.plain_api = PlainApi::Disable;
    let s = setup_script(&Config::bundled_default(), &o);
    assert!(s.contains("/ip service set api disabled=yes"), "{s}");
}

#[test]
fn the_board_bypasses_its_own_hotspot_unless_told_not_to() {
    let s = script();
    let add = line_starting(
        &s,
        ":if ([:len [/ip hotspot ip-binding find comment=\"hotspot-agent board\"]] = 0)",
    );
    assert!(
        add.contains("/ip hotspot ip-binding add address=192.168.88.10 type=bypassed"),
        "{add}"
    );
    let set = line_starting(
        &s,
        "/ip hotspot ip-binding set [find comment=\"hotspot-agent board\"]",
    );
    assert!(
        set.ends_with("address=192.168.88.10 type=bypassed"),
        "{set}"
    );
    let mut o = opts();
    o.bypass_agent = false;
    let s = setup_script(&Config::bundled_default(), &o);
    assert!(!s.contains("/ip hotspot ip-binding"), "{s}");
}

#[test]
fn dns_name_and_login_by_are_checked_and_changed_only_on_request() {
    let text =
        "[[router]]\nhost = \"10.5.0.1\"\ndns_name = \"wifi.shop\"\nhotspot_server = \"hs1\"\n";
    let config = Config::parse(text, "r.toml").unwrap();
    let mut o = SetupOptions::from_config(&config, "10.5.0.9".parse().unwrap(), Secret::new("x"));
    let s = setup_script(&config, &o);
    assert!(
        s.contains(":foreach s in=[/ip hotspot find name=\"hs1\"] do={"),
        "{s}"
    );
    let dns = line_starting(&s, "    :if ($dns != \"wifi.shop\")");
    assert!(
        dns.contains("WARNING") && !dns.contains("profile set"),
        "{dns}"
    );
    let pap = line_starting(&s, "    :if ([:typeof [:find $by \"http-pap\"]] = \"nil\")");
    assert!(
        pap.contains("WARNING") && !pap.contains("profile set"),
        "{pap}"
    );
    assert!(
        s.contains("plain\n#    text: on an open WiFi"),
        "the cost is said: {s}"
    );
    o.set_dns_name = true;
    o.login_by = LoginBy::AddPap;
    let s = setup_script(&config, &o);
    let dns = line_starting(&s, "    :if ($dns != \"wifi.shop\")");
    assert!(
        dns.contains("/ip hotspot profile set [find name=$p] dns-name=\"wifi.shop\""),
        "{dns}"
    );
    let pap = line_starting(&s, "    :if ([:typeof [:find $by \"http-pap\"]] = \"nil\")");
    assert!(pap.contains("login-by=($by, \"http-pap\")"), "{pap}");
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
