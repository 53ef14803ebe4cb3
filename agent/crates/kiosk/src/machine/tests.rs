//! Unit tests of the customer's path, on a fake clock.

use std::time::{Duration, Instant};

use firmware_config::kiosk::SellMode;

use super::*;
use crate::printer::{sample_look, sample_voucher};

fn cfg() -> MachineConfig {
    MachineConfig {
        mode: SellMode::Plans,
        insert_window: Duration::from_secs(30),
        buy_on_timeout: false,
        carry_over: false,
        auto_buy: false,
        show_voucher_for: Duration::from_secs(20),
        plans: vec![
            Offer {
                id: "1h".into(),
                name: "1 hour".into(),
                price: 5,
            },
            Offer {
                id: "1d".into(),
                name: "1 day".into(),
                price: 20,
            },
        ],
        rates: vec![
            (1, Duration::from_secs(600)),
            (5, Duration::from_secs(3600)),
            (10, Duration::from_secs(7200)),
        ],
        rate_profile: "default".into(),
        look: sample_look(firmware_config::kiosk::Language::En),
        has_printer: true,
        has_display: true,
    }
}

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A started, ready machine at t0.
fn ready(cfg: MachineConfig) -> (Machine, Instant) {
    let t0 = Instant::now();
    let mut m = Machine::new(cfg);
    m.start(t0);
    m.handle_ready(t0);
    (m, t0)
}

/// Inserts a coin and confirms the commit, as the runner does.
fn coin(m: &mut Machine, value: u64, now: Instant) -> Vec<Action> {
    assert_eq!(
        m.handle_coin(value, now),
        vec![Action::CommitCredit { amount: value }]
    );
    m.handle_credit_committed(value, now)
}

fn voucher(code: &str, price: u64) -> SaleReceipt {
    let mut v = sample_voucher(code, code);
    v.price = price;
    v
}

fn sells(actions: &[Action]) -> Vec<(Item, u64)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Sell { item, credit } => Some((item.clone(), *credit)),
            _ => None,
        })
        .collect()
}

fn screen(actions: &[Action]) -> Option<&Screen> {
    actions.iter().rev().find_map(|a| match a {
        Action::Show(s) => Some(s),
        _ => None,
    })
}

fn plan(id: &str) -> Item {
    Item::Plan(id.into())
}

#[test]
fn starting_inhibits_then_ready_enables_without_an_alert() {
    let t0 = Instant::now();
    let mut m = Machine::new(cfg());
    assert_eq!(
        m.start(t0),
        vec![Action::Inhibit(true), Action::Show(Screen::Starting)]
    );
    let out = m.handle_ready(t0);
    assert!(out.contains(&Action::Inhibit(false)), "{out:?}");
    assert!(matches!(screen(&out), Some(Screen::Idle { .. })), "{out:?}");
    assert!(
        !out.iter().any(|a| matches!(a, Action::Alert(_))),
        "{out:?}"
    );
}

#[test]
fn a_coin_is_committed_before_the_screen_changes() {
    let (mut m, t0) = ready(cfg());
    let first = m.handle_coin(5, t0);
    assert_eq!(
        first,
        vec![Action::CommitCredit { amount: 5 }],
        "nothing shown before the commit"
    );
    assert_eq!(m.credit(), 0);
    let out = m.handle_credit_committed(5, t0);
    assert_eq!(m.credit(), 5);
    match screen(&out) {
        Some(Screen::Credit {
            credit,
            buys,
            seconds_left,
            notice,
        }) => {
            assert_eq!(credit, "\u{20b1}5");
            assert_eq!(buys[0], "1 hour \u{20b1}5 - press 1");
            assert_eq!(buys[1], "1 day \u{20b1}20 - insert \u{20b1}15 more");
            assert_eq!(*seconds_left, 30);
            assert_eq!(*notice, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_plan_needs_its_price_before_it_is_sold() {
    let (mut m, t0) = ready(cfg());
    coin(&mut m, 5, t0);
    let out = m.handle_button(1, t0 + s(1));
    assert!(sells(&out).is_empty(), "20 needed, 5 inserted: {out:?}");
    assert!(matches!(screen(&out), Some(Screen::Credit { .. })));
    let out = m.handle_button(0, t0 + s(2));
    assert_eq!(sells(&out), vec![(plan("1h"), 5)]);
}

#[test]
fn a_button_with_no_credit_sells_nothing() {
    let (mut m, t0) = ready(cfg());
    assert!(sells(&m.handle_button(0, t0)).is_empty());
    assert!(m.handle_button(9, t0).is_empty(), "no such plan");
}

#[test]
fn pressing_a_plan_the_credit_cannot_pay_says_what_is_missing() {
    let (mut m, t0) = ready(cfg());
    let out = m.handle_button(1, t0);
    match screen(&out) {
        Some(Screen::Credit { notice, .. }) => assert_eq!(
            notice.as_deref(),
            Some("1 day \u{20b1}20 - insert \u{20b1}20 more")
        ),
        other => panic!("no answer to the press: {other:?}"),
    }
    coin(&mut m, 5, t0);
    let out = m.handle_button(1, t0 + s(1));
    assert!(sells(&out).is_empty());
    assert!(
        matches!(screen(&out), Some(Screen::Credit { notice: Some(n), .. }) if n.ends_with("insert \u{20b1}15 more")),
        "{out:?}"
    );
}

#[test]
fn the_whole_path_ends_with_a_ticket_the_voucher_on_screen_and_idle() {
    let (mut m, t0) = ready(cfg());
    coin(&mut m, 5, t0);
    m.handle_button(0, t0 + s(1));
    let out = m.handle_sale_result(Ok(voucher("KX7M4TRA", 5)), t0 + s(1));
    let ticket = out.iter().find_map(|a| match a {
        Action::Print { ticket, .. } => Some(ticket.clone()),
        _ => None,
    });
    assert_eq!(ticket.expect("a ticket").code, "KX7M4TRA");
    let out = m.handle_print_result(PrintOutcome::Printed { paper_low: false }, t0 + s(3));
    assert!(
        out.contains(&Action::Delivered {
            sale_id: "sale-1".into(),
            printed: true
        }),
        "{out:?}"
    );
    assert!(
        matches!(screen(&out), Some(Screen::Voucher { note, .. }) if note == "Take your ticket")
    );
    assert!(m.handle_tick(t0 + s(22)).is_empty(), "voucher stays 20 s");
    let out = m.handle_tick(t0 + s(23));
    assert!(matches!(screen(&out), Some(Screen::Idle { credit, .. }) if credit.is_empty()));
    assert_eq!(m.credit(), 0);
}

#[test]
fn leftover_credit_is_forfeited_and_recorded_when_not_carried_over() {
    let (mut m, t0) = ready(cfg());
    coin(&mut m, 5, t0);
    coin(&mut m, 1, t0);
    m.handle_button(0, t0);
    let out = m.handle_sale_result(Ok(voucher("A", 5)), t0);
    assert!(out.contains(&Action::Forfeit { amount: 1 }), "{out:?}");
    assert_eq!(m.credit(), 0);
}

#[test]
fn leftover_credit_carries_over_when_the_operator_wants_it() {
    let (mut m, t0) = ready(MachineConfig {
        carry_over: true,
        ..cfg()
    });
    coin(&mut m, 5, t0);
    coin(&mut m, 1, t0);
    m.handle_button(0, t0);
    let out = m.handle_sale_result(Ok(voucher("A", 5)), t0);
    assert!(!out.iter().any(|a| matches!(a, Action::Forfeit { .. })));
    m.handle_print_result(PrintOutcome::Printed { paper_low: false }, t0);
    let out = m.handle_tick(t0 + s(60));
    assert!(
        matches!(screen(&out), Some(Screen::Idle { credit, .. }) if credit == "\u{20b1}1"),
        "{out:?}"
    );
    assert_eq!(m.credit(), 1);
}

#[test]
fn the_insert_window_keeps_the_credit_by_default() {
    let (mut m, t0) = ready(cfg());
    coin(&mut m, 1, t0);
    let out = m.handle_tick(t0 + s(30));
    assert!(sells(&out).is_empty());
    assert!(
        matches!(screen(&out), Some(Screen::Idle { credit, .. }) if credit == "\u{20b1}1"),
        "{out:?}"
    );
    assert_eq!(m.credit(), 1, "credit is never lost to a timeout");
    // The customer comes back and adds more.
    coin(&mut m, 5, t0 + s(100));
    assert_eq!(
        sells(&m.handle_button(0, t0 + s(101))),
        vec![(plan("1h"), 6)]
    );
}

#[test]
fn the_insert_window_buys_the_best_plan_when_configured() {
    let (mut m, t0) = ready(MachineConfig {
        buy_on_timeout: true,
        ..cfg()
    });
    coin(&mut m, 10, t0);
    coin(&mut m, 10, t0 + s(5));
    assert!(m
        .handle_tick(t0 + s(34))
        .iter()
        .all(|a| !matches!(a, Action::Sell { .. })));
    assert_eq!(sells(&m.handle_tick(t0 + s(35))), vec![(plan("1d"), 20)]);
}

#[test]
fn buy_best_with_too_little_credit_keeps_it() {
    let (mut m, t0) = ready(MachineConfig {
        buy_on_timeout: true,
        ..cfg()
    });
    coin(&mut m, 1, t0);
    let out = m.handle_tick(t0 + s(30));
    assert!(sells(&out).is_empty());
    assert_eq!(m.credit(), 1);
}

#[test]
fn rates_mode_sells_the_most_time_the_credit_buys() {
    let (mut m, t0) = ready(MachineConfig {
        mode: SellMode::Rates,
        ..cfg()
    });
    coin(&mut m, 5, t0);
    let out = coin(&mut m, 1, t0);
    assert!(
        matches!(screen(&out), Some(Screen::Credit { buys, .. }) if buys[0] == "buys 1h 10m"),
        "{out:?}"
    );
    coin(&mut m, 1, t0);
    let sold = sells(&m.handle_button(0, t0));
    assert_eq!(
        sold,
        vec![(
            Item::Time {
                time: Duration::from_secs(80 * 60),
                price: 7,
                profile: "default".into()
            },
            7
        )]
    );
}

#[test]
fn auto_buy_sells_as_soon_as_the_dearest_plan_is_paid() {
    let (mut m, t0) = ready(MachineConfig {
        auto_buy: true,
        ..cfg()
    });
    assert!(
        sells(&coin(&mut m, 10, t0)).is_empty(),
        "a dearer plan is still possible"
    );
    assert_eq!(sells(&coin(&mut m, 10, t0)), vec![(plan("1d"), 20)]);
}

#[test]
fn paper_out_shows_the_voucher_with_its_qr_and_alerts() {
    let (mut m, t0) = ready(cfg());
    coin(&mut m, 5, t0);
    m.handle_button(0, t0);
    m.handle_sale_result(Ok(voucher("KX7M4TRA", 5)), t0);
    let out = m.handle_print_result(PrintOutcome::OutOfPaper, t0 + s(1));
    assert!(out.contains(&Action::Alert(Alert::PaperOut)), "{out:?}");
    assert!(out.contains(&Action::Delivered {
        sale_id: "sale-1".into(),
        printed: false
    }));
    match screen(&out) {
        Some(Screen::Voucher { code, url, .. }) => {
            assert_eq!(code, "KX7M4TRA");
            assert!(url.contains("username=KX7M4TRA"), "{url}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !out.contains(&Action::Inhibit(true)),
        "the display can still deliver vouchers"
    );
    // The next sale goes straight to the display.
    m.handle_tick(t0 + s(60));
    coin(&mut m, 5, t0 + s(61));
    m.handle_button(0, t0 + s(61));
    let out = m.handle_sale_result(Ok(voucher("B", 5)), t0 + s(61));
    assert!(
        !out.iter().any(|a| matches!(a, Action::Print { .. })),
        "{out:?}"
    );
    assert!(matches!(screen(&out), Some(Screen::Voucher { code, .. }) if code == "B"));
}

#[test]
fn paper_out_without_a_display_inhibits_after_the_voucher() {
    let (mut m, t0) = ready(MachineConfig {
        has_display: false,
        ..cfg()
    });
    coin(&mut m, 5, t0);
    m.handle_button(0, t0);
    m.handle_sale_result(Ok(voucher("A", 5)), t0);
    let out = m.handle_print_result(PrintOutcome::OutOfPaper, t0);
    assert!(out.contains(&Action::Inhibit(true)), "{out:?}");
    assert_eq!(m.blocked(), Some(&Reason::NoPaper));
    // No display to show it on: nobody has the voucher, so it is not delivered.
    assert!(
        !out.iter().any(|a| matches!(a, Action::Delivered { .. })),
        "{out:?}"
    );
    let Some(Action::Hold(held)) = out.iter().find(|a| matches!(a, Action::Hold(_))) else {
        panic!("the voucher is held: {out:?}")
    };
    assert_eq!(held.code, "A");
    // Paper loaded: selling again, and the held voucher prints first.
    let out = m.handle_printer_state(PrinterState::Ready, t0 + s(100));
    assert!(out.contains(&Action::Inhibit(false)), "{out:?}");
    assert!(out.contains(&Action::Alert(Alert::BackInService)));
    let out = m.redeliver((**held).clone(), t0 + s(101));
    assert!(
        out.iter().any(|a| matches!(a, Action::Print { .. })),
        "{out:?}"
    );
}

#[test]
fn an_unreachable_router_with_no_pool_inhibits_and_says_why() {
    let (mut m, t0) = ready(cfg());
    let out = m.handle_seller_health(Err(Reason::RouterUnreachable), t0);
    assert!(out.contains(&Action::Inhibit(true)), "{out:?}");
    assert!(
        matches!(screen(&out), Some(Screen::OutOfService { reason }) if reason == "network down")
    );
    assert!(out.contains(&Action::Alert(Alert::OutOfService("network down".into()))));
    assert!(
        m.handle_seller_health(Err(Reason::RouterUnreachable), t0)
            .is_empty(),
        "no repeat"
    );
    let out = m.handle_seller_health(Ok(()), t0 + s(5));
    assert!(out.contains(&Action::Inhibit(false)));
    assert!(matches!(screen(&out), Some(Screen::Idle { .. })));
}

#[test]
fn a_failed_sale_keeps_the_credit_and_lets_the_customer_retry() {
    let (mut m, t0) = ready(cfg());
    coin(&mut m, 5, t0);
    m.handle_button(0, t0);
    let out = m.handle_sale_result(Err(SellError::Failed("timeout".into())), t0 + s(2));
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Alert(Alert::SaleFailed(_)))));
    assert!(matches!(screen(&out), Some(Screen::Credit { .. })));
    assert_eq!(m.credit(), 5);
    assert_eq!(sells(&m.handle_button(0, t0 + s(3))), vec![(plan("1h"), 5)]);
}

#[test]
fn a_sale_refused_as_unavailable_inhibits_and_keeps_the_credit_on_screen() {
    let (mut m, t0) = ready(cfg());
    coin(&mut m, 5, t0);
    m.handle_button(0, t0);
    let out = m.handle_sale_result(Err(SellError::Unavailable(Reason::RouterUnreachable)), t0);
    assert!(out.contains(&Action::Inhibit(true)), "{out:?}");
    assert!(
        matches!(screen(&out), Some(Screen::OutOfService { reason }) if reason.contains("credit \u{20b1}5 kept")),
        "{out:?}"
    );
    assert_eq!(m.credit(), 5);
}

#[test]
fn health_lost_during_a_sale_waits_for_the_voucher_screen_to_end() {
    let (mut m, t0) = ready(cfg());
    coin(&mut m, 5, t0);
    m.handle_button(0, t0);
    let out = m.handle_seller_health(Err(Reason::RouterUnreachable), t0);
    assert!(out.contains(&Action::Inhibit(true)));
    assert!(
        screen(&out).is_none(),
        "the sale in flight keeps its screen"
    );
    m.handle_sale_result(Ok(voucher("A", 5)), t0);
    let out = m.handle_print_result(PrintOutcome::Printed { paper_low: true }, t0);
    assert!(out.contains(&Action::Alert(Alert::PaperLow)));
    assert!(matches!(screen(&out), Some(Screen::Voucher { .. })));
    let out = m.handle_tick(t0 + s(30));
    assert!(
        matches!(screen(&out), Some(Screen::OutOfService { .. })),
        "{out:?}"
    );
}

#[test]
fn a_coin_slipping_in_while_inhibited_is_kept_and_shown() {
    let (mut m, t0) = ready(cfg());
    m.handle_seller_health(Err(Reason::RouterUnreachable), t0);
    let out = coin(&mut m, 5, t0);
    assert!(sells(&out).is_empty());
    assert!(
        matches!(screen(&out), Some(Screen::OutOfService { reason }) if reason.contains("\u{20b1}5 kept"))
    );
    assert!(
        m.handle_button(0, t0).is_empty(),
        "no sale while out of service"
    );
    let out = m.handle_seller_health(Ok(()), t0 + s(1));
    assert!(
        matches!(screen(&out), Some(Screen::Idle { credit, .. }) if credit == "\u{20b1}5"),
        "{out:?}"
    );
}

#[test]
fn a_credit_that_cannot_be_recorded_stops_the_coin_slot() {
    let (mut m, t0) = ready(cfg());
    m.handle_coin(5, t0);
    let out = m.handle_credit_failed(5, &SellError::Failed("disk full".into()), t0);
    assert!(out.contains(&Action::Inhibit(true)), "{out:?}");
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Alert(Alert::CreditNotRecorded { amount: 5, .. }))));
    assert_eq!(m.credit(), 0, "unrecorded money is not sold against");
}

#[test]
fn a_store_fault_keeps_the_slot_shut_until_a_write_succeeds() {
    let (mut m, t0) = ready(cfg());
    m.handle_credit_failed(5, &SellError::Failed("disk full".into()), t0);
    // The runner polls the seller's health every tick; memory says all is well.
    for i in 1..10 {
        let out = m.handle_seller_health(Ok(()), t0 + s(i));
        assert!(!out.contains(&Action::Inhibit(false)), "{out:?}");
        m.handle_tick(t0 + s(i));
    }
    assert!(m.store_fault() && m.blocked().is_some());
    let out = m.handle_store_ok(t0 + s(20));
    assert!(out.contains(&Action::Inhibit(false)), "{out:?}");
    assert!(!m.store_fault() && m.blocked().is_none());
}

#[test]
fn coins_during_a_sale_are_counted_and_left_over() {
    let (mut m, t0) = ready(MachineConfig {
        carry_over: true,
        ..cfg()
    });
    coin(&mut m, 5, t0);
    m.handle_button(0, t0);
    let out = coin(&mut m, 10, t0);
    assert!(screen(&out).is_none(), "the issuing screen stays");
    m.handle_sale_result(Ok(voucher("A", 5)), t0);
    assert_eq!(m.credit(), 10);
}

#[test]
fn the_countdown_redraws_once_a_second() {
    let (mut m, t0) = ready(cfg());
    coin(&mut m, 1, t0);
    let redraws = (1..=40)
        .filter(|i| {
            !m.handle_tick(t0 + Duration::from_millis(250 * i))
                .is_empty()
        })
        .count();
    // 10 s of ticks: seconds_left goes 29, 28, ..., 20.
    assert_eq!(redraws, 10);
}

#[test]
fn stopping_inhibits_and_says_so() {
    let (mut m, t0) = ready(cfg());
    let out = m.stop(t0);
    assert!(out.contains(&Action::Inhibit(true)));
    assert!(
        matches!(screen(&out), Some(Screen::OutOfService { reason }) if reason == "shutting down")
    );
}

#[test]
fn a_coin_acceptor_fault_inhibits_and_alerts() {
    let (mut m, t0) = ready(cfg());
    let out = m.handle_coin_state(Err(CoinFault::NoAnswer), t0);
    assert!(out.contains(&Action::Inhibit(true)));
    assert!(out.contains(&Action::Alert(Alert::CoinFault(
        "coin acceptor does not answer ccTalk".into()
    ))));
    let out = m.handle_coin_state(Ok(()), t0);
    assert!(out.contains(&Action::Inhibit(false)));
}

#[test]
fn separate_passwords_show_on_the_voucher_screen() {
    let (mut m, t0) = ready(MachineConfig {
        has_printer: false,
        ..cfg()
    });
    coin(&mut m, 5, t0);
    m.handle_button(0, t0);
    let out = m.handle_sale_result(Ok(sample_voucher("USER1", "493817")), t0);
    match screen(&out) {
        Some(Screen::Voucher {
            password: Some(p), ..
        }) => assert_eq!(p.expose(), "493817"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_price_pushed_by_the_central_office_applies_to_the_next_choice() {
    let (mut m, t0) = ready(cfg());
    let mut dearer = cfg();
    dearer.plans[0].price = 10;
    // Idle: the price list is redrawn at once.
    let redraw = m.set_config(dearer);
    assert!(
        redraw.iter().any(|a| matches!(a, Action::Show(_))),
        "{redraw:?}"
    );
    coin(&mut m, 5, t0);
    assert!(
        sells(&m.handle_button(0, t0)).is_empty(),
        "5 no longer buys the 1 hour plan"
    );
    coin(&mut m, 5, t0);
    assert_eq!(
        sells(&m.handle_button(0, t0)),
        vec![(Item::Plan("1h".into()), 10)]
    );
}

#[test]
fn a_voucher_paid_before_a_restart_is_printed_without_touching_the_credit() {
    let (mut m, t0) = ready(cfg());
    coin(&mut m, 5, t0);
    m.handle_tick(t0 + s(31)); // window over: credit kept, kiosk idle
    assert!(m.is_idle());
    let out = m.redeliver(voucher("PAID1", 20), t0 + s(32));
    assert!(
        out.iter().any(|a| matches!(a, Action::Print { .. })),
        "{out:?}"
    );
    assert!(
        !out.iter().any(|a| matches!(a, Action::Forfeit { .. })),
        "{out:?}"
    );
    assert_eq!(m.credit, 5, "the customer's 5 stays on the kiosk");
    assert!(
        m.redeliver(voucher("PAID2", 5), t0 + s(33)).is_empty(),
        "one at a time"
    );
}

#[test]
fn the_screen_answers_a_press_in_the_customers_language() {
    use firmware_config::kiosk::Language;
    let dir = std::env::var_os("HOTSPOT_TICKET_DIR").map(std::path::PathBuf::from);
    for (lang, name, want) in [
        (
            Language::En,
            "en",
            "1 day \u{20b1}20 - insert \u{20b1}15 more",
        ),
        (
            Language::Fil,
            "fil",
            "1 day \u{20b1}20 - hulog pa \u{20b1}15",
        ),
        (Language::Id, "id", "1 day \u{20b1}20 - kurang \u{20b1}15"),
    ] {
        let (mut m, t0) = ready(MachineConfig {
            look: sample_look(lang),
            ..cfg()
        });
        coin(&mut m, 5, t0);
        let out = m.handle_button(1, t0 + s(1));
        let Some(shown) = screen(&out) else {
            panic!("{name}: no answer to the press")
        };
        assert!(
            matches!(shown, Screen::Credit { notice: Some(n), .. } if n == want),
            "{name}: {shown:?}"
        );
        if let Some(dir) = &dir {
            // For people to look at: the 128x64 frame, scaled as a 256x128 panel.
            let frame = crate::display::draw(shown, crate::words::words(lang));
            let mut big = crate::canvas::Canvas::new(256, 128);
            for y in 0..128 {
                for x in 0..256 {
                    big.set(x, y, frame.get(x / 2, y / 2));
                }
            }
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join(format!("screen-{name}.png")), big.to_png()).unwrap();
        }
    }
}
