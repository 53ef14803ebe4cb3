//! The cash box: coins counted in since the last collection, and each collection
//! (when, how much, by whom) so the box can be reconciled against sales. A
//! collection covers every coin credit row up to `last_credit_id`; the next box
//! starts after it. The central office gets each collection once: the sync layer
//! reads [`Store::cash_collections_unsent`] and marks each one sent when acked.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Durability, Store, StoreError};

/// What is in the box now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CashBox {
    /// `(coin value, how many)`, smallest value first.
    pub per_value: Vec<(u64, u64)>,
    /// Coins in the box.
    pub coins: u64,
    /// Their value, in the smallest currency unit.
    pub total: u64,
    /// The collection it started after; `None` for a box never emptied.
    pub since: Option<CashCollection>,
}

/// One emptying of the box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CashCollection {
    pub id: i64,
    pub at_ms: i64,
    /// The value taken out, in the smallest currency unit.
    pub total: u64,
    /// How many coins.
    pub coins: u64,
    /// `(coin value, how many)`, smallest first.
    pub per_value: Vec<(u64, u64)>,
    /// Who pressed "collected": `cli`, `owner-page`, …
    pub by: String,
    /// The last coin credit row it covers.
    pub last_credit_id: i64,
    /// When the central office acknowledged it; `None` while it still has to go up.
    pub sent_at_ms: Option<i64>,
}

const COLLECTION_COLUMNS: &str =
    "id, at_ms, total, coins, per_value, by_whom, last_credit_id, sent_at_ms";

fn per_value_text(per_value: &[(u64, u64)]) -> String {
    per_value
        .iter()
        .map(|(v, n)| format!("{v}x{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `5x10,1x3` (the `per_value` column) as `(value, how many)` pairs.
pub(crate) fn parse_per_value(text: &str) -> Vec<(u64, u64)> {
    text.split(',')
        .filter_map(|part| {
            let (v, n) = part.split_once('x')?;
            Some((v.parse().ok()?, n.parse().ok()?))
        })
        .collect()
}

fn collection_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CashCollection> {
    Ok(CashCollection {
        id: r.get(0)?,
        at_ms: r.get(1)?,
        total: r.get::<_, i64>(2)?.max(0) as u64,
        coins: r.get::<_, i64>(3)?.max(0) as u64,
        per_value: parse_per_value(&r.get::<_, String>(4)?),
        by: r.get(5)?,
        last_credit_id: r.get(6)?,
        sent_at_ms: r.get(7)?,
    })
}

fn last_collection(c: &rusqlite::Connection) -> Result<Option<CashCollection>, StoreError> {
    Ok(c.query_row(
        &format!("SELECT {COLLECTION_COLUMNS} FROM cash_collections ORDER BY id DESC LIMIT 1"),
        [],
        collection_row,
    )
    .optional()?)
}

/// `(coin value, how many)` rows, smallest value first.
type PerValue = Vec<(u64, u64)>;

/// Coins after credit row `after`, up to the newest: `(per value, newest credit id)`.
fn coins_after(
    c: &rusqlite::Connection,
    after: i64,
) -> Result<(PerValue, Option<i64>), StoreError> {
    let mut stmt = c.prepare(
        "SELECT amount, COUNT(*) FROM credit WHERE source = 'coin' AND id > ?1 AND amount > 0 \
         GROUP BY amount ORDER BY amount",
    )?;
    let per_value = stmt
        .query_map([after], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let newest: Option<i64> = c.query_row(
        "SELECT MAX(id) FROM credit WHERE source = 'coin' AND id > ?1",
        [after],
        |r| r.get(0),
    )?;
    Ok((per_value, newest))
}

fn sums(per_value: &[(u64, u64)]) -> (u64, u64) {
    per_value.iter().fold((0, 0), |(coins, total), (v, n)| {
        (coins + n, total.saturating_add(v.saturating_mul(*n)))
    })
}

impl Store {
    /// The coins in the box since the last collection.
    pub fn cash_box(&self) -> Result<CashBox, StoreError> {
        self.read("read the cash box", |c| {
            let since = last_collection(c)?;
            let (per_value, _) = coins_after(c, since.as_ref().map_or(0, |s| s.last_credit_id))?;
            let (coins, total) = sums(&per_value);
            Ok(CashBox {
                per_value,
                coins,
                total,
                since,
            })
        })
    }

    /// Records that the box was emptied now: everything counted in since the last
    /// collection. `None` when the box held no coin (nothing is recorded).
    pub fn collect_cash(
        &self,
        by: &str,
        now_ms: i64,
    ) -> Result<Option<CashCollection>, StoreError> {
        self.write("record a cash collection", Durability::Money, |tx| {
            let after = last_collection(tx)?.map_or(0, |s| s.last_credit_id);
            let (per_value, newest) = coins_after(tx, after)?;
            let Some(last_credit_id) = newest else {
                return Ok(None);
            };
            let (coins, total) = sums(&per_value);
            tx.execute(
                "INSERT INTO cash_collections (at_ms, total, coins, per_value, by_whom, last_credit_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    now_ms,
                    i64::try_from(total).unwrap_or(i64::MAX),
                    coins as i64,
                    per_value_text(&per_value),
                    by,
                    last_credit_id
                ],
            )?;
            Ok(Some(CashCollection {
                id: tx.last_insert_rowid(),
                at_ms: now_ms,
                total,
                coins,
                per_value,
                by: by.to_string(),
                last_credit_id,
                sent_at_ms: None,
            }))
        })
    }

    /// Collections, newest first.
    pub fn recent_cash_collections(&self, limit: u32) -> Result<Vec<CashCollection>, StoreError> {
        self.collections("list cash collections", "1 ORDER BY id DESC", limit)
    }

    /// Collections the central office has not acknowledged, oldest first: what the
    /// sync layer sends (each once; it calls [`Store::mark_cash_collection_sent`] on
    /// the ack).
    pub fn cash_collections_unsent(&self, limit: u32) -> Result<Vec<CashCollection>, StoreError> {
        self.collections(
            "list unsent cash collections",
            "sent_at_ms IS NULL ORDER BY id",
            limit,
        )
    }

    /// Collections matching `filter` (a fixed SQL condition and order, never input).
    fn collections(
        &self,
        what: &str,
        filter: &'static str,
        limit: u32,
    ) -> Result<Vec<CashCollection>, StoreError> {
        self.read(what, |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLLECTION_COLUMNS} FROM cash_collections WHERE {filter} LIMIT ?1"
            ))?;
            let rows = stmt
                .query_map([limit], collection_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Marks a collection as acknowledged by the central office; `false` when it was
    /// already marked (or does not exist), so a repeated ack changes nothing.
    pub fn mark_cash_collection_sent(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        self.write("mark a cash collection sent", Durability::Normal, |tx| {
            let n = tx.execute(
                "UPDATE cash_collections SET sent_at_ms = ?2 WHERE id = ?1 AND sent_at_ms IS NULL",
                params![id, now_ms],
            )?;
            Ok(n == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_counts_coins_per_value_and_a_collection_empties_it() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(
            store.collect_cash("cli", 1).unwrap(),
            None,
            "nothing to take"
        );
        for v in [5, 5, 1, 10, 5] {
            store.add_credit(v, "coin", 10).unwrap();
        }
        store.add_credit(20, "refund", 11).unwrap();
        let b = store.cash_box().unwrap();
        assert_eq!(b.per_value, vec![(1, 1), (5, 3), (10, 1)]);
        assert_eq!((b.coins, b.total), (5, 26), "refunds are not coins");
        let c = store
            .collect_cash("cli", 100)
            .unwrap()
            .expect("a collection");
        assert_eq!((c.coins, c.total, c.by.as_str()), (5, 26, "cli"));
        assert_eq!(c.per_value, b.per_value);
        let empty = store.cash_box().unwrap();
        assert_eq!((empty.coins, empty.total), (0, 0));
        assert_eq!(empty.since.as_ref().map(|s| s.id), Some(c.id));
        store.add_credit(5, "coin", 200).unwrap();
        assert_eq!(
            store.cash_box().unwrap().total,
            5,
            "the next box starts after it"
        );
        assert_eq!(store.recent_cash_collections(10).unwrap(), vec![c]);
    }

    #[test]
    fn each_collection_is_marked_sent_once() {
        let store = Store::open_in_memory().unwrap();
        store.add_credit(5, "coin", 1).unwrap();
        let first = store.collect_cash("cli", 2).unwrap().unwrap();
        store.add_credit(1, "coin", 3).unwrap();
        let second = store.collect_cash("owner-page", 4).unwrap().unwrap();
        let unsent: Vec<i64> = store
            .cash_collections_unsent(10)
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(unsent, vec![first.id, second.id], "oldest first");
        assert!(store.mark_cash_collection_sent(first.id, 5).unwrap());
        assert!(
            !store.mark_cash_collection_sent(first.id, 6).unwrap(),
            "a repeated ack"
        );
        assert_eq!(store.cash_collections_unsent(10).unwrap().len(), 1);
    }
}
