//! Tests of the seller against the fake router.
