//! The owner's page's certificate: self-signed, made on first start and kept in the
//! state folder (`owner-page/cert.der`, and `key.der` readable only by the agent), so
//! its fingerprint stays the same and the owner can check it once in the browser.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Why the certificate could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// Reading or writing a file in the state folder.
    #[error("{path}: {source}; check the state folder's owner and permissions")]
    File {
        path: String,
        source: std::io::Error,
    },
    /// The key file is readable by others.
    #[error("{0}")]
    Private(String),
    /// Making the certificate or the TLS settings.
    #[error("cannot set up TLS for the owner page: {0}; delete {1} to make a new certificate")]
    Tls(String, String),
}

/// The certificate, its key and its SHA-256.
pub struct PageCert {
    pub cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    pub fingerprint: [u8; 32],
}

/// The folder the page keeps its files in.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("owner-page")
}

fn file_err(path: &Path) -> impl Fn(std::io::Error) -> CertError + '_ {
    move |source| CertError::File {
        path: path.display().to_string(),
        source,
    }
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CertError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(file_err(path))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(file_err(path))
}

/// Loads the certificate from `dir`, or makes one (valid for `names`: host names and
/// addresses the owner may type) when there is none.
pub fn load_or_make(dir: &Path, names: &[String]) -> Result<PageCert, CertError> {
    let cert_path = dir.join("cert.der");
    let key_path = dir.join("key.der");
    if !cert_path.exists() || !key_path.exists() {
        std::fs::create_dir_all(dir).map_err(file_err(dir))?;
        let made = rcgen::generate_simple_self_signed(names.to_vec())
            .map_err(|e| CertError::Tls(e.to_string(), cert_path.display().to_string()))?;
        let _ = std::fs::remove_file(&cert_path);
        let _ = std::fs::remove_file(&key_path);
        write_new(&key_path, &made.signing_key.serialize_der(), 0o600)?;
        write_new(&cert_path, made.cert.der(), 0o644)?;
        tracing::info!(path = %cert_path.display(), "made a certificate for the owner page");
    }
    let cert = std::fs::read(&cert_path).map_err(file_err(&cert_path))?;
    let key = firmware_config::read_private(&key_path, "owner page key")
        .map_err(|e| CertError::Private(e.to_string()))?;
    Ok(PageCert {
        fingerprint: tls_pin::cert_fingerprint(&cert),
        cert: CertificateDer::from(cert),
        key: PrivatePkcs8KeyDer::from(key),
    })
}

impl PageCert {
    /// TLS server settings for this certificate (TLS 1.2 and 1.3, on ring).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, CertError> {
        let err = |e: rustls::Error| CertError::Tls(e.to_string(), "owner-page/cert.der".into());
        let config = rustls::ServerConfig::builder_with_provider(tls_pin::provider())
            .with_safe_default_protocol_versions()
            .map_err(err)?
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )
            .map_err(err)?;
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_is_made_once_and_kept() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_string(), "192.168.88.2".to_string()];
        let first = load_or_make(dir.path(), &names).unwrap();
        let again = load_or_make(dir.path(), &names).unwrap();
        assert_eq!(first.fingerprint, again.fingerprint, "kept across starts");
        let mode = std::fs::metadata(dir.path().join("key.der"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(first.server_config().is_ok());
    }
}
