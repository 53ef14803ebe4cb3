//! A value as RouterOS keeps it: bytes. The router negotiates no encoding and
//! stores whatever a client sent (WinBox on a Windows PC writes names in the PC's
//! code page, so `René` arrives as `Ren\xe9`). A [`Word`] keeps those bytes
//! exactly, so what the router sent can be sent back and still match; it is shown
//! lossily (U+FFFD for bytes that are not UTF-8) and only ever for people.

use std::borrow::{Borrow, Cow};
use std::fmt;

/// The bytes of one attribute value or query word, exactly as sent or received.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Word(Vec<u8>);

impl Word {
    /// The empty word, usable in a `static`.
    pub const EMPTY: Word = Word(Vec::new());

    /// A word holding these bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Word {
        Word(bytes.into())
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The text, when the bytes are UTF-8; `None` otherwise.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The text for a person: bytes that are not UTF-8 become U+FFFD.
    pub fn lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// No bytes at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the bytes start with `prefix`.
    pub fn starts_with(&self, prefix: impl AsRef<[u8]>) -> bool {
        self.0.starts_with(prefix.as_ref())
    }

    /// `(before, after)` the first `sep`, or `None` without one.
    pub fn split_once(&self, sep: u8) -> Option<(&[u8], &[u8])> {
        let at = self.0.iter().position(|b| *b == sep)?;
        Some((&self.0[..at], &self.0[at + 1..]))
    }
}

impl fmt::Display for Word {
    /// The lossy text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lossy())
    }
}

impl fmt::Debug for Word {
    /// Quoted text with bytes that are not UTF-8 as `\xNN`, so a log shows what arrived.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                write!(f, "{}", c.escape_debug())?;
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_str("\"")
    }
}

impl From<&str> for Word {
    fn from(s: &str) -> Word {
        Word(s.as_bytes().to_vec())
    }
}

impl From<String> for Word {
    fn from(s: String) -> Word {
        Word(s.into_bytes())
    }
}

impl From<&String> for Word {
    fn from(s: &String) -> Word {
        Word(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for Word {
    fn from(b: Vec<u8>) -> Word {
        Word(b)
    }
}

impl From<&[u8]> for Word {
    fn from(b: &[u8]) -> Word {
        Word(b.to_vec())
    }
}

impl From<&Word> for Word {
    fn from(w: &Word) -> Word {
        w.clone()
    }
}

impl AsRef<[u8]> for Word {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<[u8]> for Word {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<str> for Word {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Word {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<String> for Word {
    fn eq(&self, other: &String) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<[u8]> for Word {
    fn eq(&self, other: &[u8]) -> bool {
        self.0 == other
    }
}

impl PartialEq<Word> for str {
    fn eq(&self, other: &Word) -> bool {
        self.as_bytes() == other.0
    }
}

impl PartialEq<Word> for &str {
    fn eq(&self, other: &Word) -> bool {
        self.as_bytes() == other.0
    }
}

impl PartialEq<Word> for String {
    fn eq(&self, other: &Word) -> bool {
        self.as_bytes() == other.0
    }
}

impl serde::Serialize for Word {
    /// As the lossy text: JSON output is for people and other programs that want UTF-8.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.lossy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_utf8_are_kept_and_shown_lossily() {
        let w = Word::new(b"Ren\xe9".to_vec());
        assert_eq!(w.as_bytes(), b"Ren\xe9");
        assert_eq!(w.text(), None);
        assert_eq!(w.to_string(), "Ren\u{FFFD}");
        assert_eq!(format!("{w:?}"), "\"Ren\\xe9\"");
        assert_ne!(w, Word::new(b"Ren\xe8".to_vec()));
        assert_ne!(w, Word::from("René"));
    }

    #[test]
    fn utf8_words_compare_with_text() {
        let w = Word::from("René");
        assert_eq!(w.text(), Some("René"));
        assert!(w == "René");
        assert_eq!(format!("{w:?}"), "\"René\"");
        assert_eq!(w.split_once(b'n'), Some((&b"Re"[..], "é".as_bytes())));
    }
}
