//! `[kiosk.coin]`, `[kiosk.printer]`, `[kiosk.display]` and `[kiosk.buttons]`: which
//! devices are fitted and how they are wired.

use serde::{Deserialize, Serialize};

use super::{ms, KioskConfig};
use crate::{Duration, Problem};

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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChannelValue {
    /// Credit channel reported by header 229 (1 to 16).
    pub channel: u8,
    /// Credit in the smallest currency unit.
    pub value: u64,
    /// The coin id the acceptor must report for this channel (header 184), e.g.
    /// `"PH005A"`; the last (issue) letter is not compared. Unset: the id's three
    /// value characters must read as `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coin_id: Option<String>,
}

/// Which checksum the ccTalk line uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CctalkChecksum {
    /// The 8-bit additive checksum every acceptor speaks.
    #[default]
    Simple,
    /// CRC-16 (CCITT), for acceptors set to it; catches errors the simple sum misses.
    Crc16,
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
    /// `simple` or `crc16` (cctalk); must match the acceptor's setting.
    pub checksum: CctalkChecksum,
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
            checksum: CctalkChecksum::Simple,
            channel_values: vec![
                ChannelValue {
                    channel: 1,
                    value: 1,
                    coin_id: None,
                },
                ChannelValue {
                    channel: 2,
                    value: 5,
                    coin_id: None,
                },
                ChannelValue {
                    channel: 3,
                    value: 10,
                    coin_id: None,
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

pub(super) fn validate(kiosk: &KioskConfig, problems: &mut Vec<Problem>) {
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

// Long on purpose: one check per `[kiosk.coin]` key, in file order, so the list of problems reads like the file.
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
            if !(50..=500).contains(&ms(c.poll_interval)) {
                problems.push(Problem::new(
                    "kiosk.coin.poll_interval",
                    c.poll_interval,
                    "50ms to 500ms (the acceptor buffers only 5 events, and acceptors with a credit-poll watchdog shut after 1s without a poll)",
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
                if let Some(id) = &cv.coin_id {
                    if id.len() != 6 || !id.is_ascii() {
                        problems.push(Problem::new(
                            format!("kiosk.coin.channel_values[{i}].coin_id"),
                            id,
                            "6 ASCII characters as header 184 reports them, e.g. \"GB020A\" (a British 20p)",
                        ));
                    }
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

impl KioskConfig {
    /// Which device each role gets, real or simulated, one `(role, description)` per
    /// role: what `config check` prints so an installer sees what will be opened.
    pub fn device_summary(&self) -> Vec<(&'static str, String)> {
        let c = &self.coin;
        let coin = match c.kind {
            CoinKind::None => "none (vouchers are sold from the command line only)".to_string(),
            CoinKind::Sim => "SIMULATED ccTalk acceptor (host build only)".to_string(),
            CoinKind::Pulse => {
                let inhibit = c
                    .inhibit_line
                    .map_or("not wired".to_string(), |l| format!("line {l}"));
                format!(
                    "pulse acceptor on {} line {}, inhibit {inhibit}",
                    c.gpio_chip, c.pulse_line
                )
            }
            CoinKind::Cctalk => format!(
                "ccTalk acceptor on {} at {} baud, address {}",
                c.port, c.baud, c.address
            ),
        };
        let p = &self.printer;
        let printer = match p.kind {
            PrinterKind::None => "none (vouchers are shown on the display only)".to_string(),
            PrinterKind::Sim => "SIMULATED ESC/POS printer (host build only)".to_string(),
            PrinterKind::Escpos => format!(
                "ESC/POS on {} at {} baud, {} mm paper",
                p.port, p.baud, p.paper_mm
            ),
        };
        let d = &self.display;
        let display = match d.kind {
            DisplayKind::None => "none".to_string(),
            DisplayKind::Png => format!("PNG files in {} (no screen)", d.png_dir),
            DisplayKind::Ssd1306 => {
                format!("SSD1306 on {} at {:#04x}", d.i2c_bus, d.i2c_address)
            }
            DisplayKind::Framebuffer => format!("framebuffer {}", d.framebuffer),
        };
        let b = &self.buttons;
        let buttons = if b.lines.is_empty() {
            "none wired".to_string()
        } else {
            let lines: Vec<String> = b.lines.iter().map(|l| l.to_string()).collect();
            format!("{} line(s) {}", b.gpio_chip, lines.join(","))
        };
        vec![
            ("coin", coin),
            ("printer", printer),
            ("display", display),
            ("buttons", buttons),
        ]
    }
}
