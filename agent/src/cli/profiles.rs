//! `hotspot-agent profiles list|sync`: the hotspot user profiles on the router, and
//! creating or updating the config's `[[profile]]`s there so every plan's profile exists.

use clap::Subcommand;
use firmware_config::Config;

use crate::app::profiles::{profile_changes, ProfileChange};
use crate::store::{now_ms, Level, Store};
use routeros::HotspotApi;

/// `profiles` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// List the router's hotspot user profiles and which plans use them.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create or update the config's [[profile]]s on the router.
    Sync {
        /// Show what would change without changing it.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs a `profiles` subcommand.
pub async fn run<R: HotspotApi + Clone + 'static>(
    cmd: ProfilesCommand,
    router: R,
    store: Store,
    config: &Config,
) -> anyhow::Result<()> {
    let have = router.profiles().await?;
    match cmd {
        ProfilesCommand::List { json } => {
            if json {
                println!("{}", serde_json::to_string_pretty(&have)?);
                return Ok(());
            }
            println!(
                "{:<16} {:<14} {:>6}  plans",
                "profile", "rate-limit", "shared"
            );
            for p in &have {
                let plans: Vec<&str> = config
                    .plans
                    .iter()
                    .filter(|pl| {
                        pl.profile == p.name
                            || pl.fair_use_profile.as_deref() == Some(p.name.as_str())
                    })
                    .map(|pl| pl.id.as_str())
                    .collect();
                println!(
                    "{:<16} {:<14} {:>6}  {}",
                    p.name,
                    p.rate_limit.as_deref().unwrap_or("-"),
                    p.shared_users.map_or("unlim".into(), |n| n.to_string()),
                    plans.join(",")
                );
            }
            for pl in &config.plans {
                if !have.iter().any(|p| p.name == pl.profile) {
                    println!("missing: plan {} uses profile {:?}, which the router lacks: run `hotspot-agent profiles sync`", pl.id, pl.profile);
                }
            }
        }
        ProfilesCommand::Sync { dry_run } => {
            let changes = profile_changes(&config.profiles, &have);
            let mut changed = 0;
            for c in &changes {
                match c {
                    ProfileChange::Same(name) => println!("ok       {name}"),
                    ProfileChange::Create(p) => {
                        println!("create   {}", p.name);
                        if !dry_run {
                            router.add_profile(p).await?;
                            changed += 1;
                        }
                    }
                    ProfileChange::Update(id, p, diff) => {
                        println!("update   {} ({})", p.name, diff.join(", "));
                        if !dry_run {
                            router.set_profile(id, p).await?;
                            changed += 1;
                        }
                    }
                }
            }
            if !dry_run {
                store.record_event(
                    Level::Info,
                    "sync",
                    Some("profiles"),
                    &format!("profiles sync: {changed} changed"),
                    now_ms(),
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use firmware_config::ProfileConfig;
    use routeros::UserProfile;

    fn cfg(name: &str, rate: Option<&str>) -> ProfileConfig {
        ProfileConfig {
            name: name.into(),
            rate_limit: rate.map(str::to_string),
            shared_users: Some(1),
            ..ProfileConfig::default()
        }
    }

    #[test]
    fn sync_creates_missing_updates_different_and_leaves_equal_profiles() {
        let router = vec![
            UserProfile {
                id: "*1".into(),
                name: "fast".into(),
                rate_limit: Some("1M/2M".into()),
                shared_users: Some(1),
                ..UserProfile::default()
            },
            UserProfile {
                id: "*2".into(),
                name: "slow".into(),
                rate_limit: Some("64k/64k".into()),
                shared_users: Some(1),
                ..UserProfile::default()
            },
        ];
        let changes = profile_changes(
            &[
                cfg("fast", Some("1M/2M")),
                cfg("slow", Some("128k/256k")),
                cfg("new", None),
            ],
            &router,
        );
        assert_eq!(changes[0], ProfileChange::Same("fast".into()));
        let ProfileChange::Update(id, p, diff) = &changes[1] else {
            panic!("{:?}", changes[1])
        };
        assert_eq!(
            (id.as_str(), p.rate_limit.as_deref()),
            ("*2", Some("128k/256k"))
        );
        assert!(diff[0].contains("rate-limit"));
        assert!(matches!(&changes[2], ProfileChange::Create(p) if p.name == "new"));
    }

    #[tokio::test]
    async fn sync_against_the_fake_router_makes_every_plan_profile_exist() {
        let config = Config::parse(crate::vouchers::tests::CONFIG, "t.toml").unwrap();
        let router = routeros::testing::FakeRouter::new();
        let store = Store::open_in_memory().unwrap();
        run(
            ProfilesCommand::Sync { dry_run: false },
            router.clone(),
            store.clone(),
            &config,
        )
        .await
        .unwrap();
        let names: Vec<String> = router
            .profiles()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        for p in &config.plans {
            assert!(names.contains(&p.profile), "{} missing", p.profile);
        }
        assert_eq!(store.events(Some("sync"), 5).unwrap().len(), 1);
    }
}
