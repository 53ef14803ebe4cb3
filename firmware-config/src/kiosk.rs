//! `[kiosk]`: the devices a customer touches and how credit turns into vouchers.
//!
//! Sub-tables: `[kiosk.coin]` (pulse or ccTalk acceptor), `[kiosk.printer]`
//! (ESC/POS thermal printer), `[kiosk.display]` (SSD1306, framebuffer or PNG
//! files) and `[kiosk.buttons]`. `kind = "sim"` selects the simulated device,
//! which only the host build (feature `sim` of the agent) has.

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

/// What happens when the insert window runs out with credit inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnTimeout {
    /// Keep the credit on the kiosk; the customer can come back and choose.
    #[default]
    KeepCredit,
    /// Buy the best plan (or the most time) the credit affords.
    BuyBest,
}

/// The customer's language on tickets and screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Language {
    /// English.
    #[default]
    #[serde(rename = "en")]
    En,
    /// Filipino (Tagalog).
    #[serde(rename = "fil", alias = "tl")]
    Fil,
    /// Indonesian (Bahasa Indonesia).
    #[serde(rename = "id")]
    Id,
}

/// `[[kiosk.rate]]`: in `rates` mode, this much credit buys this much time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    /// Credit in the smallest currency unit, e.g. `5`.
    pub credit: u64,
    /// Connected time it buys, e.g. `"60m"`.
    pub time: Duration,
}

/// `[kiosk]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct KioskConfig {
    /// `plans` or `rates`.
    pub mode: SellMode,
    /// How long the customer has to insert coins and choose (5s to 10m).
    pub insert_window: Duration,
    /// `keep-credit` (default) or `buy-best` when the insert window runs out.
    pub on_timeout: OnTimeout,
    /// Keep credit left over after a sale for the next purchase. When false the
    /// leftover is recorded as forfeited (the operator keeps it).
    pub carry_over: bool,
    /// Buy at once when the credit reaches the dearest kiosk plan (plans mode) or
    /// the largest rate (rates mode): there is nothing better to wait for.
    pub auto_buy: bool,
    /// How long the voucher stays on the display after a sale (1s to 10m).
    pub show_voucher_for: Duration,
    /// Offset of local time from UTC for the date printed on tickets, `+08:00`.
    /// Empty (the default): the system's time zone (`/etc/localtime`, set with
    /// `timedatectl set-timezone`), as `stats` uses; set it only on a system
    /// without one.
    pub utc_offset: String,
    /// The language of tickets and screens: `en` (English), `fil` (Filipino) or
    /// `id` (Indonesian).
    pub language: Language,
    /// The WiFi network name (SSID) customers join, printed on the ticket as the
    /// first login step. Empty: the step is left out.
    pub wifi_name: String,
    /// The rate table for `rates` mode.
    #[serde(rename = "rate")]
    pub rates: Vec<RateConfig>,
    /// Hotspot user profile for vouchers sold by rate.
    pub rate_profile: String,
    /// Coin or bill acceptor.
    pub coin: CoinConfig,
    /// Thermal ticket printer.
    pub printer: PrinterConfig,
    /// Customer display.
    pub display: DisplayConfig,
    /// Push buttons.
    pub buttons: ButtonsConfig,
}

impl Default for KioskConfig {
    fn default() -> Self {
        KioskConfig {
            mode: SellMode::Plans,
            insert_window: Duration::from_secs(30),
            on_timeout: OnTimeout::KeepCredit,
            carry_over: false,
            auto_buy: false,
            show_voucher_for: Duration::from_secs(60),
            utc_offset: String::new(),
            language: Language::En,
            wifi_name: String::new(),
            // JuanFi's table (field-notes.md): 1 = 10 min, 5 = 60 min, 10 = 120 min.
            rates: vec![
                RateConfig {
                    credit: 1,
                    time: Duration::from_secs(600),
                },
                RateConfig {
                    credit: 5,
                    time: Duration::from_secs(3600),
                },
                RateConfig {
                    credit: 10,
                    time: Duration::from_secs(7200),
                },
            ],
            rate_profile: "default".into(),
            coin: CoinConfig::default(),
            printer: PrinterConfig::default(),
            display: DisplayConfig::default(),
            buttons: ButtonsConfig::default(),
        }
    }
}

mod devices;

pub use devices::*;

/// Minutes east of UTC from `+HH:MM` / `-HH:MM`.
pub fn parse_utc_offset(text: &str) -> Option<i32> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

fn ms(d: Duration) -> u128 {
    d.std().as_millis()
}

// Long on purpose: one check per `[kiosk]` key, in file order, so the list of problems reads like the file.
pub(crate) fn validate(kiosk: &KioskConfig, config: &Config, problems: &mut Vec<Problem>) {
    let secs = |d: Duration| d.std().as_secs_f64();
    if !(5.0..=600.0).contains(&secs(kiosk.insert_window)) {
        problems.push(Problem::new(
            "kiosk.insert_window",
            kiosk.insert_window,
            "5s to 10m",
        ));
    }
    if !(1.0..=600.0).contains(&secs(kiosk.show_voucher_for)) {
        problems.push(Problem::new(
            "kiosk.show_voucher_for",
            kiosk.show_voucher_for,
            "1s to 10m",
        ));
    }
    if !kiosk.utc_offset.is_empty() && parse_utc_offset(&kiosk.utc_offset).is_none() {
        problems.push(Problem::new(
            "kiosk.utc_offset",
            &kiosk.utc_offset,
            "+HH:MM or -HH:MM, e.g. \"+08:00\", or leave it out for the system's time zone",
        ));
    }
    match kiosk.mode {
        SellMode::Plans => {
            if !config.plans.is_empty() && !config.plans.iter().any(|p| p.kiosk) {
                problems.push(Problem::new(
                    "kiosk.mode",
                    "plans",
                    "at least one [[plan]] with kiosk = true, or mode = \"rates\"",
                ));
            }
        }
        SellMode::Rates => {
            if kiosk.rates.is_empty() {
                problems.push(Problem::new(
                    "kiosk.rate",
                    "none",
                    "at least one [[kiosk.rate]] in rates mode",
                ));
            }
            if kiosk.rate_profile.is_empty() {
                problems.push(Problem::new(
                    "kiosk.rate_profile",
                    "",
                    "a hotspot user profile name, e.g. \"default\"",
                ));
            } else if kiosk.rate_profile != "default"
                && !config.profiles.iter().any(|p| p.name == kiosk.rate_profile)
            {
                problems.push(Problem::new(
                    "kiosk.rate_profile",
                    &kiosk.rate_profile,
                    "\"default\" or the name of a [[profile]] in this file",
                ));
            }
        }
    }
    for (i, r) in kiosk.rates.iter().enumerate() {
        if r.credit == 0 {
            problems.push(Problem::new(
                format!("kiosk.rate[{i}].credit"),
                0,
                "1 or more",
            ));
        }
        if r.time.std().as_secs() < 60 {
            problems.push(Problem::new(
                format!("kiosk.rate[{i}].time"),
                r.time,
                "1m or more",
            ));
        }
        if kiosk.rates[..i].iter().any(|o| o.credit == r.credit) {
            problems.push(Problem::new(
                format!("kiosk.rate[{i}].credit"),
                r.credit,
                "a credit no other rate uses",
            ));
        }
    }
    devices::validate(kiosk, problems);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> String {
        match Config::parse(text, "k.toml").unwrap().validate("k.toml") {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn default_kiosk_section_is_valid() {
        assert_eq!(problems("[kiosk]\n"), "");
    }

    #[test]
    fn rates_mode_reads_the_rate_table() {
        let text = "[kiosk]\nmode = \"rates\"\n[[kiosk.rate]]\ncredit = 1\ntime = \"10m\"\n[[kiosk.rate]]\ncredit = 5\ntime = \"1h\"\n";
        let config = Config::parse(text, "k.toml").unwrap();
        config.validate("k.toml").unwrap();
        assert_eq!(config.kiosk.rates.len(), 2);
        assert_eq!(config.kiosk.rates[1].time.as_secs(), 3600);
    }

    #[test]
    fn duplicate_pulse_counts_are_named() {
        let text = "[kiosk.coin]\nkind = \"pulse\"\npulse_values = [{ pulses = 1, value = 1 }, { pulses = 1, value = 5 }]\n";
        let err = problems(text);
        assert!(err.contains("kiosk.coin.pulse_values[1].pulses"), "{err}");
    }

    #[test]
    fn cctalk_host_address_is_refused() {
        let err = problems("[kiosk.coin]\nkind = \"cctalk\"\naddress = 1\n");
        assert!(err.contains("kiosk.coin.address"), "{err}");
        assert!(err.contains("1 is the host"), "{err}");
    }

    #[test]
    fn odd_paper_width_and_offset_are_refused() {
        let err = problems("[kiosk]\nutc_offset = \"8\"\n[kiosk.printer]\npaper_mm = 62\n");
        assert!(err.contains("kiosk.printer.paper_mm"), "{err}");
        assert!(err.contains("kiosk.utc_offset"), "{err}");
    }

    #[test]
    fn utc_offsets_parse_both_signs() {
        assert_eq!(parse_utc_offset("+08:00"), Some(480));
        assert_eq!(parse_utc_offset("-03:30"), Some(-210));
        assert_eq!(parse_utc_offset("08:00"), None);
    }

    #[test]
    fn selling_with_no_display_and_no_printer_is_refused() {
        let err = problems("[kiosk.printer]\nkind = \"none\"\n[kiosk.display]\nkind = \"none\"\n");
        assert!(err.contains("never sees the voucher"), "{err}");
    }
}
