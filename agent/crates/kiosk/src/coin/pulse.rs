//! Pulse decoder for pulse-output coin and bill acceptors (CH-926, DG600F, TB-74).
//!
//! Pure: the caller passes each edge of the COIN line with its time and calls
//! [`PulseDecoder::poll`] now and then; the decoder returns coins, noise and
//! rejected trains. Figures (field-notes.md): pulses are 25-150 ms wide (DG600F
//! 25/45/65/100 ms +-20 %), anything under 20 ms is noise, a quiet ~100-500 ms
//! ends a train, bill acceptors pulse ~100 ms apart.
//!
//! Noise filtering works both ways: an active level shorter than `noise` is a
//! spike (reported, not counted), and an inactive gap shorter than `noise`
//! inside a pulse is contact bounce that does not split the pulse.

use std::time::{Duration, Instant};

/// Timings and the pulses-to-value map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulseConfig {
    /// Active levels and gaps shorter than this are noise.
    pub noise: Duration,
    /// Shortest pulse that counts (shorter ones at or above `noise` are noise too).
    pub min_width: Duration,
    /// Longest pulse that counts; a longer one spoils the whole train.
    pub max_width: Duration,
    /// Quiet time after a pulse that ends the train.
    pub train_gap: Duration,
    /// `(pulses, value)`.
    pub values: Vec<(u32, u64)>,
}

impl Default for PulseConfig {
    fn default() -> Self {
        PulseConfig {
            noise: Duration::from_millis(20),
            min_width: Duration::from_millis(20),
            max_width: Duration::from_millis(180),
            train_gap: Duration::from_millis(300),
            values: vec![(1, 1), (5, 5), (10, 10)],
        }
    }
}

impl From<&firmware_config::kiosk::CoinConfig> for PulseConfig {
    fn from(c: &firmware_config::kiosk::CoinConfig) -> Self {
        PulseConfig {
            noise: c.noise.std(),
            min_width: c.min_pulse.std(),
            max_width: c.max_pulse.std(),
            train_gap: c.train_gap.std(),
            values: c.pulse_values.iter().map(|p| (p.pulses, p.value)).collect(),
        }
    }
}

/// Why a pulse train was not credited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The pulse count is not in the map.
    UnknownCount,
    /// A pulse was longer than `max_width` (stuck line, wrong acceptor setting).
    PulseTooLong,
}

/// What the decoder saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PulseEvent {
    /// A complete train worth `value`.
    Coin { value: u64, pulses: u32 },
    /// A spike shorter than a real pulse; ignored.
    Noise { width: Duration },
    /// A complete train that cannot be credited.
    Rejected { pulses: u32, reason: RejectReason },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// Inactive since `since` (the end of the last pulse or the start).
    Quiet { since: Instant },
    /// Active since `start`.
    Active { start: Instant },
    /// Went inactive at `end` after a pulse that began at `start`; may still be bounce.
    Falling { start: Instant, end: Instant },
}

/// The decoder. One per acceptor.
#[derive(Debug, Clone)]
pub struct PulseDecoder {
    config: PulseConfig,
    line: Line,
    pulses: u32,
    spoiled: bool,
}

impl PulseDecoder {
    /// A decoder with the line quiet at `now`.
    pub fn new(config: PulseConfig, now: Instant) -> PulseDecoder {
        PulseDecoder {
            config,
            line: Line::Quiet { since: now },
            pulses: 0,
            spoiled: false,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &PulseConfig {
        &self.config
    }

    /// An edge: `active` is the new logical level (pulse on), `now` when it happened.
    /// Edges must come in time order; a repeated level is ignored. Returns up to
    /// two events, oldest first: a spike that ended the line's last pulse and the
    /// train that the quiet time before this edge closed.
    pub fn handle_edge(&mut self, active: bool, now: Instant) -> Vec<PulseEvent> {
        match (self.line, active) {
            (Line::Quiet { since }, true) => {
                // A train that ended before this pulse must be closed first.
                let closed = if self.pulses > 0
                    && now.saturating_duration_since(since) >= self.config.train_gap
                {
                    self.finish_train()
                } else {
                    None
                };
                self.line = Line::Active { start: now };
                closed.into_iter().collect()
            }
            (Line::Falling { start, end }, true) => {
                if now.saturating_duration_since(end) < self.config.noise {
                    // Bounce inside one pulse: keep the pulse going.
                    self.line = Line::Active { start };
                    Vec::new()
                } else {
                    let done = self.settle_pulse(start, end);
                    let closed = if self.pulses > 0
                        && now.saturating_duration_since(end) >= self.config.train_gap
                    {
                        self.finish_train()
                    } else {
                        None
                    };
                    self.line = Line::Active { start: now };
                    // Both: a trailing spike must not hide the coin it followed.
                    done.into_iter().chain(closed).collect()
                }
            }
            (Line::Active { start }, false) => {
                self.line = Line::Falling { start, end: now };
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Lets time pass: settles a finished pulse, closes a train after the gap and
    /// notices a line held active for too long.
    pub fn poll(&mut self, now: Instant) -> Option<PulseEvent> {
        match self.line {
            Line::Falling { start, end }
                if now.saturating_duration_since(end) >= self.config.noise =>
            {
                self.line = Line::Quiet { since: end };
                if let Some(event) = self.settle_pulse(start, end) {
                    return Some(event);
                }
                self.poll(now)
            }
            Line::Quiet { since }
                if self.pulses > 0
                    && now.saturating_duration_since(since) >= self.config.train_gap =>
            {
                self.finish_train()
            }
            // A line held active is judged when it falls (`settle_pulse` spoils a
            // pulse longer than `max_width`); until then it cannot end a train.
            // Judging it here would misread edges that are delivered late.
            _ => None,
        }
    }

    /// When `poll` should next be called to close a pending train, if one is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.line {
            Line::Falling { end, .. } => Some(end + self.config.noise),
            Line::Quiet { since } if self.pulses > 0 => Some(since + self.config.train_gap),
            _ => None,
        }
    }

    /// Counts a pulse that is over; returns noise for a too-short one.
    fn settle_pulse(&mut self, start: Instant, end: Instant) -> Option<PulseEvent> {
        let width = end.saturating_duration_since(start);
        if width < self.config.noise || width < self.config.min_width {
            // A spike does not belong to the train; if it came alone the line is
            // simply quiet again (a train with no pulses never ends in a coin).
            return Some(PulseEvent::Noise { width });
        }
        if width > self.config.max_width {
            self.spoiled = true;
        }
        self.pulses += 1;
        None
    }

    fn finish_train(&mut self) -> Option<PulseEvent> {
        let pulses = std::mem::take(&mut self.pulses);
        let spoiled = std::mem::take(&mut self.spoiled);
        if pulses == 0 {
            return None;
        }
        if spoiled {
            return Some(PulseEvent::Rejected {
                pulses,
                reason: RejectReason::PulseTooLong,
            });
        }
        match self.config.values.iter().find(|(p, _)| *p == pulses) {
            Some(&(_, value)) => Some(PulseEvent::Coin { value, pulses }),
            None => Some(PulseEvent::Rejected {
                pulses,
                reason: RejectReason::UnknownCount,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feeds `(active, at_ms)` edges, polling every millisecond up to `until_ms`,
    /// as the GPIO task does; returns every event.
    fn run(edges: &[(bool, u64)], until_ms: u64) -> Vec<PulseEvent> {
        let t0 = Instant::now();
        let mut d = PulseDecoder::new(PulseConfig::default(), t0);
        let mut out = Vec::new();
        let mut next = 0;
        for t in 0..=until_ms {
            while next < edges.len() && edges[next].1 == t {
                out.extend(d.handle_edge(edges[next].0, t0 + ms(t)));
                next += 1;
            }
            out.extend(d.poll(t0 + ms(t)));
        }
        out
    }

    /// `n` pulses of `width` ms every `period` ms from `at`.
    fn train(at: u64, n: u64, width: u64, period: u64) -> Vec<(bool, u64)> {
        (0..n)
            .flat_map(|i| [(true, at + i * period), (false, at + i * period + width)])
            .collect()
    }

    #[test]
    fn five_dg600f_pulses_make_a_five_coin() {
        // DG600F medium setting: 45 ms pulses; 100 ms period.
        let events = run(&train(10, 5, 45, 100), 1500);
        assert_eq!(
            events,
            vec![PulseEvent::Coin {
                value: 5,
                pulses: 5
            }]
        );
    }

    #[test]
    fn the_coin_is_reported_one_train_gap_after_the_last_pulse() {
        let t0 = Instant::now();
        let mut d = PulseDecoder::new(PulseConfig::default(), t0);
        for (level, at) in train(0, 1, 50, 100) {
            assert!(d.handle_edge(level, t0 + ms(at)).is_empty());
        }
        assert_eq!(d.poll(t0 + ms(349)), None, "still inside the 300 ms gap");
        assert_eq!(
            d.poll(t0 + ms(350)),
            Some(PulseEvent::Coin {
                value: 1,
                pulses: 1
            })
        );
        assert_eq!(d.poll(t0 + ms(2000)), None, "reported once");
    }

    #[test]
    fn spikes_under_twenty_ms_are_noise_and_credit_nothing() {
        let mut edges = vec![(true, 10), (false, 13), (true, 200), (false, 215)];
        edges.extend(train(1000, 1, 3, 10));
        let events = run(&edges, 2000);
        assert_eq!(events.len(), 3, "{events:?}");
        assert!(
            events.iter().all(|e| matches!(e, PulseEvent::Noise { .. })),
            "{events:?}"
        );
    }

    #[test]
    fn a_spike_inside_a_train_does_not_change_the_count() {
        let mut edges = train(0, 5, 45, 100);
        // A 5 ms spike in the gap between pulse 2 and 3.
        edges.push((true, 160));
        edges.push((false, 165));
        edges.sort_by_key(|e| e.1);
        let events = run(&edges, 1500);
        assert!(
            events.contains(&PulseEvent::Coin {
                value: 5,
                pulses: 5
            }),
            "{events:?}"
        );
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, PulseEvent::Coin { .. }))
                .count(),
            1
        );
    }

    #[test]
    fn bounce_inside_a_pulse_does_not_split_it() {
        // One 60 ms pulse with a 4 ms drop in the middle (worn contact).
        let events = run(&[(true, 0), (false, 30), (true, 34), (false, 60)], 800);
        assert_eq!(
            events,
            vec![PulseEvent::Coin {
                value: 1,
                pulses: 1
            }]
        );
    }

    #[test]
    fn back_to_back_coins_are_two_coins() {
        // A 5 then a 1, 350 ms apart (just over the 300 ms gap).
        let mut edges = train(0, 5, 30, 60);
        edges.extend(train(240 + 350, 1, 30, 60));
        let events = run(&edges, 2000);
        assert_eq!(
            events,
            vec![
                PulseEvent::Coin {
                    value: 5,
                    pulses: 5
                },
                PulseEvent::Coin {
                    value: 1,
                    pulses: 1
                }
            ]
        );
    }

    #[test]
    fn back_to_back_coins_without_polling_are_split_by_the_next_edge() {
        let t0 = Instant::now();
        let mut d = PulseDecoder::new(PulseConfig::default(), t0);
        let mut events = Vec::new();
        for (level, at) in train(0, 1, 40, 100)
            .into_iter()
            .chain(train(500, 1, 40, 100))
        {
            events.extend(d.handle_edge(level, t0 + ms(at)));
        }
        assert_eq!(
            events,
            vec![PulseEvent::Coin {
                value: 1,
                pulses: 1
            }]
        );
        events.extend(d.poll(t0 + ms(900)));
        assert_eq!(events.len(), 2, "{events:?}");
    }

    #[test]
    fn a_finished_train_survives_a_trailing_spike_handled_without_a_poll() {
        // A 1-pulse coin, then a 5 ms spike, then (the task stalled past the train
        // gap, no poll in between) the next edge: the coin must still come out.
        let t0 = Instant::now();
        let mut d = PulseDecoder::new(PulseConfig::default(), t0);
        let mut events = Vec::new();
        for (level, at) in [
            (true, 0),
            (false, 50),
            (true, 100),
            (false, 105),
            (true, 900),
        ] {
            events.extend(d.handle_edge(level, t0 + ms(at)));
        }
        assert!(
            events.contains(&PulseEvent::Coin {
                value: 1,
                pulses: 1
            }),
            "{events:?}"
        );
        assert!(events.iter().any(|e| matches!(e, PulseEvent::Noise { .. })));
    }

    #[test]
    fn a_train_split_by_a_slow_gap_is_two_rejected_counts() {
        // 5 pulses with a 400 ms pause after the second: 2 + 3, neither in the map.
        let mut edges = train(0, 2, 40, 100);
        edges.extend(train(100 + 40 + 400, 3, 40, 100));
        let events = run(&edges, 2000);
        assert_eq!(
            events,
            vec![
                PulseEvent::Rejected {
                    pulses: 2,
                    reason: RejectReason::UnknownCount
                },
                PulseEvent::Rejected {
                    pulses: 3,
                    reason: RejectReason::UnknownCount
                },
            ]
        );
    }

    #[test]
    fn a_pulse_too_long_rejects_the_train() {
        let events = run(&[(true, 0), (false, 400)], 1200);
        assert_eq!(
            events,
            vec![PulseEvent::Rejected {
                pulses: 1,
                reason: RejectReason::PulseTooLong
            }]
        );
    }

    #[test]
    fn a_stuck_line_never_becomes_a_coin() {
        // Held active for 5 s, then released, then a normal 1-pulse coin.
        let mut edges = vec![(true, 0), (false, 5000)];
        edges.extend(train(6000, 1, 40, 100));
        let events = run(&edges, 7000);
        assert_eq!(
            events,
            vec![
                PulseEvent::Rejected {
                    pulses: 1,
                    reason: RejectReason::PulseTooLong
                },
                PulseEvent::Coin {
                    value: 1,
                    pulses: 1
                },
            ]
        );
    }

    #[test]
    fn an_unknown_count_is_rejected_with_the_count() {
        let events = run(&train(0, 3, 40, 100), 1200);
        assert_eq!(
            events,
            vec![PulseEvent::Rejected {
                pulses: 3,
                reason: RejectReason::UnknownCount
            }]
        );
    }

    #[test]
    fn tb74_bill_pulses_100_ms_apart_count_as_one_train() {
        // TB-74: 50 ms pulses, 100 ms gap between them; 10 pulses = 10.
        let events = run(&train(0, 10, 50, 150), 3000);
        assert_eq!(
            events,
            vec![PulseEvent::Coin {
                value: 10,
                pulses: 10
            }]
        );
    }

    #[test]
    fn ch926_pulses_at_the_limits_of_the_spec_count() {
        // 25 ms and 150 ms pulses are both real pulses.
        let mut edges = vec![(true, 0), (false, 25)];
        edges.extend([(true, 100), (false, 250)]);
        let events = run(&edges, 1000);
        assert_eq!(
            events,
            vec![PulseEvent::Rejected {
                pulses: 2,
                reason: RejectReason::UnknownCount
            }]
        );
    }
}
