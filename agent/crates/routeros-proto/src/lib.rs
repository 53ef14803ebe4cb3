//! The RouterOS binary API with no I/O: the word and sentence codec (all five
//! length forms, routeros-reference.md §1), the structure of commands and replies,
//! the tokio-util framing that puts them on a byte stream, the pre-6.43 challenge
//! login, and the forms the router prints values in (durations, counts, booleans,
//! versions). No sockets, no files, no clocks: "need more bytes" is `Ok(None)`.
//!
//! The client (`routeros`), the simulated router (`routeros-sim`) and the fuzz
//! target all build on this crate; nothing here knows about hotspots or vouchers.
#![warn(unreachable_pub)]

mod codec;
mod framing;
mod sentence;
mod value;
mod version;
mod word;

pub use codec::{
    challenge_response, decode_length, decode_sentence, encode_length, encode_sentence,
    encode_word, word_text, Limits, ProtoError, DEFAULT_MAX_SENTENCE, DEFAULT_MAX_WORD,
    DEFAULT_MAX_WORDS,
};
pub use framing::{FramingError, SentenceCodec};
pub use sentence::{parse_reply, Command, Reply, ReplyKind};
pub use value::{
    format_duration, parse_bool, parse_count, parse_duration, read_duration, DurationError, Record,
    ValueError,
};
pub use version::RouterVersion;
pub use word::Word;
