//! Binary API client tests against scripted fake routers: a TcpListener on
//! 127.0.0.1:0 that reads command sentences with `proto` and writes scripted replies.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use super::*;
use crate::testing::peer::{fake_router, fake_router_with};
use routeros_proto::{encode_sentence, Command};

pub(crate) fn config(port: u16, timeout: Duration) -> ApiConfig {
    ApiConfig {
        router: "test".into(),
        host: "127.0.0.1".into(),
        port,
        tls: None,
        username: "admin".into(),
        password: Secret::new(""),
        timeout,
        limits: Limits::default(),
    }
}

fn client(port: u16) -> ApiClient {
    ApiClient::spawn(config(port, Duration::from_secs(5)))
}

fn print(path: &str) -> Command {
    Command::new(format!("{path}/print"))
}

#[tokio::test]
async fn replies_interleaved_out_of_order_reach_the_right_caller() {
    let port = fake_router(|mut p, _| async move {
        p.login_ok().await;
        let mut tags = Vec::new();
        for _ in 0..3 {
            let cmd = p.read().await;
            tags.push((cmd.tag.clone().unwrap(), cmd.path.clone()));
        }
        // Answer the last command first; spread !re of different commands between each other.
        for (tag, path) in tags.iter().rev() {
            p.send(&["!re", &format!("=path={path}"), &format!(".tag={tag}")])
                .await;
        }
        for (tag, path) in &tags {
            // tag in the middle of the sentence, as GO's TestListen shows it can be
            p.send(&["!re", &format!(".tag={tag}"), &format!("=path={path}")])
                .await;
        }
        for (tag, _) in tags.iter().rev() {
            p.send(&["!done", &format!(".tag={tag}")]).await;
        }
        std::future::pending::<()>().await;
    })
    .await;
    let c = client(port);
    let (a, b, d) = tokio::join!(
        c.call(print("/a")),
        c.call(print("/b")),
        c.call(print("/d"))
    );
    for (result, path) in [(a, "/a/print"), (b, "/b/print"), (d, "/d/print")] {
        let rows = result.unwrap().rows;
        assert_eq!(rows.len(), 2, "{path}");
        assert!(rows.iter().all(|r| r["path"] == path), "{path}: {rows:?}");
    }
}

#[tokio::test]
async fn two_hundred_commands_in_flight_on_one_connection_all_resolve() {
    let port = fake_router(|mut p, index| async move {
        assert_eq!(index, 0, "one connection only");
        p.login_ok().await;
        // Read all 200 before answering any: a client that waited for each reply
        // before sending the next would time out here.
        let mut cmds = Vec::new();
        for _ in 0..200 {
            cmds.push(p.read().await);
        }
        for cmd in cmds.iter().rev() {
            let name = cmd.get("name").unwrap().to_string();
            let tag = cmd.tag.clone().unwrap();
            p.send(&["!done", &format!("=ret=*{name}"), &format!(".tag={tag}")])
                .await;
        }
        std::future::pending::<()>().await;
    })
    .await;
    let c = client(port);
    let calls = (0..200).map(|i| {
        let c = c.clone();
        async move {
            let cmd = Command::new("/ip/hotspot/user/add").attr("name", format!("{i:X}"));
            (i, c.call(cmd).await)
        }
    });
    let results = futures_util::future::join_all(calls).await;
    for (i, r) in results {
        assert_eq!(r.unwrap().done["ret"], format!("*{i:X}"));
    }
}

#[tokio::test]
async fn among_many_in_flight_only_the_unanswered_command_times_out_and_later_ones_still_can() {
    // The router answers every add but `5`, the first sent, and `S7`, sent after
    // the first deadline passed: each must time out at its own deadline although
    // the commands sent around it were answered (their deadlines come and go).
    let port = fake_router(|mut p, _| async move {
        p.login_ok().await;
        loop {
            let cmd = p.read().await;
            let name = cmd.get("name").map(|w| w.to_string()).unwrap_or_default();
            if cmd.path == "/cancel" || name == "5" || name == "S7" {
                continue;
            }
            let tag = cmd.tag.clone().unwrap();
            p.send(&["!done", &format!("=ret=*{name}"), &format!(".tag={tag}")])
                .await;
        }
    })
    .await;
    let c = ApiClient::spawn(config(port, Duration::from_millis(400)));
    let add = |name: String| {
        let c = c.clone();
        async move {
            let r = c
                .call(Command::new("/ip/hotspot/user/add").attr("name", name.as_str()))
                .await;
            (name, r)
        }
    };
    let started = std::time::Instant::now();
    let first = futures_util::future::join_all((0..50).map(|i| add(format!("{i}"))));
    let second = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        futures_util::future::join_all((0..10).map(|i| add(format!("S{i}")))).await
    };
    let (first, second) = tokio::join!(first, second);
    for (name, r) in first.into_iter().chain(second) {
        match (name.as_str(), r) {
            ("5" | "S7", Err(RouterError::Timeout { .. })) => {}
            ("5" | "S7", other) => panic!("{name}: {other:?}"),
            (_, r) => assert_eq!(r.unwrap().done["ret"], format!("*{name}")),
        }
    }
    // S7 timed out at its own deadline (sent at 0.5 s, 0.4 s timeout), not later.
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    // Two timeouts with answers between them: the connection was kept.
    let (_, r) = add("after".into()).await;
    assert_eq!(r.unwrap().done["ret"], "*after");
}

#[tokio::test]
async fn a_command_past_its_deadline_times_out_and_is_cancelled_by_tag() {
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::channel::<(Command, Command)>(1);
    let port = fake_router(move |mut p, _| {
        let seen_tx = seen_tx.clone();
        async move {
            p.login_ok().await;
            let slow = p.read().await; // never answered in time
            let cancel = p.read().await;
            let slow_tag = slow.tag.clone().unwrap();
            let cancel_tag = cancel.tag.clone().unwrap();
            // DOC-API cancel sequence, then a late reply that must be dropped.
            p.send(&[
                "!trap",
                "=category=2",
                "=message=interrupted",
                &format!(".tag={slow_tag}"),
            ])
            .await;
            p.send(&["!done", &format!(".tag={cancel_tag}")]).await;
            p.send(&["!done", &format!(".tag={slow_tag}")]).await;
            let _ = seen_tx.send((slow, cancel)).await;
            let next = p.read().await;
            let tag = next.tag.clone().unwrap();
            p.send(&["!re", "=name=after", &format!(".tag={tag}")])
                .await;
            p.send(&["!done", &format!(".tag={tag}")]).await;
            std::future::pending::<()>().await;
        }
    })
    .await;
    let c = ApiClient::spawn(config(port, Duration::from_millis(300)));
    let started = std::time::Instant::now();
    let err = c.call(print("/slow")).await.unwrap_err();
    assert!(
        matches!(err, RouterError::Timeout { ref command, .. } if command == "/slow/print"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let (slow, cancel) = seen_rx.recv().await.unwrap();
    assert_eq!(cancel.path, "/cancel");
    assert_eq!(cancel.get_text("tag"), slow.tag.as_deref());
    assert_ne!(cancel.tag, slow.tag);
    // The same connection goes on working; the cancelled command's late replies were dropped.
    let rows = c.call(print("/next")).await.unwrap().rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], "after");
}

#[tokio::test]
async fn pre_643_challenge_login_sends_the_go_test_vector() {
    // GO proto_test.go TestLoginPre643: password passTest, challenge abc123.
    let port = fake_router(|mut p, _| async move {
        let first = p.read().await;
        assert_eq!(first.get_text("password"), Some("passTest"));
        p.send(&["!done", "=ret=abc123"]).await;
        let second = p.read().await;
        assert_eq!(second.path, "/login");
        assert_eq!(second.get_text("name"), Some("admin"));
        if second.get_text("response") == Some("0021277bff9ac7caf06aa608e46616d47f") {
            p.send(&["!done"]).await;
        } else {
            p.send(&["!trap", "=message=cannot log in"]).await;
            p.send(&["!done"]).await;
        }
        let cmd = p.read().await;
        let tag = cmd.tag.unwrap();
        p.send(&["!done", &format!(".tag={tag}")]).await;
        std::future::pending::<()>().await;
    })
    .await;
    let mut cfg = config(port, Duration::from_secs(5));
    cfg.password = Secret::new("passTest");
    let c = ApiClient::spawn(cfg);
    c.call(print("/system/resource")).await.unwrap();
}

async fn login_answered_with(trap: &'static str) -> RouterError {
    let port = fake_router(move |mut p, _| async move {
        let _ = p.read().await;
        p.send(&["!trap", &format!("=message={trap}")]).await;
        p.send(&["!done"]).await;
        std::future::pending::<()>().await;
    })
    .await;
    client(port).call(print("/x")).await.unwrap_err()
}

#[tokio::test]
async fn login_failure_texts_are_bad_credentials() {
    for text in ["invalid user name or password (6)", "cannot log in"] {
        let err = login_answered_with(text).await;
        assert!(
            matches!(err, RouterError::BadCredentials { ref message, .. } if message == text),
            "{text}: {err}"
        );
    }
}

#[tokio::test]
async fn a_login_trap_about_permissions_is_a_missing_api_policy() {
    let err = login_answered_with("not enough permissions (9)").await;
    assert!(
        matches!(err, RouterError::MissingPolicy { policy: "api", .. }),
        "{err}"
    );
}

#[tokio::test]
async fn empty_then_done_is_zero_rows() {
    let port = fake_router(|mut p, _| async move {
        p.login_ok().await;
        let tag = p.read().await.tag.unwrap();
        p.send(&["!empty", &format!(".tag={tag}")]).await;
        p.send(&["!done", &format!(".tag={tag}")]).await;
        std::future::pending::<()>().await;
    })
    .await;
    let response = client(port)
        .call(print("/ip/hotspot/active"))
        .await
        .unwrap();
    assert!(response.rows.is_empty());
}

#[tokio::test]
async fn several_traps_become_one_error_with_every_message_and_the_category() {
    let port = fake_router(|mut p, _| async move {
        p.login_ok().await;
        let tag = p.read().await.tag.unwrap();
        let t = format!(".tag={tag}");
        // LRDOCS "Multiple error messages"
        p.send(&[
            "!trap",
            "=category=0",
            "=message=no such command or directory (aasasa)",
            &t,
        ])
        .await;
        p.send(&["!trap", "=message=no such command prefix", &t])
            .await;
        p.send(&["!done", &t]).await;
        std::future::pending::<()>().await;
    })
    .await;
    let err = client(port).call(print("/aasasa")).await.unwrap_err();
    match err {
        RouterError::Trap {
            message, category, ..
        } => {
            assert_eq!(
                message,
                "no such command or directory (aasasa); no such command prefix"
            );
            assert_eq!(category, Some(0));
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_duplicate_user_trap_keeps_the_routers_words() {
    let port = fake_router(|mut p, _| async move {
        p.login_ok().await;
        let tag = p.read().await.tag.unwrap();
        let t = format!(".tag={tag}");
        p.send(&[
            "!trap",
            "=message=failure: already have user with this name for this server",
            &t,
        ])
        .await;
        p.send(&["!done", &t]).await;
        std::future::pending::<()>().await;
    })
    .await;
    let err = client(port)
        .call(Command::new("/ip/hotspot/user/add"))
        .await
        .unwrap_err();
    assert!(err.is_duplicate_user(), "{err}");
    assert!(err
        .to_string()
        .contains("failure: already have user with this name for this server"));
}

#[tokio::test]
async fn fatal_fails_the_commands_in_flight_and_the_next_call_reconnects() {
    let port = fake_router(|mut p, index| async move {
        p.login_ok().await;
        let cmd = p.read().await;
        if index == 0 {
            // WIKI-NOTES: !fatal with a bare reason word, then the router closes.
            p.send(&["!fatal", "session terminated on request"]).await;
            return;
        }
        let tag = cmd.tag.unwrap();
        p.send(&["!re", "=ok=yes", &format!(".tag={tag}")]).await;
        p.send(&["!done", &format!(".tag={tag}")]).await;
        std::future::pending::<()>().await;
    })
    .await;
    let c = client(port);
    let err = c.call(print("/one")).await.unwrap_err();
    assert!(
        matches!(err, RouterError::Fatal { ref reason, .. } if reason == "session terminated on request"),
        "{err}"
    );
    let rows = c.call(print("/two")).await.unwrap().rows;
    assert_eq!(rows[0]["ok"], "yes");
}

#[tokio::test]
async fn a_control_byte_is_a_protocol_error_and_a_fresh_connection_follows() {
    let port = fake_router(|mut p, index| async move {
        p.login_ok().await;
        let cmd = p.read().await;
        if index == 0 {
            p.raw(&[0xF8, 0x00]).await; // F8: reserved control byte (DOC-API)
            std::future::pending::<()>().await;
        }
        p.send(&["!done", &format!(".tag={}", cmd.tag.unwrap())])
            .await;
        std::future::pending::<()>().await;
    })
    .await;
    let c = client(port);
    let err = c.call(print("/x")).await.unwrap_err();
    assert!(matches!(err, RouterError::Protocol { .. }), "{err}");
    c.call(print("/x")).await.unwrap();
}

#[tokio::test]
async fn an_oversized_word_length_is_refused_without_waiting_for_it() {
    let port = fake_router(|mut p, _| async move {
        p.login_ok().await;
        let _ = p.read().await;
        // E0 20 00 00: a 2 MiB word announced, above the 1 KiB limit of this client.
        p.raw(&[0x03, b'!', b'r', b'e', 0xE0, 0x20, 0x00, 0x00])
            .await;
        std::future::pending::<()>().await;
    })
    .await;
    let mut cfg = config(port, Duration::from_secs(5));
    cfg.limits = Limits {
        max_word: 1024,
        max_words: 64,
        ..Limits::default()
    };
    let err = ApiClient::spawn(cfg).call(print("/x")).await.unwrap_err();
    assert!(
        matches!(err, RouterError::Protocol { ref detail, .. } if detail.contains("exceeds")),
        "{err}"
    );
}

#[tokio::test]
async fn replies_trickling_in_one_byte_at_a_time_are_reassembled() {
    let port = fake_router(|mut p, _| async move {
        p.login_ok().await;
        let tag = p.read().await.tag.unwrap();
        let mut out = Vec::new();
        encode_sentence(&["!re", "=name=slow", &format!(".tag={tag}")], &mut out);
        out.push(0); // an empty sentence in between is ignored
        encode_sentence(&["!done", &format!(".tag={tag}")], &mut out);
        for b in out {
            p.raw(&[b]).await;
        }
        std::future::pending::<()>().await;
    })
    .await;
    let rows = client(port).call(print("/x")).await.unwrap().rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], "slow");
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = client(port).call(print("/x")).await.unwrap_err();
    assert!(matches!(err, RouterError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn a_router_that_never_answers_the_login_times_out() {
    let port = fake_router(|mut p, _| async move {
        let _ = p.read().await;
        std::future::pending::<()>().await;
    })
    .await;
    let err = ApiClient::spawn(config(port, Duration::from_millis(300)))
        .call(print("/x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RouterError::Timeout { ref command, .. } if command == "/login"),
        "{err}"
    );
}

#[tokio::test]
async fn a_connection_dropped_mid_command_fails_it_as_closed() {
    let port = fake_router(|mut p, _| async move {
        p.login_ok().await;
        let _ = p.read().await;
        // dropping the peer closes the socket
    })
    .await;
    let err = client(port).call(print("/x")).await.unwrap_err();
    assert!(matches!(err, RouterError::Closed { .. }), "{err}");
    assert!(err.outcome_unknown());
}

#[tokio::test]
async fn a_listener_receives_records_and_dropping_it_cancels() {
    let (cancel_tx, mut cancel_rx) = tokio::sync::mpsc::channel::<(String, Command)>(1);
    let port = fake_router(move |mut p, _| {
        let cancel_tx = cancel_tx.clone();
        async move {
            p.login_ok().await;
            let listen = p.read().await;
            assert_eq!(listen.path, "/ip/hotspot/active/listen");
            let tag = listen.tag.clone().unwrap();
            p.send(&["!re", "=.id=*1", "=user=v1", &format!(".tag={tag}")])
                .await;
            p.send(&["!re", "=.id=*1", "=.dead=yes", &format!(".tag={tag}")])
                .await;
            let cancel = p.read().await;
            let _ = cancel_tx.send((tag, cancel)).await;
            std::future::pending::<()>().await;
        }
    })
    .await;
    let c = client(port);
    let mut listener = c
        .stream(Command::new("/ip/hotspot/active/listen"))
        .await
        .unwrap();
    let first = listener.recv().await.unwrap().unwrap();
    assert_eq!(first["user"], "v1");
    let second = listener.recv().await.unwrap().unwrap();
    assert_eq!(second[".dead"], "yes");
    drop(listener);
    let (tag, cancel) = cancel_rx.recv().await.unwrap();
    assert_eq!(cancel.path, "/cancel");
    assert_eq!(cancel.get_text("tag"), Some(tag.as_str()));
}

#[path = "tls_tests.rs"]
pub(crate) mod tls_tests;

#[path = "fuzz_tests.rs"]
mod fuzz_tests;

#[tokio::test]
async fn a_connection_closed_after_serving_is_reopened_at_once_by_the_next_call() {
    let port = fake_router(|mut p, _| async move {
        p.login_ok().await;
        let tag = p.read().await.tag.unwrap();
        p.send(&["!done", &format!(".tag={tag}")]).await;
        // then the router closes the idle connection
    })
    .await;
    let c = client(port);
    c.call(print("/a")).await.unwrap();
    // Let the client notice the close.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    c.call(print("/b")).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn failing_connection_attempts_back_off_instead_of_hammering_the_router() {
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    let port = fake_router(move |p, _| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move { drop(p) } // closes before the login is answered
    })
    .await;
    let c = ApiClient::spawn(config(port, Duration::from_millis(300)));
    let first = c.call(print("/x")).await.unwrap_err();
    assert!(matches!(first, RouterError::Closed { .. }), "{first}");
    // The next attempt is due in 1 s, more than the 300 ms budget: fail at once, no attempt.
    let second = c.call(print("/x")).await.unwrap_err();
    assert!(matches!(second, RouterError::Closed { .. }), "{second}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_absurd_timeout_saturates_instead_of_overflowing() {
    let port = fake_router(|mut p, _| async move {
        p.login_ok().await;
        let tag = p.read().await.tag.unwrap();
        p.send(&["!done", &format!(".tag={tag}")]).await;
        std::future::pending::<()>().await;
    })
    .await;
    let c = ApiClient::spawn(config(port, Duration::MAX));
    c.call(print("/a")).await.unwrap();
}

#[tokio::test]
async fn connections_to_the_router_have_tcp_keepalive_on() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(!socket2::SockRef::from(&tcp).keepalive().unwrap());
    conn::keep_alive(&tcp).unwrap();
    assert!(socket2::SockRef::from(&tcp).keepalive().unwrap());
}

#[tokio::test]
async fn a_flood_of_traps_for_one_command_is_kept_bounded() {
    let port = fake_router(|mut p, _| async move {
        p.login_ok().await;
        let tag = format!(".tag={}", p.read().await.tag.unwrap());
        for i in 0..5_000 {
            p.send(&["!trap", &format!("=message=trap number {i}"), &tag])
                .await;
        }
        p.send(&["!done", &tag]).await;
        std::future::pending::<()>().await;
    })
    .await;
    let err = client(port).call(print("/x")).await.unwrap_err();
    let RouterError::Trap { message, .. } = &err else {
        panic!("{err}");
    };
    assert!(
        message.starts_with("trap number 0; trap number 1;"),
        "{message}"
    );
    assert!(message.ends_with("(and 4984 more traps)"), "{message}");
}

#[tokio::test]
async fn a_connection_whose_commands_keep_timing_out_is_reopened() {
    let port = fake_router(|mut p, index| async move {
        p.login_ok().await;
        loop {
            let cmd = p.read().await;
            // The first connection is stuck: it reads commands and never answers.
            if index > 0 {
                p.send(&["!done", &format!(".tag={}", cmd.tag.unwrap())])
                    .await;
            }
        }
    })
    .await;
    let c = ApiClient::spawn(config(port, Duration::from_millis(150)));
    for _ in 0..3 {
        let err = c.call(print("/x")).await.unwrap_err();
        assert!(matches!(err, RouterError::Timeout { .. }), "{err}");
    }
    // Three in a row: the next call goes out on a new connection, which answers.
    c.call(print("/x")).await.unwrap();
}

#[tokio::test]
async fn a_router_that_never_finishes_cancelled_commands_gets_a_new_connection() {
    let port = fake_router(|mut p, index| async move {
        p.login_ok().await;
        loop {
            let cmd = p.read().await;
            // The first connection never answers: not the streams, not their /cancel.
            if index > 0 {
                p.send(&["!done", &format!(".tag={}", cmd.tag.unwrap())])
                    .await;
            }
        }
    })
    .await;
    let c = client(port);
    // Each dropped stream leaves two tags waiting: its own and its /cancel's.
    for _ in 0..520 {
        drop(c.stream(Command::new("/log/listen")).await.unwrap());
    }
    c.call(print("/x")).await.unwrap();
}

#[tokio::test]
async fn a_router_back_after_an_outage_is_found_within_two_seconds_not_a_grown_back_off() {
    // Refuses every connection for 4 s (a reboot, the API service off), then answers.
    let back_at = std::time::Instant::now() + Duration::from_secs(4);
    let port = fake_router(move |mut p, _| async move {
        if std::time::Instant::now() < back_at {
            return drop(p);
        }
        p.login_ok().await;
        loop {
            let tag = p.read().await.tag.unwrap();
            p.send(&["!done", &format!(".tag={tag}")]).await;
        }
    })
    .await;
    let c = ApiClient::spawn(config(port, Duration::from_secs(3)));
    // A caller that tries every 100 ms, as the kiosk's rounds do.
    while c.call(print("/x")).await.is_err() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let late = std::time::Instant::now().saturating_duration_since(back_at);
    assert!(
        late < Duration::from_millis(2500),
        "found {late:?} after it came back"
    );
}
