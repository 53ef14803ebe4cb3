//! The owner's PIN: kept only as an Argon2id hash (a PHC string) in a file that only
//! the agent's user can read, written once at install by `hotspot-agent owner-page pin`.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;

/// The shortest PIN taken: six digits give a million tries, and the page lets a
/// client try five times in five minutes.
pub const MIN_PIN_LEN: usize = 6;

/// Why a PIN could not be set or read.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// Too short, too long or with characters a phone keyboard may not type.
    #[error("the PIN must be {MIN_PIN_LEN} to 64 characters without spaces (digits are fine: e.g. 6 or 8 digits)")]
    Weak,
    /// No PIN was ever set.
    #[error("no owner page PIN is set ({path} is missing): run `hotspot-agent owner-page pin` as the service's user")]
    Missing { path: String },
    /// The file exists but is not a hash this agent wrote, or others may read it.
    #[error("{path}: {why}; set the PIN again with `hotspot-agent owner-page pin`")]
    Unreadable { path: String, why: String },
    /// Writing the file failed.
    #[error("cannot write {path}: {source}; check the state folder's owner and permissions")]
    Write {
        path: String,
        source: std::io::Error,
    },
    /// The hash function refused (out of memory).
    #[error("cannot hash the PIN: {0}")]
    Hash(String),
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) of `pin`, with a fresh salt.
pub fn hash_pin(pin: &str) -> Result<String, PinError> {
    if pin.chars().count() < MIN_PIN_LEN || pin.len() > 64 || pin.chars().any(char::is_whitespace) {
        return Err(PinError::Weak);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PinError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PinError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PinError::Hash(e.to_string()))
}

/// Whether `pin` matches the stored `hash`. Slow on purpose (Argon2id): call it off
/// the async threads and only after the login rate limit allowed the try.
pub fn verify_pin(hash: &str, pin: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(pin.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Writes `hash` to `path` with mode 0600 (its folder 0700 if new), replacing the file
/// at once so a crash leaves the old PIN or the new one, never half of one.
pub fn write_pin_file(path: &Path, hash: &str) -> Result<(), PinError> {
    let err = |source| PinError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(err)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
    }
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(hash.as_bytes())
        .and_then(|_| f.write_all(b"\n"))
        .and_then(|_| f.sync_all())
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Reads the stored hash, refusing a file others can read and anything that is not
/// an Argon2 PHC string.
pub fn read_pin_file(path: &Path) -> Result<String, PinError> {
    if !path.exists() {
        return Err(PinError::Missing {
            path: path.display().to_string(),
        });
    }
    let unreadable = |why: String| PinError::Unreadable {
        path: path.display().to_string(),
        why,
    };
    let bytes = firmware_config::read_private(path, "owner_page.pin_file")
        .map_err(|e| unreadable(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| unreadable("not text".into()))?;
    let hash = text.trim().to_string();
    match PasswordHash::new(&hash) {
        Ok(h) if h.algorithm.as_str().starts_with("argon2") => Ok(hash),
        _ => Err(unreadable("not an Argon2 hash".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_stored_hashed_in_a_private_file_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owner-page/pin");
        assert!(matches!(
            read_pin_file(&path),
            Err(PinError::Missing { .. })
        ));
        let hash = hash_pin("482913").unwrap();
        write_pin_file(&path, &hash).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("482913"), "only the hash is kept: {text}");
        assert!(text.starts_with("$argon2id$"), "{text}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let stored = read_pin_file(&path).unwrap();
        assert!(verify_pin(&stored, "482913"));
        assert!(!verify_pin(&stored, "482914"));
        assert!(!verify_pin("not a hash", "482913"));
    }

    #[test]
    fn short_pins_and_world_readable_files_are_refused() {
        assert!(matches!(hash_pin("1234"), Err(PinError::Weak)));
        assert!(matches!(hash_pin("12 3456"), Err(PinError::Weak)));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin");
        write_pin_file(&path, &hash_pin("482913").unwrap()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_pin_file(&path).unwrap_err().to_string();
        assert!(err.contains("owner-page pin"), "{err}");
        std::fs::write(&path, "482913").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = read_pin_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("not an Argon2 hash"),
            "a PIN in clear is refused: {err}"
        );
    }
}
