//! Credit: coins inserted (+), spent on sales (-) and refunded (+). The balance is
//! the sum; every row is committed with `synchronous=FULL` before the display moves.

use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

use super::error::fit;
use super::{Durability, Store, StoreError};

/// One credit movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditEntry {
    pub id: i64,
    /// Positive for coins and refunds, negative for spending.
    pub amount: i64,
    /// `coin:<acceptor>`, `sale`, `refund`, …
    pub source: String,
    pub sale_id: Option<i64>,
    pub created_at_ms: i64,
}

fn balance_tx(tx: &rusqlite::Connection) -> Result<i64, StoreError> {
    Ok(
        tx.query_row("SELECT COALESCE(SUM(amount), 0) FROM credit", [], |r| {
            r.get(0)
        })?,
    )
}

pub(crate) fn spend_tx(
    tx: &Transaction<'_>,
    amount: u64,
    sale_id: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    let spend = fit("price", amount)?;
    let balance = balance_tx(tx)?;
    if balance < spend {
        return Err(StoreError::InsufficientCredit {
            balance,
            needed: amount,
        });
    }
    tx.execute(
        "INSERT INTO credit (amount, source, sale_id, created_at_ms) VALUES (?1, 'sale', ?2, ?3)",
        params![-spend, sale_id, now_ms],
    )?;
    Ok(())
}

/// Gives back what a sale spent, once; returns the amount given back (0 when the
/// sale was paid by nobody: a pool voucher, a batch, the command line).
pub(crate) fn refund_tx(
    tx: &Transaction<'_>,
    sale_id: i64,
    now_ms: i64,
) -> Result<u64, StoreError> {
    let spent: Option<i64> = tx
        .query_row(
            "SELECT -SUM(amount) FROM credit WHERE sale_id = ?1 AND source IN ('sale', 'refund')",
            [sale_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    if let Some(amount) = spent.filter(|a| *a > 0) {
        tx.execute(
            "INSERT INTO credit (amount, source, sale_id, created_at_ms) VALUES (?1, 'refund', ?2, ?3)",
            params![amount, sale_id, now_ms],
        )?;
        return Ok(amount as u64);
    }
    Ok(0)
}

fn set_counter_tx(
    tx: &Transaction<'_>,
    acceptor: &str,
    counter: u8,
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO coin_counter (id, acceptor, counter, updated_at_ms) VALUES (1, ?1, ?2, ?3) \
         ON CONFLICT (id) DO UPDATE SET acceptor = excluded.acceptor, counter = excluded.counter, \
         updated_at_ms = excluded.updated_at_ms",
        params![acceptor, counter, now_ms],
    )?;
    Ok(())
}

impl Store {
    /// Records inserted money; returns the credit id. Committed durably before returning.
    pub fn add_credit(&self, amount: u64, source: &str, now_ms: i64) -> Result<i64, StoreError> {
        self.add_coin(amount, source, None, now_ms)
    }

    /// Like [`Store::add_credit`], with the acceptor's event counter after this
    /// coin written in the same transaction: either both are on disk or neither.
    pub fn add_coin(
        &self,
        amount: u64,
        source: &str,
        counter: Option<(&str, u8)>,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let amount = fit("credit", amount)?;
        self.write("record credit", Durability::Money, |tx| {
            if let Some((acceptor, counter)) = counter {
                set_counter_tx(tx, acceptor, counter, now_ms)?;
            }
            let balance = balance_tx(tx)?;
            if balance.checked_add(amount).is_none() {
                return Err(StoreError::OutOfRange {
                    what: "credit balance".into(),
                    value: amount as u64,
                    max: i64::MAX,
                });
            }
            tx.execute(
                "INSERT INTO credit (amount, source, created_at_ms) VALUES (?1, ?2, ?3)",
                params![amount, source, now_ms],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// Credit left behind by a customer (the operator keeps it): at most the
    /// balance is taken. Returns the amount taken.
    pub fn forfeit_credit(&self, amount: u64, now_ms: i64) -> Result<u64, StoreError> {
        self.write("forfeit credit", Durability::Money, |tx| {
            let wanted = i64::try_from(amount).unwrap_or(i64::MAX);
            let take = balance_tx(tx)?.clamp(0, wanted);
            if take > 0 {
                tx.execute(
                    "INSERT INTO credit (amount, source, created_at_ms) VALUES (?1, 'forfeit', ?2)",
                    params![-take, now_ms],
                )?;
            }
            Ok(take as u64)
        })
    }

    /// Stores the acceptor's event counter where it moved without a credit.
    pub fn set_coin_counter(
        &self,
        acceptor: &str,
        counter: u8,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.write("store the coin acceptor counter", Durability::Money, |tx| {
            set_counter_tx(tx, acceptor, counter, now_ms)
        })
    }

    /// The acceptor and event counter stored last.
    pub fn coin_counter(&self) -> Result<Option<(String, u8)>, StoreError> {
        self.read("read the coin acceptor counter", |c| {
            let row: Option<(String, i64)> = c
                .query_row(
                    "SELECT acceptor, counter FROM coin_counter WHERE id = 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            // A counter outside 0..=255 is not one an acceptor gave: no baseline.
            Ok(row.and_then(|(a, n)| u8::try_from(n).ok().map(|n| (a, n))))
        })
    }

    /// Whether the store takes a durable write now (a row written and removed in
    /// one transaction, so nothing is left behind).
    pub fn check_writable(&self, now_ms: i64) -> Result<(), StoreError> {
        self.write("test a write", Durability::Money, |tx| {
            tx.execute(
                "INSERT INTO events (at_ms, level, kind, message) VALUES (?1, 'info', 'store_check', '')",
                [now_ms],
            )?;
            tx.execute("DELETE FROM events WHERE id = ?1", [tx.last_insert_rowid()])?;
            Ok(())
        })
    }

    /// Money inserted and not yet spent.
    pub fn credit_balance(&self) -> Result<i64, StoreError> {
        self.read("read credit balance", balance_tx)
    }

    /// Credit movements, newest first.
    pub fn credit_entries(&self, limit: u32) -> Result<Vec<CreditEntry>, StoreError> {
        self.read("list credit", |c| {
            let mut stmt = c.prepare(
                "SELECT id, amount, source, sale_id, created_at_ms FROM credit ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt
                .query_map([limit], |r| {
                    Ok(CreditEntry {
                        id: r.get(0)?,
                        amount: r.get(1)?,
                        source: r.get(2)?,
                        sale_id: r.get(3)?,
                        created_at_ms: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}
