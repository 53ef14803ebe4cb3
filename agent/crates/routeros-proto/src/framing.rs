//! tokio-util codec that puts the pure sentence codec of [`crate::codec`] on a byte
//! stream: decodes reply sentences (skipping empty ones, as RouterOS does) and
//! encodes command sentences.

use bytes::{BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::codec::{self as proto, Limits, ProtoError};

/// Why the byte stream could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    /// The bytes are not RouterOS API sentences.
    #[error(transparent)]
    Proto(#[from] ProtoError),
    /// The transport failed.
    #[error("transport error: {0}")]
    Io(#[from] std::io::Error),
}

/// Sentences as lists of raw words. Empty sentences (a lone `00`) are skipped.
///
/// The decoder keeps its place: the words of a sentence that has not fully arrived
/// are checked once, and each read looks only at the bytes after them, so a
/// sentence that trickles in costs time in proportion to its length.
#[derive(Debug, Clone, Default)]
pub struct SentenceCodec {
    limits: Limits,
    /// Bytes at the front of the buffer that are whole words of the sentence under way.
    scanned: usize,
    /// Where those words lie in the buffer: (start, length).
    words: Vec<(usize, usize)>,
}

impl SentenceCodec {
    /// A codec with the given limits on word size, words and bytes per sentence.
    pub fn new(limits: Limits) -> SentenceCodec {
        SentenceCodec {
            limits,
            ..SentenceCodec::default()
        }
    }

    /// The next whole sentence at the front of `src`, its bytes removed; `None` until
    /// it has all arrived.
    fn next_sentence(&mut self, src: &mut BytesMut) -> Result<Option<Vec<Vec<u8>>>, ProtoError> {
        loop {
            let Some((len, prefix)) = proto::decode_length(&src[self.scanned..])? else {
                return Ok(None);
            };
            let len = len as usize;
            if len > self.limits.max_word {
                return Err(ProtoError::WordTooLong {
                    len,
                    max: self.limits.max_word,
                });
            }
            let end = self.scanned + prefix + len;
            if end > self.limits.max_sentence {
                return Err(ProtoError::SentenceTooLong {
                    max: self.limits.max_sentence,
                });
            }
            if len == 0 {
                let bytes = src.split_to(end);
                self.scanned = 0;
                let words = self.words.drain(..);
                return Ok(Some(
                    words.map(|(at, n)| bytes[at..at + n].to_vec()).collect(),
                ));
            }
            if src.len() < end {
                src.reserve(end - src.len());
                return Ok(None);
            }
            if self.words.len() == self.limits.max_words {
                return Err(ProtoError::TooManyWords(self.limits.max_words));
            }
            self.words.push((self.scanned + prefix, len));
            self.scanned = end;
        }
    }
}

impl Decoder for SentenceCodec {
    type Item = Vec<Vec<u8>>;
    type Error = FramingError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, FramingError> {
        loop {
            match self.next_sentence(src)? {
                None => return Ok(None),
                Some(words) if words.is_empty() => continue,
                Some(words) => return Ok(Some(words)),
            }
        }
    }
}

impl Encoder<&proto::Command> for SentenceCodec {
    type Error = FramingError;

    fn encode(&mut self, cmd: &proto::Command, dst: &mut BytesMut) -> Result<(), FramingError> {
        let mut out = Vec::new();
        cmd.encode(&mut out);
        dst.put_slice(&out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Command;

    #[test]
    fn empty_sentences_are_skipped_and_fragments_wait_for_more() {
        let mut codec = SentenceCodec::default();
        // 00            empty sentence (ignored)
        // 05 "!done" 00 one sentence, delivered in two pieces
        let mut buf = BytesMut::from(&[0x00, 0x05, b'!', b'd'][..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"one\x00");
        let words = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(words, vec![b"!done".to_vec()]);
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_words_and_control_bytes_are_errors() {
        let mut codec = SentenceCodec::new(Limits {
            max_word: 16,
            max_words: 4,
            ..Limits::default()
        });
        // 11 = a 17-byte word, one over the limit: refused before the bytes arrive.
        let mut buf = BytesMut::from(&[0x11][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FramingError::Proto(ProtoError::WordTooLong {
                len: 17,
                max: 16
            }))
        ));
        let mut buf = BytesMut::from(&[0xF8][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FramingError::Proto(ProtoError::ControlByte(0xF8)))
        ));
        // Five one-byte words: more than four words in a sentence.
        let mut buf = BytesMut::from(&[1, b'a', 1, b'b', 1, b'c', 1, b'd', 1, b'e', 0][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FramingError::Proto(ProtoError::TooManyWords(4)))
        ));
    }

    #[test]
    fn a_sentence_over_the_byte_budget_is_refused_before_it_arrives() {
        let mut codec = SentenceCodec::new(Limits {
            max_word: 100,
            max_words: 100,
            max_sentence: 250,
        });
        // Three 100-byte words: each within the word limit, together over 250 bytes.
        // The third word's prefix is enough to refuse; its bytes never need to arrive.
        let mut buf = BytesMut::new();
        for _ in 0..2 {
            buf.extend_from_slice(&[100]);
            buf.extend_from_slice(&[b'a'; 100]);
        }
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&[100]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FramingError::Proto(ProtoError::SentenceTooLong {
                max: 250
            }))
        ));
    }

    #[test]
    fn a_sentence_trickling_in_byte_by_byte_is_decoded_in_linear_time() {
        // 20,000 one-byte words, one byte per read. Re-reading the sentence from its
        // start on every read, as a decoder without a position does, is 10^8 word copies.
        let words: Vec<Vec<u8>> = (0..20_000).map(|i| vec![b'a' + (i % 26) as u8]).collect();
        let mut bytes = Vec::new();
        crate::codec::encode_sentence(&words, &mut bytes);
        let mut codec = SentenceCodec::default();
        let mut buf = BytesMut::new();
        let started = std::time::Instant::now();
        let mut got = None;
        for b in bytes {
            buf.extend_from_slice(&[b]);
            if let Some(sentence) = codec.decode(&mut buf).unwrap() {
                got = Some(sentence);
            }
        }
        let elapsed = started.elapsed();
        assert_eq!(got, Some(words));
        assert!(buf.is_empty());
        assert!(
            elapsed < std::time::Duration::from_secs(2),
            "took {elapsed:?}"
        );
    }

    #[test]
    fn commands_encode_like_proto() {
        let cmd = Command::new("/cancel").attr("tag", "2").tagged("7");
        let mut dst = BytesMut::new();
        SentenceCodec::default().encode(&cmd, &mut dst).unwrap();
        // routeros-reference.md §8: /cancel =tag=2 .tag=7
        assert_eq!(
            &dst[..],
            &[
                0x07, b'/', b'c', b'a', b'n', b'c', b'e', b'l', 0x06, b'=', b't', b'a', b'g', b'=',
                b'2', 0x06, b'.', b't', b'a', b'g', b'=', b'7', 0x00
            ][..]
        );
    }
}

#[cfg(test)]
mod prop {
    use proptest::prelude::*;

    use super::*;

    /// Decodes `bytes` delivered in pieces of `chunk` bytes; stops at the first error.
    fn decode_in_chunks(bytes: &[u8], chunk: usize) -> (Vec<Vec<Vec<u8>>>, Option<String>) {
        let mut codec = SentenceCodec::new(Limits {
            max_word: 300,
            max_words: 16,
            max_sentence: 2_000,
        });
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in bytes.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(words)) => out.push(words),
                    Ok(None) => break,
                    Err(e) => return (out, Some(e.to_string())),
                }
            }
        }
        (out, None)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes_never_panic_and_chunking_does_not_change_the_outcome(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            chunk in 1usize..40,
        ) {
            let whole = decode_in_chunks(&bytes, bytes.len().max(1));
            let pieces = decode_in_chunks(&bytes, chunk);
            prop_assert_eq!(&whole, &pieces);
            for words in &whole.0 {
                prop_assert!(!words.is_empty(), "empty sentences are skipped");
                prop_assert!(words.len() <= 16);
                prop_assert!(words.iter().all(|w| !w.is_empty() && w.len() <= 300));
            }
        }

        #[test]
        fn encoded_sentences_come_back_whatever_the_chunking(
            sentences in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..200), 1..6),
                1..5,
            ),
            chunk in 1usize..50,
        ) {
            let mut bytes = Vec::new();
            for s in &sentences {
                crate::codec::encode_sentence(s, &mut bytes);
            }
            let (decoded, err) = decode_in_chunks(&bytes, chunk);
            prop_assert_eq!(err, None);
            prop_assert_eq!(decoded, sentences);
        }
    }
}
