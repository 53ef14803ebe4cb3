//! The clock checkpoint: the latest wall-clock time the agent trusted, kept across
//! restarts so a clock that boots behind it is known to be wrong.

use rusqlite::{params, OptionalExtension};

use super::{Durability, Store, StoreError};

impl Store {
    /// The latest trusted time, if one was recorded.
    pub fn clock_checkpoint(&self) -> Result<Option<i64>, StoreError> {
        self.read("read the clock checkpoint", |c| {
            Ok(c.query_row(
                "SELECT trusted_ms FROM clock_checkpoint WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    /// Records `trusted_ms` as the latest trusted time; it never moves back.
    pub fn set_clock_checkpoint(&self, trusted_ms: i64) -> Result<(), StoreError> {
        self.write("record the clock checkpoint", Durability::Normal, |tx| {
            tx.execute(
                "INSERT INTO clock_checkpoint (id, trusted_ms) VALUES (1, ?1) \
                 ON CONFLICT (id) DO UPDATE SET trusted_ms = max(trusted_ms, excluded.trusted_ms)",
                params![trusted_ms],
            )?;
            Ok(())
        })
    }
}
