//! Fuzz target: a sequence of edges on a pulse acceptor's COIN line, each with the
//! time since the last, and polls in between. Whatever the timing, the decoder
//! credits no more than the pulses carried: a train of n pulses is at most one coin
//! of the value configured for n, and no pulse counts twice.
#![no_main]

use std::time::{Duration, Instant};

use kiosk::coin::pulse::{PulseConfig, PulseDecoder, PulseEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let config = PulseConfig::default();
    let start = Instant::now();
    let mut now = start;
    let mut decoder = PulseDecoder::new(config.clone(), now);
    let mut level = false;
    let mut rising = 0u32;
    let mut counted = 0u32;
    let mut credited = 0u64;
    let mut note = |event: Option<PulseEvent>| match event {
        Some(PulseEvent::Coin { value, pulses }) => {
            let configured = config.values.iter().find(|(n, _)| *n == pulses);
            assert_eq!(configured.map(|(_, v)| *v), Some(value), "{pulses} pulses");
            counted += pulses;
            credited += value;
        }
        Some(PulseEvent::Rejected { pulses, .. }) => counted += pulses,
        Some(PulseEvent::Noise { .. }) | None => {}
    };
    // Two bytes per step: the time since the last step (0-510 ms, fine below 64 ms),
    // then what happens (bit 0: an edge or a poll).
    for step in data.chunks_exact(2) {
        let gap = if step[0] < 128 {
            u64::from(step[0]) / 2
        } else {
            u64::from(step[0]) * 2
        };
        now += Duration::from_millis(gap);
        if step[1] & 1 == 1 {
            level = !level;
            if level {
                rising += 1;
            }
            for e in decoder.handle_edge(level, now) {
                note(Some(e));
            }
        } else {
            note(decoder.poll(now));
        }
    }
    // Let every train finish.
    now += Duration::from_secs(10);
    if level {
        for e in decoder.handle_edge(false, now) {
            note(Some(e));
        }
    }
    note(decoder.poll(now + Duration::from_secs(10)));
    note(decoder.poll(now + Duration::from_secs(20)));
    assert!(counted <= rising, "{counted} pulses counted from {rising} rising edges");
    let most = config.values.iter().map(|(n, v)| v / u64::from(*n).max(1) + 1).max();
    assert!(credited <= u64::from(rising) * most.unwrap_or(0));
});
