//! The versioned envelope around every message, and its postcard encoding: pure
//! functions over bytes, no I/O. The signature (when present) is the last field and
//! covers every byte before it, so a verifier needs no canonical re-encoding.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The only schema version this agent speaks. Anything else is refused.
pub const SCHEMA_VERSION: u32 = 2;

/// Every message on every topic. `B` is [`super::Up`] or [`super::Down`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<B> {
    /// Wire schema version: always first, so it can be read before anything else.
    pub schema: u32,
    /// Unique per message; the central office and the site deduplicate on it.
    pub msg_id: String,
    /// Sending site (up) or the central office's name (down).
    pub site: String,
    /// Unix time the message was made, milliseconds.
    pub time_ms: u64,
    pub body: B,
    /// ed25519 signature (64 bytes) over every byte of the encoding before this field.
    pub sig: Option<Vec<u8>>,
}

/// Why bytes are not a message this agent accepts.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("empty payload")]
    Empty,
    #[error("schema version {0} is not spoken here (this agent speaks {SCHEMA_VERSION}): upgrade the agent or the sender")]
    UnknownSchema(u32),
    #[error("payload is not a valid message: {0}")]
    Malformed(String),
    #[error("{0} stray byte(s) after the message")]
    Trailing(usize),
}

/// A decoded message and the bytes its signature covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<'a, B> {
    pub envelope: Envelope<B>,
    pub signed_bytes: &'a [u8],
}

// The envelope without its signature: same field order, so its encoding is exactly
// the prefix the signature covers.
#[derive(Serialize, Deserialize)]
struct Unsigned<B> {
    schema: u32,
    msg_id: String,
    site: String,
    time_ms: u64,
    body: B,
}

impl<B: Serialize + Clone> Envelope<B> {
    /// A new unsigned envelope at `SCHEMA_VERSION`.
    pub fn new(
        msg_id: impl Into<String>,
        site: impl Into<String>,
        time_ms: u64,
        body: B,
    ) -> Envelope<B> {
        Envelope {
            schema: SCHEMA_VERSION,
            msg_id: msg_id.into(),
            site: site.into(),
            time_ms,
            body,
            sig: None,
        }
    }

    /// The bytes a signature covers (the encoding of every field before `sig`).
    pub fn signed_part(&self) -> Vec<u8> {
        let unsigned = Unsigned {
            schema: self.schema,
            msg_id: self.msg_id.clone(),
            site: self.site.clone(),
            time_ms: self.time_ms,
            body: self.body.clone(),
        };
        // Encoding plain owned data into a Vec cannot fail.
        postcard::to_stdvec(&unsigned).unwrap_or_default()
    }

    /// The postcard encoding of the whole envelope.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.signed_part();
        out.extend(postcard::to_stdvec(&self.sig).unwrap_or_default());
        out
    }
}

/// Encodes and signs an envelope around a body that is already postcard bytes (what
/// the outbox stores): the same bytes [`Envelope::encode`] gives after
/// [`crate::sign::sign`], without a decode.
pub fn encode_raw_signed(
    msg_id: &str,
    site: &str,
    time_ms: u64,
    body: &[u8],
    key: &ed25519_dalek::SigningKey,
) -> Vec<u8> {
    let head = (SCHEMA_VERSION, msg_id, site, time_ms);
    let mut out = postcard::to_stdvec(&head).unwrap_or_default();
    out.extend_from_slice(body);
    let sig = crate::sign::sign_bytes(&out, key);
    out.extend_from_slice(&[0x01, 0x40]); // sig: Some, 64 bytes
    out.extend_from_slice(&sig);
    out
}

/// Reads the schema version only (the first varint), so a message from a newer
/// sender can be refused with a clear reason rather than a parse error.
pub fn peek_schema(bytes: &[u8]) -> Result<u32, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    postcard::take_from_bytes::<u32>(bytes)
        .map(|(v, _)| v)
        .map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// Decodes a message: schema checked first, then the fields, the signature, and
/// nothing after it.
pub fn decode<B: DeserializeOwned>(bytes: &[u8]) -> Result<Decoded<'_, B>, DecodeError> {
    let schema = peek_schema(bytes)?;
    if schema != SCHEMA_VERSION {
        return Err(DecodeError::UnknownSchema(schema));
    }
    let (unsigned, rest) = postcard::take_from_bytes::<Unsigned<B>>(bytes)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let signed_bytes = &bytes[..bytes.len() - rest.len()];
    let (sig, rest) = postcard::take_from_bytes::<Option<Vec<u8>>>(rest)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::Trailing(rest.len()));
    }
    Ok(Decoded {
        envelope: Envelope {
            schema: unsigned.schema,
            msg_id: unsigned.msg_id,
            site: unsigned.site,
            time_ms: unsigned.time_ms,
            body: unsigned.body,
            sig,
        },
        signed_bytes,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::messages::{Event, Up};

    #[test]
    fn an_event_encodes_field_by_field() {
        let env = Envelope::new(
            "e1",
            "s",
            300,
            Up::Event(Event {
                name: "x".into(),
                detail: String::new(),
            }),
        );
        let bytes = env.encode();
        #[rustfmt::skip]
        let expected = [
            0x02,                   // schema 2 (varint)
            0x02, b'e', b'1',       // msg_id: length 2, "e1"
            0x01, b's',             // site: length 1, "s"
            0xac, 0x02,             // time_ms 300 as a varint: 0b0101100 | 0x80, 0b10
            0x02,                   // body: Up variant 2 = Event
            0x01, b'x',             // name "x"
            0x00,                   // detail ""
            0x00,                   // sig: None
        ];
        assert_eq!(bytes, expected);
        let decoded = decode::<Up>(&bytes).unwrap();
        assert_eq!(decoded.envelope, env);
        assert_eq!(decoded.signed_bytes, &expected[..12]);
    }

    #[test]
    fn raw_encoding_of_a_stored_body_equals_the_typed_encoding() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let body = Up::Event(Event {
            name: "boot".into(),
            detail: "ok".into(),
        });
        let stored = postcard::to_stdvec(&body).unwrap();
        let mut env = Envelope::new("m-1", "site", 1_700_000_000_000, body);
        crate::sign::sign(&mut env, &key);
        let raw = encode_raw_signed("m-1", "site", 1_700_000_000_000, &stored, &key);
        assert_eq!(raw, env.encode());
        let d = decode::<Up>(&raw).unwrap();
        crate::sign::verify(
            d.signed_bytes,
            d.envelope.sig.as_deref(),
            &key.verifying_key(),
        )
        .unwrap();
    }

    /// The README's text between `start` and the next backtick (or end of line).
    pub(crate) fn readme_value(start: &str) -> String {
        let readme = include_str!("../README.md");
        let at = readme
            .find(start)
            .unwrap_or_else(|| panic!("README has no {start:?}"));
        let rest = &readme[at + start.len()..];
        let end = rest.find(['`', '\n']).unwrap_or(rest.len());
        rest[..end].trim().to_string()
    }

    pub(crate) const RFC8032_SECRET: &str =
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

    #[test]
    fn the_readme_sale_example_is_what_the_encoder_produces() {
        let sale = crate::messages::SaleRecord {
            sale_id: "42".into(),
            code: "K7H3".into(),
            plan_id: "1h".into(),
            price: 5,
            currency: "PHP".into(),
            sold_at_ms: 1_795_000_000_000,
            router: "main".into(),
            state: "delivered".into(),
            channel: "coins".into(),
        };
        let msg_id = crate::ids::sale_msg_id("5f3c9a0d12e4b786", "42");
        let mut env = Envelope::new(msg_id, "site-001", 1_795_000_000_000, Up::Sale(sale));
        let json = serde_json::to_string(&env).unwrap();
        assert_eq!(json, readme_value("```json\n"), "the README's JSON");
        let key = crate::sign::parse_secret_key(RFC8032_SECRET).unwrap();
        crate::sign::sign(&mut env, &key);
        assert_eq!(
            hex::encode(env.encode()),
            readme_value("hex: `"),
            "the README's hex"
        );
    }

    /// The README's "Online orders" examples: the order down, signed by the central
    /// office, and the site's answer up, signed by the site (both with the RFC 8032
    /// test key), and a `CreateVouchers` reply that stopped partway (unsigned).
    #[test]
    fn the_readme_order_examples_are_what_the_encoder_produces() {
        use crate::messages::{
            CommandOutput, CommandResult, Down, Order, OrderOutcome, OrderResult, PartialVouchers,
            Reply, SaleRecord,
        };
        let key = crate::sign::parse_secret_key(RFC8032_SECRET).unwrap();
        let order = Order {
            order_id: "web-1".into(),
            target: "site-001".into(),
            plan_id: "1h".into(),
            amount: 7,
            currency: "PHP".into(),
        };
        let mut down = Envelope::new("down-2", "site-001", 1_795_000_002_000, Down::Order(order));
        crate::sign::sign(&mut down, &key);
        assert_eq!(hex::encode(down.encode()), readme_value("order hex: `"));
        let sold = SaleRecord {
            sale_id: "43".into(),
            code: "M2Q9".into(),
            plan_id: "1h".into(),
            price: 7,
            currency: "PHP".into(),
            sold_at_ms: 1_795_000_002_500,
            router: "main".into(),
            state: "delivered".into(),
            channel: "order".into(),
        };
        let mut up = Envelope::new(
            "order-web-1-sold",
            "site-001",
            1_795_000_003_000,
            Up::Order(OrderResult {
                order_id: "web-1".into(),
                outcome: OrderOutcome::Sold(sold),
            }),
        );
        crate::sign::sign(&mut up, &key);
        assert_eq!(
            hex::encode(up.encode()),
            readme_value("order answer hex: `")
        );
        let partly = Envelope::new(
            "reply-1",
            "site-001",
            1_795_000_004_000,
            Up::Reply(Reply {
                request_id: "req-1".into(),
                result: CommandResult::Ok(CommandOutput::VouchersPartly(PartialVouchers {
                    sold: vec![],
                    asked: 5,
                    error: "router down".into(),
                })),
            }),
        );
        assert_eq!(
            hex::encode(partly.encode()),
            readme_value("partial reply hex: `")
        );
        let floor = crate::messages::Floor {
            site_key: key.verifying_key().to_bytes().to_vec(),
            plans_version: 10,
            routers_version: 3,
            issued_ms: 1_795_000_005_000,
        };
        let mut down = Envelope::new("down-3", "site-001", 1_795_000_005_000, Down::Floor(floor));
        crate::sign::sign(&mut down, &key);
        assert_eq!(hex::encode(down.encode()), readme_value("floor hex: `"));
    }

    #[test]
    fn the_readme_cash_and_telemetry_examples_are_what_the_encoder_produces() {
        use crate::messages::{CashCollection, ClockState, Telemetry};
        let cash = Up::CashCollection(CashCollection {
            collection_id: "3".into(),
            collected_at_ms: 1_795_000_000_000,
            since_ms: Some(1_794_400_000_000),
            total: 125,
            coins: 20,
            per_value: vec![(5, 15), (10, 5)],
            by: "cli".into(),
        });
        let msg_id = crate::ids::cash_msg_id("5f3c9a0d12e4b786", "3");
        let env = Envelope::new(msg_id, "site-001", 1_795_000_000_000, cash);
        assert_eq!(hex::encode(env.encode()), readme_value("cash hex: `"));
        let telemetry = Up::Telemetry(Telemetry {
            sales_count_today: 3,
            sales_amount_today: 15,
            active_users: 2,
            routers: vec![("main".into(), "up".into())],
            pool: vec![("1h".into(), 10)],
            credit: 0,
            cash_box: 15,
            agent_version: "0.1.0".into(),
            uptime_s: 3600,
            clock: ClockState {
                trusted: false,
                source: "floor".into(),
                detail: "the clock was stepped back by 172800 s and is not synchronised since"
                    .into(),
            },
        });
        let env = Envelope::new(
            "telemetry-00000000000000000000000000000001",
            "site-001",
            1_795_000_000_000,
            telemetry,
        );
        let bytes = env.encode();
        assert_eq!(hex::encode(&bytes), readme_value("telemetry hex: `"));
        assert_eq!(decode::<Up>(&bytes).unwrap().envelope, env);
    }

    #[test]
    fn another_schema_version_is_refused_by_number() {
        let mut bytes = Envelope::new("e1", "s", 1, Up::Event(Event::default())).encode();
        bytes[0] = 0x01;
        assert_eq!(
            decode::<Up>(&bytes).unwrap_err(),
            DecodeError::UnknownSchema(1)
        );
    }

    #[test]
    fn garbage_truncation_and_trailing_bytes_are_errors_not_panics() {
        let bytes = Envelope::new("e1", "s", 1, Up::Event(Event::default())).encode();
        for cut in 0..bytes.len() {
            assert!(decode::<Up>(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode::<Up>(&long).unwrap_err(), DecodeError::Trailing(1));
        assert!(decode::<Up>(&[0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(
            decode::<Up>(&[0x01, 0x02, b'a', b'b', 0x00, 0x00, 0x09]).is_err(),
            "no Up variant 9"
        );
    }
}
