//! Handshakes in memory (a rustls server and this crate's client exchanging bytes
//! through buffers): a pin, a CA, nothing, a client certificate; and the one form.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConnection, RootCertStore, ServerConfig, ServerConnection};

use crate::*;

const KEYS: ConfigKeys = ConfigKeys {
    peer: "router",
    fingerprint: "[router].fingerprint",
    ca_file: "[router].ca_file",
};

/// A server presenting a fresh self-signed certificate for `names`, and its SHA-256.
fn self_signed(names: &[&str]) -> (Arc<ServerConfig>, [u8; 32]) {
    let ck =
        rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let cert: CertificateDer<'static> = ck.cert.der().clone();
    let fp = cert_fingerprint(&cert);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    (Arc::new(config), fp)
}

/// A CA, and a leaf it signed for `san` (certificate and key).
struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
    leaf_pem: String,
    leaf_key: KeyPair,
}

fn pki(san: &str) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec![san.to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        leaf: leaf.der().clone(),
        leaf_pem: leaf.pem(),
        leaf_key,
    }
}

fn ca_signed_server(pki: &Pki) -> Arc<ServerConfig> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.leaf_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.leaf.clone(), pki.ca_der.clone()], key)
        .unwrap();
    Arc::new(config)
}

/// Runs a handshake between `client` and `server` for `host`; the client's error if it fails.
fn handshake(
    client: &ClientTls,
    server: Arc<ServerConfig>,
    host: &str,
) -> Result<(), rustls::Error> {
    let mut c = ClientConnection::new(client.config(), server_name(host).unwrap())?;
    let mut s = ServerConnection::new(server).unwrap();
    for _ in 0..20 {
        let mut buf = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            s.read_tls(&mut rd).unwrap();
        }
        // A server error (the client's alert) shows up on the client's side too.
        let server_failed = s.process_new_packets().is_err();
        let mut buf = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            c.read_tls(&mut rd).unwrap();
        }
        c.process_new_packets()?;
        if server_failed {
            return Err(rustls::Error::General(
                "the server refused the client".into(),
            ));
        }
        if !c.is_handshaking() && !s.is_handshaking() {
            return Ok(());
        }
    }
    Err(rustls::Error::General("handshake did not finish".into()))
}

#[test]
fn fingerprints_print_as_colon_separated_hex() {
    let mut fp = [0u8; 32];
    fp[0] = 0xAB;
    fp[31] = 0x01;
    let text = fingerprint_hex(&fp);
    assert!(text.starts_with("AB:00:"), "{text}");
    assert!(text.ends_with(":01"), "{text}");
    assert_eq!(text.len(), 32 * 3 - 1);
    assert_eq!(firmware_config::router::parse_fingerprint(&text), Some(fp));
}

#[test]
fn ip_addresses_and_names_become_server_names() {
    assert!(matches!(
        server_name("10.0.0.1").unwrap(),
        ServerName::IpAddress(_)
    ));
    assert!(matches!(
        server_name("[::1]").unwrap(),
        ServerName::IpAddress(_)
    ));
    assert!(matches!(
        server_name("router.lan").unwrap(),
        ServerName::DnsName(_)
    ));
    assert!(server_name("bad name").is_err());
}

#[test]
fn the_pinned_certificate_is_accepted_whatever_name_it_carries() {
    let (server, fp) = self_signed(&["elsewhere.lan"]);
    let tls = ClientTls::new(Trust::Pin(fp), None, KEYS).unwrap();
    handshake(&tls, server, "10.0.0.1").unwrap();
    assert_eq!(tls.presented_fingerprint(), Some(fp));
    assert_eq!(tls.mismatch(), None);
}

#[test]
fn another_certificate_is_a_mismatch_naming_the_key_and_both_fingerprints() {
    let (server, fp) = self_signed(&["10.0.0.1"]);
    let pin = [0xabu8; 32];
    let tls = ClientTls::new(Trust::Pin(pin), None, KEYS).unwrap();
    let err = handshake(&tls, server, "10.0.0.1").unwrap_err().to_string();
    assert!(err.contains("[router].fingerprint"), "{err}");
    assert!(err.contains(&fingerprint_hex(&fp)), "{err}");
    assert!(err.contains(&fingerprint_hex(&pin)), "{err}");
    let mismatch = tls.mismatch().expect("the mismatch is recorded");
    assert_eq!((mismatch.pinned, mismatch.presented), (pin, fp));
    assert!(err.contains(&mismatch.to_string()), "{err}");
}

#[test]
fn with_nothing_trusted_the_certificate_is_refused_and_its_fingerprint_explained() {
    let (server, fp) = self_signed(&["10.0.0.1"]);
    let tls = ClientTls::new(Trust::Nothing, None, KEYS).unwrap();
    assert!(!tls.has_trust());
    let err = handshake(&tls, server, "10.0.0.1").unwrap_err().to_string();
    assert_eq!(tls.presented_fingerprint(), Some(fp));
    assert_eq!(tls.mismatch(), None, "nothing was pinned");
    let text = tls.explain(&err);
    assert!(text.contains(&fingerprint_hex(&fp)), "{text}");
    assert!(text.contains("[router].fingerprint"), "{text}");
    assert!(text.contains("[router].ca_file"), "{text}");
}

#[test]
fn a_ca_signed_certificate_is_accepted_for_its_name_only() {
    let pki = pki("router.lan");
    let tls = ClientTls::new(Trust::CaPem(pki.ca_pem.as_bytes()), None, KEYS).unwrap();
    assert!(tls.has_trust());
    handshake(&tls, ca_signed_server(&pki), "router.lan").unwrap();
    assert!(handshake(&tls, ca_signed_server(&pki), "other.lan").is_err());
    assert_eq!(tls.mismatch(), None, "a CA refusal is not a pin mismatch");
}

#[test]
fn a_ca_file_is_read_and_a_missing_or_empty_one_names_the_key() {
    let pki = pki("router.lan");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.pem");
    std::fs::write(&file, &pki.ca_pem).unwrap();
    let tls = ClientTls::new(Trust::CaFile(&file), None, KEYS).unwrap();
    handshake(&tls, ca_signed_server(&pki), "router.lan").unwrap();

    let missing = dir.path().join("missing.pem");
    let err = ClientTls::new(Trust::CaFile(&missing), None, KEYS).unwrap_err();
    assert!(matches!(err, TlsSetupError::CaFile { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("missing.pem"), "{text}");
    assert!(text.contains("[router].ca_file"), "{text}");

    let err = ClientTls::new(Trust::CaPem(b"not a certificate"), None, KEYS).unwrap_err();
    assert!(matches!(err, TlsSetupError::CaFile { .. }), "{err}");
}

#[test]
fn a_client_certificate_is_presented_when_the_server_asks() {
    let server_pki = pki("broker.lan");
    let client_pki = pki("site-7");
    let mut client_roots = RootCertStore::empty();
    client_roots.add(client_pki.ca_der.clone()).unwrap();
    let client_verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(client_roots), provider())
            .build()
            .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        server_pki.leaf_key.serialize_der(),
    ));
    let server = Arc::new(
        ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(vec![server_pki.leaf.clone()], key)
            .unwrap(),
    );
    let key_pem = client_pki.leaf_key.serialize_pem();
    let auth = ClientAuth {
        cert_pem: client_pki.leaf_pem.as_bytes(),
        key_pem: key_pem.as_bytes(),
        setting: "[central] client_cert and client_key",
    };
    assert!(!format!("{auth:?}").contains("PRIVATE KEY"));
    let trust = Trust::CaPem(server_pki.ca_pem.as_bytes());
    let with_cert = ClientTls::new(trust, Some(auth), KEYS).unwrap();
    handshake(&with_cert, server.clone(), "broker.lan").unwrap();
    let without = ClientTls::new(trust, None, KEYS).unwrap();
    assert!(handshake(&without, server, "broker.lan").is_err());
}

#[test]
fn a_client_key_that_is_not_pem_names_the_setting() {
    let (_, fp) = self_signed(&["x"]);
    let auth = ClientAuth {
        cert_pem: b"",
        key_pem: b"secret bytes",
        setting: "[central] client_cert and client_key",
    };
    let err = ClientTls::new(Trust::Pin(fp), Some(auth), KEYS).unwrap_err();
    assert!(matches!(err, TlsSetupError::ClientAuth { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("[central] client_cert and client_key"),
        "{text}"
    );
    assert!(!text.contains("secret bytes"), "{text}");
}
