//! The kiosk a customer uses: coin acceptors, printer, display, buttons and their state machine.
//!
//! Layers, from bytes up: [`coin`] (pulse decoder, ccTalk codec and device task,
//! GPIO input), [`printer`] (ESC/POS tickets, the printer task, a PNG preview),
//! [`display`] (screens and their targets, buttons), [`machine`] (the customer's
//! path as a pure state machine) and [`runner`] (one task per device, driving the
//! machine). The sale itself is not done here: the runner calls a [`Seller`],
//! which the vouchers layer implements.
#![warn(unreachable_pub)]

pub mod canvas;
pub mod coin;
pub mod display;
pub mod labels;
pub mod machine;
mod open;
pub mod printer;
pub mod runner;
#[cfg(feature = "sim")]
pub mod sim;
pub mod words;

use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime};

use firmware_config::Secret;

pub use coin::EventMark;

/// Id the seller gave a committed credit (a coin on disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditId(pub u64);

/// What the customer buys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A configured `[[plan]]`, by id.
    Plan(String),
    /// Connected time from the rate table (rates mode), at `price`.
    Time {
        /// Connected time bought.
        time: Duration,
        /// Credit it costs.
        price: u64,
        /// Hotspot user profile (`[kiosk] rate_profile`).
        profile: String,
    },
}

/// One sale the runner asks the seller for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRequest {
    /// What to sell.
    pub item: Item,
    /// Credit on the kiosk when the customer chose (at least the price).
    pub credit: u64,
    /// Credits committed since the last sale, oldest first, so the seller can tie
    /// the money to the voucher.
    pub credits: Vec<CreditId>,
}

/// A voucher the seller has provisioned (or taken from the pool).
#[derive(Clone, PartialEq, Eq)]
pub struct SaleReceipt {
    /// Sale id, for logs and alerts.
    pub sale_id: String,
    /// Login name (the code on the ticket).
    pub code: String,
    /// Password; equal to `code` in user-equals-password mode.
    pub password: Secret,
    /// Plan name shown to the customer.
    pub plan_name: String,
    /// Connected time allowed.
    pub time_limit: Option<Duration>,
    /// Data allowed, bytes.
    pub data_limit: Option<u64>,
    /// Wall-clock lifetime.
    pub validity: Option<Duration>,
    /// The lifetime counts from the sale (`validity_from = "sale"`), not from the
    /// first login.
    pub validity_from_sale: bool,
    /// Credit spent.
    pub price: u64,
    /// When it was sold.
    pub sold_at: SystemTime,
    /// `http://<hotspot dns name>/login?username=...&password=...`, encoded.
    pub login_url: String,
    /// The address customers type: `http://<hotspot dns name>`.
    pub login_address: String,
    /// When a ticket for this sale was first sent to the printer, if one was:
    /// the ticket printed now says `REPRINT` with that time.
    pub first_printed: Option<SystemTime>,
}

impl fmt::Debug for SaleReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The login URL carries the password, so it is left out like the password.
        f.debug_struct("SaleReceipt")
            .field("sale_id", &self.sale_id)
            .field("code", &self.code)
            .field("plan_name", &self.plan_name)
            .field("price", &self.price)
            .finish_non_exhaustive()
    }
}

/// Why the kiosk cannot sell right now; shown on the display as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The agent is starting.
    Starting,
    /// The agent is stopping.
    Stopping,
    /// The router does not answer and no pooled voucher is left.
    RouterUnreachable,
    /// The local store failed.
    Store(String),
    /// Printer out of paper and no display to show the voucher on.
    NoPaper,
    /// Printer does not answer and no display to show the voucher on.
    PrinterOffline,
    /// Nothing is configured for sale.
    NothingToSell,
    /// Anything else the seller wants to say.
    Other(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Starting => f.write_str("starting up"),
            Reason::Stopping => f.write_str("shutting down"),
            Reason::RouterUnreachable => f.write_str("network down"),
            Reason::Store(s) => write!(f, "storage error: {s}"),
            Reason::NoPaper => f.write_str("out of paper"),
            Reason::PrinterOffline => f.write_str("printer offline"),
            Reason::NothingToSell => f.write_str("nothing for sale"),
            Reason::Other(s) => f.write_str(s),
        }
    }
}

/// Why the seller refused or failed a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SellError {
    /// Selling is impossible until `Reason` clears; the kiosk inhibits the acceptor.
    #[error("cannot sell now: {0}")]
    Unavailable(Reason),
    /// The request cannot be honoured (unknown plan, too little credit); a bug or a config race.
    #[error("sale refused: {0}")]
    Refused(String),
    /// This attempt failed; the credit is kept and the customer may try again.
    #[error("sale failed: {0}")]
    Failed(String),
}

/// What the seller still holds for the kiosk after a restart.
#[derive(Debug, Clone, Default)]
pub struct Restored {
    /// Credit inserted before the restart and not spent.
    pub credit: u64,
    /// Sales paid before the restart whose ticket may not have reached the customer.
    pub undelivered: Vec<SaleReceipt>,
}

/// The seam to the sale logic (vouchers layer): money in, vouchers out, exactly once.
///
/// `record_credit` must have put the credit on disk when it returns `Ok`: the
/// display shows the credit only after that.
pub trait Seller: Send + Sync + 'static {
    /// Records inserted money before anything else happens with it.
    fn record_credit(
        &self,
        amount: u64,
    ) -> impl Future<Output = Result<CreditId, SellError>> + Send;
    /// Records a coin together with the acceptor's event counter after it, in one
    /// transaction, so a restart credits exactly the events that came later. The
    /// default drops the counter (sellers without a store).
    fn record_coin(
        &self,
        amount: u64,
        _mark: EventMark,
    ) -> impl Future<Output = Result<CreditId, SellError>> + Send {
        self.record_credit(amount)
    }
    /// Stores the acceptor's event counter where it moved without a credit
    /// (a rejected coin, the first read after start).
    fn record_counter(
        &self,
        _mark: EventMark,
    ) -> impl Future<Output = Result<(), SellError>> + Send {
        async { Ok(()) }
    }
    /// At start-up, before the acceptor is polled: the counter stored with the
    /// last credit (or by `record_counter`).
    fn coin_counter(&self) -> impl Future<Output = Result<Option<EventMark>, SellError>> + Send {
        async { Ok(None) }
    }
    /// A small durable write: while a failed credit write keeps the slot shut,
    /// the kiosk calls this now and then and reopens only when it succeeds.
    fn check_store(&self) -> impl Future<Output = Result<(), SellError>> + Send {
        async { Ok(()) }
    }
    /// Keeps the coin acceptor's identity and coin table as read at start (the text
    /// of `AcceptorInfo`), for `status` on the box: which channels are enabled and
    /// which were refused because their coin id does not match the configuration.
    fn record_acceptor(
        &self,
        _table: String,
    ) -> impl Future<Output = Result<(), SellError>> + Send {
        async { Ok(()) }
    }
    /// Sells `request.item` against the credit.
    fn sell(
        &self,
        request: SaleRequest,
    ) -> impl Future<Output = Result<SaleReceipt, SellError>> + Send;
    /// Records credit the customer leaves behind (`carry_over = false`): kept by the operator.
    fn forfeit_credit(
        &self,
        amount: u64,
        credits: Vec<CreditId>,
    ) -> impl Future<Output = Result<(), SellError>> + Send;
    /// Records, before the ticket goes to the printer, that it is being printed:
    /// a restart that finds the sale undelivered then marks its ticket `REPRINT`.
    fn printing(&self, _sale_id: &str) -> impl Future<Output = Result<(), SellError>> + Send {
        async { Ok(()) }
    }
    /// Records that the voucher reached the customer (`printed` = on paper, else on the display).
    fn delivered(
        &self,
        sale_id: &str,
        printed: bool,
    ) -> impl Future<Output = Result<(), SellError>> + Send;
    /// At start-up: credit and paid sales left over from before a restart or power
    /// cut, so no coin and no paid voucher is lost. The default has none.
    fn restore(&self) -> impl Future<Output = Result<Restored, SellError>> + Send {
        async { Ok(Restored::default()) }
    }
    /// Whether a sale could complete now (router reachable or a pooled voucher left).
    /// The kiosk task calls this every 250 ms: answer from cached state, never block.
    fn can_sell(&self) -> Result<(), Reason>;
}
