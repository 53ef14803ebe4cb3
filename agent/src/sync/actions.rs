//! The seam between the link and the rest of the agent: what the agent does when
//! the central office sends plans, router settings or a command.

use std::future::Future;

use firmware_config::{ConfigError, Secret};
use sync_proto::messages::{
    AppliedReport, CommandResult, Order, OrderOutcome, PlanSet, RouterSet, SiteCommand, Telemetry,
};

use crate::vouchers::VoucherError;

/// Why a pushed plan set or router settings were refused: nothing of it is in force.
/// The site reports the message text to the central office (`Outcome::Refused`).
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The pushed settings fail the configuration's own checks (a plan naming a
    /// missing profile, no limits, a router entry without its password…); the
    /// message lists every problem.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    /// The plans could not be stored (the store's message names the file and the fix).
    #[error(transparent)]
    Vouchers(#[from] VoucherError),
    /// The router settings could not be written to the state folder.
    #[error("router settings not stored: {0}")]
    RoutersNotStored(#[from] std::io::Error),
    /// This implementation cannot apply pushes now (the demo's and the benchmarks'
    /// stand-ins); the text says why.
    #[error("{0}")]
    Unavailable(&'static str),
}

/// Implemented by the agent with the real vouchers and router code; tests use a fake.
pub trait AgentActions: Send + Sync + 'static {
    /// Stores a new plan set, creates or updates the hotspot user profiles it needs and
    /// changes the kiosk's prices. `Err` says why nothing was applied.
    fn apply_plans(
        &self,
        plans: PlanSet,
    ) -> impl Future<Output = Result<AppliedReport, ActionError>> + Send;
    /// Stores new router settings and tests each router; the report holds each status.
    /// `passwords[i]` is router `i`'s password, opened from its sealed box (`None`:
    /// keep the site's own).
    fn apply_routers(
        &self,
        routers: RouterSet,
        passwords: Vec<Option<Secret>>,
    ) -> impl Future<Output = Result<AppliedReport, ActionError>> + Send;
    /// Runs one remote command.
    fn run_command(&self, command: SiteCommand) -> impl Future<Output = CommandResult> + Send;
    /// Runs one remote command for request `request_id`: what it sells is keyed by
    /// the id, so running it again after a restart mid-command sells nothing twice.
    fn run_request(
        &self,
        request_id: &str,
        command: SiteCommand,
    ) -> impl Future<Output = CommandResult> + Send {
        let _ = request_id;
        self.run_command(command)
    }
    /// Sells the voucher of an online order (or finds the one sold for its id).
    fn take_order(&self, order: Order) -> impl Future<Output = OrderOutcome> + Send {
        let _ = order;
        async { OrderOutcome::Refused("this site does not take online orders".into()) }
    }
    /// Counters for the periodic telemetry message: today's sales from the store,
    /// active users and each router's state (`up`, `down` or a short error) as the
    /// router answers now.
    fn telemetry(&self) -> impl Future<Output = Telemetry> + Send {
        async { Telemetry::default() }
    }
}

/// A site that only sends (the benchmarks' sites): every push and command is refused
/// as unavailable, so nothing it receives changes anything.
pub struct NoActions;

impl AgentActions for NoActions {
    async fn apply_plans(&self, _: PlanSet) -> Result<AppliedReport, ActionError> {
        Err(ActionError::Unavailable("benchmark"))
    }
    async fn apply_routers(
        &self,
        _: RouterSet,
        _: Vec<Option<Secret>>,
    ) -> Result<AppliedReport, ActionError> {
        Err(ActionError::Unavailable("benchmark"))
    }
    async fn run_command(&self, _: SiteCommand) -> CommandResult {
        CommandResult::Err("benchmark".into())
    }
}
