//! api-ssl: a rustls server with an rcgen self-signed certificate; the client pins it.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::*;
use crate::routeros::tls::{cert_fingerprint, fingerprint_hex, RouterTls};

/// A TLS acceptor for a fresh self-signed certificate, and that certificate's SHA-256.
pub(crate) fn self_signed() -> (tokio_rustls::TlsAcceptor, [u8; 32]) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert: CertificateDer<'static> = ck.cert.der().clone();
    let fp = cert_fingerprint(&cert);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(crate::routeros::tls::provider())
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
