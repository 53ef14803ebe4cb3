//! Reconcile: compare the router's users that carry this site's comment with the
//! cache, report the drift, and fix it on request. Users without our comment are
//! never looked at twice, let alone touched.
//!
//! `report` finds the differences, `fix` repairs them, and `drift` tells the journal
//! and the central office of each episode once; this file runs them in that order.

mod drift;
mod fix;
mod report;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::now_ms;
use routeros::HotspotApi;

use super::{VoucherError, Vouchers};

pub use drift::DriftChange;
pub use fix::Fix;
pub use report::{compare, Drift, ReconcileReport};

impl<R: HotspotApi + Clone + 'static> Vouchers<R> {
    /// Compares router and cache; with `fix`, adopts unknown users of ours into the
    /// cache, re-creates sold vouchers that vanished (the customer paid), drops lost
    /// pool stock, and puts limits and profiles back. Drift is recorded as events.
    pub async fn reconcile(&self, fix: bool) -> Result<ReconcileReport, VoucherError> {
        self.reconcile_fixing(if fix { Fix::All } else { Fix::Nothing })
            .await
    }

    /// [`Vouchers::reconcile`], repairing the drift `fix` names.
    pub async fn reconcile_fixing(&self, fix: Fix) -> Result<ReconcileReport, VoucherError> {
        let (mut report, users) = self.report().await?;
        // Told before the repairs, so a repair that fails still leaves the drift told.
        let found: Vec<String> = report.drift.iter().map(ToString::to_string).collect();
        let news = self.store().note_drift(&found, &found, now_ms())?;
        let left = self.repair(fix, &mut report, &users, found).await?;
        if !report.fixed.is_empty() {
            self.store().note_drift(&[], &left, now_ms())?;
        }
        report.change = DriftChange::of(&news, !report.drift.is_empty(), left);
        Ok(report)
    }

    /// Reconciles every `interval` until cancelled, re-creating our profiles and the
    /// sold vouchers that are missing on the router (the rest is reported).
    pub async fn run_reconcile(self, interval: Duration, cancel: CancellationToken) {
        // The journal hears of drift a start finds still there once too.
        let mut first = true;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            // A paid voucher whose user vanished (a reset router, an old backup, a
            // user removed by hand) is put back at once, and so is a vanished profile
            // of ours first; other drift waits for the operator.
            if let Err(e) = self.restore_missing_profiles().await {
                tracing::warn!(error = %e, "reconcile failed; retrying next round");
                continue;
            }
            match self.reconcile_fixing(Fix::Missing).await {
                Ok(r) => {
                    for line in &r.fixed {
                        tracing::warn!("{line}");
                    }
                    let left = r.drift.len() - r.fixed.len();
                    r.change.tell(left, first);
                    first = false;
                }
                Err(e) => tracing::warn!(error = %e, "reconcile failed; retrying next round"),
            }
        }
    }
}
