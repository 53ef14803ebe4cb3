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
    pub utc_offset: String,
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
            utc_offset: "+00:00".into(),
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

/// Which coin acceptor is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoinKind {
    /// No acceptor: vouchers are only sold from the command line.
    None,
    /// Simulated acceptor (host builds only).
    #[default]
    Sim,
    /// Pulse output (CH-926, DG600F, TB-74) on a GPIO line.
    Pulse,
    /// ccTalk over a serial port.
    Cctalk,
}

/// `pulses = N` means `value` credit.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PulseValue {
    /// Pulses in one train.
    pub pulses: u32,
    /// Credit in the smallest currency unit.
    pub value: u64,
}

/// ccTalk credit channel `channel` means `value` credit.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChannelValue {
    /// Credit channel reported by header 229 (1 to 16).
    pub channel: u8,
    /// Credit in the smallest currency unit.
    pub value: u64,
}

/// `[kiosk.coin]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CoinConfig {
    /// `none`, `sim`, `pulse` or `cctalk`.
    pub kind: CoinKind,
    /// GPIO character device, e.g. `/dev/gpiochip0` (pulse).
    pub gpio_chip: String,
    /// Line offset of the pulse (COIN) output (pulse).
    pub pulse_line: u32,
    /// Line offset of the inhibit (SET/INH) input of the acceptor; none = not wired.
    pub inhibit_line: Option<u32>,
    /// The pulse pulls the line low (open collector), as CH-926 and DG600F do.
    pub active_low: bool,
    /// Level that makes the acceptor refuse coins (`true` = drive high).
    pub inhibit_level: bool,
    /// Shorter pulses and gaps are noise (field notes: under 20 ms).
    pub noise: Duration,
    /// Shortest pulse that counts.
    pub min_pulse: Duration,
    /// Longest pulse that counts; a longer one spoils the train.
    pub max_pulse: Duration,
    /// Quiet time that ends a pulse train (field notes: 100-500 ms).
    pub train_gap: Duration,
    /// Pulses per train and the credit they mean (pulse).
    pub pulse_values: Vec<PulseValue>,
    /// Serial port (cctalk), e.g. `/dev/ttyUSB0`.
    pub port: String,
    /// Baud rate (cctalk: 9600 by the standard).
    pub baud: u32,
    /// ccTalk address of the acceptor (2 is the coin acceptor default).
    pub address: u8,
    /// Time between header-229 polls (cctalk).
    pub poll_interval: Duration,
    /// Credit channel to value (cctalk).
    pub channel_values: Vec<ChannelValue>,
}

impl Default for CoinConfig {
    fn default() -> Self {
        CoinConfig {
            kind: CoinKind::Sim,
            gpio_chip: "/dev/gpiochip0".into(),
            pulse_line: 17,
            inhibit_line: None,
            active_low: true,
            inhibit_level: true,
            noise: Duration(std::time::Duration::from_millis(20)),
            min_pulse: Duration(std::time::Duration::from_millis(20)),
            max_pulse: Duration(std::time::Duration::from_millis(180)),
            train_gap: Duration(std::time::Duration::from_millis(300)),
            pulse_values: vec![
                PulseValue {
                    pulses: 1,
                    value: 1,
                },
                PulseValue {
                    pulses: 5,
                    value: 5,
                },
                PulseValue {
                    pulses: 10,
                    value: 10,
                },
            ],
            port: "/dev/ttyUSB0".into(),
            baud: 9600,
            address: 2,
            poll_interval: Duration(std::time::Duration::from_millis(150)),
            channel_values: vec![
                ChannelValue {
                    channel: 1,
                    value: 1,
                },
                ChannelValue {
                    channel: 2,
                    value: 5,
                },
                ChannelValue {
                    channel: 3,
                    value: 10,
                },
            ],
        }
    }
}

/// Which printer is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrinterKind {
    /// No printer: vouchers are shown on the display only.
    None,
    /// Simulated printer (host builds only).
    #[default]
    Sim,
    /// ESC/POS printer on a serial port.
    Escpos,
}

/// How the QR code is sent to the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QrMethod {
    /// The printer draws it (`GS ( k`).
    #[default]
    Native,
    /// The agent draws it and sends a raster image (`GS v 0`), for printers without QR.
    Raster,
}

/// `[kiosk.printer]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PrinterConfig {
    /// `none`, `sim` or `escpos`.
    pub kind: PrinterKind,
    /// Serial port, e.g. `/dev/ttyS0` or `/dev/usb/lp0` through a USB-serial adapter.
    pub port: String,
    /// Baud rate.
    pub baud: u32,
    /// Paper width in millimetres: 58 or 80.
    pub paper_mm: u32,
    /// `native` or `raster`.
    pub qr: QrMethod,
}

impl Default for PrinterConfig {
    fn default() -> Self {
        PrinterConfig {
            kind: PrinterKind::Sim,
            port: "/dev/ttyS0".into(),
            baud: 9600,
            paper_mm: 58,
            qr: QrMethod::Native,
        }
    }
}

/// Which display is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisplayKind {
    /// No display.
    None,
    /// PNG files in `png_dir`, one per screen change (demo, tests).
    #[default]
    Png,
    /// SSD1306 128x64 OLED on I2C.
    Ssd1306,
    /// Linux framebuffer device.
    Framebuffer,
}

/// `[kiosk.display]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DisplayConfig {
    /// `none`, `png`, `ssd1306` or `framebuffer`.
    pub kind: DisplayKind,
    /// I2C bus device (ssd1306).
    pub i2c_bus: String,
    /// I2C address (ssd1306): 0x3C or 0x3D.
    pub i2c_address: u8,
    /// Framebuffer device (framebuffer), e.g. `/dev/fb0`.
    pub framebuffer: String,
    /// Folder for PNG screens (png).
    pub png_dir: String,
}

impl Default for DisplayConfig {
    fn default() -> Self {
        DisplayConfig {
            kind: DisplayKind::Png,
            i2c_bus: "/dev/i2c-1".into(),
            i2c_address: 0x3C,
            framebuffer: "/dev/fb0".into(),
            png_dir: "./hotspot-state/screens".into(),
        }
    }
}

/// `[kiosk.buttons]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ButtonsConfig {
    /// GPIO character device.
    pub gpio_chip: String,
    /// Line offsets; button n chooses the n-th kiosk plan (rates mode: the first buys).
    pub lines: Vec<u32>,
    /// A press pulls the line low (button to ground with a pull-up).
    pub active_low: bool,
    /// A level must hold this long to count (field notes: 20 ms).
    pub debounce: Duration,
}

impl Default for ButtonsConfig {
    fn default() -> Self {
        ButtonsConfig {
            gpio_chip: "/dev/gpiochip0".into(),
            lines: Vec::new(),
            active_low: true,
            debounce: Duration(std::time::Duration::from_millis(20)),
        }
    }
}

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
    if parse_utc_offset(&kiosk.utc_offset).is_none() {
        problems.push(Problem::new(
            "kiosk.utc_offset",
            &kiosk.utc_offset,
            "+HH:MM or -HH:MM, e.g. \"+08:00\"",
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
    validate_coin(&kiosk.coin, problems);
    let p = &kiosk.printer;
    if !matches!(p.paper_mm, 58 | 80) {
        problems.push(Problem::new(
            "kiosk.printer.paper_mm",
            p.paper_mm,
            "58 or 80",
        ));
    }
    if p.kind == PrinterKind::Escpos {
        if p.port.is_empty() {
            problems.push(Problem::new(
                "kiosk.printer.port",
                "",
                "a serial device such as /dev/ttyS0",
            ));
        }
        if !matches!(p.baud, 9600 | 19200 | 38400 | 57600 | 115200) {
            problems.push(Problem::new(
                "kiosk.printer.baud",
                p.baud,
                "9600, 19200, 38400, 57600 or 115200",
            ));
        }
    }
    let d = &kiosk.display;
    if d.kind == DisplayKind::Ssd1306 && !matches!(d.i2c_address, 0x3C | 0x3D) {
        problems.push(Problem::new(
            "kiosk.display.i2c_address",
            d.i2c_address,
            "0x3C (60) or 0x3D (61)",
        ));
    }
    if d.kind == DisplayKind::Png && d.png_dir.is_empty() {
        problems.push(Problem::new(
            "kiosk.display.png_dir",
            "",
            "a folder to write screens to",
        ));
    }
    if d.kind == DisplayKind::None
        && p.kind == PrinterKind::None
        && kiosk.coin.kind != CoinKind::None
    {
        problems.push(Problem::new(
            "kiosk.display.kind",
            "none",
            "a display or a printer: with neither, a customer who pays never sees the voucher",
        ));
    }
    let b = &kiosk.buttons;
    if !(5..=200).contains(&ms(b.debounce)) {
        problems.push(Problem::new(
            "kiosk.buttons.debounce",
            b.debounce,
            "5ms to 200ms",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for line in &b.lines {
        if !seen.insert(*line) {
            problems.push(Problem::new("kiosk.buttons.lines", line, "each line once"));
        }
    }
}

fn validate_coin(c: &CoinConfig, problems: &mut Vec<Problem>) {
    match c.kind {
        CoinKind::Pulse | CoinKind::Sim => {
            if ms(c.noise) > 50 {
                problems.push(Problem::new(
                    "kiosk.coin.noise",
                    c.noise,
                    "50ms or less (real pulses are 25 ms and up)",
                ));
            }
            if c.min_pulse < c.noise {
                problems.push(Problem::new(
                    "kiosk.coin.min_pulse",
                    c.min_pulse,
                    "at least kiosk.coin.noise",
                ));
            }
            if c.max_pulse <= c.min_pulse || ms(c.max_pulse) > 1000 {
                problems.push(Problem::new(
                    "kiosk.coin.max_pulse",
                    c.max_pulse,
                    "longer than min_pulse and at most 1s (acceptors pulse 25-150 ms)",
                ));
            }
            if !(50..=2000).contains(&ms(c.train_gap)) || c.train_gap <= c.noise {
                problems.push(Problem::new(
                    "kiosk.coin.train_gap",
                    c.train_gap,
                    "50ms to 2s (field notes: 100-500 ms)",
                ));
            }
            if c.pulse_values.is_empty() {
                problems.push(Problem::new(
                    "kiosk.coin.pulse_values",
                    "[]",
                    "at least one { pulses, value }",
                ));
            }
            for (i, pv) in c.pulse_values.iter().enumerate() {
                if pv.pulses == 0 || pv.pulses > 100 || pv.value == 0 {
                    problems.push(Problem::new(
                        format!("kiosk.coin.pulse_values[{i}]"),
                        format!("{} pulses = {}", pv.pulses, pv.value),
                        "1 to 100 pulses, a value of 1 or more",
                    ));
                }
                if c.pulse_values[..i].iter().any(|o| o.pulses == pv.pulses) {
                    problems.push(Problem::new(
                        format!("kiosk.coin.pulse_values[{i}].pulses"),
                        pv.pulses,
                        "a pulse count no other entry uses",
                    ));
                }
            }
            if c.kind == CoinKind::Pulse && c.gpio_chip.is_empty() {
                problems.push(Problem::new(
                    "kiosk.coin.gpio_chip",
                    "",
                    "a GPIO chip such as /dev/gpiochip0",
                ));
            }
        }
        CoinKind::Cctalk => {
            if c.port.is_empty() {
                problems.push(Problem::new(
                    "kiosk.coin.port",
                    "",
                    "a serial device such as /dev/ttyUSB0",
                ));
            }
            if c.address == 0 || c.address == 1 {
                problems.push(Problem::new(
                    "kiosk.coin.address",
                    c.address,
                    "2 to 255 (0 is broadcast and 1 is the host in ccTalk)",
                ));
            }
            if !(50..=1000).contains(&ms(c.poll_interval)) {
                problems.push(Problem::new(
                    "kiosk.coin.poll_interval",
                    c.poll_interval,
                    "50ms to 1s (the acceptor buffers only 5 events)",
                ));
            }
            for (i, cv) in c.channel_values.iter().enumerate() {
                if !(1..=16).contains(&cv.channel) || cv.value == 0 {
                    problems.push(Problem::new(
                        format!("kiosk.coin.channel_values[{i}]"),
                        format!("channel {} = {}", cv.channel, cv.value),
                        "channel 1 to 16, a value of 1 or more",
                    ));
                }
            }
            if c.channel_values.is_empty() {
                problems.push(Problem::new(
                    "kiosk.coin.channel_values",
                    "[]",
                    "at least one { channel, value }",
                ));
            }
        }
        CoinKind::None => {}
    }
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
