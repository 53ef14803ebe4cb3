//! The seam between the link and the rest of the agent: what the agent does when
//! the central office sends plans, router settings or a command.

use std::future::Future;

use sync_proto::messages::{
    AppliedReport, Command, CommandResult, PlanSet, RouterSettings, Telemetry,
};

/// Implemented by the agent with the real vouchers and router code; tests use a fake.
pub trait AgentActions: Send + Sync + 'static {
    /// Stores a new plan set, creates or updates the hotspot user profiles it needs and
    /// changes the kiosk's prices. `Err` says why nothing was applied.
    fn apply_plans(
        &self,
        plans: PlanSet,
    ) -> impl Future<Output = Result<AppliedReport, String>> + Send;
    /// Stores new router settings and tests each router; the report holds each status.
    fn apply_routers(
        &self,
        routers: RouterSettings,
    ) -> impl Future<Output = Result<AppliedReport, String>> + Send;
    /// Runs one remote command.
    fn run_command(&self, command: Command) -> impl Future<Output = CommandResult> + Send;
    /// Counters for the periodic telemetry message.
    fn telemetry(&self) -> Telemetry {
        Telemetry::default()
    }
}
