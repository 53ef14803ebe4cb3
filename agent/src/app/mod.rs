//! The agent's main job, as the systemd unit runs it: open the store, finish
//! unfinished sales, keep the pool topped up, enforce quotas and validity,
//! reconcile, run the kiosk, and sync with the central office when configured.

pub mod actions;
pub mod profiles;
pub mod pushed_plans;
pub mod routers_file;
pub mod seller;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use firmware_config::Config;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::service;
use crate::store::Store;
use crate::sync::{self, SiteHandle};
use crate::vouchers::{Enforcer, Pool, Vouchers};
use kiosk::machine::Alert;
use kiosk::runner::Kiosk;
use routeros::SharedRouter;

pub use actions::SiteActions;
pub use seller::KioskSeller;

/// Time between pool refill rounds (each also finishes sales waiting for the router).
const POOL_INTERVAL: Duration = Duration::from_secs(10);

/// Why the agent could not start. Each lower layer's error says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The voucher layer (the store, the plans, resuming unfinished sales).
    #[error(transparent)]
    Vouchers(#[from] crate::vouchers::VoucherError),
    /// The central link's settings (`[central]`).
    #[error(transparent)]
    Central(#[from] sync::setup::SetupError),
    /// The broker connection's settings (`[central]` files, TLS).
    #[error(transparent)]
    Link(#[from] sync::setup::LinkSetupError),
    /// The outbox or sync state tables.
    #[error(transparent)]
    Outbox(#[from] sync::OutboxError),
    /// A kiosk device.
    #[error("cannot start the kiosk devices; check [kiosk] in the config file: {0}")]
    Kiosk(#[from] kiosk::runner::KioskError),
}

/// A running agent.
pub struct Agent {
    /// The voucher layer.
    pub vouchers: Vouchers<SharedRouter>,
    /// The kiosk, when `[kiosk]` has devices.
    pub kiosk: Option<Kiosk>,
    /// The central link, when `[central] broker` is set.
    pub site: Option<SiteHandle>,
    /// The owner's page, when `[owner_page] enabled` and it could start.
    pub owner_page: Option<crate::owner_page::OwnerPage>,
    cancel: CancellationToken,
    loops: Vec<tokio::task::JoinHandle<()>>,
}

impl Agent {
    /// Starts everything. The router may be down: sales then come from the pool,
    /// and the kiosk refuses coins once the pool is empty.
    // Long on purpose: the start-up sequence in the order it must happen (profiles, vouchers, resume, pool, kiosk, central); each step is short.
    pub async fn start(
        config: &Config,
        chosen: &firmware_config::RouterConfig,
        router: SharedRouter,
        store: Store,
    ) -> Result<Agent, StartError> {
        let db_path = store.path().to_path_buf();
        let vouchers = Vouchers::from_config(
            store,
            router.clone(),
            config,
            chosen,
            crate::sync::outbox::sale_payload,
        )?;
        let mut loops = Vec::new();
        // The coin acceptor first, whatever the router does: the previous instance
        // may have left the slot open, and the acceptor may hold coins from while
        // the agent was down. Its task shuts the slot and reads the counter at once;
        // the kiosk sells only after the unfinished sales below are resumed.
        let (resumed_tx, resumed_rx) = tokio::sync::watch::channel(false);
        let kiosk_wanted = config.kiosk.coin.kind != firmware_config::kiosk::CoinKind::None
            || config.kiosk.printer.kind != firmware_config::kiosk::PrinterKind::None;
        let (on_sale_tx, on_sale_rx) = tokio::sync::watch::channel(None::<SiteHandle>);
        let kiosk = if kiosk_wanted {
            let on_sale: Box<dyn Fn() + Send + Sync> = Box::new(move || {
                if let Some(s) = on_sale_rx.borrow().as_ref() {
                    s.outbox_changed();
                }
            });
            let seller =
                Arc::new(KioskSeller::new(vouchers.clone(), Some(on_sale)).after(resumed_rx));
            let (alerts_tx, alerts) = mpsc::channel(32);
            loops.push(tokio::spawn(log_alerts(alerts, vouchers.store().clone())));
            Some(kiosk::runner::start(config, seller, Some(alerts_tx)).await?)
        } else {
            None
        };
        // The plans' profiles must exist before any user can be created with them.
        match actions::sync_profiles(&router, &config.profiles).await {
            Ok(done) => done.iter().for_each(|d| tracing::info!("{d}")),
            Err(e) => {
                tracing::warn!(error = %e, "hotspot profiles not synced; sales of plans whose profile is missing will fail until `hotspot-agent profiles sync`")
            }
        }
        let resumed = vouchers.resume().await?;
        let _ = resumed_tx.send(true);
        tracing::info!(
            provisioned = resumed.provisioned.len(),
            failed = resumed.failed.len(),
            waiting = resumed.waiting.len(),
            awaiting_delivery = resumed.awaiting_delivery.len(),
            "unfinished sales resumed"
        );
        for id in &resumed.awaiting_delivery {
            // Paid and on the router, but the ticket may not have reached the customer.
            // The code is the customer's login: the log names the sale, `voucher list` the code.
            tracing::warn!(
                sale_id = id,
                "sale was not marked delivered before the restart; see `voucher list`"
            );
        }

        let cancel = CancellationToken::new();
        loops.push(tokio::spawn(
            Pool::new(vouchers.clone()).run(POOL_INTERVAL, cancel.clone()),
        ));
        loops.push(tokio::spawn(
            Enforcer::new(vouchers.clone()).run(config.enforcement.interval.std(), cancel.clone()),
        ));
        loops.push(tokio::spawn(vouchers.clone().run_reconcile(
            config.enforcement.reconcile_interval.std(),
            cancel.clone(),
        )));

        let site = if config.central.enabled() {
            let link =
                sync::setup::link_config(&config.central, &sync::setup::site_client_id(config))?;
            let settings = sync::setup::site_settings(config)?;
            let outbox = Arc::new(sync::SqliteOutbox::open(&db_path)?);
            let state = Arc::new(sync::SyncState::open(&db_path)?);
            let actions = Arc::new(SiteActions::new(vouchers.clone(), config.clone()));
            // The kiosk hears of plan sets from the first one on: a retained set
            // arrives as soon as the link subscribes.
            if let Some(k) = &kiosk {
                let handle = k.handle.clone();
                actions.on_plans(Box::new(move |c| {
                    if !handle.update_plans(c) {
                        tracing::warn!(
                            "the kiosk did not take the new prices; they apply after a restart"
                        );
                    }
                }));
            }
            tracing::info!(broker = %config.central.broker, "central link starting");
            Some(sync::spawn_site(link, settings, outbox, state, actions))
        } else {
            None
        };

        let _ = on_sale_tx.send(site.clone());

        let owner_page = if config.owner_page.enabled {
            let ctx = crate::owner_page::PageContext {
                vouchers: vouchers.clone(),
                config: config.clone(),
                chosen: chosen.clone(),
                control: Arc::new(crate::control::ControlService::of(
                    vouchers.clone(),
                    kiosk.as_ref(),
                    config,
                )),
            };
            start_owner_page(ctx, cancel.clone()).await
        } else {
            None
        };

        Ok(Agent {
            vouchers,
            kiosk,
            site,
            owner_page,
            cancel,
            loops,
        })
    }

    /// Runs until `shutdown` completes, pinging the systemd watchdog.
    pub async fn serve(&self, shutdown: impl Future<Output = ()>) {
        if let Err(e) = service::notify_ready() {
            tracing::warn!(error = %e, "cannot tell systemd the agent is ready");
        }
        let mut watchdog = service::Watchdog::from_env();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tick.tick() => {
                    if let Err(e) = watchdog.ping_if_due(std::time::Instant::now()) {
                        tracing::warn!(error = %e, "watchdog ping failed");
                    }
                }
            }
        }
    }

    /// Stops taking coins, ends the loops and the central link.
    pub async fn stop(self) {
        let _ = service::notify_stopping();
        if let Some(k) = &self.kiosk {
            k.handle.stop().await;
        }
        self.cancel.cancel();
        for l in self.loops {
            let _ = tokio::time::timeout(Duration::from_secs(5), l).await;
        }
        if let Some(site) = &self.site {
            site.shutdown().await;
        }
        if let Some(k) = self.kiosk {
            let _ = tokio::time::timeout(Duration::from_secs(5), k.task).await;
        }
    }
}

/// Starts the owner's page. It failing to start (no PIN set, the port taken) leaves
/// it off, says why in the log and as an alert `status` shows; the kiosk sells on.
async fn start_owner_page(
    ctx: crate::owner_page::PageContext,
    cancel: CancellationToken,
) -> Option<crate::owner_page::OwnerPage> {
    let store = ctx.vouchers.store().clone();
    match crate::owner_page::start(ctx, cancel).await {
        Ok(page) => {
            tracing::info!(url = %format!("{}://{}/", page.scheme, page.addr), "owner page listening");
            Some(page)
        }
        Err(e) => {
            tracing::error!(error = %e, "the owner page is off");
            let _ = store.record_event(
                crate::store::Level::Alert,
                "owner_page_off",
                None,
                &e.to_string(),
                crate::store::now_ms(),
            );
            None
        }
    }
}

/// Operator alerts from the kiosk devices: logged and kept as events.
async fn log_alerts(mut alerts: mpsc::Receiver<Alert>, store: Store) {
    while let Some(alert) = alerts.recv().await {
        tracing::warn!(alert = ?alert, "kiosk alert");
        let (level, kind, text) = kiosk_alert_event(&alert);
        let _ = store.record_event(level, kind, None, &text, crate::store::now_ms());
    }
}

/// A kiosk alert as a recorded event (and so as the central office sees it): its
/// level, its name (README: "Event and alert names") and its text.
pub fn kiosk_alert_event(alert: &Alert) -> (crate::store::Level, &'static str, String) {
    use crate::store::Level;
    match alert {
        Alert::PaperOut => (
            Level::Alert,
            "paper_out",
            "printer out of paper; codes go to the display".into(),
        ),
        Alert::PaperLow => (Level::Alert, "paper_low", "paper roll nearly empty".into()),
        Alert::PrinterFailed(e) => (Level::Alert, "printer_failed", e.clone()),
        Alert::SaleFailed(e) => (Level::Warn, "sale_failed", e.clone()),
        Alert::CreditNotRecorded { amount, error } => (
            Level::Alert,
            "store_error",
            format!("{amount} inserted but not recorded: {error}"),
        ),
        Alert::OutOfService(why) => (Level::Alert, "coin_inhibited", why.clone()),
        Alert::BackInService => (
            Level::Warn,
            "back_in_service",
            "coin slot open again".into(),
        ),
        Alert::CoinFault(e) => (Level::Alert, "coin_fault", e.clone()),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
