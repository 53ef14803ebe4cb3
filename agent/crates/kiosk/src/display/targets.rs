//! Panels that show a drawn screen: PNG files, the Linux framebuffer, an SSD1306
//! OLED on I2C, and memory (tests). The display task runs them on a thread of
//! its own because I2C and framebuffer writes block.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::{draw, Screen};
use crate::canvas::Canvas;

/// Why a panel could not show a screen.
#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    /// Writing the panel failed.
    #[error("display {device}: {message}: check [kiosk.display]")]
    Device {
        /// Device or folder.
        device: String,
        /// What failed.
        message: String,
    },
}

fn err(device: &str, e: impl std::fmt::Display) -> DisplayError {
    DisplayError::Device {
        device: device.to_string(),
        message: e.to_string(),
    }
}

/// Something that shows a 128x64 frame.
pub trait Panel: Send + 'static {
    /// Shows `frame` (logical 128x64, ink = lit/black).
    fn show(&mut self, frame: &Canvas) -> Result<(), DisplayError>;
}

/// Writes every screen as `screen-NNNN.png` and `current.png` in a folder.
pub struct PngDir {
    dir: PathBuf,
    count: u32,
    scale: u32,
}

impl PngDir {
    /// Creates the folder; screens are scaled `scale` times (1 = OLED size).
    pub fn new(dir: impl Into<PathBuf>, scale: u32) -> Result<PngDir, DisplayError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| err(&dir.display().to_string(), e))?;
        Ok(PngDir {
            dir,
            count: 0,
            scale: scale.max(1),
        })
    }
}

/// `frame` scaled by a whole factor.
pub fn scaled(frame: &Canvas, scale: u32) -> Canvas {
    let mut out = Canvas::new(frame.width() * scale, frame.height() * scale);
    for y in 0..out.height() {
        for x in 0..out.width() {
            out.set(x, y, frame.get(x / scale, y / scale));
        }
    }
    out
}

impl Panel for PngDir {
    fn show(&mut self, frame: &Canvas) -> Result<(), DisplayError> {
        let png = scaled(frame, self.scale).to_png();
        self.count += 1;
        let device = self.dir.display().to_string();
        std::fs::write(self.dir.join(format!("screen-{:04}.png", self.count)), &png)
            .map_err(|e| err(&device, e))?;
        // Written beside and renamed, so a viewer never reads half a file.
        let tmp = self.dir.join(".current.png");
        std::fs::write(&tmp, &png).map_err(|e| err(&device, e))?;
        std::fs::rename(&tmp, self.dir.join("current.png")).map_err(|e| err(&device, e))
    }
}

/// Keeps the frames; tests look at them.
#[derive(Clone, Default)]
pub struct MemoryPanel {
    /// Every frame shown, oldest first.
    pub frames: Arc<Mutex<Vec<Canvas>>>,
}

impl Panel for MemoryPanel {
    fn show(&mut self, frame: &Canvas) -> Result<(), DisplayError> {
        if let Ok(mut f) = self.frames.lock() {
            f.push(frame.clone());
        }
        Ok(())
    }
}

/// A Linux framebuffer (`/dev/fbN`) in RGB565 or XRGB8888, geometry from sysfs.
pub struct Framebuffer {
    path: String,
    width: u32,
    height: u32,
    bpp: u32,
    stride: u32,
}

impl Framebuffer {
    /// Reads `/sys/class/graphics/fbN/{virtual_size,bits_per_pixel,stride}`.
    pub fn open(path: &str) -> Result<Framebuffer, DisplayError> {
        let name = std::path::Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("fb0");
        let sys = |f: &str| {
            std::fs::read_to_string(format!("/sys/class/graphics/{name}/{f}"))
                .map(|s| s.trim().to_string())
                .map_err(|e| err(path, format!("reading {f} from sysfs: {e}")))
        };
        let size = sys("virtual_size")?;
        let (w, h) = size
            .split_once(',')
            .ok_or_else(|| err(path, format!("odd virtual_size {size:?}")))?;
        let num = |s: &str| s.trim().parse::<u32>().map_err(|e| err(path, e));
        let (width, height, bpp) = (num(w)?, num(h)?, num(&sys("bits_per_pixel")?)?);
        if bpp != 16 && bpp != 32 {
            return Err(err(
                path,
                format!("{bpp} bits per pixel: only 16 (RGB565) and 32 (XRGB8888) are supported"),
            ));
        }
        let stride = sys("stride")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(width * bpp / 8);
        Ok(Framebuffer {
            path: path.to_string(),
            width,
            height,
            bpp,
            stride,
        })
    }

    /// The raw bytes for `frame`, scaled and centred: white ink on black.
    pub fn encode(&self, frame: &Canvas) -> Vec<u8> {
        let scale = (self.width / frame.width())
            .min(self.height / frame.height())
            .max(1);
        let x0 = self.width.saturating_sub(frame.width() * scale) / 2;
        let y0 = self.height.saturating_sub(frame.height() * scale) / 2;
        let px = (self.bpp / 8) as usize;
        let mut out = vec![0u8; (self.stride * self.height) as usize];
        for y in 0..self.height {
            for x in 0..self.width {
                let on = x >= x0 && y >= y0 && frame.get((x - x0) / scale, (y - y0) / scale);
                if on {
                    let at = (y * self.stride) as usize + x as usize * px;
                    // RGB565 white = 0xFFFF; XRGB8888 white = 0x00FFFFFF (little endian).
                    let white: &[u8] = if px == 2 {
                        &[0xFF, 0xFF]
                    } else {
                        &[0xFF, 0xFF, 0xFF, 0x00]
                    };
                    out[at..at + px].copy_from_slice(white);
                }
            }
        }
        out
    }
}

impl Panel for Framebuffer {
    fn show(&mut self, frame: &Canvas) -> Result<(), DisplayError> {
        let bytes = self.encode(frame);
        std::fs::write(&self.path, bytes).map_err(|e| err(&self.path, e))
    }
}

/// An SSD1306 128x64 OLED on I2C.
pub struct Ssd1306Panel {
    device: String,
    display: ssd1306::Ssd1306<
        ssd1306::prelude::I2CInterface<linux_embedded_hal::I2cdev>,
        ssd1306::size::DisplaySize128x64,
        ssd1306::mode::BufferedGraphicsMode<ssd1306::size::DisplaySize128x64>,
    >,
}

impl Ssd1306Panel {
    /// Opens `bus` (`/dev/i2c-1`) and initialises the controller at `address`.
    pub fn open(bus: &str, address: u8) -> Result<Ssd1306Panel, DisplayError> {
        use ssd1306::prelude::*;
        let i2c = linux_embedded_hal::I2cdev::new(bus).map_err(|e| err(bus, e))?;
        let interface = ssd1306::I2CDisplayInterface::new_custom_address(i2c, address);
        let mut display =
            ssd1306::Ssd1306::new(interface, DisplaySize128x64, DisplayRotation::Rotate0)
                .into_buffered_graphics_mode();
        display.init().map_err(|e| {
            err(
                bus,
                format!("{e:?} (is the OLED at address {address:#04x}?)"),
            )
        })?;
        Ok(Ssd1306Panel {
            device: bus.to_string(),
            display,
        })
    }
}

impl Panel for Ssd1306Panel {
    fn show(&mut self, frame: &Canvas) -> Result<(), DisplayError> {
        self.display.clear_buffer();
        for y in 0..frame.height().min(64) {
            for x in 0..frame.width().min(128) {
                self.display.set_pixel(x, y, frame.get(x, y));
            }
        }
        self.display
            .flush()
            .map_err(|e| err(&self.device, format!("{e:?}")))
    }
}

/// Cloneable handle to the display thread.
#[derive(Clone)]
pub struct DisplayHandle {
    tx: mpsc::Sender<Screen>,
}

impl DisplayHandle {
    /// Shows a screen (drops it if the display thread is gone: a dead display must not stop sales).
    pub async fn show(&self, screen: Screen) {
        let _ = self.tx.send(screen).await;
    }
}

/// Starts the display thread; errors go to `errors` once per failure streak.
/// The screens' fixed words are those of `words` (`[kiosk] language`).
pub fn spawn<P: Panel>(
    mut panel: P,
    errors: mpsc::Sender<String>,
    words: &'static crate::words::Words,
) -> DisplayHandle {
    let (tx, mut rx) = mpsc::channel::<Screen>(8);
    std::thread::Builder::new()
        .name("kiosk-display".into())
        .spawn(move || {
            let mut failing = false;
            while let Some(mut screen) = rx.blocking_recv() {
                // Only the newest screen matters when several are queued.
                while let Ok(newer) = rx.try_recv() {
                    screen = newer;
                }
                match panel.show(&draw(&screen, words)) {
                    Ok(()) => failing = false,
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %e, "display failed");
                        let _ = errors.blocking_send(e.to_string());
                    }
                    Err(_) => {}
                }
            }
        })
        .ok();
    DisplayHandle { tx }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framebuffer_rgb565_scales_and_centres_the_frame() {
        let fb = Framebuffer {
            path: String::new(),
            width: 320,
            height: 240,
            bpp: 16,
            stride: 640,
        };
        let mut frame = Canvas::new(128, 64);
        frame.set(0, 0, true);
        let bytes = fb.encode(&frame);
        // Scale 2 (320/128 = 2, 240/64 = 3): frame at x0 = 32, y0 = 56.
        let at = |x: usize, y: usize| (y * 640) + x * 2;
        assert_eq!(&bytes[at(32, 56)..at(32, 56) + 2], &[0xFF, 0xFF]);
        assert_eq!(&bytes[at(33, 57)..at(33, 57) + 2], &[0xFF, 0xFF]);
        assert_eq!(&bytes[at(34, 56)..at(34, 56) + 2], &[0x00, 0x00]);
        assert_eq!(bytes.len(), 640 * 240);
    }

    #[test]
    fn png_dir_writes_numbered_screens_and_current() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = PngDir::new(dir.path(), 2).unwrap();
        let en = crate::words::words(firmware_config::kiosk::Language::En);
        p.show(&draw(&Screen::Starting, en)).unwrap();
        p.show(&draw(&Screen::Working { what: "x".into() }, en))
            .unwrap();
        assert!(dir.path().join("screen-0002.png").exists());
        let png = std::fs::read(dir.path().join("current.png")).unwrap();
        assert_eq!(&png[16..20], &256u32.to_be_bytes(), "128 px scaled twice");
    }
}
