//! `hotspot-agent status`: the kiosk's health on one screen, for a technician on the
//! box: the router (reachable now, transport, version, last good contact), the
//! kiosk's devices as the running service last reported them, the clock, the pool,
//! the outbox, the cash box and the alerts of the last day.

use std::fmt::Write as _;

use clap::Args;
use firmware_config::{Config, RouterConfig};
use serde::Serialize;

use crate::control::{self, LiveStatus, Reply, Request};
use crate::store::{Event, RouterStatus, Store};
use crate::today::{local_text, system_zone};
use crate::vouchers::monitor::Stats;
use crate::vouchers::Vouchers;
use routeros::HotspotApi;

use super::voucher::seller;

/// `status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Whether the system clock is synchronised, as systemd-timesyncd (or chrony through
/// timedated) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockSync {
    Synchronised,
    NotSynchronised,
    Unknown,
}

impl ClockSync {
    /// In the words `status` and the owner's page use.
    pub fn text(self) -> &'static str {
        match self {
            ClockSync::Synchronised => "synchronised",
            ClockSync::NotSynchronised => "NOT synchronised (check NTP: timedatectl)",
            ClockSync::Unknown => "unknown (no timedatectl)",
        }
    }
}

/// What `timedatectl show -p NTPSynchronized --value` printed.
pub fn clock_sync_from(answer: Option<&str>) -> ClockSync {
    match answer.map(str::trim) {
        Some("yes") => ClockSync::Synchronised,
        Some("no") => ClockSync::NotSynchronised,
        _ => ClockSync::Unknown,
    }
}

fn clock_sync() -> ClockSync {
    // timesyncd leaves this file while the clock is synchronised.
    if std::path::Path::new("/run/systemd/timesync/synchronized").exists() {
        return ClockSync::Synchronised;
    }
    let out = std::process::Command::new("timedatectl")
        .args(["show", "-p", "NTPSynchronized", "--value"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    clock_sync_from(out.as_deref())
}

/// How long `status` waits for the running service.
const LIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Everything `status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub router_name: String,
    pub router_reachable: bool,
    pub router_error: Option<String>,
    pub last_attempt: Option<RouterStatus>,
    pub last_good_contact: Option<RouterStatus>,
    pub clock: ClockSync,
    pub time_zone: Option<String>,
    pub stats: Stats,
    pub kiosk_devices: Vec<(String, String)>,
    /// The devices as the running service sees them (through its control socket).
    pub live: Option<LiveStatus>,
    /// Why the running service did not answer.
    pub live_error: Option<String>,
    /// The coin acceptor's identity and coin table as the service read them at start
    /// (ccTalk header 184 against `channel_values`): the event's time and text.
    pub coin_table: Option<Event>,
    /// The enforcement pass's last judgement of the clock (`vouchers::clock`).
    pub clock_judged: Option<crate::store::ClockState>,
    pub alerts: Vec<Event>,
}

/// Gathers the health screen: one router poll (recorded like any other), then the store.
pub async fn health<R: HotspotApi + Clone + 'static>(
    router: R,
    store: Store,
    config: &Config,
    chosen: &RouterConfig,
) -> anyhow::Result<Health> {
    let v = seller(router, store, config, chosen)?;
    health_of(&v, config, chosen).await
}

/// [`health`] with the voucher layer already open (the running service's).
pub async fn health_of<R: HotspotApi + Clone + 'static>(
    v: &Vouchers<R>,
    config: &Config,
    chosen: &RouterConfig,
) -> anyhow::Result<Health> {
    let store = v.store();
    let stats = v.stats().await?;
    let now = crate::store::now_ms();
    let socket = control::socket_path(&config.agent.state_dir);
    let (live, live_error) = match control::ask(&socket, &Request::Status, LIVE_WAIT).await {
        Ok(Reply::Status(live)) => (Some(live), None),
        Ok(other) => (None, Some(format!("unexpected answer {other:?}"))),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(Health {
        router_name: chosen.name.clone(),
        router_reachable: stats.users_total.is_some(),
        router_error: stats.router_error.clone(),
        last_attempt: store.last_router_status(Some(&chosen.name))?,
        last_good_contact: store.last_good_router_status(Some(&chosen.name))?,
        clock: clock_sync(),
        time_zone: stats.time_zone.clone(),
        kiosk_devices: config
            .kiosk
            .device_summary()
            .into_iter()
            .map(|(role, d)| (role.to_string(), d))
            .collect(),
        live,
        live_error,
        coin_table: store
            .events(Some(crate::app::seller::ACCEPTOR_EVENT), 1)?
            .into_iter()
            .next(),
        clock_judged: store.clock_state()?,
        alerts: store.alerts_since(now - 86_400_000, 20)?,
        stats,
    })
}

/// One router contact as a line: when, how, which version, how long it took.
pub fn status_line(s: &RouterStatus, tz: &jiff::tz::TimeZone) -> String {
    format!(
        "{} via {} {}{}",
        local_text(s.at_ms, tz),
        s.transport.as_deref().unwrap_or("-"),
        s.version.as_deref().unwrap_or("-"),
        s.latency_ms
            .map(|l| format!(", {l} ms"))
            .unwrap_or_default()
    )
}

/// A pool under half its target is shown as LOW.
pub fn pool_is_low(ready: u32, target: u32) -> bool {
    u64::from(ready) * 2 < u64::from(target)
}

/// The health screen as text.
pub fn health_text(h: &Health, currency: &str) -> String {
    let (tz, _) = system_zone();
    let mut out = String::new();
    let router = if h.router_reachable {
        "reachable".to_string()
    } else {
        format!("UNREACHABLE: {}", h.router_error.as_deref().unwrap_or("?"))
    };
    let _ = writeln!(out, "router         {} {router}", h.router_name);
    match &h.last_good_contact {
        Some(s) => {
            let _ = writeln!(out, "  last good    {}", status_line(s, &tz));
        }
        None => {
            let _ = writeln!(out, "  last good    never");
        }
    }
    if let Some(s) = h.last_attempt.as_ref().filter(|s| !s.ok) {
        let _ = writeln!(
            out,
            "  last failed  {} {}",
            local_text(s.at_ms, &tz),
            s.message.as_deref().unwrap_or("")
        );
    }
    match (&h.live, &h.live_error) {
        (Some(l), _) => {
            let _ = writeln!(
                out,
                "service        running (pid {}), {} voucher(s) handed over since it started",
                l.pid, l.delivered
            );
            if l.kiosk {
                let _ = writeln!(
                    out,
                    "  kiosk        {}, credit {}",
                    l.out_of_service
                        .as_deref()
                        .map_or("selling".to_string(), |r| format!("NOT selling: {r}")),
                    l.credit
                );
            }
        }
        (None, e) => {
            let _ = writeln!(
                out,
                "service        NOT ANSWERING: {}; the device lines below are the configuration only",
                e.as_deref().unwrap_or("?")
            );
        }
    }
    for (role, device) in &h.kiosk_devices {
        let now = h.live.as_ref().and_then(|l| match role.as_str() {
            "coin" => l.coin.clone(),
            "printer" => l.printer.clone(),
            "display" => l.display.clone(),
            _ => None,
        });
        match now {
            Some(state) => {
                let _ = writeln!(out, "{role:<14} {state} ({device})");
            }
            None => {
                let _ = writeln!(out, "{role:<14} {device}");
            }
        }
    }
    let clock = h.clock.text();
    let _ = writeln!(
        out,
        "clock          {clock}, time zone {}",
        h.time_zone.as_deref().unwrap_or("UTC (none set)")
    );
    match &h.clock_judged {
        Some(c) if c.trusted => {
            let _ = writeln!(out, "  judged       trusted (source: {})", c.source);
        }
        Some(c) => {
            let _ = writeln!(
                out,
                "  judged       UNTRUSTED: {}; no voucher expires by validity",
                c.detail
            );
        }
        None => {
            let _ = writeln!(out, "  judged       not yet (no enforcement pass has run)");
        }
    }
    if let Some(t) = &h.coin_table {
        let _ = writeln!(
            out,
            "coin table     read by the service at {}",
            local_text(t.at_ms, &tz)
        );
        for line in t.message.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    for (plan, ready, target) in &h.stats.pool {
        let low = if pool_is_low(*ready, *target) {
            "  LOW"
        } else {
            ""
        };
        let _ = writeln!(out, "pool {plan:<9} {ready}/{target}{low}");
    }
    let _ = writeln!(
        out,
        "outbox         {} message(s) waiting, {} router action(s) pending",
        h.stats.outbox_pending, h.stats.pending_actions
    );
    let _ = writeln!(
        out,
        "{}",
        super::cash::box_text(&h.stats.cash_box, currency)
    );
    if h.alerts.is_empty() {
        let _ = writeln!(out, "alerts         none in the last 24 h");
    } else {
        let _ = writeln!(out, "alerts         {} in the last 24 h", h.alerts.len());
        for a in &h.alerts {
            let _ = writeln!(
                out,
                "  {} {:<5} {:<18} {}{}",
                local_text(a.at_ms, &tz),
                a.level,
                a.kind,
                a.subject
                    .as_deref()
                    .map(|s| format!("{s}: "))
                    .unwrap_or_default(),
                a.message
            );
        }
    }
    out
}

/// Runs `status`.
pub async fn run<R: HotspotApi + Clone + 'static>(
    args: StatusArgs,
    router: R,
    store: Store,
    config: &Config,
    chosen: &RouterConfig,
) -> anyhow::Result<()> {
    let h = health(router, store, config, chosen).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&h)?);
    } else {
        print!("{}", health_text(&h, &config.vouchers.currency));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_answer_is_read_as_said() {
        assert_eq!(clock_sync_from(Some("yes\n")), ClockSync::Synchronised);
        assert_eq!(clock_sync_from(Some("no")), ClockSync::NotSynchronised);
        assert_eq!(clock_sync_from(None), ClockSync::Unknown);
    }

    #[cfg(feature = "sim")]
    #[tokio::test]
    async fn status_lists_alerts_and_the_last_good_contact_after_a_failure() {
        use crate::store::Level;
        use routeros::testing::FakeRouter;
        let store = Store::open_in_memory().unwrap();
        let config = Config::bundled_default();
        let chosen = RouterConfig {
            name: "main".into(),
            ..RouterConfig::default()
        };
        let now = crate::store::now_ms();
        store
            .record_event(
                Level::Alert,
                "pool_misuse",
                Some("ABC"),
                "logged in twice",
                now,
            )
            .unwrap();
        let ok = RouterStatus {
            at_ms: now - 120_000,
            router: "main".into(),
            ok: true,
            transport: Some("api".into()),
            addr: None,
            version: Some("7.18".into()),
            latency_ms: Some(3),
            message: None,
        };
        store.record_router_status(&ok).unwrap();
        store
            .record_router_status(&RouterStatus {
                at_ms: now - 60_000,
                ok: false,
                message: Some("timed out".into()),
                ..ok.clone()
            })
            .unwrap();
        let h = health(FakeRouter::new(), store, &config, &chosen)
            .await
            .unwrap();
        let text = health_text(&h, "PHP");
        assert!(text.contains("pool_misuse"), "{text}");
        assert!(text.contains("ABC: logged in twice"), "{text}");
        assert!(text.contains("last good"), "{text}");
        assert!(!text.contains("last good    never"), "{text}");
        assert!(text.contains("cash box"), "{text}");
        assert!(text.contains("coin "), "{text}");
        assert!(
            text.contains("service        NOT ANSWERING: the service is not running"),
            "{text}"
        );
        let live = Health {
            live: Some(LiveStatus {
                pid: 42,
                kiosk: true,
                printer: Some("out of paper".into()),
                coin: Some("ok".into()),
                ..LiveStatus::default()
            }),
            live_error: None,
            ..h
        };
        let text = health_text(&live, "PHP");
        assert!(text.contains("service        running (pid 42)"), "{text}");
        assert!(text.contains("printer        out of paper ("), "{text}");
    }

    #[cfg(feature = "sim")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn status_shows_the_coin_table_the_service_read_with_a_refused_channel() {
        use crate::app::seller::{KioskSeller, ACCEPTOR_EVENT};
        use routeros::testing::FakeRouter;
        let (vouchers, _router) = crate::vouchers::tests::setup().await;
        let mut config = Config::bundled_default();
        config.kiosk.coin.kind = firmware_config::kiosk::CoinKind::Sim;
        config.kiosk.printer.kind = firmware_config::kiosk::PrinterKind::Sim;
        config.kiosk.display.kind = firmware_config::kiosk::DisplayKind::None;
        config.kiosk.auto_buy = false;
        let seller = std::sync::Arc::new(KioskSeller::new(vouchers.clone(), None));
        let kiosk = kiosk::runner::start(&config, seller, None).await.unwrap();
        let store = vouchers.store().clone();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while store.events(Some(ACCEPTOR_EVENT), 1).unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "no coin table stored");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let chosen = RouterConfig {
            name: "main".into(),
            ..RouterConfig::default()
        };
        let h = health(FakeRouter::new(), store, &config, &chosen)
            .await
            .unwrap();
        let text = health_text(&h, "PHP");
        assert!(
            text.contains("coin table     read by the service"),
            "{text}"
        );
        assert!(text.contains("ccTalk address 2: Coin Acceptor"), "{text}");
        assert!(text.contains("PH005A   005       enabled"), "{text}");
        assert!(text.contains("  judged       not yet"), "{text}");
        kiosk.handle.stop().await;

        // An acceptor whose position 2 holds another coin than configured: the
        // channel was refused at start, and status says so.
        use kiosk::coin::cctalk_ident::{AcceptorInfo, ChannelCheck, Verdict};
        let info = AcceptorInfo {
            address: 2,
            category: Some("Coin Acceptor".into()),
            channels: vec![
                ChannelCheck {
                    channel: 1,
                    value: 1,
                    expected: None,
                    reported: Some("PH001A".into()),
                    verdict: Verdict::Matches,
                },
                ChannelCheck {
                    channel: 2,
                    value: 5,
                    expected: None,
                    reported: Some("PH100A".into()),
                    verdict: Verdict::Mismatch,
                },
            ],
            ..AcceptorInfo::default()
        };
        kiosk::Seller::record_acceptor(&KioskSeller::new(vouchers.clone(), None), info.to_string())
            .await
            .unwrap();
        let h = health(
            FakeRouter::new(),
            vouchers.store().clone(),
            &config,
            &chosen,
        )
        .await
        .unwrap();
        let text = health_text(&h, "PHP");
        let refused: Vec<&str> = text.lines().filter(|l| l.contains("REFUSED")).collect();
        assert_eq!(refused.len(), 1, "{text}");
        assert!(refused[0].contains("PH100A"), "{text}");
    }
}
