//! Secrets pushed down to one site (router passwords) are sealed boxes (X25519,
//! XSalsa20-Poly1305, libsodium's `crypto_box_seal`) to that site's key. The X25519
//! key pair is derived from the site's ed25519 identity (the birational map RFC 7748
//! names, as libsodium's `crypto_sign_ed25519_pk_to_curve25519`), so registering a
//! site's public key is all the central office needs to encrypt to it.

use crypto_box::{PublicKey, SecretKey};
use ed25519_dalek::{SigningKey, VerifyingKey};

/// Why a sealed secret could not be opened.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SealError {
    #[error(
        "sealed secret does not open with this site's key (sealed for another site, or damaged)"
    )]
    Open,
    #[error("sealed secret is not UTF-8 text")]
    NotText,
    #[error("cannot seal: {0}")]
    Seal(String),
}

/// The site's X25519 public key, from its ed25519 public key.
pub fn box_public_key(site: &VerifyingKey) -> [u8; 32] {
    site.to_montgomery().to_bytes()
}

/// Seals `secret` so only the holder of the site's identity key can open it.
pub fn seal_to_site(site: &VerifyingKey, secret: &str) -> Result<Vec<u8>, SealError> {
    PublicKey::from(box_public_key(site))
        .seal(&mut crypto_box::aead::OsRng, secret.as_bytes())
        .map_err(|e| SealError::Seal(e.to_string()))
}

/// Opens a secret sealed to this site.
pub fn open_sealed(site: &SigningKey, sealed: &[u8]) -> Result<String, SealError> {
    let secret = SecretKey::from(site.to_scalar_bytes());
    let bytes = secret.unseal(sealed).map_err(|_| SealError::Open)?;
    String::from_utf8(bytes).map_err(|_| SealError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_sealed_to_a_site_opens_there_only() {
        let site = SigningKey::from_bytes(&[3u8; 32]);
        let other = SigningKey::from_bytes(&[4u8; 32]);
        let sealed = seal_to_site(&site.verifying_key(), "r0uter-pass").unwrap();
        assert!(
            !sealed.windows(11).any(|w| w == b"r0uter-pass"),
            "no clear text in the box"
        );
        assert_eq!(open_sealed(&site, &sealed).unwrap(), "r0uter-pass");
        assert_eq!(open_sealed(&other, &sealed), Err(SealError::Open));
        let mut damaged = sealed.clone();
        damaged[40] ^= 1;
        assert_eq!(open_sealed(&site, &damaged), Err(SealError::Open));
        assert_eq!(open_sealed(&site, &[1, 2, 3]), Err(SealError::Open));
    }

    #[test]
    fn the_derived_box_key_pair_matches() {
        let site = SigningKey::from_bytes(&[5u8; 32]);
        let secret = SecretKey::from(site.to_scalar_bytes());
        assert_eq!(
            secret.public_key().to_bytes(),
            box_public_key(&site.verifying_key())
        );
    }
}
