//! Many vouchers at once (what Mikhmon is used for), with many adds in flight on
//! the one router handle instead of one round trip after another. Rows are
//! reserved in one transaction first and marked in one transaction after, so a
//! crash in between is settled by `resume` like any sale. Also writes the CSV.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use indicatif::ProgressBar;
use serde::Serialize;

use crate::store::{now_ms, NewSale, Sale, StoreError};
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
    /// Where the time went (printed by `voucher batch`, not part of its JSON).
    #[serde(skip)]
    pub times: BatchTimes,
}

/// How long each part of a batch took.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchTimes {
    /// Codes drawn and the first rows committed as Reserved (the router connecting
    /// meanwhile); the later sets are committed during `router`.
    pub reserve: Duration,
    /// The router adds, and the few settled one by one after them.
    pub router: Duration,
    /// Handing the vouchers over (the CSV written and synced).
    pub deliver: Duration,
    /// The commit that marks them on the router (and delivered).
    pub commit: Duration,
}

impl std::fmt::Display for BatchTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "reserve {:.3}s, router {:.3}s, hand-over {:.3}s, commit {:.3}s",
            self.reserve.as_secs_f64(),
            self.router.as_secs_f64(),
            self.deliver.as_secs_f64(),
            self.commit.as_secs_f64()
        )
    }
}

/// Rows `voucher batch` commits as Reserved at a time: the adds of one set are in
/// flight while the next set is committed (one more FULL commit per set; 5,000
/// rows took 0.08-0.11 s to reserve in one, with no add out meanwhile).
pub const RESERVE_CHUNK: usize = 500;

/// The first set is smaller, so that adds go out while the rest of the first
/// `RESERVE_CHUNK` is committed: 500 in one batch of 500 took 45-79 ms (median 62)
/// from process start to exit, 100 then 400 took 48-61 ms (median 49), 50 then 450
/// 48-128 ms (six runs each, side by side, against one simulator at 2 ms).
pub const FIRST_SET: usize = 100;

/// The adds of a set of rows: those the router made at once, and the rest.
struct Sent {
    done: Vec<(Sale, String)>,
    trouble: Vec<(Sale, routeros::RouterError)>,
}

impl<R: HotspotApi + Clone + 'static> Vouchers<R> {
    /// Sends reserved rows (Reserved or PoolReserved) to the router, up to
    /// `settings.concurrency` adds in flight, and commits the successes together.
    pub async fn provision_rows(
        &self,
        rows: Vec<Sale>,
        progress: Option<&ProgressBar>,
    ) -> Result<Provisioned, VoucherError> {
        let sent = self.send_adds(stream::iter(rows), progress).await;
        crash_point("after_batch_adds");
        let done: Vec<(i64, String)> = sent.done.iter().map(|(s, id)| (s.id, id.clone())).collect();
        let (writes, encode) = (done.clone(), self.settings().sale_payload);
        self.on_store(move |store| store.mark_many_on_router(&writes, now_ms(), encode))
            .await?;
        let mut out = self.settle(sent.trouble).await?;
        out.on_router.extend(done.iter().map(|d| d.0));
        out.on_router.sort_unstable();
        Ok(out)
    }

    /// Sends one add per row as the rows come, up to `settings.concurrency` in
    /// flight; commits nothing.
    async fn send_adds(
        &self,
        rows: impl futures_util::Stream<Item = Sale>,
        progress: Option<&ProgressBar>,
    ) -> Sent {
        let site = self.settings().site_id.clone();
        let server = self.settings().hotspot_server.clone();
        let router = self.router().clone();
        let results: Vec<(Sale, Result<String, routeros::RouterError>)> = rows
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
        let mut sent = Sent {
            done: Vec::with_capacity(results.len()),
            trouble: Vec::new(),
        };
        for (sale, r) in results {
            self.note_router(&r);
            match r {
                Ok(id) => sent.done.push((sale, id)),
                Err(e) => sent.trouble.push((sale, e)),
            }
        }
        sent
    }

    /// The few adds that did not simply succeed, through the full state machine
    /// (each settles and commits on its own).
    async fn settle(
        &self,
        trouble: Vec<(Sale, routeros::RouterError)>,
    ) -> Result<Provisioned, VoucherError> {
        let site = self.settings().site_id.clone();
        let server = self.settings().hotspot_server.clone();
        let mut out = Provisioned::default();
        for (sale, e) in trouble {
            let (mut i, _) = Issuance::fresh(&sale, &site, server.as_deref());
            let step = i.on_add(Err(&e));
            match self.drive(i, step).await? {
                Finished::OnRouter => out.on_router.push(sale.id),
                Finished::Failed(r) => out.failed.push((sale.id, r)),
                Finished::Waiting(r) => out.waiting.push((sale.id, r)),
            }
        }
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
        // Drawn distinct from each other, then checked against the store in one read;
        // a code found there is never drawn again (it stays in `chosen`) and its place
        // is drawn anew, for as many rounds as keep finding new codes.
        let mut chosen: HashSet<String> = HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        let mut fruitless = 0;
        while out.len() < count {
            let mut drawn = Vec::with_capacity(count - out.len());
            while drawn.len() < count - out.len() {
                let c = self
                    .codes()
                    .generate_unique(|c| chosen.contains(c))?
                    .ok_or(VoucherError::CodesExhausted)?;
                chosen.insert(c.code.clone());
                drawn.push(c);
            }
            let taken = self
                .store()
                .codes_taken(drawn.iter().map(|c| c.code.as_str()))?;
            let before = out.len();
            out.extend(drawn.into_iter().filter(|c| !taken.contains(&c.code)));
            fruitless = if out.len() == before {
                fruitless + 1
            } else {
                0
            };
            if fruitless >= 16 {
                return Err(VoucherError::CodesExhausted);
            }
        }
        Ok(out)
    }

    /// Creates `count` vouchers of a plan, sold now (source `batch`), and leaves them
    /// Provisioned: the caller hands them over (prints them) and marks them delivered.
    pub async fn create_batch(
        &self,
        plan_id: &str,
        count: usize,
        progress: Option<&ProgressBar>,
    ) -> Result<BatchReport, VoucherError> {
        let (plan, sales, _, reserved) = self
            .reserve_batch(plan_id, count, usize::MAX, usize::MAX)
            .await?;
        let started = Instant::now();
        let p = self.provision_rows(sales, progress).await?;
        let router = started.elapsed();
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
            times: BatchTimes {
                reserve: reserved,
                router,
                ..BatchTimes::default()
            },
        })
    }

    /// [`Vouchers::create_batch`] for a hand-over that is a file (`voucher batch`'s
    /// CSV, or its listing): `deliver` gets the report (the vouchers on the router)
    /// and must have them on disk when it returns; then one commit marks them on the router and
    /// delivered. Every row was committed as Reserved before its add went out, so a
    /// crash before that last commit leaves rows that `resume` finishes, as today.
    /// When `deliver` fails, the rows are committed as on the router (not delivered)
    /// and its error is returned beside the report.
    pub async fn create_batch_delivered(
        &self,
        plan_id: &str,
        count: usize,
        progress: Option<&ProgressBar>,
        deliver: impl FnOnce(&BatchReport) -> std::io::Result<()>,
    ) -> Result<(BatchReport, std::io::Result<()>), VoucherError> {
        let (plan, first, rest, reserved) = self
            .reserve_batch(plan_id, count, FIRST_SET, RESERVE_CHUNK)
            .await?;
        let mut times = BatchTimes {
            reserve: reserved,
            ..BatchTimes::default()
        };
        let started = Instant::now();
        // The later sets are committed one after another on the blocking pool while
        // the adds of the sets before them are in flight; a set's rows join the adds
        // only once they are on disk, so every voucher is still committed before its
        // add goes out. A failed set stops the ones after it; the batch then ends
        // with that error once the adds already out are back (their rows stay
        // Reserved, with their users on the router, for `resume`, as after a crash).
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let store = self.store().clone();
        let reserving = tokio::task::spawn_blocking(move || {
            for rows in rest {
                let set = reserve_rows(&store, &rows);
                let failed = set.is_err();
                if tx.blocking_send(set).is_err() || failed {
                    break;
                }
            }
        });
        let later_failed = std::sync::Mutex::new(None);
        let later = stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|set| (set, rx)) },
        )
        .filter_map(|set| {
            let rows = match set {
                Ok(rows) => Some(stream::iter(rows)),
                Err(e) => {
                    *later_failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                    None
                }
            };
            std::future::ready(rows)
        })
        .flatten();
        let sent = self
            .send_adds(stream::iter(first).chain(later), progress)
            .await;
        reserving
            .await
            .map_err(|e| VoucherError::StoreTask(e.to_string()))?;
        if let Some(e) = later_failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e.into());
        }
        crash_point("after_batch_adds");
        let settled = self.settle(sent.trouble).await?;
        times.router = started.elapsed();
        // The rows added at once are as they were read after the reserve; the ones
        // settled one by one may have a new code, so they are read again.
        let mut vouchers: Vec<SoldVoucher> = sent
            .done
            .iter()
            .map(|(s, _)| self.sold(s, &plan.name, false))
            .collect();
        vouchers.extend(
            self.store()
                .sales_by_ids(&settled.on_router)?
                .iter()
                .map(|s| self.sold(s, &plan.name, false)),
        );
        vouchers.sort_by_key(|v| v.sale_id);
        let mut report = BatchReport {
            vouchers,
            failed: settled.failed,
            waiting: settled.waiting,
            times,
        };
        let started = Instant::now();
        let handed = deliver(&report);
        report.times.deliver = started.elapsed();
        let started = Instant::now();
        let (encode, ok, added) = (self.settings().sale_payload, handed.is_ok(), sent.done);
        let on_router = settled.on_router.clone();
        self.on_store(move |store| {
            if ok {
                store.deliver_batch(&added, &on_router, now_ms(), encode)
            } else {
                let ids: Vec<(i64, String)> = added.into_iter().map(|(s, id)| (s.id, id)).collect();
                store.mark_many_on_router(&ids, now_ms(), encode)
            }
        })
        .await?;
        report.times.commit = started.elapsed();
        Ok((report, handed))
    }

    /// Draws the codes and commits the first `first` rows as Reserved (while the
    /// router connects); returns the plan, those rows as stored, the rows still to
    /// reserve in sets of `chunk`, and how long it took.
    async fn reserve_batch(
        &self,
        plan_id: &str,
        count: usize,
        first: usize,
        chunk: usize,
    ) -> Result<
        (
            crate::store::StoredPlan,
            Vec<Sale>,
            Vec<Vec<NewSale>>,
            Duration,
        ),
        VoucherError,
    > {
        let started = Instant::now();
        let plan = self.plan(plan_id)?;
        // The connection and login go out now and are done by the time the rows
        // are committed, instead of costing their round trips after it.
        let warm = {
            let router = self.router().clone();
            tokio::spawn(async move { router.connect_now().await })
        };
        let codes = self.fresh_codes(count).await?;
        let mut rows: Vec<_> = codes
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
        let mut later = rows
            .split_off(first.clamp(1, chunk.max(1)).min(rows.len()))
            .into_iter();
        let rest: Vec<Vec<NewSale>> = std::iter::from_fn(|| {
            let set: Vec<NewSale> = later.by_ref().take(chunk.max(1)).collect();
            (!set.is_empty()).then_some(set)
        })
        .collect();
        let sales = self
            .on_store(move |store| reserve_rows(store, &rows))
            .await?;
        // A failed connect is left to the adds: each one reports it, and the rows
        // stay reserved for `resume`, as when the router goes away mid-batch.
        let _ = warm.await;
        Ok((plan, sales, rest, started.elapsed()))
    }
}

/// Commits rows as Reserved in one transaction; returns them as stored.
fn reserve_rows(store: &crate::store::Store, rows: &[NewSale]) -> Result<Vec<Sale>, StoreError> {
    store.reserve_batch(rows, now_ms())
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
    w.get_ref().sync_all()?;
    // The file is new: until its folder is synced too, a power cut can lose its
    // name, and with it every code of the batch.
    #[cfg(unix)]
    {
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(folder)?.sync_all()?;
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
