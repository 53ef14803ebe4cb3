//! End-to-end tests, one module per area.

mod repo;
mod setup_script;
mod sync;
mod thirdparty;
