//! The sale state machine, Reserved -> Provisioned (-> Delivered by the caller),
//! as pure steps, and the async driver that performs them. The row is committed
//! before the router is called; an `add` whose outcome is unknown (timeout, lost
//! connection) or that traps `already have user` is resolved by looking the name up
//! and reading its comment, never by adding again blindly.

use crate::store::{now_ms, Level, Sale, SaleState};
use routeros::{HotspotApi, HotspotUser, NewUser, RouterError, UserQuery, Word};

use super::plans::new_user_for;
use super::{crash_point, VoucherError, Vouchers};

/// Adds tried for one sale before it waits for the next resume.
const MAX_ADDS: u32 = 3;
/// Fresh codes tried after collisions with users that are not ours.
const MAX_NEW_CODES: u32 = 5;

/// What to do next for one unfinished row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create the user.
    Add(NewUser),
    /// Find the user by name: the outcome of an earlier add is unknown.
    LookUp { name: String },
    /// The router has our user: commit Provisioned (or PoolReady).
    Confirm { router_user_id: String },
    /// The name belongs to a user that is not ours: reserve a new code, then add.
    NewCode,
    /// The router has no profile of that name: put back the `[[profile]]` of that
    /// name (once per sale), then add again.
    RestoreProfile { name: String },
    /// Nothing was created and nothing will be: mark failed, refund.
    Fail { reason: String },
    /// Cannot tell now; the row stays unfinished and is resumed later.
    Wait { reason: String },
}

/// One row's issuance. `live` is a sale in front of a customer: when the router
/// surely did not create the user, it fails (credit refunded) instead of waiting.
#[derive(Debug, Clone)]
pub struct Issuance {
    pub sale_id: i64,
    user: NewUser,
    live: bool,
    adds: u32,
    new_codes: u32,
    /// Some add may have been carried out (its reply was lost).
    maybe_applied: bool,
    /// The missing profile was put back once already.
    profile_restored: bool,
}

impl Issuance {
    /// A fresh row: add straight away.
    pub fn fresh(sale: &Sale, site_id: &str, server: Option<&str>) -> (Issuance, Step) {
        let user = new_user_for(sale, site_id, server);
        let i = Issuance {
            sale_id: sale.id,
            user: user.clone(),
            live: true,
            adds: 1,
            new_codes: 0,
            maybe_applied: false,
            profile_restored: false,
        };
        (i, Step::Add(user))
    }

    /// A row found unfinished (start-up, retry): look before adding.
    pub fn resumed(sale: &Sale, site_id: &str, server: Option<&str>) -> (Issuance, Step) {
        let user = new_user_for(sale, site_id, server);
        let name = user.name.clone();
        let i = Issuance {
            sale_id: sale.id,
            user,
            live: false,
            adds: 0,
            new_codes: 0,
            maybe_applied: true,
            profile_restored: false,
        };
        (i, Step::LookUp { name })
    }

    fn add(&mut self) -> Step {
        if self.adds >= MAX_ADDS {
            return Step::Wait {
                reason: format!("{} adds did not settle; will look again later", self.adds),
            };
        }
        self.adds += 1;
        Step::Add(self.user.clone())
    }

    /// The router answered an add.
    pub fn on_add(&mut self, result: Result<&str, &RouterError>) -> Step {
        match result {
            Ok(id) => Step::Confirm {
                router_user_id: id.to_string(),
            },
            Err(e) if e.is_duplicate_user() => Step::LookUp { name: self.user.name.clone() },
            Err(e) if e.outcome_unknown() => {
                self.maybe_applied = true;
                Step::LookUp { name: self.user.name.clone() }
            }
            Err(e) if e.is_unknown_profile() && !self.profile_restored => {
                self.profile_restored = true;
                Step::RestoreProfile { name: self.user.profile.clone() }
            }
            // The router refused the command itself: nothing was created.
            Err(e @ RouterError::Trap { .. }) => Step::Fail {
                reason: format!("{e}; check the plan's profile exists on the router (hotspot-agent profiles sync)"),
            },
            Err(e) if self.live && !self.maybe_applied => Step::Fail { reason: e.to_string() },
            Err(e) => Step::Wait { reason: e.to_string() },
        }
    }

    /// The router answered the look-up.
    pub fn on_lookup(&mut self, result: Result<Option<&HotspotUser>, &RouterError>) -> Step {
        match result {
            Ok(Some(u)) if u.comment_text() == self.user.comment.as_deref() => Step::Confirm {
                router_user_id: u.id.clone(),
            },
            Ok(Some(_)) if self.new_codes < MAX_NEW_CODES => {
                self.new_codes += 1;
                Step::NewCode
            }
            Ok(Some(_)) => Step::Fail {
                reason: format!(
                    "{} codes in a row were taken by other router users",
                    self.new_codes + 1
                ),
            },
            // Not there: a lost add was not carried out, so adding is safe; if one
            // still lands late, the next add traps and the comment settles it.
            Ok(None) => self.add(),
            Err(e) => Step::Wait {
                reason: e.to_string(),
            },
        }
    }

    /// The missing profile was put back, or could not be: `None` when it is not one
    /// the agent manages (no `[[profile]]` of that name), so it was not tried.
    pub fn on_restore_profile(&mut self, result: Option<Result<(), &RouterError>>) -> Step {
        match result {
            None => Step::Fail {
                reason: format!(
                    "the router has no hotspot profile {:?} and the configuration has no [[profile]] of that name; \
                     create it on the router or add it to the configuration",
                    self.user.profile
                ),
            },
            // Put back now, or already by a sale beside this one (its add traps).
            Some(Ok(()) | Err(RouterError::Trap { .. })) => self.add(),
            Some(Err(e)) if self.live && !self.maybe_applied => Step::Fail {
                reason: e.to_string(),
            },
            Some(Err(e)) => Step::Wait {
                reason: e.to_string(),
            },
        }
    }

    /// A new code was reserved for the row.
    pub fn on_new_code(&mut self, code: &str, password: &str) -> Step {
        self.user.name = code.to_string();
        self.user.password = password.to_string();
        self.maybe_applied = false;
        self.adds = 0;
        self.add()
    }
}

/// How an issuance ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// The row is Provisioned (or PoolReady).
    OnRouter,
    /// The row failed; credit refunded.
    Failed(String),
    /// The row is still unfinished.
    Waiting(String),
}

impl<R: HotspotApi + Clone + 'static> Vouchers<R> {
    /// Performs steps until the row is settled or must wait. A row another call in
    /// this process is driving is left to it (and reported as waiting).
    pub(crate) async fn drive(
        &self,
        mut issuance: Issuance,
        mut step: Step,
    ) -> Result<Finished, VoucherError> {
        let Some(_claim) = self.claim(issuance.sale_id) else {
            return Ok(Finished::Waiting(format!(
                "sale {} is being finished by another call",
                issuance.sale_id
            )));
        };
        loop {
            step = match step {
                Step::Add(user) => {
                    let result = self.router().add_user(&user).await;
                    self.note_router(&result);
                    if result.is_ok() {
                        crash_point("after_router_add");
                    }
                    issuance.on_add(result.as_deref())
                }
                Step::LookUp { name } => {
                    let q = UserQuery {
                        name: Some(Word::from(name)),
                        ..UserQuery::default()
                    };
                    let result = self.router().users(&q).await;
                    self.note_router(&result);
                    issuance.on_lookup(result.as_ref().map(|v| v.first()))
                }
                Step::Confirm { router_user_id } => {
                    let encode = self.settings().sale_payload;
                    let (id, user_id) = (issuance.sale_id, router_user_id.clone());
                    let marked = self
                        .on_store(move |store| store.mark_on_router(id, &user_id, now_ms(), encode))
                        .await?;
                    if !marked {
                        return self.settled_elsewhere(id, &router_user_id).await;
                    }
                    tracing::info!(sale = issuance.sale_id, router_user = %router_user_id, "voucher on the router");
                    crash_point("after_provisioned");
                    return Ok(Finished::OnRouter);
                }
                Step::RestoreProfile { name } => {
                    let wanted = self.plans().profile(&name).cloned();
                    let result = match &wanted {
                        Some(p) => Some(self.restore_profile(p).await),
                        None => None,
                    };
                    issuance.on_restore_profile(result.as_ref().map(|r| r.as_ref().map(|_| ())))
                }
                Step::NewCode => {
                    let creds = self.fresh_code()?;
                    let (id, code, password) =
                        (issuance.sale_id, creds.code.clone(), creds.password.clone());
                    self.on_store(move |store| store.change_code(id, &code, &password, now_ms()))
                        .await?;
                    issuance.on_new_code(&creds.code, &creds.password)
                }
                Step::Fail { reason } => {
                    let (id, why) = (issuance.sale_id, reason.clone());
                    let refunded = self
                        .on_store(move |store| {
                            let refunded = store.mark_failed(id, &why, now_ms())?;
                            store.record_event(
                                Level::Error,
                                "sale_failed",
                                Some(&id.to_string()),
                                &failure_text(id, refunded, &why),
                                now_ms(),
                            )?;
                            Ok(refunded)
                        })
                        .await?;
                    if refunded > 0 {
                        tracing::warn!(sale = issuance.sale_id, refunded, %reason, "sale failed; the customer's credit was given back");
                    } else {
                        tracing::warn!(sale = issuance.sale_id, %reason, "voucher not made (nobody had paid for it)");
                    }
                    return Ok(Finished::Failed(reason));
                }
                Step::Wait { reason } => {
                    let (id, why) = (issuance.sale_id, reason.clone());
                    self.on_store(move |store| {
                        // Told once, when the row starts waiting; the background
                        // round that retries it every second only counts.
                        if store.record_attempt(id, &why)? > 1 {
                            return Ok(());
                        }
                        store.record_event(
                            Level::Warn,
                            "sale_pending",
                            Some(&id.to_string()),
                            &format!("sale {id} waits for the router: {why}"),
                            now_ms(),
                        )
                    })
                    .await?;
                    return Ok(Finished::Waiting(reason));
                }
            };
        }
    }

    /// Puts back a `[[profile]]` that has vanished from the router, and tells the
    /// operator and the central office once (a second sale racing this one gets the
    /// router's trap instead, and says nothing).
    pub(crate) async fn restore_profile(
        &self,
        profile: &routeros::UserProfile,
    ) -> Result<String, RouterError> {
        let result = self.router().add_profile(profile).await;
        self.note_router(&result);
        if result.is_ok() {
            let text = format!(
                "hotspot profile {} was missing on the router (removed by hand, or lost with a reset); \
                 re-created from [[profile]] {}; another tool's settings on it (on-login) are gone",
                profile.name, profile.name
            );
            tracing::warn!(profile = %profile.name, "hotspot profile was missing on the router; re-created");
            let name = profile.name.clone();
            let _ = self
                .on_store(move |store| {
                    store.record_event(
                        Level::Warn,
                        "profile_restored",
                        Some(&name),
                        &text,
                        now_ms(),
                    )
                })
                .await;
        }
        result
    }

    /// The row was settled by someone else while this call made its user. If it
    /// failed (its credit given back), the user made late must not stay as a free
    /// voucher: it is removed.
    async fn settled_elsewhere(&self, id: i64, user_id: &str) -> Result<Finished, VoucherError> {
        let sale = self.on_store(move |store| store.sale(id)).await?;
        if sale.state != SaleState::Failed {
            return Ok(Finished::OnRouter);
        }
        let removed = self.router().remove_user(user_id).await;
        self.note_router(&removed);
        match &removed {
            Ok(()) => tracing::warn!(sale = id, "sale had already failed and was refunded; the router user made late for it was removed"),
            Err(e) => tracing::error!(sale = id, router_user = %user_id, error = %e, "sale had already failed and was refunded, but the router user made late for it could not be removed; remove it with `hotspot-agent users remove`"),
        }
        Ok(Finished::Failed(sale.last_error.unwrap_or_default()))
    }

    /// Finishes every unfinished row (sales and pool vouchers) after a restart or an
    /// outage. Returns how many reached the router, failed, and still wait.
    pub async fn resume(&self) -> Result<ResumeReport, VoucherError> {
        self.resume_where(|_| true).await
    }

    /// [`Vouchers::resume`] for the background round, beside live sellers: a fresh
    /// row that no seller has left waiting yet may still be in the hands of the one
    /// that reserved it (in another process), and is left alone for
    /// [`Settings::live_grace`](super::Settings::live_grace).
    pub async fn resume_settled(&self) -> Result<ResumeReport, VoucherError> {
        let grace = i64::try_from(self.settings().live_grace.as_millis()).unwrap_or(i64::MAX);
        let now = now_ms();
        self.resume_where(|s| s.attempts > 0 || now.saturating_sub(s.created_at_ms) >= grace)
            .await
    }

    async fn resume_where(
        &self,
        pick: impl Fn(&Sale) -> bool,
    ) -> Result<ResumeReport, VoucherError> {
        let mut report = ResumeReport::default();
        for sale in self
            .store()
            .sales_in(&[SaleState::Reserved, SaleState::PoolReserved])?
            .into_iter()
            .filter(|s| pick(s))
        {
            let (i, step) = Issuance::resumed(
                &sale,
                &self.settings().site_id,
                self.settings().hotspot_server.as_deref(),
            );
            match self.drive(i, step).await? {
                Finished::OnRouter => report.provisioned.push(sale.id),
                Finished::Failed(_) => report.failed.push(sale.id),
                Finished::Waiting(_) => report.waiting.push(sale.id),
            }
        }
        report.awaiting_delivery = self
            .store()
            .sales_in(&[SaleState::Provisioned])?
            .into_iter()
            .map(|s| s.id)
            .collect();
        Ok(report)
    }
}

/// What [`Vouchers::resume`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResumeReport {
    /// Rows that reached the router now.
    pub provisioned: Vec<i64>,
    /// Rows that failed (credit refunded).
    pub failed: Vec<i64>,
    /// Rows still unfinished (router unreachable).
    pub waiting: Vec<i64>,
    /// Sold and on the router but not yet handed to the customer: the kiosk
    /// prints or shows these, then calls `mark_delivered`.
    pub awaiting_delivery: Vec<i64>,
}

/// The event text of a failed row: a refund is named only when someone had paid.
pub(crate) fn failure_text(id: i64, refunded: u64, why: &str) -> String {
    if refunded > 0 {
        format!("sale {id} failed, {refunded} credit given back: {why}")
    } else {
        format!("voucher {id} not made (nobody had paid for it): {why}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    /// A reserved kiosk sale of plan `1h`, for tests.
    pub(crate) fn sale() -> Sale {
        let row = crate::store::NewSale {
            code: "ABCD".into(),
            password: "ABCD".into(),
            plan_id: "1h".into(),
            price: 5,
            currency: "PHP".into(),
            profile: "default".into(),
            fair_use_profile: None,
            time_limit_s: Some(3600),
            data_limit_bytes: None,
            validity_s: None,
            validity_from: "first-login".into(),
            router: "main".into(),
            source: "kiosk".into(),
        };
        Sale::reserved(9, &row, 0)
    }

    fn user(comment: &str) -> HotspotUser {
        HotspotUser {
            id: "*7".into(),
            name: "ABCD".into(),
            password: None,
            profile: "default".into(),
            server: "all".into(),
            comment: Some(comment.into()),
            disabled: false,
            limit_uptime: None,
            limit_bytes_total: None,
            limit_bytes_in: None,
            limit_bytes_out: None,
            uptime: Duration::ZERO,
            bytes_in: 0,
            bytes_out: 0,
            default: false,
            dynamic: false,
        }
    }

    fn timeout() -> RouterError {
        RouterError::Timeout {
            router: "r".into(),
            command: "add".into(),
            after: Duration::from_secs(5),
        }
    }

    fn dup() -> RouterError {
        RouterError::Trap {
            router: "r".into(),
            command: "add".into(),
            message: "failure: already have user with this name for this server".into(),
            category: None,
            status: None,
        }
    }

    #[test]
    fn a_fresh_sale_adds_the_user_with_its_comment_and_limits() {
        let (_, step) = Issuance::fresh(&sale(), "site", Some("hs1"));
        let Step::Add(u) = step else {
            panic!("{step:?}")
        };
        assert_eq!(u.comment.as_deref(), Some("hsa:site:9"));
        assert_eq!(u.limit_uptime, Some(Duration::from_secs(3600)));
        assert_eq!(u.server.as_deref(), Some("hs1"));
    }

    #[test]
    fn a_timed_out_add_is_looked_up_and_our_comment_confirms_it() {
        let (mut i, _) = Issuance::fresh(&sale(), "site", None);
        let step = i.on_add(Err(&timeout()));
        assert_eq!(
            step,
            Step::LookUp {
                name: "ABCD".into()
            }
        );
        let step = i.on_lookup(Ok(Some(&user("hsa:site:9"))));
        assert_eq!(
            step,
            Step::Confirm {
                router_user_id: "*7".into()
            }
        );
    }

    #[test]
    fn already_have_user_with_someone_elses_comment_asks_for_a_new_code() {
        let (mut i, _) = Issuance::fresh(&sale(), "site", None);
        assert!(matches!(i.on_add(Err(&dup())), Step::LookUp { .. }));
        assert_eq!(
            i.on_lookup(Ok(Some(&user("hsa:site:10")))),
            Step::NewCode,
            "another sale's user"
        );
        let Step::Add(u) = i.on_new_code("EFGH", "EFGH") else {
            panic!()
        };
        assert_eq!(u.name, "EFGH");
        assert_eq!(
            u.comment.as_deref(),
            Some("hsa:site:9"),
            "the comment stays the sale's"
        );
    }

    #[test]
    fn a_lookup_that_finds_nothing_adds_again_but_not_forever() {
        let (mut i, _) = Issuance::resumed(&sale(), "site", None);
        for _ in 0..MAX_ADDS {
            assert!(matches!(i.on_lookup(Ok(None)), Step::Add(_)));
        }
        assert!(matches!(i.on_lookup(Ok(None)), Step::Wait { .. }));
    }

    #[test]
    fn an_unreachable_router_fails_a_live_sale_but_a_resumed_one_waits() {
        let down = RouterError::Unreachable {
            router: "r".into(),
            addr: "a".into(),
            reason: "refused".into(),
        };
        let (mut live, _) = Issuance::fresh(&sale(), "site", None);
        assert!(matches!(live.on_add(Err(&down)), Step::Fail { .. }));
        let (mut resumed, _) = Issuance::resumed(&sale(), "site", None);
        assert!(matches!(resumed.on_lookup(Err(&down)), Step::Wait { .. }));
        assert!(matches!(resumed.on_add(Err(&down)), Step::Wait { .. }));
    }

    #[test]
    fn after_an_unknown_outcome_a_live_sale_never_fails_on_a_dead_link() {
        let (mut i, _) = Issuance::fresh(&sale(), "site", None);
        i.on_add(Err(&timeout()));
        let closed = RouterError::Unreachable {
            router: "r".into(),
            addr: "a".into(),
            reason: "refused".into(),
        };
        assert!(
            matches!(i.on_add(Err(&closed)), Step::Wait { .. }),
            "the first add may exist: wait, do not refund"
        );
    }

    fn no_such_profile() -> RouterError {
        RouterError::Trap {
            router: "r".into(),
            command: "add".into(),
            message: "input does not match any value of profile".into(),
            category: None,
            status: None,
        }
    }

    #[test]
    fn a_missing_profile_is_put_back_once_then_the_add_is_tried_again() {
        let (mut i, _) = Issuance::fresh(&sale(), "site", None);
        assert_eq!(
            i.on_add(Err(&no_such_profile())),
            Step::RestoreProfile {
                name: "default".into()
            }
        );
        assert!(matches!(i.on_restore_profile(Some(Ok(()))), Step::Add(_)));
        let Step::Fail { reason } = i.on_add(Err(&no_such_profile())) else {
            panic!("a profile put back once and still missing fails the sale")
        };
        assert!(
            reason.contains("input does not match") && reason.contains("profiles sync"),
            "the router's words and a hint: {reason}"
        );
    }

    #[test]
    fn a_profile_put_back_by_a_sale_beside_this_one_lets_this_one_add_again() {
        let (mut i, _) = Issuance::fresh(&sale(), "site", None);
        i.on_add(Err(&no_such_profile()));
        let taken = RouterError::Trap {
            router: "r".into(),
            command: "add".into(),
            message: "failure: already have such name".into(),
            category: None,
            status: None,
        };
        assert!(matches!(
            i.on_restore_profile(Some(Err(&taken))),
            Step::Add(_)
        ));
    }

    #[test]
    fn a_missing_profile_the_agent_does_not_manage_fails_the_sale_saying_what_to_do() {
        let (mut i, _) = Issuance::fresh(&sale(), "site", None);
        i.on_add(Err(&no_such_profile()));
        let Step::Fail { reason } = i.on_restore_profile(None) else {
            panic!()
        };
        assert!(
            reason.contains("\"default\"") && reason.contains("[[profile]]"),
            "{reason}"
        );
    }
}
