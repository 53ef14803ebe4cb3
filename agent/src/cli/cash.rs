//! `hotspot-agent cash [show] | collect`: the coins in the cash box since it was last
//! emptied, and recording that it was emptied now, so the box can be reconciled
//! against the coins the kiosk counted in.

use clap::Subcommand;
use firmware_config::Config;

use crate::store::{CashBox, CashCollection, Store};
use crate::today::{local_text, system_zone};

/// `cash` subcommands.
#[derive(Debug, Subcommand)]
pub enum CashCommand {
    /// What the box should hold: coins per value since the last collection.
    Show {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Record that the box was emptied now; prints what should have been in it.
    Collect {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn coins_text(per_value: &[(u64, u64)], currency: &str) -> String {
    if per_value.is_empty() {
        return "no coins".into();
    }
    per_value
        .iter()
        .map(|(v, n)| format!("{n} x {v} {currency}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The box as text, in the kiosk's local time.
pub fn box_text(b: &CashBox, currency: &str) -> String {
    let (tz, _) = system_zone();
    let since = match &b.since {
        Some(c) => format!("since {} (collected by {})", local_text(c.at_ms, &tz), c.by),
        None => "since the kiosk started (never collected)".into(),
    };
    format!(
        "cash box       {} {currency} in {} coins {since}\n  coins        {}",
        b.total,
        b.coins,
        coins_text(&b.per_value, currency)
    )
}

fn collection_text(c: &CashCollection, currency: &str) -> String {
    let (tz, _) = system_zone();
    format!(
        "collected      {} {currency} in {} coins at {} (collection {})\n  coins        {}",
        c.total,
        c.coins,
        local_text(c.at_ms, &tz),
        c.id,
        coins_text(&c.per_value, currency)
    )
}

/// Runs a `cash` subcommand against the store.
pub fn run(cmd: CashCommand, store: &Store, config: &Config) -> anyhow::Result<()> {
    let currency = &config.vouchers.currency;
    match cmd {
        CashCommand::Show { json } => {
            let b = store.cash_box()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&b)?);
            } else {
                println!("{}", box_text(&b, currency));
            }
        }
        CashCommand::Collect { json } => {
            let c = store.collect_cash("cli", crate::store::now_ms())?;
            match (c, json) {
                (Some(c), true) => println!("{}", serde_json::to_string_pretty(&c)?),
                (Some(c), false) => println!("{}", collection_text(&c, currency)),
                (None, true) => println!("null"),
                (None, false) => {
                    println!("the box holds no coin since the last collection: nothing recorded")
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cash_collect_records_what_the_box_held_and_show_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        for v in [5, 5, 10] {
            store.add_credit(v, "coin", crate::store::now_ms()).unwrap();
        }
        let config = Config::bundled_default();
        let text = box_text(&store.cash_box().unwrap(), "PHP");
        assert!(text.contains("20 PHP in 3 coins"), "{text}");
        assert!(text.contains("2 x 5 PHP, 1 x 10 PHP"), "{text}");
        run(CashCommand::Collect { json: false }, &store, &config).unwrap();
        let done = store.recent_cash_collections(1).unwrap();
        assert_eq!(done[0].total, 20);
        assert_eq!(done[0].by, "cli");
        let text = box_text(&store.cash_box().unwrap(), "PHP");
        assert!(text.contains("0 PHP in 0 coins since"), "{text}");
    }
}
