//! The link over TLS: CA, pinned certificate, client certificate.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_works_with_a_ca_a_pinned_certificate_and_a_client_certificate_and_refuses_a_wrong_pin()
{
    let broker = Mosquitto::start_tls();
    let pki = broker.pki.as_ref().unwrap();
    let tls_link = |port: Option<u16>, settings: TlsSettings, id: &str| {
        let mut l = link(port.unwrap(), id);
        l.host = "localhost".into();
        l.tls = Some(client_config(&settings).unwrap());
        l
    };
    let with_ca = TlsSettings {
        ca_pem: Some(pki.ca_pem.clone().into_bytes()),
        ..Default::default()
    };
    let pinned = TlsSettings {
        pin: Some(fingerprint(&pki.server_cert_der)),
        ..Default::default()
    };
    let wrong_pin = TlsSettings {
        pin: Some([0u8; 32]),
        ..Default::default()
    };
    let mutual = TlsSettings {
        client_auth: Some((
            pki.client_cert_pem.clone().into_bytes(),
            pki.client_key_pem.clone().into_bytes(),
        )),
        ..with_ca.clone()
    };
    for (name, port, settings, should_connect) in [
        ("ca", broker.tls_port, with_ca.clone(), true),
        ("pin", broker.tls_port, pinned, true),
        ("wrong-pin", broker.tls_port, wrong_pin, false),
        ("mtls", broker.mtls_port, mutual, true),
        ("mtls-without-cert", broker.mtls_port, with_ca, false),
    ] {
        let c = Central::connect(tls_link(port, settings, name), central_key(), PREFIX, false);
        let up = c
            .wait_connected(Duration::from_secs(if should_connect { 5 } else { 1 }))
            .await;
        assert_eq!(up, should_connect, "{name}: {}", broker.log());
        c.link().shutdown().await;
    }
}
