//! End-to-end tests, one module per area.

mod postinst;
mod repo;
mod setup_script;
mod sync;
mod thirdparty;
