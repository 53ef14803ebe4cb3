//! Renders a ticket as it would come out of the printer: a monochrome PNG,
//! 384 px wide for 58 mm paper (576 for 80 mm), for the demo and the tests.

use embedded_graphics::mono_font::ascii::{FONT_10X20, FONT_9X18_BOLD};
use embedded_graphics::mono_font::{MonoFont, MonoTextStyle};
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::text::{Baseline, Text};

use super::escpos::{qr_image, LINE_SPACING};
use super::{cross_pesos, printable, printable_marked, Paper, Style, Ticket};
use crate::canvas::{Canvas, QrError};

/// The ticket as a bitmap, line for line as the printer lays it out: plain lines
/// [`LINE_SPACING`] dots apart, double-height lines 48 dots, the QR at
/// [`QR_MODULE`](super::escpos::QR_MODULE) dots a module. Its height is the
/// paper the ticket uses, up to the cut.
pub fn render(t: &Ticket, paper: Paper) -> Result<Canvas, QrError> {
    let width = paper.dots();
    let mut c = Canvas::new(width, 3000);
    let mut y = 0u32;
    let (blocks, qr_after) = t.blocks(paper.chars());
    for (i, b) in blocks.iter().enumerate() {
        if i == qr_after {
            let qr = qr_image(t.login_url.as_bytes(), paper)?;
            blit(&mut c, &qr, 0, y, 1);
            y += qr.height();
        }
        let text = &b.text;
        y += match b.style {
            Style::Plain => draw(&mut c, text, &FONT_10X20, 1, y, false),
            Style::Centered => draw(&mut c, text, &FONT_10X20, 1, y, true),
            Style::Bold => draw(&mut c, text, &FONT_9X18_BOLD, 1, y, true),
            Style::Heading | Style::Code => {
                let font = &FONT_9X18_BOLD;
                let scale = if printable(text).len() as u32 * 12 * 2 <= width {
                    2
                } else {
                    1
                };
                draw(&mut c, text, font, scale, y, true).max(48)
            }
        };
    }
    // The one line fed before the cut.
    c.truncate(y + u32::from(LINE_SPACING));
    Ok(c)
}

/// The ticket as PNG bytes.
pub fn render_png(t: &Ticket, paper: Paper) -> Result<Vec<u8>, QrError> {
    Ok(render(t, paper)?.to_png())
}

/// Plain text lines with a QR code of `qr.1` before line `qr.0`: how a ticket read
/// back from ESC/POS bytes looks (the simulated printer's preview).
pub fn render_lines(
    lines: &[String],
    qr: Option<(usize, &str)>,
    paper: Paper,
) -> Result<Canvas, QrError> {
    let mut c = Canvas::new(paper.dots(), 3000);
    let mut y = 8u32;
    for i in 0..=lines.len() {
        if let Some((at, payload)) = qr {
            if at == i {
                let image = qr_image(payload.as_bytes(), paper)?;
                blit(&mut c, &image, 0, y, 1);
                y += image.height() + 8;
            }
        }
        if let Some(line) = lines.get(i) {
            y += draw(&mut c, line, &FONT_10X20, 1, y, true);
        }
        if y > 2800 {
            break;
        }
    }
    c.truncate(y + 24);
    Ok(c)
}

/// Draws one line `scale` times enlarged; returns the height used.
fn draw(c: &mut Canvas, text: &str, font: &MonoFont<'_>, scale: u32, y: u32, center: bool) -> u32 {
    let cw = font.character_size.width;
    let ch = font.character_size.height;
    let fit = (c.width() / (cw * scale)) as usize;
    let (text, pesos) = printable_marked(text);
    let text: String = text.chars().take(fit).collect();
    let mut line = Canvas::new((text.len() as u32 * cw).max(1), ch);
    // Drawing on a Canvas cannot fail (its error type is Infallible).
    let _ = Text::with_baseline(
        &text,
        Point::zero(),
        MonoTextStyle::new(font, BinaryColor::On),
        Baseline::Top,
    )
    .draw(&mut line);
    let w = line.width() * scale;
    let x = if center {
        c.width().saturating_sub(w) / 2
    } else {
        4
    };
    blit(c, &line, x, y + 2, scale);
    cross_pesos(c, &pesos, x, y + 2, cw * scale, ch * scale);
    (ch * scale + 4).max(u32::from(LINE_SPACING))
}

fn blit(dst: &mut Canvas, src: &Canvas, x: u32, y: u32, scale: u32) {
    for sy in 0..src.height() {
        for sx in 0..src.width() {
            if src.get(sx, sy) {
                for dy in 0..scale {
                    for dx in 0..scale {
                        dst.set(x + sx * scale + dx, y + sy * scale + dy, true);
                    }
                }
            }
        }
    }
}

/// Runs `zbarimg` on a PNG and returns the decoded QR payloads; `None` when
/// zbarimg is not installed (Debian package zbar-tools).
#[cfg(test)]
pub(crate) fn zbar_decode(png: &[u8]) -> Option<Vec<String>> {
    use std::io::Write;
    let mut file = tempfile::NamedTempFile::with_suffix(".png").ok()?;
    file.write_all(png).ok()?;
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(file.path())
        .output()
        .ok()?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::{sample_look, sample_voucher};
    use firmware_config::kiosk::Language;

    #[test]
    fn rendered_58mm_ticket_is_384_px_wide_and_its_qr_decodes_to_the_login_url() {
        let v = sample_voucher("KX7M4TRA", "p@ss word");
        let t = Ticket::for_voucher(&v, &sample_look(Language::En));
        let canvas = render(&t, Paper::Mm58).unwrap();
        assert_eq!(canvas.width(), 384);
        let Some(found) = zbar_decode(&canvas.to_png()) else {
            eprintln!("SKIPPED: zbarimg not installed (apt-get install zbar-tools)");
            return;
        };
        assert_eq!(found, vec![v.login_url.clone()]);
        assert!(
            v.login_url.contains("password=p%40ss%20word"),
            "{}",
            v.login_url
        );
    }

    #[test]
    fn rendered_80mm_ticket_is_576_px_wide_and_decodes() {
        let v = sample_voucher("ABCD2345", "ABCD2345");
        let t = Ticket::for_voucher(&v, &sample_look(Language::En));
        let canvas = render(&t, Paper::Mm80).unwrap();
        assert_eq!(canvas.width(), 576);
        if let Some(found) = zbar_decode(&canvas.to_png()) {
            assert_eq!(found, vec![v.login_url]);
        }
    }

    #[test]
    fn the_code_is_drawn_in_ink() {
        let t = Ticket::for_voucher(
            &sample_voucher("KX7M4TRA", "KX7M4TRA"),
            &sample_look(Language::En),
        );
        let canvas = render(&t, Paper::Mm58).unwrap();
        let ink = (0..canvas.height())
            .flat_map(|y| (0..384).map(move |x| (x, y)))
            .filter(|&(x, y)| canvas.get(x, y))
            .count();
        assert!(ink > 1000, "{ink}");
    }
}
