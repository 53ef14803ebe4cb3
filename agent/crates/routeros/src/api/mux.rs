//! The task that owns one binary API connection: writes tagged commands, routes
//! replies by `.tag`, enforces per-command deadlines (sending `/cancel` for commands
//! that ran out of time), and reconnects on the next call after the connection dies,
//! with exponential backoff while attempts keep failing (1 s doubling to 2 s while the
//! router is down, to 30 s while it refuses the login).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::codec::{Encoder, FramedParts, FramedRead};

use super::conn::{self, Io, Transport};
use super::{ApiConfig, Request, Response, STREAM_QUEUE};
use crate::error::RouterError;
use crate::model::Record;
use routeros_proto::SentenceCodec;
use routeros_proto::{self as proto, Command, Reply, ReplyKind};

const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Longest wait between attempts while the router is down or refuses connections
/// (a reboot, the API service off): an attempt costs it nothing, and the kiosk sells
/// again within this of the router coming back. A refused login still backs off to
/// [`BACKOFF_MAX`]: each one is a line in the router's log, and firewall scripts
/// that count login failures would lock the kiosk out.
const BACKOFF_MAX_DOWN: Duration = Duration::from_secs(2);
/// Most `!re` records one command may return. A hotspot has thousands of users at
/// most; a router sending more than this is broken or hostile, and the connection is reset.
const MAX_ROWS: usize = 500_000;
/// Most bytes of `!re` words one command may return (5,000 users are about 2 MiB).
const MAX_REPLY_BYTES: usize = 256 << 20;
/// `!trap`s kept for one command; more are counted, not kept.
const MAX_TRAPS: usize = 16;
/// Commands that time out one after another before the connection is taken for
/// stuck and reopened: a router that stopped answering on this socket may answer
/// on a new one, and the tags it will never finish are dropped with the old one.
const MAX_TIMEOUTS_IN_ROW: u32 = 3;
/// Cancelled tags still waiting for the router's `!done`; past this the router is
/// not finishing what it was told to cancel, and the connection is reopened.
const MAX_IGNORED: usize = 1024;
/// Commands taken from the queue at once and written together (one write, one
/// segment for many commands) before the loop looks at replies again.
const ACCEPT_AT_ONCE: usize = 256;

/// The project's one back-off policy, and when the next attempt may start.
struct Backoff {
    policy: hotspot_clock::Backoff,
    not_before: Option<Instant>,
}

impl Backoff {
    fn failed(&mut self, now: Instant, e: &RouterError) {
        let wait = self.policy.failed();
        let wait = if e.refuses_us() {
            wait
        } else {
            wait.min(BACKOFF_MAX_DOWN)
        };
        self.not_before = Some(now + wait);
    }

    fn reset(&mut self) {
        self.policy.reset();
        self.not_before = None;
    }
}

/// Runs until every handle is dropped.
pub(crate) async fn run(cfg: Arc<ApiConfig>, mut rx: mpsc::Receiver<Request>) {
    let mut backoff = Backoff {
        policy: hotspot_clock::Backoff::new(BACKOFF_FIRST, BACKOFF_MAX),
        not_before: None,
    };
    let mut last_error: Option<RouterError> = None;
    let mut next_tag: u64 = 0;
    while let Some(first) = rx.recv().await {
        if matches!(first, Request::Cancel { .. }) {
            continue; // its command died with the previous connection
        }
        if let Some(at) = backoff.not_before {
            // Wait out the backoff if that still leaves time for the command; else fail
            // it at once with what the last attempt saw.
            if at > super::due(Instant::now(), cfg.timeout) {
                if let Some(e) = &last_error {
                    fail(first, e.clone());
                    continue;
                }
            }
            tokio::time::sleep_until(at).await;
        }
        let transport = match conn::open(&cfg).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(router = %cfg.router, error = %e, "binary API connection failed");
                backoff.failed(Instant::now(), &e);
                fail(first, e.clone());
                last_error = Some(e);
                continue;
            }
        };
        tracing::debug!(router = %cfg.router, addr = %cfg.addr(), "binary API logged in");
        let mut mux = Mux::new(cfg.clone(), &mut next_tag);
        let end = mux.serve(transport, first, &mut rx).await;
        match end {
            End::Shutdown => return,
            End::Stuck => backoff.reset(),
            End::Died(e) => {
                tracing::warn!(router = %cfg.router, error = %e, "binary API connection ended");
                // A connection that served commands may simply have been closed (router
                // reboot, idle timeout): reopen at once. One that died before serving
                // anything counts as a failed attempt.
                if mux.completed_any {
                    backoff.reset();
                } else {
                    backoff.failed(Instant::now(), &e);
                }
                last_error = Some(e);
            }
        }
    }
}

fn fail(req: Request, e: RouterError) {
    match req {
        Request::Call { reply, .. } => {
            let _ = reply.send(Err(e));
        }
        Request::Stream { reply, .. } => {
            let _ = reply.send(Err(e));
        }
        Request::Cancel { .. } => {}
    }
}

/// Writes what is buffered (`Some(bytes written)`), or flushes once all is written
/// (`None`), so TLS records leave too. Cancel-safe: both steps are single polls.
async fn write_or_flush(
    wr: &mut tokio::io::WriteHalf<Box<dyn Io>>,
    out: &[u8],
) -> Result<Option<usize>, ()> {
    if out.is_empty() {
        wr.flush().await.map(|_| None).map_err(|_| ())
    } else {
        match wr.write(out).await {
            Ok(0) | Err(_) => Err(()),
            Ok(n) => Ok(Some(n)),
        }
    }
}

enum End {
    /// Every handle was dropped.
    Shutdown,
    /// The connection died; in-flight commands were failed with this error.
    Died(RouterError),
    /// The connection was open but stuck ([`Mux::stuck`]); it was dropped and the
    /// next call opens a new one at once.
    Stuck,
}

enum Entry {
    Call {
        command: String,
        deadline: Instant,
        reply: oneshot::Sender<Result<Response, RouterError>>,
        rows: Vec<Record>,
        /// Bytes of the words in `rows`.
        bytes: usize,
        traps: Vec<Reply>,
        /// `!trap`s beyond [`MAX_TRAPS`], counted only.
        more_traps: usize,
    },
    Stream {
        command: String,
        tx: mpsc::Sender<Result<Record, RouterError>>,
    },
}

struct Mux<'a> {
    cfg: Arc<ApiConfig>,
    next_tag: &'a mut u64,
    pending: HashMap<String, Entry>,
    /// The calls' deadlines in the order they were sent, which is deadline order
    /// (one timeout per connection): the earliest is at the front once the entries
    /// of calls already answered are dropped from it. Finding it costs nothing per
    /// loop turn, where a scan of `pending` cost one step per command in flight.
    deadlines: VecDeque<(Instant, String)>,
    /// Tags whose remaining replies are dropped: cancelled commands and the `/cancel`s.
    ignored: HashSet<String>,
    out: BytesMut,
    completed_any: bool,
    /// Commands that timed out since the last one completed.
    timeouts_in_row: u32,
}

impl<'a> Mux<'a> {
    fn new(cfg: Arc<ApiConfig>, next_tag: &'a mut u64) -> Mux<'a> {
        Mux {
            cfg,
            next_tag,
            pending: HashMap::new(),
            deadlines: VecDeque::new(),
            ignored: HashSet::new(),
            out: BytesMut::new(),
            completed_any: false,
            timeouts_in_row: 0,
        }
    }

    async fn serve(
        &mut self,
        transport: Transport,
        first: Request,
        rx: &mut mpsc::Receiver<Request>,
    ) -> End {
        // Reading and writing proceed independently so a router busy sending replies
        // is never blocked by us waiting to write, nor the other way round.
        let FramedParts {
            io,
            codec,
            read_buf,
            ..
        } = transport.into_parts();
        let (rd, mut wr) = tokio::io::split::<Box<dyn Io>>(io);
        let mut reader = FramedRead::new(rd, codec);
        *reader.read_buffer_mut() = read_buf;
        let mut dirty = false;
        self.accept(first);
        // One timer for the connection, moved when the earliest deadline changes.
        let timer = tokio::time::sleep_until(Instant::now());
        tokio::pin!(timer);
        let mut armed: Option<Instant> = None;
        loop {
            let deadline = self.earliest_deadline();
            if deadline != armed {
                if let Some(at) = deadline {
                    timer.as_mut().reset(at);
                }
                armed = deadline;
            }
            tokio::select! {
                frame = reader.next() => {
                    let result = match frame {
                        None => Err(RouterError::Closed { router: self.cfg.router.clone() }),
                        Some(Err(e)) => Err(conn::framing_error(&self.cfg, e)),
                        Some(Ok(words)) => self.on_sentence(&words),
                    };
                    if let Err(e) = result {
                        self.fail_all(&e);
                        return End::Died(e);
                    }
                }
                written = write_or_flush(&mut wr, &self.out), if !self.out.is_empty() || dirty => match written {
                    Ok(Some(n)) => {
                        self.out.advance(n);
                        dirty = true;
                    }
                    Ok(None) => dirty = false,
                    Err(()) => {
                        let e = RouterError::Closed { router: self.cfg.router.clone() };
                        self.fail_all(&e);
                        return End::Died(e);
                    }
                },
                req = rx.recv() => match req {
                    Some(req) => {
                        self.accept(req);
                        // Those queued behind it go out in the same write.
                        for _ in 1..ACCEPT_AT_ONCE {
                            match rx.try_recv() {
                                Ok(req) => self.accept(req),
                                Err(_) => break,
                            }
                        }
                    }
                    None => {
                        self.fail_all(&RouterError::Closed { router: self.cfg.router.clone() });
                        let _ = wr.shutdown().await;
                        return End::Shutdown;
                    }
                },
                _ = &mut timer, if armed.is_some() => {
                    self.expire(Instant::now());
                }
            }
            if let Some(why) = self.stuck() {
                tracing::warn!(router = %self.cfg.router, %why, "binary API connection reopened");
                self.fail_all(&RouterError::Closed {
                    router: self.cfg.router.clone(),
                });
                return End::Stuck;
            }
        }
    }

    fn tag(&mut self) -> String {
        *self.next_tag += 1;
        self.next_tag.to_string()
    }

    fn write(&mut self, cmd: &Command) {
        // Encoding into a buffer cannot fail; the write arm sends it.
        let _ = SentenceCodec::default().encode(cmd, &mut self.out);
    }

    fn accept(&mut self, req: Request) {
        match req {
            Request::Call { mut cmd, reply } => {
                let tag = self.tag();
                cmd.tag = Some(tag.clone());
                tracing::trace!(router = %self.cfg.router, %cmd, "send");
                self.write(&cmd);
                let deadline = super::due(Instant::now(), self.cfg.timeout);
                self.deadlines.push_back((deadline, tag.clone()));
                self.pending.insert(
                    tag,
                    Entry::Call {
                        command: cmd.path,
                        deadline,
                        reply,
                        rows: Vec::new(),
                        bytes: 0,
                        traps: Vec::new(),
                        more_traps: 0,
                    },
                );
            }
            Request::Stream { mut cmd, reply } => {
                let tag = self.tag();
                cmd.tag = Some(tag.clone());
                self.write(&cmd);
                let (tx, rx) = mpsc::channel(STREAM_QUEUE);
                self.pending.insert(
                    tag.clone(),
                    Entry::Stream {
                        command: cmd.path,
                        tx,
                    },
                );
                let _ = reply.send(Ok((tag, rx)));
            }
            Request::Cancel { tag } => {
                if self.pending.remove(&tag).is_some() {
                    self.cancel(tag);
                }
            }
        }
    }

    /// Sends `/cancel =tag=X` and drops whatever else comes for X.
    fn cancel(&mut self, tag: String) {
        let own = self.tag();
        let cmd = Command::new("/cancel")
            .attr("tag", tag.as_str())
            .tagged(own.as_str());
        self.write(&cmd);
        self.ignored.insert(tag);
        self.ignored.insert(own);
    }

    fn earliest_deadline(&mut self) -> Option<Instant> {
        while let Some((at, tag)) = self.deadlines.front() {
            if matches!(self.pending.get(tag), Some(Entry::Call { deadline, .. }) if deadline == at)
            {
                return Some(*at);
            }
            self.deadlines.pop_front();
        }
        None
    }

    fn expire(&mut self, now: Instant) {
        let mut late = Vec::new();
        while self.earliest_deadline().is_some_and(|at| at <= now) {
            if let Some((_, tag)) = self.deadlines.pop_front() {
                late.push(tag);
            }
        }
        for tag in late {
            if let Some(Entry::Call { command, reply, .. }) = self.pending.remove(&tag) {
                self.timeouts_in_row += 1;
                let _ = reply.send(Err(RouterError::Timeout {
                    router: self.cfg.router.clone(),
                    command,
                    after: self.cfg.timeout,
                }));
                self.cancel(tag);
            }
        }
    }

    /// Why this connection should be given up although it is open, if it should.
    fn stuck(&self) -> Option<String> {
        if self.timeouts_in_row >= MAX_TIMEOUTS_IN_ROW {
            return Some(format!(
                "{} commands in a row got no reply within {:?}",
                self.timeouts_in_row, self.cfg.timeout
            ));
        }
        if self.ignored.len() > MAX_IGNORED {
            return Some(format!(
                "the router has not finished {} cancelled commands",
                self.ignored.len()
            ));
        }
        None
    }

    // Long on purpose: one arm per reply kind (`!re`, `!done`, `!trap`, `!fatal`, `!empty`), each short, read together.
    fn on_sentence(&mut self, words: &[Vec<u8>]) -> Result<(), RouterError> {
        let reply = proto::parse_reply(words).map_err(|e| RouterError::Protocol {
            router: self.cfg.router.clone(),
            detail: e.to_string(),
        })?;
        if reply.kind == ReplyKind::Fatal {
            return Err(RouterError::Fatal {
                router: self.cfg.router.clone(),
                reason: reply.reason.unwrap_or_else(|| "(no reason given)".into()),
            });
        }
        let Some(tag) = reply.tag.clone() else {
            // We tag every command, so an untagged reply answers nothing of ours.
            tracing::warn!(router = %self.cfg.router, kind = reply.kind.word(), "untagged reply ignored");
            return Ok(());
        };
        if self.ignored.contains(&tag) {
            if reply.kind == ReplyKind::Done {
                self.ignored.remove(&tag);
            }
            return Ok(());
        }
        let Some(entry) = self.pending.get_mut(&tag) else {
            tracing::warn!(router = %self.cfg.router, %tag, "reply for an unknown tag ignored");
            return Ok(());
        };
        match entry {
            Entry::Call {
                rows,
                bytes,
                traps,
                more_traps,
                ..
            } => match reply.kind {
                ReplyKind::Re if rows.len() >= MAX_ROWS => {
                    return Err(RouterError::Protocol {
                        router: self.cfg.router.clone(),
                        detail: format!("more than {MAX_ROWS} records for one command"),
                    });
                }
                ReplyKind::Re => {
                    *bytes = bytes.saturating_add(words.iter().map(Vec::len).sum::<usize>());
                    if *bytes > MAX_REPLY_BYTES {
                        return Err(RouterError::Protocol {
                            router: self.cfg.router.clone(),
                            detail: format!(
                                "more than {} MiB of records for one command",
                                MAX_REPLY_BYTES >> 20
                            ),
                        });
                    }
                    rows.push(reply.attrs.into_iter().collect())
                }
                ReplyKind::Trap if traps.len() >= MAX_TRAPS => *more_traps += 1,
                ReplyKind::Trap => traps.push(reply),
                ReplyKind::Empty | ReplyKind::Fatal => {}
                ReplyKind::Done => {
                    if let Some(Entry::Call {
                        command,
                        reply: sender,
                        rows,
                        traps,
                        more_traps,
                        ..
                    }) = self.pending.remove(&tag)
                    {
                        self.completed_any = true;
                        self.timeouts_in_row = 0;
                        let result = if traps.is_empty() {
                            Ok(Response {
                                rows,
                                done: reply.attrs.into_iter().collect(),
                            })
                        } else {
                            let mut e = self.trap_error(command, &traps);
                            if let RouterError::Trap { message, .. } = &mut e {
                                if more_traps > 0 {
                                    message.push_str(&format!(" (and {more_traps} more traps)"));
                                }
                            }
                            Err(e)
                        };
                        let _ = sender.send(result);
                    }
                }
            },
            Entry::Stream { command, tx } => match reply.kind {
                ReplyKind::Re => {
                    if tx.is_closed() {
                        // The listener is gone and its own /cancel did not get through.
                        self.pending.remove(&tag);
                        self.cancel(tag);
                    } else if tx.capacity() <= 1 {
                        // The listener fell behind: say so in the last slot and stop.
                        let _ = tx.try_send(Err(RouterError::Unexpected {
                            router: self.cfg.router.clone(),
                            command: command.clone(),
                            detail: format!("listener fell more than {STREAM_QUEUE} records behind; stream stopped"),
                        }));
                        self.pending.remove(&tag);
                        self.cancel(tag);
                    } else {
                        let _ = tx.try_send(Ok(reply.attrs.into_iter().collect()));
                    }
                }
                ReplyKind::Trap => {
                    let command = command.clone();
                    let err = self.trap_error(command, std::slice::from_ref(&reply));
                    if let Some(Entry::Stream { tx, .. }) = self.pending.get(&tag) {
                        let _ = tx.try_send(Err(err));
                    }
                }
                ReplyKind::Empty | ReplyKind::Fatal => {}
                ReplyKind::Done => {
                    self.pending.remove(&tag);
                }
            },
        }
        Ok(())
    }

    /// One error for one or more traps: their messages joined, the first category.
    fn trap_error(&self, command: String, traps: &[Reply]) -> RouterError {
        let message = traps
            .iter()
            .map(|t| t.text("message").unwrap_or_else(|| "(no message)".into()))
            .collect::<Vec<_>>()
            .join("; ");
        let category = traps
            .iter()
            .find_map(|t| t.get("category").and_then(|c| c.text()?.parse().ok()));
        RouterError::Trap {
            router: self.cfg.router.clone(),
            command,
            message,
            category,
            status: None,
        }
    }

    fn fail_all(&mut self, e: &RouterError) {
        for (_, entry) in self.pending.drain() {
            match entry {
                Entry::Call { reply, .. } => {
                    let _ = reply.send(Err(e.clone()));
                }
                Entry::Stream { tx, .. } => {
                    let _ = tx.try_send(Err(e.clone()));
                }
            }
        }
    }
}
