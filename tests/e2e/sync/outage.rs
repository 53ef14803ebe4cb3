//! 1,000 sales made while the broker is down arrive, each once, in order.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sales_made_while_the_broker_is_down_arrive_once_each_in_order() {
    let mut broker = Mosquitto::start();
    let cdir = tempfile::tempdir().unwrap();
    let (mut central, cdb) = start_central(broker.port, cdir.path()).await;
    broker.stop();

    let db = open_site_db();
    for i in 0..1000 {
        let (msg_id, kind, payload) = outbox_payload_for_sale(EPOCH, &sale(i));
        db.1.enqueue(&msg_id, kind, &payload, 1_700_000_000_000 + i as u64)
            .unwrap();
    }
    let site = start_site(broker.port, db);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!site.handle.link().is_connected(), "no broker, no link");
    let unsent = site
        .outbox
        .pending(2000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "sale" && e.attempts == 0)
        .count();
    assert_eq!(unsent, 1000, "nothing is sent while the broker is down");

    broker.resume();
    let mut first_seen = Vec::new();
    let mut duplicates = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while first_seen.len() < 1000 {
        let r = tokio::time::timeout_at(deadline, central.next(&cdb))
            .await
            .unwrap_or_else(|_| panic!("only {} sales arrived", first_seen.len()))
            .expect("central link");
        if let Up::Sale(s) = &r.envelope.body {
            if r.first_time {
                first_seen.push(s.sale_id.clone());
            } else {
                duplicates += 1;
            }
        }
    }
    let expected: Vec<_> = (0..1000).map(|i| format!("{i:05}")).collect();
    assert_eq!(first_seen, expected, "every sale, once, oldest first");
    assert_eq!(
        cdb.sales_since(0).unwrap().len(),
        1000,
        "the central side stored each once"
    );
    central.flush_acks(&cdb).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while site.outbox.backlog().unwrap() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox not emptied by the acks"
        );
        // Keep receiving so the central side acknowledges whatever else arrives.
        let _ = tokio::time::timeout(Duration::from_millis(100), central.next(&cdb)).await;
        central.flush_acks(&cdb).await;
    }
    eprintln!("duplicates delivered (and dropped by the central side): {duplicates}");
    site.handle.shutdown().await;
    central.shutdown(&cdb).await;
}
