//! Push buttons: a pure debouncer, and the GPIO reader that feeds it.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

/// Debounces one button: a level counts once it has held for `debounce`.
#[derive(Debug, Clone)]
pub struct Debouncer {
    debounce: Duration,
    stable: bool,
    pending: Option<(bool, Instant)>,
}

impl Debouncer {
    /// Released at start.
    pub fn new(debounce: Duration) -> Debouncer {
        Debouncer {
            debounce,
            stable: false,
            pending: None,
        }
    }

    /// A raw level change (`pressed` in logical terms) at `now`.
    /// Returns `Some(true)` for a press that has already held long enough.
    pub fn handle_level(&mut self, pressed: bool, now: Instant) -> Option<bool> {
        let out = self.poll(now);
        self.pending = if pressed == self.stable {
            None
        } else {
            Some((pressed, now))
        };
        out
    }

    /// Settles a pending level; `Some(true)` = pressed, `Some(false)` = released.
    pub fn poll(&mut self, now: Instant) -> Option<bool> {
        let (level, since) = self.pending?;
        if now.saturating_duration_since(since) >= self.debounce {
            self.pending = None;
            self.stable = level;
            Some(level)
        } else {
            None
        }
    }

    /// When to poll next, if a level is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.map(|(_, since)| since + self.debounce)
    }
}

/// Why the buttons' GPIO lines could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ButtonError {
    /// The GPIO chip could not be opened.
    #[error("button GPIO {chip}: {source}; check [kiosk.buttons] gpio_chip and that the agent may open it")]
    Chip {
        chip: String,
        #[source]
        source: linux_embedded_hal::gpio_cdev::Error,
    },
    /// One line could not be requested for edge events.
    #[error("button {index} on {chip} line {line}: {source}; check [kiosk.buttons] lines (is another program using it?)")]
    Line {
        index: usize,
        chip: String,
        line: u32,
        #[source]
        source: linux_embedded_hal::gpio_cdev::Error,
    },
    /// The thread that waits for its edges could not start.
    #[error("button {index}: cannot start its thread: {source}")]
    Thread {
        index: usize,
        #[source]
        source: std::io::Error,
    },
}

/// Reads buttons from GPIO lines and sends the index of each debounced press.
pub fn spawn_gpio(
    cfg: &firmware_config::kiosk::ButtonsConfig,
    presses: mpsc::Sender<usize>,
) -> Result<(), ButtonError> {
    use linux_embedded_hal::gpio_cdev::{Chip, EventRequestFlags, EventType, LineRequestFlags};
    let debounce = cfg.debounce.std();
    for (index, &line) in cfg.lines.iter().enumerate() {
        let mut chip = Chip::new(&cfg.gpio_chip).map_err(|source| ButtonError::Chip {
            chip: cfg.gpio_chip.clone(),
            source,
        })?;
        let mut flags = LineRequestFlags::INPUT;
        if cfg.active_low {
            flags |= LineRequestFlags::ACTIVE_LOW;
        }
        let mut events = chip
            .get_line(line)
            .and_then(|l| l.events(flags, EventRequestFlags::BOTH_EDGES, "hotspot-agent-button"))
            .map_err(|source| ButtonError::Line {
                index,
                chip: cfg.gpio_chip.clone(),
                line,
                source,
            })?;
        let presses = presses.clone();
        let (tx, mut rx) = mpsc::channel::<(bool, Instant)>(32);
        std::thread::Builder::new()
            .name(format!("button-{index}"))
            .spawn(move || {
                while let Ok(ev) = events.get_event() {
                    if tx
                        .blocking_send((
                            matches!(ev.event_type(), EventType::RisingEdge),
                            Instant::now(),
                        ))
                        .is_err()
                    {
                        return;
                    }
                }
            })
            .map_err(|source| ButtonError::Thread { index, source })?;
        tokio::spawn(async move {
            let mut d = Debouncer::new(debounce);
            loop {
                let deadline = d
                    .next_deadline()
                    .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
                let settled = tokio::select! {
                    ev = rx.recv() => match ev {
                        Some((level, at)) => d.handle_level(level, at),
                        None => return,
                    },
                    _ = tokio::time::sleep_until(deadline.into()) => d.poll(Instant::now()),
                };
                if settled == Some(true) && presses.send(index).await.is_err() {
                    return;
                }
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_bouncy_press_counts_once() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(ms(20));
        let mut presses = 0;
        // Contact bounce: 5 changes within 8 ms, then held down.
        for (i, level) in [true, false, true, false, true].iter().enumerate() {
            if d.handle_level(*level, t0 + ms(2 * i as u64)) == Some(true) {
                presses += 1;
            }
        }
        for t in 9..100 {
            if d.poll(t0 + ms(t)) == Some(true) {
                presses += 1;
            }
        }
        assert_eq!(presses, 1);
    }

    #[test]
    fn a_glitch_shorter_than_the_debounce_is_ignored() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(ms(20));
        d.handle_level(true, t0);
        d.handle_level(false, t0 + ms(5));
        assert_eq!(d.poll(t0 + ms(50)), None);
        assert_eq!(d.next_deadline(), None);
    }

    #[test]
    fn press_then_release_reports_both() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(ms(20));
        d.handle_level(true, t0);
        assert_eq!(d.poll(t0 + ms(20)), Some(true));
        d.handle_level(false, t0 + ms(200));
        assert_eq!(d.poll(t0 + ms(219)), None);
        assert_eq!(d.poll(t0 + ms(220)), Some(false));
    }
}
