//! A certificate's SHA-256 and the one form it is shown to operators in: colon-separated
//! upper-case hex, as RouterOS (`/certificate print`) and browsers show it.

use std::fmt::Write;

use sha2::{Digest, Sha256};

/// SHA-256 of a DER certificate: what a pin compares.
pub fn cert_fingerprint(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// A fingerprint as colon-separated upper-case hex (`AB:CD:…`, 95 characters): the
/// form every message and listing shows.
pub fn fingerprint_hex(fp: &[u8; 32]) -> String {
    let mut text = String::with_capacity(32 * 3 - 1);
    for (i, b) in fp.iter().enumerate() {
        if i > 0 {
            text.push(':');
        }
        let _ = write!(text, "{b:02X}");
    }
    text
}
