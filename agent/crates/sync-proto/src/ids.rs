//! Message ids, unique for ever: a sale's carries the site's epoch (16 hex digits
//! drawn when its state folder was made, so a wiped folder never reuses an id and
//! two sites never share one); every other message's is 32 random hex digits.

/// A random message id with a readable prefix, e.g. `report-3f9c0a1b22d4e5f6…` (128 bits).
pub fn new_msg_id(prefix: &str) -> String {
    let mut b = [0u8; 16];
    // The OS random source does not fail on Linux after boot; should it, the id is
    // still unique enough for a single message (time is mixed in below).
    if getrandom::fill(&mut b).is_err() {
        b[..8].copy_from_slice(&hotspot_clock::now_ms().to_le_bytes());
    }
    format!("{prefix}-{}", hex::encode(b))
}

/// A new site epoch: 16 random hex digits.
pub fn new_epoch() -> String {
    let id = new_msg_id("e");
    id[2..18].to_string()
}

/// The message id of a sale's first record: `sale-<epoch>-<sale_id>`.
pub fn sale_msg_id(epoch: &str, sale_id: &str) -> String {
    format!("sale-{epoch}-{sale_id}")
}

/// The message id of a sale's later state (`delivered`, `failed`, `refunded`):
/// `sale-<epoch>-<sale_id>-<state>`, one message per state, each deduplicated alone.
pub fn sale_state_msg_id(epoch: &str, sale_id: &str, state: &str) -> String {
    format!("sale-{epoch}-{sale_id}-{state}")
}

/// The message id of a cash-box collection: `cash-<epoch>-<collection_id>`.
pub fn cash_msg_id(epoch: &str, collection_id: &str) -> String {
    format!("cash-{epoch}-{collection_id}")
}

/// The collection id in a cash-box message id of this epoch, if it is one.
pub fn cash_collection_of(epoch: &str, msg_id: &str) -> Option<i64> {
    msg_id
        .strip_prefix("cash-")?
        .strip_prefix(epoch)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_shaped_as_the_readme_says() {
        let a = new_msg_id("event");
        assert_eq!(a.len(), "event-".len() + 32);
        assert_ne!(a, new_msg_id("event"));
        let e = new_epoch();
        assert!(
            e.len() == 16 && e.chars().all(|c| c.is_ascii_hexdigit()),
            "{e}"
        );
        assert_eq!(sale_msg_id("00ff", "42"), "sale-00ff-42");
        assert_eq!(
            sale_state_msg_id("00ff", "42", "delivered"),
            "sale-00ff-42-delivered"
        );
        assert_eq!(cash_msg_id("00ff", "3"), "cash-00ff-3");
        assert_eq!(cash_collection_of("00ff", "cash-00ff-3"), Some(3));
        assert_eq!(
            cash_collection_of("00fe", "cash-00ff-3"),
            None,
            "another epoch"
        );
        assert_eq!(cash_collection_of("00ff", "sale-00ff-3"), None);
    }
}
