//! Hostile bytes on a logged-in connection: whatever the router sends, a call ends
//! (with rows or an error) in bounded time and nothing panics.

use std::time::Duration;

use proptest::prelude::*;

use super::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_reply_bytes_end_the_call_without_panicking(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        chunk in 1usize..64,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let port = fake_router(move |mut p, _| {
                let bytes = bytes.clone();
                async move {
                    p.login_ok().await;
                    let _ = p.read().await;
                    for piece in bytes.chunks(chunk) {
                        p.raw(piece).await;
                    }
                    // then silence: the deadline must end the call
                    std::future::pending::<()>().await;
                }
            })
            .await;
            let c = ApiClient::spawn(config(port, Duration::from_millis(200)));
            let outcome = tokio::time::timeout(Duration::from_secs(3), c.call(Command::new("/x/print"))).await;
            prop_assert!(outcome.is_ok(), "the call hung");
            Ok(())
        })?;
    }
}
