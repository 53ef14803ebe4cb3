//! The ccTalk coin acceptor task: polls header 229 over any serial stream and reports coins.
//!
//! Owns the port (a `tokio_serial::SerialStream`, or a pty in tests). The ccTalk
//! spec asks hosts to poll 229 often enough that the 5-event buffer never
//! overflows; 100-200 ms is what acceptor makers recommend, and losses are still
//! detected from the counter and reported.
//!
//! Order at start: master inhibit first (the previous instance may have left the
//! slot open), then identification and the coin table ([`super::cctalk_ident`]),
//! then the channel mask, then the first 229 read, compared with the counter
//! stored with the last credit ([`CctalkSettings::resume`]); only then is the
//! master inhibit lifted, if the kiosk wants coins.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::cctalk::{check_reply, header, request, Checksum, Decoder, Frame, HOST};
use super::cctalk_credit::{BufferedCredit, CreditEvent, EventTracker};
use super::cctalk_ident::{self, AcceptorInfo, ChannelCheck, Verdict};
use super::{Coin, CoinError, CoinFault, CoinReport, CoinSource, EventMark};

/// How the task talks to the acceptor.
#[derive(Debug, Clone)]
pub struct CctalkSettings {
    /// Device path, for errors and logs.
    pub device: String,
    /// ccTalk address of the acceptor.
    pub address: u8,
    /// Time between 229 polls.
    pub poll_interval: Duration,
    /// How long to wait for a reply.
    pub reply_timeout: Duration,
    /// Credit channel to value; channels not listed stay inhibited.
    pub channel_values: Vec<(u8, u64)>,
    /// Configured coin ids (header 184) by channel, where the operator gave one.
    pub coin_ids: Vec<(u8, String)>,
    /// The line's checksum.
    pub checksum: Checksum,
    /// The counter stored with the last credit: events after it are credited at
    /// start. `None`: the first read is only a baseline.
    pub resume: Option<EventMark>,
}

impl CctalkSettings {
    /// From `[kiosk.coin]`.
    pub fn from_config(c: &firmware_config::kiosk::CoinConfig) -> CctalkSettings {
        CctalkSettings {
            device: c.port.clone(),
            address: c.address,
            poll_interval: c.poll_interval.std(),
            reply_timeout: Duration::from_millis(200),
            channel_values: c
                .channel_values
                .iter()
                .map(|cv| (cv.channel, cv.value))
                .collect(),
            coin_ids: c
                .channel_values
                .iter()
                .filter_map(|cv| cv.coin_id.clone().map(|id| (cv.channel, id)))
                .collect(),
            checksum: match c.checksum {
                firmware_config::kiosk::CctalkChecksum::Simple => Checksum::Simple,
                firmware_config::kiosk::CctalkChecksum::Crc16 => Checksum::Crc16,
            },
            resume: None,
        }
    }
}

/// Opens a serial port at `baud` 8N1, as ccTalk uses.
pub fn open_port(path: &str, baud: u32) -> Result<tokio_serial::SerialStream, CoinError> {
    use tokio_serial::SerialPortBuilderExt;
    tokio_serial::new(path, baud)
        .timeout(Duration::from_millis(50))
        .open_native_async()
        .map_err(|e| CoinError::Io {
            device: path.to_string(),
            source: std::io::Error::other(e.to_string()),
        })
}

/// The reply shape a request expects; anything else is not its reply.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Exactly this many data bytes in an ACK.
    Len(usize),
    /// Any ACK (variable-length text replies).
    Any,
}

fn expect_for(header: u8) -> Expect {
    match header {
        header::READ_BUFFERED_CREDIT => Expect::Len(11),
        header::REQUEST_COIN_ID => Expect::Len(6),
        header::REQUEST_SERIAL_NUMBER | header::REQUEST_COMMS_REVISION => Expect::Len(3),
        header::SIMPLE_POLL | header::MODIFY_INHIBIT | header::MODIFY_MASTER_INHIBIT => {
            Expect::Len(0)
        }
        _ => Expect::Any,
    }
}

struct Link<P> {
    port: P,
    buf: BytesMut,
    decoder: Decoder,
    settings: CctalkSettings,
}

impl<P: AsyncRead + AsyncWrite + Unpin> Link<P> {
    /// Sends one request and waits for its reply: addressed to us, from the
    /// acceptor, and of the shape the request asks for (a late reply to an
    /// earlier request is skipped). `Ok(None)` = no such reply in time.
    async fn transact(&mut self, frame: Frame) -> Result<Option<Frame>, CoinError> {
        let device = self.settings.device.clone();
        let io = |source| CoinError::Io {
            device: device.clone(),
            source,
        };
        let expect = expect_for(frame.header);
        let bytes = frame
            .encode_as(self.settings.checksum)
            .map_err(|e| io(std::io::Error::other(e)))?;
        // Stale bytes (a late reply, noise) must not be taken as this reply.
        self.buf.clear();
        self.port.write_all(&bytes).await.map_err(io)?;
        self.port.flush().await.map_err(io)?;
        let deadline = tokio::time::Instant::now() + self.settings.reply_timeout;
        // A CRC frame carries no source address; the destination still tells
        // our echo (to the device) from the reply (to the host).
        let from_acceptor = |f: &Frame| match self.settings.checksum {
            Checksum::Simple => f.src == self.settings.address,
            Checksum::Crc16 => true,
        };
        loop {
            while let Some(f) = self.decoder.decode(&mut self.buf) {
                if f.dest != HOST || !from_acceptor(&f) {
                    continue;
                }
                let fits = match (f.header, expect) {
                    (header::ACK, Expect::Len(n)) => f.data.len() == n,
                    (header::ACK, Expect::Any) => true,
                    // NAK and BUSY carry no data; the caller reads them as refusals.
                    (header::NAK | header::BUSY, _) => f.data.is_empty(),
                    _ => false,
                };
                if fits {
                    return Ok(Some(f));
                }
                tracing::debug!(
                    header = f.header,
                    len = f.data.len(),
                    "reply of another shape skipped"
                );
            }
            let mut chunk = [0u8; 64];
            match tokio::time::timeout_at(deadline, self.port.read(&mut chunk)).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) => return Err(io(std::io::ErrorKind::UnexpectedEof.into())),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => return Err(io(e)),
            }
        }
    }

    /// The ACK data of a request, or `None` (no answer, NAK, BUSY).
    async fn ask(&mut self, frame: Frame) -> Result<Option<Vec<u8>>, CoinError> {
        let header = frame.header;
        Ok(self
            .transact(frame)
            .await?
            .filter(|r| check_reply(r, header).is_ok())
            .map(|r| r.data))
    }

    /// Header 228: true when acknowledged.
    async fn master_inhibit(&mut self, inhibited: bool) -> Result<bool, CoinError> {
        let a = self.settings.address;
        Ok(self
            .ask(request::modify_master_inhibit(a, !inhibited))
            .await?
            .is_some())
    }

    /// Reads identification and the coin id of every configured channel.
    async fn identify(&mut self) -> Result<AcceptorInfo, CoinError> {
        let a = self.settings.address;
        let text = |d: Option<Vec<u8>>| d.map(|d| cctalk_ident::ascii(&d));
        let mut info = AcceptorInfo {
            address: a,
            category: text(
                self.ask(Frame::request(a, header::REQUEST_EQUIPMENT_CATEGORY, &[]))
                    .await?,
            ),
            manufacturer: text(
                self.ask(Frame::request(a, header::REQUEST_MANUFACTURER_ID, &[]))
                    .await?,
            ),
            product: text(
                self.ask(Frame::request(a, header::REQUEST_PRODUCT_CODE, &[]))
                    .await?,
            ),
            serial: self
                .ask(Frame::request(a, header::REQUEST_SERIAL_NUMBER, &[]))
                .await?
                .and_then(|d| cctalk_ident::serial(&d)),
            comms_revision: self
                .ask(Frame::request(a, header::REQUEST_COMMS_REVISION, &[]))
                .await?
                .and_then(|d| <[u8; 3]>::try_from(d).ok()),
            channels: Vec::new(),
        };
        for (channel, value) in self.settings.channel_values.clone() {
            let reported = self
                .ask(request::request_coin_id(a, channel))
                .await?
                .map(|d| cctalk_ident::ascii(&d));
            let expected = self
                .settings
                .coin_ids
                .iter()
                .find(|(c, _)| *c == channel)
                .map(|(_, id)| id.clone());
            let verdict =
                cctalk_ident::check_channel(value, expected.as_deref(), reported.as_deref());
            info.channels.push(ChannelCheck {
                channel,
                value,
                expected,
                reported,
                verdict,
            });
        }
        Ok(info)
    }

    /// Sends the channel mask and the master inhibit; true when both were acknowledged.
    async fn configure(&mut self, mask: u16, inhibited: bool) -> Result<bool, CoinError> {
        let a = self.settings.address;
        let r1 = self.ask(request::modify_inhibit(a, mask)).await?;
        let r2 = self.master_inhibit(inhibited).await?;
        Ok(r1.is_some() && r2)
    }
}

/// What a task remembers for the next one after it fails: the counter it
/// reported last, so a restarted task resumes from there.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// The latest counter reported to the runner.
    pub last: Option<EventMark>,
}

/// Runs the acceptor until the runner goes away. Starts inhibited; the runner
/// sends `false` on `inhibit` when the kiosk can sell.
pub async fn run<P: AsyncRead + AsyncWrite + Unpin>(
    port: P,
    settings: CctalkSettings,
    mut inhibit: mpsc::Receiver<bool>,
    reports: mpsc::Sender<CoinReport>,
) -> Result<(), CoinError> {
    run_session(
        port,
        settings,
        &mut inhibit,
        reports,
        &mut Session::default(),
    )
    .await
}

/// [`run`] with the inhibit channel and the session borrowed, so a supervisor
/// can start the task again on a new port after an error.
pub async fn run_session<P: AsyncRead + AsyncWrite + Unpin>(
    port: P,
    settings: CctalkSettings,
    inhibit: &mut mpsc::Receiver<bool>,
    reports: mpsc::Sender<CoinReport>,
    session: &mut Session,
) -> Result<(), CoinError> {
    use tracing::Instrument as _;
    let span = tracing::info_span!("cctalk", device = %settings.device, address = settings.address);
    serve(port, settings, inhibit, reports, session)
        .instrument(span)
        .await
}

/// [`run_session`] owning its inhibit channel and session and handing them back,
/// for [`super::supervise::supervise`].
pub async fn run_owned<P: AsyncRead + AsyncWrite + Unpin>(
    port: P,
    settings: CctalkSettings,
    mut inhibit: mpsc::Receiver<bool>,
    reports: mpsc::Sender<CoinReport>,
    mut session: Session,
) -> super::supervise::Ended {
    let result = run_session(port, settings, &mut inhibit, reports, &mut session).await;
    (result, inhibit, session)
}

/// Where the task stands with the acceptor.
struct State {
    /// What the kiosk wants.
    inhibited: bool,
    online: bool,
    /// Identified and the channel mask sent.
    configured: bool,
    /// The master inhibit still has to be set to `inhibited` after a (re)configure.
    need_master: bool,
    misses: u32,
    mask: u16,
    acceptor: String,
}

// Long on purpose: the poll loop of the ccTalk exchange; its arms follow the order of the exchange (inhibit, configure, poll, credit), which splitting would hide.
async fn serve<P: AsyncRead + AsyncWrite + Unpin>(
    port: P,
    settings: CctalkSettings,
    inhibit: &mut mpsc::Receiver<bool>,
    reports: mpsc::Sender<CoinReport>,
    session: &mut Session,
) -> Result<(), CoinError> {
    let decoder = Decoder::with_checksum(settings.checksum);
    let mut link = Link {
        port,
        buf: BytesMut::new(),
        decoder,
        settings,
    };
    let send = |r: CoinReport| {
        let reports = reports.clone();
        async move { reports.send(r).await.map_err(|_| CoinError::Closed) }
    };
    // Shut the slot before anything else: the acceptor keeps the state the
    // previous instance left, which may be "accepting".
    link.master_inhibit(true).await?;
    let resume = session
        .last
        .clone()
        .or_else(|| link.settings.resume.clone());
    let mut tracker: Option<EventTracker> = None;
    let mut st = State {
        inhibited: true,
        online: false,
        configured: false,
        need_master: true,
        misses: 0,
        mask: 0,
        acceptor: format!("cctalk:{}", link.settings.address),
    };
    let mut tick = tokio::time::interval(link.settings.poll_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            cmd = inhibit.recv() => {
                let Some(on) = cmd else { return Ok(()) };
                st.inhibited = on;
                // Until configured (and the event counter read), the acceptor stays
                // inhibited; the poll arm applies the wanted state.
                if !st.configured || st.need_master {
                    continue;
                }
                if !link.master_inhibit(on).await? {
                    tracing::warn!(inhibit = on, "acceptor did not acknowledge master inhibit; will resend");
                    st.configured = false;
                }
            }
            _ = tick.tick() => {
                if !st.configured {
                    if link.ask(request::simple_poll(link.settings.address)).await?.is_none() {
                        st.misses += 1;
                        if st.online || st.misses == 3 {
                            st.online = false;
                            send(CoinReport::Fault(CoinFault::NoAnswer)).await?;
                        }
                        continue;
                    }
                    let info = link.identify().await?;
                    if !info.is_coin_acceptor() {
                        send(CoinReport::Warning(format!(
                            "the device at ccTalk address {} says it is {:?}, not a coin acceptor: check [kiosk.coin] address",
                            info.address, info.category.as_deref().unwrap_or_default()
                        ))).await?;
                    }
                    for c in info.channels.iter().filter(|c| c.verdict == Verdict::Mismatch) {
                        send(CoinReport::Warning(format!(
                            "coin acceptor channel {} reports coin id {:?}, which does not fit value {}{}: the channel stays inhibited; fix [kiosk.coin] channel_values or the acceptor's coin table",
                            c.channel, c.reported.as_deref().unwrap_or_default(), c.value,
                            c.expected.as_deref().map(|e| format!(" (coin_id {e:?})")).unwrap_or_default()
                        ))).await?;
                    }
                    if info.channels.iter().any(|c| c.verdict == Verdict::Unverified) {
                        send(CoinReport::Warning("the coin acceptor does not report coin ids (header 184): its channels cannot be checked against [kiosk.coin] channel_values".into())).await?;
                    }
                    st.mask = info.enable_mask();
                    st.acceptor = info.key();
                    send(CoinReport::Identified(Box::new(info))).await?;
                    // Configure inhibited and read the event counter first, so the
                    // baseline holds no coin of ours; enable after that read.
                    st.configured = link.configure(st.mask, true).await?;
                    if !st.configured {
                        continue;
                    }
                    st.need_master = true;
                }
                let Some(reply) = link.transact(request::read_buffered_credit(link.settings.address)).await? else {
                    st.misses += 1;
                    if st.misses >= 3 && st.online {
                        st.online = false;
                        send(CoinReport::Fault(CoinFault::StoppedAnswering)).await?;
                    }
                    continue;
                };
                let credit = match check_reply(&reply, 229).and_then(|_| BufferedCredit::parse(&reply)) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "bad 229 reply ignored");
                        continue;
                    }
                };
                st.misses = 0;
                if !st.online {
                    st.online = true;
                    send(CoinReport::Online).await?;
                }
                let tracker = tracker.get_or_insert_with(|| match &resume {
                    // A stored counter of another acceptor (swapped, re-addressed) says nothing of this one.
                    Some(m) if m.acceptor == st.acceptor => EventTracker::resume(m.counter),
                    _ => EventTracker::new(),
                });
                let first = session.last.as_ref().is_none_or(|m| m.acceptor != st.acceptor);
                let new = tracker.update(&credit);
                let mark = |counter| EventMark { acceptor: st.acceptor.clone(), counter };
                if new.reset {
                    tracing::warn!("acceptor reset (event counter 0): re-sending inhibits");
                    send(CoinReport::Warning("coin acceptor was reset (event counter 0): coins it held before the reset are not known; inhibits re-sent".into())).await?;
                    st.configured = link.configure(st.mask, true).await?;
                    st.need_master = true;
                }
                if let Some(fault) = new.fault {
                    tracing::error!(%fault, "event counter not counted");
                    send(CoinReport::Warning(fault.to_string())).await?;
                }
                if new.lost > 0 {
                    send(CoinReport::Warning(format!("{} coin acceptor event(s) lost: the acceptor's buffer holds 5", new.lost))).await?;
                }
                let mut credited_to = None;
                for (event, counter) in new.events.iter().zip(&new.counters) {
                    match *event {
                        CreditEvent::Credit { channel, .. } => {
                            match link.settings.channel_values.iter().find(|(c, _)| *c == channel) {
                                Some(&(_, value)) => {
                                    tracing::info!(channel, value, counter, "coin");
                                    send(CoinReport::Coin(Coin {
                                        value,
                                        source: CoinSource::Channel(channel),
                                        mark: Some(mark(*counter)),
                                    })).await?;
                                    credited_to = Some(*counter);
                                }
                                None => {
                                    send(CoinReport::Warning(format!(
                                        "coin in channel {channel} has no value: add it to [kiosk.coin] channel_values"
                                    ))).await?;
                                }
                            }
                        }
                        // Rejected coins, slugs and the like: the acceptor returned them.
                        CreditEvent::Error { code } => tracing::debug!(code, "acceptor error event"),
                    }
                }
                // The counter moved past events that credited nothing (or this is the
                // first read): store it, so a restart does not count them again.
                // A 0 (fresh power-up) is stored too: the acceptor's first coin ever
                // must be credited even if the agent dies before committing it.
                let already = session
                    .last
                    .as_ref()
                    .is_some_and(|m| m.acceptor == st.acceptor && m.counter == credit.counter);
                if (first || credited_to != Some(credit.counter)) && !already {
                    send(CoinReport::Counter(mark(credit.counter))).await?;
                }
                session.last = Some(mark(credit.counter));
                if st.need_master && st.configured {
                    st.need_master = !link.master_inhibit(st.inhibited).await?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coin::cctalk::Frame;

    fn link(port: tokio::io::DuplexStream) -> Link<tokio::io::DuplexStream> {
        Link {
            port,
            buf: BytesMut::new(),
            decoder: Decoder::default(),
            settings: CctalkSettings {
                device: "duplex".into(),
                address: 2,
                poll_interval: Duration::from_millis(150),
                reply_timeout: Duration::from_millis(300),
                channel_values: vec![(1, 1)],
                coin_ids: vec![],
                checksum: Checksum::Simple,
                resume: None,
            },
        }
    }

    fn reply(src: u8, data: &[u8]) -> Vec<u8> {
        Frame {
            dest: HOST,
            src,
            header: header::ACK,
            data: data.to_vec(),
        }
        .encode()
        .unwrap()
    }

    #[tokio::test]
    async fn a_reply_must_come_from_the_acceptor_and_have_its_requests_shape() {
        let (agent, mut device) = tokio::io::duplex(256);
        let mut link = link(agent);
        let answer = tokio::spawn(async move {
            let mut req = [0u8; 5];
            device.read_exact(&mut req).await.unwrap();
            // A late ACK to an earlier 228/231 (no data), a 229-shaped reply from
            // another address, then the real reply.
            let mut out = reply(2, &[]);
            out.extend(reply(3, &[9, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]));
            out.extend(reply(2, &[4, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]));
            device.write_all(&out).await.unwrap();
            device
        });
        let got = link
            .transact(request::read_buffered_credit(2))
            .await
            .unwrap()
            .expect("the real reply");
        assert_eq!((got.src, got.data[0]), (2, 4), "{got:?}");
        let _device = answer.await.unwrap();
    }

    #[tokio::test]
    async fn a_reply_of_the_wrong_shape_alone_is_no_reply() {
        let (agent, mut device) = tokio::io::duplex(256);
        let mut link = link(agent);
        let answer = tokio::spawn(async move {
            let mut req = [0u8; 5];
            device.read_exact(&mut req).await.unwrap();
            device.write_all(&reply(2, &[])).await.unwrap();
            device
        });
        let got = link
            .transact(request::read_buffered_credit(2))
            .await
            .unwrap();
        assert_eq!(got, None, "an empty ACK is not a 229 reply");
        let _device = answer.await.unwrap();
    }
}
