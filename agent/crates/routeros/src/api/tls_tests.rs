//! api-ssl: a rustls server with an rcgen self-signed certificate; the client pins it.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::*;
use crate::tls::{cert_fingerprint, fingerprint_hex, RouterTls};

/// A TLS acceptor for a fresh self-signed certificate, and that certificate's SHA-256.
pub(crate) fn self_signed() -> (tokio_rustls::TlsAcceptor, [u8; 32]) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert: CertificateDer<'static> = ck.cert.der().clone();
    let fp = cert_fingerprint(&cert);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), fp)
}

async fn tls_router() -> (u16, [u8; 32]) {
    let (acceptor, fp) = self_signed();
    let port = fake_router_with(Some(acceptor), |mut p, _| async move {
        p.login_ok().await;
        let tag = p.read().await.tag.unwrap();
        p.send(&["!re", "=version=7.18 (stable)", &format!(".tag={tag}")])
            .await;
        p.send(&["!done", &format!(".tag={tag}")]).await;
        std::future::pending::<()>().await;
    })
    .await;
    (port, fp)
}

fn tls_client(port: u16, pin: Option<[u8; 32]>) -> ApiClient {
    let mut cfg = config(port, Duration::from_secs(5));
    cfg.tls = Some(RouterTls::new(pin, None).unwrap());
    ApiClient::spawn(cfg)
}

#[tokio::test]
async fn the_pinned_certificate_is_accepted() {
    let (port, fp) = tls_router().await;
    let rows = tls_client(port, Some(fp))
        .call(print("/system/resource"))
        .await
        .unwrap()
        .rows;
    assert_eq!(rows[0]["version"], "7.18 (stable)");
}

#[tokio::test]
async fn another_certificate_is_a_fingerprint_mismatch_naming_both() {
    let (port, fp) = tls_router().await;
    let pin = [0x11u8; 32];
    let err = tls_client(port, Some(pin))
        .call(print("/system/resource"))
        .await
        .unwrap_err();
    match err {
        RouterError::FingerprintMismatch { expected, got, .. } => {
            assert_eq!(expected, fingerprint_hex(&pin));
            assert_eq!(got, fingerprint_hex(&fp));
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn without_a_pin_the_certificate_is_refused_and_its_fingerprint_shown() {
    let (port, fp) = tls_router().await;
    let err = tls_client(port, None)
        .call(print("/system/resource"))
        .await
        .unwrap_err();
    assert!(matches!(err, RouterError::Tls { .. }), "{err}");
    assert!(err.to_string().contains(&fingerprint_hex(&fp)), "{err}");
}

/// A CA (PEM) and a TLS acceptor whose certificate that CA signed for `san`.
fn ca_signed(san: &str) -> (String, tokio_rustls::TlsAcceptor) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec![san.to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .unwrap();
    (ca.pem(), tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

async fn call_with_ca(san: &str) -> Result<Response, RouterError> {
    let (ca_pem, acceptor) = ca_signed(san);
    let port = fake_router_with(Some(acceptor), |mut p, _| async move {
        p.login_ok().await;
        let tag = p.read().await.tag.unwrap();
        p.send(&["!done", &format!(".tag={tag}")]).await;
        std::future::pending::<()>().await;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let mut cfg = config(port, Duration::from_secs(5));
    cfg.tls = Some(RouterTls::new(None, Some(&ca_file)).unwrap());
    ApiClient::spawn(cfg).call(print("/system/resource")).await
}

#[tokio::test]
async fn a_certificate_signed_by_the_ca_file_for_the_routers_address_is_accepted() {
    call_with_ca("127.0.0.1").await.unwrap();
}

#[tokio::test]
async fn a_ca_signed_certificate_for_another_name_is_refused() {
    let err = call_with_ca("other.lan").await.unwrap_err();
    assert!(matches!(err, RouterError::Tls { .. }), "{err}");
}
