//! The PostgreSQL store, for an ingest of several workers on one or more machines.
//! A batch is one transaction of one prepared statement per table: the outbox
//! messages go in as arrays (`UNNEST`), `ON CONFLICT DO NOTHING` on (site, msg_id),
//! and `RETURNING` tells which were new. Workers sharing a database may store the
//! same message at once: the primary key lets exactly one of them insert it.

use ed25519_dalek::VerifyingKey;
use tokio_postgres::{Client, NoTls, Statement};

use sync_proto::messages::Up;
use sync_proto::now_ms;

use crate::store::{alert_from_json, AlertRow, Incoming, SiteFacts, StatusRow, StoreError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sites (site TEXT PRIMARY KEY, public_key TEXT NOT NULL, registered_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS received (
    seq BIGSERIAL,
    site TEXT NOT NULL, msg_id TEXT NOT NULL, kind TEXT NOT NULL,
    time_ms BIGINT NOT NULL, received_ms BIGINT NOT NULL, body JSONB NOT NULL,
    PRIMARY KEY (site, msg_id));
CREATE INDEX IF NOT EXISTS received_kind_time ON received (kind, site, time_ms);
CREATE TABLE IF NOT EXISTS site_status (site TEXT PRIMARY KEY, body JSONB NOT NULL, received_ms BIGINT NOT NULL);
";

// Any number; the workers take it so that only one of them creates the tables.
const SCHEMA_LOCK: i64 = 0x0068_6f74_7370_6f74;

const INSERT: &str = "INSERT INTO received (site, msg_id, kind, time_ms, received_ms, body) \
     SELECT s, m, k, t, $5, b::jsonb FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $6::text[]) AS u(s, m, k, t, b) \
     ON CONFLICT (site, msg_id) DO NOTHING RETURNING site, msg_id";

const STATUS: &str =
    "INSERT INTO site_status (site, body, received_ms) VALUES ($1, $2::text::jsonb, $3) \
     ON CONFLICT (site) DO UPDATE SET body = excluded.body, received_ms = excluded.received_ms";

fn pg(what: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |source| StoreError::Postgres { what, source }
}

/// A connection to the central PostgreSQL database.
pub struct PgStore {
    client: Client,
    insert: Statement,
    status: Statement,
}

impl PgStore {
    /// Connects with a libpq-style connection string (`host=/run/postgresql
    /// dbname=hotspot user=hotspot`, or a `postgresql://` URL) and the password,
    /// if any, kept apart from it; creates the tables if they are missing.
    pub async fn connect(params: &str, password: Option<&str>) -> Result<PgStore, StoreError> {
        let mut config: tokio_postgres::Config = params.parse().map_err(|_| {
            StoreError::Setup(
                "--postgres is not a PostgreSQL connection string: write e.g. \
                 `host=/run/postgresql dbname=hotspot user=hotspot`"
                    .into(),
            )
        })?;
        if let Some(p) = password {
            config.password(p);
        }
        if config.get_application_name().is_none() {
            config.application_name("hotspot-central");
        }
        let (mut client, connection) = config.connect(NoTls).await.map_err(pg("connect"))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "PostgreSQL connection ended");
            }
        });
        let tx = client.transaction().await.map_err(pg("create tables"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .await
            .map_err(pg("create tables"))?;
        tx.batch_execute(SCHEMA)
            .await
            .map_err(pg("create tables"))?;
        tx.commit().await.map_err(pg("create tables"))?;
        let insert = client.prepare(INSERT).await.map_err(pg("prepare"))?;
        let status = client.prepare(STATUS).await.map_err(pg("prepare"))?;
        Ok(PgStore {
            client,
            insert,
            status,
        })
    }

    pub(crate) async fn site_key(&self, site: &str) -> Result<Option<VerifyingKey>, StoreError> {
        let row = self
            .client
            .query_opt("SELECT public_key FROM sites WHERE site = $1", &[&site])
            .await
            .map_err(pg("read a site key"))?;
        Ok(row.and_then(|r| sync_proto::sign::parse_public_key(r.get::<_, &str>(0)).ok()))
    }

    pub(crate) async fn register_site(
        &self,
        site: &str,
        public_key: &str,
    ) -> Result<(), StoreError> {
        sync_proto::sign::parse_public_key(public_key).map_err(|_| {
            StoreError::Sqlite(crate::CentralError::BadSiteKey(public_key.to_string()))
        })?;
        self.client
            .execute(
                "INSERT INTO sites (site, public_key, registered_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (site) DO UPDATE SET public_key = excluded.public_key, registered_ms = excluded.registered_ms",
                &[&site, &public_key.trim(), &(now_ms() as i64)],
            )
            .await
            .map_err(pg("register a site"))?;
        Ok(())
    }

    /// One transaction: every outbox message inserted unless present, every status
    /// stored as its site's last; committed before it returns.
    pub(crate) async fn store_batch(
        &mut self,
        batch: &[Incoming],
    ) -> Result<Vec<bool>, StoreError> {
        let mut sites = Vec::new();
        let mut ids = Vec::new();
        let mut kinds = Vec::new();
        let mut times = Vec::new();
        let mut bodies = Vec::new();
        let tx = self.client.transaction().await.map_err(pg("begin"))?;
        let received = now_ms() as i64;
        for item in batch {
            let env = &item.envelope;
            if let Up::Status(status) = &env.body {
                let json = serde_json::to_string(status).unwrap_or_default();
                tx.execute(&self.status, &[&item.site, &json, &received])
                    .await
                    .map_err(pg("store a status"))?;
                continue;
            }
            sites.push(item.site.as_str());
            ids.push(env.msg_id.as_str());
            kinds.push(env.body.kind());
            times.push(env.time_ms as i64);
            bodies.push(serde_json::to_string(&env.body).unwrap_or_default());
        }
        let inserted = if ids.is_empty() {
            Vec::new()
        } else {
            tx.query(
                &self.insert,
                &[&sites, &ids, &kinds, &times, &received, &bodies],
            )
            .await
            .map_err(pg("store messages"))?
        };
        tx.commit().await.map_err(pg("commit"))?;
        let new: std::collections::HashSet<(&str, &str)> = inserted
            .iter()
            .map(|r| (r.get::<_, &str>(0), r.get::<_, &str>(1)))
            .collect();
        Ok(batch
            .iter()
            .map(|item| {
                matches!(item.envelope.body, Up::Status(_))
                    || new.contains(&(item.site.as_str(), item.envelope.msg_id.as_str()))
            })
            .collect())
    }

    pub(crate) async fn sales_since(
        &self,
        since_ms: u64,
    ) -> Result<Vec<(String, String, u64, String)>, StoreError> {
        self.received_since("sale", since_ms).await
    }

    /// Stored outbox messages of one kind with a time at or after `since_ms`, in
    /// arrival order: `(site, msg_id, time_ms, body as JSON)`.
    pub(crate) async fn received_since(
        &self,
        kind: &str,
        since_ms: u64,
    ) -> Result<Vec<(String, String, u64, String)>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT site, msg_id, time_ms, body::text FROM received WHERE kind = $1 AND time_ms >= $2 ORDER BY seq",
                &[&kind, &(since_ms as i64)],
            )
            .await
            .map_err(pg("read received messages"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get::<_, i64>(2) as u64, r.get(3)))
            .collect())
    }

    /// Counts every stored message of a kind (tests and the benchmark).
    pub async fn count(&self, kind: &str) -> Result<u64, StoreError> {
        let row = self
            .client
            .query_one("SELECT count(*) FROM received WHERE kind = $1", &[&kind])
            .await
            .map_err(pg("count"))?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    pub(crate) async fn fleet(&self, alerts_since: u64) -> Result<Vec<SiteFacts>, StoreError> {
        let rows = self
            .client
            .query(
                "WITH names AS (SELECT site FROM sites UNION SELECT site FROM site_status \
                   UNION SELECT DISTINCT site FROM received) \
                 SELECT n.site, s.site IS NOT NULL, st.body::text, st.received_ms, \
                   (SELECT count(*) FROM received r WHERE r.site = n.site AND r.kind = 'sale'), \
                   (SELECT max(time_ms) FROM received r WHERE r.site = n.site AND r.kind = 'sale') \
                 FROM names n LEFT JOIN sites s ON s.site = n.site LEFT JOIN site_status st ON st.site = n.site \
                 ORDER BY n.site",
                &[],
            )
            .await
            .map_err(pg("read the fleet"))?;
        let alerts = self
            .client
            .query(
                "SELECT site, body::text, time_ms FROM received WHERE kind = 'alert' AND time_ms >= $1 ORDER BY time_ms DESC",
                &[&(alerts_since as i64)],
            )
            .await
            .map_err(pg("read alerts"))?;
        let mut by_site: std::collections::HashMap<String, Vec<AlertRow>> = Default::default();
        for r in &alerts {
            if let Some(a) = alert_from_json(r.get(1), r.get::<_, i64>(2) as u64) {
                let list = by_site.entry(r.get(0)).or_default();
                if list.len() < 20 {
                    list.push(a);
                }
            }
        }
        Ok(rows
            .iter()
            .map(|r| {
                let site: String = r.get(0);
                let status = r.get::<_, Option<&str>>(2).and_then(|json| {
                    Some(StatusRow {
                        status: serde_json::from_str(json).ok()?,
                        received_ms: r.get::<_, Option<i64>>(3).unwrap_or(0) as u64,
                    })
                });
                SiteFacts {
                    alerts: by_site.remove(&site).unwrap_or_default(),
                    site,
                    registered: r.get(1),
                    status,
                    sales: r.get::<_, i64>(4) as u64,
                    last_sale_ms: r.get::<_, Option<i64>>(5).map(|t| t as u64),
                }
            })
            .collect())
    }
}
