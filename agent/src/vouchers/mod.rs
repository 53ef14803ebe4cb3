//! Vouchers: codes, plans, the issuance state machine, the pool, enforcement and reconcile.
//!
//! [`Vouchers`] is the seller the kiosk and the CLI hold: `sell`, `record_credit`,
//! `mark_delivered`, `can_sell`, `resume`. It owns nothing but a [`Store`] handle and
//! a router handle, so clones are cheap and share everything.

pub mod batch;
pub mod codes;

pub mod clock;
pub mod enforce;
mod enforce_run;
mod error;
pub mod issue;
pub mod monitor;
pub mod plans;
pub mod pool;
pub mod reconcile;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use firmware_config::{Config, EnforcementConfig, VoucherCodeConfig};
use serde::Serialize;

use crate::store::{now_ms, Sale, SaleState, Store, StoreError};
use routeros::{HotspotApi, RouterError};

pub use codes::{CodeError, CodeGenerator, Credentials};
#[doc(hidden)]
pub(crate) use crash_point::crash_point;
pub use enforce::{Enforcer, PassReport};
pub use error::{Reason, VoucherError};
pub use issue::{Finished, Issuance, ResumeReport, Step};
pub use plans::PlanBook;
pub use pool::Pool;
pub use reconcile::{Drift, DriftChange, ReconcileReport};

/// How a sale is paid: credit inserted at the kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditSpend {
    /// Amount to take from the balance (normally the plan's price).
    pub amount: u64,
}

/// A sold voucher: what the ticket needs.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct SoldVoucher {
    pub sale_id: i64,
    pub code: String,
    /// Equal to `code` in user=password mode.
    pub password: String,
    pub plan_id: String,
    pub plan_name: String,
    pub price: u64,
    pub currency: String,
    pub time_limit_s: Option<u64>,
    pub data_limit_bytes: Option<u64>,
    pub validity_s: Option<u64>,
    /// `first-login` or `sale`.
    pub validity_from: String,
    /// Whether it came from the pool (no router round trip).
    pub from_pool: bool,
    /// `http://<dns name>/login?username=…&password=…` for the QR code (codes and
    /// passwords are letters, digits and `-`, so they need no escaping).
    pub login_url: String,
    /// `http://<dns name>`, the address customers type.
    pub login_address: String,
    /// When it was sold (agent clock, ms since the epoch).
    pub sold_at_ms: i64,
}

impl std::fmt::Debug for SoldVoucher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password and the login URL (which carries it) stay out of logs.
        f.debug_struct("SoldVoucher")
            .field("sale_id", &self.sale_id)
            .field("code", &self.code)
            .field("plan_id", &self.plan_id)
            .field("price", &self.price)
            .field("from_pool", &self.from_pool)
            .finish_non_exhaustive()
    }
}

/// Router timeouts a live sale may take at most: three adds and their look-ups
/// (`issue::MAX_ADDS`), with room to spare.
const LIVE_GRACE_TIMEOUTS: u32 = 8;

/// Everything the voucher layer needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub site_id: String,
    pub router_name: String,
    /// Hotspot server for new users (`all` = any).
    pub hotspot_server: Option<String>,
    pub dns_name: String,
    pub codes: VoucherCodeConfig,
    pub enforcement: EnforcementConfig,
    /// Adds in flight at once for batches and pool refills. RouterOS documents no
    /// limit on tagged commands in flight on one connection (DOC-API "Tags"), and
    /// node-routeros keeps all of them in flight; but each add waits behind those
    /// before it at the router, against the router timeout (5 s by default): at
    /// 5 ms of router CPU per add, 512 queued are 2.6 s, while 5,000 all at once
    /// would time out the last ones even at 1 ms each. 512 rather than 128: on the
    /// simulator at 2 ms the router part of 5,000 took 0.15-0.22 s against
    /// 0.19-0.24 s with 128 (all at once: 0.12-0.15 s).
    pub concurrency: usize,
    /// How a provisioned sale is told to the central office.
    pub sale_payload: SalePayload,
    /// How long a fresh row may still be in the hands of the seller that reserved it
    /// (another process, e.g. `voucher create`): the background round leaves it alone
    /// until then, unless that seller already left it waiting. Longer than a live
    /// sale's adds and look-ups can take at the router timeout.
    pub live_grace: std::time::Duration,
}

/// The outbox payload for a stored sale, written in the same transaction that
/// provisions it. The layer above supplies it (`sync::outbox::sale_payload`), so
/// the voucher layer never sees the wire format.
pub type SalePayload = fn(sale: &Sale) -> Vec<u8>;

impl Settings {
    /// From the config file and the router this run talks to (an entry without a host
    /// is the simulated router).
    pub fn from_config(
        config: &Config,
        r: &firmware_config::RouterConfig,
        sale_payload: SalePayload,
    ) -> Settings {
        Settings {
            site_id: config.agent.site_id.clone(),
            router_name: if r.host.is_empty() {
                "sim".into()
            } else {
                r.name.clone()
            },
            hotspot_server: Some(r.hotspot_server.clone()).filter(|s| s != "all"),
            dns_name: r.dns_name.clone(),
            codes: config.vouchers.clone(),
            enforcement: config.enforcement.clone(),
            concurrency: 512,
            sale_payload,
            live_grace: r.timeout.std() * LIVE_GRACE_TIMEOUTS,
        }
    }
}

/// A row being driven by one call; released when dropped.
pub(crate) struct Claim<'a, R> {
    vouchers: &'a Vouchers<R>,
    sale_id: i64,
}

impl<R> Drop for Claim<'_, R> {
    fn drop(&mut self) {
        self.vouchers
            .inner
            .driving
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.sale_id);
    }
}

/// The seller: cheap to clone, shares the store and router handles.
pub struct Vouchers<R> {
    inner: Arc<Inner<R>>,
}

impl<R> Clone for Vouchers<R> {
    fn clone(&self) -> Self {
        Vouchers {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<R> {
    store: Store,
    router: R,
    settings: Settings,
    codes: CodeGenerator,
    plans: std::sync::RwLock<PlanBook>,
    /// Outcome of the last router call: false after a link failure.
    router_ok: AtomicBool,
    /// Ready pool vouchers per plan, so `can_sell` never waits for the store.
    pool_ready: std::sync::RwLock<std::collections::BTreeMap<String, u32>>,
    /// Rows a call in this process is driving now: a second driver of one row could
    /// fail and refund it while the first puts its user on the router.
    driving: std::sync::Mutex<std::collections::HashSet<i64>>,
}

impl<R: HotspotApi + Clone + 'static> Vouchers<R> {
    /// A seller over a store and a router. Stores the plans (source `config`).
    pub fn new(
        store: Store,
        router: R,
        settings: Settings,
        plans: PlanBook,
    ) -> Result<Vouchers<R>, VoucherError> {
        let codes = CodeGenerator::new(&settings.codes)?;
        store.set_sale_payload(settings.sale_payload);
        store.replace_plans(
            "config",
            &plans.all().cloned().collect::<Vec<_>>(),
            now_ms(),
        )?;
        let v = Vouchers {
            inner: Arc::new(Inner {
                store,
                router,
                settings,
                codes,
                plans: std::sync::RwLock::new(plans),
                router_ok: AtomicBool::new(true),
                pool_ready: Default::default(),
                driving: Default::default(),
            }),
        };
        v.refresh_pool_cache()?;
        Ok(v)
    }

    /// Re-reads the ready pool counts into the cache `can_sell` answers from.
    pub fn refresh_pool_cache(&self) -> Result<(), VoucherError> {
        let mut counts = std::collections::BTreeMap::new();
        for p in self.plans().all().filter(|p| p.pool > 0) {
            counts.insert(p.id.clone(), self.store().pool_counts(&p.id)?.0);
        }
        *self
            .inner
            .pool_ready
            .write()
            .unwrap_or_else(|e| e.into_inner()) = counts;
        Ok(())
    }

    fn adjust_pool_cache(&self, plan_id: &str, delta: i64) {
        let mut m = self
            .inner
            .pool_ready
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(plan_id) {
            *n = (*n as i64 + delta).max(0) as u32;
        }
    }

    /// From a whole config file.
    pub fn from_config(
        store: Store,
        router: R,
        config: &Config,
        chosen: &firmware_config::RouterConfig,
        sale_payload: SalePayload,
    ) -> Result<Vouchers<R>, VoucherError> {
        Vouchers::new(
            store,
            router,
            Settings::from_config(config, chosen, sale_payload),
            PlanBook::from_config(config),
        )
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Runs `f` on the store from tokio's blocking pool. A `synchronous=FULL` commit
    /// waits for the disk (tens of milliseconds on an SD card); on the runtime's own
    /// threads it would stall the coin, router and MQTT tasks meanwhile.
    pub(crate) async fn on_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, VoucherError> {
        let store = self.store().clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| VoucherError::StoreTask(e.to_string()))?
            .map_err(VoucherError::from)
    }

    /// The router handle.
    pub fn router(&self) -> &R {
        &self.inner.router
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The code generator.
    pub fn codes(&self) -> &CodeGenerator {
        &self.inner.codes
    }

    /// A copy of the plans.
    pub fn plans(&self) -> PlanBook {
        self.inner
            .plans
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the plans (e.g. a signed update from the central office).
    pub fn set_plans(&self, plans: PlanBook, source: &str) -> Result<(), VoucherError> {
        self.store()
            .replace_plans(source, &plans.all().cloned().collect::<Vec<_>>(), now_ms())?;
        *self.inner.plans.write().unwrap_or_else(|e| e.into_inner()) = plans;
        self.refresh_pool_cache()
    }

    /// A plan by id, or the error naming the known ones.
    pub fn plan(&self, id: &str) -> Result<crate::store::StoredPlan, VoucherError> {
        let plans = self.plans();
        plans
            .get(id)
            .cloned()
            .ok_or_else(|| VoucherError::UnknownPlan {
                plan: id.to_string(),
                known: plans.ids().join(", "),
            })
    }

    /// Remembers whether the router link works (for `can_sell`). A router that is
    /// reached but refuses us (a changed password, a missing policy, a certificate that
    /// no longer matches) can no more make a voucher than one that is down: the slot
    /// closes for both. A trap or an odd reply is the router answering: it stays open.
    pub(crate) fn note_router<T>(&self, result: &Result<T, RouterError>) {
        let ok = match result {
            Ok(_) => true,
            Err(e) => !(e.is_transient() || e.refuses_us()),
        };
        self.inner.router_ok.store(ok, Ordering::Relaxed);
    }

    /// Claims a row for one driver in this process; `None` if another call has it.
    pub(crate) fn claim(&self, sale_id: i64) -> Option<Claim<'_, R>> {
        let mut driving = self.inner.driving.lock().unwrap_or_else(|e| e.into_inner());
        driving.insert(sale_id).then_some(Claim {
            vouchers: self,
            sale_id,
        })
    }

    /// Whether the last router call reached the router.
    pub fn router_reachable(&self) -> bool {
        self.inner.router_ok.load(Ordering::Relaxed)
    }

    /// A code unknown to the cache. Router collisions are found by the add itself
    /// (`already have user`) and settled by the look-up, which costs no extra round trip.
    pub(crate) fn fresh_code(&self) -> Result<Credentials, VoucherError> {
        let store = self.store();
        let mut failure = None;
        let found = self
            .codes()
            .generate_unique(|c| match store.code_exists(c) {
                Ok(taken) => taken,
                Err(e) => {
                    failure = Some(e);
                    true
                }
            })?;
        if let Some(e) = failure {
            return Err(e.into());
        }
        found.ok_or(VoucherError::CodesExhausted)
    }

    pub(crate) fn sold(&self, sale: &Sale, plan_name: &str, from_pool: bool) -> SoldVoucher {
        SoldVoucher {
            sale_id: sale.id,
            code: sale.code.clone(),
            password: sale.password.clone(),
            plan_id: sale.plan_id.clone(),
            plan_name: plan_name.to_string(),
            price: sale.price,
            currency: sale.currency.clone(),
            time_limit_s: sale.time_limit_s,
            data_limit_bytes: sale.data_limit_bytes,
            validity_s: sale.validity_s,
            validity_from: sale.validity_from.clone(),
            from_pool,
            login_url: format!(
                "http://{}/login?username={}&password={}",
                self.settings().dns_name,
                sale.code,
                sale.password
            ),
            login_address: format!("http://{}", self.settings().dns_name),
            sold_at_ms: sale.sold_at_ms.unwrap_or(sale.created_at_ms),
        }
    }

    /// Sells one voucher of a plan: from the pool when it has one (one local
    /// transaction, no router call), else created on the router now.
    pub async fn sell(
        &self,
        plan_id: &str,
        paid_by: Option<CreditSpend>,
    ) -> Result<SoldVoucher, VoucherError> {
        self.sell_from(plan_id, paid_by, "kiosk", true).await
    }

    /// Like [`Vouchers::sell`], recording `source` (`kiosk`, `cli`, `remote`) and
    /// optionally skipping the pool.
    pub async fn sell_from(
        &self,
        plan_id: &str,
        paid_by: Option<CreditSpend>,
        source: &str,
        use_pool: bool,
    ) -> Result<SoldVoucher, VoucherError> {
        let plan = self.plan(plan_id)?;
        self.sell_plan(&plan, paid_by, source, use_pool).await
    }

    /// Sells a plan that need not be in the plan book, e.g. connected time from the
    /// kiosk's rate table ([`StoredPlan::for_time`]).
    pub async fn sell_plan(
        &self,
        plan: &crate::store::StoredPlan,
        paid_by: Option<CreditSpend>,
        source: &str,
        use_pool: bool,
    ) -> Result<SoldVoucher, VoucherError> {
        self.sell_plan_for(plan, paid_by, source, use_pool, None)
            .await
    }

    /// One sale for `key` (an online order's id, a remote request's id and place):
    /// the sale already made for it if there is one (finished now if a restart
    /// left it unfinished), else a new one, the key written in its transaction.
    /// Paid elsewhere: no credit is spent; `price` (what was paid) replaces the
    /// plan's when given.
    pub async fn sell_keyed(
        &self,
        plan_id: &str,
        key: &str,
        source: &str,
        price: Option<u64>,
    ) -> Result<SoldVoucher, VoucherError> {
        let k = key.to_string();
        if let Some(sale) = self.on_store(move |s| s.sale_for_key(&k)).await? {
            let name = self
                .plans()
                .get(&sale.plan_id)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| sale.plan_id.clone());
            return match sale.state {
                SaleState::Reserved => {
                    let (i, step) = Issuance::resumed(
                        &sale,
                        &self.settings().site_id,
                        self.settings().hotspot_server.as_deref(),
                    );
                    self.finish(sale.id, i, step, &name).await
                }
                SaleState::Failed => Err(VoucherError::Failed {
                    sale_id: sale.id,
                    reason: sale.last_error.clone().unwrap_or_default(),
                }),
                _ => Ok(self.sold(&sale, &name, false)),
            };
        }
        let mut plan = self.plan(plan_id)?;
        if let Some(p) = price {
            plan.price = p;
        }
        self.sell_plan_for(&plan, None, source, true, Some(key))
            .await
    }

    async fn finish(
        &self,
        id: i64,
        i: Issuance,
        step: Step,
        plan_name: &str,
    ) -> Result<SoldVoucher, VoucherError> {
        match self.drive(i, step).await? {
            Finished::OnRouter => Ok(self.sold(&self.store().sale(id)?, plan_name, false)),
            Finished::Failed(reason) => Err(VoucherError::Failed {
                sale_id: id,
                reason,
            }),
            Finished::Waiting(reason) => Err(VoucherError::Pending {
                sale_id: id,
                reason,
            }),
        }
    }

    async fn sell_plan_for(
        &self,
        plan: &crate::store::StoredPlan,
        paid_by: Option<CreditSpend>,
        source: &str,
        use_pool: bool,
        key: Option<&str>,
    ) -> Result<SoldVoucher, VoucherError> {
        let spend = paid_by.map(|p| p.amount);
        let key = key.map(str::to_string);
        if use_pool && plan.pool > 0 {
            let encode = self.settings().sale_payload;
            let (plan_id, price, source) = (plan.id.clone(), plan.price, source.to_string());
            let k = key.clone();
            let taken = self
                .on_store(move |store| match &k {
                    Some(k) => {
                        store.take_from_pool_keyed(&plan_id, price, &source, k, now_ms(), encode)
                    }
                    None => store.take_from_pool(&plan_id, price, &source, spend, now_ms(), encode),
                })
                .await?;
            if let Some(sale) = taken {
                self.adjust_pool_cache(&plan.id, -1);
                crash_point("after_pool_take");
                return Ok(self.sold(&sale, &plan.name, true));
            }
        }
        let creds = self.fresh_code()?;
        let new = plans::new_sale_for(
            plan,
            creds.code,
            creds.password,
            &self.settings().router_name,
            source,
        );
        let (id, sale) = self
            .on_store(move |store| {
                let id = match &key {
                    Some(k) => store.reserve_sale_keyed(&new, k, now_ms())?,
                    None => store.reserve_sale(&new, spend, now_ms())?,
                };
                Ok((id, store.sale(id)?))
            })
            .await?;
        crash_point("after_reserve");
        let (i, step) = Issuance::fresh(
            &sale,
            &self.settings().site_id,
            self.settings().hotspot_server.as_deref(),
        );
        self.finish(id, i, step, &plan.name).await
    }

    /// Records inserted money; returns the credit id.
    pub fn record_credit(&self, amount: u64, source: &str) -> Result<i64, VoucherError> {
        Ok(self.store().add_credit(amount, source, now_ms())?)
    }

    /// Records a coin and the acceptor's event counter after it, in one transaction.
    pub fn record_coin(
        &self,
        amount: u64,
        source: &str,
        acceptor: &str,
        counter: u8,
    ) -> Result<i64, VoucherError> {
        Ok(self
            .store()
            .add_coin(amount, source, Some((acceptor, counter)), now_ms())?)
    }

    /// Credit inserted and not spent.
    pub fn credit_balance(&self) -> Result<i64, VoucherError> {
        Ok(self.store().credit_balance()?)
    }

    /// The customer has the code (printed, or shown on the display). Returns false
    /// if it was already marked.
    pub fn mark_delivered(&self, sale_id: i64) -> Result<bool, VoucherError> {
        Ok(self.store().mark_delivered(sale_id, now_ms())?)
    }

    /// Like [`Vouchers::mark_delivered`]; `printed = false` (shown on the display
    /// because the printer failed) is also recorded as an event for the operator.
    pub fn mark_delivered_via(&self, sale_id: i64, printed: bool) -> Result<bool, VoucherError> {
        let first = self.mark_delivered(sale_id)?;
        if first && !printed {
            self.store().record_event(
                crate::store::Level::Warn,
                "delivered_on_display",
                Some(&sale_id.to_string()),
                "ticket not printed; the code was shown on the display",
                now_ms(),
            )?;
        }
        Ok(first)
    }

    /// Credit the customer left behind (kept by the operator); at most the balance.
    pub fn forfeit_credit(&self, amount: u64) -> Result<u64, VoucherError> {
        Ok(self.store().forfeit_credit(amount, now_ms())?)
    }

    /// A sold voucher again (to reprint after a crash between print and mark).
    pub fn voucher(&self, sale_id: i64) -> Result<SoldVoucher, VoucherError> {
        let sale = self.store().sale(sale_id)?;
        let name = self
            .plans()
            .get(&sale.plan_id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| sale.plan_id.clone());
        Ok(self.sold(&sale, &name, sale.source == "pool"))
    }

    /// Whether the kiosk can take money now: some kiosk plan is sellable (its pool has
    /// a voucher, or the router answered the last call).
    pub fn can_sell(&self) -> Result<(), Reason> {
        let plans = self.plans();
        let kiosk: Vec<_> = plans.all().filter(|p| p.kiosk).collect();
        if kiosk.is_empty() {
            return Err(Reason::NoPlans);
        }
        if kiosk.iter().any(|p| self.can_sell_plan(&p.id).is_ok()) {
            return Ok(());
        }
        Err(Reason::RouterDownAndPoolEmpty {
            router: self.settings().router_name.clone(),
        })
    }

    /// Whether one plan can be sold now. Answers from memory (the last router
    /// outcome and the cached pool counts): safe to call every 250 ms.
    pub fn can_sell_plan(&self, plan_id: &str) -> Result<(), Reason> {
        let plan = self
            .plans()
            .get(plan_id)
            .cloned()
            .ok_or_else(|| Reason::UnknownPlan(plan_id.into()))?;
        if self.router_reachable() {
            return Ok(());
        }
        let ready = self
            .inner
            .pool_ready
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&plan.id)
            .copied()
            .unwrap_or(0);
        if plan.pool > 0 && ready > 0 {
            return Ok(());
        }
        Err(Reason::RouterDownAndPoolEmpty {
            router: self.settings().router_name.clone(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
