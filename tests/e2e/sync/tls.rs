//! The link over TLS: CA, pinned certificate, client certificate; and a wrong
//! certificate shown the same way by the broker link and the router client.

use firmware_config::{RouterConfig, Transport};
use routeros::{Router, RouterSettings};
use routeros_sim::{SimOptions, SimRouter};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

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

/// No mosquitto here: the broker link's client configuration meets the simulated
/// router's api-ssl certificate in-process, beside the router client pinning the same
/// wrong fingerprint. Both errors show the pin and the presented certificate in the
/// one form (`AB:CD:…`), which is also the form the simulator prints.
#[tokio::test]
async fn the_broker_and_the_router_show_a_wrong_certificate_in_the_same_form() {
    let sim = SimRouter::start(SimOptions::version("7.18")).await.unwrap();
    let presented = sim.fingerprint.clone().expect("api-ssl has a certificate");
    let pin = [0xab; 32];
    let pinned = tls_pin::fingerprint_hex(&pin);

    let rc = RouterConfig {
        name: "r1".into(),
        fingerprint: Some(pinned.clone()),
        ..hotspot_agent::simulated::router_config(
            &sim,
            &RouterConfig {
                transport: Transport::ApiSsl,
                ..RouterConfig::default()
            },
        )
    };
    let router = match Router::connect(RouterSettings::from_config(&rc, 0).unwrap()).await {
        Ok(_) => panic!("the router client accepted a wrong pin"),
        Err(e) => e,
    };
    assert!(
        matches!(router, routeros::RouterError::FingerprintMismatch { .. }),
        "{router}"
    );

    let config = client_config(&TlsSettings {
        pin: Some(pin),
        ..Default::default()
    })
    .unwrap();
    let tcp = TcpStream::connect(sim.api_ssl_addr.unwrap()).await.unwrap();
    let broker = match TlsConnector::from(config)
        .connect(tls_pin::server_name("localhost").unwrap(), tcp)
        .await
    {
        Ok(_) => panic!("the broker link accepted a wrong pin"),
        Err(e) => e,
    };

    let lower = |fp: &str| fp.replace(':', "").to_lowercase();
    for (side, text) in [
        ("router", router.to_string()),
        ("broker", broker.to_string()),
    ] {
        assert!(text.contains(&presented), "{side}: {text}");
        assert!(text.contains(&pinned), "{side}: {text}");
        assert!(!text.contains(&lower(&presented)), "{side}: {text}");
        assert!(!text.contains(&lower(&pinned)), "{side}: {text}");
    }
}
