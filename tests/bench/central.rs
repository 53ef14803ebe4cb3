//! Benchmark: the central ingest into PostgreSQL. 50 simulated sites (the agent's own
//! outbox and sync code, each with its SQLite file) send a backlog of sales through
//! a local mosquitto to 1 and then 4 `hotspot-central ingest` workers sharing one
//! `$share` group; sales per second until every sale is stored (each once, checked)
//! and every outbox has drained. Then one site's backlog of 10,000 sales into
//! PostgreSQL through one worker. Run through `tests/bench/central.sh`, which also
//! runs today's SQLite drain (`bench_outbox`) beside it.
//!
//! Arguments: the `hotspot-central` binary; `BENCH_SALES_PER_SITE` (default 200) and
//! `BENCH_DRAIN` (default 10000) make it smaller.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use hotspot_agent::sync::*;
use hotspot_central::pg::PgStore;
use hotspot_central::store::Store;
use hotspot_tests::mosquitto::{client_link, Mosquitto};
use hotspot_tests::postgres::Postgres;
use sync_proto::messages::*;

const SITES: u32 = 50;
const PREFIX: &str = "bench";

fn central_key() -> SigningKey {
    SigningKey::from_bytes(&[5u8; 32])
}

fn identity(n: u32) -> SiteIdentity {
    let mut b = [9u8; 32];
    b[..4].copy_from_slice(&n.to_le_bytes());
    SiteIdentity::from_key(SigningKey::from_bytes(&b))
}

fn site(n: u32) -> String {
    format!("site-{n:03}")
}

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An outbox file with `sales` sales of site `n`, written once and copied per run.
fn template(dir: &Path, n: u32, sales: u32, round: &str) -> PathBuf {
    let path = dir.join(format!("template-{n}-{sales}.db"));
    if !path.exists() {
        let outbox = SqliteOutbox::open(&path).unwrap();
        for i in 0..sales {
            let sale = SaleRecord {
                sale_id: format!("{i:06}"),
                code: format!("K{n:03}{i:05}"),
                plan_id: "1h".into(),
                price: 5,
                currency: "PHP".into(),
                sold_at_ms: 1_800_000_000_000 + i as u64,
                router: "main".into(),
                state: "delivered".into(),
                channel: "coins".into(),
            };
            let (msg_id, kind, payload) = outbox_payload_for_sale(&format!("{n:016x}"), &sale);
            outbox
                .enqueue(&msg_id, kind, &payload, 1_800_000_000_000 + i as u64)
                .unwrap();
        }
        // Closing the last connection folds the write-ahead log into the file,
        // so copying the one file copies the whole outbox.
        drop(outbox);
    }
    let copy = dir.join(format!("{round}-{n}.db"));
    std::fs::copy(&path, &copy).unwrap();
    copy
}

struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn start_workers(bin: &Path, n: usize, port: u16, key: &Path, pg: &Postgres) -> Workers {
    Workers(
        (0..n)
            .map(|_| {
                Command::new(bin)
                    .args(["--broker", "127.0.0.1", "--port", &port.to_string()])
                    .args(["--prefix", PREFIX, "--postgres", &pg.params()])
                    .arg("--key")
                    .arg(key)
                    .args(["ingest", "--group", "bench", "--batch", "500"])
                    .env("HOTSPOT_CENTRAL_LOG", "warn")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("start hotspot-central ingest")
            })
            .collect(),
    )
}

async fn sql(pg: &Postgres) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg.params(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

async fn stored(client: &tokio_postgres::Client) -> (i64, i64) {
    let r = client
        .query_one(
            "SELECT count(*), count(DISTINCT (site, msg_id)) FROM received WHERE kind = 'sale'",
            &[],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

/// One run: `workers` workers, `sites` sites of `per_site` sales each. Returns
/// (seconds until every sale is stored, seconds until every outbox is empty).
#[allow(clippy::too_many_arguments)]
async fn run(
    bin: &Path,
    dir: &Path,
    broker: &Mosquitto,
    pg: &Postgres,
    key: &Path,
    workers: usize,
    sites: u32,
    per_site: u32,
) -> (f64, f64) {
    let client = sql(pg).await;
    client.batch_execute("TRUNCATE received").await.unwrap();
    let round = format!("w{workers}-s{sites}");
    let files: Vec<PathBuf> = (0..sites)
        .map(|n| template(dir, n, per_site, &round))
        .collect();
    let _workers = start_workers(bin, workers, broker.port, key, pg);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let settings = |n: u32| SiteSettings {
        site: site(n),
        topic_prefix: PREFIX.into(),
        central_key: central_key().verifying_key(),
        identity: identity(n),
        resend_after: Duration::from_secs(30),
        window: 500,
        status_interval: Duration::from_secs(3600),
        agent_version: "bench".into(),
    };
    let outboxes: Vec<Arc<SqliteOutbox>> = files
        .iter()
        .map(|f| Arc::new(SqliteOutbox::open(f).unwrap()))
        .collect();
    let total = (sites * per_site) as i64;
    let t = Instant::now();
    let handles: Vec<SiteHandle> = (0..sites)
        .map(|n| {
            let f = &files[n as usize];
            spawn_site(
                client_link(broker.port, &format!("{round}-{}", site(n))),
                settings(n),
                outboxes[n as usize].clone(),
                Arc::new(SyncState::open(f).unwrap()),
                Arc::new(NoActions),
            )
        })
        .collect();
    let mut all_stored = None;
    loop {
        let (rows, distinct) = stored(&client).await;
        assert_eq!(rows, distinct, "a sale stored twice");
        if rows == total && all_stored.is_none() {
            all_stored = Some(t.elapsed().as_secs_f64());
        }
        if all_stored.is_some() && outboxes.iter().all(|o| o.backlog().unwrap() == 0) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "{rows} of {total} sales after 300 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained = t.elapsed().as_secs_f64();
    for h in handles {
        h.shutdown().await;
    }
    (all_stored.unwrap_or(drained), drained)
}

#[tokio::main]
async fn main() {
    let bin = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: bench_central <path to hotspot-central>"),
    );
    let per_site = env_u32("BENCH_SALES_PER_SITE", 200);
    let drain = env_u32("BENCH_DRAIN", 10_000);
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start();
    let pg = Postgres::start_durable();
    let key = dir.path().join("central.key");
    std::fs::write(&key, hex::encode(central_key().to_bytes())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let store = Store::Postgres(PgStore::connect(&pg.params(), None).await.unwrap());
    for n in 0..SITES {
        store
            .register_site(&site(n), &identity(n).public_hex())
            .await
            .unwrap();
    }
    let total = SITES * per_site;
    println!("| Run | Sales | Stored (s) | Outboxes empty (s) | Sales/s stored |");
    println!("|---|---|---|---|---|");
    for workers in [1usize, 4] {
        let (stored_s, drained_s) = run(
            &bin,
            dir.path(),
            &broker,
            &pg,
            &key,
            workers,
            SITES,
            per_site,
        )
        .await;
        println!(
            "| {SITES} sites -> PostgreSQL, {workers} ingest worker{} | {total} | {stored_s:.2} | {drained_s:.2} | {:.0} |",
            if workers == 1 { "" } else { "s" },
            total as f64 / stored_s
        );
    }
    let (stored_s, drained_s) = run(&bin, dir.path(), &broker, &pg, &key, 1, 1, drain).await;
    println!(
        "| 1 site's backlog -> PostgreSQL, 1 ingest worker | {drain} | {stored_s:.2} | {drained_s:.2} | {:.0} |",
        drain as f64 / stored_s
    );
}
