//! Keeps a coin device task running: one serial or GPIO error must not leave
//! the kiosk without an acceptor until someone restarts the agent. The task is
//! started again after a pause that doubles up to 30 s; meanwhile the runner
//! hears [`CoinFault::Restarting`], so the kiosk refuses coins and says why.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::cctalk_device::Session;
use super::{CoinError, CoinFault, CoinReport};

/// First pause after a failure.
const FIRST_PAUSE: Duration = Duration::from_millis(500);
/// Longest pause.
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// A task that ran this long before failing starts over with the first pause.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// What one run of a device task hands back: how it ended, and the inhibit
/// channel and session for the next run.
pub type Ended = (Result<(), CoinError>, mpsc::Receiver<bool>, Session);

/// Runs `start` until the runner goes away, starting it again after each error.
pub async fn supervise<S, F>(
    what: &'static str,
    mut inhibit: mpsc::Receiver<bool>,
    reports: mpsc::Sender<CoinReport>,
    mut start: S,
) where
    S: FnMut(mpsc::Receiver<bool>, Session) -> F,
    F: Future<Output = Ended>,
{
    let mut session = Session::default();
    let mut pause = FIRST_PAUSE;
    loop {
        let began = Instant::now();
        let (result, rx, s) = start(inhibit, session).await;
        inhibit = rx;
        session = s;
        let error = match result {
            Ok(()) | Err(CoinError::Closed) => return,
            Err(e) => e,
        };
        if reports.is_closed() {
            // The runner is gone (the agent is stopping): what the device did
            // meanwhile is no fault to report.
            tracing::debug!(error = %error, "{what} task ended after the kiosk stopped");
            return;
        }
        if began.elapsed() >= HEALTHY_RUN {
            pause = FIRST_PAUSE;
        }
        tracing::error!(error = %error, pause_ms = pause.as_millis() as u64, "{what} task failed; starting it again");
        let fault = CoinReport::Fault(CoinFault::Restarting(error.to_string()));
        if reports.send(fault).await.is_err() {
            return;
        }
        // Keep taking inhibit commands while waiting: the runner must never block
        // on a full channel, and the next run starts inhibited anyway.
        let wait = tokio::time::sleep(pause);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                cmd = inhibit.recv() => if cmd.is_none() { return },
            }
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
