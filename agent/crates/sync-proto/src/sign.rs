//! ed25519 signatures on every message, down (the central office's key) and up
//! (each site's own identity key): key parsing, signing, verification. The signed bytes are a domain tag followed by the envelope up to
//! its signature field (see `envelope.rs`).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;

use super::envelope::Envelope;

/// Prefixed to the signed bytes so a signature made for this contract can never be
/// valid for anything else the same key might sign.
pub const SIGNING_CONTEXT: &[u8] = b"hotspot-agent/v1\0";

/// Why a key or a signature was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SignError {
    #[error("{what} is not a valid ed25519 key: expected 32 bytes as 64 hex digits or base64")]
    BadKey { what: String },
    #[error("message is not signed")]
    Unsigned,
    #[error(
        "signature does not verify with the sender's key (tampered, or signed with another key)"
    )]
    BadSignature,
}

/// Parses a 32-byte key written as hex or base64.
pub fn parse_key_bytes(text: &str, what: &str) -> Result<[u8; 32], SignError> {
    firmware_config::central::parse_key32(text)
        .ok_or_else(|| SignError::BadKey { what: what.into() })
}

/// The central office's public key from its text form.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, SignError> {
    let bytes = parse_key_bytes(text, "public key")?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| SignError::BadKey {
        what: "public key".into(),
    })
}

/// The central office's secret key from its text form.
pub fn parse_secret_key(text: &str) -> Result<SigningKey, SignError> {
    Ok(SigningKey::from_bytes(&parse_key_bytes(
        text,
        "secret key",
    )?))
}

/// A fresh key pair from the operating system's random source.
pub fn generate() -> Result<SigningKey, getrandom::Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

fn tagged(signed_part: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_CONTEXT.len() + signed_part.len());
    m.extend_from_slice(SIGNING_CONTEXT);
    m.extend_from_slice(signed_part);
    m
}

/// The signature over the bytes a signature covers (the envelope before `sig`).
pub fn sign_bytes(signed_part: &[u8], key: &SigningKey) -> [u8; 64] {
    key.sign(&tagged(signed_part)).to_bytes()
}

/// Signs an envelope in place.
pub fn sign<B: Serialize + Clone>(envelope: &mut Envelope<B>, key: &SigningKey) {
    envelope.sig = None;
    envelope.sig = Some(sign_bytes(&envelope.signed_part(), key).to_vec());
}

/// Checks a signature over the bytes it covers.
pub fn verify(
    signed_bytes: &[u8],
    sig: Option<&[u8]>,
    key: &VerifyingKey,
) -> Result<(), SignError> {
    let sig = sig.ok_or(SignError::Unsigned)?;
    let sig = Signature::from_slice(sig).map_err(|_| SignError::BadSignature)?;
    key.verify(&tagged(signed_bytes), &sig)
        .map_err(|_| SignError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::decode;
    use crate::messages::{Ack, Down};

    // RFC 8032 section 7.1, test 1: secret key and its public key.
    const SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    #[test]
    fn the_rfc_8032_secret_key_gives_its_public_key() {
        let sk = parse_secret_key(SECRET).unwrap();
        assert_eq!(hex::encode(sk.verifying_key().to_bytes()), PUBLIC);
    }

    #[test]
    fn a_signed_message_verifies_and_any_flipped_byte_does_not() {
        let sk = parse_secret_key(SECRET).unwrap();
        let pk = parse_public_key(PUBLIC).unwrap();
        let mut env = Envelope::new(
            "a1",
            "central",
            5,
            Down::Ack(Ack {
                msg_ids: vec!["sale-1".into()],
            }),
        );
        sign(&mut env, &sk);
        let bytes = env.encode();
        let d = decode::<Down>(&bytes).unwrap();
        verify(d.signed_bytes, d.envelope.sig.as_deref(), &pk).unwrap();
        for i in 0..bytes.len() {
            let mut t = bytes.clone();
            t[i] ^= 0x01;
            if let Ok(d) = decode::<Down>(&t) {
                assert!(
                    verify(d.signed_bytes, d.envelope.sig.as_deref(), &pk).is_err(),
                    "flip at {i}"
                );
            }
        }
    }

    #[test]
    fn the_readme_test_vector_is_what_signing_produces() {
        use crate::envelope::tests::readme_value;
        let mut ack = Envelope::new(
            "down-1",
            "site-001",
            1_795_000_001_000,
            Down::Ack(Ack {
                msg_ids: vec!["sale-5f3c9a0d12e4b786-42".into()],
            }),
        );
        sign(&mut ack, &parse_secret_key(SECRET).unwrap());
        let signed_part = hex::encode(ack.signed_part());
        assert_eq!(signed_part, readme_value("signed part: "));
        let sig = hex::encode(ack.sig.clone().unwrap());
        assert_eq!(sig, readme_value("signature:   "));
        // sig field: 01 (Some), 40 (length 64), then the signature.
        assert_eq!(hex::encode(ack.encode()), format!("{signed_part}0140{sig}"));
    }

    #[test]
    fn another_key_and_no_signature_are_refused() {
        let other = SigningKey::from_bytes(&[7u8; 32]);
        let pk = parse_public_key(PUBLIC).unwrap();
        let mut env = Envelope::new("a1", "central", 5, Down::Ack(Ack::default()));
        assert_eq!(
            verify(&env.signed_part(), None, &pk),
            Err(SignError::Unsigned)
        );
        sign(&mut env, &other);
        assert_eq!(
            verify(&env.signed_part(), env.sig.as_deref(), &pk),
            Err(SignError::BadSignature)
        );
    }
}
