//! The broker connection: one task owns the rumqttc event loop (reconnecting with
//! backoff, re-subscribing, tracking whether it is up); everyone else holds a
//! [`LinkHandle`] and reads [`LinkEvent`]s.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS, Transport};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use firmware_config::Secret;

/// The largest MQTT packet sent or accepted (sync-proto's `limits::MAX_PACKET`).
pub const MAX_PACKET: usize = 1 << 20;

/// Everything needed to connect.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// TLS when set.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub keep_alive: Duration,
    /// false = persistent session: the broker keeps subscriptions and queued QoS 1
    /// messages while the site is away.
    pub clean_session: bool,
    /// Retained QoS 1 message the broker publishes if the link dies.
    pub last_will: Option<(String, Vec<u8>)>,
    /// Subscribed (QoS 1) on every connection.
    pub subscriptions: Vec<String>,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

/// What the link reports.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkEvent {
    Connected,
    Disconnected(String),
    Message {
        topic: String,
        payload: Bytes,
        retain: bool,
    },
}

/// Makes the last-will payload afresh for each connection (so each will a broker
/// publishes carries its own message id and signature).
pub type WillMaker = Arc<dyn Fn() -> Vec<u8> + Send + Sync>;

/// How many events wait for the reader by default before the link stops reading
/// the broker (backpressure: the broker holds the rest).
pub const EVENT_QUEUE: usize = 256;

/// Extra start options.
#[derive(Clone, Default)]
pub struct LinkExtras {
    /// A last-will made per connection on this topic (replaces `LinkConfig::last_will`).
    pub will: Option<(String, WillMaker)>,
    /// Events waiting for the reader at most; [`EVENT_QUEUE`] when 0.
    pub queue: usize,
}

/// Why a publish did not reach the link task.
#[derive(Debug, thiserror::Error)]
#[error("MQTT link is shut down: {0}")]
pub struct LinkClosed(String);

/// A cloneable handle on the link.
#[derive(Clone)]
pub struct LinkHandle {
    client: AsyncClient,
    connected: watch::Receiver<bool>,
    stop: CancellationToken,
}

impl LinkHandle {
    /// Queues a message (waits while the request queue is full).
    pub async fn publish(
        &self,
        topic: &str,
        payload: Vec<u8>,
        qos1: bool,
        retain: bool,
    ) -> Result<(), LinkClosed> {
        let qos = if qos1 {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        };
        self.client
            .publish(topic, qos, retain, payload)
            .await
            .map_err(|e| LinkClosed(e.to_string()))
    }

    /// Queues a QoS 1 message without waiting: `Err` when the request queue is full
    /// or the link is shut down. For the task that reads [`LinkEvent`]s, which must
    /// never wait on the link task (that task may be waiting for it to read).
    pub fn try_publish(
        &self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), LinkClosed> {
        self.client
            .try_publish(topic, QoS::AtLeastOnce, retain, payload)
            .map_err(|e| LinkClosed(e.to_string()))
    }

    pub fn is_connected(&self) -> bool {
        *self.connected.borrow()
    }

    /// Waits until the link is up (returns at once if it is).
    pub async fn wait_connected(&self) {
        let mut rx = self.connected.clone();
        let _ = rx.wait_for(|up| *up).await;
    }

    /// A receiver that changes when the link goes up or down.
    pub fn watch_connected(&self) -> watch::Receiver<bool> {
        self.connected.clone()
    }

    /// Drops the connection without a DISCONNECT, as a power cut would: the broker then
    /// publishes the last-will. For tests and for a supervisor giving up on the link.
    pub fn kill(&self) {
        self.stop.cancel();
    }

    /// Disconnects cleanly (no last-will) and ends the link task.
    pub async fn shutdown(&self) {
        let _ = self.client.try_disconnect();
        // Give the event loop a moment to send DISCONNECT before it is cancelled.
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.stop.cancel();
    }
}

/// Starts the link task.
pub fn spawn(config: LinkConfig) -> (LinkHandle, mpsc::Receiver<LinkEvent>) {
    spawn_with(config, LinkExtras::default())
}

fn will(topic: &str, make: &WillMaker) -> LastWill {
    LastWill::new(topic, make(), QoS::AtLeastOnce, true)
}

// Hands an event to the reader, waiting while its queue is full; false once stopped
// or the reader is gone.
async fn deliver(tx: &mpsc::Sender<LinkEvent>, event: LinkEvent, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        sent = tx.send(event) => sent.is_ok(),
    }
}

/// Starts the link task with a per-connection last-will or another event queue size.
// Long on purpose: the rumqttc event loop: one arm per event, and the reconnect policy beside the errors it answers.
pub fn spawn_with(
    config: LinkConfig,
    extras: LinkExtras,
) -> (LinkHandle, mpsc::Receiver<LinkEvent>) {
    let mut options = MqttOptions::new(config.client_id.clone(), config.host.clone(), config.port);
    options.set_keep_alive(config.keep_alive);
    options.set_clean_session(config.clean_session);
    // Plan sets and user lists can be larger than rumqttc's 10 KiB default; the
    // contract keeps every message under this (sync-proto's `limits`).
    options.set_max_packet_size(MAX_PACKET, MAX_PACKET);
    options.set_inflight(100);
    if let Some(user) = &config.username {
        let pass = config
            .password
            .as_ref()
            .map(|p| p.expose().to_string())
            .unwrap_or_default();
        options.set_credentials(user.clone(), pass);
    }
    if let Some(tls) = &config.tls {
        options.set_transport(Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls.clone()),
        ));
    }
    if let Some((topic, payload)) = &config.last_will {
        options.set_last_will(LastWill::new(
            topic.clone(),
            payload.clone(),
            QoS::AtLeastOnce,
            true,
        ));
    }
    if let Some((topic, make)) = &extras.will {
        options.set_last_will(will(topic, make));
    }
    let (client, mut eventloop) = AsyncClient::new(options, 256);
    let (up_tx, up_rx) = watch::channel(false);
    // Bounded: while the reader is busy this task waits and stops reading the broker,
    // which holds the rest. The reader must then never wait on this task: it
    // publishes with `try_publish`.
    let queue = if extras.queue == 0 {
        EVENT_QUEUE
    } else {
        extras.queue
    };
    let (event_tx, event_rx) = mpsc::channel(queue);
    let stop = CancellationToken::new();
    let handle = LinkHandle {
        client: client.clone(),
        connected: up_rx,
        stop: stop.clone(),
    };
    let span = tracing::info_span!("mqtt", broker = %format!("{}:{}", config.host, config.port));
    let task = async move {
        let mut backoff = hotspot_clock::Backoff::new(config.backoff_min, config.backoff_max);
        loop {
            let polled = tokio::select! {
                _ = stop.cancelled() => break,
                polled = eventloop.poll() => polled,
            };
            match polled {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    tracing::info!(session_present = ack.session_present, "connected");
                    backoff.reset();
                    let topics: Vec<_> = config
                        .subscriptions
                        .iter()
                        .map(|t| rumqttc::SubscribeFilter::new(t.clone(), QoS::AtLeastOnce))
                        .collect();
                    if !topics.is_empty() {
                        let c = client.clone();
                        // Not awaited here: this task must keep polling for the request to go out.
                        tokio::spawn(async move { c.subscribe_many(topics).await });
                    }
                    let _ = up_tx.send(true);
                    if !deliver(&event_tx, LinkEvent::Connected, &stop).await {
                        break;
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let event = LinkEvent::Message {
                        topic: p.topic,
                        payload: p.payload,
                        retain: p.retain,
                    };
                    if !deliver(&event_tx, event, &stop).await {
                        break;
                    }
                }
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                    let _ = up_tx.send(false);
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    let wait = backoff.failed();
                    let was_up = *up_tx.borrow();
                    let _ = up_tx.send(false);
                    if was_up {
                        tracing::warn!(error = %e, "broker link lost; reconnecting");
                    } else {
                        tracing::debug!(error = %e, retry_in = ?wait, "broker not reachable");
                    }
                    if let Some((topic, make)) = &extras.will {
                        eventloop.mqtt_options.set_last_will(will(topic, make));
                    }
                    // Not waited for: a full queue already tells the reader enough.
                    let _ = event_tx.try_send(LinkEvent::Disconnected(e.to_string()));
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
        let _ = up_tx.send(false);
    };
    tokio::spawn(tracing::Instrument::instrument(task, span));
    (handle, event_rx)
}
