//! A sheet of vouchers on the thermal roll, as Mikhmon prints voucher sheets for a
//! shop to hand out: the site once, then one small card per voucher (plan and price,
//! the code in large letters, how long it lasts) between dashed lines, and the
//! login steps once at the end. One cut for the whole sheet.
//!
//! The sheet goes to the printer in jobs of [`CARDS_PER_JOB`] cards, so the printer
//! task checks the paper between jobs and a roll that runs out stops the sheet at
//! a known card instead of in the middle of an unknown one.

use super::escpos::{Align, EscPos};
use super::{Paper, Ticket};

/// Cards sent to the printer in one job.
pub const CARDS_PER_JOB: usize = 10;

/// The sheet as printer jobs: the first starts with the heading, the last ends
/// with the login steps and the cut. Each job holds whole cards only.
pub fn sheet_jobs(cards: &[Ticket], paper: Paper) -> Vec<Vec<u8>> {
    let width = paper.chars();
    let rule: String = "-".repeat(width);
    let mut jobs = Vec::new();
    let chunks: Vec<&[Ticket]> = cards.chunks(CARDS_PER_JOB).collect();
    for (n, chunk) in chunks.iter().enumerate() {
        let mut p = EscPos::new();
        if n == 0 {
            p.init()
                .line_spacing(super::escpos::LINE_SPACING)
                .define_peso();
            if let Some(first) = cards.first() {
                p.align(Align::Center)
                    .bold(true)
                    .size(1, 2)
                    .line(&clip(&first.site_name, width))
                    .size(1, 1)
                    .bold(false);
            }
        }
        for card in chunk.iter() {
            p.align(Align::Left).line(&rule);
            p.align(Align::Center).line(&clip(&card.headline(), width));
            match &card.password {
                Some(pass) => {
                    p.bold(true)
                        .line(&clip(&format!("{} {}", card.words.user, card.code), width))
                        .line(&clip(
                            &format!("{} {}", card.words.password, pass.expose()),
                            width,
                        ))
                        .bold(false);
                }
                None => {
                    let big = card.code.chars().count() <= width / 2;
                    p.bold(true)
                        .size(if big { 2 } else { 1 }, 2)
                        .line(&clip(&card.code, width))
                        .size(1, 1)
                        .bold(false);
                }
            }
            if let Some(valid) = &card.valid {
                p.line(&clip(valid, width));
            }
        }
        if n + 1 == chunks.len() {
            p.align(Align::Left).line(&rule);
            if let Some(first) = cards.first() {
                for step in first.steps() {
                    p.line(&clip(&step, width));
                }
            }
            p.feed(1).cut(0);
        }
        jobs.push(p.into_bytes());
    }
    jobs
}

fn clip(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}
