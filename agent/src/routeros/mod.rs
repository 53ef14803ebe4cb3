//! Talking to MikroTik RouterOS: the binary API codec and client, the REST client,
//! transport detection, the typed model, and (with the `sim` feature) a simulated router.

pub mod proto;
pub mod setup_script;
