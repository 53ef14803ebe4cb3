//! A scripted purchase through a running kiosk with simulated devices, for the
//! `demo` command: coins into the simulated acceptor, a button, the ticket back.

use std::time::Duration;

use super::PrintedTicket;
use crate::runner::{Kiosk, KioskStatus};

/// Why the scripted purchase did not end with a ticket.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The kiosk was started without the simulated acceptor or printer.
    #[error("the demo needs [kiosk.coin] kind = \"sim\" and [kiosk.printer] kind = \"sim\"")]
    NotSimulated,
    /// A step did not happen in time.
    #[error("demo purchase: {0} within {1:?}; the kiosk status was: {2}")]
    Timeout(&'static str, Duration, String),
    /// The kiosk showed the credit, but the button press started no sale.
    #[error("demo purchase: pressing button {0} started no sale; the kiosk status was: {1}")]
    PressIgnored(usize, String),
}

/// Inserts coins into credit `channels` (see `[kiosk.coin] channel_values`),
/// presses `button` and returns the printed ticket.
pub async fn purchase(
    kiosk: &Kiosk,
    channels: &[u8],
    button: usize,
    timeout: Duration,
) -> Result<PrintedTicket, DemoError> {
    let (Some(acceptor), Some(printer)) = (kiosk.sim.acceptor.clone(), kiosk.sim.printer.clone())
    else {
        return Err(DemoError::NotSimulated);
    };
    let status = |what| DemoError::Timeout(what, timeout, format!("{:?}", kiosk.handle.status()));
    tokio::time::timeout(timeout, acceptor.wait_for(|s| s.accepting))
        .await
        .map_err(|_| status("coin slot enabled"))?;
    let before = kiosk.handle.status();
    let value = |ch: &u8| {
        kiosk
            .sim
            .channel_values
            .iter()
            .find(|(c, _)| c == ch)
            .map_or(0, |(_, v)| *v)
    };
    let inserted: u64 = channels.iter().map(value).sum();
    for ch in channels {
        acceptor.insert(*ch).await;
    }
    // Each coin shows as credit only once committed; with auto_buy the sale may
    // start by itself. A press counts only on the credit screen (on a ticket it
    // clears the screen, during a sale it is ignored), so wait for that screen.
    let want = before.credit + inserted;
    let sold = |s: &KioskStatus| s.delivered > before.delivered || s.screen.starts_with("Working");
    let credit = tokio::time::timeout(
        timeout,
        kiosk
            .handle
            .wait_for(|s| sold(s) || s.credit >= want && s.screen.starts_with("Credit")),
    )
    .await
    .map_err(|_| status("credit shown"))?;
    if !sold(&credit) {
        kiosk.handle.press_and_wait(button).await;
        let pressed = kiosk.handle.status();
        if !sold(&pressed) {
            return Err(DemoError::PressIgnored(button, format!("{pressed:?}")));
        }
    }
    let ticket = printer
        .next_ticket(timeout)
        .await
        .ok_or_else(|| status("ticket printed"))?;
    // The ticket is out before the printer answers the kiosk. The purchase ends
    // once the kiosk has counted it delivered: the next customer then finds the
    // kiosk done printing, and `before` above is not a count from mid-sale.
    tokio::time::timeout(
        timeout,
        kiosk.handle.wait_for(|s| s.delivered > before.delivered),
    )
    .await
    .map_err(|_| status("ticket counted delivered"))?;
    Ok(ticket)
}
