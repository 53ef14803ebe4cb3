//! Customer screens drawn with embedded-graphics on a 128x64 monochrome canvas,
//! and the panels that show them (SSD1306, framebuffer, PNG files).
//!
//! Every screen is drawn on a [`Canvas`] the size of the smallest panel
//! (128x64, the SSD1306); bigger panels scale it up by a whole factor. One
//! drawing, every target: what a test sees in a PNG is what the OLED shows.

pub mod buttons;
pub mod targets;

use embedded_graphics::mono_font::ascii::{FONT_6X10, FONT_9X15_BOLD};
use embedded_graphics::mono_font::{MonoFont, MonoTextStyle};
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Alignment, Baseline, Text, TextStyleBuilder};
use firmware_config::Secret;

use super::canvas::Canvas;
use super::labels::wrap;
use super::printer::{printable, printable_marked};
use super::words::{fill, Words};

/// Width of the logical screen in pixels.
pub const WIDTH: u32 = 128;
/// Height of the logical screen in pixels.
pub const HEIGHT: u32 = 64;

/// What the customer sees.
#[derive(Clone, PartialEq, Eq)]
pub enum Screen {
    /// The agent is starting; coins are refused.
    Starting,
    /// Waiting for a customer: what is for sale and at what price.
    Idle {
        /// Site name.
        site: String,
        /// `("1 1 hour", "₱5")` (button number first) or, in rates mode, `("10m", "₱1")`.
        offers: Vec<(String, String)>,
        /// Credit left on the kiosk (carried over or kept), formatted; empty = none.
        credit: String,
    },
    /// Money inserted: the credit and what it buys.
    Credit {
        /// `₱7`.
        credit: String,
        /// One entry per plan, e.g. `1 hour ₱5 - press 1`, `1 day ₱20 - insert ₱13 more`;
        /// in rates mode `buys 1h 10m`.
        buys: Vec<String>,
        /// Seconds left in the insert window.
        seconds_left: u32,
        /// Shown above the rest, inverted: what a button press could not buy.
        notice: Option<String>,
    },
    /// A sale or print is under way.
    Working {
        /// `Printing...`.
        what: String,
    },
    /// The voucher, with its QR, when there is no ticket (or as well as one).
    Voucher {
        /// Login code.
        code: String,
        /// Password when it differs from the code.
        password: Option<Secret>,
        /// QR payload.
        url: String,
        /// `Take your ticket` or `No paper: scan`.
        note: String,
    },
    /// The kiosk cannot sell.
    OutOfService {
        /// Why, in a few words.
        reason: String,
    },
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Screen::Starting => f.write_str("Starting"),
            Screen::Idle { credit, .. } => write!(f, "Idle(credit {credit:?})"),
            Screen::Credit {
                credit,
                seconds_left,
                notice,
                ..
            } => match notice {
                Some(n) => write!(f, "Credit({credit}, {seconds_left}s, {n})"),
                None => write!(f, "Credit({credit}, {seconds_left}s)"),
            },
            Screen::Working { what } => write!(f, "Working({what})"),
            Screen::Voucher { code, note, .. } => write!(f, "Voucher({code}, {note})"),
            Screen::OutOfService { reason } => write!(f, "OutOfService({reason})"),
        }
    }
}

fn text(c: &mut Canvas, s: &str, font: &MonoFont<'_>, x: i32, y: i32, align: Alignment) {
    let style = MonoTextStyle::new(font, BinaryColor::On);
    let ts = TextStyleBuilder::new()
        .alignment(align)
        .baseline(Baseline::Top)
        .build();
    let cw = font.character_size.width;
    let max = (WIDTH / cw) as usize;
    let (s, pesos) = printable_marked(s);
    let s: String = s.chars().take(max).collect();
    // Canvas drawing is infallible.
    let _ = Text::with_text_style(&s, Point::new(x, y), style, ts).draw(c);
    let width = s.chars().count() as i32 * cw as i32;
    let left = match align {
        Alignment::Left => x,
        Alignment::Center => x - width / 2,
        Alignment::Right => x - width + 1,
    };
    if let Ok(left) = u32::try_from(left) {
        crate::printer::cross_pesos(c, &pesos, left, y as u32, cw, font.character_size.height);
    }
}

fn centered(c: &mut Canvas, s: &str, font: &MonoFont<'_>, y: i32) {
    text(c, s, font, WIDTH as i32 / 2, y, Alignment::Center);
}

/// Draws a screen on a fresh 128x64 canvas, its fixed words in the language of `w`.
// Long on purpose: one arm per screen, each a few drawing calls.
pub fn draw(screen: &Screen, w: &Words) -> Canvas {
    let mut c = Canvas::new(WIDTH, HEIGHT);
    let big = &FONT_9X15_BOLD;
    let small = &FONT_6X10;
    match screen {
        Screen::Starting => {
            centered(&mut c, w.starting, big, 16);
            centered(&mut c, w.please_wait, small, 38);
        }
        Screen::Idle {
            site,
            offers,
            credit,
        } => {
            centered(&mut c, site, small, 0);
            let _ = Rectangle::new(Point::new(0, 11), Size::new(WIDTH, 1))
                .into_styled(PrimitiveStyle::with_fill(BinaryColor::On))
                .draw(&mut c);
            for (i, (name, price)) in offers.iter().take(3).enumerate() {
                let y = 14 + 10 * i as i32;
                text(&mut c, name, small, 0, y, Alignment::Left);
                text(&mut c, price, small, WIDTH as i32 - 1, y, Alignment::Right);
            }
            let bottom = if credit.is_empty() {
                w.insert_coin.to_string()
            } else {
                fill(w.credit, credit)
            };
            centered(&mut c, &bottom, small, 54);
        }
        Screen::Credit {
            credit,
            buys,
            seconds_left,
            notice,
        } => {
            let mut lines: Vec<String> = Vec::new();
            for b in buys {
                lines.extend(wrap(b, 21));
            }
            match notice {
                Some(n) => {
                    // Inverted, where the credit was: the answer to the press.
                    let notice: Vec<String> = wrap(n, 21).into_iter().take(2).collect();
                    let band = 10 * notice.len() as u32 + 2;
                    let _ = Rectangle::new(Point::new(0, 0), Size::new(WIDTH, band))
                        .into_styled(PrimitiveStyle::with_fill(BinaryColor::On))
                        .draw(&mut c);
                    let style = MonoTextStyle::new(small, BinaryColor::Off);
                    let ts = TextStyleBuilder::new()
                        .alignment(Alignment::Center)
                        .baseline(Baseline::Top)
                        .build();
                    for (i, line) in notice.iter().enumerate() {
                        let line = printable(line);
                        let at = Point::new(WIDTH as i32 / 2, 1 + 10 * i as i32);
                        let _ = Text::with_text_style(&line, at, style, ts).draw(&mut c);
                    }
                    let top = band as i32 + 2;
                    centered(&mut c, &fill(w.credit, credit), small, top);
                    let room = ((54 - (top + 10)) / 9).max(0) as usize;
                    for (i, line) in lines.iter().take(room).enumerate() {
                        text(
                            &mut c,
                            line,
                            small,
                            0,
                            top + 10 + 9 * i as i32,
                            Alignment::Left,
                        );
                    }
                }
                None => {
                    centered(&mut c, credit, big, 0);
                    for (i, line) in lines.iter().take(4).enumerate() {
                        text(&mut c, line, small, 0, 16 + 9 * i as i32, Alignment::Left);
                    }
                }
            }
            centered(
                &mut c,
                &fill(w.seconds_left, &seconds_left.to_string()),
                small,
                54,
            );
        }
        Screen::Working { what } => {
            centered(&mut c, what, big, 16);
            centered(&mut c, w.please_wait, small, 38);
        }
        Screen::Voucher {
            code,
            password,
            url,
            note,
        } => {
            // QR at 1 pixel per module on the left, text on the right: a phone
            // camera reads a 33-module code from an OLED at arm's length.
            let side = c.draw_qr(url.as_bytes(), 0, 0, 1, 2).unwrap_or(0);
            let side = if side > HEIGHT { 0 } else { side };
            let x = side as i32 + 3;
            let cols = ((WIDTH as i32 - x) / 6).max(0) as usize;
            let fit = |s: &str| s.chars().take(cols).collect::<String>();
            let label = if password.is_some() { w.user } else { w.code };
            text(&mut c, &fit(label), small, x, 2, Alignment::Left);
            text(&mut c, &fit(code), small, x, 13, Alignment::Left);
            let mut y = 26;
            if let Some(p) = password {
                text(&mut c, &fit(w.password), small, x, y, Alignment::Left);
                text(&mut c, &fit(p.expose()), small, x, y + 11, Alignment::Left);
                y += 22;
            }
            for (i, word) in wrap(note, cols)
                .iter()
                .take(((64 - y) / 10) as usize)
                .enumerate()
            {
                text(&mut c, word, small, x, y + 10 * i as i32, Alignment::Left);
            }
        }
        Screen::OutOfService { reason } => {
            centered(&mut c, w.out_of_service.0, big, 2);
            centered(&mut c, w.out_of_service.1, big, 18);
            for (i, line) in wrap(reason, 21).iter().take(2).enumerate() {
                centered(&mut c, line, small, 40 + 11 * i as i32);
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::render::zbar_decode;
    use crate::words::words;
    use firmware_config::kiosk::Language;

    fn ink(c: &Canvas) -> usize {
        (0..c.height())
            .flat_map(|y| (0..c.width()).map(move |x| (x, y)))
            .filter(|&(x, y)| c.get(x, y))
            .count()
    }

    #[test]
    fn every_screen_draws_something_different() {
        let screens = [
            Screen::Starting,
            Screen::Idle {
                site: "Cafe".into(),
                offers: vec![("1 hour".into(), "PHP 5".into())],
                credit: String::new(),
            },
            Screen::Credit {
                credit: "PHP 7".into(),
                buys: vec!["1 hour".into()],
                seconds_left: 30,
                notice: None,
            },
            Screen::Working {
                what: "Printing".into(),
            },
            Screen::OutOfService {
                reason: "network down".into(),
            },
        ];
        let en = words(Language::En);
        let frames: Vec<Canvas> = screens.iter().map(|s| draw(s, en)).collect();
        for (s, f) in screens.iter().zip(&frames) {
            assert!(ink(f) > 50, "{s:?} is blank");
        }
        for i in 0..frames.len() {
            for j in i + 1..frames.len() {
                assert_ne!(frames[i], frames[j]);
            }
        }
    }

    #[test]
    fn the_voucher_screen_qr_decodes_to_the_login_url() {
        let url = "http://hotspot.lan/login?username=KX7M4TRA&password=KX7M4TRA";
        let frame = draw(
            &Screen::Voucher {
                code: "KX7M4TRA".into(),
                password: None,
                url: url.into(),
                note: "No paper: scan the code".into(),
            },
            words(Language::En),
        );
        // Scale 4x with a white border, as a phone sees the OLED.
        let mut big = Canvas::new(WIDTH * 4 + 32, HEIGHT * 4 + 32);
        for y in 0..HEIGHT * 4 {
            for x in 0..WIDTH * 4 {
                big.set(x + 16, y + 16, frame.get(x / 4, y / 4));
            }
        }
        match zbar_decode(&big.to_png()) {
            Some(found) => assert_eq!(found, vec![url.to_string()]),
            None => eprintln!("SKIPPED: zbarimg not installed (apt-get install zbar-tools)"),
        }
    }
}
