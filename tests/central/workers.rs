//! Several ingest workers sharing the subscriptions, one killed mid-burst.

use std::time::Duration;

use hotspot_tests::mosquitto::Mosquitto;
use hotspot_tests::postgres::Postgres;

use super::ingest::{count_sales, sql};
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_sharing_the_subscription_store_each_sale_once_when_one_is_killed_mid_burst() {
    const SITES: u32 = 6;
    const SALES: u32 = 500;
    let broker = Mosquitto::start();
    let pg = Postgres::start();
    eprintln!("broker folder {}", broker.dir().display());
    let dir = tempfile::tempdir().unwrap();
    let key = write_central_key(dir.path());
    let store = vec!["--postgres".to_string(), pg.params()];
    for n in 0..SITES {
        let mut c = central_cmd(broker.port, &key, &store);
        c.args([
            "register",
            "--site",
            &site_name(n),
            "--key",
            &site_key(n).public_hex(),
        ]);
        central_ok(c);
    }
    let client = sql(&pg).await;
    let mut workers: Vec<Worker> = (0..3)
        .map(|_| {
            let mut c = central_cmd(broker.port, &key, &store);
            c.args(["ingest", "--group", "ingest", "--batch", "50"])
                .stdin(Stdio::null())
                .stdout(Stdio::null());
            Worker(c.spawn().expect("start an ingest worker"))
        })
        .collect();
    // Let the three subscriptions reach the broker.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let sites: Vec<Site> = (0..SITES)
        .map(|n| start_site(broker.port, n, SALES))
        .collect();
    let total = (SITES * SALES) as i64;
    // The kill must land while the burst is on: at the first stored sale, or
    // 300 ms after the sites started sending, whichever comes first.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    while count_sales(&client).await.0 == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // SIGKILL: no chance to finish a batch, commit or ack.
    let victim = workers.remove(0);
    let mut victim = victim;
    victim.0.kill().unwrap();
    let _ = victim.0.wait();
    let at_kill = count_sales(&client).await.0;
    assert!(
        at_kill < total,
        "the burst was over before the kill ({at_kill})"
    );

    wait_until(90, "every site's outbox drained", || async {
        let left: Vec<u64> = sites.iter().map(|s| s.outbox.backlog().unwrap()).collect();
        eprintln!(
            "stored {:?}, left per site {left:?}",
            count_sales(&client).await
        );
        left.iter().all(|&n| n == 0)
    })
    .await;
    assert_eq!(
        count_sales(&client).await,
        (total, total),
        "each sale stored exactly once"
    );
    for n in 0..SITES {
        let row = client
            .query_one(
                "SELECT count(*) FROM received WHERE site = $1 AND kind = 'sale'",
                &[&site_name(n)],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), SALES as i64, "{}", site_name(n));
    }
    eprintln!("sales stored when the worker was killed: {at_kill} of {total}");
    for s in sites {
        s.handle.shutdown().await;
    }
}
