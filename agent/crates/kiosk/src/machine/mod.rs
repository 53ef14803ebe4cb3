//! The customer's path as a pure state machine:
//! idle -> credit -> (choose) -> issuing -> printing -> showing -> idle.
//!
//! Inputs carry `now`; outputs are [`Action`]s the runner performs and reports
//! back (`handle_credit_committed`, `handle_sale_result`, `handle_print_result`).
//! Money rules: a coin is only shown after the seller has it on disk
//! ([`Action::CommitCredit`] first); credit is never dropped silently (kept on
//! a failed sale, kept or spent on timeout, forfeited only when the operator
//! chose `carry_over = false`, and then recorded with [`Action::Forfeit`]).

mod actions;
pub mod offers;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use firmware_config::kiosk::SellMode;

pub use actions::{Action, Alert, PrintOutcome, PrinterState};
pub use offers::{MachineConfig, Offer};

use super::coin::CoinFault;
use super::display::Screen;
use super::{Item, Reason, SaleReceipt, SellError};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Waiting; may hold kept credit.
    Idle,
    /// Coins going in; window ends at `deadline`.
    Credit { deadline: Instant },
    /// Waiting for the seller.
    Issuing,
    /// Waiting for the printer.
    Printing { voucher: Box<SaleReceipt> },
    /// Voucher on screen until `until`.
    Showing { until: Instant },
}

/// The kiosk's state.
#[derive(Debug)]
pub struct Machine {
    cfg: MachineConfig,
    phase: Phase,
    credit: u64,
    starting: bool,
    stopping: bool,
    seller: Result<(), Reason>,
    /// A credit write failed; cleared only by a write that succeeds (the
    /// seller's health, which looks at memory, cannot clear it).
    store_fault: Option<String>,
    printer: PrinterState,
    coin: Result<(), CoinFault>,
    inhibited: bool,
    blocked: Option<Reason>,
    last_seconds: u32,
}

impl Machine {
    /// A machine that is starting: the acceptor is inhibited until health says it can sell.
    pub fn new(cfg: MachineConfig) -> Machine {
        Machine {
            cfg,
            phase: Phase::Idle,
            credit: 0,
            starting: true,
            stopping: false,
            seller: Ok(()),
            store_fault: None,
            printer: PrinterState::Ready,
            coin: Ok(()),
            inhibited: true,
            blocked: Some(Reason::Starting),
            last_seconds: 0,
        }
    }

    /// New plans or prices (from the central office): used from the next choice on.
    /// An idle kiosk redraws its price list at once; a customer mid-purchase keeps
    /// the screen they are on until it changes.
    pub fn set_config(&mut self, cfg: MachineConfig) -> Vec<Action> {
        self.cfg = cfg;
        if matches!(self.phase, Phase::Idle) && self.blocked.is_none() {
            self.go_idle()
        } else {
            Vec::new()
        }
    }

    /// A sale paid before a restart whose ticket may not have reached the customer:
    /// print it (or show it) now, without touching the credit on the kiosk. Only
    /// while idle; the runner offers the next one when the kiosk is idle again.
    pub fn redeliver(&mut self, voucher: SaleReceipt, now: Instant) -> Vec<Action> {
        if !self.is_idle() {
            return vec![];
        }
        let kept = self.credit;
        // The sale path takes the price from the credit; this one was paid already.
        self.credit = voucher.price;
        self.phase = Phase::Issuing;
        let out = self.handle_sale_result(Ok(voucher), now);
        self.credit = self.credit.saturating_add(kept);
        out
    }

    /// Whether the printer is not in use for a sale (the kiosk may be out of service).
    pub fn printer_free(&self) -> bool {
        !matches!(self.phase, Phase::Issuing | Phase::Printing { .. })
    }

    /// Whether nobody is mid-purchase and the kiosk could sell.
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Idle && self.blocked.is_none()
    }

    /// The first actions: inhibit and show the starting screen.
    pub fn start(&mut self, _now: Instant) -> Vec<Action> {
        vec![Action::Inhibit(true), Action::Show(Screen::Starting)]
    }

    /// Devices and seller are up: start selling (if health allows).
    pub fn handle_ready(&mut self, now: Instant) -> Vec<Action> {
        self.starting = false;
        self.reconcile(now)
    }

    /// Shutting down: refuse coins, say so.
    pub fn stop(&mut self, now: Instant) -> Vec<Action> {
        self.stopping = true;
        self.reconcile(now)
    }

    /// Credit on the kiosk (committed, not yet spent).
    pub fn credit(&self) -> u64 {
        self.credit
    }

    /// The printer as the machine last heard of it.
    pub fn printer_state(&self) -> PrinterState {
        self.printer
    }

    /// The coin acceptor as the machine last heard of it.
    pub fn coin_state(&self) -> Result<(), &CoinFault> {
        self.coin.as_ref().map(|_| ())
    }

    /// Why the kiosk cannot sell, if it cannot.
    pub fn blocked(&self) -> Option<&Reason> {
        self.blocked.as_ref()
    }

    /// A coin arrived: record it before anything else.
    pub fn handle_coin(&mut self, value: u64, _now: Instant) -> Vec<Action> {
        vec![Action::CommitCredit { amount: value }]
    }

    /// The seller recorded the coin: now it is credit.
    pub fn handle_credit_committed(&mut self, amount: u64, now: Instant) -> Vec<Action> {
        self.credit = self.credit.saturating_add(amount);
        let mut out = self.handle_store_ok(now);
        if self.blocked.is_some() {
            // Money that slipped in while inhibited is kept; the screen says so.
            out.push(Action::Show(self.out_of_service_screen()));
            return out;
        }
        match self.phase {
            Phase::Idle | Phase::Credit { .. } | Phase::Showing { .. } => {
                self.phase = Phase::Credit {
                    deadline: now + self.cfg.insert_window,
                };
                if self.cfg.auto_buy && self.cfg.nothing_better(self.credit) {
                    out.extend(self.buy_best(now));
                } else {
                    out.push(Action::Show(self.credit_screen(now)));
                }
            }
            // Counted; shown when the current sale is over.
            Phase::Issuing | Phase::Printing { .. } => {}
        }
        out
    }

    /// The seller could not record a coin: stop taking money.
    pub fn handle_credit_failed(
        &mut self,
        amount: u64,
        error: &SellError,
        now: Instant,
    ) -> Vec<Action> {
        self.store_fault = Some(error.to_string());
        let mut out = vec![Action::Alert(Alert::CreditNotRecorded {
            amount,
            error: error.to_string(),
        })];
        out.extend(self.reconcile(now));
        out
    }

    /// A write to the store succeeded: a store fault is over.
    pub fn handle_store_ok(&mut self, now: Instant) -> Vec<Action> {
        if self.store_fault.take().is_none() {
            return vec![];
        }
        self.reconcile(now)
    }

    /// Whether a failed credit write keeps the slot shut.
    pub fn store_fault(&self) -> bool {
        self.store_fault.is_some()
    }

    /// Button `n` (0-based) was pressed.
    pub fn handle_button(&mut self, n: usize, now: Instant) -> Vec<Action> {
        if self.blocked.is_some() {
            return vec![];
        }
        match self.phase {
            Phase::Showing { .. } => self.go_idle(),
            Phase::Idle | Phase::Credit { .. } => match self.cfg.mode {
                SellMode::Plans => {
                    let Some(plan) = self.cfg.plans.get(n).cloned() else {
                        return vec![];
                    };
                    if plan.price <= self.credit && self.credit > 0 {
                        self.sell(Item::Plan(plan.id), now)
                    } else {
                        // The press is answered: what that plan still needs, on top.
                        self.phase = Phase::Credit {
                            deadline: now + self.cfg.insert_window,
                        };
                        let notice = self.cfg.plan_line(n, &plan, self.credit);
                        let mut screen = self.credit_screen(now);
                        if let Screen::Credit { notice: slot, .. } = &mut screen {
                            *slot = Some(notice);
                        }
                        vec![Action::Show(screen)]
                    }
                }
                SellMode::Rates => self.buy_best(now),
            },
            Phase::Issuing | Phase::Printing { .. } => vec![],
        }
    }

    /// Time passes: insert window, voucher screen, countdown.
    pub fn handle_tick(&mut self, now: Instant) -> Vec<Action> {
        match self.phase {
            Phase::Credit { deadline } if now >= deadline => {
                if self.cfg.buy_on_timeout && self.blocked.is_none() {
                    let out = self.buy_best(now);
                    if !out.is_empty() && matches!(self.phase, Phase::Issuing) {
                        return out;
                    }
                }
                // Keep the credit; the idle screen shows it.
                self.go_idle()
            }
            Phase::Credit { deadline } => {
                let secs = deadline.saturating_duration_since(now).as_secs() as u32;
                if secs != self.last_seconds {
                    self.last_seconds = secs;
                    return vec![Action::Show(self.credit_screen(now))];
                }
                vec![]
            }
            Phase::Showing { until } if now >= until => self.go_idle(),
            _ => vec![],
        }
    }

    /// The seller answered a `Sell`.
    pub fn handle_sale_result(
        &mut self,
        result: Result<SaleReceipt, SellError>,
        now: Instant,
    ) -> Vec<Action> {
        if self.phase != Phase::Issuing {
            return vec![];
        }
        let voucher = match result {
            Ok(v) => v,
            Err(e) => {
                let mut out = vec![Action::Alert(Alert::SaleFailed(e.to_string()))];
                if let SellError::Unavailable(reason) = e {
                    self.seller = Err(reason);
                }
                self.phase = Phase::Credit {
                    deadline: now + self.cfg.insert_window,
                };
                out.extend(self.reconcile(now));
                if !out.iter().any(|a| matches!(a, Action::Show(_))) {
                    if self.blocked.is_some() {
                        self.phase = Phase::Idle;
                        out.push(Action::Show(self.out_of_service_screen()));
                    } else {
                        out.push(Action::Show(self.credit_screen(now)));
                    }
                }
                return out;
            }
        };
        self.credit = self.credit.saturating_sub(voucher.price);
        let mut out = Vec::new();
        if self.credit > 0 && !self.cfg.carry_over {
            out.push(Action::Forfeit {
                amount: self.credit,
            });
            self.credit = 0;
        }
        if self.cfg.has_printer && self.printer == PrinterState::Ready {
            let ticket = self.cfg.ticket(&voucher);
            out.push(Action::Print {
                ticket,
                sale_id: voucher.sale_id.clone(),
            });
            out.push(Action::Show(Screen::Working {
                what: self.cfg.look.words.printing.into(),
            }));
            self.phase = Phase::Printing {
                voucher: Box::new(voucher),
            };
        } else {
            let w = self.cfg.look.words;
            let note = if self.cfg.has_printer {
                w.no_ticket
            } else {
                w.scan_or_note
            };
            out.extend(self.show_voucher(&voucher, note, false, now));
        }
        out
    }

    /// The printer answered a `Print`.
    pub fn handle_print_result(&mut self, outcome: PrintOutcome, now: Instant) -> Vec<Action> {
        let Phase::Printing { voucher } = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return vec![];
        };
        let mut out = Vec::new();
        match outcome {
            PrintOutcome::Printed { paper_low } => {
                if paper_low {
                    out.push(Action::Alert(Alert::PaperLow));
                }
                let note = self.cfg.look.words.take_ticket;
                out.extend(self.show_voucher(&voucher, note, true, now));
            }
            PrintOutcome::OutOfPaper => {
                self.printer = PrinterState::PaperOut;
                out.push(Action::Alert(Alert::PaperOut));
                let note = self.cfg.look.words.no_paper;
                out.extend(self.show_or_hold(voucher, note, now));
            }
            PrintOutcome::Failed(e) => {
                self.printer = PrinterState::Offline;
                out.push(Action::Alert(Alert::PrinterFailed(e)));
                let note = self.cfg.look.words.no_ticket;
                out.extend(self.show_or_hold(voucher, note, now));
            }
        }
        out.extend(self.reconcile(now));
        out
    }

    /// Whether the seller could sell now (polled by the runner).
    pub fn handle_seller_health(
        &mut self,
        health: Result<(), Reason>,
        now: Instant,
    ) -> Vec<Action> {
        if self.seller == health {
            return vec![];
        }
        self.seller = health;
        self.reconcile(now)
    }

    /// The printer's state changed (status poll, paper loaded).
    pub fn handle_printer_state(&mut self, state: PrinterState, now: Instant) -> Vec<Action> {
        if self.printer == state {
            return vec![];
        }
        self.printer = state;
        self.reconcile(now)
    }

    /// The coin acceptor went offline (`Err`) or came back.
    pub fn handle_coin_state(&mut self, state: Result<(), CoinFault>, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if let Err(e) = &state {
            out.push(Action::Alert(Alert::CoinFault(e.to_string())));
        }
        self.coin = state;
        out.extend(self.reconcile(now));
        out
    }

    fn why_blocked(&self) -> Option<Reason> {
        if self.stopping {
            return Some(Reason::Stopping);
        }
        if self.starting {
            return Some(Reason::Starting);
        }
        if let Some(e) = &self.store_fault {
            return Some(Reason::Store(e.clone()));
        }
        if let Err(r) = &self.seller {
            return Some(r.clone());
        }
        if !self.cfg.has_display {
            match (self.cfg.has_printer, self.printer) {
                (true, PrinterState::PaperOut) => return Some(Reason::NoPaper),
                (true, PrinterState::Offline) => return Some(Reason::PrinterOffline),
                _ => {}
            }
        }
        if let Err(e) = &self.coin {
            return Some(Reason::Other(format!("coin slot: {e}")));
        }
        if self.cfg.mode == SellMode::Plans && self.cfg.plans.is_empty()
            || self.cfg.mode == SellMode::Rates && self.cfg.rates.is_empty()
        {
            return Some(Reason::NothingToSell);
        }
        None
    }

    /// Recomputes whether the kiosk can sell; inhibits and shows why on a change.
    fn reconcile(&mut self, now: Instant) -> Vec<Action> {
        let blocked = self.why_blocked();
        let mut out = Vec::new();
        let want_inhibit = blocked.is_some();
        if want_inhibit != self.inhibited {
            self.inhibited = want_inhibit;
            out.push(Action::Inhibit(want_inhibit));
        }
        if blocked != self.blocked {
            let previous = std::mem::replace(&mut self.blocked, blocked.clone());
            match (&previous, &blocked) {
                (_, Some(r)) if !matches!(r, Reason::Starting | Reason::Stopping) => {
                    out.push(Action::Alert(Alert::OutOfService(r.to_string())))
                }
                (Some(p), None) if *p != Reason::Starting => {
                    out.push(Action::Alert(Alert::BackInService))
                }
                _ => {}
            }
            // A sale under way finishes its own screens first.
            let busy = matches!(
                self.phase,
                Phase::Issuing | Phase::Printing { .. } | Phase::Showing { .. }
            );
            if !busy {
                if blocked.is_some() {
                    self.phase = Phase::Idle;
                    out.push(Action::Show(self.out_of_service_screen()));
                } else {
                    out.extend(self.resume(now));
                }
            }
        }
        out
    }

    fn resume(&mut self, now: Instant) -> Vec<Action> {
        match self.phase {
            Phase::Credit { .. } => vec![Action::Show(self.credit_screen(now))],
            _ => vec![Action::Show(self.idle_screen())],
        }
    }

    fn go_idle(&mut self) -> Vec<Action> {
        self.phase = Phase::Idle;
        if self.blocked.is_some() {
            vec![Action::Show(self.out_of_service_screen())]
        } else {
            vec![Action::Show(self.idle_screen())]
        }
    }

    fn buy_best(&mut self, now: Instant) -> Vec<Action> {
        match self.cfg.mode {
            SellMode::Plans => match self.cfg.best_plan(self.credit) {
                Some(p) => {
                    let id = p.id.clone();
                    self.sell(Item::Plan(id), now)
                }
                None => vec![],
            },
            SellMode::Rates => match self.cfg.best_time(self.credit) {
                Some((time, price)) => {
                    let profile = self.cfg.rate_profile.clone();
                    self.sell(
                        Item::Time {
                            time,
                            price,
                            profile,
                        },
                        now,
                    )
                }
                None => vec![],
            },
        }
    }

    fn sell(&mut self, item: Item, _now: Instant) -> Vec<Action> {
        self.phase = Phase::Issuing;
        vec![
            Action::Sell {
                item,
                credit: self.credit,
            },
            Action::Show(Screen::Working {
                what: self.cfg.look.words.issuing.into(),
            }),
        ]
    }

    /// The ticket did not print: the display shows the voucher, or, with no
    /// display, nobody has it yet and it is held for later (never marked delivered).
    fn show_or_hold(&mut self, voucher: Box<SaleReceipt>, note: &str, now: Instant) -> Vec<Action> {
        if self.cfg.has_display {
            return self.show_voucher(&voucher, note, false, now);
        }
        self.phase = Phase::Idle;
        vec![Action::Hold(voucher)]
    }

    fn show_voucher(
        &mut self,
        v: &SaleReceipt,
        note: &str,
        printed: bool,
        now: Instant,
    ) -> Vec<Action> {
        self.phase = Phase::Showing {
            until: now + self.cfg.show_voucher_for,
        };
        vec![
            Action::Show(Screen::Voucher {
                code: v.code.clone(),
                password: (v.password.expose() != v.code).then(|| v.password.clone()),
                url: v.login_url.clone(),
                note: note.into(),
            }),
            Action::Delivered {
                sale_id: v.sale_id.clone(),
                printed,
            },
        ]
    }

    fn credit_screen(&mut self, now: Instant) -> Screen {
        let secs = match self.phase {
            Phase::Credit { deadline } => deadline.saturating_duration_since(now).as_secs() as u32,
            _ => self.cfg.insert_window.as_secs() as u32,
        };
        self.last_seconds = secs;
        Screen::Credit {
            credit: self.cfg.money(self.credit),
            buys: self.cfg.credit_lines(self.credit),
            seconds_left: secs,
            notice: None,
        }
    }

    fn idle_screen(&self) -> Screen {
        Screen::Idle {
            site: self.cfg.look.site_name.clone(),
            offers: self.cfg.idle_offers(),
            credit: if self.credit > 0 {
                self.cfg.money(self.credit)
            } else {
                String::new()
            },
        }
    }

    fn out_of_service_screen(&self) -> Screen {
        let reason = self
            .blocked
            .as_ref()
            .map(|r| r.to_string())
            .unwrap_or_default();
        match (&self.blocked, self.credit) {
            (Some(Reason::Starting), 0) => Screen::Starting,
            (_, 0) => Screen::OutOfService { reason },
            (_, c) => Screen::OutOfService {
                reason: format!(
                    "{reason}; {}",
                    crate::words::fill(self.cfg.look.words.credit_kept, &self.cfg.money(c))
                ),
            },
        }
    }
}

/// How long the runner may wait between ticks for the countdown to stay right.
pub const TICK: Duration = Duration::from_millis(250);
