//! ccTalk header 229 "read buffered credit or error codes": the reply and the
//! event-counter tracker that turns successive replies into new coins, lost
//! events and resets. Spec facts are listed in [`super::cctalk`].

use super::cctalk::{check_reply, header, CctalkError, Frame};

/// One entry of the 229 event buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditEvent {
    /// A coin in position `channel` went to `sorter`.
    Credit { channel: u8, sorter: u8 },
    /// An error event (coin rejected, fraud attempt, jam...); code from the spec's table.
    Error { code: u8 },
}

/// A decoded 229 reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferedCredit {
    /// Event counter (0 = just reset).
    pub counter: u8,
    /// Five events, most recent first; `None` for a null event (0, 0).
    pub events: [Option<CreditEvent>; 5],
}

impl BufferedCredit {
    /// Reads the data of a 229 reply.
    pub fn parse(reply: &Frame) -> Result<BufferedCredit, CctalkError> {
        check_reply(reply, header::READ_BUFFERED_CREDIT)?;
        if reply.data.len() != 11 {
            return Err(CctalkError::BadReply {
                header: header::READ_BUFFERED_CREDIT,
                got: reply.data.len(),
                expected: 11,
            });
        }
        let mut events = [None; 5];
        for (i, e) in events.iter_mut().enumerate() {
            let (a, b) = (reply.data[1 + 2 * i], reply.data[2 + 2 * i]);
            *e = match (a, b) {
                (0, 0) => None,
                (0, code) => Some(CreditEvent::Error { code }),
                (channel, sorter) => Some(CreditEvent::Credit { channel, sorter }),
            };
        }
        Ok(BufferedCredit {
            counter: reply.data[0],
            events,
        })
    }

    /// The data bytes of this reply (for simulators).
    pub fn to_data(&self) -> Vec<u8> {
        let mut out = vec![self.counter];
        for e in &self.events {
            out.extend_from_slice(&match e {
                None => [0, 0],
                Some(CreditEvent::Credit { channel, sorter }) => [*channel, *sorter],
                Some(CreditEvent::Error { code }) => [0, *code],
            });
        }
        out
    }
}

/// What changed since the previous 229 reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewEvents {
    /// New events, oldest first.
    pub events: Vec<CreditEvent>,
    /// Events that fell out of the 5-event buffer before we read them.
    pub lost: u32,
    /// The acceptor was reset (counter 0): re-send inhibits and master enable.
    pub reset: bool,
}

/// Follows the 229 event counter across polls.
#[derive(Debug, Clone, Default)]
pub struct EventTracker {
    last: Option<u8>,
}

impl EventTracker {
    /// A tracker that has not seen a reply yet.
    pub fn new() -> EventTracker {
        EventTracker { last: None }
    }

    /// The counter last seen.
    pub fn last(&self) -> Option<u8> {
        self.last
    }

    /// Compares a reply with the previous one.
    ///
    /// The first reply only sets the baseline: events already in the buffer were
    /// read by whoever ran before (crediting them again would pay twice).
    pub fn update(&mut self, reply: &BufferedCredit) -> NewEvents {
        let previous = self.last.replace(reply.counter);
        let mut out = NewEvents::default();
        if reply.counter == 0 {
            // 0 only after power-up or reset; report it once per reset. A 0 on the
            // first read is the power-up the host is configuring anyway.
            out.reset = previous.is_some_and(|p| p != 0);
            return out;
        }
        let Some(prev) = previous else {
            return out;
        };
        // Counter space is 1..=255; from 0 (fresh reset) the first event is 1.
        let new = if prev == 0 {
            u32::from(reply.counter)
        } else {
            (u32::from(reply.counter) + 255 - u32::from(prev)) % 255
        };
        let kept = new.min(5) as usize;
        out.lost = new - kept as u32;
        out.events = reply.events[..kept]
            .iter()
            .rev()
            .filter_map(|e| *e)
            .collect();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffered_credit_reads_credits_and_errors() {
        // counter 7; event 1: coin 3 to sorter 1; event 2: error 1 (reject coin); rest null.
        let frame = Frame {
            dest: 1,
            src: 2,
            header: 0,
            data: vec![7, 3, 1, 0, 1, 0, 0, 0, 0, 0, 0],
        };
        let bc = BufferedCredit::parse(&frame).unwrap();
        assert_eq!(bc.counter, 7);
        assert_eq!(
            bc.events[0],
            Some(CreditEvent::Credit {
                channel: 3,
                sorter: 1
            })
        );
        assert_eq!(bc.events[1], Some(CreditEvent::Error { code: 1 }));
        assert_eq!(bc.events[2], None);
        assert_eq!(bc.to_data(), frame.data);
    }

    #[test]
    fn a_short_229_reply_is_an_error() {
        let frame = Frame {
            dest: 1,
            src: 2,
            header: 0,
            data: vec![7, 3],
        };
        assert!(matches!(
            BufferedCredit::parse(&frame),
            Err(CctalkError::BadReply { got: 2, .. })
        ));
    }

    fn bc(counter: u8, events: &[(u8, u8)]) -> BufferedCredit {
        let mut out = BufferedCredit {
            counter,
            events: [None; 5],
        };
        for (i, (a, b)) in events.iter().enumerate() {
            out.events[i] = Some(if *a == 0 {
                CreditEvent::Error { code: *b }
            } else {
                CreditEvent::Credit {
                    channel: *a,
                    sorter: *b,
                }
            });
        }
        out
    }

    #[test]
    fn the_first_reply_sets_the_baseline_only() {
        let mut t = EventTracker::new();
        assert_eq!(t.update(&bc(9, &[(1, 1)])), NewEvents::default());
        let n = t.update(&bc(11, &[(3, 1), (2, 1), (1, 1)]));
        assert_eq!(
            n.events,
            vec![
                CreditEvent::Credit {
                    channel: 2,
                    sorter: 1
                },
                CreditEvent::Credit {
                    channel: 3,
                    sorter: 1
                }
            ],
            "oldest first"
        );
    }

    #[test]
    fn the_counter_wraps_from_255_to_1() {
        let mut t = EventTracker::new();
        t.update(&bc(254, &[]));
        let n = t.update(&bc(1, &[(3, 1), (2, 1), (1, 1)]));
        // 254 -> 255 -> 1: two new events.
        assert_eq!(n.events.len(), 2);
        assert_eq!(
            n.events[1],
            CreditEvent::Credit {
                channel: 3,
                sorter: 1
            }
        );
        assert!(!n.reset);
    }

    #[test]
    fn a_zero_counter_is_a_reset_reported_once() {
        let mut t = EventTracker::new();
        t.update(&bc(40, &[]));
        let n = t.update(&bc(0, &[]));
        assert!(n.reset && n.events.is_empty());
        assert!(!t.update(&bc(0, &[])).reset, "still 0: same reset");
        let n = t.update(&bc(1, &[(2, 1)]));
        assert_eq!(
            n.events,
            vec![CreditEvent::Credit {
                channel: 2,
                sorter: 1
            }]
        );
    }

    #[test]
    fn a_zero_counter_on_the_first_read_is_not_a_reset() {
        let mut t = EventTracker::new();
        assert!(!t.update(&bc(0, &[])).reset);
        assert_eq!(t.update(&bc(1, &[(2, 1)])).events.len(), 1);
    }

    #[test]
    fn more_than_five_new_events_counts_the_lost_ones() {
        let mut t = EventTracker::new();
        t.update(&bc(10, &[]));
        let n = t.update(&bc(17, &[(1, 1), (1, 1), (1, 1), (1, 1), (1, 1)]));
        assert_eq!((n.events.len(), n.lost), (5, 2));
    }

    #[test]
    fn an_unchanged_counter_means_nothing_new() {
        let mut t = EventTracker::new();
        t.update(&bc(5, &[(1, 1)]));
        assert_eq!(t.update(&bc(5, &[(1, 1)])), NewEvents::default());
    }
}
