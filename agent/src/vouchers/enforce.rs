//! Expiry and quota policy: a pure function from what the store knows about a
//! voucher and what the router shows now, to what to record and do. Validity and
//! first-login times come from the agent's clock and records, not router scripts.
//! The async loop that applies it is in `enforce_run.rs`.

use firmware_config::plans::ExpiryAction;
use firmware_config::EnforcementConfig;

use crate::store::{ActionKind, Level, Sale, SaleState, Usage};
use routeros::{ActiveSession, HotspotUser};

pub use super::enforce_run::{Enforcer, PassReport};

/// Why a voucher is over. The store keeps [`EndReason::as_str`] in `sales.end_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Its data limit is used up and its plan has no fair-use profile.
    Data,
    /// Its validity (from first login or from the sale) is over.
    Validity,
    /// Its time limit is used up (the router stops it itself; the agent records it).
    Time,
    /// A pool voucher nobody bought was used: its code leaked or was guessed.
    Unsold,
    /// A pool voucher was not on the router any more (reconcile dropped it).
    MissingOnRouter,
    /// The operator removed its router user (`users remove`).
    RemovedByOperator,
}

impl EndReason {
    /// The text stored in `sales.end_reason` and shown by `voucher list`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Data => "data",
            EndReason::Validity => "validity",
            EndReason::Time => "time",
            EndReason::Unsold => "unsold",
            EndReason::MissingOnRouter => "missing on router",
            EndReason::RemovedByOperator => "removed by operator",
        }
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why enforcement queues an action on the router. The store keeps its text
/// (`Display`) as the action's reason, and `user_removed` events quote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionReason {
    /// An unsold pool voucher has a session.
    UnsoldInUse,
    /// The voucher ended earlier and someone is still on it; the reason as stored
    /// (older rows or other writers may hold any text), if any.
    Ended(Option<String>),
    /// The validity is over.
    ValidityOver,
    /// The data is used up; the plan moves it to its fair-use profile.
    FairUse,
    /// The data is used up and there is no fair-use profile.
    DataUsedUp,
}

impl std::fmt::Display for ActionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActionReason::UnsoldInUse => f.write_str("unsold pool voucher in use"),
            ActionReason::Ended(r) => write!(f, "voucher ended ({})", r.as_deref().unwrap_or("?")),
            ActionReason::ValidityOver => f.write_str("validity over"),
            ActionReason::FairUse => f.write_str("data used up: fair use"),
            ActionReason::DataUsedUp => f.write_str("data used up"),
        }
    }
}

/// What one voucher needs, as decided by [`decide`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    pub usage: Option<Usage>,
    pub first_login_ms: Option<i64>,
    /// The voucher is over, with the reason.
    pub ended: Option<EndReason>,
    pub data_alert: bool,
    pub fair_use: bool,
    /// (what, argument, why).
    pub actions: Vec<(ActionKind, Option<String>, ActionReason)>,
    /// (level, kind, message).
    pub events: Vec<(Level, &'static str, String)>,
}

/// Bytes and seconds a user has used: its counters over finished sessions plus its
/// live sessions'. The counters come from the router, so the sums saturate: a
/// counter at the top of the range reads as "all used", never wraps to little.
pub fn usage_of(user: &HotspotUser, sessions: &[&ActiveSession]) -> (u64, u64) {
    sessions.iter().fold(
        (user.bytes_total(), user.uptime.as_secs()),
        |(bytes, uptime), s| {
            (
                bytes.saturating_add(s.bytes_in).saturating_add(s.bytes_out),
                uptime.saturating_add(s.uptime.as_secs()),
            )
        },
    )
}

/// [`decide_at`] on a clock taken as right.
pub fn decide(
    sale: &Sale,
    user: Option<&HotspotUser>,
    sessions: &[&ActiveSession],
    now_ms: i64,
    cfg: &EnforcementConfig,
) -> Decision {
    decide_at(sale, user, sessions, now_ms, true, cfg)
}

/// Decides for one of our vouchers. `user` is its router user (if the router has
/// it), `sessions` its active sessions, `now_ms` the agent's clock and
/// `clock_trusted` whether it may be believed (`vouchers::clock`): while it may
/// not, no first login is recorded and nothing expires by validity.
// Long on purpose: the whole quota and validity policy for one session as one pure function, its cases in the order they take precedence; split, the precedence would no longer read top to bottom.
pub fn decide_at(
    sale: &Sale,
    user: Option<&HotspotUser>,
    sessions: &[&ActiveSession],
    now_ms: i64,
    clock_trusted: bool,
    cfg: &EnforcementConfig,
) -> Decision {
    let mut d = Decision::default();
    let Some(user) = user else { return d };
    let online = !sessions.is_empty();

    // A pool voucher nobody bought is in use: its code leaked or was guessed.
    if sale.state == SaleState::PoolReady {
        if online && sale.ended_at_ms.is_none() {
            d.actions
                .push((ActionKind::Disconnect, None, ActionReason::UnsoldInUse));
            // Removed, not disabled: the row leaves the pool, so nothing may keep it on the router.
            d.actions
                .push((ActionKind::Remove, None, ActionReason::UnsoldInUse));
            d.ended = Some(EndReason::Unsold);
            d.events.push((
                Level::Alert,
                "pool_misuse",
                format!(
                    "unsold pool voucher {} was used; removed from the router",
                    sale.code
                ),
            ));
        }
        return d;
    }
    if !sale.state.on_router() {
        return d;
    }

    // User counters are cumulative over finished sessions; the live session's
    // counters are added so the quota bites during the session, not after it.
    let (bytes, uptime) = usage_of(user, sessions);
    let mut first_login = sale.first_login_ms;
    if first_login.is_none() && clock_trusted && (online || bytes > 0 || uptime > 0) {
        first_login = Some(now_ms);
        d.first_login_ms = first_login;
    }
    if bytes != sale.bytes_used || uptime != sale.uptime_s || online {
        d.usage = Some(Usage {
            sale_id: sale.id,
            bytes_used: bytes,
            uptime_s: uptime,
            seen_now: online,
            first_login_ms: d.first_login_ms,
        });
    }

    if sale.ended_at_ms.is_some() {
        // Over already: make sure nobody is still on (unless it is fair use).
        if online && !sale.fair_use {
            d.actions.push((
                ActionKind::Disconnect,
                None,
                ActionReason::Ended(sale.end_reason.clone()),
            ));
        }
        return d;
    }

    // Validity: wall-clock from first login or from the sale.
    let start = if sale.validity_from == "sale" {
        sale.sold_at_ms
    } else {
        first_login
    };
    if let (Some(v), Some(start), true) = (sale.validity_s, start, clock_trusted) {
        if now_ms >= crate::store::validity_end_ms(start, v) {
            d.ended = Some(EndReason::Validity);
            d.actions
                .push((ActionKind::Disconnect, None, ActionReason::ValidityOver));
            let kind = match cfg.on_expiry {
                ExpiryAction::Disable => ActionKind::Disable,
                ExpiryAction::Remove => ActionKind::Remove,
            };
            d.actions.push((kind, None, ActionReason::ValidityOver));
            d.events.push((
                Level::Info,
                "expired",
                format!("voucher {} validity over", sale.code),
            ));
            return d;
        }
    }

    if let Some(limit) = sale.data_limit_bytes.filter(|l| *l > 0) {
        if bytes >= limit && !sale.fair_use {
            match &sale.fair_use_profile {
                Some(profile) => {
                    d.fair_use = true;
                    d.actions.push((
                        ActionKind::SetProfile,
                        Some(profile.clone()),
                        ActionReason::FairUse,
                    ));
                    // The new rate applies from the next login; the client logs
                    // straight back in (cookie) at the fair-use speed.
                    if online {
                        d.actions
                            .push((ActionKind::Disconnect, None, ActionReason::FairUse));
                    }
                    d.events.push((
                        Level::Info,
                        "fair_use",
                        format!("voucher {} used its data; switched to {profile}", sale.code),
                    ));
                }
                None => {
                    d.ended = Some(EndReason::Data);
                    d.actions
                        .push((ActionKind::Disconnect, None, ActionReason::DataUsedUp));
                    d.actions
                        .push((ActionKind::Disable, None, ActionReason::DataUsedUp));
                    d.events.push((
                        Level::Info,
                        "data_exhausted",
                        format!(
                            "voucher {} used its data; disconnected and disabled",
                            sale.code
                        ),
                    ));
                }
            }
            return d;
        }
        if !sale.data_alerted
            && bytes.saturating_mul(100) >= limit.saturating_mul(cfg.data_alert_percent as u64)
        {
            d.data_alert = true;
            d.events.push((
                Level::Alert,
                "data_alert",
                format!(
                    "voucher {} has used {}% of its data",
                    sale.code,
                    bytes.saturating_mul(100) / limit
                ),
            ));
        }
    }

    // Time: the router enforces limit-uptime itself; the agent records it.
    if let Some(limit) = sale.time_limit_s.filter(|l| *l > 0) {
        if uptime >= limit {
            d.ended = Some(EndReason::Time);
            d.events.push((
                Level::Info,
                "time_used",
                format!("voucher {} used its time", sale.code),
            ));
        }
    }
    d
}

#[cfg(test)]
#[path = "enforce_tests.rs"]
mod tests;

/// Whether `active` logged-in users start (`Some(true)`) or end (`Some(false)`) a
/// "user limit approaching" episode, or neither (`None`). It starts at
/// `alert_percent` of `limit` and ends only 10 points below it, so a count that
/// hovers at the line does not alert on every pass.
pub fn user_limit_episode(active: usize, limit: u32, alert_percent: u8) -> Option<bool> {
    let used = (active as u64).saturating_mul(100);
    let limit = u64::from(limit);
    let on = limit.saturating_mul(u64::from(alert_percent));
    let off = limit.saturating_mul(u64::from(alert_percent.saturating_sub(10)));
    if used >= on {
        Some(true)
    } else if used < off {
        Some(false)
    } else {
        None
    }
}
