//! The rows of the fault matrix: each fault as the simulator's console words that
//! start and end it, how long it is held, and when the router cannot make a user.

use std::time::Duration;

/// One row: console lines that start the fault, how long it lasts, the lines that
/// end it (none: the agent must cope by itself).
pub struct Fault {
    pub name: &'static str,
    pub start: &'static [&'static str],
    pub hold: Duration,
    pub heal: &'static [&'static str],
    /// When the router itself cannot take an add, as the fault set it (not as the
    /// agent believes): what the coin slot is judged against.
    pub down: Down,
    /// In the short form CI runs.
    pub short: bool,
}

/// When the router cannot create a user.
#[derive(Clone, Copy)]
pub enum Down {
    /// It always can (a fault of the link or of its data, which the agent must ride out).
    Never,
    /// From the start of the fault until the lines that end it.
    WhileHeld,
    /// For this long from the start (a reboot).
    For(Duration),
}

const S: Duration = Duration::from_secs(1);

pub fn rows() -> Vec<Fault> {
    let row = |name, start, hold, heal, down, short| Fault {
        name,
        start,
        hold,
        heal,
        down,
        short,
    };
    vec![
        row(
            "connection dropped before the reply (command not carried out)",
            &["drop-before 3"],
            3 * S,
            &["faults off"],
            Down::Never,
            false,
        ),
        row(
            "connection dropped after the command was carried out",
            &["drop-after 3"],
            3 * S,
            &["faults off"],
            Down::Never,
            true,
        ),
        row(
            "replies stalled 4 s",
            &["stall 5 4s"],
            3 * S,
            &["faults off"],
            Down::Never,
            false,
        ),
        row(
            "!fatal after 4 commands",
            &["fatal 4"],
            3 * S,
            &["faults off"],
            Down::Never,
            false,
        ),
        row(
            "slow link 50 ms",
            &["latency 50ms"],
            3 * S,
            &["latency 2ms"],
            Down::Never,
            false,
        ),
        row(
            "slow link 500 ms",
            &["latency 500ms"],
            3 * S,
            &["latency 2ms"],
            Down::Never,
            false,
        ),
        row(
            "router restarted, users intact",
            &["restart boot 2s"],
            2 * S,
            &[],
            Down::For(2 * S),
            false,
        ),
        row(
            "router restarted, users lost (reset / old backup)",
            &["restart lose-users boot 2s"],
            2 * S,
            &[],
            Down::For(2 * S),
            true,
        ),
        row(
            "API service disabled",
            &["api disable"],
            4 * S,
            &["api enable"],
            Down::WhileHeld,
            true,
        ),
        row(
            "the agent's API password changed",
            &["password changed-by-admin"],
            4 * S,
            &["password "],
            Down::WhileHeld,
            false,
        ),
        row(
            "the profile of a plan deleted",
            &["remove-profile kiosk-2m"],
            3 * S,
            &[],
            Down::Never,
            false,
        ),
        row(
            "a sold voucher's user removed by hand",
            &["remove-user $SOLD"],
            S,
            &[],
            Down::Never,
            false,
        ),
    ]
}
