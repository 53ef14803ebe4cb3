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
    /// The event counter of each of `events` (1..=255), to store with its credit.
    pub counters: Vec<u8>,
    /// Events that fell out of the 5-event buffer before we read them.
    pub lost: u32,
    /// The acceptor was reset (counter 0): re-send inhibits and master enable.
    pub reset: bool,
    /// The counter moved in a way no acceptor counts: nothing was credited and
    /// the tracker now follows the new value.
    pub fault: Option<CounterFault>,
}

/// An event counter the tracker refuses to count from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CounterFault {
    /// The counter went back (11 to 10 would otherwise read as 254 new events).
    #[error("coin acceptor event counter stepped back from {from} to {to}: nothing credited; check for a second device at the acceptor's address or line noise")]
    SteppedBack { from: u8, to: u8 },
    /// More new events in one poll than the 5-event buffer holds.
    #[error("coin acceptor event counter jumped from {from} to {to} between two polls: nothing credited, coins may be lost; check the cable and [kiosk.coin] poll_interval")]
    Jumped { from: u8, to: u8 },
}

/// The counter `steps` events before `counter`, in the acceptor's 1..=255 space.
fn counter_before(counter: u8, steps: usize) -> u8 {
    let c = i64::from(counter) - 1 - steps as i64;
    (c.rem_euclid(255) + 1) as u8
}

/// Follows the 229 event counter across polls.
#[derive(Debug, Clone, Default)]
pub struct EventTracker {
    last: Option<u8>,
    /// The next reply is the first after a restart, compared with `last` from the store.
    resumed: bool,
}

impl EventTracker {
    /// A tracker with no history: its first reply is only the baseline.
    pub fn new() -> EventTracker {
        EventTracker::default()
    }

    /// A tracker that resumes from the counter stored with the last credit before a
    /// restart: events the acceptor buffered while the agent was down are new.
    pub fn resume(stored: u8) -> EventTracker {
        EventTracker {
            last: Some(stored),
            resumed: true,
        }
    }

    /// The counter last seen.
    pub fn last(&self) -> Option<u8> {
        self.last
    }

    /// Compares a reply with the previous one.
    ///
    /// Without history the first reply only sets the baseline: events already in
    /// the buffer were read by whoever ran before. Between two polls at most the
    /// five buffered events can be new; a step back or a larger jump is a
    /// [`CounterFault`] and credits nothing. After [`EventTracker::resume`], the
    /// agent was down for a while: a gap over five credits the five buffered
    /// events and counts the rest as lost.
    pub fn update(&mut self, reply: &BufferedCredit) -> NewEvents {
        let previous = self.last.replace(reply.counter);
        let resumed = std::mem::take(&mut self.resumed);
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
            usize::from(reply.counter)
        } else {
            (usize::from(reply.counter) + 255 - usize::from(prev)) % 255
        };
        // A step back of k reads as 255 - k new events.
        let stepped_back = prev != 0 && new >= 250;
        if new > 5 && (!resumed || stepped_back) {
            let (from, to) = (prev, reply.counter);
            out.fault = Some(if stepped_back {
                CounterFault::SteppedBack { from, to }
            } else {
                CounterFault::Jumped { from, to }
            });
            return out;
        }
        let kept = new.min(5);
        out.lost = (new - kept) as u32;
        for (age, event) in reply.events[..kept].iter().enumerate().rev() {
            if let Some(e) = event {
                out.events.push(*e);
                out.counters.push(counter_before(reply.counter, age));
            }
        }
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
    fn after_a_restart_more_than_five_new_events_credits_five_and_counts_the_lost_ones() {
        let mut t = EventTracker::resume(10);
        let n = t.update(&bc(17, &[(1, 1), (1, 1), (1, 1), (1, 1), (1, 1)]));
        assert_eq!((n.events.len(), n.lost, n.fault), (5, 2, None));
        assert_eq!(n.counters, vec![13, 14, 15, 16, 17]);
    }

    #[test]
    fn after_a_restart_the_events_since_the_stored_counter_are_new() {
        let mut t = EventTracker::resume(253);
        // 253 -> 254 -> 255 -> 1: three coins while the agent was down.
        let n = t.update(&bc(1, &[(3, 1), (2, 1), (1, 1), (1, 1)]));
        assert_eq!(n.events.len(), 3);
        assert_eq!(n.counters, vec![254, 255, 1], "the wrap skips 0");
        assert_eq!(
            n.events[0],
            CreditEvent::Credit {
                channel: 1,
                sorter: 1
            }
        );
        assert_eq!(t.update(&bc(1, &[(3, 1)])), NewEvents::default());
    }

    #[test]
    fn after_a_restart_an_unchanged_counter_credits_nothing() {
        let mut t = EventTracker::resume(40);
        assert_eq!(t.update(&bc(40, &[(1, 1)])), NewEvents::default());
    }

    #[test]
    fn after_a_restart_a_reset_acceptor_is_told_apart() {
        let mut t = EventTracker::resume(40);
        let n = t.update(&bc(0, &[]));
        assert!(n.reset && n.events.is_empty());
    }

    #[test]
    fn a_counter_stepping_back_is_a_fault_and_credits_nothing() {
        let mut t = EventTracker::new();
        t.update(&bc(11, &[(1, 1)]));
        let n = t.update(&bc(10, &[(1, 1), (1, 1), (1, 1), (1, 1), (1, 1)]));
        assert_eq!(
            n.fault,
            Some(CounterFault::SteppedBack { from: 11, to: 10 })
        );
        assert!(n.events.is_empty());
        // Re-baselined: the next coin counts from 10.
        assert_eq!(t.update(&bc(11, &[(2, 1)])).events.len(), 1);
        let mut t = EventTracker::resume(11);
        assert!(
            t.update(&bc(10, &[(1, 1)])).fault.is_some(),
            "also right after a restart"
        );
    }

    #[test]
    fn a_jump_of_more_than_five_between_polls_is_a_fault_and_credits_nothing() {
        let mut t = EventTracker::new();
        t.update(&bc(10, &[]));
        let n = t.update(&bc(17, &[(1, 1), (1, 1), (1, 1), (1, 1), (1, 1)]));
        assert_eq!(n.fault, Some(CounterFault::Jumped { from: 10, to: 17 }));
        assert!(n.events.is_empty() && n.lost == 0);
        assert_eq!(t.update(&bc(18, &[(2, 1)])).events.len(), 1);
    }

    #[test]
    fn an_unchanged_counter_means_nothing_new() {
        let mut t = EventTracker::new();
        t.update(&bc(5, &[(1, 1)]));
        assert_eq!(t.update(&bc(5, &[(1, 1)])), NewEvents::default());
    }
}
