//! A real mosquitto broker for the tests: its own config file in a temporary folder,
//! free ports on loopback (never 1883), optional TLS listeners with certificates
//! made by rcgen at test time, and stop/start to simulate an outage.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the broker binary is; `MOSQUITTO` overrides.
pub fn mosquitto_binary() -> PathBuf {
    std::env::var_os("MOSQUITTO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/mosquitto"))
}

/// A file of `deploy/mosquitto/` in this repository.
pub fn deploy_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/mosquitto")
        .join(name)
}

/// Certificates for the TLS listeners, PEM.
pub struct TestPki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_cert_der: Vec<u8>,
    pub server_key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

impl TestPki {
    /// A CA, a server certificate for `localhost`/127.0.0.1 and a client certificate.
    pub fn generate() -> TestPki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "hotspot test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("server key");
        let mut sp = CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
        sp.subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        let server = sp.signed_by(&server_key, &issuer).expect("server cert");

        let client_key = KeyPair::generate().expect("client key");
        let mut cp = CertificateParams::new(Vec::<String>::new()).expect("client params");
        cp.distinguished_name.push(DnType::CommonName, "site-tls");
        let client = cp.signed_by(&client_key, &issuer).expect("client cert");
        TestPki {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server.pem(),
            server_cert_der: server.der().to_vec(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }
}

/// A running (or stopped) mosquitto.
pub struct Mosquitto {
    pub port: u16,
    /// TLS, server certificate only.
    pub tls_port: Option<u16>,
    /// TLS, client certificate required.
    pub mtls_port: Option<u16>,
    pub pki: Option<TestPki>,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Access control and limits from the shipped `deploy/mosquitto` files instead of
    /// an open broker.
    fleet: bool,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    l.local_addr().expect("local addr").port()
}

impl Mosquitto {
    /// A broker with one plain listener.
    pub fn start() -> Mosquitto {
        Mosquitto::start_with(false)
    }

    /// A broker with a plain listener and two TLS listeners (with and without client certificates).
    pub fn start_tls() -> Mosquitto {
        Mosquitto::start_with(true)
    }

    fn start_with(tls: bool) -> Mosquitto {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = tls.then(TestPki::generate);
        let mut m = Mosquitto {
            port: free_port(),
            tls_port: tls.then(free_port),
            mtls_port: tls.then(free_port),
            pki,
            dir,
            child: None,
            fleet: false,
        };
        m.write_config();
        m.resume();
        m
    }

    /// A broker set up as `deploy/mosquitto/` says (password file, the ACL, the size
    /// limit), with these `(user, password)` logins.
    pub fn start_fleet(users: &[(&str, &str)]) -> Mosquitto {
        let dir = tempfile::tempdir().expect("tempdir");
        let passwd = dir.path().join("hotspot.passwd");
        for (i, (user, pass)) in users.iter().enumerate() {
            let mut cmd = Command::new("mosquitto_passwd");
            if i == 0 {
                cmd.arg("-c");
            }
            let ok = cmd
                .arg("-b")
                .arg(&passwd)
                .arg(user)
                .arg(pass)
                .status()
                .expect("mosquitto_passwd (apt-get install mosquitto)");
            assert!(ok.success(), "mosquitto_passwd failed");
        }
        std::fs::copy(deploy_file("hotspot.acl"), dir.path().join("hotspot.acl"))
            .expect("copy the shipped ACL");
        let mut m = Mosquitto {
            port: free_port(),
            tls_port: None,
            mtls_port: None,
            pki: None,
            dir,
            child: None,
            fleet: true,
        };
        m.write_config();
        m.resume();
        m
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn write_config(&self) {
        let d = self.dir.path();
        if self.fleet {
            // The shipped settings, with this folder's files; persistence as below.
            let shipped =
                std::fs::read_to_string(deploy_file("hotspot.conf")).expect("shipped conf");
            let mut conf = format!(
                "user root\npersistence_location {}/\nlog_dest file {}/mosquitto.log\nlistener {} 127.0.0.1\n",
                d.display(),
                d.display(),
                self.port
            );
            for line in shipped.lines() {
                let line = line.replace("/etc/mosquitto/", &format!("{}/", d.display()));
                conf.push_str(&line);
                conf.push('\n');
            }
            std::fs::write(d.join("mosquitto.conf"), conf).expect("write mosquitto.conf");
            return;
        }
        // persistence keeps sessions, queued QoS 1 messages and retained messages across
        // a stop/start, like a production broker; `user root` stops mosquitto from
        // dropping to a user that cannot read this folder when tests run as root.
        let mut conf = format!(
            "per_listener_settings false\nallow_anonymous true\nuser root\npersistence true\n\
             persistence_location {}/\nmax_queued_messages 100000\nlog_dest file {}/mosquitto.log\n\
             listener {} 127.0.0.1\n",
            d.display(),
            d.display(),
            self.port
        );
        if let Some(pki) = &self.pki {
            for (name, text) in [
                ("ca.pem", &pki.ca_pem),
                ("server.pem", &pki.server_cert_pem),
                ("server.key", &pki.server_key_pem),
            ] {
                std::fs::write(d.join(name), text).expect("write PKI");
            }
            for (port, require) in [(self.tls_port, false), (self.mtls_port, true)] {
                conf.push_str(&format!(
                    "listener {} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n\
                     require_certificate {require}\n",
                    port.unwrap_or(0),
                    d = d.display()
                ));
            }
        }
        std::fs::write(d.join("mosquitto.conf"), conf).expect("write mosquitto.conf");
    }

    /// Starts the broker (again) on the same ports and waits until it accepts connections.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto (apt-get install mosquitto)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {}: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the broker (SIGTERM, so it saves its state) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The broker's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A client of a test broker on loopback: persistent session, quick reconnects.
pub fn client_link(port: u16, client_id: &str) -> mqtt_link::LinkConfig {
    mqtt_link::LinkConfig {
        host: "127.0.0.1".into(),
        port,
        client_id: client_id.into(),
        username: None,
        password: None,
        tls: None,
        keep_alive: Duration::from_secs(5),
        clean_session: false,
        last_will: None,
        subscriptions: vec![],
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
    }
}
