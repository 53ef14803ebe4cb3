//! The ingest: a long-running worker that stores what sites send and acknowledges
//! it. Several workers share the work through an MQTT shared subscription
//! (`$share/<group>/…`, mosquitto 2, EMQX, VerneMQ, HiveMQ): the broker hands each
//! message to one worker of the group.
//!
//! Each worker takes messages in batches: verify each against its site's registered
//! key, store the batch in one transaction, and only after the commit send each site
//! a signed ack of its messages. A worker killed before its commit acknowledged
//! nothing: the sites send those messages again after their resend delay, another
//! worker stores them, and the primary key (site, message id) keeps each once.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ed25519_dalek::{SigningKey, VerifyingKey};
use tokio::sync::mpsc;

use mqtt_link::{self as link, LinkConfig, LinkEvent, LinkHandle};
use sync_proto::messages::{Ack, Down, Up};
use sync_proto::topics::Topics;

use crate::office::signed_down;
use crate::store::{Incoming, Store};
use crate::verify::{read_up, Refused};

/// How a worker takes its share.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Shared-subscription group; `None`: this worker alone receives everything.
    pub group: Option<String>,
    /// Most messages in one transaction.
    pub batch: usize,
    /// How long a batch waits for more once its first message is in.
    pub linger: Duration,
}

impl Default for IngestOptions {
    fn default() -> IngestOptions {
        IngestOptions {
            group: None,
            batch: 500,
            linger: Duration::from_millis(5),
        }
    }
}

/// What a worker did, for its log line and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub stored: u64,
    pub duplicates: u64,
    pub refused: u64,
    pub batches: u64,
}

/// The topics an ingest worker subscribes to: every site's status and outbox
/// messages (replies go to whoever sent the command), shared in `group`.
pub fn ingest_subscriptions(prefix: &str, group: Option<&str>) -> Vec<String> {
    [
        format!("{prefix}/site/+/status"),
        format!("{prefix}/site/+/up/+"),
    ]
    .into_iter()
    .map(|t| match group {
        Some(g) => format!("$share/{g}/{t}"),
        None => t,
    })
    .collect()
}

/// Checks a shared-subscription group name: one topic level, no wildcards.
pub fn valid_group(group: &str) -> bool {
    !group.is_empty() && !group.contains(['/', '+', '#', '\0'])
}

// Acks of more ids than this go in several messages.
const ACK_CHUNK: usize = 256;
// A site that is not registered is looked up again after this long.
const UNKNOWN_SITE_RECHECK: Duration = Duration::from_secs(10);

/// One ingest worker.
pub struct IngestWorker {
    link: LinkHandle,
    events: mpsc::Receiver<LinkEvent>,
    key: SigningKey,
    prefix: String,
    options: IngestOptions,
    keys: HashMap<String, VerifyingKey>,
    unknown: HashMap<String, Instant>,
    pending_acks: HashMap<String, Vec<String>>,
    pub stats: IngestStats,
}

impl IngestWorker {
    /// Connects to the broker. The session is clean: a worker that dies leaves no
    /// queue behind on the broker; the sites resend what it never acknowledged.
    pub fn connect(
        mut config: LinkConfig,
        key: SigningKey,
        prefix: &str,
        options: IngestOptions,
    ) -> IngestWorker {
        config.subscriptions = ingest_subscriptions(prefix, options.group.as_deref());
        config.clean_session = true;
        let (link, events) = link::spawn_with(
            config,
            link::LinkExtras {
                will: None,
                queue: 4 * options.batch.max(64),
            },
        );
        IngestWorker {
            link,
            events,
            key,
            prefix: prefix.to_string(),
            options,
            keys: HashMap::new(),
            unknown: HashMap::new(),
            pending_acks: HashMap::new(),
            stats: IngestStats::default(),
        }
    }

    pub fn link(&self) -> &LinkHandle {
        &self.link
    }

    /// Runs until `stop` resolves or the link ends; returns what it did.
    pub async fn run(&mut self, store: &mut Store, stop: impl Future<Output = ()>) -> IngestStats {
        tokio::pin!(stop);
        loop {
            let batch = tokio::select! {
                _ = &mut stop => break,
                b = self.next_batch() => b,
            };
            let Some(batch) = batch else { break };
            self.store_and_ack(store, batch).await;
        }
        self.flush_acks();
        self.stats
    }

    // Waits for a first message (retrying unsent acks meanwhile), then takes what
    // else arrives within the linger time, up to the batch size. `None`: link gone.
    async fn next_batch(&mut self) -> Option<Vec<(String, Bytes)>> {
        let mut batch = Vec::new();
        while batch.is_empty() {
            let event = if self.pending_acks.is_empty() {
                self.events.recv().await?
            } else {
                match tokio::time::timeout(Duration::from_millis(50), self.events.recv()).await {
                    Ok(e) => e?,
                    Err(_) => {
                        self.flush_acks();
                        continue;
                    }
                }
            };
            push_message(&mut batch, event);
        }
        let deadline = tokio::time::Instant::now() + self.options.linger;
        while batch.len() < self.options.batch {
            match self.events.try_recv() {
                Ok(event) => push_message(&mut batch, event),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, self.events.recv()).await {
                        Ok(Some(event)) => push_message(&mut batch, event),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
        Some(batch)
    }

    async fn key_for(&mut self, store: &Store, site: &str) -> Option<VerifyingKey> {
        if let Some(k) = self.keys.get(site) {
            return Some(*k);
        }
        if let Some(at) = self.unknown.get(site) {
            if at.elapsed() < UNKNOWN_SITE_RECHECK {
                return None;
            }
        }
        match store.site_key(site).await {
            Ok(Some(k)) => {
                self.unknown.remove(site);
                self.keys.insert(site.to_string(), k);
                Some(k)
            }
            Ok(None) => {
                tracing::warn!(site, "{}", crate::CentralError::Unregistered(site.into()));
                self.unknown.insert(site.to_string(), Instant::now());
                None
            }
            Err(e) => {
                tracing::warn!(site, error = %e, "cannot read the site's key");
                None
            }
        }
    }

    async fn store_and_ack(&mut self, store: &mut Store, batch: Vec<(String, Bytes)>) {
        let mut incoming = Vec::with_capacity(batch.len());
        for (topic, payload) in &batch {
            let unverified = match read_up(&self.prefix, topic, payload) {
                Ok(u) => u,
                Err(Refused::Topic) => continue,
                Err(e) => {
                    self.stats.refused += 1;
                    tracing::warn!(topic, error = %e, "message from a site ignored");
                    continue;
                }
            };
            let site = unverified.site.clone();
            let Some(key) = self.key_for(store, &site).await else {
                self.stats.refused += 1;
                continue;
            };
            match unverified.verify(&key) {
                Ok(envelope) if !matches!(envelope.body, Up::Reply(_)) => {
                    incoming.push(Incoming { site, envelope })
                }
                Ok(_) => {}
                Err(e) => {
                    self.stats.refused += 1;
                    tracing::warn!(topic, error = %e, "message refused");
                }
            }
        }
        if incoming.is_empty() {
            return;
        }
        let fresh = match store.store_batch(&incoming).await {
            Ok(f) => f,
            Err(e) => {
                // Nothing acknowledged: the sites send these again.
                tracing::warn!(error = %e, messages = incoming.len(), "cannot store a batch; not acknowledging it");
                tokio::time::sleep(Duration::from_millis(500)).await;
                return;
            }
        };
        self.stats.batches += 1;
        for (item, new) in incoming.into_iter().zip(fresh) {
            if matches!(item.envelope.body, Up::Status(_)) {
                continue;
            }
            if new {
                self.stats.stored += 1;
            } else {
                self.stats.duplicates += 1;
            }
            self.pending_acks
                .entry(item.site)
                .or_default()
                .push(item.envelope.msg_id);
        }
        self.flush_acks();
    }

    // Sends each site a signed ack of what is committed. Never waits on the link
    // (this task also reads it); an ack that does not fit its queue goes next time.
    fn flush_acks(&mut self) {
        for (site, ids) in std::mem::take(&mut self.pending_acks) {
            let topic = Topics::new(&self.prefix, &site).ack();
            let mut unsent = Vec::new();
            for chunk in ids.chunks(ACK_CHUNK) {
                let bytes = signed_down(
                    &self.key,
                    &site,
                    Down::Ack(Ack {
                        msg_ids: chunk.to_vec(),
                    }),
                );
                if !unsent.is_empty() || self.link.try_publish(&topic, bytes, false).is_err() {
                    unsent.extend_from_slice(chunk);
                }
            }
            if !unsent.is_empty() {
                self.pending_acks.insert(site, unsent);
            }
        }
    }

    pub async fn shutdown(&mut self) {
        self.flush_acks();
        self.link.shutdown().await;
    }
}

fn push_message(batch: &mut Vec<(String, Bytes)>, event: LinkEvent) {
    match event {
        LinkEvent::Message { topic, payload, .. } => batch.push((topic, payload)),
        LinkEvent::Connected => tracing::info!("ingest connected to the broker"),
        LinkEvent::Disconnected(why) => tracing::warn!(why, "ingest lost the broker"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_shares_status_and_outbox_but_not_replies() {
        assert_eq!(
            ingest_subscriptions("hs", Some("ingest")),
            [
                "$share/ingest/hs/site/+/status",
                "$share/ingest/hs/site/+/up/+"
            ]
        );
        assert_eq!(ingest_subscriptions("hs", None)[1], "hs/site/+/up/+");
        assert!(valid_group("ingest-1"));
        assert!(!valid_group("a/b") && !valid_group("#") && !valid_group(""));
    }
}
