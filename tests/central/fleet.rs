//! The fleet view (`hotspot-central sites`) from the retained status and last will,
//! the latest state per sale, and `sales | head` without a broken-pipe panic.

use std::io::{BufRead, BufReader};

use hotspot_agent::sync::outbox::outbox_payload;
use hotspot_central::store::Store;
use hotspot_tests::mosquitto::Mosquitto;

use super::*;

fn sites_json(port: u16, key: &std::path::Path, db: &[String]) -> Vec<serde_json::Value> {
    let mut c = central_cmd(port, key, db);
    c.args(["sites", "--json"]);
    central_ok(c)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_view_shows_each_site_online_then_offline_by_its_will_with_sales_and_alerts() {
    const SALES: u32 = 600;
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let key = write_central_key(dir.path());
    let db_path = dir.path().join("central.db");
    let db = vec!["--db".to_string(), db_path.display().to_string()];
    let store = Store::sqlite(&db_path).unwrap();
    for n in [1, 2] {
        store
            .register_site(&site_name(n), &site_key(n).public_hex())
            .await
            .unwrap();
    }
    let (stop_tx, run) = spawn_worker(broker.port, "ingest-fleet", store).await;

    let site = start_site(broker.port, 1, SALES);
    // A later state of sale 0, and an alert, as the site's outbox carries them.
    let later = SaleRecord {
        state: "refunded".into(),
        ..sale(1, 0)
    };
    let id = sync_proto::ids::sale_state_msg_id(&epoch(1), "000000", "refunded");
    let (msg_id, kind, payload) = outbox_payload(&id, &Up::Sale(later));
    site.outbox
        .enqueue(&msg_id, kind, &payload, 1_800_000_100_000)
        .unwrap();
    let alert = Up::Alert(Event {
        name: "paper_out".into(),
        detail: "printer roll empty".into(),
    });
    let (msg_id, kind, payload) = outbox_payload("event-0000000000000001-1", &alert);
    site.outbox
        .enqueue(&msg_id, kind, &payload, sync_proto::now_ms())
        .unwrap();
    wait_until(60, "site 1's outbox drained", || async {
        site.outbox.backlog().unwrap() == 0
    })
    .await;

    let rows = sites_json(broker.port, &key, &db);
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["site"] == name)
            .cloned()
            .unwrap_or_default()
    };
    let one = row(&site_name(1));
    assert_eq!(one["state"], "online", "{one}");
    assert_eq!(one["source"], "broker");
    assert_eq!(one["sales"], SALES as u64 + 1, "{one}");
    assert_eq!(one["plans_version"], 0);
    assert_eq!(one["alerts"][0]["name"], "paper_out", "{one}");
    assert_eq!(
        row(&site_name(2))["state"],
        "unknown",
        "site 2 never connected"
    );

    // A power cut: no DISCONNECT, so the broker publishes the site's signed will.
    site.handle.link().kill();
    wait_until(30, "the fleet view shows site 1 offline", || async {
        let rows = sites_json(broker.port, &key, &db);
        rows.iter()
            .any(|r| r["site"] == site_name(1).as_str() && r["state"] == "offline")
    })
    .await;
    let table = {
        let mut c = central_cmd(broker.port, &key, &db);
        c.arg("sites");
        central_ok(c)
    };
    let line = table
        .lines()
        .find(|l| l.starts_with(&site_name(1)))
        .unwrap();
    assert!(
        line.contains("offline") && line.contains("paper_out"),
        "{table}"
    );

    // One line per sale in its latest state; sale 0 was refunded.
    let mut c = central_cmd(broker.port, &key, &db);
    c.args(["sales", "--latest"]);
    let latest: Vec<serde_json::Value> = central_ok(c)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(latest.len(), SALES as usize);
    let zero = latest
        .iter()
        .find(|r| r["sale"]["sale_id"] == "000000")
        .unwrap();
    assert_eq!(zero["sale"]["state"], "refunded");

    // `sales | head -1`: the reader goes away after one line; no panic, exit 0.
    let mut c = central_cmd(broker.port, &key, &db);
    c.arg("sales").stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("\"sale_id\""), "{first}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("panicked"),
        "{:?} {stderr}",
        out.status
    );

    let _ = stop_tx.send(());
    run.await.unwrap();
}
