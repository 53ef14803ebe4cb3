//! The kiosk runner: opens the devices from `[kiosk]`, one task per device, and
//! drives the [`Machine`] with a [`Seller`]. The integrator passes a seller and
//! the config; everything else is here.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use firmware_config::kiosk::QrMethod;
use firmware_config::Config;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::coin::{CoinFault, CoinHandle, CoinReport};
use super::display::targets::DisplayHandle;
use super::machine::{Action, Alert, Machine, MachineConfig, PrintOutcome, PrinterState, TICK};
use super::open;
pub use super::open::KioskError;
#[cfg(feature = "sim")]
pub use super::open::SimDevices;
use super::printer::device::{PrinterError, PrinterHandle};
use super::printer::escpos::{ticket_bytes, QrMode};
use super::printer::Paper;
use super::{CreditId, SaleReceipt, SaleRequest, SellError, Seller};

/// The devices the runner drives: handles to device tasks and their reports.
pub struct KioskDevices {
    /// Inhibit control of the coin acceptor task.
    pub coin: Option<CoinHandle>,
    /// Coins and acceptor state.
    pub coin_reports: mpsc::Receiver<CoinReport>,
    /// The printer task.
    pub printer: Option<PrinterHandle>,
    /// The display thread.
    pub display: Option<DisplayHandle>,
    /// Indexes of debounced button presses.
    pub buttons: mpsc::Receiver<usize>,
    /// Display failures.
    pub display_errors: mpsc::Receiver<String>,
}

/// Cloneable handle to a running kiosk.
#[derive(Clone)]
pub struct KioskHandle {
    tx: mpsc::Sender<Input>,
    status: watch::Receiver<KioskStatus>,
    printer: Option<PrinterHandle>,
}

/// What the kiosk is doing, for status reports and the demo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KioskStatus {
    /// Credit on the kiosk (committed, not yet spent).
    pub credit: u64,
    /// Why it cannot sell, if it cannot.
    pub out_of_service: Option<String>,
    /// The screen shown last (its `Debug` form: no passwords).
    pub screen: String,
    /// Vouchers delivered since start (printed or on the display).
    pub delivered: u64,
    /// The acceptor's identification and coin table (ccTalk), as read at start.
    pub acceptor: Option<String>,
    /// The printer as last seen: `ready`, `paper low`, `out of paper` or
    /// `offline`; `None` when no printer is configured.
    pub printer: Option<String>,
    /// The coin acceptor: `ok`, or what is wrong; `None` when none is configured.
    pub coin: Option<String>,
    /// The display: `ok`, or its last error; `None` when none is configured.
    pub display: Option<String>,
}

impl KioskHandle {
    /// The latest status.
    pub fn status(&self) -> KioskStatus {
        self.status.borrow().clone()
    }

    /// Waits until `pred` holds for the status (or the runner ends).
    pub async fn wait_for(&self, pred: impl Fn(&KioskStatus) -> bool) -> KioskStatus {
        let mut rx = self.status.clone();
        let got = rx.wait_for(|s| pred(s)).await.map(|s| s.clone());
        got.unwrap_or_else(|_| self.status())
    }

    /// Presses button `n` (0-based), as a GPIO button would.
    pub async fn press(&self, n: usize) {
        let _ = self.tx.send(Input::Button(n)).await;
    }

    /// Presses button `n` (0-based) and returns once the kiosk has acted on it (its
    /// screen shows the answer).
    pub async fn press_and_wait(&self, n: usize) {
        let (ack, done) = tokio::sync::oneshot::channel();
        if self.tx.send(Input::Pressed(n, ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Offers the plans and prices of `config` from now on (a plan set from the
    /// central office). Returns false if the runner has ended or is too busy.
    pub fn update_plans(&self, config: &Config) -> bool {
        self.tx
            .try_send(Input::Plans(Box::new(MachineConfig::from_config(config))))
            .is_ok()
    }

    /// The printer task, for jobs besides the customer's ticket (a voucher sheet, a
    /// reprint): it prints one job after another, so a ticket never splits a sheet.
    pub fn printer(&self) -> Option<&PrinterHandle> {
        self.printer.as_ref()
    }

    /// Stops taking coins, shows "shutting down" and ends the runner.
    pub async fn stop(&self) {
        let _ = self.tx.send(Input::Stop).await;
    }
}

/// A running kiosk.
pub struct Kiosk {
    /// Control handle.
    pub handle: KioskHandle,
    /// The runner task; ends after `stop`.
    pub task: JoinHandle<()>,
    /// Simulated devices, if any were configured.
    #[cfg(feature = "sim")]
    pub sim: SimDevices,
}

enum Input {
    Button(usize),
    /// A press whose sender waits until the kiosk has acted on it.
    Pressed(usize, tokio::sync::oneshot::Sender<()>),
    Committed(u64, Result<CreditId, SellError>),
    Sold(Result<SaleReceipt, SellError>),
    Printed(PrintOutcome),
    PrinterState(PrinterState, bool),
    Plans(Box<MachineConfig>),
    StoreOk,
    Stop,
}

/// Opens the devices `[kiosk]` names and starts the runner.
/// `alerts` receives everything the operator should hear about (for MQTT).
pub async fn start<S: Seller>(
    config: &Config,
    seller: Arc<S>,
    alerts: Option<mpsc::Sender<Alert>>,
) -> Result<Kiosk, KioskError> {
    let k = &config.kiosk;
    let (coin_tx, coin_reports) = mpsc::channel(32);
    let (buttons_tx, buttons) = mpsc::channel(16);
    let (display_err_tx, display_errors) = mpsc::channel(4);
    #[cfg(feature = "sim")]
    let mut sim = SimDevices {
        buttons: Some(buttons_tx.clone()),
        ..SimDevices::default()
    };
    #[cfg(not(feature = "sim"))]
    let mut sim = open::NoSim;
    // The counter stored with the last credit: coins the acceptor took while the
    // agent was down are credited from it. A local read, never the router.
    let resume = match seller.coin_counter().await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the stored coin acceptor counter; coins taken while the agent was down will not be credited");
            None
        }
    };
    let coin = open::coin(k, coin_tx, resume, &mut sim)?;
    let printer = open::printer(k, &mut sim)?;
    let display = open::display(k, display_err_tx)?;
    if !k.buttons.lines.is_empty() {
        super::display::buttons::spawn_gpio(&k.buttons, buttons_tx.clone())
            .map_err(|e| open::device_error("buttons", &e))?;
    }
    drop(buttons_tx);

    let devices = KioskDevices {
        coin,
        coin_reports,
        printer,
        display,
        buttons,
        display_errors,
    };
    let (handle, task) = spawn_runner(config, seller, devices, alerts);
    Ok(Kiosk {
        handle,
        task,
        #[cfg(feature = "sim")]
        sim,
    })
}

/// Starts the runner over devices the caller opened (tests, benchmarks).
pub fn spawn_runner<S: Seller>(
    config: &Config,
    seller: Arc<S>,
    devices: KioskDevices,
    alerts: Option<mpsc::Sender<Alert>>,
) -> (KioskHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(64);
    let ok = |present: bool| present.then(|| "ok".to_string());
    let (status_tx, status) = watch::channel(KioskStatus {
        printer: devices.printer.is_some().then(|| "ready".to_string()),
        coin: ok(devices.coin.is_some()),
        display: ok(devices.display.is_some()),
        ..KioskStatus::default()
    });
    let printer = devices.printer.clone();
    let machine = Machine::new(MachineConfig::from_config(config));
    let paper = Paper::from_mm(config.kiosk.printer.paper_mm);
    let qr = match config.kiosk.printer.qr {
        QrMethod::Native => QrMode::Native,
        QrMethod::Raster => QrMode::Raster,
    };
    let runner = Runner {
        machine,
        seller,
        devices,
        alerts,
        tx: tx.clone(),
        paper,
        qr,
        credits: Vec::new(),
        sold_credits: Vec::new(),
        redeliver: VecDeque::new(),
        next_mark: None,
        paper_low: false,
        display_error: None,
        status: status_tx,
    };
    let task = tokio::spawn(runner.run(rx));
    (
        KioskHandle {
            tx,
            status,
            printer,
        },
        task,
    )
}

struct Runner<S: Seller> {
    machine: Machine,
    seller: Arc<S>,
    devices: KioskDevices,
    alerts: Option<mpsc::Sender<Alert>>,
    tx: mpsc::Sender<Input>,
    paper: Paper,
    qr: QrMode,
    /// Credits committed since the last sale, handed to the seller with the sale.
    credits: Vec<CreditId>,
    /// Credits of the sale just made, for a forfeit of its leftover.
    sold_credits: Vec<CreditId>,
    /// Paid vouchers from before a restart, delivered one by one when idle.
    redeliver: VecDeque<super::SaleReceipt>,
    /// The event counter of the coin whose `CommitCredit` comes next.
    next_mark: Option<super::EventMark>,
    /// The paper sensor's "near end", as last read.
    paper_low: bool,
    /// The display's last error, if it has failed.
    display_error: Option<String>,
    status: watch::Sender<KioskStatus>,
}

impl<S: Seller> Runner<S> {
    async fn run(self, rx: mpsc::Receiver<Input>) {
        use tracing::Instrument as _;
        self.serve(rx)
            .instrument(tracing::info_span!("kiosk"))
            .await
    }

    // Long on purpose: the runner's event loop: one `select!` arm per input (coins, buttons, ticks, printer, plans).
    async fn serve(mut self, mut rx: mpsc::Receiver<Input>) {
        let now = Instant::now();
        let first = self.machine.start(now);
        self.perform(first).await;
        if let Some(p) = self.devices.printer.clone() {
            let (state, low) = printer_state(p.status().await);
            self.paper_low = low;
            let actions = self.machine.handle_printer_state(state, Instant::now());
            self.perform(actions).await;
        }
        // Money and paid vouchers from before a restart come back first: the
        // seller answers once unfinished sales are resumed, and the slot opens only
        // after that.
        let restored = match self.seller.restore().await {
            Ok(restored) => restored,
            Err(e) => {
                tracing::error!(error = %e, "cannot read credit and sales left from before the restart");
                super::Restored::default()
            }
        };
        let health = self.seller.can_sell();
        let mut actions = self.machine.handle_seller_health(health, Instant::now());
        actions.extend(self.machine.handle_ready(Instant::now()));
        self.perform(actions).await;
        if restored.credit > 0 {
            tracing::info!(credit = restored.credit, "credit from before the restart");
            let actions = self
                .machine
                .handle_credit_committed(restored.credit, Instant::now());
            self.perform(actions).await;
        }
        if !restored.undelivered.is_empty() {
            tracing::info!(
                count = restored.undelivered.len(),
                "paid vouchers to deliver after the restart"
            );
        }
        self.redeliver.extend(restored.undelivered);

        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_printer_check = Instant::now();
        let mut last_store_check = Instant::now();
        let mut coin_open = true;
        let mut buttons_open = true;
        loop {
            let actions = tokio::select! {
                input = rx.recv() => match input {
                    None | Some(Input::Stop) => {
                        let actions = self.machine.stop(Instant::now());
                        self.perform(actions).await;
                        self.finish_coins(coin_open).await;
                        return;
                    }
                    Some(Input::Pressed(n, ack)) => {
                        let actions = self.machine.handle_button(n, Instant::now());
                        self.perform(actions).await;
                        let _ = ack.send(());
                        vec![]
                    }
                    Some(input) => self.input(input),
                },
                report = self.devices.coin_reports.recv(), if coin_open => match report {
                    Some(r) => self.coin_report(r).await,
                    None => {
                        coin_open = false;
                        self.machine.handle_coin_state(Err(CoinFault::TaskEnded), Instant::now())
                    }
                },
                press = self.devices.buttons.recv(), if buttons_open => match press {
                    Some(n) => self.machine.handle_button(n, Instant::now()),
                    None => {
                        buttons_open = false;
                        vec![]
                    }
                },
                Some(e) = self.devices.display_errors.recv() => {
                    tracing::warn!(error = %e, "display");
                    self.display_error = Some(e);
                    vec![]
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    let mut a = self.machine.handle_seller_health(self.seller.can_sell(), now);
                    a.extend(self.machine.handle_tick(now));
                    if self.machine.is_idle() {
                        if let Some(v) = self.redeliver.pop_front() {
                            tracing::info!(sale_id = %v.sale_id, "delivering a queued voucher (paid before a restart, or a batch to print)");
                            a.extend(self.machine.redeliver(v, now));
                        }
                    }
                    // A failed credit write keeps the slot shut until a write succeeds.
                    if self.machine.store_fault() && now.duration_since(last_store_check) >= STORE_CHECK {
                        last_store_check = now;
                        let (seller, tx) = (self.seller.clone(), self.tx.clone());
                        tokio::spawn(async move {
                            match seller.check_store().await {
                                Ok(()) => {
                                    let _ = tx.send(Input::StoreOk).await;
                                }
                                Err(e) => tracing::warn!(error = %e, "the store still refuses writes; the coin slot stays shut"),
                            }
                        });
                    }
                    // Ask the printer for its paper sensor while idle, so a roll that
                    // runs out shuts the slot before a coin pays for a ticket.
                    if self.machine.printer_free() && now.duration_since(last_printer_check) >= PRINTER_CHECK {
                        last_printer_check = now;
                        if let Some(p) = self.devices.printer.clone() {
                            let tx = self.tx.clone();
                            tokio::spawn(async move {
                                let (state, low) = printer_state(p.status().await);
                                let _ = tx.send(Input::PrinterState(state, low)).await;
                            });
                        }
                    }
                    a
                }
            };
            self.perform(actions).await;
        }
    }

    /// Ends the coin task before the runner does, so a stop is never reported as a
    /// failed acceptor: dropping its handle closes the inhibit channel and the task
    /// returns. Coins already in flight are still recorded.
    async fn finish_coins(&mut self, open: bool) {
        if self.devices.coin.take().is_none() || !open {
            return;
        }
        let deadline = tokio::time::Instant::now() + COIN_STOP;
        while let Ok(Some(r)) =
            tokio::time::timeout_at(deadline, self.devices.coin_reports.recv()).await
        {
            let actions = self.coin_report(r).await;
            self.perform(actions).await;
        }
    }

    fn input(&mut self, input: Input) -> Vec<Action> {
        let now = Instant::now();
        match input {
            Input::Button(n) | Input::Pressed(n, _) => self.machine.handle_button(n, now),
            Input::Committed(amount, Ok(id)) => {
                self.credits.push(id);
                self.machine.handle_credit_committed(amount, now)
            }
            Input::Committed(amount, Err(e)) => self.machine.handle_credit_failed(amount, &e, now),
            Input::Sold(result) => {
                if result.is_ok() {
                    self.sold_credits = std::mem::take(&mut self.credits);
                }
                self.machine.handle_sale_result(result, now)
            }
            Input::Printed(outcome) => {
                if let PrintOutcome::Printed { paper_low } = outcome {
                    self.paper_low = paper_low;
                }
                self.machine.handle_print_result(outcome, now)
            }
            Input::PrinterState(state, low) => {
                self.paper_low = low;
                self.machine.handle_printer_state(state, now)
            }
            Input::Plans(cfg) => self.machine.set_config(*cfg),
            Input::StoreOk => {
                tracing::info!("the store takes writes again");
                self.machine.handle_store_ok(now)
            }
            Input::Stop => self.machine.stop(now),
        }
    }

    async fn coin_report(&mut self, r: CoinReport) -> Vec<Action> {
        let now = Instant::now();
        match r {
            CoinReport::Coin(c) => {
                self.next_mark = c.mark;
                self.machine.handle_coin(c.value, now)
            }
            CoinReport::Counter(mark) => {
                // Awaited, in order with the coins: a late write of an older counter
                // would make the next start credit a coin again.
                if let Err(e) = self.seller.record_counter(mark).await {
                    tracing::warn!(error = %e, "coin acceptor event counter not stored");
                }
                vec![]
            }
            CoinReport::Identified(info) => {
                tracing::info!(acceptor = %info, "coin acceptor identified");
                let table = info.to_string();
                if let Err(e) = self.seller.record_acceptor(table.clone()).await {
                    tracing::warn!(error = %e, "coin acceptor table not stored");
                }
                self.status.send_modify(|s| s.acceptor = Some(table));
                vec![]
            }
            CoinReport::Online => self.machine.handle_coin_state(Ok(()), now),
            CoinReport::Fault(e) => self.machine.handle_coin_state(Err(e), now),
            CoinReport::Warning(w) => vec![Action::Alert(Alert::CoinFault(w))],
        }
    }

    /// Performs actions in order; results that come back at once are performed too.
    async fn perform(&mut self, actions: Vec<Action>) {
        self.perform_all(actions).await;
        let credit = self.machine.credit();
        let blocked = self.machine.blocked().map(|r| r.to_string());
        let printer = self.devices.printer.as_ref().map(|_| {
            match (self.machine.printer_state(), self.paper_low) {
                (PrinterState::Ready, false) => "ready",
                (PrinterState::Ready, true) => "paper low",
                (PrinterState::PaperOut, _) => "out of paper",
                (PrinterState::Offline, _) => "offline",
            }
            .to_string()
        });
        let coin = self
            .devices
            .coin
            .as_ref()
            .map(|_| match self.machine.coin_state() {
                Ok(()) => "ok".to_string(),
                Err(e) => e.to_string(),
            });
        let display = self.devices.display.as_ref().map(|_| {
            self.display_error
                .as_ref()
                .map_or("ok".to_string(), |e| format!("failed: {e}"))
        });
        self.status.send_if_modified(|s| {
            let changed = s.credit != credit
                || s.out_of_service != blocked
                || s.printer != printer
                || s.coin != coin
                || s.display != display;
            s.credit = credit;
            s.out_of_service = blocked;
            s.printer = printer;
            s.coin = coin;
            s.display = display;
            changed
        });
    }

    // Long on purpose: one match arm per machine action; each arm is what the action says to do.
    async fn perform_all(&mut self, actions: Vec<Action>) {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::CommitCredit { amount } => {
                    // Awaited here, in order: the money is on disk before the screen changes.
                    let result = match self.next_mark.take() {
                        Some(mark) => self.seller.record_coin(amount, mark).await,
                        None => self.seller.record_credit(amount).await,
                    };
                    let more = self.input(Input::Committed(amount, result));
                    queue.extend(more);
                }
                Action::Sell { item, credit } => {
                    let request = SaleRequest {
                        item,
                        credit,
                        credits: self.credits.clone(),
                    };
                    let (seller, tx) = (self.seller.clone(), self.tx.clone());
                    tokio::spawn(async move {
                        let result = seller.sell(request).await;
                        let _ = tx.send(Input::Sold(result)).await;
                    });
                }
                Action::Print { ticket, sale_id } => {
                    // On disk before the paper moves: a restart then knows a ticket may exist.
                    if let Err(e) = self.seller.printing(&sale_id).await {
                        tracing::warn!(error = %e, sale_id, "ticket print not recorded; a reprint after a restart will not say REPRINT");
                    }
                    let bytes = ticket_bytes(&ticket, self.paper, self.qr);
                    let (printer, tx) = (self.devices.printer.clone(), self.tx.clone());
                    tokio::spawn(async move {
                        let outcome = match (printer, bytes) {
                            (_, Err(e)) => PrintOutcome::Failed(e.to_string()),
                            (None, _) => PrintOutcome::Failed("no printer configured".into()),
                            (Some(p), Ok(bytes)) => match p.print(bytes).await {
                                Ok(status) => PrintOutcome::Printed {
                                    paper_low: status.near_end,
                                },
                                Err(PrinterError::OutOfPaper(_)) => PrintOutcome::OutOfPaper,
                                Err(e) => PrintOutcome::Failed(e.to_string()),
                            },
                        };
                        let _ = tx.send(Input::Printed(outcome)).await;
                    });
                }
                Action::Show(screen) => {
                    let text = format!("{screen:?}");
                    self.status.send_if_modified(|s| {
                        let changed = s.screen != text;
                        s.screen = text;
                        changed
                    });
                    if let Some(d) = &self.devices.display {
                        d.show(screen).await;
                    }
                }
                Action::Inhibit(on) => {
                    if let Some(c) = &self.devices.coin {
                        if c.inhibit(on).await.is_err() {
                            tracing::error!(inhibit = on, "coin acceptor task is gone");
                        }
                    }
                }
                Action::Alert(alert) => {
                    tracing::warn!(?alert, "kiosk alert");
                    if let Some(a) = &self.alerts {
                        let _ = a.try_send(alert);
                    }
                }
                Action::Forfeit { amount } => {
                    let credits = std::mem::take(&mut self.sold_credits);
                    if let Err(e) = self.seller.forfeit_credit(amount, credits).await {
                        tracing::error!(error = %e, amount, "forfeited credit not recorded");
                    }
                }
                Action::Hold(voucher) => {
                    tracing::warn!(sale_id = %voucher.sale_id, "no paper and no display: the paid voucher is held and printed when the printer is back");
                    self.redeliver.push_back(*voucher);
                }
                Action::Delivered { sale_id, printed } => {
                    crash_point::crash_point("after_print");
                    self.status.send_modify(|s| s.delivered += 1);
                    let seller = self.seller.clone();
                    tokio::spawn(async move {
                        if let Err(e) = seller.delivered(&sale_id, printed).await {
                            tracing::error!(error = %e, sale_id, "delivery not recorded");
                        }
                    });
                }
            }
        }
    }
}

/// How long a stop waits for the coin task to end.
const COIN_STOP: Duration = Duration::from_secs(2);
/// How often a store fault is tested with a write.
const STORE_CHECK: Duration = Duration::from_secs(5);
/// How often the idle kiosk asks the printer for its paper sensor (DLE EOT 4).
const PRINTER_CHECK: Duration = Duration::from_secs(1);

/// What a paper status answer means for selling, and whether the roll is nearly out.
fn printer_state(
    status: Result<super::printer::escpos::PaperStatus, PrinterError>,
) -> (PrinterState, bool) {
    match status {
        Ok(s) if s.out => (PrinterState::PaperOut, s.near_end),
        Ok(s) => (PrinterState::Ready, s.near_end),
        Err(_) => (PrinterState::Offline, false),
    }
}
