//! Judging what comes down: decode, verify the central office's signature, check the
//! topic, target, version and expiry, and say what to do. Pure: no I/O, no clock.

use ed25519_dalek::{SigningKey, VerifyingKey};
use firmware_config::Secret;

use super::state::{check_command, check_version};
use sync_proto::envelope::decode;
use sync_proto::messages::{
    CommandRequest, CommandResult, Down, Floor, Order, OrderOutcome, OrderResult, Outcome, PlanSet,
    Reply, Report, RouterSet, Up,
};
use sync_proto::seal::open_sealed;
use sync_proto::sign::verify;
use sync_proto::topics::DownTopic;

/// The longest order id a site takes (bytes): it becomes the key of a sale and
/// part of a message id.
pub const MAX_ORDER_ID: usize = 128;

/// What the agent knows when it judges a message.
pub struct DownContext<'a> {
    pub site: &'a str,
    pub key: &'a VerifyingKey,
    /// The site's own key, to open secrets sealed to it.
    pub identity: &'a SigningKey,
    /// Version and message id of the plan set in force.
    pub plans_in_force: (u64, &'a str),
    /// Version and message id of the router settings in force.
    pub routers_in_force: (u64, &'a str),
    pub now_ms: u64,
    /// When this site's state (its SQLite store) was made: a command or an order
    /// the central office signed before then was captured before a wiped state
    /// folder, and is not taken (the ids that would catch its replay went with it).
    pub state_since_ms: u64,
    /// The floor the central office set for this box (`Down::Floor`), zeros without one.
    pub floor: FloorInForce,
}

/// The highest floor this box has taken (`sync_state` `floor.*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FloorInForce {
    pub plans_version: u64,
    pub routers_version: u64,
    pub issued_ms: u64,
}

/// Why a set is below the floor, if it is.
fn below_floor(subject: &str, version: u64, floor: u64) -> Option<String> {
    (version < floor).then(|| {
        format!("{subject} version {version} is below version {floor}, the floor the central office set for this box")
    })
}

/// How far the central office's clock may be behind the site's before a command
/// signed just after a state folder was made looks older than it.
pub const STATE_CLOCK_SLACK_MS: u64 = 5 * 60 * 1000;

fn before_state(env_time_ms: u64, ctx: &DownContext<'_>) -> bool {
    env_time_ms.saturating_add(STATE_CLOCK_SLACK_MS) < ctx.state_since_ms
        || env_time_ms < ctx.floor.issued_ms
}

/// What to do with a message that came down.
#[derive(Debug, Clone, PartialEq)]
pub enum DownAction {
    ApplyPlans {
        msg_id: String,
        plans: PlanSet,
    },
    ApplyRouters {
        msg_id: String,
        routers: RouterSet,
        /// Each router's password, opened with the site's key (`None`: keep the site's own).
        passwords: Vec<Option<Secret>>,
    },
    /// Checked for target and expiry; the caller still checks the id was never used.
    RunCommand(CommandRequest),
    Ack(Vec<String>),
    /// An online order for this site, its id checked: sell one voucher for it (or
    /// find the one sold for it before).
    TakeOrder(Order),
    /// A floor for this box's own key: keep the highest of each of its values.
    RaiseFloor(Floor),
    /// A retained message, delivered on (re)subscribe, no newer than the one in force.
    AlreadyInForce,
    /// Refused; `answer` (a report or a reply) goes back to the central office.
    Refuse {
        reason: String,
        answer: Up,
    },
    /// Refused with nobody to tell (undecodable, unsigned or signed with another
    /// key: not the central office's, so nothing is written and nothing answered):
    /// logged only.
    Ignore(String),
}

fn refused_report(subject: &str, version: u64, msg_id: &str, reason: &str) -> DownAction {
    DownAction::Refuse {
        reason: sync_proto::limits::clip(reason, 200),
        answer: Up::Report(Report {
            subject: subject.into(),
            version,
            about_msg_id: msg_id.into(),
            outcome: Outcome::Refused(reason.to_string()),
        }),
    }
}

fn refused_reply(request_id: &str, reason: &str) -> DownAction {
    DownAction::Refuse {
        reason: reason.to_string(),
        answer: Up::Reply(Reply {
            request_id: request_id.into(),
            result: CommandResult::Err(reason.to_string()),
        }),
    }
}

/// Judges one message; `retain` is the MQTT retain flag as delivered.
// Long on purpose: one arm per topic and message kind; every refusal reads beside the check that makes it.
pub fn judge(topic: DownTopic, bytes: &[u8], retain: bool, ctx: &DownContext<'_>) -> DownAction {
    let decoded = match decode::<Down>(bytes) {
        Ok(d) => d,
        Err(e) => return DownAction::Ignore(format!("undecodable message on {topic:?}: {e}")),
    };
    let env = decoded.envelope;
    let msg_id = env.msg_id.as_str();
    // Only what the central office signed is looked at further: anything else may
    // be anyone's, and costs a log line and nothing more.
    if let Err(e) = verify(decoded.signed_bytes, env.sig.as_deref(), ctx.key) {
        return DownAction::Ignore(format!(
            "message {} on {topic:?} refused: {e}",
            sync_proto::limits::clip(msg_id, 80)
        ));
    }
    // The envelope names the site a message is for (`*` on the fleet plans topic),
    // under the signature: a message signed for another site means nothing here.
    let addressed = if topic == DownTopic::FleetPlans {
        "*"
    } else {
        ctx.site
    };
    if env.site != addressed {
        return DownAction::Ignore(format!(
            "message {} on {topic:?} is addressed to {:?}, not {addressed:?}; ignored",
            sync_proto::limits::clip(msg_id, 80),
            sync_proto::limits::clip(&env.site, 80)
        ));
    }
    match (topic, env.body) {
        (DownTopic::Plans | DownTopic::FleetPlans, Down::Plans(plans)) => {
            let wanted = if topic == DownTopic::FleetPlans {
                "*"
            } else {
                ctx.site
            };
            if plans.target != wanted {
                let reason = format!(
                    "plan set is for {:?}, this topic carries {wanted:?}",
                    plans.target
                );
                return refused_report("plans", plans.version, msg_id, &reason);
            }
            if let Some(why) = below_floor("plan set", plans.version, ctx.floor.plans_version) {
                return refused_report("plans", plans.version, msg_id, &why);
            }
            // Delivered retained (on subscribe) and not newer: the set in force, or a
            // stale one left on the other plans topic. Live deliveries are judged in full.
            if retain && plans.version <= ctx.plans_in_force.0 {
                return DownAction::AlreadyInForce;
            }
            match check_version(plans.version, ctx.plans_in_force.0) {
                Ok(()) => DownAction::ApplyPlans {
                    msg_id: msg_id.into(),
                    plans,
                },
                Err(reason) => refused_report("plans", plans.version, msg_id, &reason.to_string()),
            }
        }
        (DownTopic::Routers, Down::Routers(routers)) => {
            if routers.target != ctx.site {
                let reason = format!(
                    "router settings are for {:?}, this is {:?}",
                    routers.target, ctx.site
                );
                return refused_report("routers", routers.version, msg_id, &reason);
            }
            if let Some(why) = below_floor(
                "router settings",
                routers.version,
                ctx.floor.routers_version,
            ) {
                return refused_report("routers", routers.version, msg_id, &why);
            }
            if retain && routers.version <= ctx.routers_in_force.0 {
                return DownAction::AlreadyInForce;
            }
            if let Err(reason) = check_version(routers.version, ctx.routers_in_force.0) {
                return refused_report("routers", routers.version, msg_id, &reason.to_string());
            }
            let mut passwords = Vec::with_capacity(routers.routers.len());
            for r in &routers.routers {
                match r
                    .password_sealed
                    .as_deref()
                    .map(|b| open_sealed(ctx.identity, b))
                {
                    None => passwords.push(None),
                    Some(Ok(p)) => passwords.push(Some(Secret::new(p))),
                    Some(Err(e)) => {
                        let reason = format!("router {}: password: {e}", r.name);
                        return refused_report("routers", routers.version, msg_id, &reason);
                    }
                }
            }
            DownAction::ApplyRouters {
                msg_id: msg_id.into(),
                routers,
                passwords,
            }
        }
        (DownTopic::Cmd, Down::Command(req)) => {
            if before_state(env.time_ms, ctx) {
                return refused_reply(
                    &req.request_id,
                    "command signed before this site's state was made (a replay from before a wiped state folder); send a new one",
                );
            }
            match check_command(&req, ctx.site, ctx.now_ms, false) {
                Ok(()) => DownAction::RunCommand(req),
                Err(reason) => refused_reply(&req.request_id, &reason.to_string()),
            }
        }
        (DownTopic::Ack, Down::Ack(ack)) => DownAction::Ack(ack.msg_ids),
        (DownTopic::Cmd, Down::Floor(floor)) => {
            if floor.site_key != ctx.identity.verifying_key().to_bytes() {
                return DownAction::Ignore(format!(
                    "floor {} is for another key than this box's (a box wiped since, or another box); ignored",
                    sync_proto::limits::clip(msg_id, 80)
                ));
            }
            DownAction::RaiseFloor(floor)
        }
        (DownTopic::Cmd, Down::Order(order)) => {
            let refuse = |why: String| DownAction::Refuse {
                reason: why.clone(),
                answer: Up::Order(OrderResult {
                    order_id: order.order_id.clone(),
                    outcome: OrderOutcome::Refused(why),
                }),
            };
            if order.target != ctx.site {
                return refuse(format!(
                    "order is for site {:?}, this is {:?}",
                    order.target, ctx.site
                ));
            }
            if order.order_id.is_empty() || order.order_id.len() > MAX_ORDER_ID {
                return refuse(format!(
                    "an order id is 1 to {MAX_ORDER_ID} bytes; this one is {}",
                    order.order_id.len()
                ));
            }
            if before_state(env.time_ms, ctx) {
                // Not a refusal (the customer is owed nothing: a voucher may have been
                // sold for it before the state was wiped): pending, so a central
                // office that has no code for it yet sends it again, newly signed.
                return DownAction::Refuse {
                    reason: "order signed before this site's state was made".into(),
                    answer: Up::Order(OrderResult {
                        order_id: order.order_id.clone(),
                        outcome: OrderOutcome::Pending(
                            "signed before this site's state was made (a wiped state folder); if the order has no code yet, send it again".into(),
                        ),
                    }),
                };
            }
            DownAction::TakeOrder(order)
        }
        (topic, body) => DownAction::Ignore(format!(
            "message {msg_id} of type {} does not belong on {topic:?}",
            match body {
                Down::Plans(_) => "plans",
                Down::Routers(_) => "routers",
                Down::Command(_) => "command",
                Down::Ack(_) => "ack",
                Down::Order(_) => "order",
                Down::Floor(_) => "floor",
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use sync_proto::envelope::Envelope;
    use sync_proto::messages::{Ack, SiteCommand};
    use sync_proto::sign::sign;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[1u8; 32])
    }

    fn plans(version: u64, target: &str) -> Vec<u8> {
        let mut env = Envelope::new(
            format!("p{version}"),
            target,
            0,
            Down::Plans(PlanSet {
                version,
                target: target.into(),
                ..Default::default()
            }),
        );
        sign(&mut env, &key());
        env.encode()
    }

    /// A signed `Reconcile` for `s1` valid until 5000, its envelope addressed to
    /// `to` and made at `time_ms`.
    fn reconcile(to: &str, time_ms: u64) -> Vec<u8> {
        let mut cmd = Envelope::new(
            "c",
            to,
            time_ms,
            Down::Command(CommandRequest {
                request_id: "r".into(),
                target: "s1".into(),
                expires_ms: 5000,
                command: SiteCommand::Reconcile,
            }),
        );
        sign(&mut cmd, &key());
        cmd.encode()
    }

    /// What site `s1` knows, with no sets in force.
    fn context<'a>(
        central: &'a VerifyingKey,
        me: &'a SigningKey,
        now_ms: u64,
        state_since_ms: u64,
        floor: FloorInForce,
    ) -> DownContext<'a> {
        DownContext {
            site: "s1",
            key: central,
            identity: me,
            plans_in_force: (0, ""),
            routers_in_force: (0, ""),
            now_ms,
            state_since_ms,
            floor,
        }
    }

    /// `body` in an envelope for `s1`, signed by the central office.
    fn signed_for_s1(body: Down) -> Vec<u8> {
        let mut env = Envelope::new("m", "s1", 0, body);
        sign(&mut env, &key());
        env.encode()
    }

    fn judge_at(topic: DownTopic, bytes: &[u8], retain: bool, in_force: (u64, &str)) -> DownAction {
        let pk = key().verifying_key();
        let me = SigningKey::from_bytes(&[8u8; 32]);
        let ctx = DownContext {
            site: "s1",
            key: &pk,
            identity: &me,
            plans_in_force: in_force,
            routers_in_force: (0, ""),
            now_ms: 1000,
            state_since_ms: 0,
            floor: FloorInForce::default(),
        };
        judge(topic, bytes, retain, &ctx)
    }

    #[test]
    fn a_newer_signed_plan_set_is_applied() {
        let action = judge_at(DownTopic::Plans, &plans(5, "s1"), false, (4, "p4"));
        assert!(matches!(action, DownAction::ApplyPlans { plans, .. } if plans.version == 5));
    }

    #[test]
    fn retained_sets_no_newer_than_the_one_in_force_are_skipped_but_a_live_replay_is_refused() {
        assert_eq!(
            judge_at(DownTopic::Plans, &plans(5, "s1"), true, (5, "p5")),
            DownAction::AlreadyInForce
        );
        let stale_fleet_set = judge_at(DownTopic::FleetPlans, &plans(3, "*"), true, (5, "p5"));
        assert_eq!(stale_fleet_set, DownAction::AlreadyInForce);
        let replay = judge_at(DownTopic::Plans, &plans(5, "s1"), false, (5, "p5"));
        assert!(
            matches!(replay, DownAction::Refuse { reason, .. } if reason.contains("not newer"))
        );
    }

    #[test]
    fn a_set_naming_another_site_is_reported_and_one_signed_by_another_key_only_logged() {
        // Addressed to s1 in the envelope, but the set inside says s2: a central bug, reported.
        let mut env = Envelope::new(
            "y",
            "s1",
            0,
            Down::Plans(PlanSet {
                version: 5,
                target: "s2".into(),
                ..Default::default()
            }),
        );
        sign(&mut env, &key());
        let other_site = judge_at(DownTopic::Plans, &env.encode(), false, (0, ""));
        assert!(
            matches!(other_site, DownAction::Refuse { answer: Up::Report(r), .. } if r.version == 5)
        );
        let mut env = Envelope::new(
            "x",
            "s1",
            0,
            Down::Plans(PlanSet {
                version: 9,
                target: "s1".into(),
                ..Default::default()
            }),
        );
        sign(&mut env, &SigningKey::from_bytes(&[2u8; 32]));
        let forged = judge_at(DownTopic::Plans, &env.encode(), false, (0, ""));
        assert!(
            matches!(&forged, DownAction::Ignore(reason) if reason.contains("signature")),
            "a forgery is logged, never answered or stored: {forged:?}"
        );
    }

    #[test]
    fn expired_commands_get_a_refusal_with_their_id() {
        let mut env = Envelope::new(
            "c1",
            "s1",
            0,
            Down::Command(CommandRequest {
                request_id: "r1".into(),
                target: "s1".into(),
                expires_ms: 999,
                command: SiteCommand::SyncProfiles,
            }),
        );
        sign(&mut env, &key());
        match judge_at(DownTopic::Cmd, &env.encode(), false, (0, "")) {
            DownAction::Refuse {
                answer: Up::Reply(r),
                reason,
            } => {
                assert_eq!(r.request_id, "r1");
                assert!(reason.contains("expired"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn commands_and_orders_signed_before_the_state_was_made_are_not_taken() {
        let pk = key().verifying_key();
        let me = SigningKey::from_bytes(&[8u8; 32]);
        let made_at = 10 * STATE_CLOCK_SLACK_MS;
        let ctx = context(&pk, &me, made_at + 1000, made_at, FloorInForce::default());
        let signed_at = |time_ms: u64, body: Down| {
            let mut env = Envelope::new("m", "s1", time_ms, body);
            sign(&mut env, &key());
            env.encode()
        };
        let cmd = Down::Command(CommandRequest {
            request_id: "r".into(),
            target: "s1".into(),
            expires_ms: made_at + 60_000,
            command: SiteCommand::Reconcile,
        });
        let order = Down::Order(Order {
            order_id: "o1".into(),
            target: "s1".into(),
            plan_id: "1h".into(),
            ..Default::default()
        });
        // Captured before a wiped state folder, replayed to the new one.
        let before = made_at - STATE_CLOCK_SLACK_MS - 1;
        assert!(matches!(
            judge(DownTopic::Cmd, &signed_at(before, cmd.clone()), false, &ctx),
            DownAction::Refuse { answer: Up::Reply(r), .. }
                if matches!(&r.result, CommandResult::Err(e) if e.contains("before this site's state"))
        ));
        assert!(matches!(
            judge(
                DownTopic::Cmd,
                &signed_at(before, order.clone()),
                false,
                &ctx
            ),
            DownAction::Refuse {
                answer: Up::Order(OrderResult {
                    outcome: OrderOutcome::Pending(_),
                    ..
                }),
                ..
            }
        ));
        // Signed since (within the clock slack): taken.
        let since = made_at - STATE_CLOCK_SLACK_MS + 1;
        assert!(matches!(
            judge(DownTopic::Cmd, &signed_at(since, cmd), false, &ctx),
            DownAction::RunCommand(_)
        ));
        assert!(matches!(
            judge(DownTopic::Cmd, &signed_at(since, order), false, &ctx),
            DownAction::TakeOrder(_)
        ));
    }

    #[test]
    fn a_floor_binds_to_this_box_s_key_and_holds_sets_and_commands_below_it() {
        let me = SigningKey::from_bytes(&[8u8; 32]);
        let floor_for = |k: &SigningKey| {
            signed_for_s1(Down::Floor(Floor {
                site_key: k.verifying_key().to_bytes().to_vec(),
                plans_version: 7,
                routers_version: 0,
                issued_ms: 500,
            }))
        };
        assert!(matches!(
            judge_at(DownTopic::Cmd, &floor_for(&me), false, (0, "")),
            DownAction::RaiseFloor(f) if f.plans_version == 7
        ));
        assert!(matches!(
            judge_at(DownTopic::Cmd, &floor_for(&SigningKey::from_bytes(&[9u8; 32])), false, (0, "")),
            DownAction::Ignore(r) if r.contains("another key")
        ));
        let pk = key().verifying_key();
        let floor = FloorInForce {
            plans_version: 7,
            routers_version: 0,
            issued_ms: 500,
        };
        let ctx = context(&pk, &me, 1000, 0, floor);
        assert!(matches!(
            judge(DownTopic::Plans, &plans(6, "s1"), true, &ctx),
            DownAction::Refuse { reason, .. } if reason.contains("floor")
        ));
        assert!(matches!(
            judge(DownTopic::Plans, &plans(7, "s1"), false, &ctx),
            DownAction::ApplyPlans { .. }
        ));
        assert!(matches!(
            judge(DownTopic::Cmd, &reconcile("s1", 499), false, &ctx),
            DownAction::Refuse { .. }
        ));
    }

    #[test]
    fn garbage_and_misplaced_messages_are_only_logged() {
        assert!(matches!(
            judge_at(DownTopic::Ack, b"\x01garbage", false, (0, "")),
            DownAction::Ignore(_)
        ));
        assert!(matches!(
            judge_at(DownTopic::Cmd, &plans(5, "s1"), false, (0, "")),
            DownAction::Ignore(_)
        ));
        let mut ack = Envelope::new(
            "a",
            "s1",
            0,
            Down::Ack(Ack {
                msg_ids: vec!["sale-1".into()],
            }),
        );
        assert!(
            matches!(
                judge_at(DownTopic::Ack, &ack.encode(), false, (0, "")),
                DownAction::Ignore(_)
            ),
            "unsigned"
        );
        sign(&mut ack, &key());
        assert_eq!(
            judge_at(DownTopic::Ack, &ack.encode(), false, (0, "")),
            DownAction::Ack(vec!["sale-1".into()])
        );
    }

    #[test]
    fn a_signed_message_addressed_to_another_site_is_ignored() {
        // Site s2's ack (or command, or plan set), validly signed, replayed to s1.
        let mut ack = Envelope::new(
            "a",
            "s2",
            0,
            Down::Ack(Ack {
                msg_ids: vec!["sale-1".into()],
            }),
        );
        sign(&mut ack, &key());
        assert!(matches!(
            judge_at(DownTopic::Ack, &ack.encode(), false, (0, "")),
            DownAction::Ignore(r) if r.contains("addressed to \"s2\"")
        ));
        assert!(matches!(
            judge_at(DownTopic::Cmd, &reconcile("s2", 0), false, (0, "")),
            DownAction::Ignore(_)
        ));
        // The fleet set must say `*`, a site's own set its site.
        assert!(matches!(
            judge_at(DownTopic::FleetPlans, &plans(5, "s1"), false, (0, "")),
            DownAction::Ignore(_)
        ));
    }

    #[test]
    fn a_router_password_opens_only_when_sealed_to_this_site() {
        let me = SigningKey::from_bytes(&[8u8; 32]);
        let other = SigningKey::from_bytes(&[9u8; 32]);
        let routers = |to: &SigningKey| {
            signed_for_s1(Down::Routers(RouterSet {
                version: 3,
                target: "s1".into(),
                routers: vec![sync_proto::messages::RouterSpec {
                    name: "main".into(),
                    password_sealed: Some(
                        sync_proto::seal::seal_to_site(&to.verifying_key(), "pw1").unwrap(),
                    ),
                    ..Default::default()
                }],
            }))
        };
        match judge_at(DownTopic::Routers, &routers(&me), false, (0, "")) {
            DownAction::ApplyRouters { passwords, .. } => {
                assert_eq!(passwords[0].as_ref().map(|p| p.expose()), Some("pw1"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            judge_at(DownTopic::Routers, &routers(&other), false, (0, "")),
            DownAction::Refuse { reason, .. } if reason.contains("another site")
        ));
    }
}
