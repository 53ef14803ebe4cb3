//! Coin and bill acceptors: the pulse decoder, the ccTalk codec and device task, GPIO input.

pub mod cctalk;
pub mod cctalk_credit;
pub mod cctalk_device;
pub mod cctalk_ident;
pub mod gpio;
pub mod pulse;
pub mod supervise;

use tokio::sync::mpsc;

/// Errors of the coin device tasks.
#[derive(Debug, thiserror::Error)]
pub enum CoinError {
    /// The serial port or GPIO line failed.
    #[error("coin acceptor on {device}: {source}: check the cable and [kiosk.coin]")]
    Io {
        /// Device path.
        device: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The GPIO chip or line could not be opened or read.
    #[error("coin acceptor GPIO {chip} line {line}: {message}: check [kiosk.coin] gpio_chip and pulse_line/inhibit_line")]
    Gpio {
        /// Chip path.
        chip: String,
        /// Line offset.
        line: u32,
        /// What failed.
        message: String,
    },
    /// The runner went away; the task ends.
    #[error("coin acceptor task stopped: the kiosk runner is gone")]
    Closed,
}

/// Why the coin acceptor cannot take coins; the slot stays shut until it is back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoinFault {
    /// The ccTalk acceptor has not answered since the task started (or was reconfigured).
    #[error("coin acceptor does not answer ccTalk")]
    NoAnswer,
    /// The ccTalk acceptor answered, then stopped answering polls.
    #[error("coin acceptor stopped answering ccTalk")]
    StoppedAnswering,
    /// The coin device task ended (its error is in the log).
    #[error("coin acceptor task ended")]
    TaskEnded,
    /// The coin device task failed and is restarted after a pause.
    #[error("coin acceptor task failed ({0}); restarting")]
    Restarting(String),
}

/// Cloneable handle to a coin device task: sets the inhibit.
#[derive(Debug, Clone)]
pub struct CoinHandle {
    tx: mpsc::Sender<bool>,
}

impl CoinHandle {
    /// A handle and the receiver the device task listens on.
    pub fn channel() -> (CoinHandle, mpsc::Receiver<bool>) {
        let (tx, rx) = mpsc::channel(8);
        (CoinHandle { tx }, rx)
    }

    /// `true` makes the acceptor refuse coins.
    pub async fn inhibit(&self, on: bool) -> Result<(), CoinError> {
        self.tx.send(on).await.map_err(|_| CoinError::Closed)
    }
}

/// Money accepted by an acceptor, in the smallest currency unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coin {
    /// Credit value.
    pub value: u64,
    /// Where it came from: pulses in the train, or the ccTalk credit channel.
    pub source: CoinSource,
    /// The ccTalk event counter of this credit, stored in the same transaction.
    pub mark: Option<EventMark>,
}

/// An acceptor's event counter as it stood after an event: stored with the
/// credit the event led to, so a restart credits exactly what came after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMark {
    /// Which acceptor ([`cctalk_ident::AcceptorInfo::key`]).
    pub acceptor: String,
    /// Its event counter (1..=255; 0 = just reset).
    pub counter: u8,
}

/// How the acceptor told us about a coin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoinSource {
    /// A pulse train of this many pulses.
    Pulses(u32),
    /// A ccTalk credit on this channel.
    Channel(u8),
}

/// What a coin device task reports to the runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoinReport {
    /// Money was accepted.
    Coin(Coin),
    /// The acceptor answers and accepts coins (again).
    Online,
    /// The acceptor stopped answering; coins cannot be taken.
    Fault(CoinFault),
    /// Something the operator should know that does not stop sales (a train not
    /// credited, events lost, a reset the task recovered from).
    Warning(String),
    /// The counter moved without a credit (a rejected coin, the first read): store it.
    Counter(EventMark),
    /// What the acceptor said about itself at start.
    Identified(Box<cctalk_ident::AcceptorInfo>),
}
