//! The ingest into PostgreSQL: each message once, acknowledged only after its
//! commit, and several workers sharing the subscriptions with one killed mid-burst.

use std::time::Duration;

use hotspot_central::pg::PgStore;
use hotspot_central::store::Store;
use hotspot_tests::mosquitto::Mosquitto;
use hotspot_tests::postgres::Postgres;

use super::*;

pub(crate) async fn sql(pg: &Postgres) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg.params(), tokio_postgres::NoTls)
        .await
        .expect("connect to the test cluster");
    tokio::spawn(conn);
    client
}

pub(crate) async fn count_sales(client: &tokio_postgres::Client) -> (i64, i64) {
    let row = client
        .query_one(
            "SELECT count(*), count(DISTINCT (site, msg_id)) FROM received WHERE kind = 'sale'",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingest_stores_each_sale_once_and_acks_only_after_its_commit() {
    let broker = Mosquitto::start();
    let pg = Postgres::start();
    let store = Store::Postgres(PgStore::connect(&pg.params(), None).await.unwrap());
    store
        .register_site(&site_name(1), &site_key(1).public_hex())
        .await
        .unwrap();
    let client = sql(&pg).await;
    // While the database refuses every insert, nothing may be acknowledged.
    client
        .batch_execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;\
             CREATE TRIGGER refuse BEFORE INSERT ON received FOR EACH ROW EXECUTE FUNCTION refuse();",
        )
        .await
        .unwrap();

    let (stop_tx, run) = spawn_worker(broker.port, "ingest-1", store).await;

    let site = start_site(broker.port, 1, 300);
    // Long enough for the first send and a resend (3 s) to reach the failing store.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        site.outbox.backlog().unwrap(),
        300,
        "a sale whose commit failed was acknowledged"
    );
    assert_eq!(count_sales(&client).await, (0, 0));

    client
        .batch_execute("DROP TRIGGER refuse ON received")
        .await
        .unwrap();
    wait_until(30, "the outbox drains once the store works", || async {
        site.outbox.backlog().unwrap() == 0
    })
    .await;
    let (rows, distinct) = count_sales(&client).await;
    assert_eq!((rows, distinct), (300, 300), "every sale once");
    let ids: Vec<String> = client
        .query(
            "SELECT msg_id FROM received WHERE kind = 'sale' ORDER BY msg_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut expected: Vec<String> = (0..300)
        .map(|i| sync_proto::ids::sale_msg_id(&epoch(1), &sale(1, i).sale_id))
        .collect();
    expected.sort();
    assert_eq!(ids, expected);

    let _ = stop_tx.send(());
    let stats = run.await.unwrap();
    assert_eq!(stats.stored, 300);
    site.handle.shutdown().await;
}
