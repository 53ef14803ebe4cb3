//! Fuzz target: any bytes on any MQTT topic, as the envelope decoder reads them: a
//! message down from the central office (plans, routers, a command, an ack) or one
//! up from a site. Each decodes or is refused; what decodes encodes back to an
//! envelope that decodes to itself; a signature never verifies by accident; plans
//! and routers map onto the configuration without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sync_proto::convert;
use sync_proto::messages::{Down, Up};
use sync_proto::sign;

fuzz_target!(|data: &[u8]| {
    let _ = sync_proto::envelope::peek_schema(data);
    if let Ok(decoded) = sync_proto::decode::<Down>(data) {
        let env = decoded.envelope;
        let again = env.encode();
        let back = sync_proto::decode::<Down>(&again).expect("re-encoded envelope decodes");
        assert_eq!(back.envelope, env);
        let key = sign::parse_public_key(&"11".repeat(32));
        if let Ok(key) = key {
            assert!(sign::verify(decoded.signed_bytes, env.sig.as_deref(), &key).is_err());
        }
        match &env.body {
            Down::Plans(set) => {
                for p in &set.plans {
                    let _ = convert::plan_config(p);
                }
                for p in &set.profiles {
                    let _ = convert::profile_config(p);
                }
            }
            Down::Routers(set) => {
                for r in &set.routers {
                    let _ = convert::router_config(r, None, None);
                }
            }
            Down::Command(_) | Down::Ack(_) | Down::Order(_) | Down::Floor(_) => {}
        }
    }
    if let Ok(decoded) = sync_proto::decode::<Up>(data) {
        let again = decoded.envelope.encode();
        let back = sync_proto::decode::<Up>(&again).expect("re-encoded envelope decodes");
        assert_eq!(back.envelope, decoded.envelope);
    }
});
