//! `hotspot-agent stats|reconcile|enforce`: the site at a glance, router vs cache,
//! and the enforcement loop (with the pool and periodic reconcile beside it).

use clap::Args;
use firmware_config::{ByteSize, Config, RouterConfig};
use tokio_util::sync::CancellationToken;

use crate::store::Store;
use crate::vouchers::{Enforcer, Pool};
use routeros::HotspotApi;

use super::voucher::seller;

/// `stats` options.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `reconcile` options.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Fix what differs (adopt our users missing from the cache, re-create sold
    /// vouchers missing on the router, restore limits).
    #[arg(long)]
    pub fix: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `enforce` options.
#[derive(Debug, Args)]
pub struct EnforceArgs {
    /// One pass, then exit. Without it: run enforcement, pool refills and reconcile until Ctrl-C.
    #[arg(long)]
    pub once: bool,
    /// Print the pass report as JSON (with --once).
    #[arg(long)]
    pub json: bool,
}

/// Runs `stats`.
pub async fn run_stats<R: HotspotApi + Clone + 'static>(
    args: StatsArgs,
    router: R,
    store: Store,
    config: &Config,
    chosen: &RouterConfig,
) -> anyhow::Result<()> {
    let v = seller(router, store, config, chosen)?;
    let st = v.stats().await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&st)?);
        return Ok(());
    }
    match (&st.users_per_profile, st.users_total) {
        (Some(per), Some(total)) => {
            println!("users          {total}");
            for (p, n) in per {
                println!("  {p:<12} {n}");
            }
            println!(
                "sessions       {} active, {} idle",
                st.sessions_active.unwrap_or(0),
                st.sessions_idle.unwrap_or(0)
            );
        }
        _ => println!(
            "router         unreachable: {}",
            st.router_error.as_deref().unwrap_or("?")
        ),
    }
    print!("{}", takings_text(&st, &config.vouchers.currency));
    for (plan, ready, target) in &st.pool {
        println!("pool {plan:<9} {ready}/{target}");
    }
    println!(
        "pending        {} router actions, {} outbox messages",
        st.pending_actions, st.outbox_pending
    );
    if let Some(s) = &st.last_router_status {
        println!(
            "last connect   {} {} {} {}",
            if s.ok { "ok" } else { "FAILED" },
            s.transport.as_deref().unwrap_or("-"),
            s.version.as_deref().unwrap_or("-"),
            s.message.as_deref().unwrap_or("")
        );
    }
    // While the service runs, its enforcement pass's judgement is the one that counts:
    // it watches the clock beside the monotonic one (so it sees a step) and asks the
    // router, where one reading here can do neither.
    let checkpoint = v.store().clock_checkpoint()?;
    let fresh = crate::vouchers::clock::ClockJudge::new(checkpoint, 0).observe(
        crate::store::now_ms(),
        0,
        crate::vouchers::clock::system_synced(),
    );
    let socket = crate::control::socket_path(&config.agent.state_dir);
    let live = crate::control::ask(
        &socket,
        &crate::control::Request::Status,
        std::time::Duration::from_secs(2),
    )
    .await
    .is_ok();
    let judged = if live { v.store().clock_state()? } else { None };
    match clock_verdict(&fresh, judged.as_ref()) {
        Ok(source) => println!("clock          trusted ({source})"),
        Err(why) => {
            println!("clock          UNTRUSTED: {why}; no voucher expires by validity until it is")
        }
    }
    Ok(())
}

/// The clock's verdict for `stats`: where a trusted time comes from, or why it is not
/// trusted. `judged` is the running service's last judgement (`None` when the service
/// is not running): it wins over `fresh`, one reading taken here.
fn clock_verdict(
    fresh: &crate::vouchers::clock::ClockReading,
    judged: Option<&crate::store::ClockState>,
) -> Result<String, String> {
    match judged {
        Some(j) if j.trusted => Ok(format!("source: {}, the service's last pass", j.source)),
        Some(j) => Err(format!(
            "{} (the service's last pass)",
            if j.detail.is_empty() {
                "untrusted"
            } else {
                &j.detail
            }
        )),
        None => match &fresh.why {
            None => Ok("one reading; the service is not running".into()),
            Some(why) => Err(why.clone()),
        },
    }
}

/// What the vouchers of a sales channel are, in the owner's words (`stats` and the
/// owner's page).
pub fn channel_meaning(channel: &str) -> &'static str {
    match channel {
        "coins" => "sold at the kiosk for coins",
        "batch" => "made in batches (not money until sold)",
        "cli" => "made on the command line (not counted as money)",
        "remote" => "made by the central office",
        _ => "made",
    }
}

/// Today's money and vouchers: coins taken apart from vouchers each channel made, the
/// day counted in the kiosk's time zone, and the cash box.
pub fn takings_text(st: &crate::vouchers::monitor::Stats, currency: &str) -> String {
    use std::fmt::Write as _;
    let (tz, _) = crate::today::system_zone();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "today          since {} {}",
        crate::today::local_text(st.day_start_ms, &tz),
        st.time_zone.as_deref().unwrap_or("UTC")
    );
    let t = &st.takings_today;
    let _ = writeln!(
        out,
        "money in       {} {currency} in {} coins",
        t.coins_value, t.coins
    );
    if t.per_channel.is_empty() {
        let _ = writeln!(out, "vouchers       none today");
    }
    for c in &t.per_channel {
        let what = channel_meaning(&c.channel);
        let _ = writeln!(
            out,
            "vouchers       {:<7} {} ({} {currency} face value) {what}",
            c.channel, c.vouchers, c.value
        );
    }
    for (plan, n, total) in &st.sales_today.per_plan {
        let _ = writeln!(out, "  plan {plan:<7} {n} ({total} {currency})");
    }
    let _ = writeln!(
        out,
        "data today     {}",
        ByteSize(st.data_used_today).human()
    );
    let _ = writeln!(out, "{}", super::cash::box_text(&st.cash_box, currency));
    out
}

/// Runs `reconcile`.
pub async fn run_reconcile<R: HotspotApi + Clone + 'static>(
    args: ReconcileArgs,
    router: R,
    store: Store,
    config: &Config,
    chosen: &RouterConfig,
) -> anyhow::Result<()> {
    let v = seller(router, store, config, chosen)?;
    let r = v.reconcile(args.fix).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!(
        "{} of our users on the router, {} vouchers in the cache",
        r.router_users, r.cached
    );
    for d in &r.drift {
        println!("drift  {d}");
    }
    for f in &r.fixed {
        println!("fixed  {f}");
    }
    if r.drift.is_empty() {
        println!("router and cache agree");
    } else if !args.fix {
        println!("run `hotspot-agent reconcile --fix` to repair");
    }
    Ok(())
}

/// Runs `enforce`.
pub async fn run_enforce<R: HotspotApi + Clone + 'static>(
    args: EnforceArgs,
    router: R,
    store: Store,
    config: &Config,
    chosen: &RouterConfig,
) -> anyhow::Result<()> {
    let v = seller(router, store, config, chosen)?;
    v.resume().await?;
    if args.once {
        let r = Enforcer::new(v.clone()).pass_once().await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            println!(
                "{} users, {} sessions; {} actions queued, {} done, {} waiting{}",
                r.users,
                r.sessions,
                r.actions_queued,
                r.actions_done,
                r.actions_pending,
                if r.router_ok {
                    ""
                } else {
                    " (router unreachable: actions wait)"
                }
            );
            if let Some(why) = &r.clock_untrusted {
                println!("clock untrusted: {why}; validity was not judged");
            }
        }
        return Ok(());
    }
    let cancel = CancellationToken::new();
    let e = config.enforcement.clone();
    let tasks = [
        tokio::spawn(Enforcer::new(v.clone()).run(e.interval.std(), cancel.clone())),
        tokio::spawn(Pool::new(v.clone()).run(e.interval.std(), cancel.clone())),
        tokio::spawn(
            v.clone()
                .run_reconcile(e.reconcile_interval.std(), cancel.clone()),
        ),
    ];
    tokio::signal::ctrl_c().await?;
    cancel.cancel();
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ChannelSales, Takings};

    #[test]
    fn stats_give_the_running_services_clock_judgement_over_one_reading() {
        use crate::vouchers::clock::{ClockReading, ClockSource};
        let fine = ClockReading {
            now_ms: 1_700_000_000_000,
            trusted: true,
            why: None,
            source: ClockSource::System,
        };
        let behind = ClockReading {
            trusted: false,
            why: Some("before a time already seen".into()),
            ..fine.clone()
        };
        let judged = |trusted: bool, source: &str| crate::store::ClockState {
            trusted,
            source: source.into(),
            detail: if trusted {
                String::new()
            } else {
                "the clock was stepped forward by 432000 s".into()
            },
            at_ms: 1_700_000_000_000,
            router_mark: None,
        };
        // A step one reading cannot see: the service saw it.
        let why = clock_verdict(&fine, Some(&judged(false, "floor"))).unwrap_err();
        assert!(why.contains("stepped forward by 432000 s"), "{why}");
        // The router vouches for the time although the board's clock is behind.
        let ok = clock_verdict(&behind, Some(&judged(true, "router"))).unwrap();
        assert!(ok.contains("source: router"), "{ok}");
        // No service running: the reading taken here.
        assert_eq!(
            clock_verdict(&behind, None).unwrap_err(),
            "before a time already seen"
        );
        assert!(clock_verdict(&fine, None).is_ok());
    }

    #[test]
    fn stats_keep_money_taken_apart_from_a_batch_in_a_drawer() {
        let st = crate::vouchers::monitor::Stats {
            takings_today: Takings {
                coins: 2,
                coins_value: 10,
                per_channel: vec![
                    ChannelSales {
                        channel: "coins".into(),
                        vouchers: 2,
                        value: 10,
                    },
                    ChannelSales {
                        channel: "batch".into(),
                        vouchers: 50,
                        value: 250,
                    },
                ],
            },
            ..Default::default()
        };
        let text = takings_text(&st, "PHP");
        assert!(text.contains("money in       10 PHP in 2 coins"), "{text}");
        assert!(
            text.contains("batch   50 (250 PHP face value) made in batches (not money until sold)"),
            "{text}"
        );
        assert!(!text.contains("260"), "no sum of coins and batches: {text}");
    }
}
