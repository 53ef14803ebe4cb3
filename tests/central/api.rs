//! The admin API (`hotspot-central serve-api`) driven over HTTP against a real
//! mosquitto and a simulated site: each endpoint becomes the signed down message.

use std::time::Duration;

use hotspot_central::store::Store;
use hotspot_tests::mosquitto::Mosquitto;
use serde_json::{json, Value};

use super::*;

const TOKEN: &str = "t0ken-for-the-test";

/// One request; (status, JSON body).
fn call(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut req = ureq::request(method, url).timeout(Duration::from_secs(30));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let got = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let resp = match got {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    (status, resp.into_json().unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_endpoints_reach_the_site_as_signed_commands_behind_a_bearer_token() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let key = write_central_key(dir.path());
    let db_path = dir.path().join("central.db");
    let store = Store::sqlite(&db_path).unwrap();
    store
        .register_site(&site_name(3), &site_key(3).public_hex())
        .await
        .unwrap();
    drop(store);
    let token_file = dir.path().join("api.token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = central_cmd(
        broker.port,
        &key,
        &["--db".into(), db_path.display().to_string()],
    );
    c.args([
        "serve-api",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--timeout-secs",
        "15",
    ])
    .arg("--token-file")
    .arg(&token_file)
    .stdin(Stdio::null());
    let _api = Worker(c.spawn().unwrap());
    let site = start_site(broker.port, 3, 0);
    site.handle.link().wait_connected().await;
    let base = format!("http://127.0.0.1:{port}/api/sites/{}", site_name(3));
    wait_until(20, "the API listening", || async {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let b = base.clone();
    let results = tokio::task::spawn_blocking(move || {
        let mut r = Vec::new();
        r.push(call("GET", &format!("{b}/users"), None, None));
        r.push(call("GET", &format!("{b}/users"), Some("wrong"), None));
        r.push(call("GET", &format!("{b}/users?active=true&profile=fast"), Some(TOKEN), None));
        r.push(call("POST", &format!("{b}/voucher"), Some(TOKEN), Some(json!({"plan": "1h", "count": 2}))));
        r.push(call("DELETE", &format!("{b}/users?username=K7H3AB"), Some(TOKEN), None));
        r.push(call("GET", &format!("{b}/profiles"), Some(TOKEN), None));
        r.push(call("POST", &format!("{b}/test"), Some(TOKEN), Some(json!({"router": "main"}))));
        let routers = json!({"version": 5, "routers": [{"name": "main", "host": "192.168.88.1",
            "port": 8728, "transport": "api", "username": "hifastlink", "password": "Pa55-w0rd"}]});
        r.push(call("POST", &format!("{b}/settings"), Some(TOKEN), Some(routers)));
        let twice = json!({"routers": [{"name": "a", "host": "h", "username": "u"}, {"name": "a", "host": "h", "username": "u"}]});
        r.push(call("POST", &format!("{b}/settings"), Some(TOKEN), Some(twice)));
        let unknown = format!("http://127.0.0.1:{port}/api/sites/site-99/profiles");
        r.push(call("GET", &unknown, Some(TOKEN), None));
        r
    })
    .await
    .unwrap();
    let [no_token, wrong, users, voucher, removed, profiles, test, settings, twice, unknown] =
        <[(u16, Value); 10]>::try_from(results).unwrap();
    assert_eq!(no_token.0, 401, "{no_token:?}");
    assert_eq!(wrong.0, 401);
    assert_eq!(users.0, 200, "{users:?}");
    assert_eq!(
        users.1["ok"]["Users"]["users"][0]["name"], "K7H3AB",
        "{users:?}"
    );
    assert_eq!(voucher.0, 200, "{voucher:?}");
    assert_eq!(voucher.1["ok"]["Done"], "2 x 1h sold");
    assert_eq!(removed.1["ok"]["Done"], "K7H3AB removed", "{removed:?}");
    assert_eq!(profiles.0, 200, "{profiles:?}");
    assert_eq!(test.0, 200, "{test:?}");
    assert_eq!(settings.0, 200, "{settings:?}");
    assert_eq!(twice.0, 400, "{twice:?}");
    assert_eq!(unknown.0, 404, "{unknown:?}");
    assert!(
        unknown.1["error"].as_str().unwrap().contains("register"),
        "{unknown:?}"
    );

    let commands = site.actions.commands.lock().unwrap().clone();
    assert_eq!(
        commands,
        [
            SiteCommand::ListUsers {
                router: None,
                active: Some(true),
                profile: Some("fast".into()),
                offset: 0
            },
            SiteCommand::CreateVouchers {
                plan_id: "1h".into(),
                count: 2
            },
            SiteCommand::RemoveUser {
                username: "K7H3AB".into()
            },
            SiteCommand::ListProfiles { router: None },
            SiteCommand::TestRouter {
                router: Some("main".into())
            },
        ],
        "each request ran once on the site, unauthorised ones never"
    );
    wait_until(15, "the router settings applied on the site", || async {
        !site.actions.routers.lock().unwrap().is_empty()
    })
    .await;
    let applied = site.actions.routers.lock().unwrap()[0].clone();
    assert_eq!(
        (applied.version, applied.routers[0].username.as_str()),
        (5, "hifastlink")
    );
    let sealed = applied.routers[0].password_sealed.clone().unwrap();
    assert_eq!(
        sync_proto::seal::open_sealed(site_key(3).signing_key(), &sealed).unwrap(),
        "Pa55-w0rd",
        "the password travels sealed to the site"
    );

    let b = base.clone();
    let (status, shown) = tokio::task::spawn_blocking(move || {
        call("GET", &format!("{b}/settings"), Some(TOKEN), None)
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["version"], 5);
    assert_eq!(shown["routers"][0]["password_set"], true);
    assert!(!shown.to_string().contains("Pa55"), "{shown}");
    site.handle.shutdown().await;
}
