//! What the agent records for operators reaches the central office: alerts on
//! `up/alert`, warnings on `up/event`, each once, named as the README lists.

use super::*;
use hotspot_agent::store::{Level, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_alerts_and_warnings_reach_the_central_office_once_each() {
    let broker = Mosquitto::start();
    let cdir = tempfile::tempdir().unwrap();
    let (mut central, cdb) = start_central(broker.port, cdir.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("agent.db")).unwrap();
    store
        .record_event(Level::Warn, "old", None, "before the link started", 1)
        .unwrap();
    let outbox = Arc::new(SqliteOutbox::open(store.path()).unwrap());
    let state = Arc::new(SyncState::open(store.path()).unwrap());
    let site = start_site(broker.port, (dir, outbox, state));
    site.handle.link().wait_connected().await;
    tokio::time::sleep(Duration::from_millis(800)).await;

    let now = sync_proto::now_ms() as i64;
    store
        .record_event(
            Level::Alert,
            "router_unreachable",
            Some("main"),
            "connection refused",
            now,
        )
        .unwrap();
    store
        .record_event(
            Level::Info,
            "user_created",
            Some("ABC"),
            "not for the office",
            now,
        )
        .unwrap();
    let (level, kind, text) =
        hotspot_agent::app::kiosk_alert_event(&kiosk::machine::Alert::PaperOut);
    store.record_event(level, kind, None, &text, now).unwrap();
    store
        .record_event(Level::Warn, "drift", None, "user X missing", now)
        .unwrap();
    site.handle.outbox_changed();

    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while got.len() < 3 {
        let r = tokio::time::timeout_at(deadline, central.next(&cdb))
            .await
            .unwrap_or_else(|_| panic!("only {got:?} arrived"))
            .expect("central link");
        match &r.envelope.body {
            Up::Alert(e) => got.push(("alert", e.name.clone(), e.detail.clone())),
            Up::Event(e) => got.push(("event", e.name.clone(), e.detail.clone())),
            _ => {}
        }
    }
    assert_eq!(
        got,
        vec![
            (
                "alert",
                "router_unreachable".into(),
                "main: connection refused".into()
            ),
            ("alert", "paper_out".into(), text.clone()),
            ("event", "drift".into(), "user X missing".into()),
        ]
    );
    // Nothing more, and the info event and the one from before the link never go up.
    central.flush_acks(&cdb).await;
    let more = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if let Some(r) = central.next(&cdb).await {
                if matches!(r.envelope.body, Up::Alert(_) | Up::Event(_)) {
                    return r;
                }
            }
        }
    })
    .await;
    assert!(more.is_err(), "each event once: {more:?}");
    site.handle.shutdown().await;
    central.shutdown(&cdb).await;
}
