//! Errors from talking to a router, shared by the binary API and REST transports.
//! Each says what failed, keeps the router's own words, and says what to do.

use std::time::Duration;

/// Why a router operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RouterError {
    /// No TCP connection could be made.
    #[error(
        "cannot reach router {router} at {addr}: {reason}; check [router].host and the port, \
         that the service is enabled on the router (/ip service print) and that no firewall drops it"
    )]
    Unreachable {
        router: String,
        addr: String,
        reason: String,
    },

    /// The TLS handshake failed for a reason other than a pinned-fingerprint mismatch.
    #[error("TLS with router {router} failed: {reason}; check [router].fingerprint or [router].ca_file and the router's certificate")]
    Tls { router: String, reason: String },

    /// The router's certificate is not the pinned one.
    #[error(
        "router {router} presented a certificate with SHA-256 fingerprint {got}, but [router].fingerprint pins {expected}; \
         if the router's certificate was replaced on purpose, put the new fingerprint in the config"
    )]
    FingerprintMismatch {
        router: String,
        expected: String,
        got: String,
    },

    /// Wrong user name or password.
    #[error(
        "router {router} refused the login as {user:?}: {message}; check [router].username and the password \
         (RouterOS may answer the same way when the user's group lacks the `api` or `rest-api` policy)"
    )]
    BadCredentials {
        router: String,
        user: String,
        message: String,
    },

    /// The user exists but its group lacks the policy for this interface.
    #[error(
        "router {router}: user {user:?} may not use the {policy} interface ({message}); \
         give the user's group the `{policy}` policy (/user group set <group> policy=...)"
    )]
    MissingPolicy {
        router: String,
        user: String,
        policy: &'static str,
        message: String,
    },

    /// No complete reply within the command's time limit.
    #[error("router {router} did not answer {command} within {after:?}; it may still have carried it out")]
    Timeout {
        router: String,
        command: String,
        after: Duration,
    },

    /// The router refused the command (`!trap`, or a REST error body). `message` is the
    /// router's own text, e.g. `failure: already have user with this name for this server`.
    #[error("router {router} rejected {command}: {message}")]
    Trap {
        router: String,
        command: String,
        message: String,
        category: Option<u8>,
        status: Option<u16>,
    },

    /// The router sent `!fatal` and closed the connection.
    #[error("router {router} closed the session: {reason}")]
    Fatal { router: String, reason: String },

    /// Bytes that are not the RouterOS API, or JSON that is not RouterOS REST.
    #[error(
        "router {router} sent a reply that is not RouterOS API: {detail}; the connection was reset"
    )]
    Protocol { router: String, detail: String },

    /// A well-formed reply of the wrong shape (e.g. `add` without `=ret=`).
    #[error("router {router} answered {command} unexpectedly: {detail}")]
    Unexpected {
        router: String,
        command: String,
        detail: String,
    },

    /// The connection was lost or shut down while the call was pending; whether the
    /// router carried it out is unknown.
    #[error("connection to router {router} was lost before the reply; it will be reopened on the next call")]
    Closed { router: String },
}

impl RouterError {
    /// The router's own message, for traps.
    pub fn trap_message(&self) -> Option<&str> {
        match self {
            RouterError::Trap { message, .. } => Some(message),
            _ => None,
        }
    }

    /// `failure: already have user with this name for this server`.
    pub fn is_duplicate_user(&self) -> bool {
        self.trap_message()
            .is_some_and(|m| m.contains("already have user"))
    }

    /// `input does not match any value of profile`: the user names a profile the
    /// router does not have (deleted by hand, or lost with a reset).
    pub fn is_unknown_profile(&self) -> bool {
        self.trap_message()
            .is_some_and(|m| m.contains("any value of profile"))
    }

    /// `no such item` (REST: 404) — the id no longer exists.
    pub fn is_no_such_item(&self) -> bool {
        match self {
            RouterError::Trap {
                message, status, ..
            } => message.contains("no such item") || *status == Some(404),
            _ => false,
        }
    }

    /// Whether retrying later may succeed: the link failed, not the command.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RouterError::Unreachable { .. }
                | RouterError::Timeout { .. }
                | RouterError::Closed { .. }
                | RouterError::Fatal { .. }
                | RouterError::Protocol { .. }
        )
    }

    /// Whether the router was reached but will not let us work: the login or its
    /// policy is refused, or its TLS certificate is not the one configured. No
    /// command can succeed until an operator fixes it.
    pub fn refuses_us(&self) -> bool {
        matches!(
            self,
            RouterError::BadCredentials { .. }
                | RouterError::MissingPolicy { .. }
                | RouterError::Tls { .. }
                | RouterError::FingerprintMismatch { .. }
        )
    }

    /// Whether the outcome of the command on the router is unknown (it may have been
    /// carried out): callers must look before they repeat a non-idempotent command.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            RouterError::Timeout { .. }
                | RouterError::Closed { .. }
                | RouterError::Fatal { .. }
                | RouterError::Protocol { .. }
        )
    }
}
