//! The control channel against a whole agent in this process: the simulated router,
//! the simulated acceptor and printer, the socket in a temporary state folder.

#[cfg(feature = "sim")]
use std::sync::Arc;
use std::time::Duration;

use super::*;

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn requests_and_replies_read_as_one_json_line_each() {
    let line = serde_json::to_string(&Request::SimCoin { value: 5 }).unwrap();
    assert_eq!(line, r#"{"op":"sim_coin","value":5}"#);
    let r: Request = serde_json::from_str(r#"{"op":"sim_paper","paper":"out"}"#).unwrap();
    assert_eq!(
        r,
        Request::SimPaper {
            paper: PaperState::Out
        }
    );
    let line = serde_json::to_string(&Reply::Done {
        message: "ok".into(),
    })
    .unwrap();
    assert_eq!(line, r#"{"reply":"done","message":"ok"}"#);
}

#[tokio::test]
async fn a_missing_service_is_named_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let err = ask(&socket_path(dir.path()), &Request::Status, WAIT)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("the service is not running"), "{err}");
    assert!(err.contains("control.sock"), "{err}");
}

#[cfg(feature = "sim")]
mod live {
    use super::*;
    use crate::app::Agent;
    use crate::store::SaleState;
    use tokio_util::sync::CancellationToken;

    struct Running {
        agent: Option<Agent>,
        socket: std::path::PathBuf,
        cancel: CancellationToken,
        _sim: routeros_sim::SimHandle,
        _dir: tempfile::TempDir,
    }

    impl Running {
        fn agent(&self) -> &Agent {
            self.agent.as_ref().unwrap()
        }
        fn printer(&self) -> kiosk::sim::SimPrinter {
            self.agent()
                .kiosk
                .as_ref()
                .and_then(|k| k.sim.printer.clone())
                .unwrap()
        }
        async fn ask(&self, r: Request) -> Reply {
            ask(&self.socket, &r, WAIT).await.unwrap()
        }
        async fn stop(mut self) {
            self.cancel.cancel();
            if let Some(a) = self.agent.take() {
                a.stop().await;
            }
        }
    }

    async fn start() -> Running {
        use firmware_config::kiosk::{CoinKind, DisplayKind, PrinterKind};
        let dir = tempfile::tempdir().unwrap();
        let mut config = firmware_config::Config::bundled_default();
        config.agent.state_dir = dir.path().join("state");
        config.kiosk.coin.kind = CoinKind::Sim;
        config.kiosk.printer.kind = PrinterKind::Sim;
        config.kiosk.display.kind = DisplayKind::None;
        config.kiosk.language = firmware_config::kiosk::Language::Fil;
        for p in &mut config.plans {
            p.pool = 0;
        }
        let sim = routeros_sim::SimRouter::start(routeros_sim::SimOptions::version("7.18"))
            .await
            .unwrap();
        let router_cfg = firmware_config::RouterConfig {
            name: "sim".into(),
            transport: firmware_config::Transport::Api,
            ..crate::simulated::router_config(
                &sim,
                &config.routers.first().cloned().unwrap_or_default(),
            )
        };
        let router = routeros::SharedRouter::new(
            routeros::RouterSettings::from_config(&router_cfg, 0).unwrap(),
        );
        crate::app::actions::sync_profiles(&router, &config.profiles)
            .await
            .unwrap();
        let store = crate::cli::open_store(&config).unwrap();
        let agent = Agent::start(&config, &router_cfg, router, store)
            .await
            .unwrap();
        let socket = socket_path(&config.agent.state_dir);
        let listener = bind(&socket).unwrap();
        let cancel = CancellationToken::new();
        let service = Arc::new(ControlService::new(&agent, &config));
        tokio::spawn(serve(listener, socket.clone(), service, cancel.clone()));
        let acceptor = agent.kiosk.as_ref().unwrap().sim.acceptor.clone().unwrap();
        tokio::time::timeout(WAIT, acceptor.wait_for(|s| s.accepting))
            .await
            .expect("the coin slot opens");
        Running {
            agent: Some(agent),
            socket,
            cancel,
            _sim: sim,
            _dir: dir,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_technician_drives_the_simulated_kiosk_and_reads_its_live_state() {
        use std::os::unix::fs::PermissionsExt as _;
        let run = start().await;
        let mode = std::fs::metadata(&run.socket).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o660, "{mode:o}");
        let Reply::Status(live) = run.ask(Request::Status).await else {
            panic!("no status")
        };
        assert_eq!(live.printer.as_deref(), Some("ready"));
        assert_eq!(live.coin.as_deref(), Some("ok"));
        assert_eq!(live.simulated, ["coin", "printer", "buttons"]);

        let Reply::Done { message } = run.ask(Request::SimCoin { value: 5 }).await else {
            panic!("coin not taken")
        };
        assert!(message.contains("credit \u{20b1}5"), "{message}");
        let Reply::Error { message } = run.ask(Request::SimCoin { value: 3 }).await else {
            panic!("a 3-peso coin was taken")
        };
        assert!(message.contains("takes 1, 5, 10"), "{message}");
        // The second plan costs 20: the press is answered with what is missing.
        let Reply::Done { message } = run.ask(Request::SimPress { button: 2 }).await else {
            panic!("press refused")
        };
        assert!(message.contains("hulog pa \u{20b1}15"), "{message}");
        run.ask(Request::SimPress { button: 1 }).await;
        let ticket = run.printer().next_ticket(WAIT).await.expect("a ticket");
        assert!(
            ticket
                .lines
                .iter()
                .any(|l| l.contains("mula sa unang login")),
            "{:?}",
            ticket.lines
        );

        run.ask(Request::SimPaper {
            paper: PaperState::Out,
        })
        .await;
        let kiosk = run.agent().kiosk.as_ref().unwrap().handle.clone();
        tokio::time::timeout(
            WAIT,
            kiosk.wait_for(|s| s.printer.as_deref() == Some("out of paper")),
        )
        .await
        .expect("the kiosk notices the paper is out");
        let Reply::Status(live) = run.ask(Request::Status).await else {
            panic!("no status")
        };
        assert_eq!(live.printer.as_deref(), Some("out of paper"));
        let Reply::Error { message } = run
            .ask(Request::PrintBatch {
                plan: "1h".into(),
                count: 3,
            })
            .await
        else {
            panic!("printed without paper")
        };
        assert!(message.contains("out of paper"), "{message}");
        let store = run.agent().vouchers.store().clone();
        assert_eq!(
            store
                .recent_sales(50)
                .unwrap()
                .iter()
                .filter(|s| s.source == "batch")
                .count(),
            0,
            "no voucher made for a sheet that cannot print"
        );
        run.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_prints_as_one_sheet_and_a_reprint_says_when_it_was_first_printed() {
        let run = start().await;
        let Reply::Printed(p) = run
            .ask(Request::PrintBatch {
                plan: "1h".into(),
                count: 12,
            })
            .await
        else {
            panic!("no sheet")
        };
        assert_eq!(p.printed, 12);
        let printer = run.printer();
        let mut lines = Vec::new();
        // Two jobs (10 + 2 cards), one cut: the sheet arrives as one ticket.
        let sheet = printer.next_ticket(WAIT).await.expect("the sheet");
        lines.extend(sheet.lines.clone());
        let store = run.agent().vouchers.store().clone();
        let sales = store.sales_by_ids(&p.sale_ids).unwrap();
        for s in &sales {
            assert_eq!(s.state, SaleState::Delivered, "{}", s.code);
            assert!(
                lines.iter().any(|l| l == &s.code),
                "{} not on the sheet",
                s.code
            );
        }
        let code = sales[0].code.clone();
        let Reply::Printed(again) = run.ask(Request::Reprint { code: code.clone() }).await else {
            panic!("no reprint")
        };
        assert_eq!(again.sale_ids, vec![sales[0].id]);
        let copy = printer.next_ticket(WAIT).await.expect("the reprint");
        assert_eq!(copy.lines[1], "REPRINT", "{:?}", copy.lines);
        assert!(
            copy.lines[2].starts_with("unang print 20"),
            "{:?}",
            copy.lines
        );
        assert_eq!(copy.qr.as_deref().map(|q| q.contains(&code)), Some(true));
        let Reply::Error { message } = run
            .ask(Request::Reprint {
                code: "NOSUCH".into(),
            })
            .await
        else {
            panic!("reprinted an unknown code")
        };
        assert!(message.contains("no voucher NOSUCH"), "{message}");
        run.stop().await;
    }
}
