//! The enforcement loop: polls users (counters only) and active sessions, applies
//! the policy of `enforce.rs`, commits what it learnt and the actions it decided in
//! one transaction, then carries the actions out. Actions stay in the store until
//! the router confirms them, so an outage delays them and never drops them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::store::{now_ms, ActionKind, Level, NewAction, PassWrites, PendingAction, SaleState};
use routeros::{ActiveSession, HotspotApi, RouterError, UserQuery, UserUpdate, Word};

use super::clock::{self, ClockJudge, ClockReading, RouterMark, RouterTime};
use super::enforce::{decide_at, user_limit_episode};
use super::plans::{comment_prefix, sale_id_from_comment};
use super::{VoucherError, Vouchers};

/// What one pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassReport {
    pub router_ok: bool,
    pub users: usize,
    pub sessions: usize,
    pub actions_queued: usize,
    pub actions_done: usize,
    pub actions_pending: usize,
    /// Time spent deciding (pure policy), microseconds.
    pub policy_us: u64,
    /// Time spent reading and committing the store, microseconds.
    pub db_us: u64,
    /// Whether the wall clock was believed this pass (`vouchers::clock`).
    pub clock_trusted: bool,
    /// Why not: validity was not judged and no first login recorded.
    pub clock_untrusted: Option<String>,
}

/// While the clock is trusted, the router's uptime is marked this often (a mark
/// from before a router restart measures nothing).
const ROUTER_MARK_EVERY: Duration = Duration::from_secs(600);

/// The clock's judge, the monotonic start and when the router was last asked.
struct ClockWatch {
    judge: ClockJudge,
    started: Instant,
    router_asked: Option<Instant>,
}

/// Runs enforcement passes.
pub struct Enforcer<R> {
    vouchers: Vouchers<R>,
    clock: std::sync::Mutex<ClockWatch>,
    /// The system's word on NTP (tests pass their own).
    synced: fn() -> Option<bool>,
}

impl<R: HotspotApi + Clone + 'static> Enforcer<R> {
    /// An enforcer over a seller's store and router.
    pub fn new(vouchers: Vouchers<R>) -> Enforcer<R> {
        Enforcer::with_clock(vouchers, clock::system_synced)
    }

    /// An enforcer that asks `synced` whether the clock is synchronised.
    pub fn with_clock(vouchers: Vouchers<R>, synced: fn() -> Option<bool>) -> Enforcer<R> {
        // An unreadable checkpoint only loses the floor; the step check still runs.
        let checkpoint = vouchers.store().clock_checkpoint().unwrap_or(None);
        let mark = vouchers
            .store()
            .clock_state()
            .unwrap_or(None)
            .and_then(|s| s.router_mark)
            .map(|(wall_ms, uptime_ms)| RouterMark { wall_ms, uptime_ms });
        Enforcer {
            vouchers,
            clock: std::sync::Mutex::new(ClockWatch {
                judge: ClockJudge::new(checkpoint, 0).with_router_mark(mark),
                started: Instant::now(),
                router_asked: None,
            }),
            synced,
        }
    }

    fn watch(&self) -> std::sync::MutexGuard<'_, ClockWatch> {
        self.clock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Judges the wall clock now, with the router as a second source while it is
    /// untrusted (and, while trusted, to mark the router's uptime now and then);
    /// keeps a trusted time as the checkpoint and records the judgement (an episode
    /// of an untrusted clock is reported once, when it starts and when it ends).
    async fn read_clock(&self) -> Result<ClockReading, VoucherError> {
        let (reading, ask) = {
            let mut w = self.watch();
            let mono = i64::try_from(w.started.elapsed().as_millis()).unwrap_or(i64::MAX);
            let reading = w.judge.observe(now_ms(), mono, (self.synced)());
            let stale = w
                .router_asked
                .is_none_or(|t| t.elapsed() >= ROUTER_MARK_EVERY);
            let ask = !reading.trusted || stale;
            (reading, ask)
        };
        let reading = if ask {
            let router = self.router_time().await;
            let mut w = self.watch();
            w.router_asked = Some(Instant::now());
            match router {
                Ok(rt) => w.judge.corroborate(reading, &rt),
                Err(e) => ClockReading {
                    why: reading
                        .why
                        .map(|why| format!("{why}; the router's time could not be read: {e}")),
                    ..reading
                },
            }
        } else {
            reading
        };
        let store = self.vouchers.store();
        if reading.trusted {
            store.set_clock_checkpoint(reading.now_ms)?;
        }
        let mark = self.watch().judge.router_mark();
        store.set_clock_state(&crate::store::ClockState {
            trusted: reading.trusted,
            source: reading.source.as_str().to_string(),
            detail: reading.why.clone().unwrap_or_default(),
            at_ms: reading.now_ms,
            router_mark: mark.map(|m| (m.wall_ms, m.uptime_ms)),
        })?;
        Ok(reading)
    }

    /// Reports a "user limit approaching" episode once when it starts and once when
    /// it ends (`[enforcement] user_limit`, `user_limit_alert_percent`).
    fn watch_user_limit(&self, active: usize) -> Result<(), VoucherError> {
        let cfg = &self.vouchers.settings().enforcement;
        let Some(limit) = cfg.user_limit else {
            return Ok(());
        };
        let router = &self.vouchers.settings().router_name;
        let store = self.vouchers.store();
        match user_limit_episode(active, limit, cfg.user_limit_alert_percent) {
            Some(true) => {
                let text = format!(
                    "{router}: {active} of {limit} hotspot users logged in; at the limit new customers cannot log in"
                );
                store.set_episode(
                    "user_limit",
                    true,
                    (Level::Alert, "user_limit_approaching", &text),
                    now_ms(),
                )?;
            }
            Some(false) => {
                let text = format!("{router}: {active} of {limit} hotspot users logged in");
                store.set_episode(
                    "user_limit",
                    false,
                    (Level::Warn, "user_limit_ok", &text),
                    now_ms(),
                )?;
            }
            None => {}
        }
        Ok(())
    }

    /// The router's uptime and its clock in UTC.
    async fn router_time(&self) -> Result<RouterTime, routeros::RouterError> {
        let router = self.vouchers.router();
        let uptime = router.resource().await?.uptime;
        let utc_ms = router.clock().await.ok().and_then(|c| c.utc_ms());
        Ok(RouterTime {
            utc_ms,
            uptime_ms: i64::try_from(uptime.as_millis()).unwrap_or(i64::MAX),
        })
    }

    /// One pass: retry waiting actions, poll, decide, commit, act.
    // Long on purpose: one enforcement pass in its order (read the router, decide, commit, act); the steps share the figures the pass reports.
    pub async fn pass_once(&self) -> Result<PassReport, VoucherError> {
        let v = &self.vouchers;
        let mut report = PassReport::default();
        let site = v.settings().site_id.clone();
        let query = UserQuery {
            comment_prefix: Some(comment_prefix(&site)),
            counters_only: true,
            ..UserQuery::default()
        };
        let polled = match v.router().users(&query).await {
            Ok(users) => v.router().active(None).await.map(|a| (users, a)),
            Err(e) => Err(e),
        };
        v.note_router(&polled);
        let (users, active) = match polled {
            Ok(p) => p,
            Err(e) => {
                v.store().record_event(
                    Level::Alert,
                    "router_unreachable",
                    Some(&v.settings().router_name),
                    &e.to_string(),
                    now_ms(),
                )?;
                report.actions_pending = v.store().pending_actions()?.len();
                return Ok(report);
            }
        };
        report.router_ok = true;
        report.users = users.len();
        report.sessions = active.len();
        self.watch_user_limit(active.len())?;

        let t = Instant::now();
        let sales = v.store().sales_in(&[
            SaleState::Provisioned,
            SaleState::Delivered,
            SaleState::PoolReady,
        ])?;
        let mut db = t.elapsed();

        // Judged before the policy's timer starts: it may ask the router.
        let clock = self.read_clock().await?;
        let t = Instant::now();
        report.clock_trusted = clock.trusted;
        report.clock_untrusted = clock.why.clone();
        let now = clock.now_ms;
        let day = now.div_euclid(86_400_000);
        let by_id: HashMap<i64, &routeros::HotspotUser> = users
            .iter()
            .filter_map(|u| sale_id_from_comment(&site, u.comment_text()).map(|id| (id, u)))
            .collect();
        let mut sessions: HashMap<&[u8], Vec<&ActiveSession>> = HashMap::new();
        for a in &active {
            sessions.entry(a.user.as_bytes()).or_default().push(a);
        }
        let mut w = PassWrites::default();
        let cfg = &v.settings().enforcement;
        for sale in &sales {
            // Our user for this row: our comment with this sale id and the same name.
            let user = by_id.get(&sale.id).copied().filter(|u| u.name == sale.code);
            let s = sessions
                .get(sale.code.as_bytes())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let d = decide_at(sale, user, s, now, clock.trusted, cfg);
            match (d.usage, d.first_login_ms) {
                (Some(u), _) => w.usage.push(u),
                (None, Some(t)) => w.first_logins.push((sale.id, t)),
                (None, None) => {}
            }
            if let Some(r) = d.ended {
                w.ended.push((sale.id, r.as_str().to_string()));
            }
            if d.data_alert {
                w.data_alerted.push(sale.id);
            }
            if d.fair_use {
                w.fair_use.push(sale.id);
            }
            for (kind, arg, reason) in d.actions {
                w.actions.push(NewAction {
                    sale_id: sale.id,
                    code: sale.code.clone(),
                    kind,
                    arg,
                    reason: reason.to_string(),
                });
            }
            for (level, kind, message) in d.events {
                w.events
                    .push((level, kind.to_string(), Some(sale.code.clone()), message));
            }
        }
        report.policy_us = t.elapsed().as_micros() as u64;
        report.actions_queued = w.actions.len();

        let t = Instant::now();
        let w = v
            .on_store(move |store| store.commit_pass(&w, now, day).map(|()| w))
            .await?;
        db += t.elapsed();
        report.db_us = db.as_micros() as u64;

        if !w.ended.is_empty() {
            // An ended pool voucher left the pool: keep `can_sell`'s counts true.
            v.refresh_pool_cache()?;
        }
        let (done, pending) = self.run_actions().await?;
        report.actions_done = done;
        report.actions_pending = pending;
        Ok(report)
    }

    /// Carries out pending actions in order; stops at the first link failure (the
    /// rest wait for the next pass). Returns (done, still pending).
    pub async fn run_actions(&self) -> Result<(usize, usize), VoucherError> {
        let v = &self.vouchers;
        let pending = v.store().pending_actions()?;
        let total = pending.len();
        let mut done = 0;
        for a in pending {
            match self.perform(&a).await {
                Ok(note) => {
                    v.store().action_done(a.id, note.as_deref(), now_ms())?;
                    done += 1;
                }
                Err(e) => {
                    v.store().action_failed(a.id, &e.to_string())?;
                    if e.is_transient() {
                        v.note_router::<()>(&Err(e));
                        break;
                    }
                }
            }
        }
        Ok((done, total - done))
    }

    async fn user_id(&self, a: &PendingAction) -> Result<Option<String>, RouterError> {
        let v = &self.vouchers;
        let q = UserQuery {
            name: Some(Word::from(&a.code)),
            ..UserQuery::default()
        };
        let users = v.router().users(&q).await?;
        // Never touch a user that does not carry this sale's comment.
        Ok(users
            .into_iter()
            .find(|u| {
                sale_id_from_comment(&v.settings().site_id, u.comment_text()) == Some(a.sale_id)
            })
            .map(|u| u.id))
    }

    async fn perform(&self, a: &PendingAction) -> Result<Option<String>, RouterError> {
        let r = self.vouchers.router();
        match a.kind {
            ActionKind::Disconnect => {
                for s in r.active(Some(&Word::from(&a.code))).await? {
                    match r.disconnect(&s.id).await {
                        Err(e) if e.is_no_such_item() => {}
                        other => other?,
                    }
                }
                Ok(None)
            }
            kind => {
                let Some(id) = self.user_id(a).await? else {
                    return Ok(Some("the user is no longer on the router".into()));
                };
                let result = match kind {
                    ActionKind::Disable => {
                        r.update_user(
                            &id,
                            &UserUpdate {
                                disabled: Some(true),
                                ..UserUpdate::default()
                            },
                        )
                        .await
                    }
                    ActionKind::SetProfile => {
                        r.update_user(
                            &id,
                            &UserUpdate {
                                profile: a.arg.clone(),
                                ..UserUpdate::default()
                            },
                        )
                        .await
                    }
                    _ => {
                        let res = r.remove_user(&id).await;
                        if res.is_ok() {
                            let _ = self.vouchers.store().record_event(
                                Level::Info,
                                "user_removed",
                                Some(&a.code),
                                &format!("removed: {}", a.reason),
                                now_ms(),
                            );
                        }
                        res
                    }
                };
                match result {
                    Err(e) if e.is_no_such_item() => {
                        Ok(Some("the user is no longer on the router".into()))
                    }
                    other => other.map(|_| None),
                }
            }
        }
    }

    /// Passes every `interval` until cancelled.
    pub async fn run(self, interval: Duration, cancel: CancellationToken) {
        loop {
            match self.pass_once().await {
                Ok(r) => tracing::debug!(
                    users = r.users,
                    sessions = r.sessions,
                    queued = r.actions_queued,
                    pending = r.actions_pending,
                    "enforcement pass"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "enforcement pass failed; retrying next round")
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}
