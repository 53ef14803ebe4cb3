//! Harness for the end-to-end tests: starting the simulated router, brokers and agents.

pub mod mosquitto;
pub mod postgres;
