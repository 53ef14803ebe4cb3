//! Fuzz target: any bytes as the body of a 2xx REST reply. Reading them is JSON or an
//! error (never an empty success for bytes that are not JSON), and every record
//! they hold is read by the hotspot model or refused, without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routeros::rest::{body_json, records_of};
use routeros::{ActiveSession, HotspotHost, HotspotUser, SystemResource, UserProfile};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = body_json(data) else {
        return;
    };
    // Only bytes that are UTF-8 JSON (or blank) get this far.
    let text = std::str::from_utf8(data).expect("a body read as JSON is UTF-8");
    assert_eq!(value.is_null(), text.trim().is_empty() || text.trim() == "null");
    let Ok(records) = records_of("fuzz", "/ip/hotspot/user", value) else {
        return;
    };
    for r in &records {
        let _ = HotspotUser::from_record(r);
        let _ = ActiveSession::from_record(r);
        let _ = UserProfile::from_record(r);
        let _ = HotspotHost::from_record(r);
        let _ = SystemResource::from_record(r);
    }
});
