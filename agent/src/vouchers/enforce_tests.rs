//! Unit tests of the expiry and quota policy.
