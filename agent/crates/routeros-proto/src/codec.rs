//! The RouterOS binary API codec: length prefixes, words, sentences, reply and
//! command structure, challenge login. Pure functions over bytes; no sockets,
//! no clocks. "Need more bytes" is `Ok(None)`.
//!
//! Wire format (routeros-reference.md §1.2–1.6): a sentence is a run of words,
//! each prefixed by its byte length in a 1–5 byte form, ended by a zero-length
//! word. Replies start with `!re`, `!done`, `!trap`, `!fatal` or `!empty`;
//! `.tag=` may stand anywhere in a reply. The structure of commands and replies
//! is in [`crate::sentence`], re-exported here.

pub(crate) use crate::sentence::Command;

/// Longest word accepted from a peer by default. RouterOS words for hotspot work are
/// far smaller; a hostile or corrupt stream must not make us allocate gigabytes.
pub const DEFAULT_MAX_WORD: usize = 4 << 20;
/// Most words accepted in one sentence by default.
pub const DEFAULT_MAX_WORDS: usize = 65_536;
/// Most bytes (prefixes and words) accepted in one sentence by default: a hotspot
/// record is a few hundred bytes; 65,536 words of 4 MiB each would be 256 GiB.
pub const DEFAULT_MAX_SENTENCE: usize = 16 << 20;

/// Why bytes could not be read as API sentences.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// First length byte `F8`–`FF`: a reserved control byte (DOC-API: the client cannot proceed).
    #[error("reserved control byte 0x{0:02X} where a word length was expected")]
    ControlByte(u8),
    /// A word longer than the configured limit.
    #[error("word of {len} bytes exceeds the limit of {max} bytes")]
    WordTooLong { len: usize, max: usize },
    /// A sentence with more words than the configured limit.
    #[error("sentence has more than {0} words")]
    TooManyWords(usize),
    /// A sentence with more bytes than the configured limit.
    #[error("sentence is longer than {max} bytes")]
    SentenceTooLong { max: usize },
    /// A reply whose first word is not a known reply word.
    #[error("unexpected reply word {0:?} (expected !re, !done, !trap, !fatal or !empty)")]
    UnknownReply(String),
    /// A word that is not allowed in a reply (e.g. a query word).
    #[error("word {0:?} is not allowed in a reply")]
    BadReplyWord(String),
    /// A sentence with no words where a command or reply was expected.
    #[error("empty sentence where a command or reply was expected")]
    EmptySentence,
    /// The challenge in a pre-6.43 login reply is not hex.
    #[error("login challenge {0:?} is not a hex string")]
    BadChallenge(String),
}

/// Appends the length prefix of a word of `len` bytes (all five forms, DOC-API).
pub fn encode_length(len: u32, out: &mut Vec<u8>) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0x3FFF => out.extend_from_slice(&((len | 0x8000) as u16).to_be_bytes()),
        0x4000..=0x1F_FFFF => out.extend_from_slice(&(len | 0xC0_0000).to_be_bytes()[1..]),
        0x20_0000..=0x0FFF_FFFF => out.extend_from_slice(&(len | 0xE000_0000).to_be_bytes()),
        _ => {
            out.push(0xF0);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

/// Reads a length prefix: `Ok(Some((len, prefix_bytes)))`, or `Ok(None)` if `buf`
/// holds only part of it.
pub fn decode_length(buf: &[u8]) -> Result<Option<(u32, usize)>, ProtoError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let size = match first {
        0x00..=0x7F => 1,
        0x80..=0xBF => 2,
        0xC0..=0xDF => 3,
        0xE0..=0xEF => 4,
        0xF0..=0xF7 => 5,
        _ => return Err(ProtoError::ControlByte(first)),
    };
    if buf.len() < size {
        return Ok(None);
    }
    let len = match size {
        1 => first as u32,
        2 => u16::from_be_bytes([buf[0], buf[1]]) as u32 & 0x3FFF,
        3 => u32::from_be_bytes([0, buf[0], buf[1], buf[2]]) & 0x1F_FFFF,
        4 => u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) & 0x0FFF_FFFF,
        _ => u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]),
    };
    Ok(Some((len, size)))
}

/// Appends one word with its length prefix.
pub fn encode_word(word: &[u8], out: &mut Vec<u8>) {
    encode_length(word.len() as u32, out);
    out.extend_from_slice(word);
}

/// Appends a whole sentence, terminated by the empty word.
pub fn encode_sentence<W: AsRef<[u8]>>(words: &[W], out: &mut Vec<u8>) {
    for w in words {
        encode_word(w.as_ref(), out);
    }
    out.push(0);
}

/// Limits applied while decoding bytes from a peer.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest word, in bytes.
    pub max_word: usize,
    /// Most words in a sentence.
    pub max_words: usize,
    /// Most bytes in a sentence, length prefixes included.
    pub max_sentence: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_word: DEFAULT_MAX_WORD,
            max_words: DEFAULT_MAX_WORDS,
            max_sentence: DEFAULT_MAX_SENTENCE,
        }
    }
}

/// Reads one sentence from the front of `buf`: `Ok(Some((words, consumed)))`, or
/// `Ok(None)` if the sentence is not complete yet. An empty sentence (a lone `00`)
/// comes back as zero words; callers ignore it, as RouterOS does.
pub fn decode_sentence(
    buf: &[u8],
    limits: Limits,
) -> Result<Option<(Vec<Vec<u8>>, usize)>, ProtoError> {
    let mut pos = 0;
    let mut words = Vec::new();
    loop {
        let Some((len, prefix)) = decode_length(&buf[pos..])? else {
            return Ok(None);
        };
        let len = len as usize;
        if len > limits.max_word {
            return Err(ProtoError::WordTooLong {
                len,
                max: limits.max_word,
            });
        }
        if pos + prefix + len > limits.max_sentence {
            return Err(ProtoError::SentenceTooLong {
                max: limits.max_sentence,
            });
        }
        pos += prefix;
        if len == 0 {
            return Ok(Some((words, pos)));
        }
        if buf.len() - pos < len {
            return Ok(None);
        }
        if words.len() == limits.max_words {
            return Err(ProtoError::TooManyWords(limits.max_words));
        }
        words.push(buf[pos..pos + len].to_vec());
        pos += len;
    }
}

/// Words are bytes on the wire; RouterOS negotiates no encoding. We read them as
/// UTF-8 and replace what is not (routeros-reference.md §1.2: decode lossily).
pub fn word_text(word: &[u8]) -> String {
    String::from_utf8_lossy(word).into_owned()
}

/// The pre-6.43 login response: `"00" + hex(MD5(0x00 ‖ password ‖ unhex(challenge)))`
/// (routeros-reference.md §2.2).
pub fn challenge_response(password: &str, challenge_hex: &str) -> Result<String, ProtoError> {
    use md5::{Digest, Md5};
    let challenge = hex::decode(challenge_hex)
        .map_err(|_| ProtoError::BadChallenge(challenge_hex.to_string()))?;
    let mut md5 = Md5::new();
    md5.update([0u8]);
    md5.update(password.as_bytes());
    md5.update(&challenge);
    Ok(format!("00{}", hex::encode(md5.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_bytes(text: &str) -> Vec<u8> {
        text.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    fn enc_len(len: u32) -> Vec<u8> {
        let mut out = Vec::new();
        encode_length(len, &mut out);
        out
    }

    /// routeros-reference.md §1.3, every worked example.
    const LENGTHS: &[(u32, &str)] = &[
        (0, "00"),
        (1, "01"),
        (0x39, "39"),
        (127, "7F"),
        (128, "80 80"),
        (0x87, "80 87"),
        (130, "80 82"),
        (256, "81 00"),
        (300, "81 2C"),
        (0x1C42, "9C 42"),
        (0x3FFF, "BF FF"),
        (0x4000, "C0 40 00"),
        (17000, "C0 42 68"),
        (0x4321, "C0 43 21"),
        (0xAD73B, "CA D7 3B"),
        (2097140, "DF FF F4"),
        (0x1FFFFF, "DF FF FF"),
        (0x200000, "E0 20 00 00"),
        (0x2ACDEF, "E0 2A CD EF"),
        (0x5AD736B, "E5 AD 73 6B"),
        (268435440, "EF FF FF F0"),
        (0xFFFFFFF, "EF FF FF FF"),
        (0x10000000, "F0 10 00 00 00"),
        (0x10000080, "F0 10 00 00 80"),
    ];

    #[test]
    fn every_length_vector_encodes_and_decodes() {
        for &(len, bytes) in LENGTHS {
            let expected = hex_bytes(bytes);
            assert_eq!(enc_len(len), expected, "encode {len:#x}");
            assert_eq!(
                decode_length(&expected).unwrap(),
                Some((len, expected.len())),
                "decode {bytes}"
            );
            // Every proper prefix is "need more bytes", never an error or a wrong length.
            for cut in 0..expected.len() {
                assert_eq!(
                    decode_length(&expected[..cut]).unwrap(),
                    None,
                    "prefix {cut} of {bytes}"
                );
            }
        }
    }

    #[test]
    fn control_bytes_f8_to_ff_are_refused() {
        for b in 0xF8..=0xFFu8 {
            assert_eq!(
                decode_length(&[b, 0, 0, 0, 0]),
                Err(ProtoError::ControlByte(b))
            );
        }
    }

    fn sentence(words: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_sentence(words, &mut out);
        out
    }

    #[test]
    fn section_8_sentences_encode_byte_for_byte() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["/login", "=name=admin", "=password="],
                "06 2f 6c 6f 67 69 6e 0b 3d 6e 61 6d 65 3d 61 64 6d 69 6e 0a 3d 70 61 73 73 77 6f 72 64 3d 00",
            ),
            (&["!done"], "05 21 64 6f 6e 65 00"),
            (&["!done", "=ret=*3"], "05 21 64 6f 6e 65 07 3d 72 65 74 3d 2a 33 00"),
            (
                &["!trap", "=message=invalid user name or password (6)"],
                "05 21 74 72 61 70 2a 3d 6d 65 73 73 61 67 65 3d 69 6e 76 61 6c 69 64 20 75 73 65 72 20 6e 61 6d 65 20 6f 72 20 70 61 73 73 77 6f 72 64 20 28 36 29 00",
            ),
            (
                &["/ip/hotspot/user/print", "=.proplist=.id,name", "?name=v1", ".tag=7"],
                "16 2f 69 70 2f 68 6f 74 73 70 6f 74 2f 75 73 65 72 2f 70 72 69 6e 74 13 3d 2e 70 72 6f 70 6c 69 73 74 3d 2e 69 64 2c 6e 61 6d 65 08 3f 6e 61 6d 65 3d 76 31 06 2e 74 61 67 3d 37 00",
            ),
            (&["!empty", ".tag=5"], "06 21 65 6d 70 74 79 06 2e 74 61 67 3d 35 00"),
            (
                &["/cancel", "=tag=2", ".tag=7"],
                "07 2f 63 61 6e 63 65 6c 06 3d 74 61 67 3d 32 06 2e 74 61 67 3d 37 00",
            ),
        ];
        for (words, bytes) in cases {
            let expected = hex_bytes(bytes);
            assert_eq!(sentence(words), expected, "{words:?}");
            let (decoded, used) = decode_sentence(&expected, Limits::default())
                .unwrap()
                .unwrap();
            assert_eq!(used, expected.len());
            let decoded: Vec<String> = decoded.iter().map(|w| word_text(w)).collect();
            assert_eq!(&decoded, words);
        }
    }

    #[test]
    fn a_large_word_with_a_split_length_prefix_decodes() {
        // NODE receiver.spec.js: 45 012-byte word, 3-byte prefix split across reads.
        let big = "lotsofdata!".repeat(4092);
        assert_eq!(big.len(), 45012);
        let bytes = sentence(&["!re", ".tag=foobar", &big]);
        let prefix_at = 1 + 3 + 1 + 10; // `!re` word, `.tag=foobar` word
        for cut in [prefix_at + 1, prefix_at + 2, 10, bytes.len() - 1] {
            assert_eq!(
                decode_sentence(&bytes[..cut], Limits::default()).unwrap(),
                None,
                "cut {cut}"
            );
        }
        let (words, _) = decode_sentence(&bytes, Limits::default()).unwrap().unwrap();
        assert_eq!(words[2].len(), 45012);
    }

    #[test]
    fn oversized_word_is_refused_before_it_arrives() {
        let mut bytes = Vec::new();
        encode_length(0x0FFF_FFFF, &mut bytes);
        let err = decode_sentence(&bytes, Limits::default()).unwrap_err();
        assert!(matches!(
            err,
            ProtoError::WordTooLong {
                len: 0x0FFF_FFFF,
                ..
            }
        ));
    }

    #[test]
    fn lone_zero_is_an_empty_sentence() {
        assert_eq!(
            decode_sentence(&[0], Limits::default()).unwrap(),
            Some((vec![], 1))
        );
    }

    #[test]
    fn non_utf8_bytes_are_decoded_lossily() {
        // LR-TPROTO: word bytes 11 fb 95 + "łąć"
        let mut word = vec![0x11, 0xfb, 0x95];
        word.extend_from_slice("łąć".as_bytes());
        let text = word_text(&word);
        assert!(text.starts_with('\u{11}'));
        assert!(text.ends_with("łąć"));
    }

    #[test]
    fn challenge_responses_match_the_reference_vectors() {
        assert_eq!(
            challenge_response("", "93b438ec9b80057c06dd9fe67d56aa9a").unwrap(),
            "00e134102a9d330dd7b1849fedfea3cb57"
        );
        assert_eq!(
            challenge_response("", "856780b7411eefd3abadee2058c149a3").unwrap(),
            "005062f7a5ef124d34675bf3e81f56c556"
        );
        assert_eq!(
            challenge_response("passTest", "abc123").unwrap(),
            "0021277bff9ac7caf06aa608e46616d47f"
        );
        assert!(matches!(
            challenge_response("x", "Invalid Hex String"),
            Err(ProtoError::BadChallenge(_))
        ));
    }
}
