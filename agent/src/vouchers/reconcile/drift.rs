//! The drift episode: drift left unrepaired is told when it starts or changes and
//! when none is left (`drift_gone`), not every round; the store keeps the episode
//! across rounds, restarts and the command line.

use std::collections::BTreeSet;

use crate::store::DriftNews;

/// How a reconcile changed the drift episode: the drift it leaves unrepaired is
/// told when that starts or changes and when none is left, not every round
/// ([`crate::store::Store::note_drift`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DriftChange {
    /// As before: no drift, or the same drift as the last reconcile left.
    #[default]
    Same,
    /// Drift is left, other than before; `new` of the `left` differences are new.
    Changed { left: usize, new: usize },
    /// Drift there was (before, or found and repaired now) and none is left.
    Gone,
}

impl DriftChange {
    /// The change a reconcile made: `news` is what the store said when the round's
    /// drift was noted, `found` whether the round found any, `left` what it did not
    /// repair.
    pub(super) fn of(news: &DriftNews, found: bool, left: Vec<String>) -> DriftChange {
        let left: BTreeSet<String> = left.into_iter().collect();
        if left.is_empty() {
            if news.before.is_empty() && !found {
                DriftChange::Same
            } else {
                DriftChange::Gone
            }
        } else if left != news.before {
            DriftChange::Changed {
                left: left.len(),
                new: news.new.len(),
            }
        } else {
            DriftChange::Same
        }
    }

    /// Tells the journal of this change; `left` differences are unrepaired, and
    /// `first` is the service's first round (drift a start finds is told once too).
    pub(super) fn tell(self, left: usize, first: bool) {
        match self {
            DriftChange::Changed { left, new } => drift_differs(left, new),
            DriftChange::Same if first && left > 0 => drift_differs(left, 0),
            DriftChange::Gone => tracing::info!("router and cache agree again"),
            DriftChange::Same => {}
        }
    }
}

/// The journal's line for drift left to the operator. The figures are in the text,
/// so a changed drift is not taken for a repeat of the last line.
fn drift_differs(left: usize, new: usize) {
    tracing::warn!(
        "router and cache differ in {left} place(s), {new} new; `hotspot-agent reconcile` lists them, `reconcile --fix` repairs them"
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use crate::vouchers::tests::setup;
    use routeros::testing::FakeRouter;

    /// Waits until the round listed the router's users `n` more times (so at least
    /// `n - 1` whole rounds ran).
    async fn rounds(router: &FakeRouter, n: u64) {
        let until = router.calls(routeros::testing::Op::Users) + n;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while router.calls(routeros::testing::Op::Users) < until {
            assert!(tokio::time::Instant::now() < deadline, "the rounds stopped");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_lasting_drift_is_told_once_when_it_starts_when_it_grows_and_when_it_is_gone() {
        let (v, router) = setup().await;
        let (log, _guard) = crate::vouchers::tests::log_to_file(tracing::Level::INFO);
        let capped = v.sell("cap", None).await.unwrap();
        let sold_limit = router
            .all_users()
            .into_iter()
            .find(|u| u.name == capped.code)
            .unwrap()
            .limit_bytes_total;
        router.tamper_limit_bytes(&capped.code, Some(999_999));
        let cancel = CancellationToken::new();
        let task = tokio::spawn(
            v.clone()
                .run_reconcile(Duration::from_millis(10), cancel.clone()),
        );
        rounds(&router, 6).await;
        // A second difference joins the first; then both are repaired by hand.
        router.add_foreign_user("LOST99", Some("hsa:t1:4242"));
        rounds(&router, 6).await;
        router.tamper_limit_bytes(&capped.code, sold_limit);
        router.delete_user_by_name("LOST99");
        rounds(&router, 6).await;
        cancel.cancel();
        task.await.unwrap();

        let kinds = |kind| v.store().events(Some(kind), 100).unwrap();
        let drift = kinds("drift");
        assert_eq!(
            drift.len(),
            2,
            "each difference once, not every round: {drift:?}"
        );
        assert!(drift[1].message.contains("limit-bytes-total"), "{drift:?}");
        assert!(drift[0].message.contains("LOST99"), "{drift:?}");
        let gone = kinds("drift_gone");
        assert_eq!(gone.len(), 1, "{gone:?}");
        assert_eq!(gone[0].level, "warn", "the central office hears it too");
        let journal = std::fs::read_to_string(log.path()).unwrap();
        let lines = |text| journal.lines().filter(|l| l.contains(text)).count();
        assert_eq!(
            lines("router and cache differ"),
            2,
            "start and growth:\n{journal}"
        );
        assert_eq!(lines("router and cache agree again"), 1, "{journal}");
    }
}
