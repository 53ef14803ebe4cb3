//! Vouchers: codes, plans, the issuance state machine, the pool, enforcement and reconcile.
