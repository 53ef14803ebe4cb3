//! Sales made for a key the central office chose (an online order's id, a remote
//! `CreateVouchers` request id and the voucher's place in it): the key is written
//! in the same transaction as the sale, so however often the request comes (a lost
//! reply, a broker outage, a restart between), it is one sale.

use rusqlite::{params, OptionalExtension, Transaction};

use super::sales::{insert, take_from_pool_tx};
use super::sales_read::get;
use super::{Durability, NewSale, Sale, SaleState, Store, StoreError};

fn link(tx: &Transaction<'_>, key: &str, sale_id: i64, now_ms: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sale_keys (key, sale_id, created_at_ms) VALUES (?1, ?2, ?3)",
        params![key, sale_id, now_ms],
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict {
                what: format!("key {key} already has a sale"),
            }
        }
        other => other.into(),
    })?;
    Ok(())
}

impl Store {
    /// The sale made for `key`, if there is one.
    pub fn sale_for_key(&self, key: &str) -> Result<Option<Sale>, StoreError> {
        self.read("find the sale for a key", |c| {
            let id: Option<i64> = c
                .query_row("SELECT sale_id FROM sale_keys WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?;
            id.map(|id| get(c, id)).transpose()
        })
    }

    /// [`Store::reserve_sale`] for `key`, in one transaction with the key.
    pub fn reserve_sale_keyed(
        &self,
        sale: &NewSale,
        key: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        self.write("reserve a sale for a key", Durability::Money, |tx| {
            let id = insert(tx, sale, SaleState::Reserved, Some(now_ms), now_ms)?;
            link(tx, key, id, now_ms)?;
            Ok(id)
        })
    }

    /// [`Store::take_from_pool`] for `key`, in one transaction with the key.
    pub fn take_from_pool_keyed(
        &self,
        plan_id: &str,
        price: u64,
        source: &str,
        key: &str,
        now_ms: i64,
        payload: impl FnOnce(&Sale) -> Vec<u8>,
    ) -> Result<Option<Sale>, StoreError> {
        self.write("sell a pool voucher for a key", Durability::Money, |tx| {
            let sale = take_from_pool_tx(tx, plan_id, price, source, None, now_ms, payload)?;
            if let Some(s) = &sale {
                link(tx, key, s.id, now_ms)?;
            }
            Ok(sale)
        })
    }
}
