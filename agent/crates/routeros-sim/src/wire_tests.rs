//! The simulator over real TCP, byte for byte, with a tiny client built on `proto`:
//! framing and fragmentation, login per version, tags, traps, `!fatal`, `!empty`,
//! listen/cancel, latency overlap and injected faults.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{FaultOptions, SimHandle, SimOptions, SimRouter};
use routeros_proto::{
    challenge_response, decode_sentence, encode_sentence, parse_reply, Limits, Reply, ReplyKind,
};

struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(sim: &SimHandle) -> Client {
        Client {
            stream: TcpStream::connect(sim.api_addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, words: &[&str]) {
        let mut out = Vec::new();
        encode_sentence(words, &mut out);
        self.stream.write_all(&out).await.unwrap();
    }

    /// The next reply, or `None` at end of stream.
    async fn read(&mut self) -> Option<Reply> {
        loop {
            if let Some((words, used)) = decode_sentence(&self.buf, Limits::default()).unwrap() {
                self.buf.drain(..used);
                if words.is_empty() {
                    continue;
                }
                return Some(parse_reply(&words).unwrap());
            }
            let mut chunk = [0u8; 65536];
            let n = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut chunk))
                .await
                .expect("the simulator answered within 5 s")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Replies up to and including the `!done` carrying `tag`.
    async fn until_done(&mut self, tag: Option<&str>) -> Vec<Reply> {
        let mut out = Vec::new();
        loop {
            let r = self
                .read()
                .await
                .expect("a reply before the connection closed");
            let done = r.kind == ReplyKind::Done && r.tag.as_deref() == tag;
            out.push(r);
            if done {
                return out;
            }
        }
    }

    async fn login(&mut self) {
        self.send(&["/login", "=name=admin", "=password="]).await;
        let r = self.until_done(None).await;
        assert_eq!(r.len(), 1, "{r:?}");
    }
}

async fn sim(version: &str) -> SimHandle {
    SimRouter::start(SimOptions {
        tick: None,
        ..SimOptions::version(version)
    })
    .await
    .unwrap()
}

fn kinds(replies: &[Reply]) -> Vec<ReplyKind> {
    replies.iter().map(|r| r.kind).collect()
}

#[tokio::test]
async fn a_login_sent_one_byte_at_a_time_after_an_empty_sentence_succeeds() {
    let sim = sim("7.18").await;
    let mut c = Client::connect(&sim).await;
    // 00 = an empty sentence, which the router ignores; then the §8 login vector.
    let mut bytes = vec![0u8];
    encode_sentence(&["/login", "=name=admin", "=password="], &mut bytes);
    for b in bytes {
        c.stream.write_all(&[b]).await.unwrap();
        c.stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let r = c.read().await.unwrap();
    assert_eq!(r.text_words(), ["!done"]);
}

#[tokio::test]
async fn a_duplicate_user_traps_with_the_tag_on_every_reply_then_done() {
    let sim = sim("7.18").await;
    let mut c = Client::connect(&sim).await;
    c.login().await;
    c.send(&[
        "/ip/hotspot/user/add",
        "=name=007",
        "=password=x",
        ".tag=a1",
    ])
    .await;
    let r = c.until_done(Some("a1")).await;
    assert_eq!(r[0].text_words(), ["!done", "=ret=*1", ".tag=a1"]);
    c.send(&["/ip/hotspot/user/add", "=name=007", ".tag=a2"])
        .await;
    let r = c.until_done(Some("a2")).await;
    assert_eq!(kinds(&r), [ReplyKind::Trap, ReplyKind::Done]);
    assert_eq!(
        r[0].text("message").as_deref(),
        Some("failure: already have user with this name for this server")
    );
    assert!(r.iter().all(|x| x.tag.as_deref() == Some("a2")));
    // `007` stays a string.
    assert_eq!(sim.user("007").unwrap()["name"], "007");
}

#[tokio::test]
async fn quit_gets_fatal_with_a_bare_reason_and_the_connection_closes() {
    let sim = sim("6.49").await;
    let mut c = Client::connect(&sim).await;
    c.login().await;
    c.send(&["/quit"]).await;
    let r = c.read().await.unwrap();
    assert_eq!(r.text_words(), ["!fatal", "session terminated on request"]);
    assert!(c.read().await.is_none(), "nothing follows !fatal");
}

#[tokio::test]
async fn a_command_before_login_is_fatal() {
    let sim = sim("7.12").await;
    let mut c = Client::connect(&sim).await;
    c.send(&["/ip/hotspot/user/print"]).await;
    assert_eq!(c.read().await.unwrap().kind, ReplyKind::Fatal);
    assert!(c.read().await.is_none());
}

#[tokio::test]
async fn v642_logs_in_by_challenge_and_refuses_a_wrong_response() {
    let sim = sim("6.42").await;
    assert!(sim.rest_addr.is_none(), "v6 has no REST");
    let mut c = Client::connect(&sim).await;
    c.send(&["/login"]).await;
    let r = c.until_done(None).await;
    let challenge = r[0].text("ret").as_deref().unwrap().to_string();
    assert_eq!(challenge.len(), 32);
    c.send(&[
        "/login",
        "=name=admin",
        "=response=00aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ])
    .await;
    let r = c.until_done(None).await;
    assert_eq!(r[0].text("message").as_deref(), Some("cannot log in"));
    c.send(&["/login"]).await;
    let challenge = c.until_done(None).await[0]
        .text("ret")
        .as_deref()
        .unwrap()
        .to_string();
    let response = challenge_response("", &challenge).unwrap();
    c.send(&["/login", "=name=admin", &format!("=response={response}")])
        .await;
    assert_eq!(kinds(&c.until_done(None).await), [ReplyKind::Done]);
    c.send(&["/system/resource/print"]).await;
    let r = c.until_done(None).await;
    assert_eq!(r[0].text("version").as_deref(), Some("6.42 (stable)"));
    assert!(
        r[0].text("build-time").as_deref().unwrap().contains('/'),
        "pre-7.10 dates are mon/dd/yyyy"
    );
}

#[tokio::test]
async fn a_wrong_password_on_v7_gets_the_6_trap() {
    let sim = sim("7.18").await;
    let mut c = Client::connect(&sim).await;
    c.send(&["/login", "=name=admin", "=password=wrong"]).await;
    let r = c.until_done(None).await;
    assert_eq!(
        r[0].text_words(),
        ["!trap", "=message=invalid user name or password (6)"]
    );
}

#[tokio::test]
async fn an_empty_print_has_empty_before_done_only_from_718() {
    for (version, empty) in [("7.12", false), ("7.18", true)] {
        let sim = sim(version).await;
        let mut c = Client::connect(&sim).await;
        c.login().await;
        c.send(&["/ip/hotspot/active/print", ".tag=5"]).await;
        let r = c.until_done(Some("5")).await;
        let expected: &[ReplyKind] = if empty {
            &[ReplyKind::Empty, ReplyKind::Done]
        } else {
            &[ReplyKind::Done]
        };
        assert_eq!(kinds(&r), expected, "{version}");
        assert!(r.iter().all(|x| x.tag.as_deref() == Some("5")));
    }
}

#[tokio::test]
async fn listen_reports_changes_and_cancel_ends_it_in_the_documented_order() {
    let sim = sim("7.18").await;
    let mut c = Client::connect(&sim).await;
    c.login().await;
    c.send(&["/ip/hotspot/user/listen", ".tag=l1"]).await;
    c.send(&["/ip/hotspot/user/add", "=name=v1", ".tag=a"])
        .await;
    let r = c.until_done(Some("a")).await;
    let seen: Vec<&Reply> = r
        .iter()
        .filter(|x| x.tag.as_deref() == Some("l1"))
        .collect();
    let mut saw_add = !seen.is_empty();
    if !saw_add {
        let next = c.read().await.unwrap();
        saw_add = next.tag.as_deref() == Some("l1") && next.text("name").as_deref() == Some("v1");
    }
    assert!(saw_add, "listen reported the new user");
    c.send(&["/ip/hotspot/user/remove", "=.id=*1", ".tag=r"])
        .await;
    let mut dead = false;
    for x in c.until_done(Some("r")).await {
        dead |= x.text(".dead").as_deref() == Some("yes") && x.text(".id").as_deref() == Some("*1");
    }
    if !dead {
        dead = c.read().await.unwrap().text(".dead").as_deref() == Some("yes");
    }
    assert!(dead, "removal reported with =.dead=yes");
    c.send(&["/cancel", "=tag=l1", ".tag=7"]).await;
    let r = c.until_done(Some("l1")).await;
    let words: Vec<Vec<String>> = r.iter().map(|x| x.text_words()).collect();
    assert_eq!(
        words,
        [
            vec!["!trap", "=category=2", "=message=interrupted", ".tag=l1"],
            vec!["!done", ".tag=7"],
            vec!["!done", ".tag=l1"],
        ]
    );
}

#[tokio::test]
async fn print_follow_sends_current_items_then_changes() {
    let sim = sim("7.18").await;
    let mut c = Client::connect(&sim).await;
    c.login().await;
    c.send(&[
        "/ip/hotspot/user/print",
        "=follow=",
        "=.proplist=name",
        ".tag=f",
    ])
    .await;
    let first = c.read().await.unwrap();
    assert_eq!(first.text_words(), ["!re", "=name=default-trial", ".tag=f"]);
    c.send(&["/ip/hotspot/user/add", "=name=v2"]).await;
    let mut got = Vec::new();
    while got.len() < 2 {
        got.push(c.read().await.unwrap().text_words());
    }
    assert!(
        got.contains(&vec![
            "!re".to_string(),
            "=name=v2".to_string(),
            ".tag=f".to_string()
        ]),
        "{got:?}"
    );
}

#[tokio::test]
async fn with_latency_commands_in_flight_overlap() {
    let sim = sim("7.18").await;
    sim.set_latency(Duration::from_millis(150));
    let mut c = Client::connect(&sim).await;
    c.login().await;
    let start = Instant::now();
    for i in 0..8 {
        c.send(&["/system/identity/print", &format!(".tag={i}")])
            .await;
    }
    for i in 0..8 {
        c.until_done(Some(&i.to_string())).await;
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(150),
        "each reply is delayed: {took:?}"
    );
    assert!(
        took < Duration::from_millis(8 * 150),
        "replies were serialised: {took:?}"
    );
}

#[tokio::test]
async fn with_a_service_time_commands_in_flight_queue_for_the_router_cpu() {
    let sim = SimRouter::start(SimOptions {
        tick: None,
        latency: Duration::from_millis(20),
        service_time: Duration::from_millis(10),
        ..SimOptions::version("7.18")
    })
    .await
    .unwrap();
    let mut c = Client::connect(&sim).await;
    c.login().await;
    let start = Instant::now();
    for i in 0..20 {
        c.send(&["/system/identity/print", &format!(".tag={i}")])
            .await;
    }
    let mut gaps = Vec::new();
    for i in 0..20 {
        c.until_done(Some(&i.to_string())).await;
        gaps.push(start.elapsed());
    }
    let took = start.elapsed();
    // One link delay plus 20 x 10 ms of CPU: 220 ms; serialised round trips would be 600 ms.
    assert!(
        took >= Duration::from_millis(200),
        "20 commands need 20 service times: {took:?}"
    );
    assert!(
        took < Duration::from_millis(450),
        "the link delay overlaps: {took:?}"
    );
    assert!(
        gaps[0] < Duration::from_millis(150),
        "the first is served first: {gaps:?}"
    );
}

#[tokio::test]
async fn a_dropped_command_was_carried_out_but_never_answered() {
    let sim = sim("7.18").await;
    sim.set_fault(FaultOptions {
        drop_every_n: Some(2),
        ..FaultOptions::default()
    });
    let mut c = Client::connect(&sim).await;
    c.login().await;
    c.send(&["/ip/hotspot/user/add", "=name=a"]).await;
    assert_eq!(c.until_done(None).await.len(), 1);
    c.send(&["/ip/hotspot/user/add", "=name=b"]).await;
    assert!(c.read().await.is_none(), "connection dropped");
    assert!(sim.user("b").is_some(), "the add happened");
}

#[tokio::test]
async fn fatal_after_n_commands_closes_the_session() {
    let sim = sim("7.18").await;
    sim.set_fault(FaultOptions {
        fatal_after_n: Some(1),
        ..FaultOptions::default()
    });
    let mut c = Client::connect(&sim).await;
    c.login().await;
    c.send(&["/system/identity/print"]).await;
    c.until_done(None).await;
    c.send(&["/system/identity/print"]).await;
    assert_eq!(
        c.read().await.unwrap().text_words(),
        ["!fatal", "session terminated on request"]
    );
    assert!(c.read().await.is_none());
}

#[tokio::test]
async fn a_stall_holds_replies_for_the_stall_time() {
    let sim = sim("7.18").await;
    sim.set_fault(FaultOptions {
        stall_every_n: Some(1),
        stall_for: Some(Duration::from_millis(300)),
        ..FaultOptions::default()
    });
    let mut c = Client::connect(&sim).await;
    c.login().await;
    let start = Instant::now();
    c.send(&["/system/identity/print"]).await;
    c.until_done(None).await;
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn hotspot_clients_grow_counters_until_the_limit_ends_them() {
    let sim = sim("7.18").await;
    let mut c = Client::connect(&sim).await;
    c.login().await;
    c.send(&[
        "/ip/hotspot/user/add",
        "=name=v9",
        "=password=p",
        "=limit-bytes-total=1000000",
    ])
    .await;
    c.until_done(None).await;
    let id = sim.login_client("v9", "p", "02:00:00:00:00:09").unwrap();
    sim.advance(Duration::from_secs(2));
    c.send(&[
        "/ip/hotspot/active/print",
        "=.proplist=.id,user,bytes-out,uptime",
    ])
    .await;
    let r = c.until_done(None).await;
    assert_eq!(r[0].text(".id").as_deref(), Some(id.as_str()));
    assert_eq!(r[0].text("uptime").as_deref(), Some("2s"));
    assert!(
        r[0].text("bytes-out")
            .as_deref()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    sim.add_traffic("v9", 1_000_000).unwrap();
    assert!(sim.active().is_empty(), "the byte limit ended the session");
    assert!(sim.login_client("v9", "p", "02:00:00:00:00:09").is_err());
}

#[tokio::test]
async fn adding_500_and_listing_5000_users_with_2ms_latency_is_quick() {
    let sim = sim("7.18").await;
    sim.set_latency(Duration::from_millis(2));
    let mut c = Client::connect(&sim).await;
    c.login().await;
    let start = Instant::now();
    for i in 0..5000 {
        c.send(&["/ip/hotspot/user/add", &format!("=name=u{i:05}"), ".tag=x"])
            .await;
        if i % 500 == 499 {
            // Read what is pending so neither side's buffers fill up.
            for _ in 0..500 {
                c.until_done(Some("x")).await;
            }
        }
    }
    c.send(&[
        "/ip/hotspot/user/print",
        "=.proplist=.id,name,uptime,bytes-in,bytes-out",
    ])
    .await;
    let r = c.until_done(None).await;
    assert_eq!(r.len(), 5002, "5 000 users, default-trial and !done");
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn an_oversized_word_before_login_closes_the_connection() {
    let sim = sim("7.18").await;
    let mut c = Client::connect(&sim).await;
    let big = format!("=name={}", "x".repeat(4096));
    c.send(&["/login", &big, "=password="]).await;
    assert!(c.read().await.is_none(), "closed without a reply");
    // After login the same word is fine.
    let mut c = Client::connect(&sim).await;
    c.login().await;
    c.send(&["/ip/hotspot/user/add", &big]).await;
    assert_eq!(
        c.until_done(None).await[0].text("ret").as_deref(),
        Some("*1")
    );
}

#[tokio::test]
async fn execute_runs_a_command_in_process_on_every_version() {
    for version in ["6.42", "6.49", "7.18"] {
        let sim = sim(version).await;
        let cmd = routeros_proto::Command::new("/system/identity/print").tagged("i");
        let r = sim.execute(&cmd);
        assert_eq!(
            r[0].text_words(),
            ["!re", "=name=MikroTik", ".tag=i"],
            "{version}"
        );
        assert_eq!(r[1].kind, ReplyKind::Done);
    }
}

#[tokio::test]
async fn an_untagged_cancel_stops_every_stream() {
    let sim = sim("7.18").await;
    let mut c = Client::connect(&sim).await;
    c.login().await;
    c.send(&["/ip/hotspot/user/listen", ".tag=l1"]).await;
    c.send(&["/ip/hotspot/active/listen", ".tag=l2"]).await;
    c.send(&["/cancel"]).await;
    let mut replies = Vec::new();
    while replies.len() < 5 {
        replies.push(c.read().await.unwrap());
    }
    let traps: Vec<Option<&str>> = replies
        .iter()
        .filter(|r| r.kind == ReplyKind::Trap)
        .map(|r| r.tag.as_deref())
        .collect();
    assert_eq!(traps.len(), 2);
    assert!(traps.contains(&Some("l1")) && traps.contains(&Some("l2")));
    assert!(
        replies
            .iter()
            .any(|r| r.kind == ReplyKind::Done && r.tag.is_none()),
        "the cancel's own !done"
    );
    // Both streams are over: a change produces no more `!re`.
    c.send(&["/ip/hotspot/user/add", "=name=after"]).await;
    let next = c.read().await.unwrap();
    assert_eq!(next.text_words(), ["!done", "=ret=*1"]);
}
