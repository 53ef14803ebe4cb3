//! ESC/POS bytes: a small command builder, the ticket as bytes, and the paper status reply.
//!
//! Command bytes are from Epson's public "ESC/POS Command Reference": `ESC @`
//! initialise (1B 40); `ESC 3 n` line spacing n dots (1B 33); `ESC a n` justification (1B 61, 0 left / 1 centre);
//! `ESC E n` bold (1B 45); `GS ! n` character size (1D 21, high nibble = width
//! multiplier - 1, low nibble = height multiplier - 1); `ESC d n` feed n lines
//! (1B 64); `GS V 66 n` feed n and partial cut (1D 56 42); `GS ( k` QR code
//! functions 165 (model), 167 (module size), 169 (error correction), 180 (store)
//! and 181 (print); `GS v 0` raster bit image (1D 76 30 m xL xH yL yH, x in bytes,
//! 1 = dot, MSB leftmost); `DLE EOT 4` paper roll sensor status (10 04 04).

use super::{printable, printable_marked, Paper, Style, Ticket};
use crate::canvas::{Canvas, QrError};

/// Line justification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Left.
    Left = 0,
    /// Centre.
    Center = 1,
    /// Right.
    Right = 2,
}

/// QR error correction levels of `GS ( k` function 169.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrLevel {
    /// 7 %.
    L = 48,
    /// 15 %.
    M = 49,
    /// 25 %.
    Q = 50,
    /// 30 %.
    H = 51,
}

/// Builds a byte string of ESC/POS commands.
#[derive(Debug, Clone, Default)]
pub struct EscPos {
    buf: Vec<u8>,
    /// The peso sign is defined as a user-defined character ([`EscPos::define_peso`]).
    peso: bool,
}

impl EscPos {
    /// An empty command string.
    pub fn new() -> EscPos {
        EscPos::default()
    }

    /// The bytes so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// `ESC @`: back to power-on settings.
    pub fn init(&mut self) -> &mut Self {
        self.raw(&[0x1B, 0x40])
    }

    /// `ESC 3 n`: `n` dots from one line to the next (the printer uses the
    /// character height instead when it is taller).
    pub fn line_spacing(&mut self, dots: u8) -> &mut Self {
        self.raw(&[0x1B, 0x33, dots])
    }

    /// `ESC a n`.
    pub fn align(&mut self, a: Align) -> &mut Self {
        self.raw(&[0x1B, 0x61, a as u8])
    }

    /// `ESC E n`.
    pub fn bold(&mut self, on: bool) -> &mut Self {
        self.raw(&[0x1B, 0x45, u8::from(on)])
    }

    /// `GS ! n`: width and height multipliers 1 to 8.
    pub fn size(&mut self, width: u8, height: u8) -> &mut Self {
        let w = width.clamp(1, 8) - 1;
        let h = height.clamp(1, 8) - 1;
        self.raw(&[0x1D, 0x21, (w << 4) | h])
    }

    /// Text and a line feed; non-ASCII becomes `?`, and `₱` the printer's own peso
    /// sign once [`EscPos::define_peso`] defined it (else `P`).
    pub fn line(&mut self, text: &str) -> &mut Self {
        let (t, pesos) = printable_marked(text);
        for (i, b) in t.bytes().enumerate() {
            if self.peso && pesos.contains(&i) {
                // ESC % 1 selects the user-defined set for this one character.
                self.buf
                    .extend_from_slice(&[0x1B, 0x25, 0x01, PESO_CODE, 0x1B, 0x25, 0x00]);
            } else {
                self.buf.push(b);
            }
        }
        self.raw(&[0x0A])
    }

    /// `ESC & 3 c c 12 d…`: defines the peso sign, which no standard code page
    /// holds, as user-defined character [`PESO_CODE`] of font A (12 x 24 dots).
    /// `ESC @` forgets it, so this follows `init`.
    pub fn define_peso(&mut self) -> &mut Self {
        self.raw(&[0x1B, 0x26, 0x03, PESO_CODE, PESO_CODE, 12]);
        let columns = peso_columns();
        self.raw(&columns);
        self.peso = true;
        self
    }

    /// `ESC d n`.
    pub fn feed(&mut self, lines: u8) -> &mut Self {
        self.raw(&[0x1B, 0x64, lines])
    }

    /// `GS V 66 n`: feed `n` dots, then partial cut.
    pub fn cut(&mut self, feed: u8) -> &mut Self {
        self.raw(&[0x1D, 0x56, 0x42, feed])
    }

    /// A QR code drawn by the printer: model 2, `module` dots per module (1-16).
    pub fn qr_native(
        &mut self,
        data: &[u8],
        module: u8,
        level: QrLevel,
    ) -> Result<&mut Self, QrError> {
        // Store function: pL pH count the 3 bytes `cn fn m` plus the data; at most 7089.
        let len = data.len() + 3;
        if data.is_empty() || len > 7092 {
            return Err(QrError::too_long(data.len()));
        }
        // fn 165: select model 2 (n1 = 50), n2 = 0.
        self.raw(&[0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00]);
        // fn 167: module size.
        self.raw(&[
            0x1D,
            0x28,
            0x6B,
            0x03,
            0x00,
            0x31,
            0x43,
            module.clamp(1, 16),
        ]);
        // fn 169: error correction level.
        self.raw(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, level as u8]);
        // fn 180: store the data in the symbol storage area (m = 48).
        self.raw(&[
            0x1D,
            0x28,
            0x6B,
            (len & 0xFF) as u8,
            (len >> 8) as u8,
            0x31,
            0x50,
            0x30,
        ]);
        self.raw(data);
        // fn 181: print the stored symbol (m = 48).
        Ok(self.raw(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30]))
    }

    /// `GS v 0`: a raster image, normal density.
    pub fn raster(&mut self, image: &Canvas) -> &mut Self {
        let x = image.width().div_ceil(8);
        let y = image.height();
        self.raw(&[
            0x1D,
            0x76,
            0x30,
            0x00,
            (x & 0xFF) as u8,
            (x >> 8) as u8,
            (y & 0xFF) as u8,
            (y >> 8) as u8,
        ]);
        let rows = image.packed_rows();
        self.raw(&rows)
    }

    /// Raw bytes.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }
}

/// The code the peso sign takes in the user-defined set (`~` in the ROM set, which
/// still prints as `~` outside `ESC % 1`).
pub const PESO_CODE: u8 = 0x7E;

/// The peso sign in font A's 12 x 24 cell, `#` = dot: a `P` crossed twice.
pub const PESO: [&str; 24] = [
    "            ",
    "            ",
    "            ",
    "  #######   ",
    "  ########  ",
    "############",
    "############",
    "  ##    ### ",
    "############",
    "############",
    "  ########  ",
    "  #######   ",
    "  ##        ",
    "  ##        ",
    "  ##        ",
    "  ##        ",
    "  ##        ",
    "  ##        ",
    "  ##        ",
    "            ",
    "            ",
    "            ",
    "            ",
    "            ",
];

/// [`PESO`] as `ESC &` data: column by column, 3 bytes a column, top dot in the
/// most significant bit of the first byte.
fn peso_columns() -> Vec<u8> {
    let mut out = Vec::with_capacity(36);
    for col in 0..12 {
        for byte in 0..3 {
            let mut b = 0u8;
            for bit in 0..8 {
                let row = byte * 8 + bit;
                if PESO[row].as_bytes().get(col) == Some(&b'#') {
                    b |= 0x80 >> bit;
                }
            }
            out.push(b);
        }
    }
    out
}

/// How the QR code goes to the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrMode {
    /// `GS ( k`.
    Native,
    /// `GS v 0` image drawn by the agent.
    Raster,
}

/// QR module size in dots: 4 dots (0.5 mm at 203 dpi) make a 33-module code about
/// 17 mm wide, which phone cameras read at a hand's distance, and keep the ticket short.
pub const QR_MODULE: u8 = 4;

/// Dots from one text line to the next: font A is 24 dots high; 6 more keep lines
/// apart (most printers' power-on spacing is about this, 1/6 inch = 34 dots on some).
pub const LINE_SPACING: u8 = 30;

/// The whole ticket as printer bytes, ending with a cut.
pub fn ticket_bytes(t: &Ticket, paper: Paper, qr: QrMode) -> Result<Vec<u8>, QrError> {
    let mut p = EscPos::new();
    p.init().line_spacing(LINE_SPACING).define_peso();
    let width = paper.chars();
    let (blocks, qr_after) = t.blocks(width);
    for (i, b) in blocks.iter().enumerate() {
        if i == qr_after {
            p.align(Align::Center);
            match qr {
                QrMode::Native => {
                    p.qr_native(t.login_url.as_bytes(), QR_MODULE, QrLevel::M)?;
                }
                QrMode::Raster => {
                    let image = qr_image(t.login_url.as_bytes(), paper)?;
                    p.raster(&image);
                }
            }
            // Both move the paper past the symbol: no line feed after it.
        }
        match b.style {
            Style::Plain => p.align(Align::Left).line(&clip(&b.text, width)),
            Style::Centered => p.align(Align::Center).line(&clip(&b.text, width)),
            Style::Bold => p
                .align(Align::Center)
                .bold(true)
                .line(&clip(&b.text, width))
                .bold(false),
            Style::Heading | Style::Code => {
                // Double size halves the characters per line; long texts stay single width.
                let big = printable(&b.text).len() <= width / 2;
                p.align(Align::Center)
                    .bold(true)
                    .size(if big { 2 } else { 1 }, 2);
                p.line(&clip(&b.text, width)).size(1, 1).bold(false)
            }
        };
    }
    // The cutter sits a few millimetres past the head: one line's feed lets the
    // last line clear it, and nothing more is wasted.
    p.feed(1).cut(0);
    Ok(p.into_bytes())
}

/// The QR code as a raster image centred on the paper width.
pub fn qr_image(data: &[u8], paper: Paper) -> Result<Canvas, QrError> {
    let n = crate::canvas::qr(data)?.width() as u32 + 8;
    let module = (paper.dots() / n).clamp(1, u32::from(QR_MODULE));
    let side = n * module;
    let mut c = Canvas::new(paper.dots(), side);
    c.draw_qr(data, (paper.dots() - side) / 2, 0, module, 4)?;
    Ok(c)
}

fn clip(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

/// `DLE EOT 4`: transmit paper roll sensor status.
pub const PAPER_STATUS_REQUEST: [u8; 3] = [0x10, 0x04, 0x04];

/// The paper sensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaperStatus {
    /// Roll end: nothing will print.
    pub out: bool,
    /// Roll near end: replace soon.
    pub near_end: bool,
}

impl PaperStatus {
    /// Reads the `DLE EOT 4` reply byte: bits 2-3 near end, bits 5-6 roll end;
    /// bit 1 and bit 4 are always 1 and bits 0 and 7 always 0, so any other byte
    /// is not a status reply (`None`).
    pub fn parse(byte: u8) -> Option<PaperStatus> {
        if byte & 0b1001_0011 != 0b0001_0010 {
            return None;
        }
        Some(PaperStatus {
            near_end: byte & 0b0000_1100 != 0,
            out: byte & 0b0110_0000 != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::{sample_look, sample_voucher};

    fn ticket() -> Ticket {
        Ticket::for_voucher(
            &sample_voucher("KX7M4TRA", "KX7M4TRA"),
            &sample_look(firmware_config::kiosk::Language::En),
        )
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    #[test]
    fn native_qr_command_bytes_are_exact() {
        let mut p = EscPos::new();
        p.qr_native(b"http://a/", 6, QrLevel::M).unwrap();
        let expected: Vec<u8> = [
            &[0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00][..], // model 2
            &[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x06],           // module 6 dots
            &[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31],           // level M
            &[0x1D, 0x28, 0x6B, 0x0C, 0x00, 0x31, 0x50, 0x30],           // store 9 + 3 bytes
            b"http://a/",
            &[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30], // print
        ]
        .concat();
        assert_eq!(p.into_bytes(), expected);
    }

    #[test]
    fn ticket_starts_with_init_carries_code_and_qr_and_ends_with_cut() {
        let t = ticket();
        let bytes = ticket_bytes(&t, Paper::Mm58, QrMode::Native).unwrap();
        assert_eq!(&bytes[..2], &[0x1B, 0x40]);
        assert!(find(&bytes, b"Code: KX7M4TRA\n").is_some());
        assert!(find(&bytes, b"Join WiFi Cafe WiFi").is_some());
        let peso = [0x1B, 0x25, 0x01, PESO_CODE, 0x1B, 0x25, 0x00];
        let headline = [&b"1 hour - "[..], &peso, b"5\n"].concat();
        let at = find(&bytes, &headline).expect("the peso sign as the printer's own");
        let define = find(&bytes, &[0x1B, 0x26, 0x03, PESO_CODE, PESO_CODE, 12]).unwrap();
        assert!(define < at, "defined before use");
        assert_eq!(peso_columns().len(), 36, "12 columns of 3 bytes");
        let url = b"http://hotspot.lan/login?username=KX7M4TRA&password=KX7M4TRA";
        let store = find(&bytes, &[0x1D, 0x28, 0x6B]).unwrap();
        let at = find(&bytes, url).expect("QR payload");
        assert!(at > store);
        assert_eq!(&bytes[bytes.len() - 4..], &[0x1D, 0x56, 0x42, 0x00]);
        assert!(
            find(&bytes, b"Password").is_none(),
            "user = password: one code only"
        );
    }

    #[test]
    fn lines_fit_the_paper_width() {
        let mut t = ticket();
        t.site_name = "A very long site name that never fits on 58 mm paper".into();
        let bytes = ticket_bytes(&t, Paper::Mm58, QrMode::Native).unwrap();
        for line in bytes.split(|b| *b == 0x0A) {
            let text: Vec<u8> = line
                .iter()
                .rev()
                .take_while(|b| (0x20..0x7F).contains(*b))
                .copied()
                .collect();
            assert!(text.len() <= 32, "{}", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn raster_qr_header_matches_the_image_size() {
        let bytes = ticket_bytes(&ticket(), Paper::Mm80, QrMode::Raster).unwrap();
        let at = find(&bytes, &[0x1D, 0x76, 0x30, 0x00]).expect("GS v 0");
        let (x, y) = (
            u16::from_le_bytes([bytes[at + 4], bytes[at + 5]]),
            u16::from_le_bytes([bytes[at + 6], bytes[at + 7]]),
        );
        assert_eq!(x, 576 / 8);
        assert!(y > 100 && y < 576, "{y}");
        assert!(
            find(&bytes, &[0x1D, 0x28, 0x6B]).is_none(),
            "no native QR in raster mode"
        );
    }

    #[test]
    fn paper_status_reads_end_and_near_end() {
        // 0x12: fixed bits only, paper present.
        assert_eq!(
            PaperStatus::parse(0x12),
            Some(PaperStatus {
                out: false,
                near_end: false
            })
        );
        assert_eq!(
            PaperStatus::parse(0x1E),
            Some(PaperStatus {
                out: false,
                near_end: true
            })
        );
        assert_eq!(
            PaperStatus::parse(0x72),
            Some(PaperStatus {
                out: true,
                near_end: false
            })
        );
        assert_eq!(
            PaperStatus::parse(0x7E),
            Some(PaperStatus {
                out: true,
                near_end: true
            })
        );
        // Not a status byte: fixed bits wrong.
        assert_eq!(PaperStatus::parse(0x00), None);
        assert_eq!(PaperStatus::parse(0xFF), None);
    }

    #[test]
    fn text_size_packs_width_and_height() {
        let mut p = EscPos::new();
        p.size(2, 2).size(1, 1);
        assert_eq!(p.into_bytes(), vec![0x1D, 0x21, 0x11, 0x1D, 0x21, 0x00]);
    }
}
