//! `[kiosk]`: the devices a customer touches and how credit turns into vouchers.
//! (Filled in by the kiosk work: coin acceptor, printer, display, buttons, board presets.)

use serde::{Deserialize, Serialize};

use crate::{Config, Duration, Problem};

/// How credit buys access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SellMode {
    /// Buttons choose a plan; the plan's price must be met.
    #[default]
    Plans,
    /// Credit buys time by the rate table, as coin vendos do.
    Rates,
}

/// `[kiosk]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct KioskConfig {
    /// `plans` or `rates`.
    pub mode: SellMode,
    /// How long the customer has to insert coins and choose.
    pub insert_window: Duration,
}

impl Default for KioskConfig {
    fn default() -> Self {
        KioskConfig {
            mode: SellMode::Plans,
            insert_window: Duration::from_secs(30),
        }
    }
}

pub(crate) fn validate(kiosk: &KioskConfig, _config: &Config, problems: &mut Vec<Problem>) {
    if kiosk.insert_window.std() < std::time::Duration::from_secs(5) {
        problems.push(Problem::new("kiosk.insert_window", kiosk.insert_window, "5s or more"));
    }
}
