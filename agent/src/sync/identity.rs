//! The site's own identity: an ed25519 key pair made on first start and kept in the
//! state folder (`site.key`, mode 600). The central office registers its public key
//! (`hotspot-agent site id` prints it) and refuses anything the site sends that it
//! does not sign; secrets pushed down are sealed to it (`sync_proto::seal`).

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};

/// The key file's name in the state folder.
pub const KEY_FILE: &str = "site.key";

/// Why the identity could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("site key {path}: {message}")]
    Io { path: String, message: String },
    #[error("site key {path} can be read by other users (mode {mode:o}): run `chmod 600 {path}`")]
    Exposed { path: String, mode: u32 },
    #[error("site key {path} is not a key (64 hex digits expected); restore it from a backup, or delete it and register the new key printed by `hotspot-agent site id`")]
    Malformed { path: String },
    #[error("no random source to make the site key: {0}")]
    Random(String),
}

/// The site's key pair. `Debug` shows the public key only.
#[derive(Clone)]
pub struct SiteIdentity {
    key: SigningKey,
}

impl std::fmt::Debug for SiteIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SiteIdentity({})", self.public_hex())
    }
}

fn io_err(path: &Path, e: std::io::Error) -> IdentityError {
    IdentityError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl SiteIdentity {
    /// The key file for a state folder.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(KEY_FILE)
    }

    /// Reads the key from the state folder, making it (mode 600) if there is none.
    /// A key other users can read is refused, not used.
    pub fn load_or_create(state_dir: &Path) -> Result<SiteIdentity, IdentityError> {
        let path = Self::path(state_dir);
        match std::fs::metadata(&path) {
            Ok(meta) => {
                use std::os::unix::fs::PermissionsExt;
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(IdentityError::Exposed {
                        path: path.display().to_string(),
                        mode,
                    });
                }
                let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
                let bytes = hex::decode(text.trim())
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| IdentityError::Malformed {
                        path: path.display().to_string(),
                    })?;
                Ok(SiteIdentity {
                    key: SigningKey::from_bytes(&bytes),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(state_dir, &path),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    fn create(state_dir: &Path, path: &Path) -> Result<SiteIdentity, IdentityError> {
        std::fs::create_dir_all(state_dir).map_err(|e| io_err(state_dir, e))?;
        let key = sync_proto::sign::generate().map_err(|e| IdentityError::Random(e.to_string()))?;
        // Written to a private temporary file and renamed, so a crash never leaves
        // half a key, and two starts racing end with one key.
        let tmp = path.with_extension("key.tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(|e| io_err(&tmp, e))?;
        f.write_all(format!("{}\n", hex::encode(key.to_bytes())).as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| io_err(&tmp, e))?;
        if let Err(e) = std::fs::hard_link(&tmp, path) {
            let _ = std::fs::remove_file(&tmp);
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                return Self::load_or_create(state_dir);
            }
            return Err(io_err(path, e));
        }
        let _ = std::fs::remove_file(&tmp);
        tracing::info!(file = %path.display(), public_key = %hex::encode(key.verifying_key().to_bytes()), "site key made; register it with the central office");
        Ok(SiteIdentity { key })
    }

    /// A fixed identity (tests, the demo).
    pub fn from_key(key: SigningKey) -> SiteIdentity {
        SiteIdentity { key }
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key as 64 hex digits, as the central office registers it.
    pub fn public_hex(&self) -> String {
        hex::encode(self.public_key().to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_key_is_made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = SiteIdentity::load_or_create(dir.path()).unwrap();
        let path = SiteIdentity::path(dir.path());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = SiteIdentity::load_or_create(dir.path()).unwrap();
        assert_eq!(
            a.public_hex(),
            b.public_hex(),
            "the same key on every start"
        );
        assert!(!format!("{a:?}").contains(&hex::encode(a.signing_key().to_bytes())));
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            SiteIdentity::load_or_create(other.path())
                .unwrap()
                .public_hex(),
            a.public_hex()
        );
    }

    #[test]
    fn a_readable_or_damaged_key_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        SiteIdentity::load_or_create(dir.path()).unwrap();
        let path = SiteIdentity::path(dir.path());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = SiteIdentity::load_or_create(dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "nope\n").unwrap();
        let err = SiteIdentity::load_or_create(dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a key"), "{err}");
    }
}
