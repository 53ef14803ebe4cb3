//! What syncing the configuration's `[[profile]]`s to the router changes: a pure
//! comparison of the wanted profiles with the router's, used by `profiles sync`, by
//! the service at start-up and by plan sets from the central office.

use firmware_config::ProfileConfig;
use routeros::UserProfile;
use serde::Serialize;

/// What `profiles sync` does to one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ProfileChange {
    /// Missing on the router: create it.
    Create(UserProfile),
    /// Differs: set it (router `.id`, wanted profile, what differs).
    Update(String, UserProfile, Vec<String>),
    /// Already as configured.
    Same(String),
}

/// The router form of a `[[profile]]`.
pub use crate::vouchers::plans::router_profile as wanted;

/// Decides (pure) what to create or update. Fields the config leaves unset are not compared.
pub fn profile_changes(config: &[ProfileConfig], router: &[UserProfile]) -> Vec<ProfileChange> {
    config
        .iter()
        .map(|p| {
            let want = wanted(p);
            let Some(have) = router.iter().find(|r| r.name == p.name) else {
                return ProfileChange::Create(want);
            };
            let mut diff = Vec::new();
            if p.rate_limit.is_some() && want.rate_limit != have.rate_limit {
                diff.push(format!(
                    "rate-limit {:?} -> {:?}",
                    have.rate_limit, want.rate_limit
                ));
            }
            if p.shared_users.is_some() && want.shared_users != have.shared_users {
                diff.push(format!(
                    "shared-users {:?} -> {:?}",
                    have.shared_users, want.shared_users
                ));
            }
            for (key, w, h, set) in [
                (
                    "session-timeout",
                    want.session_timeout,
                    have.session_timeout,
                    p.session_timeout.is_some(),
                ),
                (
                    "idle-timeout",
                    want.idle_timeout,
                    have.idle_timeout,
                    p.idle_timeout.is_some(),
                ),
                (
                    "keepalive-timeout",
                    want.keepalive_timeout,
                    have.keepalive_timeout,
                    p.keepalive_timeout.is_some(),
                ),
            ] {
                if set && w != h {
                    diff.push(format!("{key} {h:?} -> {w:?}"));
                }
            }
            if diff.is_empty() {
                ProfileChange::Same(p.name.clone())
            } else {
                ProfileChange::Update(have.id.clone(), want, diff)
            }
        })
        .collect()
}

#[cfg(all(test, feature = "sim"))]
mod tests {
    use routeros::Word;
    use routeros_proto::Command;

    use crate::cli::users::tests::fixture;

    /// Mikhmon's kind of `on-login`: records the sale in a script (bytes as its PHP sent
    /// them, here a comment in Windows-1252).
    const ON_LOGIN: &[u8] = b":local n $user; /system script add name=\"sale-$n\" source=\":put caf\xe9\" comment=mikhmon";

    #[tokio::test]
    async fn profile_sync_changes_our_fields_and_keeps_another_tools_on_login() {
        let (sim, router, _store, config) = fixture().await;
        let added = sim.execute(
            &Command::new("/ip/hotspot/user/profile/add")
                .attr("name", "kiosk")
                .attr("rate-limit", "512k/512k")
                .attr("on-login", Word::new(ON_LOGIN.to_vec())),
        );
        assert!(added[0].get("ret").is_some(), "{:?}", added[0]);
        let done = crate::app::actions::sync_profiles(&router, &config.profiles)
            .await
            .unwrap();
        assert!(
            done.iter().any(|d| d.starts_with("profile kiosk updated")),
            "{done:?}"
        );
        let kiosk = sim
            .profiles()
            .into_iter()
            .find(|p| p.get("name").is_some_and(|n| *n == "kiosk"))
            .unwrap();
        assert_eq!(kiosk["rate-limit"], "1M/2M", "our field is synced");
        assert_eq!(
            kiosk["on-login"].as_bytes(),
            ON_LOGIN,
            "the other tool's script is untouched, byte for byte"
        );
        // A second sync finds nothing to do and still leaves the script alone.
        let again = crate::app::actions::sync_profiles(&router, &config.profiles)
            .await
            .unwrap();
        assert!(again.iter().all(|d| !d.contains("kiosk")), "{again:?}");
    }
}
