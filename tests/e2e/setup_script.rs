//! `router setup-script` against the simulated router: every hotspot profile line of
//! the generated .rsc, turned into the API command it stands for, is accepted by the
//! simulator, and the profiles read back as the config asked.

use firmware_config::{Config, RouterConfig, Secret, Transport};
use routeros::model::path;
use routeros::setup_script::{setup_script, SetupOptions};
use routeros::{HotspotApi, Router, RouterSettings};
use routeros_sim::{SimOptions, SimRouter};

/// Splits `key="value" key=value` into pairs, honouring quotes and `\` escapes.
fn pairs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.trim().chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
            chars.next(); // the space after the closing quote
        } else {
            value = chars.by_ref().take_while(|c| *c != ' ').collect();
        }
        out.push((key.trim().to_string(), value));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profiles_of_the_setup_script_are_accepted_by_the_simulator() {
    let config = Config::bundled_default();
    let opts = SetupOptions::new("10.5.50.2".parse().unwrap(), "10.5.50.1", Secret::new("pw"));
    let script = setup_script(&config, &opts);
    assert!(
        !script.contains("limit-uptime"),
        "limits belong on users, not profiles"
    );

    let sim = SimRouter::start(SimOptions::version("7.18")).await.unwrap();
    let rc = RouterConfig {
        name: "sim".into(),
        transport: Transport::Api,
        ..hotspot_agent::simulated::router_config(&sim, &RouterConfig::default())
    };
    let router = Router::connect(RouterSettings::from_config(&rc, 0).unwrap())
        .await
        .unwrap();

    let set_prefix = "/ip hotspot user profile set [find name=";
    let mut sent = 0;
    for line in script.lines().filter(|l| l.starts_with(set_prefix)) {
        let rest = &line[set_prefix.len()..];
        let (name, props) = rest.split_once("] ").expect("profile set line");
        let name = name.trim_matches('"').to_string();
        let mut attrs = vec![("name".to_string(), name.clone())];
        attrs.extend(pairs(props));
        router
            .add(path::PROFILE, &attrs)
            .await
            .unwrap_or_else(|e| panic!("the simulator refused {line:?}: {e}"));
        sent += 1;
    }
    assert_eq!(
        sent,
        config.profiles.len(),
        "one profile line per [[profile]]"
    );

    let on_router = router.profiles().await.unwrap();
    for p in &config.profiles {
        let got = on_router
            .iter()
            .find(|r| r.name == p.name)
            .expect("profile on the router");
        assert_eq!(got.rate_limit, p.rate_limit, "{}", p.name);
        assert_eq!(got.shared_users, p.shared_users, "{}", p.name);
    }
}

#[test]
fn script_words_split_like_routeros_reads_them() {
    assert_eq!(
        pairs(r#"rate-limit="1M/2M" shared-users="1" comment="a \"b\"""#),
        vec![
            ("rate-limit".to_string(), "1M/2M".to_string()),
            ("shared-users".to_string(), "1".to_string()),
            ("comment".to_string(), "a \"b\"".to_string()),
        ]
    );
}
