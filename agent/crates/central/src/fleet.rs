//! The fleet view (`hotspot-central sites`): per site, online or offline from the
//! retained status on the broker (a site's last will replaces it with `online:
//! false` when its connection dies), its outbox depth and plans version from that
//! status, and from the store its last sale and the alerts of the last 24 hours.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use mqtt_link::{self as link, LinkConfig, LinkEvent};
use sync_proto::messages::{Status, Up};

use crate::store::{AlertRow, SiteFacts, Store, StoreError};
use crate::verify::read_up;

/// One site, as `hotspot-central sites` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetRow {
    pub site: String,
    pub registered: bool,
    /// `online`, `offline`, or `unknown` (no status seen).
    pub state: &'static str,
    /// Where the state came from: `broker` (the retained status) or `store`.
    pub source: &'static str,
    pub outbox: Option<u64>,
    pub plans_version: Option<u64>,
    pub agent_version: Option<String>,
    pub sales: u64,
    pub last_sale_ms: Option<u64>,
    pub alerts: Vec<AlertRow>,
}

/// Subscribes to `topics` on a clean session and collects what arrives (the
/// retained messages) until nothing new comes for `quiet` or `limit` passes.
/// `None` when the broker is not reached within `limit`.
pub async fn read_retained(
    mut config: LinkConfig,
    topics: Vec<String>,
    quiet: Duration,
    limit: Duration,
) -> Option<Vec<(String, bytes::Bytes)>> {
    config.subscriptions = topics;
    config.clean_session = true;
    let (handle, mut events) = link::spawn(config);
    let deadline = tokio::time::Instant::now() + limit;
    if tokio::time::timeout_at(deadline, handle.wait_connected())
        .await
        .is_err()
    {
        handle.shutdown().await;
        return None;
    }
    let mut raw = Vec::new();
    loop {
        let wait = quiet.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        match tokio::time::timeout(wait, events.recv()).await {
            Ok(Some(LinkEvent::Message { topic, payload, .. })) => raw.push((topic, payload)),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    handle.shutdown().await;
    Some(raw)
}

/// The retained status of every site on the broker, kept only where it verifies
/// against the site's registered key.
pub async fn retained_statuses(
    config: LinkConfig,
    prefix: &str,
    store: &Store,
    quiet: Duration,
    limit: Duration,
) -> Option<HashMap<String, Status>> {
    let topics = vec![format!("{prefix}/site/+/status")];
    let raw = read_retained(config, topics, quiet, limit).await?;
    let mut out = HashMap::new();
    for (topic, payload) in raw {
        let Ok(unverified) = read_up(prefix, &topic, &payload) else {
            continue;
        };
        let site = unverified.site.clone();
        let Ok(Some(key)) = store.site_key(&site).await else {
            continue;
        };
        if let Ok(env) = unverified.verify(&key) {
            if let Up::Status(s) = env.body {
                out.insert(site, s);
            }
        }
    }
    Some(out)
}

/// Joins the store's facts with the broker's retained statuses (`None`: the broker
/// was not reached; the store's last status is shown instead).
pub async fn fleet(
    store: &Store,
    retained: Option<&HashMap<String, Status>>,
) -> Result<Vec<FleetRow>, StoreError> {
    let mut facts = store.fleet().await?;
    if let Some(r) = retained {
        for site in r.keys() {
            if !facts.iter().any(|f| &f.site == site) {
                facts.push(SiteFacts {
                    site: site.clone(),
                    registered: true,
                    status: None,
                    sales: 0,
                    last_sale_ms: None,
                    alerts: Vec::new(),
                });
            }
        }
        facts.sort_by(|a, b| a.site.cmp(&b.site));
    }
    Ok(facts
        .into_iter()
        .map(|f| {
            let (status, source) = match retained {
                Some(r) => (r.get(&f.site).cloned(), "broker"),
                None => (f.status.map(|s| s.status), "store"),
            };
            FleetRow {
                state: match &status {
                    Some(s) if s.online => "online",
                    Some(_) => "offline",
                    None => "unknown",
                },
                source,
                outbox: status.as_ref().map(|s| s.backlog),
                plans_version: status.as_ref().map(|s| s.plans_version),
                agent_version: status.map(|s| s.agent_version),
                site: f.site,
                registered: f.registered,
                sales: f.sales,
                last_sale_ms: f.last_sale_ms,
                alerts: f.alerts,
            }
        })
        .collect())
}

/// The fleet as a text table, one line per site.
pub fn table(rows: &[FleetRow], now_ms: u64) -> String {
    let mut out = format!(
        "{:<20} {:<8} {:>7} {:>15} {:>8} {:>12}  {}\n",
        "SITE", "STATE", "OUTBOX", "PLANS", "SALES", "LAST SALE", "ALERTS (24 h)"
    );
    for r in rows {
        let dash = || "-".to_string();
        let alerts = if r.alerts.is_empty() {
            dash()
        } else {
            let mut names: Vec<&str> = r.alerts.iter().map(|a| a.name.as_str()).collect();
            names.dedup();
            format!("{} ({})", r.alerts.len(), names.join(", "))
        };
        out.push_str(&format!(
            "{:<20} {:<8} {:>7} {:>15} {:>8} {:>12}  {}{}\n",
            r.site,
            r.state,
            r.outbox.map(|n| n.to_string()).unwrap_or_else(dash),
            r.plans_version.map(|n| n.to_string()).unwrap_or_else(dash),
            r.sales,
            r.last_sale_ms
                .map(|t| ago(now_ms.saturating_sub(t)))
                .unwrap_or_else(dash),
            alerts,
            if r.registered {
                ""
            } else {
                "  [not registered]"
            },
        ));
    }
    out
}

/// `42 s ago`, `5 min ago`, `3 h ago`, `2 d ago`.
fn ago(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=99 => format!("{s} s ago"),
        100..=5999 => format!("{} min ago", s / 60),
        6000..=172_799 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_state_outbox_plans_last_sale_and_alert_names() {
        let row = FleetRow {
            site: "site-1".into(),
            registered: true,
            state: "offline",
            source: "broker",
            outbox: Some(12),
            plans_version: Some(7),
            agent_version: None,
            sales: 3,
            last_sale_ms: Some(1_000),
            alerts: vec![AlertRow {
                name: "paper_out".into(),
                detail: String::new(),
                time_ms: 1,
            }],
        };
        let t = table(&[row], 301_000);
        let line = t.lines().nth(1).unwrap();
        for part in ["site-1", "offline", "12", "7", "5 min ago", "1 (paper_out)"] {
            assert!(line.contains(part), "{part:?} missing from {line:?}");
        }
    }
}
