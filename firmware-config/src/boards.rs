//! `[board]`: which single-board computer the kiosk runs on, and so which GPIO lines,
//! I2C bus and serial ports its devices are wired to.
//!
//! An operator picks a preset by name (`preset = "rpi4"`) and overrides single keys
//! (`coin_line = 23`) when the wiring differs. Line numbers are the kernel's GPIO
//! character-device line offsets on `gpio_chip`, the numbers `gpioinfo` prints:
//!
//! - **Raspberry Pi** (3, 4, 5, Zero 2 W): BCM numbering on `/dev/gpiochip0`, the
//!   same numbers as "GPIO17" on the pinout at <https://pinout.xyz>. The 40-pin
//!   header carries BCM 2 to 27. (The Pi 5 exposes the header on `gpiochip4` with
//!   kernels before 6.6.45 and on `gpiochip0` after; override `gpio_chip` on old
//!   images.) `/dev/serial0` is Raspberry Pi OS's alias for the header UART
//!   (pins 8/10) and `/dev/i2c-1` is the header I2C (pins 3/5) once enabled with
//!   `raspi-config`.
//! - **Orange Pi Zero 3** (Allwinner H618): line = bank × 32 + index on
//!   `/dev/gpiochip0` (the `300b000.pinctrl` controller), so PC9 = 2 × 32 + 9 = 73.
//!   The pins and their bank names come from the 26-pin table in the Orange Pi
//!   Zero 3 user manual (the `gpio readall` listing): physical pin 7 = PC9,
//!   11 = PC6, 12 = PC11, 13 = PC5, 15 = PC8, 16 = PC15; pins 3/5 are TWI3
//!   (`/dev/i2c-3` with the `i2c3` overlay) and 8/10 are UART5 (`/dev/ttyS5`
//!   with the `uart5` overlay). Check on the board with `gpioinfo gpiochip0`.
//!
//! Pins were chosen to avoid each header's I2C, UART and SPI pins, so a display
//! and a serial printer can be added without rewiring the coin acceptor.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Problem;

/// One board's wiring, as shipped. Every field can be overridden in `[board]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardPreset {
    /// Name used in `[board] preset`.
    pub id: &'static str,
    /// What the board is, shown by `hotspot-agent config boards`.
    pub description: &'static str,
    /// GPIO character device.
    pub gpio_chip: &'static str,
    /// Lines a user may wire on this board's header (gpio_chip offsets).
    pub header_lines: &'static [u32],
    /// Input: the coin acceptor's COIN/pulse output (header pin in the comment).
    pub coin_line: u32,
    /// Output: the acceptor's inhibit/enable input; held to refuse coins.
    pub coin_inhibit_line: u32,
    /// Inputs: plan buttons, first to last.
    pub button_lines: &'static [u32],
    /// Output: the "ready to sell" lamp.
    pub led_line: u32,
    /// I2C bus for an SSD1306 display.
    pub i2c_bus: &'static str,
    /// Serial port on the header for a thermal printer (TTL level).
    pub printer_port: &'static str,
    /// Where the pin numbers come from.
    pub source: &'static str,
}

/// BCM 2..=27: every GPIO on the Raspberry Pi 40-pin header.
const RPI_HEADER: &[u32] = &[
    2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
];

/// H618 lines on the Orange Pi Zero 3 26-pin header (PH2..PH9 = 226..233, PC5..PC11,
/// PC14, PC15 = 69..75, 78, 79).
const OPI_ZERO3_HEADER: &[u32] = &[
    69, 70, 71, 72, 73, 74, 75, 78, 79, 226, 227, 228, 229, 230, 231, 232, 233,
];

const RPI_SOURCE: &str = "BCM numbering, https://pinout.xyz";

/// Raspberry Pi wiring shared by every 40-pin model: coin on BCM17 (pin 11),
/// inhibit on BCM27 (pin 13), LED on BCM22 (pin 15), buttons on BCM5, 6, 13
/// (pins 29, 31, 33), display on I2C1 (pins 3/5), printer on the UART (pins 8/10).
const fn rpi(id: &'static str, description: &'static str) -> BoardPreset {
    BoardPreset {
        id,
        description,
        gpio_chip: "/dev/gpiochip0",
        header_lines: RPI_HEADER,
        coin_line: 17,
        coin_inhibit_line: 27,
        button_lines: &[5, 6, 13],
        led_line: 22,
        i2c_bus: "/dev/i2c-1",
        printer_port: "/dev/serial0",
        source: RPI_SOURCE,
    }
}

/// The boards the agent knows by name.
pub const PRESETS: &[BoardPreset] = &[
    rpi("rpi3", "Raspberry Pi 3 B/B+ (64-bit or 32-bit OS)"),
    rpi("rpi4", "Raspberry Pi 4 B"),
    rpi(
        "rpi5",
        "Raspberry Pi 5 (kernel 6.6.45+; older: gpio_chip = \"/dev/gpiochip4\")",
    ),
    rpi("rpi-zero2w", "Raspberry Pi Zero 2 W"),
    BoardPreset {
        id: "opi-zero3",
        description: "Orange Pi Zero 3 (Allwinner H618), 26-pin header",
        gpio_chip: "/dev/gpiochip0",
        header_lines: OPI_ZERO3_HEADER,
        coin_line: 73,               // PC9, pin 7
        coin_inhibit_line: 70,       // PC6, pin 11
        button_lines: &[75, 69, 72], // PC11 pin 12, PC5 pin 13, PC8 pin 15
        led_line: 79,                // PC15, pin 16
        i2c_bus: "/dev/i2c-3",
        printer_port: "/dev/ttyS5",
        source: "Orange Pi Zero 3 user manual, 26-pin table; line = bank*32 + index",
    },
];

/// A preset by name.
pub fn preset(id: &str) -> Option<&'static BoardPreset> {
    PRESETS.iter().find(|p| p.id == id)
}

/// `[board]` as written: a preset name and any keys that differ from it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BoardConfig {
    /// A name from [`PRESETS`], or `none`: no GPIO/I2C hardware (simulated devices).
    pub preset: String,
    /// Override: GPIO character device.
    pub gpio_chip: Option<PathBuf>,
    /// Override: coin pulse input line.
    pub coin_line: Option<u32>,
    /// Override: coin inhibit output line.
    pub coin_inhibit_line: Option<u32>,
    /// Override: plan button input lines.
    pub button_lines: Option<Vec<u32>>,
    /// Override: "ready" lamp output line.
    pub led_line: Option<u32>,
    /// Override: I2C bus device.
    pub i2c_bus: Option<PathBuf>,
    /// Override: printer serial port (a USB printer appears as `/dev/hotspot-printer`
    /// through the udev rules in `deploy/`).
    pub printer_port: Option<PathBuf>,
}

impl Default for BoardConfig {
    fn default() -> Self {
        BoardConfig {
            preset: "none".into(),
            gpio_chip: None,
            coin_line: None,
            coin_inhibit_line: None,
            button_lines: None,
            led_line: None,
            i2c_bus: None,
            printer_port: None,
        }
    }
}

/// The wiring in effect: a preset with the overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    /// The preset it started from.
    pub preset: &'static str,
    /// GPIO character device.
    pub gpio_chip: PathBuf,
    /// Coin pulse input line.
    pub coin_line: u32,
    /// Coin inhibit output line.
    pub coin_inhibit_line: u32,
    /// Plan button input lines.
    pub button_lines: Vec<u32>,
    /// "Ready" lamp output line.
    pub led_line: u32,
    /// I2C bus device.
    pub i2c_bus: PathBuf,
    /// Printer serial port.
    pub printer_port: PathBuf,
}

impl BoardConfig {
    /// The wiring in effect; `None` with `preset = "none"` (no hardware). Call after
    /// [`validate`] has accepted the section: an unknown preset also gives `None`.
    pub fn resolve(&self) -> Option<Board> {
        let p = preset(&self.preset)?;
        Some(Board {
            preset: p.id,
            gpio_chip: self.gpio_chip.clone().unwrap_or_else(|| p.gpio_chip.into()),
            coin_line: self.coin_line.unwrap_or(p.coin_line),
            coin_inhibit_line: self.coin_inhibit_line.unwrap_or(p.coin_inhibit_line),
            button_lines: self
                .button_lines
                .clone()
                .unwrap_or_else(|| p.button_lines.to_vec()),
            led_line: self.led_line.unwrap_or(p.led_line),
            i2c_bus: self.i2c_bus.clone().unwrap_or_else(|| p.i2c_bus.into()),
            printer_port: self
                .printer_port
                .clone()
                .unwrap_or_else(|| p.printer_port.into()),
        })
    }

    fn has_overrides(&self) -> bool {
        self.gpio_chip.is_some()
            || self.coin_line.is_some()
            || self.coin_inhibit_line.is_some()
            || self.button_lines.is_some()
            || self.led_line.is_some()
            || self.i2c_bus.is_some()
            || self.printer_port.is_some()
    }
}

/// The `[kiosk.*]` keys a board's wiring stands for, as dotted paths with values.
/// The lamp has no kiosk key; it is read from [`Board`] directly.
///
/// A board is real hardware, so its preset also names real device kinds: a pulse
/// coin acceptor, an ESC/POS printer and an SSD1306 display on the header. Without
/// them the kinds would stay at their host defaults (the simulators), which a box's
/// build does not have; a file that fits other devices says so in `[kiosk.*] kind`.
pub fn kiosk_keys(board: &Board) -> Vec<(&'static str, toml::Value)> {
    let text = |t: &str| toml::Value::String(t.to_string());
    let path = |p: &PathBuf| toml::Value::String(p.display().to_string());
    let lines = toml::Value::Array(
        board
            .button_lines
            .iter()
            .map(|l| toml::Value::Integer(i64::from(*l)))
            .collect(),
    );
    vec![
        ("kiosk.coin.kind", text("pulse")),
        ("kiosk.printer.kind", text("escpos")),
        ("kiosk.display.kind", text("ssd1306")),
        ("kiosk.coin.gpio_chip", path(&board.gpio_chip)),
        (
            "kiosk.coin.pulse_line",
            toml::Value::Integer(i64::from(board.coin_line)),
        ),
        (
            "kiosk.coin.inhibit_line",
            toml::Value::Integer(i64::from(board.coin_inhibit_line)),
        ),
        ("kiosk.buttons.gpio_chip", path(&board.gpio_chip)),
        ("kiosk.buttons.lines", lines),
        ("kiosk.display.i2c_bus", path(&board.i2c_bus)),
        ("kiosk.printer.port", path(&board.printer_port)),
    ]
}

/// Fills the `[kiosk.*]` device keys a file leaves out with its board's wiring, so
/// `[board] preset = "rpi4"` is all an operator writes, and a key written in
/// `[kiosk.coin]` still wins over the preset. Runs on the parsed TOML document,
/// before it becomes a [`crate::Config`], because only there "not written" can be
/// told from "written with the default value". A document without a valid preset is
/// left alone (validation reports the preset).
pub fn apply_board_defaults(doc: &mut toml::Table) {
    let Some(toml::Value::Table(board)) = doc.get("board") else {
        return;
    };
    let Ok(board) = BoardConfig::deserialize(toml::Value::Table(board.clone())) else {
        return;
    };
    let Some(resolved) = board.resolve() else {
        return;
    };
    for (dotted, value) in kiosk_keys(&resolved) {
        let mut table = &mut *doc;
        let mut parts = dotted.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                table.entry(part.to_string()).or_insert(value);
                break;
            }
            let entry = table
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => table = t,
                // A non-table where a section belongs: leave it for the parser to report.
                _ => break,
            }
        }
    }
}

fn preset_names() -> String {
    let names: Vec<&str> = PRESETS.iter().map(|p| p.id).collect();
    format!("one of none, {}", names.join(", "))
}

pub(crate) fn validate(board: &BoardConfig, problems: &mut Vec<Problem>) {
    if board.preset == "none" {
        if board.has_overrides() {
            problems.push(Problem::new(
                "board.preset",
                "none",
                format!("{} (overrides need a preset to start from)", preset_names()),
            ));
        }
        return;
    }
    let Some(p) = preset(&board.preset) else {
        problems.push(Problem::new("board.preset", &board.preset, preset_names()));
        return;
    };
    let Some(b) = board.resolve() else { return };
    let on_header = |line: u32| p.header_lines.contains(&line);
    // A custom gpio_chip means custom wiring (a HAT, an expander): any offset goes.
    let check_header = board.gpio_chip.is_none();
    let allowed = || {
        format!(
            "a GPIO line on the {} header ({}), or set board.gpio_chip for other wiring",
            p.id,
            list_lines(p.header_lines)
        )
    };
    let mut roles: Vec<(String, u32)> = vec![
        ("board.coin_line".into(), b.coin_line),
        ("board.coin_inhibit_line".into(), b.coin_inhibit_line),
        ("board.led_line".into(), b.led_line),
    ];
    for (i, l) in b.button_lines.iter().enumerate() {
        roles.push((format!("board.button_lines[{i}]"), *l));
    }
    for (i, (key, line)) in roles.iter().enumerate() {
        if check_header && !on_header(*line) {
            problems.push(Problem::new(key.clone(), line, allowed()));
        }
        if let Some((other, _)) = roles[..i].iter().find(|(_, l)| l == line) {
            problems.push(Problem::new(
                key.clone(),
                line,
                format!("a line not already used by {other}"),
            ));
        }
    }
    if b.button_lines.len() > 8 {
        problems.push(Problem::new(
            "board.button_lines",
            format!("{} lines", b.button_lines.len()),
            "at most 8 buttons",
        ));
    }
    for (key, path) in [
        ("board.gpio_chip", &b.gpio_chip),
        ("board.i2c_bus", &b.i2c_bus),
        ("board.printer_port", &b.printer_port),
    ] {
        if !path.starts_with("/dev/") {
            problems.push(Problem::new(
                key,
                path.display(),
                "a device path under /dev/",
            ));
        }
    }
}

/// `2..27` for a contiguous run, else the numbers.
fn list_lines(lines: &[u32]) -> String {
    let contiguous = lines.windows(2).all(|w| w[1] == w[0] + 1);
    match (lines.first(), lines.last()) {
        (Some(a), Some(b)) if contiguous => format!("{a}..{b}"),
        _ => lines
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    fn problems(text: &str) -> String {
        match Config::parse(text, "b.toml").unwrap().validate("b.toml") {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_preset_is_valid_as_shipped() {
        for p in super::PRESETS {
            let text = format!("[board]\npreset = \"{}\"\n", p.id);
            assert_eq!(problems(&text), "", "preset {}", p.id);
        }
    }

    #[test]
    fn a_preset_gives_its_lines_and_an_override_replaces_one_key() {
        let text = "[board]\npreset = \"rpi4\"\ncoin_line = 23\n";
        let config = Config::parse(text, "b.toml").unwrap();
        let board = config.board.resolve().expect("rpi4 resolves");
        assert_eq!(board.coin_line, 23, "the override wins");
        assert_eq!(
            board.coin_inhibit_line, 27,
            "other keys keep the preset's value"
        );
        assert_eq!(board.i2c_bus.to_str(), Some("/dev/i2c-1"));
    }

    #[test]
    fn orange_pi_zero3_uses_h618_bank_numbering() {
        let board = super::preset("opi-zero3").unwrap();
        // PC9: bank C is the third bank (index 2), 2 * 32 + 9 = 73.
        assert_eq!(board.coin_line, 2 * 32 + 9);
        assert_eq!(board.gpio_chip, "/dev/gpiochip0");
    }

    #[test]
    fn an_unknown_preset_lists_the_known_ones() {
        let err = problems("[board]\npreset = \"rpi9\"\n");
        assert!(err.contains("board.preset"), "{err}");
        assert!(err.contains("rpi9"), "{err}");
        assert!(err.contains("opi-zero3"), "{err}");
    }

    #[test]
    fn a_line_off_the_header_is_refused_with_the_allowed_range() {
        let err = problems("[board]\npreset = \"rpi-zero2w\"\nled_line = 40\n");
        assert!(err.contains("board.led_line = \"40\""), "{err}");
        assert!(err.contains("2..27"), "{err}");
    }

    #[test]
    fn two_roles_on_one_line_are_refused() {
        let err = problems("[board]\npreset = \"rpi4\"\nbutton_lines = [17, 6]\n");
        assert!(err.contains("board.button_lines[0]"), "{err}");
        assert!(err.contains("board.coin_line"), "{err}");
    }

    #[test]
    fn overrides_without_a_preset_are_refused() {
        let err = problems("[board]\ncoin_line = 17\n");
        assert!(err.contains("overrides need a preset"), "{err}");
    }

    #[test]
    fn board_defaults_fill_only_the_kiosk_keys_a_file_leaves_out() {
        let text = "[board]\npreset = \"opi-zero3\"\n[kiosk.coin]\npulse_line = 74\n";
        let mut doc: toml::Table = toml::from_str(text).unwrap();
        super::apply_board_defaults(&mut doc);
        let coin = doc["kiosk"]["coin"].as_table().unwrap();
        assert_eq!(
            coin["pulse_line"].as_integer(),
            Some(74),
            "the file's key wins"
        );
        assert_eq!(
            coin["inhibit_line"].as_integer(),
            Some(70),
            "PC6 from the preset"
        );
        assert_eq!(coin["gpio_chip"].as_str(), Some("/dev/gpiochip0"));
        assert_eq!(
            doc["kiosk"]["display"]["i2c_bus"].as_str(),
            Some("/dev/i2c-3")
        );
        assert_eq!(doc["kiosk"]["printer"]["port"].as_str(), Some("/dev/ttyS5"));
        let lines: Vec<i64> = doc["kiosk"]["buttons"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_integer())
            .collect();
        assert_eq!(lines, vec![75, 69, 72]);
    }

    #[test]
    fn a_board_preset_names_real_devices_and_a_written_kind_wins() {
        use crate::kiosk::{CoinKind, DisplayKind, PrinterKind};
        let config = Config::parse("[board]\npreset = \"rpi4\"\n", "b.toml").unwrap();
        assert_eq!(config.kiosk.coin.kind, CoinKind::Pulse);
        assert_eq!(config.kiosk.printer.kind, PrinterKind::Escpos);
        assert_eq!(config.kiosk.display.kind, DisplayKind::Ssd1306);
        let text = "[board]\npreset = \"rpi4\"\n[kiosk.coin]\nkind = \"cctalk\"\n[kiosk.display]\nkind = \"none\"\n";
        let config = Config::parse(text, "b.toml").unwrap();
        assert_eq!(config.kiosk.coin.kind, CoinKind::Cctalk);
        assert_eq!(config.kiosk.display.kind, DisplayKind::None);
    }

    #[test]
    fn board_defaults_leave_a_file_without_a_preset_alone() {
        let mut doc: toml::Table = toml::from_str("[board]\npreset = \"none\"\n").unwrap();
        super::apply_board_defaults(&mut doc);
        assert!(!doc.contains_key("kiosk"));
        let mut doc: toml::Table = toml::from_str("[board]\npreset = \"rpi9\"\n").unwrap();
        super::apply_board_defaults(&mut doc);
        assert!(!doc.contains_key("kiosk"));
    }

    #[test]
    fn no_board_section_means_no_hardware() {
        let config = Config::parse("", "b.toml").unwrap();
        assert!(config.board.resolve().is_none());
    }
}
