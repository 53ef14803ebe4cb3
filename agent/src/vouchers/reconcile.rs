//! Reconcile: router vs cache.
#[derive(Debug, Clone)]
pub enum Drift {}
#[derive(Debug, Clone, Default)]
pub struct ReconcileReport {}
