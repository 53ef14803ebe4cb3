//! The voucher pool: per plan, users pre-created on the router and kept topped up
//! in the background, so a sale takes one in a single local transaction and goes
//! on while the router API is down. Pool users are created enabled (a sale must not
//! need the router); enforcement disconnects any session on an unsold one.

use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::store::{now_ms, Level, SaleState};
use routeros::HotspotApi;

use super::plans::new_sale_for;

/// How soon the next round comes while something waits for the router.
pub const RETRY: Duration = Duration::from_secs(1);
use super::{VoucherError, Vouchers};

/// Stock of one plan after a refill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolLevel {
    pub plan_id: String,
    pub target: u32,
    pub ready: u32,
    /// Added now.
    pub created: u32,
    /// Rows still waiting for the router.
    pub pending: u32,
}

/// Refreshes the seller's cached pool counts however a refill ends.
struct RefreshOnDrop<'a, R: HotspotApi + Clone + 'static>(&'a Vouchers<R>);

impl<R: HotspotApi + Clone + 'static> Drop for RefreshOnDrop<'_, R> {
    fn drop(&mut self) {
        if let Err(e) = self.0.refresh_pool_cache() {
            tracing::warn!(error = %e, "cannot read pool counts");
        }
    }
}

/// Keeps the pools topped up.
pub struct Pool<R> {
    vouchers: Vouchers<R>,
}

impl<R: HotspotApi + Clone + 'static> Pool<R> {
    /// A pool keeper for a seller's plans.
    pub fn new(vouchers: Vouchers<R>) -> Pool<R> {
        Pool { vouchers }
    }

    /// One refill of every plan with `pool > 0`. A router failure leaves the rows
    /// reserved for the next round; a pool below half its size raises an alert.
    pub async fn refill_once(&self) -> Result<Vec<PoolLevel>, VoucherError> {
        let v = &self.vouchers;
        let store = v.store();
        // Rows left half-made by a crash or an outage first (paid sales too: this
        // background round is what finishes a sale once the router is back).
        let stuck = store.sales_in(&[SaleState::Reserved, SaleState::PoolReserved])?;
        if !stuck.is_empty() {
            v.resume_settled().await?;
        }
        let mut levels = Vec::new();
        let _refresh = RefreshOnDrop(v);
        for plan in v.plans().all().filter(|p| p.pool > 0) {
            let (ready, pending) = store.pool_counts(&plan.id)?;
            let missing = plan.pool.saturating_sub(ready + pending);
            let mut created = 0;
            if missing > 0 && !v.router_reachable() {
                // Probe before reserving rows that could only fail.
                let probe = v.router().identity().await;
                v.note_router(&probe);
            }
            if missing > 0 && v.router_reachable() {
                let codes = v.fresh_codes(missing as usize).await?;
                let rows: Vec<_> = codes
                    .into_iter()
                    .map(|c| {
                        new_sale_for(plan, c.code, c.password, &v.settings().router_name, "pool")
                    })
                    .collect();
                let ids = store.reserve_pool(&rows, now_ms())?;
                let sales = store.sales_by_ids(&ids)?;
                let p = v.provision_rows(sales, None).await?;
                created = p.on_router.len() as u32;
            }
            let (ready, pending) = store.pool_counts(&plan.id)?;
            if ready * 2 < plan.pool {
                store.record_event(
                    Level::Alert,
                    "pool_low",
                    Some(&plan.id),
                    &format!(
                        "pool of plan {} has {ready} of {} vouchers ready{}",
                        plan.id,
                        plan.pool,
                        if v.router_reachable() {
                            ""
                        } else {
                            "; the router is unreachable"
                        }
                    ),
                    now_ms(),
                )?;
            }
            levels.push(PoolLevel {
                plan_id: plan.id.clone(),
                target: plan.pool,
                ready,
                created,
                pending,
            });
        }
        Ok(levels)
    }

    /// Refills every `interval` until cancelled; errors are logged and retried.
    /// Between rounds it looks every [`RETRY`] whether a sale waits for the router
    /// (its customer already holds the ticket; the sale may come from another process,
    /// e.g. `voucher create`) or the router is away, and then comes round at once: the
    /// ticket works and the coin slot reopens within a second of the router answering
    /// again, even when the sale started waiting in the middle of a long interval.
    pub async fn run(self, interval: Duration, cancel: CancellationToken) {
        let mut settled = false;
        let mut last_round: Option<std::time::Instant> = None;
        loop {
            let due = last_round.map_or(true, |at| at.elapsed() >= interval);
            if due || !settled || self.something_waits() {
                settled = match self.refill_once().await {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::warn!(error = %e, "pool refill failed; retrying next round");
                        false
                    }
                };
                last_round = Some(std::time::Instant::now());
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(interval.min(RETRY)) => {}
            }
        }
    }

    /// Whether a round is needed before the interval is up: a sale or pool voucher is
    /// unfinished, or the last router call failed. One indexed read of the store.
    fn something_waits(&self) -> bool {
        !self.vouchers.router_reachable()
            || self
                .vouchers
                .store()
                .sales_in(&[SaleState::Reserved, SaleState::PoolReserved])
                .map_or(true, |s| !s.is_empty())
    }
}
