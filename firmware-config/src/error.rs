//! Configuration errors that say which file, which key, what was wrong and what is allowed.

use std::fmt;

/// One thing wrong with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key, e.g. `router[0].transport` or `plan[1h].price`.
    pub key: String,
    /// The value found, as written (secrets are never put here).
    pub value: String,
    /// What is allowed instead.
    pub allowed: String,
}

impl Problem {
    /// A problem with `key`, which holds `value`, where `allowed` says what would do.
    pub fn new(
        key: impl Into<String>,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Problem {
        Problem {
            key: key.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} = {:?}: expected {}",
            self.key, self.value, self.allowed
        )
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {file}: {message}")]
    Read { file: String, message: String },
    /// The file is not valid TOML or has a key of the wrong type or an unknown key.
    #[error("config file {file} is not valid: {message}")]
    Syntax { file: String, message: String },
    /// Keys with values that are not allowed; all of them, one per line.
    #[error("config file {file} has {} problem(s):\n{}", problems.len(), list(problems))]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
    /// A secret file is missing, empty or readable by other users.
    #[error("secret file {file} (from {key}): {message}")]
    Secret {
        key: String,
        file: String,
        message: String,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
