//! Credit: coins inserted (+), spent on sales (-) and refunded (+). The balance is
//! the sum; every row is committed with `synchronous=FULL` before the display moves.

use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

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
    let balance = balance_tx(tx)?;
    if balance < amount as i64 {
        return Err(StoreError::InsufficientCredit {
            balance,
            needed: amount,
        });
    }
    tx.execute(
        "INSERT INTO credit (amount, source, sale_id, created_at_ms) VALUES (?1, 'sale', ?2, ?3)",
        params![-(amount as i64), sale_id, now_ms],
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

impl Store {
    /// Records inserted money; returns the credit id. Committed durably before returning.
    pub fn add_credit(&self, amount: u64, source: &str, now_ms: i64) -> Result<i64, StoreError> {
        self.write("record credit", Durability::Money, |tx| {
            tx.execute(
                "INSERT INTO credit (amount, source, created_at_ms) VALUES (?1, ?2, ?3)",
                params![amount as i64, source, now_ms],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// Credit left behind by a customer (the operator keeps it): at most the
    /// balance is taken. Returns the amount taken.
    pub fn forfeit_credit(&self, amount: u64, now_ms: i64) -> Result<u64, StoreError> {
        self.write("forfeit credit", Durability::Money, |tx| {
            let take = balance_tx(tx)?.clamp(0, amount as i64);
            if take > 0 {
                tx.execute(
                    "INSERT INTO credit (amount, source, created_at_ms) VALUES (?1, 'forfeit', ?2)",
                    params![-take, now_ms],
                )?;
            }
            Ok(take as u64)
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
