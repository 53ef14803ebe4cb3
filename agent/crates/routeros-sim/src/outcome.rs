//! What a command produced, for the API session and REST alike: items, traps, or a
//! stream that goes on (`listen`, `print =follow=`).

use super::menus::{Menu, Trap};
use super::query::Query;

/// One printed item, properties in print order.
pub(crate) type Item = Vec<(String, routeros_proto::Word)>;

/// A `listen` or `print =follow=` that goes on after its first replies.
#[derive(Debug, Clone)]
pub(crate) struct StreamSpec {
    /// The menu watched.
    pub menu: Menu,
    /// Which items are reported.
    pub query: Query,
    /// `.proplist`, if given.
    pub proplist: Option<Vec<String>>,
}

/// What a command produced.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Success: `!re` items, then `!done` with `=ret=` if any. `print` marks a
    /// print, which gets `!empty` on 7.18+ when it found nothing.
    Done {
        items: Vec<Item>,
        ret: Option<String>,
        print: bool,
    },
    /// Failure: one or more `!trap`, then `!done`.
    Traps(Vec<Trap>),
    /// Streaming: `items` first, then changes until cancelled.
    Stream { items: Vec<Item>, spec: StreamSpec },
}

impl Outcome {
    pub(crate) fn done() -> Outcome {
        Outcome::Done {
            items: Vec::new(),
            ret: None,
            print: false,
        }
    }

    pub(crate) fn trap(t: Trap) -> Outcome {
        Outcome::Traps(vec![t])
    }
}
