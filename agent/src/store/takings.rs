//! What the owner took since a moment, kept apart by channel: coins counted into the
//! box (money in hand) and vouchers made, per source. A batch made for a drawer or a
//! voucher made from the command line is not money taken until someone sells it.

use serde::Serialize;

use super::{Store, StoreError};

/// Vouchers one channel made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelSales {
    /// `coins` (the kiosk, paid by coin), `cli`, `batch`, `remote`.
    pub channel: String,
    /// How many vouchers.
    pub vouchers: u64,
    /// Their face value, in the smallest currency unit.
    pub value: u64,
}

/// Coins in and vouchers out since a moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Takings {
    /// Coins counted in.
    pub coins: u64,
    /// Their value: the money taken.
    pub coins_value: u64,
    /// Vouchers per channel, `coins` first, then by name.
    pub per_channel: Vec<ChannelSales>,
}

/// The channel a sale's `source` is shown under.
pub fn channel_of(source: &str) -> &str {
    match source {
        "kiosk" => "coins",
        other => other,
    }
}

impl Store {
    /// Coins counted in and vouchers made since `since_ms`.
    pub fn takings_since(&self, since_ms: i64) -> Result<Takings, StoreError> {
        self.read("sum the takings", |c| {
            let (coins, coins_value): (i64, i64) = c.query_row(
                "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM credit \
                 WHERE source = 'coin' AND amount > 0 AND created_at_ms >= ?1",
                [since_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut stmt = c.prepare(
                "SELECT source, COUNT(*), COALESCE(SUM(price), 0) FROM sales \
                 WHERE sold_at_ms >= ?1 AND state IN ('reserved', 'provisioned', 'delivered') \
                 GROUP BY source",
            )?;
            let mut per_channel = stmt
                .query_map([since_ms], |r| {
                    Ok(ChannelSales {
                        channel: channel_of(&r.get::<_, String>(0)?).to_string(),
                        vouchers: r.get::<_, i64>(1)?.max(0) as u64,
                        value: r.get::<_, i64>(2)?.max(0) as u64,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            per_channel.sort_by(|a, b| {
                (a.channel != "coins", &a.channel).cmp(&(b.channel != "coins", &b.channel))
            });
            Ok(Takings {
                coins: coins.max(0) as u64,
                coins_value: coins_value.max(0) as u64,
                per_channel,
            })
        })
    }
}
