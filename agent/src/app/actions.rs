//! What the agent does for the central office: apply plan sets and router settings
//! that came down signed, run remote commands, report telemetry.

use std::sync::Mutex;
use std::time::Instant;

use firmware_config::Config;

use crate::app::profiles::{profile_changes, ProfileChange};
use crate::store::{now_ms, StoreError};
use crate::sync::{ActionError, AgentActions};
use crate::vouchers::{PlanBook, VoucherError, Vouchers};
use routeros::{
    HotspotApi, Router, RouterError, RouterSettings as ClientSettings, UserQuery, Word,
};
use sync_proto::convert;
use sync_proto::messages::{
    AppliedReport, CommandOutput, CommandResult, Order, OrderOutcome, PartialVouchers, PlanSet,
    ReconcileResult, RouterSet, RouterStatus, SiteCommand, Telemetry, UserInfo, UsersPage,
};

/// The agent's side of the central link.
pub struct SiteActions<R> {
    vouchers: Vouchers<R>,
    config: Mutex<Config>,
    started: Instant,
    on_plans: Mutex<Option<PlansHook>>,
    /// A plan set was applied by this instance (the hook may have missed it).
    plans_pushed: std::sync::atomic::AtomicBool,
}

/// Why a remote command failed; the text goes back to the central office as the
/// command's error (`CommandResult::Err`).
#[derive(Debug, thiserror::Error)]
enum CommandError {
    /// The router failed or refused an operation (its message says what to check).
    #[error(transparent)]
    Router(#[from] RouterError),
    /// Selling or reconciling failed.
    #[error(transparent)]
    Vouchers(#[from] VoucherError),
    /// A sale could not be read back from the store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `CreateVouchers` asked for none or for too many.
    #[error("count {0}: ask for 1 to 500 vouchers")]
    Count(u32),
    /// No router user has this name.
    #[error("no hotspot user {0:?} on the router")]
    NoSuchUser(String),
    /// The user's comment is not this agent's: the agent never touches it.
    #[error("{0} was not created by this agent; it is left alone")]
    NotOurs(String),
}

/// Called with the configuration in force after a plan set is applied (the kiosk's prices).
pub type PlansHook = Box<dyn Fn(&Config) + Send + Sync>;

impl<R: HotspotApi + Clone + 'static> SiteActions<R> {
    /// Actions over the running voucher layer; `config` is the configuration in force.
    pub fn new(vouchers: Vouchers<R>, config: Config) -> SiteActions<R> {
        SiteActions {
            vouchers,
            config: Mutex::new(config),
            started: Instant::now(),
            on_plans: Mutex::new(None),
            plans_pushed: Default::default(),
        }
    }

    /// Sets what to tell when plans change (the kiosk, once it runs). When a plan
    /// set was applied before the hook was set, the hook hears of it at once, so
    /// what the screen shows is what the seller charges.
    pub fn on_plans(&self, hook: PlansHook) {
        let mut slot = self.on_plans.lock().unwrap_or_else(|e| e.into_inner());
        if self.plans_pushed.load(std::sync::atomic::Ordering::SeqCst) {
            hook(&self.config());
        }
        *slot = Some(hook);
    }

    fn config(&self) -> Config {
        self.config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn sync_profiles(
        &self,
        profiles: &[firmware_config::ProfileConfig],
    ) -> Result<Vec<String>, RouterError> {
        sync_profiles(self.vouchers.router(), profiles).await
    }
}

/// Creates or updates the configured hotspot user profiles on the router; returns
/// what it did, one line per change.
pub async fn sync_profiles<R: HotspotApi>(
    router: &R,
    profiles: &[firmware_config::ProfileConfig],
) -> Result<Vec<String>, RouterError> {
    let have = router.profiles().await?;
    let mut done = Vec::new();
    for change in profile_changes(profiles, &have) {
        match change {
            ProfileChange::Create(p) => {
                router.add_profile(&p).await?;
                done.push(format!("profile {} created", p.name));
            }
            ProfileChange::Update(id, p, diff) => {
                router.set_profile(&id, &p).await?;
                done.push(format!("profile {} updated: {}", p.name, diff.join(", ")));
            }
            ProfileChange::Same(_) => {}
        }
    }
    Ok(done)
}

impl<R: HotspotApi + Clone + 'static> AgentActions for SiteActions<R> {
    async fn apply_plans(&self, plans: PlanSet) -> Result<AppliedReport, ActionError> {
        let config = super::pushed_plans::overlay(&self.config(), &plans);
        // The same validation as a config file: a plan set that names a missing
        // profile or has no limits is refused, and the plans in force stay.
        config.validate(&super::pushed_plans::origin(plans.version))?;
        let mut report = AppliedReport::default();
        match self.sync_profiles(&config.profiles).await {
            Ok(done) => report.actions.extend(done),
            Err(e) => report.warnings.push(format!(
                "profiles not synced to the router ({e}); run `hotspot-agent profiles sync` when it is back"
            )),
        }
        // Kept in the store (version-checked there), so the next start and every CLI
        // command on this state folder sell this set, not the config file's.
        let body = postcard::to_stdvec(&plans).map_err(|e| {
            ActionError::Vouchers(VoucherError::Store(StoreError::Conflict {
                what: format!("plan set not encodable: {e}"),
            }))
        })?;
        self.vouchers
            .store()
            .save_pushed_plans(plans.version, &body, now_ms())
            .map_err(VoucherError::from)?;
        self.vouchers.set_plans(
            PlanBook::from_config(&config),
            &format!("central v{}", plans.version),
        )?;
        report.actions.push(format!(
            "plans in force: {}",
            config
                .plans
                .iter()
                .map(|p| format!("{} ({})", p.id, p.price))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        // In force before the hook is looked at: a hook set meanwhile (`on_plans`)
        // then sees this set, and one set before is called here.
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = config.clone();
        self.plans_pushed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(hook) = self
            .on_plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            hook(&config);
            report.actions.push("kiosk prices updated".into());
        }
        Ok(report)
    }

    async fn apply_routers(
        &self,
        routers: RouterSet,
        passwords: Vec<Option<firmware_config::Secret>>,
    ) -> Result<AppliedReport, ActionError> {
        let config = self.config();
        let mut report = AppliedReport::default();
        let mut passwords = passwords.into_iter();
        let pushed: Vec<_> = routers
            .routers
            .iter()
            .map(|spec| {
                let base = config.routers.iter().find(|r| r.name == spec.name);
                convert::router_config(spec, passwords.next().flatten(), base)
            })
            .collect();
        // Checked exactly as the config file's [[router]] entries are (names
        // unique, a user name, a plain host…): settings that would stop the next
        // start are refused now, and the central office hears why.
        let mut checked = config.clone();
        checked.routers = pushed.clone();
        checked.validate(&format!("router settings version {}", routers.version))?;
        for (i, (spec, rc)) in routers.routers.iter().zip(&pushed).enumerate() {
            let settings = ClientSettings::from_config(rc, i)?;
            match Router::connect(settings).await {
                Ok(r) => report.actions.push(format!(
                    "router {} reachable: {} via {}",
                    spec.name,
                    r.info().version_text,
                    r.info().transport.as_str()
                )),
                Err(e) => report.warnings.push(format!("router {}: {e}", spec.name)),
            }
        }
        super::routers_file::save(&config.agent.state_dir, routers.version, &pushed)?;
        report.actions.push(format!(
            "router settings version {} stored in {}; they replace the config file's routers at the next start",
            routers.version,
            super::routers_file::path(&config.agent.state_dir).display()
        ));
        Ok(report)
    }

    async fn run_command(&self, command: SiteCommand) -> CommandResult {
        match self.command(None, command).await {
            Ok(out) => CommandResult::Ok(out),
            Err(e) => CommandResult::Err(e.to_string()),
        }
    }

    async fn run_request(&self, request_id: &str, command: SiteCommand) -> CommandResult {
        match self.command(Some(request_id), command).await {
            Ok(out) => CommandResult::Ok(out),
            Err(e) => CommandResult::Err(e.to_string()),
        }
    }

    async fn take_order(&self, order: Order) -> OrderOutcome {
        let key = format!("order:{}", order.order_id);
        let sold_before = match self.vouchers.store().sale_for_key(&key) {
            Ok(s) => s.is_some(),
            Err(e) => {
                return OrderOutcome::Pending(format!("the site cannot read its sales now: {e}"))
            }
        };
        if !sold_before {
            if let Ok(plan) = self.vouchers.plan(&order.plan_id) {
                if !order.currency.is_empty() && order.currency != plan.currency {
                    return OrderOutcome::Refused(format!(
                        "the order is in {}, plan {} is sold in {}",
                        order.currency, plan.id, plan.currency
                    ));
                }
            }
        }
        match self
            .vouchers
            .sell_keyed(&order.plan_id, &key, "order", Some(order.amount))
            .await
        {
            Ok(v) => {
                // The code is handed to the central office, which shows it to the customer.
                if let Err(e) = self.vouchers.mark_delivered(v.sale_id) {
                    tracing::warn!(sale_id = v.sale_id, error = %e, "order sale not marked delivered");
                }
                match self.vouchers.store().sale(v.sale_id) {
                    Ok(sale) => OrderOutcome::Sold(crate::sync::outbox::wire_sale(&sale)),
                    Err(e) => OrderOutcome::Pending(format!("sold, but not readable now: {e}")),
                }
            }
            Err(VoucherError::Pending { reason, .. }) => OrderOutcome::Pending(reason),
            Err(e) => OrderOutcome::Refused(e.to_string()),
        }
    }

    async fn telemetry(&self) -> Telemetry {
        let store = self.vouchers.store();
        let now = now_ms();
        let today = store
            .sale_stats(now.div_euclid(86_400_000) * 86_400_000)
            .map_err(|e| tracing::warn!(error = %e, "telemetry: cannot count today's sales"))
            .unwrap_or_default();
        // Asked now, so the state is the router's, not that of the last call made.
        let active = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            self.vouchers.router().active(None),
        )
        .await
        .unwrap_or_else(|_| {
            Err(RouterError::Closed {
                router: self.vouchers.settings().router_name.clone(),
            })
        });
        self.vouchers.note_router(&active);
        let router_state = match &active {
            Ok(_) => "up".to_string(),
            Err(e) if e.is_transient() => "down".to_string(),
            Err(e) => sync_proto::limits::clip(&format!("error: {e}"), 120),
        };
        Telemetry {
            sales_count_today: today.count,
            sales_amount_today: today.total,
            active_users: active
                .as_ref()
                .map(|a| u32::try_from(a.len()).unwrap_or(u32::MAX))
                .unwrap_or(0),
            credit: store.credit_balance().map(|c| c.max(0) as u64).unwrap_or(0),
            pool: self
                .vouchers
                .plans()
                .all()
                .filter(|p| p.pool > 0)
                .map(|p| {
                    (
                        p.id.clone(),
                        store.pool_counts(&p.id).map(|c| c.0).unwrap_or(0),
                    )
                })
                .collect(),
            routers: vec![(self.vouchers.settings().router_name.clone(), router_state)],
            cash_box: store.cash_box().map(|b| b.total).unwrap_or(0),
            agent_version: env!("CARGO_PKG_VERSION").into(),
            uptime_s: self.started.elapsed().as_secs(),
            clock: wire_clock(store.clock_state().unwrap_or(None)),
            ..Telemetry::default()
        }
    }
}

/// The clock's last judgement (the enforcement pass's) as the central office sees it;
/// before any judgement it is not trusted, and says so.
pub fn wire_clock(state: Option<crate::store::ClockState>) -> sync_proto::messages::ClockState {
    match state {
        Some(s) => sync_proto::messages::ClockState {
            trusted: s.trusted,
            source: s.source,
            detail: sync_proto::limits::clip(&s.detail, sync_proto::limits::MAX_TEXT),
        },
        None => sync_proto::messages::ClockState {
            trusted: false,
            source: String::new(),
            detail: "not judged yet: no enforcement pass has run".into(),
        },
    }
}

/// The users from `offset` on that fit one page of a reply
/// (`sync_proto::limits::PAGE_BUDGET`), and where the next page starts.
pub fn users_page(rows: Vec<UserInfo>, offset: u32) -> UsersPage {
    let total = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    let mut users = Vec::new();
    let mut size = 0;
    let mut next = offset as usize;
    for u in rows.into_iter().skip(offset as usize) {
        let n = postcard::to_stdvec(&u).map(|b| b.len()).unwrap_or(0);
        if size + n > sync_proto::limits::PAGE_BUDGET && !users.is_empty() {
            break;
        }
        size += n;
        users.push(u);
        next += 1;
    }
    UsersPage {
        users,
        total,
        next_offset: (next < total as usize).then_some(next as u32),
    }
}

impl<R: HotspotApi + Clone + 'static> SiteActions<R> {
    // Long on purpose: one match arm per remote command; each arm is the whole command.
    async fn command(
        &self,
        request_id: Option<&str>,
        command: SiteCommand,
    ) -> Result<CommandOutput, CommandError> {
        let router = self.vouchers.router();
        match command {
            SiteCommand::TestRouter { .. } => {
                let started = Instant::now();
                let status = match router.resource().await {
                    Ok(res) => RouterStatus {
                        name: self.vouchers.settings().router_name.clone(),
                        reachable: true,
                        version: res.version,
                        transport: router.transport().await.unwrap_or_default().into(),
                        detail: format!("answered in {} ms", started.elapsed().as_millis()),
                    },
                    Err(err) => RouterStatus {
                        name: self.vouchers.settings().router_name.clone(),
                        reachable: false,
                        detail: err.to_string(),
                        ..RouterStatus::default()
                    },
                };
                Ok(CommandOutput::Router(status))
            }
            SiteCommand::ListUsers {
                active,
                profile,
                offset,
                ..
            } => {
                let query = UserQuery {
                    profile,
                    ..UserQuery::default()
                };
                let users = router.users(&query).await?;
                let sessions = router.active(None).await?;
                let rows: Vec<UserInfo> = users
                    .into_iter()
                    .map(|u| UserInfo {
                        active: sessions.iter().any(|s| s.user == u.name),
                        uptime_s: u.uptime.as_secs(),
                        bytes_in: u.bytes_in,
                        bytes_out: u.bytes_out,
                        comment: u.comment.as_ref().map(Word::to_string).unwrap_or_default(),
                        profile: u.profile,
                        name: u.name.to_string(),
                    })
                    .filter(|u| active.is_none_or(|a| a == u.active))
                    .collect();
                Ok(CommandOutput::Users(users_page(rows, offset)))
            }
            SiteCommand::ListProfiles { .. } => {
                let profiles = router.profiles().await?;
                Ok(CommandOutput::Profiles(
                    profiles
                        .iter()
                        .map(|p| sync_proto::messages::ProfileSpec {
                            name: p.name.clone(),
                            rate_limit: p.rate_limit.clone(),
                            shared_users: p.shared_users,
                            session_timeout_s: p.session_timeout.map(|d| d.as_secs()),
                            idle_timeout_s: p.idle_timeout.map(|d| d.as_secs()),
                            keepalive_timeout_s: p.keepalive_timeout.map(|d| d.as_secs()),
                        })
                        .collect(),
                ))
            }
            SiteCommand::CreateVouchers { plan_id, count } => {
                if count == 0 || count > 500 {
                    return Err(CommandError::Count(count));
                }
                let mut sold = Vec::new();
                for i in 0..count {
                    // Keyed by the request id and the voucher's place in it: the
                    // same request again, even after a restart mid-loop, finds
                    // these sales instead of making new ones.
                    let made = match request_id {
                        Some(id) => {
                            let key = format!("req:{id}:{i}");
                            self.vouchers
                                .sell_keyed(&plan_id, &key, "remote", None)
                                .await
                        }
                        None => {
                            self.vouchers
                                .sell_from(&plan_id, None, "remote", true)
                                .await
                        }
                    };
                    let read = made.and_then(|v| Ok(self.vouchers.store().sale(v.sale_id)?));
                    match read {
                        Ok(sale) => sold.push(crate::sync::outbox::wire_sale(&sale)),
                        Err(e) if sold.is_empty() => return Err(e.into()),
                        // Those sold stay sold: the answer carries their codes.
                        Err(e) => {
                            return Ok(CommandOutput::VouchersPartly(PartialVouchers {
                                sold,
                                asked: count,
                                error: e.to_string(),
                            }))
                        }
                    }
                }
                Ok(CommandOutput::Vouchers(sold))
            }
            SiteCommand::DisconnectUser { username } => {
                let sessions = router.active(Some(&Word::from(&username))).await?;
                for s in &sessions {
                    router.disconnect(&s.id).await?;
                }
                Ok(CommandOutput::Done(format!(
                    "{} session(s) of {username} ended",
                    sessions.len()
                )))
            }
            SiteCommand::RemoveUser { username } => {
                let query = UserQuery {
                    name: Some(Word::from(&username)),
                    ..UserQuery::default()
                };
                let users = router.users(&query).await?;
                let Some(user) = users.first() else {
                    return Err(CommandError::NoSuchUser(username));
                };
                // Ours carry the whole `hsa:<site>:<sale id>`, as reconcile and
                // `users remove` read them; a comment that only starts so is not ours.
                let site = &self.vouchers.settings().site_id;
                let Some(sale_id) =
                    crate::vouchers::plans::sale_id_from_comment(site, user.comment_text())
                else {
                    return Err(CommandError::NotOurs(username));
                };
                // The sale ends first, so reconcile never brings the user back, not
                // even when the removal's reply is lost; enforcement ends a session
                // that a failed removal leaves.
                self.vouchers.store().mark_ended(
                    sale_id,
                    "removed by the central office",
                    now_ms(),
                )?;
                for s in router.active(Some(&Word::from(&username))).await? {
                    router.disconnect(&s.id).await?;
                }
                router.remove_user(&user.id).await?;
                // Recorded as `users remove` records it; the user is gone either way,
                // so the office hears it removed even if the event is not stored.
                if let Err(e) = self.vouchers.store().record_event(
                    crate::store::Level::Info,
                    "user_removed",
                    Some(&username),
                    "removed by the central office",
                    now_ms(),
                ) {
                    tracing::warn!(error = %e, username, "user_removed event not recorded");
                }
                Ok(CommandOutput::Done(format!("{username} removed")))
            }
            SiteCommand::SyncProfiles => {
                let done = self.sync_profiles(&self.config().profiles).await?;
                Ok(CommandOutput::Done(if done.is_empty() {
                    "profiles already as configured".into()
                } else {
                    done.join("; ")
                }))
            }
            SiteCommand::Reconcile => {
                let report = self.vouchers.reconcile(false).await?;
                let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                Ok(CommandOutput::Reconciled(ReconcileResult {
                    router_users: count(report.router_users),
                    cached: count(report.cached),
                    drift: report.drift.iter().map(ToString::to_string).collect(),
                    fixed: report.fixed,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::AgentActions;

    #[tokio::test]
    async fn a_remote_remove_ends_the_sale_so_reconcile_does_not_bring_the_user_back() {
        let (v, router) = crate::vouchers::tests::setup().await;
        let actions = SiteActions::new(v.clone(), firmware_config::Config::bundled_default());
        let sold = v.sell("1h", None).await.unwrap();
        let done = actions
            .run_command(SiteCommand::RemoveUser {
                username: sold.code.clone(),
            })
            .await;
        assert!(matches!(done, CommandResult::Ok(_)), "{done:?}");
        assert!(v.store().sale(sold.sale_id).unwrap().ended_at_ms.is_some());
        // The event log says so, as it does after `users remove`.
        let events = v.store().events(Some("user_removed"), 10).unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.subject.as_deref() == Some(sold.code.as_str())),
            "the removal is in the event log: {events:?}"
        );
        v.reconcile(true).await.unwrap();
        assert!(
            router.all_users().iter().all(|u| u.name != sold.code),
            "the removed user stays removed"
        );
    }

    #[tokio::test]
    async fn a_remote_remove_whose_reply_is_lost_still_ends_the_sale_so_reconcile_leaves_it_removed(
    ) {
        let (v, router) = crate::vouchers::tests::setup().await;
        let actions = SiteActions::new(v.clone(), firmware_config::Config::bundled_default());
        let sold = v.sell("1h", None).await.unwrap();
        // The router removes the user, then the reply never comes.
        router.inject(
            routeros::testing::Op::RemoveUser,
            1,
            routeros::testing::Fault::TimeoutAfterApply,
        );
        let done = actions
            .run_request(
                "req-rm",
                SiteCommand::RemoveUser {
                    username: sold.code.clone(),
                },
            )
            .await;
        assert!(matches!(done, CommandResult::Err(_)), "{done:?}");
        // The service's own round puts back lost users of paid vouchers.
        v.reconcile_fixing(crate::vouchers::reconcile::Fix::Missing)
            .await
            .unwrap();
        assert!(
            router.all_users().iter().all(|u| u.name != sold.code),
            "the user the office removed stays removed"
        );
        assert!(v.store().sale(sold.sale_id).unwrap().ended_at_ms.is_some());
    }

    #[tokio::test]
    async fn a_remote_remove_of_a_user_the_agent_did_not_make_is_refused_to_the_office_and_changes_nothing(
    ) {
        let (v, router) = crate::vouchers::tests::setup().await;
        let actions = SiteActions::new(v.clone(), firmware_config::Config::bundled_default());
        // The fake's site is `t1`: ours are `hsa:t1:<sale id>`, nothing else.
        let foreign = [
            ("STAFF", None),
            ("WINBOX", Some("made in WinBox")),
            ("OTHERSITE", Some("hsa:other-site:1")),
            ("NOTANID", Some("hsa:t1:x")),
            ("PREFIXLESS", Some("xhsa:t1:1")),
        ];
        for (name, comment) in foreign {
            router.add_foreign_user(name, comment);
            router.log_in(name, "10.5.50.9").unwrap();
        }
        let users = router.all_users();
        let sessions = router.sessions();
        for (n, (name, _)) in foreign.into_iter().enumerate() {
            let result = actions
                .run_request(
                    &format!("req-{n}"),
                    SiteCommand::RemoveUser {
                        username: name.into(),
                    },
                )
                .await;
            assert!(
                matches!(&result, CommandResult::Err(why)
                    if why.contains(name) && why.contains("not created by this agent")),
                "the office hears why {name} stays: {result:?}"
            );
        }
        assert_eq!(router.all_users(), users, "every user as it was");
        assert_eq!(router.sessions(), sessions, "nobody disconnected");
        assert_eq!(router.calls(routeros::testing::Op::RemoveUser), 0);
        assert_eq!(router.calls(routeros::testing::Op::Disconnect), 0);
    }

    fn codes(result: &CommandResult) -> Vec<String> {
        match result {
            CommandResult::Ok(CommandOutput::Vouchers(v)) => {
                v.iter().map(|s| s.code.clone()).collect()
            }
            CommandResult::Ok(CommandOutput::VouchersPartly(p)) => {
                p.sold.iter().map(|s| s.code.clone()).collect()
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn create_vouchers_run_again_for_the_same_request_finds_its_sales_and_sells_nothing_new()
    {
        let (v, router) = crate::vouchers::tests::setup().await;
        let actions = SiteActions::new(v.clone(), firmware_config::Config::bundled_default());
        let ask = || SiteCommand::CreateVouchers {
            plan_id: "1h".into(),
            count: 3,
        };
        let first = actions.run_request("req-1", ask()).await;
        let again = actions.run_request("req-1", ask()).await;
        assert_eq!(codes(&first).len(), 3);
        assert_eq!(codes(&first), codes(&again), "the same codes");
        assert_eq!(router.all_users().len(), 3, "no second set of users");
        assert_eq!(codes(&actions.run_request("req-2", ask()).await).len(), 3);
        assert_eq!(
            router.all_users().len(),
            6,
            "another request is another sale"
        );
    }

    #[tokio::test]
    async fn create_vouchers_failing_partway_keeps_and_reports_the_codes_sold() {
        let (v, router) = crate::vouchers::tests::setup().await;
        let actions = SiteActions::new(v.clone(), firmware_config::Config::bundled_default());
        // The third add's reply is lost and the router is gone when the agent looks.
        router.inject(
            routeros::testing::Op::AddUser,
            3,
            routeros::testing::Fault::TimeoutAfterApply,
        );
        router.inject(
            routeros::testing::Op::Users,
            1,
            routeros::testing::Fault::FailBefore(RouterError::Closed {
                router: "fake".into(),
            }),
        );
        let result = actions
            .run_request(
                "req-p",
                SiteCommand::CreateVouchers {
                    plan_id: "1h".into(),
                    count: 5,
                },
            )
            .await;
        let CommandResult::Ok(CommandOutput::VouchersPartly(p)) = &result else {
            panic!("{result:?}");
        };
        assert_eq!((p.sold.len(), p.asked), (2, 5));
        assert!(!p.error.is_empty());
        for code in codes(&result) {
            assert!(
                router.all_users().iter().any(|u| u.name == code),
                "{code} is on the router"
            );
        }
    }

    #[tokio::test]
    async fn pushed_router_settings_a_config_file_could_not_hold_are_refused_and_not_stored() {
        let (v, _router) = crate::vouchers::tests::setup().await;
        let dir = tempfile::tempdir().unwrap();
        let mut config = firmware_config::Config::bundled_default();
        config.agent.state_dir = dir.path().to_path_buf();
        let actions = SiteActions::new(v, config);
        let spec = |name: &str, host: &str, user: &str| sync_proto::messages::RouterSpec {
            name: name.into(),
            host: host.into(),
            transport: "api".into(),
            username: user.into(),
            ..Default::default()
        };
        let cases = [
            (
                vec![
                    spec("a", "10.0.0.1", "admin"),
                    spec("a", "10.0.0.2", "admin"),
                ],
                "router[1].name",
            ),
            (vec![spec("a", "10.0.0.1", "")], "router[0].username"),
            (
                vec![spec("a", "10.0.0.1\u{200b}", "admin")],
                "router[0].host",
            ),
        ];
        for (routers, named) in cases {
            let set = RouterSet {
                version: 2,
                target: "t1".into(),
                routers,
            };
            let n = set.routers.len();
            let err = actions.apply_routers(set, vec![None; n]).await.unwrap_err();
            assert!(err.to_string().contains(named), "{named}: {err}");
            assert!(
                !super::super::routers_file::path(dir.path()).exists(),
                "nothing stored for the next start"
            );
        }
    }

    #[tokio::test]
    async fn telemetry_counts_todays_sales_active_users_and_the_router_as_it_is_now() {
        let (v, router) = crate::vouchers::tests::setup().await;
        let config = firmware_config::Config::bundled_default();
        let actions = SiteActions::new(v.clone(), config);
        let a = v.sell("1h", None).await.unwrap();
        v.sell("1h", None).await.unwrap();
        router.log_in(&a.code, "10.5.50.2").unwrap();
        let t = actions.telemetry().await;
        let price = v.store().sale(a.sale_id).unwrap().price;
        assert_eq!((t.sales_count_today, t.sales_amount_today), (2, 2 * price));
        assert_eq!(t.active_users, 1);
        assert_eq!(t.routers[0].1, "up");
        router.set_down(true);
        assert_eq!(actions.telemetry().await.routers[0].1, "down");
        router.set_down(false);
        assert_eq!(
            actions.telemetry().await.routers[0].1,
            "up",
            "back up at once, not at the next sale"
        );
    }

    #[tokio::test]
    async fn telemetry_tells_the_central_office_whether_the_clock_is_trusted_and_the_cash_box() {
        let (v, _router) = crate::vouchers::tests::setup().await;
        let actions = SiteActions::new(v.clone(), firmware_config::Config::bundled_default());
        let t = actions.telemetry().await;
        assert!(
            !t.clock.trusted && t.clock.detail.contains("not judged"),
            "{:?}",
            t.clock
        );
        // The board booted days behind a time already seen: the pass says so.
        v.store()
            .set_clock_checkpoint(crate::store::now_ms() + 3 * 86_400_000)
            .unwrap();
        crate::vouchers::Enforcer::with_clock(v.clone(), || Some(false))
            .pass_once()
            .await
            .unwrap();
        let t = actions.telemetry().await;
        assert_eq!((t.clock.trusted, t.clock.source.as_str()), (false, "floor"));
        assert!(
            t.clock.detail.contains("before a time already seen"),
            "{:?}",
            t.clock
        );
        crate::vouchers::Enforcer::with_clock(v.clone(), || Some(true))
            .pass_once()
            .await
            .unwrap();
        let t = actions.telemetry().await;
        assert_eq!((t.clock.trusted, t.clock.source.as_str()), (true, "system"));
        assert_eq!(t.clock.detail, "");
        v.store().add_credit(10, "coin", 1).unwrap();
        assert_eq!(actions.telemetry().await.cash_box, 10);
    }

    #[test]
    fn twenty_thousand_users_come_in_pages_that_each_fit_a_message() {
        let rows: Vec<UserInfo> = (0..20_000)
            .map(|i| UserInfo {
                name: format!("USER{i:06}"),
                profile: "default".into(),
                comment: format!("hsa:site-001:{i} {}", "x".repeat(40)),
                ..UserInfo::default()
            })
            .collect();
        let mut offset = 0;
        let mut seen = 0;
        let mut pages = 0;
        loop {
            let page = users_page(rows.clone(), offset);
            assert_eq!(page.total, 20_000);
            let bytes = postcard::to_stdvec(&page).unwrap().len();
            assert!(bytes <= sync_proto::limits::PAGE_BUDGET, "{bytes}");
            assert_eq!(page.users[0].name, format!("USER{offset:06}"));
            seen += page.users.len();
            pages += 1;
            match page.next_offset {
                Some(n) => offset = n,
                None => break,
            }
        }
        assert_eq!(seen, 20_000);
        assert!(pages > 1, "one page would be over the budget");
    }
}
