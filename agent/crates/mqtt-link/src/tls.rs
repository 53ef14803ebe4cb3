//! TLS for the broker link: [`TlsSettings`] (a CA, or the broker's certificate pinned
//! by SHA-256, and optionally a client certificate) onto `tls-pin`'s verifier and
//! client configuration, with the `[central]` keys named in its messages.

use std::sync::Arc;

use rustls::ClientConfig;
use tls_pin::{fingerprint_hex, ClientAuth, ClientTls, ConfigKeys, Trust};

pub use tls_pin::cert_fingerprint as fingerprint;
pub use tls_pin::TlsSetupError as TlsError;

/// The `[central]` settings, as messages name them.
const KEYS: ConfigKeys = ConfigKeys {
    peer: "broker",
    fingerprint: "[central] fingerprint",
    ca_file: "[central] ca_file",
};

const CLIENT_AUTH_KEYS: &str = "[central] client_cert and client_key";

/// How the broker is authenticated and how the site authenticates itself.
#[derive(Clone, Default)]
pub struct TlsSettings {
    /// PEM certificate authorities.
    pub ca_pem: Option<Vec<u8>>,
    /// SHA-256 of the broker's end-entity certificate (DER); overrides `ca_pem`.
    pub pin: Option<[u8; 32]>,
    /// PEM client certificate chain and PEM private key.
    pub client_auth: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("ca", &self.ca_pem.is_some())
            .field("pin", &self.pin.as_ref().map(fingerprint_hex))
            .field("client_auth", &self.client_auth.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Builds the rustls client configuration (ring provider, never aws-lc). A pin or a
/// CA is required: the broker link never runs on "trust nothing".
pub fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, TlsError> {
    let trust = match (settings.pin, &settings.ca_pem) {
        (Some(pin), _) => Trust::Pin(pin),
        (None, Some(ca)) => Trust::CaPem(ca),
        (None, None) => {
            return Err(TlsError::NoTrust {
                ca_file: KEYS.ca_file,
                fingerprint: KEYS.fingerprint,
            })
        }
    };
    let client_auth = settings.client_auth.as_ref().map(|(cert, key)| ClientAuth {
        cert_pem: cert,
        key_pem: key,
        setting: CLIENT_AUTH_KEYS,
    });
    Ok(ClientTls::new(trust, client_auth, KEYS)?.config())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_ca_or_a_pin_the_error_names_the_central_keys() {
        let err = client_config(&TlsSettings::default()).unwrap_err();
        assert!(matches!(err, TlsError::NoTrust { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("[central] ca_file"), "{text}");
        assert!(text.contains("[central] fingerprint"), "{text}");
    }

    #[test]
    fn settings_show_the_pin_in_the_one_form_and_never_the_client_key() {
        let settings = TlsSettings {
            pin: Some([0xab; 32]),
            client_auth: Some((b"cert".to_vec(), b"very secret key".to_vec())),
            ..Default::default()
        };
        let text = format!("{settings:?}");
        assert!(text.contains(&fingerprint_hex(&[0xab; 32])), "{text}");
        assert!(!text.contains("abab"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn a_client_key_that_is_not_pem_names_the_central_keys() {
        let settings = TlsSettings {
            pin: Some([0xab; 32]),
            client_auth: Some((Vec::new(), b"not pem".to_vec())),
            ..Default::default()
        };
        let text = client_config(&settings).unwrap_err().to_string();
        assert!(text.contains(CLIENT_AUTH_KEYS), "{text}");
    }
}
