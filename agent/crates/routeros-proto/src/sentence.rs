//! The structure of API sentences: a command (path, attributes, queries, tag) and a
//! reply (kind, tag anywhere, attributes, the bare reason of `!fatal`). Pure; the
//! bytes are [`crate::codec`]'s. Attribute values and query words are [`Word`]s,
//! bytes as the router keeps them; paths, names of properties and tags are ASCII in
//! every RouterOS menu, so they are read as text.

use std::fmt;

use crate::codec::{encode_sentence, word_text, ProtoError};
use crate::word::Word;

/// The kind of a reply sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// `!re`: one data item.
    Re,
    /// `!done`: the last reply of a command; may carry `=ret=`.
    Done,
    /// `!trap`: an error; always followed by `!done`, possibly after more traps.
    Trap,
    /// `!fatal`: the router closes the connection; the reason is a bare word.
    Fatal,
    /// `!empty`: the command had nothing to reply (RouterOS 7.18+); `!done` follows.
    Empty,
}

impl ReplyKind {
    /// The reply word, e.g. `!done`.
    pub fn word(&self) -> &'static str {
        match self {
            ReplyKind::Re => "!re",
            ReplyKind::Done => "!done",
            ReplyKind::Trap => "!trap",
            ReplyKind::Fatal => "!fatal",
            ReplyKind::Empty => "!empty",
        }
    }
}

/// One reply sentence, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// What kind of reply.
    pub kind: ReplyKind,
    /// The command's tag, wherever `.tag=` stood in the sentence.
    pub tag: Option<String>,
    /// Attribute words `=name=value`, in order.
    pub attrs: Vec<(String, Word)>,
    /// For `!fatal`: the bare reason word (`session terminated on request`).
    pub reason: Option<String>,
}

impl Reply {
    /// A reply with no attributes.
    pub fn new(kind: ReplyKind) -> Reply {
        Reply {
            kind,
            tag: None,
            attrs: Vec::new(),
            reason: None,
        }
    }

    /// The value of an attribute.
    pub fn get(&self, key: &str) -> Option<&Word> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of an attribute as text for a person (lossy).
    pub fn text(&self, key: &str) -> Option<String> {
        self.get(key).map(|v| v.lossy().into_owned())
    }

    /// The words of this reply as text for a person (lossy), e.g. in a test's message.
    pub fn text_words(&self) -> Vec<String> {
        self.to_words().iter().map(|w| word_text(w)).collect()
    }

    /// The words of this reply, for encoding (the tag goes last, as RouterOS does).
    pub fn to_words(&self) -> Vec<Vec<u8>> {
        let mut words = vec![self.kind.word().as_bytes().to_vec()];
        if let Some(reason) = &self.reason {
            words.push(reason.as_bytes().to_vec());
        }
        for (k, v) in &self.attrs {
            words.push(attr_word(b'=', k, v));
        }
        if let Some(tag) = &self.tag {
            words.push(format!(".tag={tag}").into_bytes());
        }
        words
    }
}

/// `<lead>key=value` as bytes.
fn attr_word(lead: u8, key: &str, value: &Word) -> Vec<u8> {
    let mut w = Vec::with_capacity(2 + key.len() + value.len());
    w.push(lead);
    w.extend_from_slice(key.as_bytes());
    w.push(b'=');
    w.extend_from_slice(value.as_bytes());
    w
}

/// Splits an attribute word body `name=value` on the first `=`; a word with no
/// `=` is a key with an empty value (GO `proto/sentence_test.go`). The value keeps
/// its bytes.
fn split_attr(body: &[u8]) -> (String, Word) {
    match body.iter().position(|b| *b == b'=') {
        Some(at) => (word_text(&body[..at]), Word::new(&body[at + 1..])),
        None => (word_text(body), Word::default()),
    }
}

/// Parses a reply sentence. An empty sentence is an error here: callers skip those first.
pub fn parse_reply(words: &[Vec<u8>]) -> Result<Reply, ProtoError> {
    let Some(first) = words.first() else {
        return Err(ProtoError::EmptySentence);
    };
    let kind = match first.as_slice() {
        b"!re" => ReplyKind::Re,
        b"!done" => ReplyKind::Done,
        b"!trap" => ReplyKind::Trap,
        b"!fatal" => ReplyKind::Fatal,
        b"!empty" => ReplyKind::Empty,
        other => return Err(ProtoError::UnknownReply(word_text(other))),
    };
    let mut reply = Reply::new(kind);
    for raw in &words[1..] {
        if let Some(tag) = raw.strip_prefix(b".tag=") {
            reply.tag = Some(word_text(tag));
        } else if let Some(body) = raw.strip_prefix(b"=") {
            reply.attrs.push(split_attr(body));
        } else if kind == ReplyKind::Fatal && reply.reason.is_none() {
            reply.reason = Some(word_text(raw));
        } else {
            return Err(ProtoError::BadReplyWord(word_text(raw)));
        }
    }
    Ok(reply)
}

/// A command sentence: path, attributes, query words and an optional tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    /// The command word, e.g. `/ip/hotspot/user/add` or `/login`.
    pub path: String,
    /// Attribute words `=name=value` (including `.id` and `.proplist`), in order.
    pub attrs: Vec<(String, Word)>,
    /// Query words without the leading `?`, in order (order is significant).
    pub queries: Vec<Word>,
    /// `.tag=` value.
    pub tag: Option<String>,
}

impl Command {
    /// A command with no arguments.
    pub fn new(path: impl Into<String>) -> Command {
        Command {
            path: path.into(),
            ..Command::default()
        }
    }

    /// Adds `=name=value`.
    pub fn attr(mut self, name: impl Into<String>, value: impl Into<Word>) -> Command {
        self.attrs.push((name.into(), value.into()));
        self
    }

    /// Adds a query word; pass it without the `?` (`name=v1`, `#|`, `-disabled`).
    pub fn query(mut self, q: impl Into<Word>) -> Command {
        self.queries.push(q.into());
        self
    }

    /// Sets `.tag=`.
    pub fn tagged(mut self, tag: impl Into<String>) -> Command {
        self.tag = Some(tag.into());
        self
    }

    /// The value of an attribute.
    pub fn get(&self, key: &str) -> Option<&Word> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of an attribute when it is UTF-8 text (ids, numbers, flags).
    pub fn get_text(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Word::text)
    }

    /// The words of the sentence, in the order a client sends them.
    pub fn to_words(&self) -> Vec<Vec<u8>> {
        let mut words = Vec::with_capacity(2 + self.attrs.len() + self.queries.len());
        words.push(self.path.as_bytes().to_vec());
        for (k, v) in &self.attrs {
            words.push(attr_word(b'=', k, v));
        }
        for q in &self.queries {
            let mut w = Vec::with_capacity(1 + q.len());
            w.push(b'?');
            w.extend_from_slice(q.as_bytes());
            words.push(w);
        }
        if let Some(tag) = &self.tag {
            words.push(format!(".tag={tag}").into_bytes());
        }
        words
    }

    /// Encodes the sentence onto `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_sentence(&self.to_words(), out);
    }

    /// Parses a command sentence as a router would (the simulator uses this).
    pub fn parse(words: &[Vec<u8>]) -> Result<Command, ProtoError> {
        let Some(first) = words.first() else {
            return Err(ProtoError::EmptySentence);
        };
        let mut cmd = Command::new(word_text(first));
        for raw in &words[1..] {
            if let Some(tag) = raw.strip_prefix(b".tag=") {
                cmd.tag = Some(word_text(tag));
            } else if let Some(body) = raw.strip_prefix(b"=") {
                cmd.attrs.push(split_attr(body));
            } else if let Some(q) = raw.strip_prefix(b"?") {
                cmd.queries.push(Word::new(q));
            } else {
                // RouterOS ignores API attributes it does not know (`.foo=`); other
                // bare words are kept as queries-that-never-match by the simulator.
                cmd.attrs.push((word_text(raw), Word::default()));
            }
        }
        Ok(cmd)
    }
}

impl fmt::Display for Command {
    /// A one-line form for logs, with any password value hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        for (k, v) in &self.attrs {
            if k == "password" || k == "response" {
                write!(f, " ={k}=***")?;
            } else {
                write!(f, " ={k}={v}")?;
            }
        }
        for q in &self.queries {
            write!(f, " ?{q}")?;
        }
        if let Some(t) = &self.tag {
            write!(f, " .tag={t}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_sentence, Limits};

    fn sentence(words: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_sentence(words, &mut out);
        out
    }

    fn reply(words: &[&str]) -> Reply {
        let raw: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        parse_reply(&raw).unwrap()
    }

    #[test]
    fn command_builder_produces_the_print_vector() {
        let cmd = Command::new("/ip/hotspot/user/print")
            .attr(".proplist", ".id,name")
            .query("name=v1")
            .tagged("7");
        let mut out = Vec::new();
        cmd.encode(&mut out);
        assert_eq!(
            out,
            sentence(&[
                "/ip/hotspot/user/print",
                "=.proplist=.id,name",
                "?name=v1",
                ".tag=7"
            ])
        );
        let parsed =
            Command::parse(&decode_sentence(&out, Limits::default()).unwrap().unwrap().0).unwrap();
        assert_eq!(parsed, cmd);
    }

    #[test]
    fn tag_is_found_wherever_it_stands() {
        assert_eq!(reply(&["!done"]).tag, None);
        assert_eq!(
            reply(&["!done", ".tag=abc123"]).tag.as_deref(),
            Some("abc123")
        );
        let r = reply(&["!re", ".tag=10", "=.id=*A", "=name=x"]);
        assert_eq!(r.tag.as_deref(), Some("10"));
        assert_eq!(r.text(".id").as_deref(), Some("*A"));
        let r = reply(&["!trap", "=category=2", ".tag=l1", "=message=interrupted"]);
        assert_eq!(r.tag.as_deref(), Some("l1"));
        assert_eq!(r.text("message").as_deref(), Some("interrupted"));
    }

    #[test]
    fn attributes_split_on_the_first_equals_and_keep_strings() {
        let r = reply(&[
            "!re",
            "=tx-byte=123456789",
            "=only-key",
            "=name=iu=c3Eeg",
            "=name2=007",
        ]);
        assert_eq!(r.text("tx-byte").as_deref(), Some("123456789"));
        assert_eq!(r.text("only-key").as_deref(), Some(""));
        assert_eq!(r.text("name").as_deref(), Some("iu=c3Eeg"));
        assert_eq!(r.text("name2").as_deref(), Some("007"));
    }

    #[test]
    fn values_that_are_not_utf8_keep_their_bytes_both_ways() {
        // 07 "!re"...: =name=Ren\xe9 as WinBox on a Windows-1252 PC writes it.
        let raw = vec![
            b"!re".to_vec(),
            b"=name=Ren\xe9".to_vec(),
            b".tag=3".to_vec(),
        ];
        let r = parse_reply(&raw).unwrap();
        assert_eq!(r.get("name").unwrap().as_bytes(), b"Ren\xe9");
        assert_eq!(r.text("name").as_deref(), Some("Ren\u{FFFD}"));
        assert_eq!(r.to_words(), raw);
        let cmd = Command::new("/ip/hotspot/user/remove")
            .attr(".id", r.get("name").unwrap())
            .query(Word::new(b"name=Ren\xe0".to_vec()));
        let words = cmd.to_words();
        assert_eq!(words[1], b"=.id=Ren\xe9");
        assert_eq!(words[2], b"?name=Ren\xe0");
        assert_eq!(Command::parse(&words).unwrap(), cmd);
    }

    #[test]
    fn fatal_keeps_its_bare_reason() {
        let r = reply(&["!fatal", "session terminated on request"]);
        assert_eq!(r.kind, ReplyKind::Fatal);
        assert_eq!(r.reason.as_deref(), Some("session terminated on request"));
    }

    #[test]
    fn empty_reply_is_recognised_with_its_tag() {
        let r = reply(&["!empty", ".tag=5"]);
        assert_eq!(r.kind, ReplyKind::Empty);
        assert_eq!(r.tag.as_deref(), Some("5"));
    }

    #[test]
    fn query_word_in_a_reply_is_an_error() {
        let raw = vec![b"!re".to_vec(), b"?tag=b".to_vec()];
        assert!(matches!(
            parse_reply(&raw),
            Err(ProtoError::BadReplyWord(_))
        ));
        let raw = vec![b"!bogus".to_vec()];
        assert!(matches!(
            parse_reply(&raw),
            Err(ProtoError::UnknownReply(_))
        ));
    }

    #[test]
    fn several_sentences_and_fragments_decode_in_order() {
        let mut stream = sentence(&["!re", ".tag=foobar", "=data=here!"]);
        stream.extend(sentence(&[
            "!trap",
            "=message=no such command or directory (x)",
        ]));
        stream.extend(sentence(&["!trap", "=message=no such command prefix"]));
        stream.extend(sentence(&["!done"]));
        // Feed the stream one byte at a time, as the slowest TCP would.
        let mut buf = Vec::new();
        let mut kinds = Vec::new();
        for b in stream {
            buf.push(b);
            while let Some((words, used)) = decode_sentence(&buf, Limits::default()).unwrap() {
                buf.drain(..used);
                kinds.push(parse_reply(&words).unwrap().kind);
            }
        }
        assert_eq!(
            kinds,
            [
                ReplyKind::Re,
                ReplyKind::Trap,
                ReplyKind::Trap,
                ReplyKind::Done
            ]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn command_display_hides_passwords() {
        let cmd = Command::new("/login")
            .attr("name", "admin")
            .attr("password", "hunter2");
        let text = cmd.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("=name=admin"));
    }
}
