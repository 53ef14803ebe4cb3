//! Fuzz target: a sequence of header-229 replies (11 data bytes each: the event
//! counter and five events) into the event tracker, as successive polls see them.
//! A poll never yields more than the five events the buffer holds, nor more events
//! than the counter says happened.
#![no_main]

use kiosk::coin::cctalk::Frame;
use kiosk::coin::cctalk_credit::{BufferedCredit, EventTracker};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut tracker = EventTracker::new();
    for poll in data.chunks_exact(11) {
        // The reply as the acceptor (address 2) sends it to the host (address 1).
        let reply = Frame {
            dest: 1,
            src: 2,
            header: 0,
            data: poll.to_vec(),
        };
        let Ok(credit) = BufferedCredit::parse(&reply) else {
            continue;
        };
        let previous = tracker.last();
        let new = tracker.update(&credit);
        assert!(new.events.len() <= 5, "{new:?}");
        if let Some(prev) = previous {
            // Counter space is 1..=255: at most 254 events between two polls.
            let forward = (u32::from(credit.counter) + 255 - u32::from(prev.max(1))) % 255;
            assert!(new.events.len() as u32 <= forward.max(u32::from(credit.counter)), "{new:?}");
        } else {
            assert!(new.events.is_empty(), "the first poll is a baseline: {new:?}");
        }
    }
});
