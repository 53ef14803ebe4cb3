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
// Long on purpose: the rumqttc event loop: one arm per event, and the reconnect policy beside the errors it answers.
pub fn spawn(config: LinkConfig) -> (LinkHandle, mpsc::UnboundedReceiver<LinkEvent>) {
    let mut options = MqttOptions::new(config.client_id.clone(), config.host.clone(), config.port);
    options.set_keep_alive(config.keep_alive);
    options.set_clean_session(config.clean_session);
    // Plan sets and user lists can be larger than rumqttc's 10 KiB default.
    options.set_max_packet_size(1 << 20, 1 << 20);
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
    let (client, mut eventloop) = AsyncClient::new(options, 256);
    let (up_tx, up_rx) = watch::channel(false);
    // Unbounded: the reader may itself publish, which needs this task polling; a bounded
    // channel here could deadlock the two. Incoming volume is bounded by the broker.
    let (event_tx, event_rx) = mpsc::unbounded_channel();
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
                    let _ = event_tx.send(LinkEvent::Connected);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = event_tx.send(LinkEvent::Message {
                        topic: p.topic,
                        payload: p.payload,
                        retain: p.retain,
                    });
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
                    let _ = event_tx.send(LinkEvent::Disconnected(e.to_string()));
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
