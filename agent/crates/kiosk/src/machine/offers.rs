//! What credit buys: kiosk plans by price, or time by the rate table.

use std::time::Duration;

use firmware_config::kiosk::SellMode;
use firmware_config::Config;

use crate::labels;
use crate::printer::TicketLook;
use crate::words::fill;

/// A plan offered on the kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Plan id.
    pub id: String,
    /// Name customers see.
    pub name: String,
    /// Price in the smallest unit.
    pub price: u64,
}

/// Everything the state machine needs from the configuration.
#[derive(Debug, Clone)]
pub struct MachineConfig {
    /// Plans or rates.
    pub mode: SellMode,
    /// Time to insert coins and choose.
    pub insert_window: Duration,
    /// Buy the best affordable thing when the window runs out (else keep the credit).
    pub buy_on_timeout: bool,
    /// Keep leftover credit after a sale (else it is forfeited).
    pub carry_over: bool,
    /// Buy as soon as nothing dearer could be bought.
    pub auto_buy: bool,
    /// Time the voucher screen stays up.
    pub show_voucher_for: Duration,
    /// Kiosk plans, in button order.
    pub plans: Vec<Offer>,
    /// `(credit, time)`, rates mode.
    pub rates: Vec<(u64, Duration)>,
    /// Profile for rate sales.
    pub rate_profile: String,
    /// How tickets and screens read: site name, language, money, time zone.
    pub look: TicketLook,
    /// A printer is configured.
    pub has_printer: bool,
    /// A display is configured.
    pub has_display: bool,
}

impl MachineConfig {
    /// From a validated configuration.
    pub fn from_config(c: &Config) -> MachineConfig {
        use firmware_config::kiosk::{DisplayKind, OnTimeout, PrinterKind};
        let k = &c.kiosk;
        MachineConfig {
            mode: k.mode,
            insert_window: k.insert_window.std(),
            buy_on_timeout: k.on_timeout == OnTimeout::BuyBest,
            carry_over: k.carry_over,
            auto_buy: k.auto_buy,
            show_voucher_for: k.show_voucher_for.std(),
            plans: c
                .plans
                .iter()
                .filter(|p| p.kiosk)
                .map(|p| Offer {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    price: p.price,
                })
                .collect(),
            rates: k.rates.iter().map(|r| (r.credit, r.time.std())).collect(),
            rate_profile: k.rate_profile.clone(),
            look: TicketLook::from_config(c),
            has_printer: k.printer.kind != PrinterKind::None,
            has_display: k.display.kind != DisplayKind::None,
        }
    }

    /// The ticket of a sold voucher, as this kiosk prints it.
    pub fn ticket(&self, v: &crate::SaleReceipt) -> crate::printer::Ticket {
        crate::printer::Ticket::for_voucher(v, &self.look)
    }

    /// How an amount reads.
    pub fn money(&self, amount: u64) -> String {
        self.look.money.show(amount)
    }

    /// The dearest plan `credit` pays for (first listed on a tie).
    pub fn best_plan(&self, credit: u64) -> Option<&Offer> {
        self.plans
            .iter()
            .filter(|p| p.price <= credit)
            .fold(None, |best: Option<&Offer>, p| match best {
                Some(b) if b.price >= p.price => Some(b),
                _ => Some(p),
            })
    }

    /// Most time `credit` buys by the rate table, and what it costs.
    pub fn best_time(&self, credit: u64) -> Option<(Duration, u64)> {
        best_time(&self.rates, credit)
    }

    /// Whether waiting for more coins could buy anything better.
    pub fn nothing_better(&self, credit: u64) -> bool {
        match self.mode {
            SellMode::Plans => self
                .plans
                .iter()
                .map(|p| p.price)
                .max()
                .is_some_and(|m| credit >= m),
            SellMode::Rates => self
                .rates
                .iter()
                .map(|r| r.0)
                .max()
                .is_some_and(|m| credit >= m),
        }
    }

    /// Idle screen lines: `(button and name, price)`.
    pub fn idle_offers(&self) -> Vec<(String, String)> {
        match self.mode {
            SellMode::Plans => self
                .plans
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("{} {}", i + 1, p.name), self.money(p.price)))
                .collect(),
            SellMode::Rates => {
                let mut r = self.rates.clone();
                r.sort();
                r.iter()
                    .map(|(c, t)| (labels::time_span(*t), self.money(*c)))
                    .collect()
            }
        }
    }

    /// Credit screen lines: what each button buys with `credit`, or what is missing
    /// (`1 hour ₱5 - press 1`, `1 day ₱20 - insert ₱15 more`).
    pub fn credit_lines(&self, credit: u64) -> Vec<String> {
        let w = self.look.words;
        match self.mode {
            SellMode::Plans => self
                .plans
                .iter()
                .enumerate()
                .map(|(i, p)| self.plan_line(i, p, credit))
                .collect(),
            SellMode::Rates => match self.best_time(credit) {
                Some((t, _)) => vec![
                    fill(w.buys, &labels::time_span(t)),
                    w.press_to_buy.to_string(),
                ],
                None => {
                    let min = self.rates.iter().map(|r| r.0).min().unwrap_or(0);
                    vec![fill(w.insert_more, &self.money(min.saturating_sub(credit)))]
                }
            },
        }
    }

    /// `1 hour ₱5 - press 1` or `1 day ₱20 - insert ₱15 more`.
    pub fn plan_line(&self, index: usize, p: &Offer, credit: u64) -> String {
        let w = self.look.words;
        let what = if p.price <= credit {
            fill(w.press, &(index + 1).to_string())
        } else {
            fill(w.insert_more, &self.money(p.price - credit))
        };
        format!("{} {} - {what}", p.name, self.money(p.price))
    }
}

/// Unbounded knapsack over the rate table: the most time for at most `credit`,
/// preferring the lower cost on a tie. Coin vendos sell this way (5 + 1 + 1 = 7).
pub fn best_time(rates: &[(u64, Duration)], credit: u64) -> Option<(Duration, u64)> {
    let min = rates.iter().map(|r| r.0).filter(|c| *c > 0).min()?;
    if credit < min {
        return None;
    }
    // Above this the table is large; a greedy choice by value per credit is close enough.
    const DP_LIMIT: u64 = 100_000;
    if credit > DP_LIMIT {
        let mut sorted: Vec<_> = rates.iter().filter(|r| r.0 > 0).copied().collect();
        sorted.sort_by(|a, b| {
            (b.1.as_secs_f64() / b.0 as f64).total_cmp(&(a.1.as_secs_f64() / a.0 as f64))
        });
        let (mut left, mut time) = (credit, Duration::ZERO);
        for (c, t) in sorted {
            time += t * (left / c) as u32;
            left %= c;
        }
        return Some((time, credit - left));
    }
    let n = credit as usize;
    let mut best = vec![0u64; n + 1]; // seconds for exactly-at-most i credit
    for i in 1..=n {
        best[i] = best[i - 1];
        for &(c, t) in rates {
            if c > 0 && c as usize <= i {
                best[i] = best[i].max(best[i - c as usize] + t.as_secs());
            }
        }
    }
    let top = best[n];
    let cost = (0..=n).find(|&i| best[i] == top).unwrap_or(n) as u64;
    Some((Duration::from_secs(top), cost))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(n: u64) -> Duration {
        Duration::from_secs(60 * n)
    }

    #[test]
    fn seven_coins_buy_eighty_minutes_at_juanfi_rates() {
        let rates = [(1, m(10)), (5, m(60)), (10, m(120))];
        assert_eq!(best_time(&rates, 7), Some((m(80), 7)));
        assert_eq!(best_time(&rates, 10), Some((m(120), 10)));
        assert_eq!(best_time(&rates, 0), None);
    }

    #[test]
    fn credit_that_no_rate_uses_is_left_over() {
        let rates = [(5, m(60))];
        assert_eq!(best_time(&rates, 7), Some((m(60), 5)));
    }

    #[test]
    fn large_credit_falls_back_to_greedy_by_value() {
        let rates = [(100, m(10)), (500, m(60))];
        let (t, cost) = best_time(&rates, 100_700).unwrap();
        assert_eq!(cost, 100_700);
        assert_eq!(t, m(60) * 201 + m(10) * 2);
    }
}
