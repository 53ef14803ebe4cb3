//! What the whole-agent tests share: the config file they start `hotspot-agent` on.
//! One kiosk with one plan; each test sets only the keys its story needs.

use std::path::Path;

use toml::{Table, Value};

/// The part every test keeps: profile `kiosk`, plan `1h` (₱5 for an hour on it),
/// enforcement only hourly (so it never runs inside a test), a ticket shown for 1 s,
/// the simulated acceptor and printer, no display.
const BASE: &str = r#"
[[profile]]
name = "kiosk"
[[plan]]
id = "1h"
name = "1 hour"
price = 5
time_limit = "1h"
profile = "kiosk"
[enforcement]
interval = "1h"
[kiosk]
show_voucher_for = "1s"
[kiosk.coin]
kind = "sim"
[kiosk.printer]
kind = "sim"
[kiosk.display]
kind = "none"
"#;

/// A config for `hotspot-agent run`, built from [`BASE`] and written with [`AgentConfig::write`].
pub struct AgentConfig(Table);

impl AgentConfig {
    /// Site `site_id` keeping its state in `<dir>/state`. With `router_api_port`, a
    /// `[[router]]` named `sim` on 127.0.0.1 over the plain API (3 s timeout); without,
    /// no router, so the agent starts its built-in simulated one.
    pub fn new(site_id: &str, dir: &Path, router_api_port: Option<u16>) -> AgentConfig {
        let mut table: Table = BASE.parse().expect("the base test config is TOML");
        let mut agent = Table::new();
        agent.insert("site_id".into(), site_id.into());
        let state = dir.join("state");
        let state = state.to_str().expect("the temp dir's path is UTF-8");
        agent.insert("state_dir".into(), state.into());
        table.insert("agent".into(), agent.into());
        if let Some(port) = router_api_port {
            let mut router = Table::new();
            router.insert("name".into(), "sim".into());
            router.insert("host".into(), "127.0.0.1".into());
            router.insert("transport".into(), "api".into());
            router.insert("api_port".into(), i64::from(port).into());
            router.insert("timeout".into(), "3s".into());
            table.insert("router".into(), Value::Array(vec![router.into()]));
        }
        AgentConfig(table)
    }

    /// Sets `key`, dotted from the top (`kiosk.coin.port`), to `value`, making the
    /// tables on the way. Through an array of tables (`plan.name`) it sets the last
    /// entry's key: the base has one profile and one plan.
    pub fn set(mut self, key: &str, value: impl Into<Value>) -> AgentConfig {
        let (path, last) = key.rsplit_once('.').map_or(("", key), |(p, l)| (p, l));
        let mut table = &mut self.0;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let entry = table
                .entry(part)
                .or_insert_with(|| Value::Table(Table::new()));
            let entry = match entry {
                Value::Array(entries) => {
                    entries.last_mut().expect("an array of tables has an entry")
                }
                other => other,
            };
            table = entry
                .as_table_mut()
                .unwrap_or_else(|| panic!("{part} in {key} is not a table"));
        }
        table.insert(last.into(), value.into());
        self
    }

    /// Writes the file the agent reads with `--config path`.
    pub fn write(&self, path: &Path) {
        let text = toml::to_string(&self.0).expect("the test config serializes");
        std::fs::write(path, text)
            .unwrap_or_else(|e| panic!("write the test config {}: {e}", path.display()));
    }
}
