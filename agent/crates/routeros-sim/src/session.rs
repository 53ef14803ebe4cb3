//! One API connection's protocol state: login (challenge before 6.43, plain from
//! 6.43), the pre-login limit, `/quit`, `/cancel`, and turning a command's outcome
//! into reply sentences with the command's tag. Pure: the caller passes the state,
//! the time and the random challenge.

use std::time::Instant;

use tokio::sync::broadcast;

use super::commands::execute;
use super::menus::Trap;
use super::outcome::{Item, Outcome, StreamSpec};
use super::state::{Change, SimVersion, State};
use routeros_proto::{challenge_response, Command, Reply, ReplyKind, Word};

/// Sentences a client may send before it has logged in (§2.4: the real limit is
/// unknown; librouteros needs two for the challenge login).
pub(crate) const MAX_SENTENCES_BEFORE_LOGIN: u32 = 5;

/// What the connection must do after a command.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send these replies.
    Reply(Vec<Reply>),
    /// Send `!fatal` with this bare reason, then close.
    Fatal(String),
    /// Send `head`, then keep reporting changes until cancelled.
    Stream {
        /// The first replies (`follow` prints the current items).
        head: Vec<Reply>,
        /// What to watch.
        spec: StreamSpec,
        /// The command's tag.
        tag: Option<String>,
        /// Changes from now on.
        changes: broadcast::Receiver<Change>,
    },
    /// `/cancel`: stop `target` (or every stream), reply `!done` with `own_tag`.
    Cancel {
        /// `=tag=` of the command to cancel; `None` cancels all.
        target: Option<String>,
        /// The `/cancel` command's own `.tag`.
        own_tag: Option<String>,
    },
}

/// Login state of one connection.
#[derive(Debug, Default)]
pub(crate) struct Session {
    logged_in: bool,
    challenge: Option<[u8; 16]>,
    before_login: u32,
}

fn reply(kind: ReplyKind, tag: &Option<String>) -> Reply {
    let mut r = Reply::new(kind);
    r.tag = tag.clone();
    r
}

/// A `!re` for an item.
pub(crate) fn item_reply(item: Item, tag: &Option<String>) -> Reply {
    let mut r = reply(ReplyKind::Re, tag);
    r.attrs = item;
    r
}

/// `!trap` sentences followed by `!done`.
pub(crate) fn trap_replies(traps: &[Trap], tag: &Option<String>) -> Vec<Reply> {
    let mut out: Vec<Reply> = traps
        .iter()
        .map(|t| {
            let mut r = reply(ReplyKind::Trap, tag);
            if let Some(c) = t.category {
                r.attrs.push(("category".into(), c.to_string().into()));
            }
            r.attrs.push(("message".into(), t.message.as_str().into()));
            r
        })
        .collect();
    out.push(reply(ReplyKind::Done, tag));
    out
}

/// The replies for a finished command.
pub(crate) fn outcome_replies(
    outcome: Outcome,
    version: &SimVersion,
    tag: &Option<String>,
) -> Vec<Reply> {
    match outcome {
        Outcome::Traps(traps) => trap_replies(&traps, tag),
        Outcome::Done { items, ret, print } => {
            let empty = print && items.is_empty() && version.sends_empty();
            let mut out: Vec<Reply> = items.into_iter().map(|i| item_reply(i, tag)).collect();
            if empty {
                out.push(reply(ReplyKind::Empty, tag));
            }
            let mut done = reply(ReplyKind::Done, tag);
            if let Some(ret) = ret {
                done.attrs.push(("ret".into(), ret.into()));
            }
            out.push(done);
            out
        }
        Outcome::Stream { items, .. } => items.into_iter().map(|i| item_reply(i, tag)).collect(),
    }
}

impl Session {
    /// Whether the client has logged in.
    pub(crate) fn logged_in(&self) -> bool {
        self.logged_in
    }

    /// Handles one command sentence.
    pub(crate) fn handle(
        &mut self,
        mut cmd: Command,
        state: &mut State,
        now: Instant,
        random: [u8; 16],
    ) -> Step {
        // "without a tag (or empty) replies carry none" (DOC-API).
        cmd.tag = cmd.tag.filter(|t| !t.is_empty());
        let tag = cmd.tag.clone();
        if cmd.path == "/login" {
            return self.login(&cmd, state, random);
        }
        if cmd.path == "/quit" {
            return Step::Fatal("session terminated on request".into());
        }
        if !self.logged_in {
            // MHYCY documents `!fatal not logged in` for commands before login.
            return Step::Fatal("not logged in".into());
        }
        if cmd.path == "/cancel" {
            return Step::Cancel {
                target: cmd.get("tag").map(|t| t.lossy().into_owned()),
                own_tag: tag,
            };
        }
        match execute(state, &cmd, now) {
            Outcome::Stream { items, spec } => {
                let head = items.into_iter().map(|i| item_reply(i, &tag)).collect();
                Step::Stream {
                    head,
                    spec,
                    tag,
                    changes: state.subscribe(),
                }
            }
            outcome => Step::Reply(outcome_replies(outcome, &state.version, &tag)),
        }
    }

    fn login(&mut self, cmd: &Command, state: &State, random: [u8; 16]) -> Step {
        let tag = cmd.tag.clone();
        if !self.logged_in {
            self.before_login += 1;
            if self.before_login > MAX_SENTENCES_BEFORE_LOGIN {
                return Step::Fatal("not logged in".into());
            }
        }
        let v = &state.version;
        let failure = if v.plain_login() {
            "invalid user name or password (6)"
        } else {
            "cannot log in"
        };
        let name = cmd.get("name");
        let fail = || Step::Reply(trap_replies(&[Trap::new(failure)], &tag));
        if let Some(response) = cmd.get("response") {
            let expected = self
                .challenge
                .take()
                .and_then(|c| challenge_response(&state.login_password, &hex::encode(c)).ok());
            let ok = v.challenge_accepted()
                && name.is_some_and(|n| *n == state.login_user)
                && expected.is_some_and(|e| *response == e);
            return if ok {
                self.logged_in = true;
                Step::Reply(vec![reply(ReplyKind::Done, &tag)])
            } else {
                fail()
            };
        }
        if v.plain_login() && name.is_some() {
            let password = cmd.get("password").map(Word::as_bytes).unwrap_or(b"");
            let ok = name.is_some_and(|n| *n == state.login_user)
                && password == state.login_password.as_bytes();
            return if ok {
                self.logged_in = true;
                Step::Reply(vec![reply(ReplyKind::Done, &tag)])
            } else {
                fail()
            };
        }
        // Bare `/login`, or any `/login` before 6.43: hand out a challenge.
        self.challenge = Some(random);
        let mut done = reply(ReplyKind::Done, &tag);
        done.attrs.push(("ret".into(), hex::encode(random).into()));
        Step::Reply(vec![done])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(version: &str) -> State {
        State::new(
            SimVersion::parse(version).unwrap(),
            "admin".into(),
            String::new(),
            Instant::now(),
        )
    }

    fn cmd(words: &[&str]) -> Command {
        let raw: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        Command::parse(&raw).unwrap()
    }

    fn replies(step: Step) -> Vec<Vec<String>> {
        match step {
            Step::Reply(r) => r
                .iter()
                .map(|r| {
                    r.to_words()
                        .iter()
                        .map(|w| String::from_utf8_lossy(w).into_owned())
                        .collect()
                })
                .collect(),
            other => panic!("expected replies, got {other:?}"),
        }
    }

    const RANDOM: [u8; 16] = [
        0x93, 0xb4, 0x38, 0xec, 0x9b, 0x80, 0x05, 0x7c, 0x06, 0xdd, 0x9f, 0xe6, 0x7d, 0x56, 0xaa,
        0x9a,
    ];

    #[test]
    fn pre_643_login_is_challenge_and_response() {
        let mut st = state("6.42");
        let mut s = Session::default();
        // Even a plain login gets the challenge: pre-6.43 ignores the extra args.
        let r = replies(s.handle(
            cmd(&["/login", "=name=admin", "=password="]),
            &mut st,
            Instant::now(),
            RANDOM,
        ));
        assert_eq!(
            r,
            [vec![
                "!done".to_string(),
                "=ret=93b438ec9b80057c06dd9fe67d56aa9a".to_string()
            ]]
        );
        // DOC-API example: empty password, this challenge → this response.
        let r = replies(s.handle(
            cmd(&[
                "/login",
                "=name=admin",
                "=response=00e134102a9d330dd7b1849fedfea3cb57",
            ]),
            &mut st,
            Instant::now(),
            RANDOM,
        ));
        assert_eq!(r, [vec!["!done".to_string()]]);
        assert!(s.logged_in());
    }

    #[test]
    fn pre_643_bad_response_cannot_log_in() {
        let mut st = state("6.42");
        let mut s = Session::default();
        s.handle(cmd(&["/login", ".tag=1"]), &mut st, Instant::now(), RANDOM);
        let r = replies(s.handle(
            cmd(&[
                "/login",
                "=name=admin",
                "=response=00ffffffffffffffffffffffffffffffff",
                ".tag=2",
            ]),
            &mut st,
            Instant::now(),
            RANDOM,
        ));
        assert_eq!(r[0], ["!trap", "=message=cannot log in", ".tag=2"]);
        assert_eq!(r[1], ["!done", ".tag=2"]);
        assert!(!s.logged_in());
    }

    #[test]
    fn plain_login_from_643_and_its_failure_text() {
        let mut st = state("6.49");
        let mut s = Session::default();
        let r = replies(s.handle(
            cmd(&["/login", "=name=admin", "=password=x"]),
            &mut st,
            Instant::now(),
            RANDOM,
        ));
        assert_eq!(
            r[0],
            ["!trap", "=message=invalid user name or password (6)"]
        );
        assert_eq!(r[1], ["!done"]);
        let r = replies(s.handle(
            cmd(&["/login", "=name=admin", "=password="]),
            &mut st,
            Instant::now(),
            RANDOM,
        ));
        assert_eq!(r, [vec!["!done".to_string()]]);
    }

    #[test]
    fn after_6451_the_challenge_response_is_refused() {
        let mut st = state("7.18");
        let mut s = Session::default();
        let r = replies(s.handle(cmd(&["/login"]), &mut st, Instant::now(), RANDOM));
        assert!(r[0][1].starts_with("=ret="));
        let good = challenge_response("", &hex::encode(RANDOM)).unwrap();
        let r = replies(s.handle(
            cmd(&["/login", "=name=admin", &format!("=response={good}")]),
            &mut st,
            Instant::now(),
            RANDOM,
        ));
        assert_eq!(
            r[0],
            ["!trap", "=message=invalid user name or password (6)"]
        );
    }

    #[test]
    fn commands_before_login_and_too_many_logins_are_fatal() {
        let mut st = state("7.18");
        let mut s = Session::default();
        assert!(matches!(
            s.handle(cmd(&["/ip/hotspot/user/print"]), &mut st, Instant::now(), RANDOM),
            Step::Fatal(r) if r == "not logged in"
        ));
        let mut s = Session::default();
        for _ in 0..MAX_SENTENCES_BEFORE_LOGIN {
            s.handle(
                cmd(&["/login", "=name=admin", "=password=bad"]),
                &mut st,
                Instant::now(),
                RANDOM,
            );
        }
        assert!(matches!(
            s.handle(
                cmd(&["/login", "=name=admin", "=password="]),
                &mut st,
                Instant::now(),
                RANDOM
            ),
            Step::Fatal(_)
        ));
    }

    #[test]
    fn an_empty_tag_is_no_tag() {
        let mut st = state("7.18");
        let mut s = Session::default();
        let r = replies(s.handle(
            cmd(&["/login", "=name=admin", "=password=", ".tag="]),
            &mut st,
            Instant::now(),
            RANDOM,
        ));
        assert_eq!(r, [vec!["!done".to_string()]]);
    }

    #[test]
    fn quit_is_fatal_with_the_bare_reason() {
        let mut st = state("7.18");
        let mut s = Session::default();
        assert!(matches!(
            s.handle(cmd(&["/quit"]), &mut st, Instant::now(), RANDOM),
            Step::Fatal(r) if r == "session terminated on request"
        ));
    }

    #[test]
    fn empty_precedes_done_only_from_718_and_carries_the_tag() {
        for (version, expect_empty) in [("7.12", false), ("7.18", true)] {
            let mut st = state(version);
            let mut s = Session::default();
            s.handle(
                cmd(&["/login", "=name=admin", "=password="]),
                &mut st,
                Instant::now(),
                RANDOM,
            );
            let r = replies(s.handle(
                cmd(&["/ip/hotspot/active/print", ".tag=5"]),
                &mut st,
                Instant::now(),
                RANDOM,
            ));
            if expect_empty {
                assert_eq!(r, [vec!["!empty", ".tag=5"], vec!["!done", ".tag=5"]]);
            } else {
                assert_eq!(r, [vec!["!done", ".tag=5"]]);
            }
        }
    }

    #[test]
    fn unknown_commands_get_two_tagged_traps_then_done() {
        let mut st = state("7.18");
        let mut s = Session::default();
        s.handle(
            cmd(&["/login", "=name=admin", "=password="]),
            &mut st,
            Instant::now(),
            RANDOM,
        );
        let r = replies(s.handle(cmd(&["/aasasa", ".tag=9"]), &mut st, Instant::now(), RANDOM));
        assert_eq!(
            r,
            [
                vec![
                    "!trap",
                    "=category=0",
                    "=message=no such command or directory (aasasa)",
                    ".tag=9"
                ],
                vec!["!trap", "=message=no such command prefix", ".tag=9"],
                vec!["!done", ".tag=9"],
            ]
        );
    }
}
