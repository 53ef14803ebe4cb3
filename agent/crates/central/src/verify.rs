//! What the central side accepts from a site, in one place: the topic names a site,
//! the envelope names the same site, and the signature verifies against that site's
//! registered key. `Central::next`, the ingest workers and the admin API all check
//! through here.

use ed25519_dalek::VerifyingKey;
use sync_proto::envelope::{decode, Envelope};
use sync_proto::messages::Up;
use sync_proto::sign::verify;
use sync_proto::topics::{parse_up, UpTopic};

/// A message from a site whose topic and envelope agree, not yet verified.
pub(crate) struct Unverified<'a> {
    pub(crate) site: String,
    pub(crate) which: UpTopic,
    signed_bytes: &'a [u8],
    sig: Option<Vec<u8>>,
    envelope: Envelope<Up>,
}

/// Why a message was refused; logged, never answered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    #[error("not a topic a site sends on")]
    Topic,
    #[error("undecodable: {0}")]
    Decode(String),
    #[error("site id in the message ({0}) differs from the topic")]
    SiteMismatch(String),
    #[error("not signed by the registered site key: {0}")]
    Signature(String),
}

/// Reads a message a site published on `topic`: `Err` when the topic is not a site's,
/// the bytes do not decode, or the envelope names another site.
pub(crate) fn read_up<'a>(
    prefix: &str,
    topic: &str,
    payload: &'a [u8],
) -> Result<Unverified<'a>, Refused> {
    let which = parse_up(prefix, topic).ok_or(Refused::Topic)?;
    let decoded = decode::<Up>(payload).map_err(|e| Refused::Decode(e.to_string()))?;
    let site = match &which {
        UpTopic::Status(s) | UpTopic::Reply(s) | UpTopic::Outbox(s, _) => s.clone(),
    };
    if decoded.envelope.site != site {
        return Err(Refused::SiteMismatch(decoded.envelope.site));
    }
    let mut envelope = decoded.envelope;
    let sig = envelope.sig.take();
    Ok(Unverified {
        site,
        which,
        signed_bytes: decoded.signed_bytes,
        sig,
        envelope,
    })
}

impl Unverified<'_> {
    /// The envelope, once its signature verifies against the site's key.
    pub(crate) fn verify(self, key: &VerifyingKey) -> Result<Envelope<Up>, Refused> {
        verify(self.signed_bytes, self.sig.as_deref(), key)
            .map_err(|e| Refused::Signature(e.to_string()))?;
        let mut envelope = self.envelope;
        envelope.sig = self.sig;
        Ok(envelope)
    }

    /// True for an outbox message (acknowledged once stored).
    pub(crate) fn is_outbox(&self) -> bool {
        matches!(self.which, UpTopic::Outbox(..))
    }
}
