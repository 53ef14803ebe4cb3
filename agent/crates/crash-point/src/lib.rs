//! Crash points for the kill -9 tests: with the `enabled` feature (turned on by the
//! agent's `sim` feature), `HOTSPOT_CRASH_AT=<step>[:<n>]`
//! makes the n-th pass through `<step>` announce itself on stderr and stop there,
//! so the test can SIGKILL the process at exactly that instant. The box's release
//! build (no `sim`) compiles this to nothing. The voucher issuance and the kiosk
//! runner both mark their steps with it, so it sits below both.

#[cfg(feature = "enabled")]
pub fn crash_point(step: &str) {
    use std::io::Write;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;

    static TARGET: OnceLock<Option<(String, u32)>> = OnceLock::new();
    static HITS: AtomicU32 = AtomicU32::new(0);
    let target = TARGET.get_or_init(|| {
        let text = std::env::var("HOTSPOT_CRASH_AT").ok()?;
        let (name, n) = match text.split_once(':') {
            Some((name, n)) => (name.to_string(), n.parse().unwrap_or(1)),
            None => (text, 1),
        };
        Some((name, n))
    });
    let Some((name, n)) = target else { return };
    if name != step || HITS.fetch_add(1, Ordering::SeqCst) + 1 != *n {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "HOTSPOT_CRASH_POINT {step}");
    let _ = err.flush();
    // Wait for the SIGKILL; never carry on past the crash point. If nobody kills
    // us (run by hand), abort rather than hang.
    std::thread::sleep(std::time::Duration::from_secs(30));
    std::process::abort();
}

#[cfg(not(feature = "enabled"))]
#[inline(always)]
pub fn crash_point(_step: &str) {}
