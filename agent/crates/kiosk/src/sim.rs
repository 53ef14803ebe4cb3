//! Simulated kiosk devices for the demo and the tests: a ccTalk coin acceptor
//! and an ESC/POS printer, each on a real pseudo-terminal pair (the agent's
//! device tasks run unchanged on the other end), and a pulse source.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use super::coin::cctalk::{header, Checksum, Decoder, Frame, HOST};
use super::coin::cctalk_credit::{BufferedCredit, CreditEvent};
use super::coin::gpio::{ChannelPulseSource, Edge};

/// A pseudo-terminal pair: `(device end, agent end)`. Both are raw.
pub fn pty_pair() -> std::io::Result<(tokio_serial::SerialStream, tokio_serial::SerialStream)> {
    tokio_serial::SerialStream::pair().map_err(|e| std::io::Error::other(e.to_string()))
}

/// What the simulated acceptor has been told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptorState {
    /// Master inhibit off (accepting coins).
    pub accepting: bool,
    /// Coin positions enabled (231 mask).
    pub mask: u16,
    /// 229 polls answered.
    pub polls: u64,
    /// Coins accepted (credit events), since the simulator started.
    pub accepted: u64,
    /// Master inhibit commands (228) received.
    pub master_commands: u64,
}

enum AcceptorCommand {
    Insert(u8),
    Reset,
    Noise(Vec<u8>),
    Silent(bool),
}

/// What a simulated acceptor is: its address, checksum, serial and coin table.
#[derive(Debug, Clone)]
pub struct SimAcceptorSpec {
    /// ccTalk address.
    pub address: u8,
    /// Checksum it speaks.
    pub checksum: Checksum,
    /// Serial number (header 242).
    pub serial: u32,
    /// Coin id of positions 1..=16 (header 184); `"......"` = nothing programmed.
    pub coin_ids: Vec<String>,
}

impl SimAcceptorSpec {
    /// Serial 123456, simple checksum, coins 1, 5 and 10 pesos in positions 1-3
    /// (the default `[kiosk.coin] channel_values`).
    pub fn new(address: u8) -> SimAcceptorSpec {
        let mut coin_ids = vec!["......".to_string(); 16];
        for (i, id) in ["PH001A", "PH005A", "PH010A"].iter().enumerate() {
            coin_ids[i] = id.to_string();
        }
        SimAcceptorSpec {
            address,
            checksum: Checksum::Simple,
            serial: 123_456,
            coin_ids,
        }
    }
}

/// Controls a simulated ccTalk acceptor.
#[derive(Clone)]
pub struct SimAcceptor {
    tx: mpsc::Sender<AcceptorCommand>,
    state: watch::Receiver<AcceptorState>,
}

impl SimAcceptor {
    /// Starts the acceptor at `address` on the device end of a pty.
    pub fn spawn(port: tokio_serial::SerialStream, address: u8) -> SimAcceptor {
        SimAcceptor::spawn_with(port, SimAcceptorSpec::new(address))
    }

    /// Starts the acceptor `spec` describes on the device end of a pty.
    pub fn spawn_with(port: tokio_serial::SerialStream, spec: SimAcceptorSpec) -> SimAcceptor {
        let (tx, rx) = mpsc::channel(16);
        let (state_tx, state) = watch::channel(AcceptorState::default());
        tokio::spawn(acceptor(port, spec, rx, state_tx));
        SimAcceptor { tx, state }
    }

    /// A coin goes into credit channel `channel` (refused if inhibited).
    pub async fn insert(&self, channel: u8) {
        let _ = self.tx.send(AcceptorCommand::Insert(channel)).await;
    }

    /// Power cycle: the event counter goes back to 0 and inhibits are lost.
    pub async fn reset(&self) {
        let _ = self.tx.send(AcceptorCommand::Reset).await;
    }

    /// Writes raw bytes to the line, as electrical noise would.
    pub async fn noise(&self, bytes: &[u8]) {
        let _ = self.tx.send(AcceptorCommand::Noise(bytes.to_vec())).await;
    }

    /// Stops (or resumes) answering, as an unplugged acceptor.
    pub async fn silent(&self, on: bool) {
        let _ = self.tx.send(AcceptorCommand::Silent(on)).await;
    }

    /// The latest state.
    pub fn state(&self) -> AcceptorState {
        self.state.borrow().clone()
    }

    /// Waits until `pred` holds for the state.
    pub async fn wait_for(&self, pred: impl Fn(&AcceptorState) -> bool) -> AcceptorState {
        let mut rx = self.state.clone();
        let got = rx.wait_for(|s| pred(s)).await.map(|s| s.clone());
        got.unwrap_or_default()
    }
}

// Long on purpose: the simulated acceptor's answer to each ccTalk header, one arm each, as the device would.
async fn acceptor(
    mut port: tokio_serial::SerialStream,
    spec: SimAcceptorSpec,
    mut commands: mpsc::Receiver<AcceptorCommand>,
    state_tx: watch::Sender<AcceptorState>,
) {
    let address = spec.address;
    let mut state = AcceptorState::default();
    let mut counter: u8 = 0;
    let mut events: [Option<CreditEvent>; 5] = [None; 5];
    let mut silent = false;
    let mut buf = BytesMut::new();
    let decoder = Decoder::with_checksum(spec.checksum);
    let mut chunk = [0u8; 64];
    let push = |counter: &mut u8, events: &mut [Option<CreditEvent>; 5], e: CreditEvent| {
        // 1..=255, wrapping to 1: 0 is reserved for "just reset".
        *counter = if *counter == 255 { 1 } else { *counter + 1 };
        events.rotate_right(1);
        events[0] = Some(e);
    };
    loop {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                None => return,
                Some(AcceptorCommand::Insert(ch)) => {
                    let enabled = state.accepting && (1..=16).contains(&ch) && state.mask & (1 << (ch - 1)) != 0;
                    // Error code 2 = inhibited coin (ccTalk error code table).
                    let e = if enabled { CreditEvent::Credit { channel: ch, sorter: 1 } } else { CreditEvent::Error { code: 2 } };
                    push(&mut counter, &mut events, e);
                    if enabled {
                        state.accepted += 1;
                        state_tx.send_replace(state.clone());
                    }
                }
                Some(AcceptorCommand::Reset) => {
                    counter = 0;
                    events = [None; 5];
                    state.accepting = false;
                    state.mask = 0;
                    state_tx.send_replace(state.clone());
                }
                Some(AcceptorCommand::Noise(bytes)) => {
                    let _ = port.write_all(&bytes).await;
                }
                Some(AcceptorCommand::Silent(on)) => silent = on,
            },
            n = port.read(&mut chunk) => {
                let Ok(n) = n else { return };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some(req) = decoder.decode(&mut buf) {
                    if req.dest != address || silent {
                        continue;
                    }
                    let data = match req.header {
                        header::SIMPLE_POLL => vec![],
                        header::READ_BUFFERED_CREDIT => {
                            state.polls += 1;
                            BufferedCredit { counter, events }.to_data()
                        }
                        header::MODIFY_INHIBIT if req.data.len() == 2 => {
                            state.mask = u16::from_le_bytes([req.data[0], req.data[1]]);
                            vec![]
                        }
                        header::MODIFY_MASTER_INHIBIT if req.data.len() == 1 => {
                            state.accepting = req.data[0] & 1 == 1;
                            state.master_commands += 1;
                            vec![]
                        }
                        header::REQUEST_COIN_ID if req.data.len() == 1 => {
                            let position = usize::from(req.data[0]);
                            match spec.coin_ids.get(position.wrapping_sub(1)) {
                                Some(id) => id.as_bytes().to_vec(),
                                None => vec![],
                            }
                        }
                        header::REQUEST_EQUIPMENT_CATEGORY => b"Coin Acceptor".to_vec(),
                        header::REQUEST_MANUFACTURER_ID => b"SIM".to_vec(),
                        header::REQUEST_PRODUCT_CODE => b"SimCoin".to_vec(),
                        header::REQUEST_SERIAL_NUMBER => spec.serial.to_le_bytes()[..3].to_vec(),
                        header::REQUEST_COMMS_REVISION => vec![1, 4, 7],
                        header::RESET => {
                            counter = 0;
                            events = [None; 5];
                            state.accepting = false;
                            vec![]
                        }
                        _ => {
                            let nak = Frame { dest: HOST, src: address, header: header::NAK, data: vec![] };
                            if let Ok(b) = nak.encode_as(spec.checksum) {
                                let _ = port.write_all(&b).await;
                            }
                            continue;
                        }
                    };
                    state_tx.send_replace(state.clone());
                    let reply = Frame { dest: HOST, src: address, header: header::ACK, data };
                    if let Ok(b) = reply.encode_as(spec.checksum) {
                        let _ = port.write_all(&b).await;
                    }
                }
            }
        }
    }
}

/// A ticket the simulated printer cut off, parsed back from the ESC/POS bytes.
#[derive(Debug, Clone)]
pub struct PrintedTicket {
    /// Every byte received for it (status requests included).
    pub bytes: Vec<u8>,
    /// Text lines.
    pub lines: Vec<String>,
    /// Payload of the native QR code (`GS ( k` function 180), if any.
    pub qr: Option<String>,
    /// Line index the QR code was printed before.
    pub qr_line: usize,
    /// Raster images (`GS v 0`) as `(width in dots, height)`.
    pub images: Vec<(u32, u32)>,
    /// Paper used, in dots (1/203 inch) from the first line to the cut, as the
    /// printer moves it: each line feed by the line spacing (`ESC 3`) or the
    /// character height when taller, a QR code or an image by its height, feeds.
    pub length_dots: u32,
    /// When the cut command's last byte arrived.
    pub at: Instant,
}

impl PrintedTicket {
    /// The ticket as it came out, as a PNG: the text lines read back and the QR
    /// code redrawn from its payload (for the demo; styles are not kept).
    pub fn to_png(&self, paper: super::printer::Paper) -> Result<Vec<u8>, super::canvas::QrError> {
        Ok(super::printer::render::render_lines(
            &self.lines,
            self.qr.as_deref().map(|q| (self.qr_line, q)),
            paper,
        )?
        .to_png())
    }
}

/// Controls a simulated printer.
#[derive(Clone)]
pub struct SimPrinter {
    paper: Arc<Mutex<u8>>,
    cut_time: Arc<Mutex<Duration>>,
    answer_time: Arc<Mutex<Duration>>,
    /// Tickets, in order.
    pub tickets: Arc<tokio::sync::Mutex<mpsc::Receiver<PrintedTicket>>>,
}

impl SimPrinter {
    /// Starts the printer on the device end of a pty.
    pub fn spawn(port: tokio_serial::SerialStream) -> SimPrinter {
        let (tx, rx) = mpsc::channel(64);
        // 0x12: DLE EOT 4 reply with paper present (fixed bits 1 and 4 set).
        let paper = Arc::new(Mutex::new(0x12u8));
        let cut_time = Arc::new(Mutex::new(Duration::ZERO));
        let answer_time = Arc::new(Mutex::new(Duration::ZERO));
        let times = Times {
            cut: cut_time.clone(),
            answer: answer_time.clone(),
        };
        tokio::spawn(printer(port, paper.clone(), times, tx));
        SimPrinter {
            paper,
            cut_time,
            answer_time,
            tickets: Arc::new(tokio::sync::Mutex::new(rx)),
        }
    }

    /// Sets the paper sensors.
    pub fn set_paper(&self, out: bool, near_end: bool) {
        let byte = 0x12 | if out { 0x60 } else { 0 } | if near_end { 0x0C } else { 0 };
        if let Ok(mut p) = self.paper.lock() {
            *p = byte;
        }
    }

    /// How long the printer takes to feed and cut a ticket: the status request
    /// after a cut is answered that much later, while the ticket is already out.
    pub fn set_cut_time(&self, time: Duration) {
        if let Ok(mut t) = self.cut_time.lock() {
            *t = time;
        }
    }

    /// How long the printer takes to answer any status request (a busy machine
    /// runs this simulator late).
    pub fn set_answer_time(&self, time: Duration) {
        if let Ok(mut t) = self.answer_time.lock() {
            *t = time;
        }
    }

    /// The next ticket, waiting at most `timeout`.
    pub async fn next_ticket(&self, timeout: Duration) -> Option<PrintedTicket> {
        let mut rx = self.tickets.lock().await;
        tokio::time::timeout(timeout, rx.recv())
            .await
            .ok()
            .flatten()
    }
}

/// The simulated printer's delays (see [`SimPrinter::set_cut_time`]).
struct Times {
    cut: Arc<Mutex<Duration>>,
    answer: Arc<Mutex<Duration>>,
}

async fn printer(
    mut port: tokio_serial::SerialStream,
    paper: Arc<Mutex<u8>>,
    times: Times,
    tickets: mpsc::Sender<PrintedTicket>,
) {
    let mut cutting = false;
    let mut buf: Vec<u8> = Vec::new();
    let mut parsed = 0usize;
    let mut ticket = TicketParse::default();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match port.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match step(&buf[parsed..], &mut ticket) {
                Step::More => break,
                Step::Status(len) => {
                    parsed += len;
                    let time = |t: &Arc<Mutex<Duration>>| t.lock().map(|t| *t).unwrap_or_default();
                    let mut late = time(&times.answer);
                    if std::mem::take(&mut cutting) {
                        late += time(&times.cut);
                    }
                    tokio::time::sleep(late).await;
                    let byte = paper.lock().map(|p| *p).unwrap_or(0x12);
                    let _ = port.write_all(&[byte]).await;
                }
                Step::Done(len) => {
                    parsed += len;
                }
                Step::Cut(len) => {
                    parsed += len;
                    let bytes: Vec<u8> = buf.drain(..parsed).collect();
                    parsed = 0;
                    cutting = true;
                    let mut t = std::mem::take(&mut ticket);
                    t.flush_line();
                    let _ = tickets
                        .send(PrintedTicket {
                            bytes,
                            lines: t.lines,
                            qr: t.qr,
                            qr_line: t.qr_line,
                            images: t.images,
                            length_dots: t.length,
                            at: Instant::now(),
                        })
                        .await;
                }
            }
        }
    }
}

#[derive(Default)]
struct TicketParse {
    line: Vec<u8>,
    lines: Vec<String>,
    qr: Option<String>,
    qr_line: usize,
    images: Vec<(u32, u32)>,
    /// Dots fed so far.
    length: u32,
    /// `ESC 3 n`; `None` = power-on spacing (30 dots).
    spacing: Option<u32>,
    /// `GS !` height multiplier.
    height: u32,
    /// `GS ( k` function 167 module size.
    module: u32,
    /// `ESC % 1`: the user-defined set is selected (`~` is then the peso sign).
    user_set: bool,
}

impl TicketParse {
    /// One line feed: the spacing, or the character height when taller.
    fn feed_line(&mut self) {
        let spacing = self.spacing.unwrap_or(30);
        self.length += spacing.max(24 * self.height.max(1));
    }
}

impl TicketParse {
    fn flush_line(&mut self) {
        if !self.line.is_empty() {
            self.lines
                .push(String::from_utf8_lossy(&self.line).into_owned());
            self.line.clear();
        }
    }
}

enum Step {
    More,
    Status(usize),
    Done(usize),
    Cut(usize),
}

/// One command from the front of `b` (ESC/POS command lengths as in escpos.rs).
fn step(b: &[u8], t: &mut TicketParse) -> Step {
    let need = |n: usize| if b.len() >= n { Some(n) } else { None };
    let Some(&first) = b.first() else {
        return Step::More;
    };
    let done = |n: Option<usize>| n.map_or(Step::More, Step::Done);
    match first {
        0x0A => {
            if t.line.is_empty() {
                t.lines.push(String::new());
            }
            t.flush_line();
            t.feed_line();
            Step::Done(1)
        }
        0x10 => need(3).map_or(Step::More, Step::Status),
        0x1B => match b.get(1) {
            None => Step::More,
            Some(0x40) => {
                t.spacing = None;
                t.height = 1;
                done(need(2))
            }
            Some(0x32) => {
                t.spacing = None;
                done(need(2))
            }
            Some(0x33) => match b.get(2) {
                Some(n) => {
                    t.spacing = Some(u32::from(*n));
                    Step::Done(3)
                }
                None => Step::More,
            },
            Some(0x25) => match b.get(2) {
                Some(n) => {
                    t.user_set = n & 1 == 1;
                    Step::Done(3)
                }
                None => Step::More,
            },
            // ESC & y c1 c2, then per character x and y * x bytes.
            Some(0x26) => {
                let Some(n) = need(5) else { return Step::More };
                let (y, c1, c2) = (usize::from(b[2]), b[3], b[4]);
                let mut at = n;
                for _ in c1..=c2 {
                    let Some(&x) = b.get(at) else {
                        return Step::More;
                    };
                    at += 1 + y * usize::from(x);
                }
                done(need(at))
            }
            Some(0x64) => match b.get(2) {
                Some(n) => {
                    for _ in 0..*n {
                        t.feed_line();
                    }
                    Step::Done(3)
                }
                None => Step::More,
            },
            Some(_) => done(need(3)),
        },
        0x1D => match b.get(1) {
            None => Step::More,
            Some(0x56) => match need(4) {
                Some(n) => {
                    t.length += u32::from(b[3]);
                    Step::Cut(n)
                }
                None => Step::More,
            },
            Some(0x21) => match b.get(2) {
                Some(n) => {
                    t.height = u32::from(n & 0x0F) + 1;
                    Step::Done(3)
                }
                None => Step::More,
            },
            Some(0x28) => {
                let Some(n) = need(5) else { return Step::More };
                let len = usize::from(b[3]) | usize::from(b[4]) << 8;
                let Some(total) = need(n + len) else {
                    return Step::More;
                };
                // fn 180 (0x50): store QR data after `cn fn m`.
                if total >= 8 && b[6] == 0x50 {
                    t.qr = Some(String::from_utf8_lossy(&b[8..total]).into_owned());
                    t.qr_line = t.lines.len();
                }
                // fn 167 (0x43): module size.
                if total >= 8 && b[6] == 0x43 {
                    t.module = u32::from(b[7]);
                }
                // fn 181 (0x51): print; the symbol is its modules times the module size.
                if total >= 8 && b[6] == 0x51 {
                    if let Some(q) = t.qr.as_deref() {
                        let modules = super::canvas::qr(q.as_bytes())
                            .map(|c| c.width() as u32)
                            .unwrap_or(0);
                        t.length += modules * t.module.max(1);
                    }
                }
                Step::Done(total)
            }
            Some(0x76) => {
                let Some(n) = need(8) else { return Step::More };
                let x = usize::from(b[4]) | usize::from(b[5]) << 8;
                let y = usize::from(b[6]) | usize::from(b[7]) << 8;
                let Some(total) = need(n + x * y) else {
                    return Step::More;
                };
                t.images.push(((x * 8) as u32, y as u32));
                t.length += y as u32;
                Step::Done(total)
            }
            Some(_) => done(need(3)),
        },
        c => {
            if t.user_set && c == crate::printer::escpos::PESO_CODE {
                t.line.extend_from_slice("\u{20b1}".as_bytes());
            } else {
                t.line.push(c);
            }
            Step::Done(1)
        }
    }
}

/// Feeds pulse trains to the pulse decoder as a pulse acceptor would.
#[derive(Clone)]
pub struct SimPulses {
    tx: mpsc::Sender<Edge>,
}

impl SimPulses {
    /// A source for `coin::gpio::run` and the handle that drives it.
    pub fn new() -> (SimPulses, ChannelPulseSource) {
        let (tx, rx) = mpsc::channel(256);
        let source = ChannelPulseSource {
            edges: rx,
            inhibit_log: Arc::new(Mutex::new(Vec::new())),
        };
        (SimPulses { tx }, source)
    }

    /// `pulses` pulses of `width`, `period` apart, starting now; returns when the
    /// last pulse ends (the decoder reports the coin one train gap later).
    pub async fn insert(&self, pulses: u32, width: Duration, period: Duration) -> Instant {
        self.insert_at(Instant::now(), pulses, width, period).await
    }

    /// Like [`SimPulses::insert`] with the train starting at `t0`, which may be in
    /// the past (edges carry their own timestamps, as kernel GPIO events do).
    pub async fn insert_at(
        &self,
        t0: Instant,
        pulses: u32,
        width: Duration,
        period: Duration,
    ) -> Instant {
        let mut end = t0;
        for i in 0..pulses {
            let start = t0 + period * i;
            end = start + width;
            let _ = self
                .tx
                .send(Edge {
                    active: true,
                    at: start,
                })
                .await;
            let _ = self
                .tx
                .send(Edge {
                    active: false,
                    at: end,
                })
                .await;
        }
        end
    }
}

pub mod demo;
pub mod seller;
#[cfg(test)]
mod tests;
