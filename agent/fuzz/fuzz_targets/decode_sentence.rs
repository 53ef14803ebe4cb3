//! Fuzz target: arbitrary bytes from a "router", delivered in arbitrary pieces, into the
//! sentence decoder and reply parser. It must never panic, hang or allocate without
//! bound; every outcome is sentences or an error.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

use routeros_proto::{self as proto, Limits, SentenceCodec};

fuzz_target!(|data: &[u8]| {
    // First byte chooses the read size, as TCP would split the stream.
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split % 64) + 1;
    let limits = Limits {
        max_word: 1 << 16,
        max_words: 256,
        max_sentence: 1 << 18,
    };
    let mut codec = SentenceCodec::new(limits);
    let mut buf = BytesMut::new();
    let mut sentences = 0usize;
    'feed: for piece in bytes.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(words)) => {
                    assert!(!words.is_empty(), "empty sentences are skipped");
                    assert!(words.len() <= limits.max_words);
                    sentences += 1;
                    // Replies parse or fail cleanly; commands too (the simulator's side).
                    if let Ok(reply) = proto::parse_reply(&words) {
                        let mut again = Vec::new();
                        proto::encode_sentence(&reply.to_words(), &mut again);
                    }
                    let _ = proto::Command::parse(&words);
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
    // The same bytes in one piece give at least as many sentences before any error.
    let mut whole = BytesMut::from(bytes);
    let mut codec = SentenceCodec::new(limits);
    let mut count = 0usize;
    while let Ok(Some(_)) = codec.decode(&mut whole) {
        count += 1;
    }
    assert_eq!(count, sentences, "chunking changed what was decoded");
});
