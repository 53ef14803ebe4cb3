//! How a row is judged: the coin slot against what the kiosk could really do, the
//! books (coins, credit, sales, router users), and what the agent did, in words.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hotspot_agent::store::SaleState;

use super::rows::Down;
use super::{Outcome, Rig};

/// How long the slot may stay open after the kiosk became unable to sell before it
/// counts as wrong: the agent learns of the router's going on its next router call
/// (pool and enforcement rounds every second here) and the kiosk reads that within
/// 250 ms.
pub const OPEN_SETTLE: Duration = Duration::from_secs(2);
/// How long it may stay shut after the kiosk became able to sell again: a reconnect
/// first waits out the link's back-off (1, then 2 s while the router was down; 1, 2,
/// 4 s … after refused logins), then the next round finds the router.
pub const SHUT_SETTLE: Duration = Duration::from_secs(5);

/// The coin slot against what the kiosk could really do: sell when the router takes
/// an add (the fault's [`Down`]) or a ready pool voucher is left. A mismatch counts
/// only for the part that lasts past its settling time (the slot also shuts for a moment
/// during each purchase).
pub fn judge_slot(
    samples: &[(Instant, bool, u32)],
    down: Down,
    t0: Instant,
    healed: Instant,
    out: &mut Outcome,
) {
    let router_up = |t: Instant| match down {
        Down::Never => true,
        Down::WhileHeld => t < t0 || t >= healed,
        Down::For(d) => t < t0 || t >= t0 + d,
    };
    // Since when the slot has disagreed with the kiosk's ability, and which way.
    let mut since: Option<(Instant, bool)> = None;
    for w in samples.windows(2).filter(|w| w[0].0 >= t0) {
        let (at, open, ready) = w[0];
        let dt = w[1].0 - at;
        if !open {
            out.shut += dt;
        }
        let can_sell = router_up(at) || ready > 0;
        since = match since {
            _ if open == can_sell => None,
            Some((from, was_open)) if was_open == open => Some((from, was_open)),
            _ => Some((at, open)),
        };
        if let Some((from, _)) = since {
            let settle = if open { OPEN_SETTLE } else { SHUT_SETTLE };
            let past = (w[1].0 - from).saturating_sub(settle).min(dt);
            if open {
                out.open_wrongly += past;
            } else {
                out.shut_wrongly += past;
            }
        }
    }
}

/// What the agent did, in words, from its log and events.
pub fn what_it_did(o: &Outcome) -> String {
    let log = |words: &str| -> usize {
        o.log
            .iter()
            .filter(|(m, _)| m.contains(words))
            .map(|(_, n)| n)
            .sum()
    };
    let kind = |k: &str| o.kinds.get(k).copied().unwrap_or(0);
    let mut did = Vec::new();
    let lost = log("connection ended") + log("connection failed") + log("connection reopened");
    if lost > 0 {
        did.push(format!("reopened the router link ({lost} losses)"));
    }
    if o.shut > OPEN_SETTLE {
        did.push(format!(
            "shut the coin slot for {:.1} s",
            o.shut.as_secs_f64()
        ));
    }
    if kind("sale_pending") > 0 {
        did.push(format!(
            "recorded {} sales whose user waited for the router (kiosk: ticket at once), made them when it answered",
            kind("sale_pending")
        ));
    }
    // (log words, what they mean) — each counted line is one such act.
    for (words, act) in [
        (
            "credit was given back",
            "gave the credit back for {} sales it could not make",
        ),
        (
            "nobody had paid for it",
            "failed {} operator sales, saying why (nothing paid)",
        ),
        (
            "re-created sold voucher",
            "re-created {} lost users of sold vouchers",
        ),
        ("dropped pool voucher", "dropped {} lost pool vouchers"),
    ] {
        let n = log(words);
        if n > 0 {
            did.push(act.replace("{}", &n.to_string()));
        }
    }
    if kind("profile_restored") > 0 {
        did.push("re-created the deleted profile".into());
    }
    if did.is_empty() {
        did.push("sold on; nothing to repair".into());
    }
    did.join("; ")
}

/// Coins = credit + kiosk sales; every sold or ready voucher has exactly one router
/// user, and every router user of ours belongs to one.
pub fn books(
    rig: &Rig,
    acceptor: &kiosk::sim::SimAcceptor,
    handle: &kiosk::runner::KioskHandle,
    out: &mut Outcome,
) {
    let coins = (acceptor.state().accepted * 5) as i64;
    let entries = rig.store.credit_entries(100_000).unwrap();
    let credited: i64 = entries
        .iter()
        .filter(|e| e.source.starts_with("coin"))
        .map(|e| e.amount)
        .sum();
    let forfeited: i64 = -entries
        .iter()
        .filter(|e| e.source == "forfeit")
        .map(|e| e.amount)
        .sum::<i64>();
    if coins != credited {
        out.problems.push(format!(
            "the acceptor took {coins} but {credited} was credited"
        ));
    }
    // Paid kiosk sales: on the router, or recorded and waiting for it (ticket printed).
    let kiosk_sales: Vec<_> = rig
        .store
        .sales_in(&[
            SaleState::Provisioned,
            SaleState::Delivered,
            SaleState::Reserved,
        ])
        .unwrap()
        .into_iter()
        .filter(|s| s.source == "kiosk")
        .collect();
    let paid: i64 = kiosk_sales.iter().map(|s| s.price as i64).sum();
    let credit = rig.store.credit_balance().unwrap();
    if coins != paid + credit + forfeited {
        out.problems.push(format!(
            "coins {coins} != kiosk sales {paid} + credit {credit} + left to the operator {forfeited}"
        ));
    }
    if handle.status().credit as i64 != credit {
        out.problems.push(format!(
            "the kiosk shows credit {} but the store holds {credit}",
            handle.status().credit
        ));
    }
    let unfinished = rig
        .store
        .sales_in(&[SaleState::Reserved, SaleState::PoolReserved])
        .unwrap();
    if !unfinished.is_empty() {
        out.problems.push(format!(
            "{} sales still unfinished (e.g. sale {} from {}, {} attempts: {})",
            unfinished.len(),
            unfinished[0].id,
            unfinished[0].source,
            unfinished[0].attempts,
            unfinished[0].last_error.as_deref().unwrap_or("-")
        ));
    }
    let kiosk_sold = kiosk_sales.len();
    if kiosk_sold != out.tickets {
        out.problems.push(format!(
            "{} tickets printed for {kiosk_sold} paid kiosk sales",
            out.tickets
        ));
    }
    // Router users of ours: name -> the sale ids their comments name.
    let mut users: HashMap<String, Vec<String>> = HashMap::new();
    for u in rig.sim.users() {
        let comment = u
            .get("comment")
            .map(|c| c.lossy().into_owned())
            .unwrap_or_default();
        if let Some(rest) = comment.strip_prefix("hsa:") {
            let name = u
                .get("name")
                .map(|n| n.lossy().into_owned())
                .unwrap_or_default();
            let sale = rest.rsplit(':').next().unwrap_or_default().to_string();
            users.entry(name).or_default().push(sale);
        }
    }
    let mut expected = rig
        .store
        .sales_in(&[
            SaleState::Provisioned,
            SaleState::Delivered,
            SaleState::PoolReady,
        ])
        .unwrap();
    expected.retain(|s| s.ended_at_ms.is_none());
    let missing: Vec<&str> = expected
        .iter()
        .filter(|s| !users.contains_key(&s.code))
        .map(|s| s.code.as_str())
        .collect();
    if !missing.is_empty() {
        out.problems.push(format!(
            "{} valid vouchers have no router user (e.g. {})",
            missing.len(),
            missing[0]
        ));
    }
    let doubled = users.values().filter(|n| n.len() > 1).count();
    if doubled > 0 {
        out.problems
            .push(format!("{doubled} codes have more than one router user"));
    }
    // A user put back is the same sale, not a second one: its comment names the
    // sale that holds its code.
    let resold = expected
        .iter()
        .filter(|s| {
            users
                .get(&s.code)
                .is_some_and(|ids| ids.iter().any(|id| *id != s.id.to_string()))
        })
        .count();
    if resold > 0 {
        out.problems.push(format!(
            "{resold} router users carry another sale's id than the voucher's"
        ));
    }
    let known: std::collections::HashSet<&str> = expected.iter().map(|s| s.code.as_str()).collect();
    let strays = users.keys().filter(|n| !known.contains(n.as_str())).count();
    if strays > 0 {
        out.problems.push(format!(
            "{strays} router users of ours belong to no valid sale"
        ));
    }
}
