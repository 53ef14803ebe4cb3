//! The central office's side of the contract: sign and push plan sets and router
//! settings, send commands and wait for replies, receive what sites send (deduplicated
//! in its own SQLite file) and acknowledge outbox messages. The reference
//! implementation for central servers in other languages.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use ed25519_dalek::{SigningKey, VerifyingKey};
use rusqlite::{params, Connection};
use tokio::sync::mpsc;

use mqtt_link::{self as link, LinkConfig, LinkEvent, LinkHandle};
use sync_proto::envelope::Envelope;
use sync_proto::messages::{
    Ack, CommandOutput, CommandRequest, CommandResult, Down, PlanSet, RouterSet, SiteCommand, Up,
};
use sync_proto::sign::sign;
use sync_proto::topics::{central_subscriptions, Topics};
use sync_proto::{new_msg_id, now_ms};

/// Why a central operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CentralError {
    #[error("no reply from site {site} within {secs} s: is it online? (`central watch` shows its status)")]
    NoReply { site: String, secs: u64 },
    #[error("MQTT link closed: {0}")]
    Link(String),
    #[error("site {0} is not registered: run `hotspot-central register --site {0} --key <the key `hotspot-agent site id` prints there>`")]
    Unregistered(String),
    #[error("{0} is not a site's public key (64 hex digits, as `hotspot-agent site id` prints)")]
    BadSiteKey(String),
    #[error("cannot seal the router password: {0}")]
    Seal(#[from] sync_proto::seal::SealError),
    #[error("central database {path}: {source}")]
    Db {
        path: String,
        source: rusqlite::Error,
    },
}

/// A message a site sent, as the central office saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub site: String,
    pub topic: String,
    pub envelope: Envelope<Up>,
    /// False when this message id was seen before (a redelivery).
    pub first_time: bool,
}

/// A connected central office.
pub struct Central {
    link: LinkHandle,
    events: mpsc::Receiver<LinkEvent>,
    key: SigningKey,
    prefix: String,
    // Acknowledgements waiting to go out, per site; sent in batches.
    pending_acks: HashMap<String, Vec<String>>,
    // Registered site keys, read from the database once each.
    site_keys: HashMap<String, VerifyingKey>,
}

impl Central {
    /// Connects; `subscribe` = receive what sites send (for `watch`, `command`).
    pub fn connect(
        mut config: LinkConfig,
        key: SigningKey,
        prefix: &str,
        subscribe: bool,
    ) -> Central {
        config.subscriptions = if subscribe {
            central_subscriptions(prefix)
        } else {
            Vec::new()
        };
        // A deep queue: the central side reads every site's traffic.
        let (link, events) = link::spawn_with(
            config,
            link::LinkExtras {
                will: None,
                queue: 4096,
            },
        );
        Central {
            link,
            events,
            key,
            prefix: prefix.to_string(),
            pending_acks: HashMap::new(),
            site_keys: HashMap::new(),
        }
    }

    pub fn link(&self) -> &LinkHandle {
        &self.link
    }

    /// The central office's public key (what sites verify down messages with).
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Waits for the connection, up to `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.link.wait_connected())
            .await
            .is_ok()
    }

    /// A signed down message; the envelope names the site it is for (`*`: every site),
    /// so it means nothing on another site's topics.
    pub(crate) fn signed(&self, site: &str, body: Down) -> Vec<u8> {
        signed_down(&self.key, site, body)
    }

    /// A site's registered key (cached).
    fn site_key(&mut self, db: &CentralDb, site: &str) -> Option<VerifyingKey> {
        if let Some(k) = self.site_keys.get(site) {
            return Some(*k);
        }
        let key = db.site_key(site).ok().flatten()?;
        self.site_keys.insert(site.to_string(), key);
        Some(key)
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) async fn publish(
        &self,
        topic: &str,
        bytes: Vec<u8>,
        retain: bool,
    ) -> Result<(), CentralError> {
        self.link
            .publish(topic, bytes, true, retain)
            .await
            .map_err(|e| CentralError::Link(e.to_string()))
    }

    /// Publishes a plan set, retained; `site` None = every site (`target` becomes `*`).
    pub async fn push_plans(
        &self,
        site: Option<&str>,
        mut plans: PlanSet,
    ) -> Result<(), CentralError> {
        let topic = match site {
            Some(s) => {
                plans.target = s.to_string();
                Topics::new(&self.prefix, s).plans()
            }
            None => {
                plans.target = "*".into();
                Topics::new(&self.prefix, "_").fleet_plans()
            }
        };
        let target = plans.target.clone();
        let bytes = self.signed(&target, Down::Plans(plans));
        self.publish(&topic, bytes, true).await
    }

    /// Publishes router settings for one site, retained.
    pub async fn push_routers(
        &self,
        site: &str,
        mut routers: RouterSet,
    ) -> Result<(), CentralError> {
        routers.target = site.to_string();
        let bytes = self.signed(site, Down::Routers(routers));
        self.publish(&Topics::new(&self.prefix, site).routers(), bytes, true)
            .await
    }

    /// Publishes raw bytes (tests and operators replaying a captured message).
    pub async fn publish_raw(
        &self,
        topic: &str,
        bytes: Vec<u8>,
        retain: bool,
    ) -> Result<(), CentralError> {
        self.publish(topic, bytes, retain).await
    }

    /// A signed command message, valid for `ttl`, and its request id.
    pub fn command_bytes(
        &self,
        site: &str,
        command: SiteCommand,
        ttl: Duration,
    ) -> (String, Vec<u8>) {
        let request_id = new_msg_id("req");
        let req = CommandRequest {
            request_id: request_id.clone(),
            target: site.to_string(),
            expires_ms: now_ms() + ttl.as_millis() as u64,
            command,
        };
        (request_id, self.signed(site, Down::Command(req)))
    }

    /// Sends a command and waits for its reply. Other messages that arrive meanwhile
    /// are handled as in [`Central::next`] (stored, acknowledged) and returned too.
    pub async fn command(
        &mut self,
        db: &CentralDb,
        site: &str,
        command: SiteCommand,
        timeout: Duration,
    ) -> Result<(CommandResult, Vec<Received>), CentralError> {
        let (request_id, bytes) = self.command_bytes(site, command, timeout);
        self.publish(&Topics::new(&self.prefix, site).cmd(), bytes, false)
            .await?;
        self.await_reply(db, site, &request_id, timeout).await
    }

    /// [`Central::command`], and for a user list every page after the first, joined.
    pub async fn command_all_pages(
        &mut self,
        db: &CentralDb,
        site: &str,
        command: SiteCommand,
        timeout: Duration,
    ) -> Result<CommandResult, CentralError> {
        let (mut result, _) = self.command(db, site, command.clone(), timeout).await?;
        let SiteCommand::ListUsers {
            router,
            active,
            profile,
            ..
        } = command
        else {
            return Ok(result);
        };
        while let CommandResult::Ok(CommandOutput::Users(page)) = &mut result {
            let Some(offset) = page.next_offset.take() else {
                break;
            };
            let next = SiteCommand::ListUsers {
                router: router.clone(),
                active,
                profile: profile.clone(),
                offset,
            };
            match self.command(db, site, next, timeout).await?.0 {
                CommandResult::Ok(CommandOutput::Users(more)) => {
                    page.users.extend(more.users);
                    page.next_offset = more.next_offset;
                }
                other => return Ok(other),
            }
        }
        Ok(result)
    }

    /// Waits for the reply to `request_id`.
    pub async fn await_reply(
        &mut self,
        db: &CentralDb,
        site: &str,
        request_id: &str,
        timeout: Duration,
    ) -> Result<(CommandResult, Vec<Received>), CentralError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut others = Vec::new();
        loop {
            let got = tokio::time::timeout_at(deadline, self.next(db)).await;
            let Ok(Some(r)) = got else {
                return Err(CentralError::NoReply {
                    site: site.into(),
                    secs: timeout.as_secs(),
                });
            };
            if let Up::Reply(reply) = &r.envelope.body {
                if reply.request_id == request_id {
                    return Ok((reply.result.clone(), others));
                }
            }
            others.push(r);
        }
    }

    /// The next message from a site: decoded, recorded, outbox messages acknowledged.
    /// Undecodable messages are logged and skipped. `None` when the link is gone.
    pub async fn next(&mut self, db: &CentralDb) -> Option<Received> {
        loop {
            // Acknowledge in batches: flush when nothing arrives for 20 ms.
            let event = if self.pending_acks.is_empty() {
                self.events.recv().await?
            } else {
                match tokio::time::timeout(Duration::from_millis(20), self.events.recv()).await {
                    Ok(e) => e?,
                    Err(_) => {
                        self.flush_acks(db).await;
                        continue;
                    }
                }
            };
            let LinkEvent::Message { topic, payload, .. } = event else {
                continue;
            };
            let unverified = match crate::verify::read_up(&self.prefix, &topic, &payload) {
                Ok(u) => u,
                Err(crate::verify::Refused::Topic) => continue,
                Err(e) => {
                    tracing::warn!(topic, error = %e, "message from a site ignored");
                    continue;
                }
            };
            let site = unverified.site.clone();
            let outbox = unverified.is_outbox();
            // Only what the registered site signed is stored or acknowledged.
            let Some(key) = self.site_key(db, &site) else {
                tracing::warn!(topic, "{}", CentralError::Unregistered(site.clone()));
                continue;
            };
            let envelope = match unverified.verify(&key) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(topic, error = %e, "message refused");
                    continue;
                }
            };
            let first_time = if outbox {
                db.record(&site, &envelope).unwrap_or(true)
            } else {
                true
            };
            if outbox {
                let acks = self.pending_acks.entry(site.clone()).or_default();
                acks.push(envelope.msg_id.clone());
                if acks.len() >= 200 {
                    self.flush_acks(db).await;
                }
            }
            return Some(Received {
                site,
                topic,
                envelope,
                first_time,
            });
        }
    }

    /// Commits what was received, then acknowledges it: a message is acknowledged only
    /// once it is on disk here. Batching keeps it to one commit per batch, not per sale.
    pub async fn flush_acks(&mut self, db: &CentralDb) {
        if let Err(e) = db.commit() {
            tracing::warn!(error = %e, "cannot store received messages; not acknowledging them");
            self.pending_acks.clear();
            return;
        }
        // Not waited for: this task also reads the link, which may be waiting for it.
        // An ack that does not fit the queue now goes with the next batch.
        for (site, msg_ids) in std::mem::take(&mut self.pending_acks) {
            let bytes = self.signed(
                &site,
                Down::Ack(Ack {
                    msg_ids: msg_ids.clone(),
                }),
            );
            if self
                .link
                .try_publish(&Topics::new(&self.prefix, &site).ack(), bytes, false)
                .is_err()
            {
                self.pending_acks.entry(site).or_default().extend(msg_ids);
            }
        }
    }

    pub async fn shutdown(&mut self, db: &CentralDb) {
        self.flush_acks(db).await;
        self.link.shutdown().await;
    }
}

/// A down message signed with the central key, its envelope naming `site`.
pub(crate) fn signed_down(key: &SigningKey, site: &str, body: Down) -> Vec<u8> {
    let mut env = Envelope::new(new_msg_id("down"), site, now_ms(), body);
    sign(&mut env, key);
    env.encode()
}

/// What the central office has received, deduplicated by site and message id.
pub struct CentralDb {
    pub(crate) conn: Connection,
    pub(crate) path: String,
}

impl CentralDb {
    pub fn open(path: &Path) -> Result<CentralDb, CentralError> {
        let name = path.display().to_string();
        let err = |source| CentralError::Db {
            path: name.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS received (site TEXT NOT NULL, msg_id TEXT NOT NULL, kind TEXT NOT NULL, \
             time_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (site, msg_id));\
             CREATE TABLE IF NOT EXISTS sites (site TEXT PRIMARY KEY, public_key TEXT NOT NULL, registered_ms INTEGER NOT NULL);",
        )
        .map_err(err)?;
        Ok(CentralDb { conn, path: name })
    }

    /// Registers (or replaces) a site's public key, as `hotspot-agent site id` prints it.
    pub fn register_site(&self, site: &str, public_key: &str) -> Result<(), CentralError> {
        sync_proto::sign::parse_public_key(public_key)
            .map_err(|_| CentralError::BadSiteKey(public_key.to_string()))?;
        self.commit()?;
        self.conn
            .execute(
                "INSERT INTO sites (site, public_key, registered_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(site) DO UPDATE SET public_key = excluded.public_key, registered_ms = excluded.registered_ms",
                params![site, public_key.trim(), now_ms() as i64],
            )
            .map(|_| ())
            .map_err(|source| CentralError::Db {
                path: self.path.clone(),
                source,
            })
    }

    /// A registered site's public key.
    pub fn site_key(&self, site: &str) -> Result<Option<VerifyingKey>, CentralError> {
        use rusqlite::OptionalExtension;
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT public_key FROM sites WHERE site = ?1",
                [site],
                |r| r.get(0),
            )
            .optional()
            .map_err(|source| CentralError::Db {
                path: self.path.clone(),
                source,
            })?;
        Ok(text.and_then(|t| sync_proto::sign::parse_public_key(&t).ok()))
    }

    /// Stores a message in the open batch; `Ok(false)` if it was already there.
    /// Nothing is durable before [`CentralDb::commit`].
    pub fn record(&self, site: &str, env: &Envelope<Up>) -> Result<bool, CentralError> {
        let err = |source| CentralError::Db {
            path: self.path.clone(),
            source,
        };
        if self.conn.is_autocommit() {
            self.conn.execute_batch("BEGIN").map_err(err)?;
        }
        let json = serde_json::to_string(&env.body).unwrap_or_default();
        self.conn
            .execute(
                "INSERT OR IGNORE INTO received (site, msg_id, kind, time_ms, received_ms, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![site, env.msg_id, env.body.kind(), env.time_ms as i64, now_ms() as i64, json],
            )
            .map(|n| n == 1)
            .map_err(|source| CentralError::Db { path: self.path.clone(), source })
    }

    /// Makes the open batch durable.
    pub fn commit(&self) -> Result<(), CentralError> {
        if !self.conn.is_autocommit() {
            self.conn
                .execute_batch("COMMIT")
                .map_err(|source| CentralError::Db {
                    path: self.path.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    /// Sales received with a message time at or after `since_ms`, in arrival order:
    /// `(site, msg_id, sale as JSON)`.
    pub fn sales_since(
        &self,
        since_ms: u64,
    ) -> Result<Vec<(String, String, String)>, CentralError> {
        self.received_since("sale", since_ms)
    }

    /// Cash-box collections received with a message time at or after `since_ms`, in
    /// arrival order, each once: `(site, msg_id, collection as JSON)`.
    pub fn cash_since(&self, since_ms: u64) -> Result<Vec<(String, String, String)>, CentralError> {
        self.received_since("cash", since_ms)
    }

    fn received_since(
        &self,
        kind: &str,
        since_ms: u64,
    ) -> Result<Vec<(String, String, String)>, CentralError> {
        let err = |source| CentralError::Db {
            path: self.path.clone(),
            source,
        };
        let mut stmt = self
            .conn
            .prepare("SELECT site, msg_id, json FROM received WHERE kind = ?1 AND time_ms >= ?2 ORDER BY rowid")
            .map_err(err)?;
        let rows = stmt
            .query_map(params![kind, since_ms as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }
}

/// One received message as a JSON line.
pub fn json_line(r: &Received) -> String {
    serde_json::json!({
        "site": r.site,
        "kind": r.envelope.body.kind(),
        "msg_id": r.envelope.msg_id,
        "time_ms": r.envelope.time_ms,
        "duplicate": !r.first_time,
        "body": match &r.envelope.body {
            Up::Status(b) => serde_json::to_value(b),
            Up::Sale(b) => serde_json::to_value(b),
            Up::Event(b) | Up::Alert(b) => serde_json::to_value(b),
            Up::Telemetry(b) => serde_json::to_value(b),
            Up::Report(b) => serde_json::to_value(b),
            Up::Reply(b) => serde_json::to_value(b),
            Up::CashCollection(b) => serde_json::to_value(b),
            Up::Order(b) => serde_json::to_value(b),
        }.unwrap_or_default(),
    })
    .to_string()
}
