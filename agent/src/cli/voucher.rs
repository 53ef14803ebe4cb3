//! `hotspot-agent voucher create|batch|list`: sell one voucher now (the seed's
//! POST /api/mikrotik/voucher), make a batch with a progress bar and a CSV, or list
//! the newest sales.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::Subcommand;
use firmware_config::{ByteSize, Config, Duration, RouterConfig};
use indicatif::{ProgressBar, ProgressStyle};

use crate::control::Request;
use crate::store::{Sale, Store};
use crate::vouchers::batch::{write_csv_file, BatchReport};
use crate::vouchers::{SoldVoucher, Vouchers};
use routeros::HotspotApi;

/// `voucher` subcommands.
#[derive(Debug, Subcommand)]
pub enum VoucherCommand {
    /// Sell one voucher of a plan now, from the pool if it has one.
    Create {
        /// Plan id (see `[[plan]]` in the config).
        #[arg(long)]
        plan: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Create it on the router now even if the pool has one.
        #[arg(long)]
        no_pool: bool,
    },
    /// Create many vouchers at once, with many router commands in flight.
    Batch {
        /// Plan id.
        #[arg(long)]
        plan: String,
        /// How many (1 to 10000).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        count: u32,
        /// Write code, password, plan, price, validity to this CSV file (must not exist).
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Print them as one sheet on the kiosk's own printer, through the running
        /// service (which owns the printer); at most 100. Refused while a customer is
        /// mid-purchase or the paper is out.
        #[arg(long, conflicts_with = "csv")]
        print: bool,
    },
    /// Print a voucher again on the kiosk's printer, marked REPRINT with the time of
    /// its first print (through the running service).
    Reprint {
        /// The voucher's code.
        code: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the newest vouchers in the local store.
    List {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

impl VoucherCommand {
    /// Whether the command sells (and so needs a router that outlives it).
    pub fn sells(&self) -> bool {
        matches!(
            self,
            VoucherCommand::Create { .. } | VoucherCommand::Batch { .. }
        )
    }

    /// The request for the running service, when the command prints on the kiosk's
    /// printer: that printer belongs to the service. The flag asks for JSON.
    pub fn through_service(&self) -> Option<(Request, bool)> {
        match self {
            VoucherCommand::Batch {
                plan,
                count,
                json,
                print: true,
                ..
            } => Some((
                Request::PrintBatch {
                    plan: plan.clone(),
                    count: *count,
                },
                *json,
            )),
            VoucherCommand::Reprint { code, json } => {
                Some((Request::Reprint { code: code.clone() }, *json))
            }
            _ => None,
        }
    }
}

/// The seller the CLI commands use: the store, the router and the config's plans.
pub fn seller<R: HotspotApi + Clone + 'static>(
    router: R,
    store: Store,
    config: &Config,
    chosen: &RouterConfig,
) -> anyhow::Result<Vouchers<R>> {
    Ok(Vouchers::from_config(
        store,
        router,
        config,
        chosen,
        crate::sync::outbox::sale_payload,
    )?)
}

fn describe(v: &SoldVoucher) -> String {
    let mut limits = Vec::new();
    if let Some(t) = v.time_limit_s {
        limits.push(format!("time {}", Duration::from_secs(t)));
    }
    if let Some(b) = v.data_limit_bytes {
        limits.push(format!("data {}", ByteSize(b)));
    }
    if let Some(d) = v.validity_s {
        limits.push(format!(
            "valid {} from {}",
            Duration::from_secs(d),
            v.validity_from
        ));
    }
    let mut out = format!("voucher  {}\n", v.code);
    if v.password != v.code {
        out.push_str(&format!("password {}\n", v.password));
    }
    out.push_str(&format!(
        "plan     {} ({}), {} {}\nlimits   {}\nsale     {}{}\nlogin    {}",
        v.plan_name,
        v.plan_id,
        v.price,
        v.currency,
        limits.join(", "),
        v.sale_id,
        if v.from_pool { " (from the pool)" } else { "" },
        v.login_url
    ));
    out
}

fn sale_line(s: &Sale) -> String {
    format!(
        "{:>6}  {:<12} {:<8} {:>6} {:<4} {:<12} {:<8} {}",
        s.id,
        s.code,
        s.plan_id,
        s.price,
        s.currency,
        s.state.as_str(),
        s.source,
        s.end_reason.as_deref().unwrap_or("")
    )
}

/// Hands a batch over: the CSV written and synced, or the report printed (JSON, or
/// one code and password a line).
fn hand_over(report: &BatchReport, csv: Option<&Path>, json: bool) -> std::io::Result<()> {
    if let Some(path) = csv {
        write_csv_file(path, &report.vouchers)?;
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
    } else if csv.is_none() {
        for s in &report.vouchers {
            writeln!(out, "{}\t{}", s.code, s.password)?;
        }
    }
    out.flush()
}

/// Runs a `voucher` subcommand.
// Long on purpose: one match arm per `voucher` subcommand; each arm is the whole command.
pub async fn run<R: HotspotApi + Clone + 'static>(
    cmd: VoucherCommand,
    router: R,
    store: Store,
    config: &Config,
    chosen: &RouterConfig,
) -> anyhow::Result<()> {
    let v = seller(router, store, config, chosen)?;
    match cmd {
        VoucherCommand::Create {
            plan,
            json,
            no_pool,
        } => {
            // Finish anything a crash left, so codes and pool counts are right.
            v.resume().await?;
            let sold = v.sell_from(&plan, None, "cli", !no_pool).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&sold)?);
            } else {
                println!("{}", describe(&sold));
            }
            // Printed on the terminal: the operator has it.
            v.mark_delivered(sold.sale_id)?;
        }
        VoucherCommand::Batch {
            plan,
            count,
            csv,
            json,
            print: _,
        } => {
            v.plan(&plan)?;
            if let Some(path) = &csv {
                anyhow::ensure!(
                    !path.exists(),
                    "{} already exists; pick a new file name (vouchers are never overwritten)",
                    path.display()
                );
            }
            let bar = ProgressBar::new(count as u64);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} {bar:40} {pos}/{len} vouchers {per_sec} {eta}",
            ) {
                bar.set_style(style);
            }
            let started = Instant::now();
            // The CSV (or the listing) is the delivery: it is on disk (or out) before
            // the one commit that marks the whole batch delivered.
            let (report, handed) = v
                .create_batch_delivered(&plan, count as usize, Some(&bar), |report| {
                    bar.finish_and_clear();
                    hand_over(report, csv.as_deref(), json)
                })
                .await?;
            let took = started.elapsed();
            handed.with_context(|| {
                let what = csv
                    .as_ref()
                    .map(|p| format!("writing {}", p.display()))
                    .unwrap_or_else(|| "printing the vouchers".into());
                format!("{what}: the vouchers are on the router and in the store; list them with `hotspot-agent voucher list`")
            })?;
            eprintln!(
                "{} vouchers of plan {plan} in {:.2}s ({:.0}/s; {}){}{}{}",
                report.vouchers.len(),
                took.as_secs_f64(),
                report.vouchers.len() as f64 / took.as_secs_f64().max(1e-6),
                report.times,
                csv.as_ref()
                    .map(|p| format!(", written to {}", p.display()))
                    .unwrap_or_default(),
                if report.failed.is_empty() {
                    String::new()
                } else {
                    format!(", {} failed", report.failed.len())
                },
                if report.waiting.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} waiting for the router (finished by the next start)",
                        report.waiting.len()
                    )
                },
            );
        }
        VoucherCommand::List { limit, json } => {
            let sales = v.store().recent_sales(limit)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&sales)?);
            } else {
                println!(
                    "{:>6}  {:<12} {:<8} {:>6} {:<4} {:<12} {:<8} ended",
                    "sale", "code", "plan", "price", "cur", "state", "source"
                );
                for s in &sales {
                    println!("{}", sale_line(s));
                }
            }
        }
        VoucherCommand::Reprint { .. } => {
            anyhow::bail!("voucher reprint goes through the running service (cli::run routes it)")
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::ops::{
        run_enforce, run_reconcile, run_stats, EnforceArgs, ReconcileArgs, StatsArgs,
    };
    use crate::cli::users::{self, UsersCommand};
    use clap::Parser;
    use routeros::testing::FakeRouter;

    #[derive(Parser)]
    struct Cmd {
        #[command(subcommand)]
        voucher: VoucherCommand,
    }

    fn chosen(config: &Config) -> RouterConfig {
        config.routers.first().cloned().unwrap_or_default()
    }

    async fn fixture() -> (FakeRouter, Store, Config) {
        let config = Config::parse(crate::vouchers::tests::CONFIG, "t.toml").unwrap();
        let router = FakeRouter::new();
        let store = Store::open_in_memory().unwrap();
        crate::cli::profiles::run(
            crate::cli::profiles::ProfilesCommand::Sync { dry_run: false },
            router.clone(),
            store.clone(),
            &config,
        )
        .await
        .unwrap();
        (router, store, config)
    }

    /// `voucher batch --plan 1h --count N --csv FILE`.
    fn batch_to_csv(count: u32, csv: &Path) -> Cmd {
        let count = count.to_string();
        let args = [
            "x",
            "batch",
            "--plan",
            "1h",
            "--count",
            count.as_str(),
            "--csv",
        ];
        Cmd::try_parse_from(args.into_iter().chain([csv.to_str().unwrap()])).unwrap()
    }

    #[tokio::test]
    async fn voucher_batch_with_csv_writes_the_file_and_marks_every_voucher_delivered() {
        let (router, store, config) = fixture().await;
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("v.csv");
        let cmd = batch_to_csv(12, &csv);
        run(
            cmd.voucher,
            router.clone(),
            store.clone(),
            &config,
            &chosen(&config),
        )
        .await
        .unwrap();
        let text = std::fs::read_to_string(&csv).unwrap();
        assert_eq!(text.lines().count(), 13);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&csv).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "the CSV holds passwords: owner only");
        }
        let sales = store.recent_sales(100).unwrap();
        assert_eq!(sales.len(), 12);
        assert!(sales
            .iter()
            .all(|s| s.state == crate::store::SaleState::Delivered && s.source == "batch"));
        // An existing file is never overwritten.
        let cmd = batch_to_csv(1, &csv);
        let err = run(cmd.voucher, router, store, &config, &chosen(&config))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("already exists"), "{err}");
    }

    #[tokio::test]
    async fn a_csv_that_cannot_be_written_says_where_the_vouchers_are_and_leaves_them_undelivered()
    {
        let (router, store, config) = fixture().await;
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("no-such-folder").join("v.csv");
        let cmd = batch_to_csv(4, &csv);
        let err = run(
            cmd.voucher,
            router,
            store.clone(),
            &config,
            &chosen(&config),
        )
        .await
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("writing ") && text.contains("voucher list"),
            "{text}"
        );
        let sales = store.recent_sales(100).unwrap();
        assert_eq!(sales.len(), 4);
        assert!(sales
            .iter()
            .all(|s| s.state == crate::store::SaleState::Provisioned));
    }

    #[tokio::test]
    async fn a_zero_count_or_unknown_plan_is_refused_with_a_reason() {
        assert!(Cmd::try_parse_from(["x", "batch", "--plan", "1h", "--count", "0"]).is_err());
        let (router, store, config) = fixture().await;
        let cmd = Cmd::try_parse_from(["x", "create", "--plan", "nope"]).unwrap();
        let err = run(cmd.voucher, router, store, &config, &chosen(&config))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("no plan \"nope\""), "{err}");
    }

    #[tokio::test]
    async fn create_stats_enforce_reconcile_and_remove_run_end_to_end() {
        let (router, store, config) = fixture().await;
        let cmd = Cmd::try_parse_from(["x", "create", "--plan", "cap", "--json"]).unwrap();
        run(
            cmd.voucher,
            router.clone(),
            store.clone(),
            &config,
            &chosen(&config),
        )
        .await
        .unwrap();
        let sale = store.recent_sales(1).unwrap().remove(0);
        assert_eq!(sale.state, crate::store::SaleState::Delivered);
        run_stats(
            StatsArgs { json: true },
            router.clone(),
            store.clone(),
            &config,
            &chosen(&config),
        )
        .await
        .unwrap();
        run_enforce(
            EnforceArgs {
                once: true,
                json: false,
            },
            router.clone(),
            store.clone(),
            &config,
            &chosen(&config),
        )
        .await
        .unwrap();
        run_reconcile(
            ReconcileArgs {
                fix: false,
                json: false,
            },
            router.clone(),
            store.clone(),
            &config,
            &chosen(&config),
        )
        .await
        .unwrap();
        router.add_foreign_user("STAFF", None);
        let err = users::run(
            UsersCommand::Remove {
                name: "STAFF".into(),
            },
            router.clone(),
            store.clone(),
            &config,
            &chosen(&config),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("not created by this agent"), "{err}");
        users::run(
            UsersCommand::Remove {
                name: sale.code.clone().into(),
            },
            router.clone(),
            store.clone(),
            &config,
            &chosen(&config),
        )
        .await
        .unwrap();
        assert!(router.all_users().iter().all(|u| u.name != sale.code));
        assert_eq!(
            store.sale(sale.id).unwrap().end_reason.as_deref(),
            Some("removed by operator")
        );
    }
}
