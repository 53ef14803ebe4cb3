//! The message bodies of the wire contract: what a site sends up ([`Up`]) and what
//! the central office sends down ([`Down`]). Field order is the wire order (postcard
//! is not self-describing): append new variants at the end and bump
//! [`super::envelope::SCHEMA_VERSION`] for anything else. See `README.md` at the top of this crate.

use serde::{Deserialize, Serialize};

/// Everything a site publishes. The variant index is the first byte of the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Up {
    /// 0: retained on `status`; the last-will says `online: false`.
    Status(Status),
    /// 1: one sale, on `up/sale`.
    Sale(SaleRecord),
    /// 2: something that happened (router reconnected, pool refilled), on `up/event`.
    Event(Event),
    /// 3: something an operator should act on (printer out of paper), on `up/alert`.
    Alert(Event),
    /// 4: periodic counters, on `up/telemetry`.
    Telemetry(Telemetry),
    /// 5: what became of a plan set or router settings sent down, on `up/report`.
    Report(Report),
    /// 6: the answer to a command, on `reply`.
    Reply(Reply),
    /// 7: one emptying of the kiosk's cash box, on `up/cash` (outbox).
    CashCollection(CashCollection),
    /// 8: what became of an online order ([`Order`]), on `up/order`, through the
    /// outbox (sent until acknowledged).
    Order(OrderResult),
}

impl Up {
    /// The outbox `kind` and the last topic level under `up/` for this message.
    pub fn kind(&self) -> &'static str {
        match self {
            Up::Status(_) => "status",
            Up::Sale(_) => "sale",
            Up::Event(_) => "event",
            Up::Alert(_) => "alert",
            Up::Telemetry(_) => "telemetry",
            Up::Report(_) => "report",
            Up::Reply(_) => "reply",
            Up::CashCollection(_) => "cash",
            Up::Order(_) => "order",
        }
    }
}

/// Everything the central office publishes. Every one is signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Down {
    /// 0: the plans, prices and profiles a site sells, retained on `plans`.
    Plans(PlanSet),
    /// 1: the routers a site drives, retained on `routers`.
    Routers(RouterSet),
    /// 2: one remote command, on `cmd`.
    Command(CommandRequest),
    /// 3: outbox messages the central office has stored, on `ack`.
    Ack(Ack),
    /// 4: a voucher paid for online (a website, an e-wallet), on `cmd`: one sale
    /// per order id, however often it comes.
    Order(Order),
    /// 5: the floor under what one box takes, retained on its `cmd`: kept by the
    /// central office, bound to the box's key, so a wiped box (a new key) can be
    /// given it and no old message opens the door below it.
    Floor(Floor),
}

/// What a box takes from now on: plan and router sets from these versions up, and
/// commands and orders signed (envelope `time_ms`) at or after `issued_ms`. The
/// central office publishes it when it registers a box; the box keeps the highest
/// of each it has seen. For one key only: on another box (or a box wiped since,
/// which has a new key) it means nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Floor {
    /// The box's ed25519 public key (32 bytes), as registered.
    pub site_key: Vec<u8>,
    pub plans_version: u64,
    pub routers_version: u64,
    pub issued_ms: u64,
}

/// An order paid through the central office: the site sells one voucher of
/// `plan_id` for it, keyed by `order_id`, and sends the code up ([`OrderResult`]).
/// Sent again with the same id (its answer lost, the site offline), it gets the
/// same voucher back, never a second one. No expiry: an order waits at the broker
/// (QoS 1, the site's persistent session) until the site takes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The central office's id of the order; at most 128 bytes, never reused.
    pub order_id: String,
    /// Site id; orders are never fleet-wide.
    pub target: String,
    pub plan_id: String,
    /// What the customer paid, smallest currency unit: the sale's price.
    pub amount: u64,
    /// Currency of `amount`; empty = the site's.
    pub currency: String,
}

/// What became of an order, with its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderResult {
    pub order_id: String,
    pub outcome: OrderOutcome,
}

/// The voucher sold for an order, or why there is none (yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrderOutcome {
    /// 0: sold; `code` is the customer's login, `channel` is `order`.
    Sold(SaleRecord),
    /// 1: paid for but not on the router yet (the router is unreachable); send the
    /// order again later for the code.
    Pending(String),
    /// 2: no voucher for this order (an unknown plan, a router that refused the
    /// user): the customer is owed a refund.
    Refused(String),
}

/// Whether a site is up and how it is doing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub online: bool,
    pub agent_version: String,
    pub uptime_s: u64,
    /// Outbox messages not yet acknowledged.
    pub backlog: u64,
    /// Version of the plan set in force (0: the config file's).
    pub plans_version: u64,
}

/// One sale as the central office books it. `sale_id` is unique within one state
/// folder of one site; the message id (`sale-<epoch>-<sale_id>`, a later state
/// `sale-<epoch>-<sale_id>-<state>`, see [`crate::ids`]) is unique for ever.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SaleRecord {
    pub sale_id: String,
    /// Voucher code = hotspot user name.
    pub code: String,
    pub plan_id: String,
    /// In the smallest unit of `currency` (see `[vouchers] currency_decimals`).
    pub price: u64,
    pub currency: String,
    /// Unix time of the sale, milliseconds.
    pub sold_at_ms: u64,
    /// Router name the voucher was created on.
    pub router: String,
    /// `reserved`, `provisioned`, `delivered`, `failed`, `refunded`.
    pub state: String,
    /// How it was paid: `coins`, `remote`, `admin`.
    pub channel: String,
}

/// An event or an alert.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Short machine-readable name, e.g. `router-down`, `paper-out`.
    pub name: String,
    /// Human-readable detail.
    pub detail: String,
}

/// Periodic counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Telemetry {
    pub sales_count_today: u64,
    pub sales_amount_today: u64,
    pub active_users: u32,
    /// Per router: name and `up`, `down` or a short error.
    pub routers: Vec<(String, String)>,
    /// Per plan id: vouchers ready in the pool.
    pub pool: Vec<(String, u32)>,
    /// Credit inserted and not yet spent, smallest currency unit.
    pub credit: u64,
    /// Coins in the cash box since it was last emptied, smallest currency unit.
    pub cash_box: u64,
    pub agent_version: String,
    pub uptime_s: u64,
    /// Whether the site's clock is believed for validity (added at the end in schema 2).
    pub clock: ClockState,
}

/// How far the site's clock is believed (the agent README, "Validity on a clock
/// nobody set").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClockState {
    /// Whether validity is judged on it; while `false` no voucher expires by
    /// validity and no first login is recorded.
    pub trusted: bool,
    /// Where the time acted on comes from: `system` (the board's clock), `router`
    /// (the router's uptime since a trusted reading, its clock agreeing), `floor`
    /// (untrusted: the latest trusted time plus the time elapsed since).
    pub source: String,
    /// Why it is not trusted; empty when it is.
    pub detail: String,
}

/// One emptying of a kiosk's cash box: what was taken out, so the central office can
/// reconcile the box against the coin sales of its period. Its message id is
/// `cash-<epoch>-<collection_id>` ([`crate::ids::cash_msg_id`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CashCollection {
    /// The collection's number in the site's store, 1, 2, … per state folder.
    pub collection_id: String,
    /// When the box was emptied, Unix ms.
    pub collected_at_ms: u64,
    /// When it was emptied before (the start of this box's period); `None` for the
    /// first collection of a box.
    pub since_ms: Option<u64>,
    /// The value taken out, smallest currency unit (the site's sale currency).
    pub total: u64,
    /// How many coins.
    pub coins: u64,
    /// `(coin value, how many)`, smallest value first.
    pub per_value: Vec<(u64, u64)>,
    /// Who recorded it: `cli`, `owner-page`, …
    pub by: String,
}

/// A plan set: the whole list of what a site sells, replacing the one in force.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanSet {
    /// Strictly increasing; a set not newer than the one in force is refused.
    pub version: u64,
    /// Site id this set is for, or `*` for every site.
    pub target: String,
    pub currency: String,
    pub plans: Vec<PlanSpec>,
    pub profiles: Vec<ProfileSpec>,
}

/// One plan (see `[[plan]]` in the config file for the meaning of each field).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanSpec {
    pub id: String,
    pub name: String,
    pub price: u64,
    pub time_limit_s: Option<u64>,
    pub data_limit_bytes: Option<u64>,
    pub validity_s: Option<u64>,
    /// Validity runs from the sale (true) or from first login (false).
    pub validity_from_sale: bool,
    pub profile: String,
    pub fair_use_profile: Option<String>,
    pub kiosk: bool,
    pub pool: u32,
}

/// One hotspot user profile (see `[[profile]]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileSpec {
    pub name: String,
    pub rate_limit: Option<String>,
    pub shared_users: Option<u32>,
    pub session_timeout_s: Option<u64>,
    pub idle_timeout_s: Option<u64>,
    pub keepalive_timeout_s: Option<u64>,
}

/// The routers a site drives (the seed's "MikroTik settings"), replacing those in force.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouterSet {
    pub version: u64,
    pub target: String,
    pub routers: Vec<RouterSpec>,
}

/// One router (see `[[router]]`). The password never travels in clear: it is a
/// sealed box to the receiving site's key (see [`crate::seal`]), so the broker, a
/// captured message and `msg decode` show only ciphertext. `None` keeps the site's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouterSpec {
    pub name: String,
    pub host: String,
    pub port: Option<u16>,
    /// `auto`, `api`, `api-ssl`, `rest`.
    pub transport: String,
    pub username: String,
    /// The password sealed to the site's key ([`crate::seal::seal_to_site`]).
    pub password_sealed: Option<Vec<u8>>,
    pub hotspot_server: Option<String>,
    pub default_profile: Option<String>,
}

/// A remote command. The request id is single-use; the expiry bounds how long a
/// captured request could be replayed (and how long the site remembers ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRequest {
    pub request_id: String,
    /// Site id; commands are never fleet-wide.
    pub target: String,
    /// Unix time, milliseconds, after which the site refuses the command.
    pub expires_ms: u64,
    pub command: SiteCommand,
}

/// What a command asks for: the seed's admin endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SiteCommand {
    /// 0: connect to a router (the first one when `None`) and report its status.
    TestRouter { router: Option<String> },
    /// 1: hotspot users, optionally only active ones or one profile's.
    ListUsers {
        router: Option<String>,
        active: Option<bool>,
        profile: Option<String>,
        /// Skip this many users (the `next_offset` of the previous page).
        offset: u32,
    },
    /// 2: hotspot user profiles on the router.
    ListProfiles { router: Option<String> },
    /// 3: sell `count` vouchers of a plan without coins (recorded as channel `remote`).
    CreateVouchers { plan_id: String, count: u32 },
    /// 4: end a user's active sessions.
    DisconnectUser { username: String },
    /// 5: remove a user from the router.
    RemoveUser { username: String },
    /// 6: create or update the profiles the plans need.
    SyncProfiles,
    /// 7: compare the router with the local records and repair.
    Reconcile,
}

/// Outbox message ids the central office has stored; the site deletes them. The
/// envelope's `site` names the site it is for and the signature covers it, and the
/// ids carry the site's epoch, so an ack means nothing on another site or after a
/// wiped state folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub msg_ids: Vec<String>,
}

/// What became of a plan set or router settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `plans` or `routers`.
    pub subject: String,
    /// The version received (0 when it could not be read).
    pub version: u64,
    /// Message id of the message this reports on (empty when unreadable).
    pub about_msg_id: String,
    pub outcome: Outcome,
}

/// Applied, with what was done, or refused, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    Applied(AppliedReport),
    Refused(String),
}

/// What the agent did to apply something.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppliedReport {
    /// One line per thing done: `profile 1h-fast created`, `router main: up, RouterOS 7.16`.
    pub actions: Vec<String>,
    /// Things that did not work but did not stop the rest.
    pub warnings: Vec<String>,
}

/// The answer to a command, with the request's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub request_id: String,
    pub result: CommandResult,
}

/// Result of a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CommandResult {
    Ok(CommandOutput),
    /// Refused (expired, replayed, bad signature) or failed, with the reason.
    Err(String),
}

/// What a command produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CommandOutput {
    /// 0: a router's state.
    Router(RouterStatus),
    /// 1: one page of users; ask again from `next_offset` for the rest.
    Users(UsersPage),
    /// 2: profiles.
    Profiles(Vec<ProfileSpec>),
    /// 3: vouchers created.
    Vouchers(Vec<SaleRecord>),
    /// 4: done, with a line saying what happened.
    Done(String),
    /// 5: what a reconcile found.
    Reconciled(ReconcileResult),
    /// 6: `CreateVouchers` stopped partway: the vouchers sold before the failure
    /// (they are sold and stay so) and the failure.
    VouchersPartly(PartialVouchers),
}

/// A `CreateVouchers` that sold fewer than asked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialVouchers {
    pub sold: Vec<SaleRecord>,
    pub asked: u32,
    pub error: String,
}

/// A reconcile's findings, as data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReconcileResult {
    /// This agent's users on the router.
    pub router_users: u32,
    /// Sales the site's records hold as being on the router.
    pub cached: u32,
    /// Each difference, one line (at most 64; see `limits`).
    pub drift: Vec<String>,
    /// What was repaired, one line each.
    pub fixed: Vec<String>,
}

/// A router's state as a test or a settings change found it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouterStatus {
    pub name: String,
    pub reachable: bool,
    pub version: String,
    /// `api`, `api-ssl` or `rest`.
    pub transport: String,
    pub detail: String,
}

/// Users from `offset` on, as many as fit one message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsersPage {
    pub users: Vec<UserInfo>,
    /// Users matching the query in all.
    pub total: u32,
    /// Where the next page starts; `None` on the last page.
    pub next_offset: Option<u32>,
}

/// A hotspot user as a list shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    pub name: String,
    pub profile: String,
    pub active: bool,
    pub uptime_s: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub comment: String,
}
