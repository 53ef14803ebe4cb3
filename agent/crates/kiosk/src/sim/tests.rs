//! Pseudo-terminal tests: the real device tasks against the simulated devices,
//! and the whole runner from coin to ticket.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::seller::{MemorySeller, SellerEvent};
use super::*;
use crate::coin::cctalk_device::{self, CctalkSettings};
use crate::coin::{Coin, CoinHandle, CoinReport, CoinSource};
use crate::printer::device::{self as printer_device, PrinterError};
use crate::printer::escpos::{ticket_bytes, QrMode};
use crate::printer::{sample_look, sample_voucher, Paper, Ticket};
use firmware_config::kiosk::Language;

const WAIT: Duration = Duration::from_secs(5);

fn settings() -> CctalkSettings {
    CctalkSettings {
        device: "pty".into(),
        address: 2,
        poll_interval: Duration::from_millis(50),
        reply_timeout: Duration::from_millis(200),
        channel_values: vec![(1, 1), (2, 5), (3, 10)],
        coin_ids: vec![],
        checksum: crate::coin::cctalk::Checksum::Simple,
        resume: None,
    }
}

/// A simulated acceptor and the real ccTalk task on a pty pair.
fn cctalk() -> (SimAcceptor, CoinHandle, mpsc::Receiver<CoinReport>) {
    let (device_end, agent_end) = pty_pair().unwrap();
    let sim = SimAcceptor::spawn(device_end, 2);
    let (handle, inhibit) = CoinHandle::channel();
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(cctalk_device::run(agent_end, settings(), inhibit, tx));
    (sim, handle, rx)
}

/// The next report about the acceptor's state (identification and counters skipped).
async fn next_state(rx: &mut mpsc::Receiver<CoinReport>) -> Option<CoinReport> {
    loop {
        match tokio::time::timeout(WAIT, rx.recv()).await.ok()? {
            Some(CoinReport::Identified(_) | CoinReport::Counter(_)) => continue,
            other => return other,
        }
    }
}

async fn next_coin(rx: &mut mpsc::Receiver<CoinReport>, within: Duration) -> Option<Coin> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(CoinReport::Coin(c))) => return Some(c),
            Ok(Some(_)) => continue,
            _ => return None,
        }
    }
}

#[tokio::test]
async fn a_coin_into_the_simulated_acceptor_arrives_as_credit_over_a_pty() {
    let (sim, handle, mut rx) = cctalk();
    assert_eq!(next_state(&mut rx).await, Some(CoinReport::Online));
    let state = sim.wait_for(|s| s.mask == 0b111).await;
    assert!(!state.accepting, "starts inhibited");
    handle.inhibit(false).await.unwrap();
    sim.wait_for(|s| s.accepting).await;
    sim.insert(2).await;
    let coin = next_coin(&mut rx, WAIT).await.expect("a coin");
    assert_eq!((coin.value, coin.source), (5, CoinSource::Channel(2)));
    let mark = coin.mark.expect("a ccTalk coin carries its event counter");
    assert_eq!(mark.counter, 1);
}

#[tokio::test]
async fn an_inhibited_acceptor_refuses_the_coin() {
    let (sim, _handle, mut rx) = cctalk();
    sim.wait_for(|s| s.polls > 1).await;
    sim.insert(1).await;
    assert_eq!(next_coin(&mut rx, Duration::from_millis(600)).await, None);
}

#[tokio::test]
async fn serial_noise_never_invents_a_coin() {
    let (sim, handle, mut rx) = cctalk();
    handle.inhibit(false).await.unwrap();
    sim.wait_for(|s| s.accepting).await;
    // Garbage, a well-formed 229-shaped reply with a broken checksum, a frame
    // for another address, and a valid-looking reply from a different source.
    let mut noise = vec![0xFF, 0x00, 0x55, 0xAA, 0x01];
    let mut bad = Frame {
        dest: 1,
        src: 2,
        header: 0,
        data: vec![9, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    }
    .encode()
    .unwrap();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    noise.extend(bad);
    noise.extend(
        Frame {
            dest: 7,
            src: 2,
            header: 0,
            data: vec![9, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        }
        .encode()
        .unwrap(),
    );
    noise.extend(
        Frame {
            dest: 1,
            src: 9,
            header: 0,
            data: vec![9, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        }
        .encode()
        .unwrap(),
    );
    for _ in 0..5 {
        sim.noise(&noise).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(
        next_coin(&mut rx, Duration::from_millis(800)).await,
        None,
        "no coin from noise"
    );
    // The link still works afterwards.
    sim.insert(3).await;
    assert_eq!(next_coin(&mut rx, WAIT).await.map(|c| c.value), Some(10));
}

#[tokio::test]
async fn an_acceptor_reset_is_noticed_and_the_coin_slot_re_enabled() {
    let (sim, handle, mut rx) = cctalk();
    handle.inhibit(false).await.unwrap();
    sim.wait_for(|s| s.accepting).await;
    sim.insert(1).await;
    assert!(next_coin(&mut rx, WAIT).await.is_some());
    sim.reset().await;
    let warned = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(CoinReport::Warning(w)) = rx.recv().await {
                return w;
            }
        }
    })
    .await
    .unwrap();
    assert!(warned.contains("reset"), "{warned}");
    let state = sim.wait_for(|s| s.accepting && s.mask == 0b111).await;
    assert!(state.accepting);
    sim.insert(2).await;
    assert_eq!(
        next_coin(&mut rx, WAIT).await.map(|c| c.value),
        Some(5),
        "first coin after reset (counter 1)"
    );
}

/// A simulated acceptor that outlives the tasks talking to it: each task opens
/// the pty by path, as the agent opens /dev/ttyUSB0 after a restart.
struct LongLivedAcceptor {
    sim: SimAcceptor,
    path: String,
    _agent_end: tokio_serial::SerialStream,
}

fn long_lived(spec: SimAcceptorSpec) -> LongLivedAcceptor {
    use tokio_serial::SerialPort;
    let (device_end, agent_end) = pty_pair().unwrap();
    let path = agent_end.name().unwrap();
    LongLivedAcceptor {
        sim: SimAcceptor::spawn_with(device_end, spec),
        path,
        _agent_end: agent_end,
    }
}

/// Opens the slot and inserts a coin in `channel`; returns the value credited.
async fn open_and_insert(
    handle: &CoinHandle,
    acceptor: &LongLivedAcceptor,
    rx: &mut mpsc::Receiver<CoinReport>,
    channel: u8,
) -> Option<u64> {
    handle.inhibit(false).await.unwrap();
    acceptor.sim.wait_for(|s| s.accepting).await;
    acceptor.sim.insert(channel).await;
    next_coin(rx, WAIT).await.map(|c| c.value)
}

fn start_task(
    path: &str,
    settings: CctalkSettings,
) -> (
    CoinHandle,
    mpsc::Receiver<CoinReport>,
    tokio::task::JoinHandle<()>,
) {
    let port = cctalk_device::open_port(path, 9600).unwrap();
    let (handle, inhibit) = CoinHandle::channel();
    let (tx, rx) = mpsc::channel(32);
    let task = tokio::spawn(async move {
        let _ = cctalk_device::run(port, settings, inhibit, tx).await;
    });
    (handle, rx, task)
}

#[tokio::test]
async fn coins_taken_while_the_agent_was_down_are_credited_from_the_stored_counter() {
    let acceptor = long_lived(SimAcceptorSpec::new(2));
    let (handle, mut rx, task) = start_task(&acceptor.path, settings());
    handle.inhibit(false).await.unwrap();
    acceptor.sim.wait_for(|s| s.accepting).await;
    acceptor.sim.insert(1).await;
    let stored = next_coin(&mut rx, WAIT).await.unwrap().mark.unwrap();
    assert_eq!(stored.acceptor, "cctalk:2:serial:123456");
    // The agent dies; the acceptor keeps its state and takes two more coins.
    task.abort();
    let _ = task.await;
    acceptor.sim.insert(2).await;
    acceptor.sim.insert(3).await;
    acceptor.sim.wait_for(|s| s.polls > 0).await;
    let resumed = CctalkSettings {
        resume: Some(stored),
        ..settings()
    };
    let (_handle, mut rx, _task) = start_task(&acceptor.path, resumed);
    let a = next_coin(&mut rx, WAIT)
        .await
        .expect("first coin from the buffer");
    let b = next_coin(&mut rx, WAIT)
        .await
        .expect("second coin from the buffer");
    assert_eq!((a.value, b.value), (5, 10), "oldest first");
    assert_eq!((a.mark.unwrap().counter, b.mark.unwrap().counter), (2, 3));
    assert_eq!(
        next_coin(&mut rx, Duration::from_millis(500)).await,
        None,
        "each once"
    );
}

#[tokio::test]
async fn a_stored_counter_of_another_acceptor_is_not_resumed() {
    let acceptor = long_lived(SimAcceptorSpec::new(2));
    let (handle, mut rx, task) = start_task(&acceptor.path, settings());
    handle.inhibit(false).await.unwrap();
    acceptor.sim.wait_for(|s| s.accepting).await;
    acceptor.sim.insert(1).await;
    acceptor.sim.insert(1).await;
    next_coin(&mut rx, WAIT).await.unwrap();
    next_coin(&mut rx, WAIT).await.unwrap();
    task.abort();
    let _ = task.await;
    let swapped = CctalkSettings {
        resume: Some(crate::coin::EventMark {
            acceptor: "cctalk:2:serial:999".into(),
            counter: 0,
        }),
        ..settings()
    };
    let (_handle, mut rx, _task) = start_task(&acceptor.path, swapped);
    assert_eq!(next_coin(&mut rx, Duration::from_millis(800)).await, None);
}

#[tokio::test]
async fn a_channel_whose_coin_id_does_not_match_stays_inhibited_and_is_reported() {
    let mut spec = SimAcceptorSpec::new(2);
    // Position 2 holds a 100-peso coin; the configuration says 5.
    spec.coin_ids[1] = "PH100A".into();
    let acceptor = long_lived(spec);
    let (handle, mut rx, _task) = start_task(&acceptor.path, settings());
    let mut warnings = Vec::new();
    let info = loop {
        match tokio::time::timeout(WAIT, rx.recv()).await.unwrap() {
            Some(CoinReport::Identified(info)) => break info,
            Some(CoinReport::Warning(w)) => warnings.push(w),
            _ => {}
        }
    };
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("channel 2") && w.contains("PH100A")),
        "{warnings:?}"
    );
    assert_eq!(info.enable_mask(), 0b101);
    assert!(info.to_string().contains("REFUSED"));
    handle.inhibit(false).await.unwrap();
    let state = acceptor.sim.wait_for(|s| s.accepting).await;
    assert_eq!(
        state.mask, 0b101,
        "channel 2 stays inhibited in the acceptor"
    );
    acceptor.sim.insert(2).await;
    assert_eq!(next_coin(&mut rx, Duration::from_millis(600)).await, None);
    acceptor.sim.insert(3).await;
    assert_eq!(next_coin(&mut rx, WAIT).await.map(|c| c.value), Some(10));
}

#[tokio::test]
async fn an_acceptor_set_to_crc16_takes_coins_over_crc_frames() {
    let mut spec = SimAcceptorSpec::new(2);
    spec.checksum = crate::coin::cctalk::Checksum::Crc16;
    let acceptor = long_lived(spec);
    let crc = CctalkSettings {
        checksum: crate::coin::cctalk::Checksum::Crc16,
        ..settings()
    };
    let (handle, mut rx, _task) = start_task(&acceptor.path, crc);
    assert_eq!(
        open_and_insert(&handle, &acceptor, &mut rx, 3).await,
        Some(10)
    );
}

#[tokio::test]
async fn a_failed_coin_task_is_started_again_and_says_so() {
    use crate::coin::supervise::supervise;
    let acceptor = long_lived(SimAcceptorSpec::new(2));
    let (handle, inhibit) = CoinHandle::channel();
    let (tx, mut rx) = mpsc::channel(32);
    let path = acceptor.path.clone();
    let mut runs = 0;
    let reports = tx.clone();
    tokio::spawn(supervise(
        "coin acceptor",
        inhibit,
        tx,
        move |rx, session| {
            runs += 1;
            let (path, reports, first) = (path.clone(), reports.clone(), runs == 1);
            async move {
                if first {
                    // A port whose other end is gone: the first read fails.
                    let (port, other) = tokio::io::duplex(64);
                    drop(other);
                    return cctalk_device::run_owned(port, settings(), rx, reports, session).await;
                }
                let port = cctalk_device::open_port(&path, 9600).unwrap();
                cctalk_device::run_owned(port, settings(), rx, reports, session).await
            }
        },
    ));
    let report = next_state(&mut rx).await;
    assert!(
        matches!(
            &report,
            Some(CoinReport::Fault(crate::coin::CoinFault::Restarting(_)))
        ),
        "{report:?}"
    );
    // The runner can still set the inhibit while the task is down.
    handle.inhibit(true).await.unwrap();
    assert_eq!(
        next_state(&mut rx).await,
        Some(CoinReport::Online),
        "back after the pause"
    );
    assert_eq!(
        open_and_insert(&handle, &acceptor, &mut rx, 2).await,
        Some(5)
    );
}

#[tokio::test]
async fn a_silent_acceptor_is_reported_as_a_fault() {
    let (sim, _handle, mut rx) = cctalk();
    assert_eq!(next_state(&mut rx).await, Some(CoinReport::Online));
    sim.silent(true).await;
    let report = next_state(&mut rx).await;
    assert!(matches!(report, Some(CoinReport::Fault(_))), "{report:?}");
}

fn ticket() -> Ticket {
    Ticket::for_voucher(
        &sample_voucher("KX7M4TRA", "KX7M4TRA"),
        &sample_look(Language::En),
    )
}

/// Where the tickets of each language are written for people to look at.
fn ticket_dir() -> std::path::PathBuf {
    let dir = std::env::var_os("HOTSPOT_TICKET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("hotspot-agent-tickets"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_ticket_in_each_language_fits_58mm_paper_and_its_qr_logs_in() {
    use crate::printer::render::{render, zbar_decode};
    let (device_end, agent_end) = pty_pair().unwrap();
    let sim = SimPrinter::spawn(device_end);
    let printer = printer_device::spawn(agent_end, "pty".into(), Duration::from_millis(500));
    let dir = ticket_dir();
    for (lang, name) in [
        (Language::En, "en"),
        (Language::Fil, "fil"),
        (Language::Id, "id"),
    ] {
        let mut look = sample_look(lang);
        if lang == Language::Id {
            look.money = crate::labels::Money {
                currency: "IDR".into(),
                decimals: 0,
            };
        }
        let mut v = sample_voucher("KX7M4TRA", "KX7M4TRA");
        if lang == Language::Id {
            v.price = 2000;
        }
        let t = Ticket::for_voucher(&v, &look);
        printer
            .print(ticket_bytes(&t, Paper::Mm58, QrMode::Native).unwrap())
            .await
            .unwrap();
        let printed = sim.next_ticket(WAIT).await.expect("a ticket");
        assert_eq!(printed.qr.as_deref(), Some(v.login_url.as_str()));
        // The old layout used 622 dots (78 mm); a ticket now stays under 60 mm.
        assert!(
            printed.length_dots < 480,
            "{name}: {} dots of paper",
            printed.length_dots
        );
        let canvas = render(&t, Paper::Mm58).unwrap();
        assert_eq!(canvas.width(), 384);
        assert!(
            canvas.height() < 480,
            "{name}: rendered {} dots",
            canvas.height()
        );
        let png = canvas.to_png();
        let png_path = dir.join(format!("ticket-{name}.png"));
        std::fs::write(&png_path, &png).unwrap();
        std::fs::write(
            dir.join(format!("ticket-{name}.txt")),
            printed.lines.join("\n"),
        )
        .unwrap();
        println!(
            "ticket {name}: {} dots on paper, {} rendered: {}",
            printed.length_dots,
            canvas.height(),
            png_path.display()
        );
        match zbar_decode(&png) {
            Some(found) => assert_eq!(found, vec![v.login_url.clone()], "{name}"),
            None => {
                eprintln!("SKIPPED QR decode: zbarimg not installed (apt-get install zbar-tools)")
            }
        }
    }
}

#[tokio::test]
async fn the_printer_task_prints_a_ticket_the_simulated_printer_reads_back() {
    let (device_end, agent_end) = pty_pair().unwrap();
    let sim = SimPrinter::spawn(device_end);
    let printer = printer_device::spawn(agent_end, "pty".into(), Duration::from_millis(500));
    let t = ticket();
    let status = printer
        .print(ticket_bytes(&t, Paper::Mm58, QrMode::Native).unwrap())
        .await
        .unwrap();
    assert!(!status.out && !status.near_end);
    let printed = sim.next_ticket(WAIT).await.expect("a ticket");
    assert!(
        printed.lines.iter().any(|l| l == "Code: KX7M4TRA"),
        "{:?}",
        printed.lines
    );
    assert_eq!(printed.qr.as_deref(), Some(t.login_url.as_str()));
}

#[tokio::test]
async fn raster_qr_tickets_carry_an_image_of_the_paper_width() {
    let (device_end, agent_end) = pty_pair().unwrap();
    let sim = SimPrinter::spawn(device_end);
    let printer = printer_device::spawn(agent_end, "pty".into(), Duration::from_millis(500));
    printer
        .print(ticket_bytes(&ticket(), Paper::Mm58, QrMode::Raster).unwrap())
        .await
        .unwrap();
    let printed = sim.next_ticket(WAIT).await.expect("a ticket");
    assert_eq!(printed.qr, None);
    assert_eq!(printed.images.len(), 1);
    assert_eq!(printed.images[0].0, 384);
}

#[tokio::test]
async fn an_empty_roll_prints_nothing_and_says_so() {
    let (device_end, agent_end) = pty_pair().unwrap();
    let sim = SimPrinter::spawn(device_end);
    sim.set_paper(true, true);
    let printer = printer_device::spawn(agent_end, "pty".into(), Duration::from_millis(500));
    let err = printer
        .print(ticket_bytes(&ticket(), Paper::Mm58, QrMode::Native).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err, PrinterError::OutOfPaper("pty".into()));
    assert!(sim.next_ticket(Duration::from_millis(300)).await.is_none());
    sim.set_paper(false, true);
    assert!(printer.status().await.unwrap().near_end);
}

#[tokio::test]
async fn a_printer_that_does_not_answer_is_reported() {
    let (_device_end, agent_end) = pty_pair().unwrap();
    let printer = printer_device::spawn(agent_end, "pty".into(), Duration::from_millis(200));
    assert_eq!(
        printer.status().await.unwrap_err(),
        PrinterError::NoAnswer("pty".into())
    );
}

fn sim_config(dir: &std::path::Path) -> firmware_config::Config {
    let text = format!(
        "[kiosk]\ncarry_over = true\n[kiosk.coin]\nkind = \"sim\"\npoll_interval = \"50ms\"\n[kiosk.display]\nkind = \"png\"\npng_dir = \"{}\"\n",
        dir.display()
    );
    let mut c = firmware_config::Config::parse(&text, "t.toml").unwrap();
    c.plans = firmware_config::Config::bundled_default().plans;
    c.profiles = firmware_config::Config::bundled_default().profiles;
    c.validate("t.toml").unwrap();
    c
}

/// A kiosk on [`sim_config`] selling through a [`MemorySeller`].
async fn sim_kiosk(dir: &std::path::Path) -> (crate::runner::Kiosk, Arc<MemorySeller>) {
    let config = sim_config(dir);
    let seller = Arc::new(MemorySeller::new(&config));
    let kiosk = crate::runner::start(&config, seller.clone(), None)
        .await
        .unwrap();
    (kiosk, seller)
}

#[tokio::test]
async fn coins_and_a_button_through_the_runner_print_a_ticket_with_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let (kiosk, seller) = sim_kiosk(dir.path()).await;
    let acceptor = kiosk.sim.acceptor.clone().unwrap();
    let printer = kiosk.sim.printer.clone().unwrap();
    acceptor.wait_for(|s| s.accepting).await;
    // Channel 2 = 5, channel 1 = 1: 6 on the kiosk; plan "1h" costs 5.
    acceptor.insert(2).await;
    acceptor.insert(1).await;
    tokio::time::timeout(WAIT, async {
        while seller
            .events()
            .iter()
            .filter(|e| matches!(e, SellerEvent::Credit(_)))
            .count()
            < 2
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    kiosk.handle.press(0).await;
    let printed = printer.next_ticket(WAIT).await.expect("a ticket");
    let code = seller
        .events()
        .iter()
        .find_map(|e| match e {
            SellerEvent::Sold { code, credit, .. } => Some((code.clone(), *credit)),
            _ => None,
        })
        .expect("a sale");
    assert_eq!(code.1, 6);
    assert!(
        printed.lines.iter().any(|l| l.ends_with(&code.0)),
        "{:?}",
        printed.lines
    );
    assert!(printed
        .qr
        .unwrap()
        .contains(&format!("username={}", code.0)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        seller.events().contains(&SellerEvent::Delivered {
            sale_id: "sim-sale-3".into(),
            printed: true
        }),
        "{:?}",
        seller.events()
    );
    assert!(
        !seller
            .events()
            .iter()
            .any(|e| matches!(e, SellerEvent::Forfeit(_))),
        "carry_over keeps the 1"
    );
    assert!(
        dir.path().join("current.png").exists(),
        "screens reach the PNG panel"
    );
    kiosk.handle.stop().await;
    tokio::time::timeout(WAIT, kiosk.task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !acceptor.wait_for(|s| !s.accepting).await.accepting,
        "stopped: inhibited"
    );
}

#[tokio::test]
async fn with_the_router_down_the_coin_slot_is_inhibited() {
    let dir = tempfile::tempdir().unwrap();
    let (kiosk, seller) = sim_kiosk(dir.path()).await;
    let acceptor = kiosk.sim.acceptor.clone().unwrap();
    acceptor.wait_for(|s| s.accepting).await;
    *seller.health.lock().unwrap() = Err(crate::Reason::RouterUnreachable);
    tokio::time::timeout(WAIT, acceptor.wait_for(|s| !s.accepting))
        .await
        .unwrap();
    acceptor.insert(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        seller.events().is_empty(),
        "no money taken: {:?}",
        seller.events()
    );
    *seller.health.lock().unwrap() = Ok(());
    tokio::time::timeout(WAIT, acceptor.wait_for(|s| s.accepting))
        .await
        .unwrap();
}

#[tokio::test]
async fn with_the_paper_out_the_voucher_goes_to_the_display_and_the_operator_hears() {
    let dir = tempfile::tempdir().unwrap();
    let config = sim_config(dir.path());
    let seller = Arc::new(MemorySeller::new(&config));
    let (alerts_tx, mut alerts) = mpsc::channel(16);
    let kiosk = crate::runner::start(&config, seller.clone(), Some(alerts_tx))
        .await
        .unwrap();
    let acceptor = kiosk.sim.acceptor.clone().unwrap();
    let printer = kiosk.sim.printer.clone().unwrap();
    acceptor.wait_for(|s| s.accepting).await;
    printer.set_paper(true, false);
    acceptor.insert(2).await;
    tokio::time::timeout(WAIT, async {
        while !seller.events().contains(&SellerEvent::Credit(5)) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    kiosk.handle.press(0).await;
    let alert = tokio::time::timeout(WAIT, async {
        loop {
            match alerts.recv().await {
                Some(crate::machine::Alert::PaperOut) | None => return true,
                Some(_) => continue,
            }
        }
    })
    .await
    .unwrap();
    assert!(alert);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        seller
            .events()
            .iter()
            .any(|e| matches!(e, SellerEvent::Delivered { printed: false, .. })),
        "{:?}",
        seller.events()
    );
    assert!(printer
        .next_ticket(Duration::from_millis(200))
        .await
        .is_none());
    // The display (a PNG panel here) shows the voucher's QR: decode it.
    let png = std::fs::read(dir.path().join("current.png")).unwrap();
    if let Some(found) = crate::printer::render::zbar_decode(&png) {
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("http://hotspot.lan/login?username=SIM"),
            "{found:?}"
        );
    }
    assert!(
        acceptor.state().accepting,
        "a display can still deliver: keep selling"
    );
}

#[tokio::test]
async fn paper_running_out_while_idle_shuts_the_slot_before_a_coin_without_a_display() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = sim_config(dir.path());
    config.kiosk.display.kind = firmware_config::kiosk::DisplayKind::None;
    let seller = Arc::new(MemorySeller::new(&config));
    let kiosk = crate::runner::start(&config, seller.clone(), None)
        .await
        .unwrap();
    let acceptor = kiosk.sim.acceptor.clone().unwrap();
    let printer = kiosk.sim.printer.clone().unwrap();
    acceptor.wait_for(|s| s.accepting).await;
    // The roll ends with nobody at the kiosk: the idle status poll notices.
    printer.set_paper(true, false);
    tokio::time::timeout(Duration::from_secs(3), acceptor.wait_for(|s| !s.accepting))
        .await
        .expect("the slot shuts within the printer poll");
    assert_eq!(
        kiosk.handle.status().out_of_service.as_deref(),
        Some("out of paper")
    );
    acceptor.insert(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        seller.events().is_empty(),
        "no coin taken: {:?}",
        seller.events()
    );
    printer.set_paper(false, false);
    tokio::time::timeout(Duration::from_secs(3), acceptor.wait_for(|s| s.accepting))
        .await
        .expect("the slot opens again with paper");
}

#[tokio::test]
async fn the_demo_purchase_returns_a_ticket_and_the_status_follows() {
    let dir = tempfile::tempdir().unwrap();
    let (kiosk, _) = sim_kiosk(dir.path()).await;
    // Channels 2 + 2 = 10: button 0 buys "1 hour" (5), 5 stays (carry_over).
    let ticket = demo::purchase(&kiosk, &[2, 2], 0, WAIT).await.unwrap();
    assert!(
        ticket.lines.iter().any(|l| l.starts_with("Code: SIM")),
        "{:?}",
        ticket.lines
    );
    let status = kiosk.handle.wait_for(|s| s.delivered == 1).await;
    assert_eq!(status.credit, 5);
    assert_eq!(status.out_of_service, None);
    assert!(status.screen.starts_with("Voucher"), "{}", status.screen);
}

#[tokio::test]
async fn a_demo_customer_who_comes_while_the_last_ticket_is_being_cut_still_gets_a_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let (kiosk, _) = sim_kiosk(dir.path()).await;
    // The ticket is out before the printer answers: the kiosk is still printing
    // when the first purchase has its ticket and the next customer starts.
    kiosk
        .sim
        .printer
        .as_ref()
        .unwrap()
        .set_cut_time(Duration::from_millis(500));
    // Channel 2 is 5, the price of button 0 ("1 hour").
    for customer in 1..=2 {
        let ticket = demo::purchase(&kiosk, &[2], 0, WAIT).await;
        assert!(ticket.is_ok(), "customer {customer}: {ticket:?}");
    }
    let status = kiosk.handle.status();
    assert_eq!(
        (status.delivered, status.credit),
        (2, 0),
        "a purchase ends once its ticket is counted delivered, its coin spent"
    );
}

#[tokio::test]
async fn a_simulated_printer_that_answers_late_on_a_busy_machine_still_prints_the_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let (kiosk, _) = sim_kiosk(dir.path()).await;
    // The simulator runs in the agent's process: under load its answer can come
    // later than a real printer's would, and that is not an offline printer.
    let printer = kiosk.sim.printer.clone().unwrap();
    printer.set_answer_time(Duration::from_millis(800));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ticket = demo::purchase(&kiosk, &[2], 0, WAIT).await;
    assert!(ticket.is_ok(), "{ticket:?}");
    assert_eq!(kiosk.handle.status().printer.as_deref(), Some("ready"));
}
