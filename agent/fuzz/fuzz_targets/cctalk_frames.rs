//! Fuzz target: serial bytes from a "coin acceptor", delivered in pieces, into the
//! ccTalk frame decoder. It never panics or stalls; every frame it returns encodes
//! back to the bytes of a frame that decodes to itself.
#![no_main]

use bytes::BytesMut;
use kiosk::coin::cctalk::Decoder;
use kiosk::coin::cctalk_credit::BufferedCredit;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split % 16) + 1;
    let decoder = Decoder::default();
    let mut buf = BytesMut::new();
    for piece in bytes.chunks(chunk) {
        buf.extend_from_slice(piece);
        let before = buf.len();
        while let Some(frame) = decoder.decode(&mut buf) {
            assert!(frame.data.len() <= usize::from(decoder.max_data));
            let encoded = frame.encode().expect("a decoded frame encodes");
            let mut again = BytesMut::from(&encoded[..]);
            assert_eq!(decoder.decode(&mut again), Some(frame.clone()));
            assert!(again.is_empty());
            let _ = BufferedCredit::parse(&frame);
        }
        assert!(buf.len() <= before, "the decoder never adds bytes");
    }
});
