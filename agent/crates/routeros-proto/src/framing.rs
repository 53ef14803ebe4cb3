//! tokio-util codec that puts the pure sentence codec of [`crate::codec`] on a byte
//! stream: decodes reply sentences (skipping empty ones, as RouterOS does) and
//! encodes command sentences.

use bytes::{Buf, BufMut, BytesMut};
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
#[derive(Debug, Clone, Copy, Default)]
pub struct SentenceCodec {
    limits: Limits,
}

impl SentenceCodec {
    /// A codec with the given limits on word size and words per sentence.
    pub fn new(limits: Limits) -> SentenceCodec {
        SentenceCodec { limits }
    }
}

impl Decoder for SentenceCodec {
    type Item = Vec<Vec<u8>>;
    type Error = FramingError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, FramingError> {
        loop {
            let Some((words, used)) = proto::decode_sentence(src, self.limits)? else {
                return Ok(None);
            };
            src.advance(used);
            if !words.is_empty() {
                return Ok(Some(words));
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
