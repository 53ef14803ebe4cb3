//! Benchmark: a backlog of 10,000 sales drained from the SQLite outbox to a local
//! mosquitto and acknowledged by the central side; and the size of one sale message
//! in postcard and in JSON. Run: `cargo run --profile bench-release --example bench_outbox`
//! (needs /usr/sbin/mosquitto, or MOSQUITTO=/path/to/mosquitto).

use std::net::{TcpListener, TcpStream};
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use hotspot_agent::sync::*;
use hotspot_central::{Central, CentralDb};
use mqtt_link::LinkConfig;
use sync_proto::messages::*;
use sync_proto::Envelope;

const SALES: u32 = 10_000;

fn link(port: u16, id: &str) -> LinkConfig {
    LinkConfig {
        host: "127.0.0.1".into(),
        port,
        client_id: id.into(),
        username: None,
        password: None,
        tls: None,
        keep_alive: Duration::from_secs(30),
        clean_session: false,
        last_will: None,
        subscriptions: vec![],
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_secs(1),
    }
}

fn sale(i: u32) -> SaleRecord {
    SaleRecord {
        sale_id: format!("20261122-{i:06}"),
        code: format!("K7H3{i:04}"),
        plan_id: "1h".into(),
        price: 5,
        currency: "PHP".into(),
        sold_at_ms: 1_795_000_000_000 + i as u64 * 1000,
        router: "main".into(),
        state: "delivered".into(),
        channel: "coins".into(),
    }
}

#[tokio::main]
// Long on purpose: a benchmark script: set up, measure, print, in one place.
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One sale, side by side.
    let one = Envelope::new(
        "sale-20261122-000042",
        "site-001",
        1_795_000_042_000,
        Up::Sale(sale(42)),
    );
    let postcard_len = one.encode().len();
    let json_len = serde_json::to_vec(&one)?.len();
    println!(
        "one sale message: postcard {postcard_len} bytes, JSON {json_len} bytes ({:.1}x)",
        json_len as f64 / postcard_len as f64
    );

    let dir = tempfile::tempdir()?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("allow_anonymous true\nuser root\nmax_queued_messages 100000\nlistener {port} 127.0.0.1\n"),
    )?;
    let bin = std::env::var("MOSQUITTO").unwrap_or_else(|_| "/usr/sbin/mosquitto".into());
    let mut broker = Process::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(5) {
            let _ = broker.kill();
            return Err("mosquitto did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let db_path = dir.path().join("agent.db");
    let outbox = Arc::new(SqliteOutbox::open(&db_path)?);
    let state = Arc::new(SyncState::open(&db_path)?);
    let t = Instant::now();
    for i in 0..SALES {
        let (msg_id, kind, payload) = outbox_payload_for_sale("bench", &sale(i));
        outbox.enqueue(&msg_id, kind, &payload, 1_795_000_000_000 + i as u64)?;
    }
    println!("backlog of {SALES} sales written to the outbox in {:.2} s (one transaction each, synchronous=FULL)", t.elapsed().as_secs_f64());

    let key = SigningKey::from_bytes(&[5u8; 32]);
    let mut central = Central::connect(link(port, "bench-central"), key.clone(), "hotspot", true);
    central.wait_connected(Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cdb = CentralDb::open(&dir.path().join("central.db"))?;

    let identity = SiteIdentity::from_key(SigningKey::from_bytes(&[6u8; 32]));
    cdb.register_site("site-001", &identity.public_hex())?;
    let settings = SiteSettings {
        site: "site-001".into(),
        topic_prefix: "hotspot".into(),
        central_key: key.verifying_key(),
        identity,
        resend_after: Duration::from_secs(30),
        window: 500,
        status_interval: Duration::from_secs(3600),
        agent_version: "bench".into(),
    };
    let t = Instant::now();
    let site = spawn_site(
        link(port, "bench-site"),
        settings,
        outbox.clone(),
        state,
        Arc::new(NoActions),
    );
    let mut received = 0u32;
    let mut all_received = None;
    loop {
        match tokio::time::timeout(Duration::from_millis(50), central.next(&cdb)).await {
            Ok(Some(r)) if r.first_time && matches!(r.envelope.body, Up::Sale(_)) => {
                received += 1;
                if std::env::var_os("BENCH_TRACE").is_some() && received % 1000 == 0 {
                    eprintln!(
                        "{:?} received {received}, outbox {}",
                        t.elapsed(),
                        outbox.backlog()?
                    );
                }
                if received == SALES {
                    all_received = Some(t.elapsed());
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err("central link closed".into()),
            Err(_) => central.flush_acks(&cdb).await,
        }
        if received == SALES && outbox.backlog()? == 0 {
            break;
        }
        if t.elapsed() > Duration::from_secs(120) {
            return Err(format!("only {received} sales after 120 s").into());
        }
    }
    let drained = t.elapsed();
    println!(
        "{SALES} sales drained to mosquitto on loopback: all received by the central side in {:.2} s, \
         all acknowledged and removed from the outbox in {:.2} s (target < 5 s); {:.0} sales/s",
        all_received.unwrap_or(drained).as_secs_f64(),
        drained.as_secs_f64(),
        SALES as f64 / drained.as_secs_f64()
    );
    site.shutdown().await;
    central.shutdown(&cdb).await;
    let _ = broker.kill();
    let _ = broker.wait();
    Ok(())
}
