//! The site side at run time: the outbox pump, status and telemetry, and the handling
//! of what comes down, around one `mqtt-link` task.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::actions::AgentActions;
use super::downlink::{judge, DownAction, DownContext};
use super::identity::SiteIdentity;
use super::outbox::{is_due, outbox_payload, OutboxStore};
use super::state::{CommandRecord, SyncState};
use hotspot_clock::now_ms;
use mqtt_link::{self as link, LinkConfig, LinkEvent, LinkHandle};
use sync_proto::envelope::{encode_raw_signed, Envelope};
use sync_proto::limits::{fit_up, MAX_PAYLOAD};
use sync_proto::messages::{
    CommandRequest, CommandResult, OrderOutcome, OrderResult, Outcome, Reply, Report, SiteCommand,
    Status, Up,
};
use sync_proto::new_msg_id;
use sync_proto::sign::sign;
use sync_proto::topics::Topics;

/// How the site side behaves.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    pub site: String,
    pub topic_prefix: String,
    pub central_key: VerifyingKey,
    /// The site's own key: signs everything it sends, opens secrets sealed to it.
    pub identity: SiteIdentity,
    /// First resend delay of an unacknowledged outbox message.
    pub resend_after: Duration,
    /// Outbox messages in flight at most (unacknowledged, oldest first).
    pub window: usize,
    pub status_interval: Duration,
    pub agent_version: String,
}

/// Handle on the running site side.
#[derive(Clone)]
pub struct SiteHandle {
    link: LinkHandle,
    wake: Arc<Notify>,
    stop: CancellationToken,
    topics: Topics,
    site: String,
    identity: SiteIdentity,
}

/// A signed up message, ready to publish.
fn signed_up(identity: &SiteIdentity, site: &str, prefix: &str, body: Up) -> Vec<u8> {
    let mut env = Envelope::new(new_msg_id(prefix), site, now_ms(), body);
    sign(&mut env, identity.signing_key());
    env.encode()
}

fn offline() -> Up {
    Up::Status(Status {
        online: false,
        ..Default::default()
    })
}

impl SiteHandle {
    /// Tells the pump that rows were added to the outbox (call after the sale commits).
    pub fn outbox_changed(&self) {
        self.wake.notify_one();
    }

    pub fn link(&self) -> &LinkHandle {
        &self.link
    }

    /// Publishes "offline" (retained), disconnects cleanly and stops the tasks.
    pub async fn shutdown(&self) {
        let bytes = signed_up(&self.identity, &self.site, "status", offline());
        if self.link.is_connected() {
            let _ = self
                .link
                .publish(&self.topics.status(), bytes, true, true)
                .await;
        }
        self.stop.cancel();
        self.link.shutdown().await;
    }
}

/// Starts the site side: the link (with `link.subscriptions` and `last_will` filled in
/// here), the pump and the down-link handler.
pub fn spawn<A: AgentActions>(
    mut link_config: LinkConfig,
    settings: SiteSettings,
    store: Arc<dyn OutboxStore>,
    state: Arc<SyncState>,
    actions: Arc<A>,
) -> SiteHandle {
    let topics = Topics::new(settings.topic_prefix.clone(), settings.site.clone());
    // A will made afresh for each connection: its own message id and signature.
    let (identity, site) = (settings.identity.clone(), settings.site.clone());
    let will: link::WillMaker = Arc::new(move || signed_up(&identity, &site, "will", offline()));
    link_config.last_will = None;
    link_config.subscriptions = topics.site_subscriptions();
    let (link, events) = link::spawn_with(
        link_config,
        link::LinkExtras {
            will: Some((topics.status(), will)),
            queue: 64,
        },
    );
    let wake = Arc::new(Notify::new());
    let stop = CancellationToken::new();
    let ctx = Arc::new(Ctx {
        settings,
        topics: topics.clone(),
        store,
        state,
        link: link.clone(),
        wake: wake.clone(),
        started: Instant::now(),
    });
    tokio::spawn(pump(ctx.clone(), stop.clone()));
    tokio::spawn(receive(ctx.clone(), actions, events, stop.clone()));
    SiteHandle {
        link,
        wake,
        stop,
        topics,
        site: ctx.settings.site.clone(),
        identity: ctx.settings.identity.clone(),
    }
}

struct Ctx {
    settings: SiteSettings,
    topics: Topics,
    store: Arc<dyn OutboxStore>,
    state: Arc<SyncState>,
    link: LinkHandle,
    wake: Arc<Notify>,
    started: Instant,
}

impl Ctx {
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn OutboxStore) -> Result<T, super::outbox::OutboxError> + Send + 'static,
    ) -> Option<T> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                warn!(error = %e, "outbox");
                None
            }
            Err(e) => {
                warn!(error = %e, "outbox task failed");
                None
            }
        }
    }

    /// Queues a message in the outbox and wakes the pump. Texts are clipped so the
    /// message fits a packet; one that still does not is logged and dropped.
    async fn enqueue(&self, body: Up, prefix: &str) {
        self.enqueue_as(new_msg_id(prefix), body).await
    }

    /// [`Ctx::enqueue`] under a message id of the caller's (an order's answer: the
    /// same answer is one message, however often it is made).
    async fn enqueue_as(&self, msg_id: String, body: Up) {
        let (msg_id, kind, payload) = outbox_payload(&msg_id, &fit_up(body));
        if payload.len() > MAX_PAYLOAD {
            warn!(
                kind,
                bytes = payload.len(),
                "message too large for the link; not queued"
            );
            return;
        }
        let now = now_ms();
        self.blocking(move |s| s.enqueue(&msg_id, kind, &payload, now))
            .await;
        self.wake.notify_one();
    }

    async fn publish_status(&self) {
        let backlog = self.blocking(|s| s.backlog()).await.unwrap_or(0);
        let status = Status {
            online: true,
            agent_version: self.settings.agent_version.clone(),
            uptime_s: self.started.elapsed().as_secs(),
            backlog,
            plans_version: self.state.version("plans").unwrap_or(0),
        };
        let bytes = self.signed(Up::Status(status), "status");
        if let Err(e) = self.link.try_publish(&self.topics.status(), bytes, true) {
            debug!(error = %e, "status not queued; the next one follows");
        }
    }

    fn signed(&self, body: Up, prefix: &str) -> Vec<u8> {
        signed_up(&self.settings.identity, &self.settings.site, prefix, body)
    }
}

// Sends the outbox oldest first, a window at a time, while the link is up. Rows
// leave the outbox only when the central office acknowledges them (see README).
async fn pump(ctx: Arc<Ctx>, stop: CancellationToken) {
    let resend_ms = ctx.settings.resend_after.as_millis() as u64;
    let window = ctx.settings.window;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ctx.link.wait_connected() => {}
        }
        // What the agent recorded for operators joins the outbox first.
        ctx.blocking(|s| s.forward_events(100)).await;
        ctx.blocking(|s| s.forward_cash(100)).await;
        let entries = ctx
            .blocking(move |s| s.pending(window))
            .await
            .unwrap_or_default();
        let now = now_ms();
        let due: Vec<_> = entries
            .into_iter()
            .filter(|e| is_due(e, now, resend_ms))
            .collect();
        if due.is_empty() {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ctx.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            continue;
        }
        debug!(count = due.len(), "sending outbox");
        for chunk in due.chunks(64) {
            let mut sent = Vec::with_capacity(chunk.len());
            for e in chunk {
                let bytes = encode_raw_signed(
                    &e.msg_id,
                    &ctx.settings.site,
                    e.created_at_ms,
                    &e.payload,
                    ctx.settings.identity.signing_key(),
                );
                if ctx
                    .link
                    .publish(&ctx.topics.up(&e.kind), bytes, true, false)
                    .await
                    .is_err()
                {
                    return;
                }
                sent.push(e.msg_id.clone());
            }
            let now = now_ms();
            ctx.blocking(move |s| s.mark_attempt(&sent, now)).await;
            if !ctx.link.is_connected() {
                break;
            }
        }
    }
}

async fn receive<A: AgentActions>(
    ctx: Arc<Ctx>,
    actions: Arc<A>,
    mut events: mpsc::Receiver<LinkEvent>,
    stop: CancellationToken,
) {
    // The first status goes out on connection; the timer starts one interval later.
    let every = ctx.settings.status_interval;
    let mut status_tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    status_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return,
            _ = status_tick.tick() => {
                if ctx.link.is_connected() {
                    ctx.publish_status().await;
                }
                let mut telemetry = actions.telemetry().await;
                telemetry.agent_version = ctx.settings.agent_version.clone();
                telemetry.uptime_s = ctx.started.elapsed().as_secs();
                ctx.enqueue(Up::Telemetry(telemetry), "telemetry").await;
                continue;
            }
            event = events.recv() => match event { Some(e) => e, None => return },
        };
        match event {
            LinkEvent::Connected => {
                ctx.publish_status().await;
                ctx.wake.notify_one();
            }
            LinkEvent::Disconnected(_) => {}
            LinkEvent::Message {
                topic,
                payload,
                retain,
            } => {
                handle_down(&ctx, actions.as_ref(), &topic, &payload, retain).await;
            }
        }
    }
}

// Long on purpose: one arm per judged down-link action (apply, refuse, acknowledge, run), each with its log line and report.
async fn handle_down<A: AgentActions>(
    ctx: &Ctx,
    actions: &A,
    topic: &str,
    payload: &[u8],
    retain: bool,
) {
    let Some(which) = ctx.topics.parse_down(topic) else {
        warn!(topic, "message on a topic this site does not use; ignored");
        return;
    };
    // Fail closed: without the versions in force nothing can be judged (a 0 would
    // let an older signed set through), so the message is dropped. Retained sets
    // come again on the next subscription and the central office repeats commands.
    let version = |subject: &str| -> Result<(u64, String), super::outbox::OutboxError> {
        let v = ctx.state.version(subject)?;
        let id = ctx.state.get(&format!("{subject}.msg_id"))?;
        Ok((v, id.unwrap_or_default()))
    };
    let (plans, routers) = match (version("plans"), version("routers")) {
        (Ok(p), Ok(r)) => (p, r),
        (Err(e), _) | (_, Err(e)) => {
            warn!(topic, error = %e, "cannot read the versions in force; message refused");
            return;
        }
    };
    let ((plans_v, plans_id), (routers_v, routers_id)) = (plans, routers);
    let (state_since_ms, floor) = match (ctx.state.state_since_ms(), ctx.state.floor()) {
        (Ok(t), Ok(f)) => (t, f),
        (Err(e), _) | (_, Err(e)) => {
            warn!(topic, error = %e, "cannot read when the state was made or its floor; message refused");
            return;
        }
    };
    let dc = DownContext {
        site: &ctx.settings.site,
        key: &ctx.settings.central_key,
        identity: ctx.settings.identity.signing_key(),
        plans_in_force: (plans_v, &plans_id),
        routers_in_force: (routers_v, &routers_id),
        now_ms: now_ms(),
        state_since_ms,
        floor,
    };
    match judge(which, payload, retain, &dc) {
        DownAction::Ignore(reason) => warn!(topic, %reason, "refused"),
        DownAction::AlreadyInForce => debug!(topic, "retained message already in force"),
        DownAction::Refuse { reason, answer } => {
            warn!(topic, %reason, "refused; reporting to the central office");
            match answer {
                Up::Reply(reply) => publish_reply(ctx, reply).await,
                Up::Order(result) => send_order_result(ctx, result).await,
                other => ctx.enqueue(other, "report").await,
            }
        }
        DownAction::Ack(ids) => {
            let n = ctx.blocking(move |s| s.ack(&ids)).await.unwrap_or(0);
            debug!(removed = n, "outbox acknowledged");
            ctx.wake.notify_one();
        }
        DownAction::ApplyPlans { msg_id, plans } => {
            let version = plans.version;
            info!(version, plans = plans.plans.len(), "applying plan set");
            let outcome = match actions.apply_plans(plans).await {
                Ok(report) => match ctx.state.set_version("plans", version, &msg_id) {
                    Ok(()) => Outcome::Applied(report),
                    Err(e) => Outcome::Refused(format!("applied but not recorded: {e}")),
                },
                Err(reason) => Outcome::Refused(reason.to_string()),
            };
            let report = Report {
                subject: "plans".into(),
                version,
                about_msg_id: msg_id,
                outcome,
            };
            ctx.enqueue(Up::Report(report), "report").await;
        }
        DownAction::ApplyRouters {
            msg_id,
            routers,
            passwords,
        } => {
            let version = routers.version;
            info!(
                version,
                routers = routers.routers.len(),
                "applying router settings"
            );
            let outcome = match actions.apply_routers(routers, passwords).await {
                Ok(report) => match ctx.state.set_version("routers", version, &msg_id) {
                    Ok(()) => Outcome::Applied(report),
                    Err(e) => Outcome::Refused(format!("applied but not recorded: {e}")),
                },
                Err(reason) => Outcome::Refused(reason.to_string()),
            };
            let report = Report {
                subject: "routers".into(),
                version,
                about_msg_id: msg_id,
                outcome,
            };
            ctx.enqueue(Up::Report(report), "report").await;
        }
        DownAction::RaiseFloor(f) => {
            let f = super::downlink::FloorInForce {
                plans_version: f.plans_version,
                routers_version: f.routers_version,
                issued_ms: f.issued_ms,
            };
            match ctx.state.raise_floor(f) {
                Ok(()) => info!(?f, "floor from the central office in force"),
                Err(e) => warn!(error = %e, "floor not stored"),
            }
        }
        DownAction::TakeOrder(order) => {
            info!(order = %order.order_id, plan = %order.plan_id, "online order");
            let order_id = order.order_id.clone();
            let outcome = actions.take_order(order).await;
            send_order_result(ctx, OrderResult { order_id, outcome }).await;
        }
        DownAction::RunCommand(req) => {
            let result = run_once(ctx, actions, req.clone()).await;
            publish_reply(
                ctx,
                Reply {
                    request_id: req.request_id,
                    result,
                },
            )
            .await;
        }
    }
}

/// Runs a command once per request id: a request that comes again (its reply was
/// lost) gets the answer it had, and sells nothing new.
async fn run_once<A: AgentActions>(ctx: &Ctx, actions: &A, req: CommandRequest) -> CommandResult {
    match ctx.state.begin_command(&req.request_id, req.expires_ms) {
        Ok(CommandRecord::Answered(bytes)) => {
            info!(request = %req.request_id, "command came again; sending the answer it had");
            postcard::from_bytes(&bytes).unwrap_or_else(|e| {
                CommandResult::Err(format!(
                    "the answer kept for this request cannot be read: {e}"
                ))
            })
        }
        Ok(fresh_or_unfinished) => {
            info!(request = %req.request_id, command = ?req.command, again = (fresh_or_unfinished == CommandRecord::Unfinished), "running remote command");
            let keep = changes_something(&req.command);
            let result = actions.run_request(&req.request_id, req.command).await;
            if keep {
                let kept = postcard::to_stdvec(&result)
                    .map_err(|e| e.to_string())
                    .and_then(|b| {
                        ctx.state
                            .finish_command(&req.request_id, &b)
                            .map_err(|e| e.to_string())
                    });
                if let Err(e) = kept {
                    warn!(request = %req.request_id, error = %e, "command answer not kept; the same request would run again");
                }
            }
            result
        }
        Err(e) => CommandResult::Err(format!("cannot record the request id: {e}")),
    }
}

/// Commands whose answer is kept (they change something); the others only read
/// and run again when asked again.
fn changes_something(c: &SiteCommand) -> bool {
    !matches!(
        c,
        SiteCommand::TestRouter { .. }
            | SiteCommand::ListUsers { .. }
            | SiteCommand::ListProfiles { .. }
    )
}

/// An order's answer goes up through the outbox (sent until acknowledged), under a
/// message id made from the order id and the outcome: the same answer again is the
/// same message, and a sale after a `Pending` is a new one.
async fn send_order_result(ctx: &Ctx, result: OrderResult) {
    let id = &result.order_id;
    let msg_id = match &result.outcome {
        // An id too long to be taken is answered under a random message id, so the
        // answer never carries more than a clipped copy of it.
        _ if id.is_empty() || id.len() > super::downlink::MAX_ORDER_ID => {
            new_msg_id("order-refused")
        }
        OrderOutcome::Sold(_) => format!("order-{id}-sold"),
        OrderOutcome::Refused(_) => format!("order-{id}-refused"),
        OrderOutcome::Pending(_) => new_msg_id("order-pending"),
    };
    ctx.enqueue_as(msg_id, Up::Order(result)).await;
}

// Replies go straight out (QoS 1), not through the outbox: a reply matters only while
// someone waits for it, and the central side sends the command again (same request
// id: commands are idempotent). Not waited for: this is the task that reads the link.
async fn publish_reply(ctx: &Ctx, reply: Reply) {
    let mut bytes = ctx.signed(fit_up(Up::Reply(reply.clone())), "reply");
    if bytes.len() > MAX_PAYLOAD {
        warn!(request = %reply.request_id, bytes = bytes.len(), "reply too large; sending an error instead");
        let err = Reply {
            request_id: reply.request_id,
            result: sync_proto::messages::CommandResult::Err(format!(
                "the reply ({} bytes) is over the {MAX_PAYLOAD}-byte limit: ask for less",
                bytes.len()
            )),
        };
        bytes = ctx.signed(fit_up(Up::Reply(err)), "reply");
    }
    if let Err(e) = ctx.link.try_publish(&ctx.topics.reply(), bytes, false) {
        warn!(error = %e, "reply not sent; the central office asks again");
    }
}
