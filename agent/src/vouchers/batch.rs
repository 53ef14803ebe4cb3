//! Many vouchers at once (what Mikhmon is used for), with many adds in flight on
//! the one router handle instead of one round trip after another. Rows are
//! reserved in one transaction first and marked in one transaction after, so a
//! crash in between is settled by `resume` like any sale. Also writes the CSV.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use futures_util::stream::{self, StreamExt};
use indicatif::ProgressBar;
use serde::Serialize;

use crate::store::{now_ms, Sale};
use routeros::HotspotApi;

use super::issue::{Finished, Issuance};
use super::plans::{new_sale_for, new_user_for};
use super::{crash_point, SoldVoucher, VoucherError, Vouchers};

/// What happened to a set of rows sent to the router together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Provisioned {
    /// Rows now on the router.
    pub on_router: Vec<i64>,
    /// Rows that failed (credit, if any, refunded), with the reason.
    pub failed: Vec<(i64, String)>,
    /// Rows still unfinished (the router stopped answering); `resume` finishes them.
    pub waiting: Vec<(i64, String)>,
}

/// The result of `voucher batch`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BatchReport {
    pub vouchers: Vec<SoldVoucher>,
    pub failed: Vec<(i64, String)>,
    pub waiting: Vec<(i64, String)>,
}

impl<R: HotspotApi + Clone + 'static> Vouchers<R> {
    /// Sends reserved rows (Reserved or PoolReserved) to the router, up to
    /// `settings.concurrency` adds in flight, and commits the successes together.
    pub async fn provision_rows(
        &self,
        rows: Vec<Sale>,
        progress: Option<&ProgressBar>,
    ) -> Result<Provisioned, VoucherError> {
        let site = self.settings().site_id.clone();
        let server = self.settings().hotspot_server.clone();
        let router = self.router().clone();
        let results: Vec<(Sale, Result<String, routeros::RouterError>)> = stream::iter(rows)
            .map(|sale| {
                let router = router.clone();
                let user = new_user_for(&sale, &site, server.as_deref());
                async move {
                    let r = router.add_user(&user).await;
                    (sale, r)
                }
            })
            .buffer_unordered(self.settings().concurrency.max(1))
            .inspect(|_| {
                if let Some(p) = progress {
                    p.inc(1);
                }
            })
            .collect()
            .await;
        let mut out = Provisioned::default();
        let mut done = Vec::new();
        let mut trouble = Vec::new();
        for (sale, r) in results {
            self.note_router(&r);
            match r {
                Ok(id) => done.push((sale.id, id)),
                Err(e) => trouble.push((sale, e)),
            }
        }
        crash_point("after_batch_adds");
        let (writes, encode) = (done.clone(), self.settings().sale_payload);
        self.on_store(move |store| store.mark_many_on_router(&writes, now_ms(), encode))
            .await?;
        out.on_router.extend(done.iter().map(|d| d.0));
        // The few that did not simply succeed go through the full state machine.
        for (sale, e) in trouble {
            let (mut i, _) = Issuance::fresh(&sale, &site, server.as_deref());
            let step = i.on_add(Err(&e));
            match self.drive(i, step).await? {
                Finished::OnRouter => out.on_router.push(sale.id),
                Finished::Failed(r) => out.failed.push((sale.id, r)),
                Finished::Waiting(r) => out.waiting.push((sale.id, r)),
            }
        }
        out.on_router.sort_unstable();
        Ok(out)
    }

    /// Codes unknown to the cache and to each other. The router is not listed: that
    /// print grows with its table (6,000 names took longer than 500 adds at 2 ms),
    /// while a clash with a user that is not ours (about one in 10^11 per code with
    /// the default 8 characters) is caught by the add's own `already have user` and
    /// settled by the same look-up and new code as a single sale's.
    pub(crate) async fn fresh_codes(
        &self,
        count: usize,
    ) -> Result<Vec<super::Credentials>, VoucherError> {
        let mut chosen: HashSet<String> = HashSet::new();
        let mut out = Vec::with_capacity(count);
        let store = self.store();
        for _ in 0..count {
            let c = self
                .codes()
                .generate_unique(|c| chosen.contains(c) || store.code_exists(c).unwrap_or(true))?
                .ok_or(VoucherError::CodesExhausted)?;
            chosen.insert(c.code.clone());
            out.push(c);
        }
        Ok(out)
    }

    /// Creates `count` vouchers of a plan, sold now (source `batch`).
    pub async fn create_batch(
        &self,
        plan_id: &str,
        count: usize,
        progress: Option<&ProgressBar>,
    ) -> Result<BatchReport, VoucherError> {
        let plan = self.plan(plan_id)?;
        let codes = self.fresh_codes(count).await?;
        let rows: Vec<_> = codes
            .into_iter()
            .map(|c| {
                new_sale_for(
                    &plan,
                    c.code,
                    c.password,
                    &self.settings().router_name,
                    "batch",
                )
            })
            .collect();
        let sales = self
            .on_store(move |store| {
                let ids = store.reserve_batch(&rows, now_ms())?;
                store.sales_by_ids(&ids)
            })
            .await?;
        let p = self.provision_rows(sales, progress).await?;
        let vouchers = self
            .store()
            .sales_by_ids(&p.on_router)?
            .iter()
            .map(|s| self.sold(s, &plan.name, false))
            .collect();
        Ok(BatchReport {
            vouchers,
            failed: p.failed,
            waiting: p.waiting,
        })
    }
}

/// Writes vouchers as CSV: code, password, plan, price, validity (and limits).
pub fn write_csv(out: &mut impl Write, vouchers: &[SoldVoucher]) -> std::io::Result<()> {
    writeln!(
        out,
        "code,password,plan,price,currency,validity,time_limit,data_limit,sale_id"
    )?;
    for v in vouchers {
        let dur = |s: Option<u64>| {
            s.map(|s| firmware_config::Duration::from_secs(s).to_string())
                .unwrap_or_default()
        };
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            csv_field(&v.code),
            csv_field(&v.password),
            csv_field(&v.plan_id),
            v.price,
            csv_field(&v.currency),
            dur(v.validity_s),
            dur(v.time_limit_s),
            v.data_limit_bytes
                .map(|b| b.to_string())
                .unwrap_or_default(),
            v.sale_id
        )?;
    }
    Ok(())
}

/// Writes the CSV to a file (created fresh, never overwriting an existing one).
pub fn write_csv_file(path: &Path, vouchers: &[SoldVoucher]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    // The file holds every password of the batch: readable by its owner only,
    // whatever the umask.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    let mut w = std::io::BufWriter::new(file);
    write_csv(&mut w, vouchers)?;
    w.flush()?;
    w.get_ref().sync_all()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
