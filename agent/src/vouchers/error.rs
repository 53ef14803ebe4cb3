//! Errors of the voucher layer, and why the kiosk cannot sell. Each message says
//! what failed and what to do; the store's and router's own errors pass through.

use serde::Serialize;

use crate::store::StoreError;
use routeros::RouterError;

use super::CodeError;

/// Why a voucher operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VoucherError {
    /// No such plan.
    #[error(
        "there is no plan {plan:?}; plans are: {known}; add it as a [[plan]] in the config file"
    )]
    UnknownPlan { plan: String, known: String },
    /// The store failed (its message names the file and the fix).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking task that ran a store call died (it panicked or the runtime is
    /// shutting down); what it was writing either committed whole or not at all.
    #[error("the store task ended before answering: {0}; the sale is resumed from the database at the next start")]
    StoreTask(String),
    /// Codes could not be made.
    #[error(transparent)]
    Code(#[from] CodeError),
    /// The router failed an operation that has no local fallback.
    #[error("{during}: {source}")]
    Router {
        during: String,
        #[source]
        source: RouterError,
    },
    /// Paid and reserved, but the router has not confirmed it yet; it is finished
    /// automatically (resume) when the router answers. Nothing is lost.
    #[error(
        "sale {sale_id} is paid and recorded, but the router has not confirmed the voucher yet ({reason}); \
         it will be finished when the router answers: check the router link (hotspot-agent router test)"
    )]
    Pending { sale_id: i64, reason: String },
    /// The router refused the voucher; the credit was given back.
    #[error("sale {sale_id} could not be made and its credit was refunded: {reason}")]
    Failed { sale_id: i64, reason: String },
    /// Selling is impossible right now.
    #[error("{0}")]
    CannotSell(Reason),
    /// No unused code could be found.
    #[error("could not find an unused voucher code after many tries; raise [vouchers] length in the config file")]
    CodesExhausted,
}

/// Why the kiosk cannot sell now (the coin slot should be inhibited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Reason {
    /// The pool is empty and the router cannot be reached.
    RouterDownAndPoolEmpty { router: String },
    /// No plan is offered at the kiosk.
    NoPlans,
    /// A plan that is not on offer.
    UnknownPlan(String),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::RouterDownAndPoolEmpty { router } => write!(
                f,
                "cannot sell: router {router} is unreachable and no pool voucher is left; \
                 restore the router link (hotspot-agent router test) or raise the plan's pool"
            ),
            Reason::NoPlans => {
                f.write_str("cannot sell: no [[plan]] has kiosk = true in the config file")
            }
            Reason::UnknownPlan(p) => write!(f, "cannot sell: there is no plan {p:?}"),
        }
    }
}
