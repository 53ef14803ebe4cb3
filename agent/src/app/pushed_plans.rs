//! The plan set the central office pushed, as the configuration sees it: laid over
//! the config file's `[[plan]]`, `[[profile]]` and currency when it is applied, and
//! again at every start (the service and each CLI command on the same state
//! folder), from the copy the store keeps (`Store::save_pushed_plans`).

use firmware_config::{Config, ConfigError};
use sync_proto::convert;
use sync_proto::messages::PlanSet;

use crate::store::{Store, StoreError};

/// Why the stored plan set could not be laid over the configuration.
#[derive(Debug, thiserror::Error)]
pub enum PushedPlansError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored bytes do not decode (a damaged file, or written by another build).
    #[error("the stored plan set version {version} cannot be read ({detail}); the config file's plans are used until the central office pushes a newer set")]
    Undecodable { version: u64, detail: String },
    /// The stored set fails the configuration's checks (cannot happen for a set this
    /// build stored, which was checked before it was).
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

/// `config` with the plan set's plans, and its profiles and currency where it has them.
pub fn overlay(config: &Config, plans: &PlanSet) -> Config {
    let mut config = config.clone();
    config.plans = plans.plans.iter().map(convert::plan_config).collect();
    if !plans.profiles.is_empty() {
        config.profiles = plans.profiles.iter().map(convert::profile_config).collect();
    }
    if !plans.currency.is_empty() {
        config.vouchers.currency = plans.currency.clone();
    }
    config
}

/// The label the checks' messages give a plan set.
pub fn origin(version: u64) -> String {
    format!("plan set version {version}")
}

/// Lays the stored plan set (if any) over `config`; returns its version. On an
/// error `config` is unchanged.
pub fn load(config: &mut Config, store: &Store) -> Result<Option<u64>, PushedPlansError> {
    let Some(stored) = store.pushed_plans()? else {
        return Ok(None);
    };
    let plans: PlanSet =
        postcard::from_bytes(&stored.body).map_err(|e| PushedPlansError::Undecodable {
            version: stored.version,
            detail: e.to_string(),
        })?;
    let pushed = overlay(config, &plans);
    pushed.validate(&origin(stored.version))?;
    *config = pushed;
    Ok(Some(stored.version))
}

/// [`load`] for start-up: a stored set that cannot be used is logged and the config
/// file's plans stay (the central office's next push replaces it).
pub fn load_or_warn(config: &mut Config, store: &Store) {
    match load(config, store) {
        Ok(Some(version)) => {
            tracing::info!(
                version,
                "plans pushed by the central office replace the config file's"
            )
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "pushed plan set not used"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::app::SiteActions;
    use crate::sync::AgentActions;
    use crate::vouchers::Vouchers;
    use routeros::testing::FakeRouter;

    fn config_in(dir: &std::path::Path) -> Config {
        let mut config = Config::parse(crate::vouchers::tests::CONFIG, "test.toml").unwrap();
        config.agent.state_dir = dir.to_path_buf();
        config
    }

    fn seller(store: Store, router: &FakeRouter, config: &Config) -> Vouchers<FakeRouter> {
        Vouchers::from_config(
            store,
            router.clone(),
            config,
            &config.routers.first().cloned().unwrap_or_default(),
            crate::sync::outbox::sale_payload,
        )
        .unwrap()
    }

    /// The config's plans at a new price, and a plan only the central office has.
    fn pushed_set(config: &Config, version: u64) -> PlanSet {
        let mut set = convert::plan_set(config, version, "t1");
        set.plans.iter_mut().for_each(|p| p.price += 2);
        let mut three = set.plans[0].clone();
        three.id = "3h".into();
        three.time_limit_s = Some(3 * 3600);
        set.plans.push(three);
        set
    }

    /// The site's actions over a store in `dir`, with plan set `version` applied.
    async fn pushed(
        dir: &std::path::Path,
        version: u64,
    ) -> (SiteActions<FakeRouter>, FakeRouter, Config) {
        let config = config_in(dir);
        let router = FakeRouter::new();
        let actions = SiteActions::new(
            seller(Store::open_in(dir).unwrap(), &router, &config),
            config.clone(),
        );
        actions
            .apply_plans(pushed_set(&config, version))
            .await
            .unwrap();
        (actions, router, config)
    }

    #[tokio::test]
    async fn a_pushed_plan_set_is_what_the_next_start_and_the_cli_sell() {
        let dir = tempfile::tempdir().unwrap();
        let (actions, router, config) = pushed(dir.path(), 3).await;
        drop(actions);

        // A restart (or `voucher create`): the config file again, the same state folder.
        let store = Store::open_in(dir.path()).unwrap();
        let mut restarted = config_in(dir.path());
        assert_eq!(load(&mut restarted, &store).unwrap(), Some(3));
        let v = seller(store.clone(), &router, &restarted);
        let sold = v.sell_from("1h", None, "cli", false).await.unwrap();
        assert_eq!(sold.price, 7, "the pushed price, not the config file's 5");
        assert!(v.sell_from("3h", None, "cli", false).await.is_ok());
        let state = crate::sync::SyncState::open(store.path()).unwrap();
        assert_eq!(
            state.version("plans").unwrap(),
            3,
            "Status reports the set in force"
        );

        // The store itself refuses to go back to an older set.
        let older = postcard::to_stdvec(&pushed_set(&config, 2)).unwrap();
        assert!(store.save_pushed_plans(2, &older, 0).is_err());
        assert_eq!(store.pushed_plans().unwrap().unwrap().version, 3);
    }

    #[tokio::test]
    async fn a_kiosk_hook_set_after_a_push_shows_the_pushed_prices() {
        let dir = tempfile::tempdir().unwrap();
        let (actions, _router, _) = pushed(dir.path(), 4).await;
        let shown = Arc::new(Mutex::new(Vec::new()));
        let seen = shown.clone();
        actions.on_plans(Box::new(move |c| {
            seen.lock().unwrap().push(c.plans[0].price);
        }));
        assert_eq!(
            *shown.lock().unwrap(),
            [7],
            "told at once, not at the next push"
        );
    }
}
