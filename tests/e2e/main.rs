//! End-to-end tests, one module per area.

mod sync;
mod thirdparty;
