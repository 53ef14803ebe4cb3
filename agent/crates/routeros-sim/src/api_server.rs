//! The binary API listener (plain and TLS): one task per connection reads sentences
//! (any fragmentation), and a per-connection writer sends each reply at
//! `arrival + latency`, so commands in flight overlap as on a real link instead of
//! queueing behind each other. Streams (`listen`, `follow`) run as their own tasks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::faults::Fault;
use super::menus::{project, Trap};
use super::outcome::StreamSpec;
use super::records::render_row;
use super::session::{item_reply, trap_replies, Session, Step};
use super::state::{format_id, Change};
use super::{lock, Shared};
use routeros_proto::{decode_sentence, encode_sentence, Command, Limits, Reply, ReplyKind};

/// Word and sentence limits before login: "there is a limit on the number and size
/// of sentences that the client can send before it has logged in" (DOC-API; values
/// unknown, these fit any login). Exceeding them closes the connection.
const BEFORE_LOGIN: Limits = Limits {
    max_word: 1024,
    max_words: 16,
    max_sentence: 4096,
};

/// Bytes to write at a moment; `close` shuts the connection after them.
struct Out {
    at: Instant,
    bytes: Vec<u8>,
    close: bool,
}

fn encode(replies: &[Reply]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in replies {
        encode_sentence(&r.to_words(), &mut out);
    }
    out
}

/// Accepts connections until `stop` is cancelled.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        let (socket, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("simulated router: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if !lock(&shared.gate).open(Instant::now()) {
            // Disabled or booting: nobody answers (the connection closes at once).
            drop(socket);
            continue;
        }
        let _ = socket.set_nodelay(true);
        let (shared, stop, tls) = (shared.clone(), stop.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                None => connection(socket, shared, stop).await,
                Some(acceptor) => match acceptor.accept(socket).await {
                    Ok(stream) => connection(stream, shared, stop).await,
                    Err(e) => {
                        tracing::debug!("simulated router: TLS handshake with {peer} failed: {e}")
                    }
                },
            }
        });
    }
}

struct StreamHandle {
    cancel: CancellationToken,
    open: Arc<Mutex<bool>>,
}

async fn connection<S>(stream: S, shared: Arc<Shared>, stop: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut rd, wr) = tokio::io::split(stream);
    let (tx, rx) = mpsc::unbounded_channel::<Out>();
    let abort = CancellationToken::new();
    let writer = tokio::spawn(write_loop(wr, rx, abort.clone()));
    let cut = lock(&shared.cut).clone();
    let mut conn = Conn {
        shared,
        tx,
        abort,
        cancel: stop.child_token(),
        session: Session::default(),
        streams: HashMap::new(),
        commands: 0,
        stall_until: None,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    'read: loop {
        let n = tokio::select! {
            _ = conn.cancel.cancelled() => break,
            _ = cut.cancelled() => {
                // A reboot or a disabled service: nothing more goes out either.
                conn.abort.cancel();
                break;
            }
            r = rd.read(&mut chunk) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut start = 0;
        loop {
            let limits = if conn.session.logged_in() {
                Limits::default()
            } else {
                BEFORE_LOGIN
            };
            let (words, used) = match decode_sentence(&buf[start..], limits) {
                Ok(Some(found)) => found,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(
                        "simulated router: closing a connection that sent bad framing: {e}"
                    );
                    break 'read;
                }
            };
            start += used;
            if words.is_empty() {
                continue; // "Empty sentences are ignored" (DOC-API).
            }
            let Ok(cmd) = Command::parse(&words) else {
                continue;
            };
            if conn.command(cmd) == Flow::Close {
                break 'read;
            }
        }
        buf.drain(..start);
    }
    conn.cancel.cancel();
    drop(conn);
    let _ = writer.await;
}

/// Whether the connection goes on after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// One API connection's state: the login session, the streams it runs, and the
/// faults that apply to it.
struct Conn {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Out>,
    abort: CancellationToken,
    cancel: CancellationToken,
    session: Session,
    streams: HashMap<String, StreamHandle>,
    commands: u64,
    stall_until: Option<Instant>,
}

impl Conn {
    /// Runs one command, with its latency and any injected fault.
    fn command(&mut self, cmd: Command) -> Flow {
        let arrival = Instant::now();
        let mut at = arrival + *lock(&self.shared.latency) + self.serve(arrival);
        if let Some(s) = self.stall_until {
            at = at.max(s);
        }
        let fault = if self.session.logged_in() && cmd.path != "/login" {
            self.commands += 1;
            lock(&self.shared.faults).decide(self.commands)
        } else {
            Fault::None
        };
        if let Fault::Fatal(reason) = &fault {
            self.send(at, encode(&[fatal(reason)]), true);
            return Flow::Close;
        }
        if fault == Fault::DropBefore {
            self.abort.cancel();
            return Flow::Close;
        }
        // Only a login needs the random challenge (a syscall): skip it otherwise.
        let random = if cmd.path == "/login" {
            random_challenge()
        } else {
            [0; 16]
        };
        let step = {
            let mut state = lock(&self.shared.state);
            self.session.handle(cmd, &mut state, arrival, random)
        };
        match fault {
            Fault::Drop => {
                self.abort.cancel();
                return Flow::Close;
            }
            Fault::Stall(d) => {
                self.stall_until = Some(arrival + d);
                at = at.max(arrival + d);
            }
            _ => {}
        }
        self.perform(step, at)
    }

    /// How long the command waits for and then uses the simulated CPU: the commands
    /// before it that are still being served, plus its own service time.
    fn serve(&self, arrival: Instant) -> Duration {
        let mut cpu = lock(&self.shared.cpu);
        let (service, free) = *cpu;
        if service.is_zero() {
            return Duration::ZERO;
        }
        let done = free.max(arrival) + service;
        cpu.1 = done;
        done - arrival
    }

    fn perform(&mut self, step: Step, at: Instant) -> Flow {
        match step {
            Step::Reply(replies) => self.send(at, encode(&replies), false),
            Step::Fatal(reason) => {
                self.send(at, encode(&[fatal(&reason)]), true);
                return Flow::Close;
            }
            Step::Stream {
                head,
                spec,
                tag,
                changes,
            } => {
                self.send(at, encode(&head), false);
                let handle = StreamHandle {
                    cancel: self.cancel.child_token(),
                    open: Arc::new(Mutex::new(true)),
                };
                let task = StreamTask {
                    spec,
                    tag: tag.clone(),
                    shared: self.shared.clone(),
                    tx: self.tx.clone(),
                    cancel: handle.cancel.clone(),
                    open: handle.open.clone(),
                };
                tokio::spawn(task.run(changes));
                self.streams.insert(tag.unwrap_or_default(), handle);
            }
            Step::Cancel { target, own_tag } => {
                let replies = self.cancel_streams(target, own_tag);
                self.send(at, encode(&replies), false);
            }
        }
        Flow::Continue
    }

    /// `/cancel`: ends the named stream (or all), each with an `interrupted` trap and
    /// its `!done`, after the `/cancel`'s own `!done`.
    fn cancel_streams(&mut self, target: Option<String>, own_tag: Option<String>) -> Vec<Reply> {
        let keys: Vec<String> = match target {
            Some(t) => vec![t],
            None => self.streams.keys().cloned().collect(),
        };
        let mut replies = Vec::new();
        let mut dones = Vec::new();
        for key in keys {
            let Some(h) = self.streams.remove(&key) else {
                continue;
            };
            // Closing under the lock orders our trap after any `!re` the stream sent.
            *lock(&h.open) = false;
            h.cancel.cancel();
            let tag = (!key.is_empty()).then_some(key);
            let mut traps = trap_replies(&[Trap::interrupted()], &tag);
            dones.push(traps.pop().unwrap_or_else(|| Reply::new(ReplyKind::Done)));
            replies.extend(traps);
        }
        let mut done = Reply::new(ReplyKind::Done);
        done.tag = own_tag;
        replies.push(done);
        replies.extend(dones);
        replies
    }

    fn send(&self, at: Instant, bytes: Vec<u8>, close: bool) {
        let _ = self.tx.send(Out { at, bytes, close });
    }
}

fn fatal(reason: &str) -> Reply {
    let mut r = Reply::new(ReplyKind::Fatal);
    r.reason = Some(reason.to_string());
    r
}

fn random_challenge() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    // A failed random source only weakens the simulated challenge; fall back to the clock.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = nanos.to_le_bytes();
    }
    bytes
}

/// Writes replies at their time; several ready replies go out in one write.
async fn write_loop<W>(mut wr: W, mut rx: mpsc::UnboundedReceiver<Out>, abort: CancellationToken)
where
    W: AsyncWrite + Unpin,
{
    let mut pending: Option<Out> = None;
    loop {
        let out = match pending.take() {
            Some(o) => o,
            None => tokio::select! {
                _ = abort.cancelled() => return,
                o = rx.recv() => match o {
                    Some(o) => o,
                    None => break,
                },
            },
        };
        if out.at > Instant::now() {
            tokio::select! {
                _ = abort.cancelled() => return,
                _ = tokio::time::sleep_until(out.at.into()) => {}
            }
        }
        let mut batch = out.bytes;
        let mut close = out.close;
        while !close {
            match rx.try_recv() {
                Ok(next) if next.at <= Instant::now() => {
                    batch.extend_from_slice(&next.bytes);
                    close = next.close;
                }
                Ok(next) => {
                    pending = Some(next);
                    break;
                }
                Err(_) => break,
            }
        }
        if wr.write_all(&batch).await.is_err() || wr.flush().await.is_err() {
            return;
        }
        if close {
            let _ = wr.shutdown().await;
            return;
        }
    }
    let _ = wr.shutdown().await;
}

/// A running `listen` / `print =follow=`.
struct StreamTask {
    spec: StreamSpec,
    tag: Option<String>,
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Out>,
    cancel: CancellationToken,
    open: Arc<Mutex<bool>>,
}

impl StreamTask {
    async fn run(self, mut changes: broadcast::Receiver<Change>) {
        loop {
            let change = tokio::select! {
                _ = self.cancel.cancelled() => return,
                c = changes.recv() => c,
            };
            let change = match change {
                Ok(c) if c.menu == self.spec.menu => c,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let item = if change.dead {
                Some(vec![
                    (".id".to_string(), format_id(change.id).into()),
                    (".dead".to_string(), "yes".into()),
                ])
            } else {
                let state = lock(&self.shared.state);
                state
                    .table(self.spec.menu)
                    .and_then(|t| t.rows.get(&change.id))
                    .map(|row| render_row(&state, self.spec.menu, row))
                    .filter(|r| self.spec.query.matches(r))
                    .map(|r| project(r, self.spec.proplist.as_deref()))
            };
            let Some(item) = item else { continue };
            let at = Instant::now() + *lock(&self.shared.latency);
            let bytes = encode(&[item_reply(item, &self.tag)]);
            let open = lock(&self.open);
            if !*open
                || self
                    .tx
                    .send(Out {
                        at,
                        bytes,
                        close: false,
                    })
                    .is_err()
            {
                return;
            }
        }
    }
}
