//! A monochrome bitmap that embedded-graphics draws on: the PNG target, the
//! source of ESC/POS raster images and of the OLED/framebuffer frames.

use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;

/// `true` = ink (black on paper, lit on an OLED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<bool>,
}

/// Why a QR code could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot make a QR code of {len} bytes: {message}")]
pub struct QrError {
    len: usize,
    message: String,
}

impl QrError {
    /// A payload the printer cannot hold.
    pub fn too_long(len: usize) -> QrError {
        QrError {
            len,
            message: "1 to 7089 bytes fit in a printer QR code".into(),
        }
    }
}

impl Canvas {
    /// A blank canvas.
    pub fn new(width: u32, height: u32) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![false; (width * height) as usize],
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// One pixel; outside the canvas is blank.
    pub fn get(&self, x: u32, y: u32) -> bool {
        x < self.width && y < self.height && self.pixels[(y * self.width + x) as usize]
    }

    /// Sets one pixel; outside the canvas is ignored.
    pub fn set(&mut self, x: u32, y: u32, on: bool) {
        if x < self.width && y < self.height {
            self.pixels[(y * self.width + x) as usize] = on;
        }
    }

    /// Cuts the canvas to `height` rows (drawing long, then trimming).
    pub fn truncate(&mut self, height: u32) {
        self.height = height.min(self.height);
        self.pixels.truncate((self.width * self.height) as usize);
    }

    /// Rows packed 8 pixels a byte, most significant bit leftmost, 1 = ink:
    /// the layout of ESC/POS `GS v 0` and of PNG 1-bit images (inverted there).
    pub fn packed_rows(&self) -> Vec<u8> {
        let stride = self.width.div_ceil(8);
        let mut out = vec![0u8; (stride * self.height) as usize];
        for y in 0..self.height {
            for x in 0..self.width {
                if self.get(x, y) {
                    out[(y * stride + x / 8) as usize] |= 0x80 >> (x % 8);
                }
            }
        }
        out
    }

    /// A 1-bit greyscale PNG: ink black on white.
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width, self.height);
            enc.set_color(png::ColorType::Grayscale);
            enc.set_depth(png::BitDepth::One);
            // Writing into a Vec cannot fail for I/O reasons; the sizes match by construction.
            let data: Vec<u8> = self.packed_rows().iter().map(|b| !b).collect();
            if let Ok(mut w) = enc.write_header() {
                let _ = w.write_image_data(&data);
            }
        }
        out
    }

    /// Draws the QR code of `data` with `module` pixels per module and a
    /// `quiet`-module white border, top left at (x, y); returns its side in pixels.
    pub fn draw_qr(
        &mut self,
        data: &[u8],
        x: u32,
        y: u32,
        module: u32,
        quiet: u32,
    ) -> Result<u32, QrError> {
        let code = qr(data)?;
        let n = code.width() as u32;
        let colors = code.to_colors();
        let side = (n + 2 * quiet) * module;
        for py in 0..side {
            for px in 0..side {
                self.set(x + px, y + py, false);
            }
        }
        for (i, c) in colors.iter().enumerate() {
            if *c == qrcode::Color::Dark {
                let (mx, my) = (i as u32 % n, i as u32 / n);
                for dy in 0..module {
                    for dx in 0..module {
                        self.set(
                            x + (quiet + mx) * module + dx,
                            y + (quiet + my) * module + dy,
                            true,
                        );
                    }
                }
            }
        }
        Ok(side)
    }
}

/// The QR code the printer and the display show: error correction M, as the
/// printer's native QR uses (`GS ( k` function 169, n = 49).
pub fn qr(data: &[u8]) -> Result<qrcode::QrCode, QrError> {
    qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::M).map_err(|e| QrError {
        len: data.len(),
        message: e.to_string(),
    })
}

impl OriginDimensions for Canvas {
    fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }
}

impl DrawTarget for Canvas {
    type Color = BinaryColor;
    type Error = core::convert::Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<BinaryColor>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Self::Error> {
        for Pixel(p, c) in pixels {
            if p.x >= 0 && p.y >= 0 {
                self.set(p.x as u32, p.y as u32, c.is_on());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_rows_put_the_leftmost_pixel_in_the_top_bit() {
        let mut c = Canvas::new(10, 2);
        c.set(0, 0, true);
        c.set(9, 1, true);
        // 10 pixels = 2 bytes a row.
        assert_eq!(c.packed_rows(), vec![0x80, 0x00, 0x00, 0x40]);
    }

    #[test]
    fn png_output_has_the_png_signature_and_size() {
        let png = Canvas::new(384, 20).to_png();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR width (big endian) follows the 8-byte signature, 4-byte length and "IHDR".
        assert_eq!(&png[16..20], &384u32.to_be_bytes());
    }

    #[test]
    fn a_qr_code_has_dark_finder_corners() {
        let mut c = Canvas::new(200, 200);
        let side = c.draw_qr(b"http://hotspot.lan/login", 0, 0, 2, 4).unwrap();
        assert!(side > 0 && side <= 200);
        // Quiet zone is blank, the finder pattern's corner is dark.
        assert!(!c.get(0, 0));
        assert!(c.get(8, 8));
    }
}
