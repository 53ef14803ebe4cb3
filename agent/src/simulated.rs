//! Pointing the agent at the simulated router (`sim` builds only): the router
//! settings a real client needs to reach a running [`SimHandle`]. The simulator
//! knows nothing of the agent's configuration; this is where the two meet.

use firmware_config::{RouterConfig, Secret, Transport};
use routeros_sim::SimHandle;

/// `base` pointed at this simulator: host, the port of `base.transport` (`auto` and
/// `api` get the plain API port, `api-ssl` the TLS one), the REST port, the pinned
/// fingerprint and the login. For `demo` and tests that build a real client.
pub fn router_config(sim: &SimHandle, base: &RouterConfig) -> RouterConfig {
    let api_port = match base.transport {
        Transport::ApiSsl => sim.api_ssl_addr.map(|a| a.port()),
        _ => Some(sim.api_addr.port()),
    };
    let (username, password) = sim.login();
    RouterConfig {
        host: sim.api_addr.ip().to_string(),
        api_port,
        rest_port: sim.rest_addr.map(|a| a.port()),
        rest_tls: true,
        username: username.to_string(),
        password: Some(Secret::new(password)),
        password_file: None,
        fingerprint: sim.fingerprint.clone(),
        ..base.clone()
    }
}

#[cfg(test)]
mod tests {
    use routeros_sim::{SimOptions, SimRouter};

    use super::*;

    async fn sim(options: SimOptions) -> SimHandle {
        SimRouter::start(options).await.unwrap()
    }

    #[tokio::test]
    async fn router_config_points_a_client_at_the_simulator() {
        let sim = sim(SimOptions::version("7.18")).await;
        let base = firmware_config::RouterConfig {
            transport: firmware_config::Transport::ApiSsl,
            ..Default::default()
        };
        let cfg = router_config(&sim, &base);
        assert_eq!(cfg.api_port, sim.api_ssl_addr.map(|a| a.port()));
        assert_eq!(cfg.fingerprint, sim.fingerprint);
        assert_eq!(cfg.host, "127.0.0.1");
        assert!(!cfg.is_simulated(), "it names a real address now");
    }

    #[tokio::test]
    async fn the_routers_clock_reads_as_utc_in_each_versions_date_form() {
        use routeros::{HotspotApi, Router, RouterSettings};
        for (version, iso) in [("6.49", false), ("7.18", true)] {
            let sim = sim(SimOptions::version(version)).await;
            let base = firmware_config::RouterConfig {
                transport: firmware_config::Transport::Api,
                ..Default::default()
            };
            let cfg = router_config(&sim, &base);
            let router = Router::connect(RouterSettings::from_config(&cfg, 0).unwrap())
                .await
                .unwrap();
            let clock = router.clock().await.unwrap();
            assert_eq!(clock.date.contains('-'), iso, "{version}: {clock:?}");
            assert!(clock.gmt_offset.starts_with('+') || clock.gmt_offset.starts_with('-'));
            let utc = clock.utc_ms().expect("reads as a time");
            let now = crate::store::now_ms();
            assert!((utc - now).abs() < 5_000, "{version}: {utc} vs {now}");
            let uptime = router.resource().await.unwrap().uptime;
            assert!(uptime < std::time::Duration::from_secs(60), "{uptime:?}");
        }
    }
}
