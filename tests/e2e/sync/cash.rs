//! Cash-box collections reach the central office once each, signed, and the site
//! marks each one sent when the office acknowledges it.

use super::*;
use hotspot_agent::store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_cash_collection_reaches_the_central_office_once_and_is_marked_sent() {
    let broker = Mosquitto::start();
    let cdir = tempfile::tempdir().unwrap();
    let (mut central, cdb) = start_central(broker.port, cdir.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("agent.db")).unwrap();
    // Collected before the link ever ran: it still goes up.
    for v in [5, 10, 10] {
        store.add_credit(v, "coin", 1_000).unwrap();
    }
    let first = store.collect_cash("cli", 2_000).unwrap().unwrap();
    let outbox = Arc::new(SqliteOutbox::open(store.path()).unwrap());
    let state = Arc::new(SyncState::open(store.path()).unwrap());
    let site = start_site(broker.port, (dir, outbox, state));
    site.handle.link().wait_connected().await;
    store.add_credit(1, "coin", 3_000).unwrap();
    let second = store.collect_cash("owner-page", 4_000).unwrap().unwrap();
    site.handle.outbox_changed();

    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while got.len() < 2 {
        let r = tokio::time::timeout_at(deadline, central.next(&cdb))
            .await
            .unwrap_or_else(|_| panic!("only {got:?} arrived"))
            .expect("central link");
        if let Up::CashCollection(c) = &r.envelope.body {
            assert!(r.first_time, "{r:?}");
            got.push((c.collection_id.clone(), c.total, c.since_ms, c.by.clone()));
        }
    }
    assert_eq!(
        got,
        vec![
            (first.id.to_string(), 25, None, "cli".to_string()),
            (
                second.id.to_string(),
                1,
                Some(2_000),
                "owner-page".to_string()
            ),
        ]
    );
    central.flush_acks(&cdb).await;
    // The acks arrive: the site marks both sent, and sends neither again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !store.cash_collections_unsent(10).unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never marked sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let listed = cdb.cash_since(0).unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed[0].2.contains("\"total\":25"), "{listed:?}");
    site.handle.outbox_changed();
    let more = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if let Some(r) = central.next(&cdb).await {
                if matches!(r.envelope.body, Up::CashCollection(_)) {
                    return r;
                }
            }
        }
    })
    .await;
    assert!(more.is_err(), "each collection once: {more:?}");
    site.handle.shutdown().await;
    central.shutdown(&cdb).await;
}
