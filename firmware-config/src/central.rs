//! `[central]`: the MQTT link to the central office.
//! (Filled in by the central sync work: TLS, client certificates, signing key.)

use serde::{Deserialize, Serialize};

use crate::{Duration, Problem, Secret};

/// `[central]`. The link is off while `broker` is empty: a kiosk sells on its own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CentralConfig {
    /// Broker host name or address; empty = no central office.
    pub broker: String,
    /// Broker port; default 1883, or 8883 with TLS.
    pub port: Option<u16>,
    /// MQTT user name.
    pub username: Option<String>,
    /// MQTT password; prefer `password_file`.
    pub password: Option<Secret>,
    /// File holding the MQTT password, readable only by the agent's user.
    pub password_file: Option<std::path::PathBuf>,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// First level of every topic.
    pub topic_prefix: String,
}

impl Default for CentralConfig {
    fn default() -> Self {
        CentralConfig {
            broker: String::new(),
            port: None,
            username: None,
            password: None,
            password_file: None,
            keep_alive: Duration::from_secs(30),
            topic_prefix: "hotspot".into(),
        }
    }
}

pub(crate) fn validate(central: &CentralConfig, problems: &mut Vec<Problem>) {
    if central.topic_prefix.is_empty() || central.topic_prefix.contains(['#', '+']) {
        problems.push(Problem::new(
            "central.topic_prefix",
            &central.topic_prefix,
            "a non-empty topic level without '#' or '+'",
        ));
    }
}
