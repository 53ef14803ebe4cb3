//! What the state machine asks the runner to do, and what the runner tells it back.

use crate::display::Screen;
use crate::printer::Ticket;
use crate::Item;

/// Something for the runner to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Record `amount` with the seller, then call `handle_credit_committed`.
    CommitCredit { amount: u64 },
    /// Sell `item` against `credit`, then call `handle_sale_result`.
    Sell { item: Item, credit: u64 },
    /// Print the ticket of sale `sale_id`, then call `handle_print_result`.
    Print { ticket: Ticket, sale_id: String },
    /// Show a screen.
    Show(Screen),
    /// `true` = the acceptor must refuse coins.
    Inhibit(bool),
    /// Tell the operator.
    Alert(Alert),
    /// Record credit left behind (`carry_over = false`).
    Forfeit { amount: u64 },
    /// Record that the voucher reached the customer.
    Delivered { sale_id: String, printed: bool },
    /// Nothing could deliver this paid voucher (no paper, no display): keep it
    /// undelivered and offer it again with [`super::Machine::redeliver`] once
    /// the kiosk can sell.
    Hold(Box<crate::SaleReceipt>),
}

/// Things the operator should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// The printer is out of paper; vouchers go to the display.
    PaperOut,
    /// The roll is nearly empty.
    PaperLow,
    /// The printer failed; vouchers go to the display.
    PrinterFailed(String),
    /// A sale failed; the customer's credit is kept.
    SaleFailed(String),
    /// Money came in but could not be recorded.
    CreditNotRecorded { amount: u64, error: String },
    /// The kiosk stopped selling.
    OutOfService(String),
    /// The kiosk sells again.
    BackInService,
    /// The coin acceptor reported a problem.
    CoinFault(String),
}

/// What the printer can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrinterState {
    /// Has paper and answers.
    Ready,
    /// Roll end.
    PaperOut,
    /// No answer or write errors.
    Offline,
}

/// How a print went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintOutcome {
    /// On paper; `paper_low` from the sensor afterwards.
    Printed { paper_low: bool },
    /// Nothing printed: no paper.
    OutOfPaper,
    /// Nothing (or not all) printed.
    Failed(String),
}
