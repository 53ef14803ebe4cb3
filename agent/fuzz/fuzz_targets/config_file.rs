//! Fuzz target: any text as a config file. Parsing, validating and choosing the
//! router end in a configuration or an error naming the problem, never a panic;
//! an error never quotes an inline secret.
#![no_main]

use firmware_config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match Config::parse(text, "fuzz.toml") {
        Ok(c) => c,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let secrets: Vec<String> = config
        .routers
        .iter()
        .filter_map(|r| r.password.as_ref())
        .map(|s| s.expose().to_string())
        .filter(|s| s.len() >= 8)
        .collect();
    let _ = config.inline_secret_keys();
    let _ = format!("{config:?}");
    if let Err(e) = config.clone().validated("fuzz.toml", None) {
        let text = e.to_string();
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "an error quoted a secret");
        }
    }
});
