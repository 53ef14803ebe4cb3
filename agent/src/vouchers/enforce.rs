//! Expiry and quota policy: a pure function from what the store knows about a
//! voucher and what the router shows now, to what to record and do. Validity and
//! first-login times come from the agent's clock and records, not router scripts.
//! The async loop that applies it is in `enforce_run.rs`.

use firmware_config::plans::ExpiryAction;
use firmware_config::EnforcementConfig;

use crate::store::{ActionKind, Level, Sale, SaleState, Usage};
use routeros::{ActiveSession, HotspotUser};

pub use super::enforce_run::{Enforcer, PassReport};

/// What one voucher needs, as decided by [`decide`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    pub usage: Option<Usage>,
    pub first_login_ms: Option<i64>,
    /// The voucher is over, with the reason (`data`, `validity`, `time`, `unsold`).
    pub ended: Option<String>,
    pub data_alert: bool,
    pub fair_use: bool,
    /// (what, argument, why).
    pub actions: Vec<(ActionKind, Option<String>, String)>,
    /// (level, kind, message).
    pub events: Vec<(Level, &'static str, String)>,
}

/// Decides for one of our vouchers. `user` is its router user (if the router has
/// it), `sessions` its active sessions, `now_ms` the agent's clock.
pub fn decide(
    sale: &Sale,
    user: Option<&HotspotUser>,
    sessions: &[&ActiveSession],
    now_ms: i64,
    cfg: &EnforcementConfig,
) -> Decision {
    let mut d = Decision::default();
    let Some(user) = user else { return d };
    let online = !sessions.is_empty();

    // A pool voucher nobody bought is in use: its code leaked or was guessed.
    if sale.state == SaleState::PoolReady {
        if online && sale.ended_at_ms.is_none() {
            d.actions.push((
                ActionKind::Disconnect,
                None,
                "unsold pool voucher in use".into(),
            ));
            // Removed, not disabled: the row leaves the pool, so nothing may keep it on the router.
            d.actions.push((
                ActionKind::Remove,
                None,
                "unsold pool voucher in use".into(),
            ));
            d.ended = Some("unsold".into());
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
    let bytes = user.bytes_total()
        + sessions
            .iter()
            .map(|s| s.bytes_in + s.bytes_out)
            .sum::<u64>();
    let uptime = user.uptime.as_secs() + sessions.iter().map(|s| s.uptime.as_secs()).sum::<u64>();
    let mut first_login = sale.first_login_ms;
    if first_login.is_none() && (online || bytes > 0 || uptime > 0) {
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
                format!(
                    "voucher ended ({})",
                    sale.end_reason.as_deref().unwrap_or("?")
                ),
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
    if let (Some(v), Some(start)) = (sale.validity_s, start) {
        if now_ms >= start + v as i64 * 1000 {
            d.ended = Some("validity".into());
            d.actions
                .push((ActionKind::Disconnect, None, "validity over".into()));
            let kind = match cfg.on_expiry {
                ExpiryAction::Disable => ActionKind::Disable,
                ExpiryAction::Remove => ActionKind::Remove,
            };
            d.actions.push((kind, None, "validity over".into()));
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
                        "data used up: fair use".into(),
                    ));
                    // The new rate applies from the next login; the client logs
                    // straight back in (cookie) at the fair-use speed.
                    if online {
                        d.actions.push((
                            ActionKind::Disconnect,
                            None,
                            "data used up: fair use".into(),
                        ));
                    }
                    d.events.push((
                        Level::Info,
                        "fair_use",
                        format!("voucher {} used its data; switched to {profile}", sale.code),
                    ));
                }
                None => {
                    d.ended = Some("data".into());
                    d.actions
                        .push((ActionKind::Disconnect, None, "data used up".into()));
                    d.actions
                        .push((ActionKind::Disable, None, "data used up".into()));
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
            d.ended = Some("time".into());
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
