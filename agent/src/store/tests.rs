//! Tests of the store: migrations, durability rules, and the errors operators see.
