//! ccTalk codec and the credit-event tracker (pure: bytes and counters in, frames and coins out).
//!
//! Facts used, from the public ccTalk Generic Specification (Money Controls,
//! part 1 "Protocol" and part 3 "Command set"):
//! - A message is `[destination, data length, source, header, data..., checksum]`;
//!   the length counts data bytes only, so a frame is `length + 5` bytes.
//! - Simple checksum: all bytes of the message, checksum included, add up to
//!   0 modulo 256.
//! - Address 1 is the host, 0 is broadcast, 2 is the default for a coin acceptor.
//!   A reply has header 0 (ACK) and goes to the host; header 5 is NAK, 6 is BUSY.
//! - On a one-wire bus the host also receives its own message (echo); it is
//!   addressed to the device, so the host drops it.
//! - Header 254 simple poll (reply: ACK, no data); 1 reset device; 184 request
//!   coin id (data: coin position; reply: 6 ASCII characters such as `PH005A`);
//!   231 modify inhibit status (2 bytes, bit = 1 enables the coin in that
//!   position, bit 0 of the first byte is coin 1); 228 modify master inhibit
//!   status (bit 0: 1 = accept coins, 0 = master inhibit); 229 read buffered
//!   credit or error codes (reply: event counter, then 5 pairs `[result A,
//!   result B]`, most recent first).
//! - Result A 1..=16 is a credit in that coin position with result B the sorter
//!   path; result A 0 is an error event with the code in result B (0 = null event).
//! - The event counter counts 1..=255 and wraps to 1, never to 0; it reads 0 only
//!   after power-up or reset, when the acceptor has also lost its inhibit settings.
//!
//! - CRC-16 checksums (an option some acceptors offer): the CRC-CCITT polynomial
//!   x^16 + x^12 + x^5 + 1 (0x1021), initial value 0, over destination, length,
//!   header and data; its low byte takes the source-address position and its high
//!   byte the checksum position, so a CRC frame carries no source address.
//! - Identification headers: 245 request equipment category id (ASCII, "Coin
//!   Acceptor"), 244 request product code (ASCII), 246 request manufacturer id
//!   (ASCII), 242 request serial number (3 bytes, least significant first),
//!   4 request comms revision (3 bytes: release, major, minor).
//!
//! Header 229 replies and the event counter are in [`super::cctalk_credit`].

use bytes::{Buf, BytesMut};

/// ccTalk address of the host (this agent).
pub const HOST: u8 = 1;
/// Default address of a coin acceptor.
pub const COIN_ACCEPTOR: u8 = 2;

/// Header numbers used here.
pub mod header {
    /// Reply: acknowledge (also carries reply data).
    pub const ACK: u8 = 0;
    /// Reset device.
    pub const RESET: u8 = 1;
    /// Reply: not acknowledged.
    pub const NAK: u8 = 5;
    /// Reply: busy.
    pub const BUSY: u8 = 6;
    /// Request comms revision.
    pub const REQUEST_COMMS_REVISION: u8 = 4;
    /// Request coin id.
    pub const REQUEST_COIN_ID: u8 = 184;
    /// Request serial number.
    pub const REQUEST_SERIAL_NUMBER: u8 = 242;
    /// Request product code.
    pub const REQUEST_PRODUCT_CODE: u8 = 244;
    /// Request equipment category id.
    pub const REQUEST_EQUIPMENT_CATEGORY: u8 = 245;
    /// Request manufacturer id.
    pub const REQUEST_MANUFACTURER_ID: u8 = 246;
    /// Modify master inhibit status.
    pub const MODIFY_MASTER_INHIBIT: u8 = 228;
    /// Read buffered credit or error codes.
    pub const READ_BUFFERED_CREDIT: u8 = 229;
    /// Modify inhibit status.
    pub const MODIFY_INHIBIT: u8 = 231;
    /// Simple poll.
    pub const SIMPLE_POLL: u8 = 254;
}

/// How a frame's integrity is checked; both ends must use the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Checksum {
    /// 8-bit sum: every byte of the frame adds up to 0 modulo 256 (the default).
    #[default]
    Simple,
    /// CRC-16 (CCITT polynomial, initial value 0); catches the compensating byte
    /// errors that pass the simple sum.
    Crc16,
}

/// CRC-16 of ccTalk: polynomial 0x1021, initial value 0, most significant bit first
/// (CRC-16/XMODEM), over destination, length, header and data; the frame carries
/// the low byte in the source-address position and the high byte last (the ccTalk
/// FAQ on the 16-bit CRC; its simple-poll example is a test below).
pub fn crc16(bytes: impl IntoIterator<Item = u8>) -> u16 {
    bytes.into_iter().fold(0u16, |mut crc, b| {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// One ccTalk message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Destination address.
    pub dest: u8,
    /// Source address.
    pub src: u8,
    /// Header (command, or 0 for a reply).
    pub header: u8,
    /// Data bytes, at most 255.
    pub data: Vec<u8>,
}

/// Why bytes could not be framed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CctalkError {
    /// More than 255 data bytes cannot be expressed in the length byte.
    #[error("ccTalk frame with {0} data bytes: at most 255 fit")]
    TooLong(usize),
    /// A reply of the wrong shape for its request.
    #[error("ccTalk reply to header {header} has {got} data bytes, expected {expected}: check the acceptor address and model")]
    BadReply {
        header: u8,
        got: usize,
        expected: usize,
    },
    /// The device said NAK or BUSY.
    #[error("ccTalk device refused header {header} (reply header {reply})")]
    Refused { header: u8, reply: u8 },
}

impl Frame {
    /// A request from the host to `dest`.
    pub fn request(dest: u8, header: u8, data: &[u8]) -> Frame {
        Frame {
            dest,
            src: HOST,
            header,
            data: data.to_vec(),
        }
    }

    /// The bytes on the wire with the simple checksum last.
    pub fn encode(&self) -> Result<Vec<u8>, CctalkError> {
        self.encode_as(Checksum::Simple)
    }

    /// The bytes on the wire with `checksum` (a CRC frame leaves out `src`).
    pub fn encode_as(&self, checksum: Checksum) -> Result<Vec<u8>, CctalkError> {
        let len =
            u8::try_from(self.data.len()).map_err(|_| CctalkError::TooLong(self.data.len()))?;
        let mut out = Vec::with_capacity(self.data.len() + 5);
        out.extend_from_slice(&[self.dest, len, self.src, self.header]);
        out.extend_from_slice(&self.data);
        match checksum {
            Checksum::Simple => {
                let sum = out.iter().fold(0u8, |a, b| a.wrapping_add(*b));
                out.push(0u8.wrapping_sub(sum));
            }
            Checksum::Crc16 => {
                let [lsb, msb] = crc16(crc_bytes(&out)).to_le_bytes();
                out[2] = lsb;
                out.push(msb);
            }
        }
        Ok(out)
    }
}

/// The bytes a CRC-16 covers in a whole frame (or a frame without its last byte):
/// destination, length, header and data; not the CRC's own two bytes.
fn crc_bytes(frame: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let body_end = frame
        .len()
        .min(4 + usize::from(frame.get(1).copied().unwrap_or(0)));
    frame[..2]
        .iter()
        .chain(frame.get(3..body_end).unwrap_or_default())
        .copied()
}

/// Frame decoder with resynchronisation.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// Frames claiming more data than this are taken as garbage (a noise byte read
    /// as a length would otherwise stall the decoder for up to 260 bytes).
    pub max_data: u8,
    /// The checksum the line uses.
    pub checksum: Checksum,
}

impl Default for Decoder {
    fn default() -> Self {
        // The longest reply used here is 229's 11 bytes; 64 leaves room for others.
        Decoder {
            max_data: 64,
            checksum: Checksum::Simple,
        }
    }
}

impl Decoder {
    /// A decoder for a line that uses `checksum`.
    pub fn with_checksum(checksum: Checksum) -> Decoder {
        Decoder {
            checksum,
            ..Decoder::default()
        }
    }

    /// Whether the `total` bytes at the front of `frame` pass the checksum.
    fn valid(&self, frame: &[u8]) -> bool {
        match self.checksum {
            Checksum::Simple => frame.iter().fold(0u8, |a, b| a.wrapping_add(*b)) == 0,
            Checksum::Crc16 => {
                let Some(&msb) = frame.last() else {
                    return false;
                };
                crc16(crc_bytes(frame)) == u16::from_le_bytes([frame[2], msb])
            }
        }
    }
}

impl Decoder {
    /// Takes one frame from the front of `buf`: `Ok(None)` = need more bytes.
    /// Bytes that cannot start a valid frame are dropped one at a time, so a
    /// burst of serial noise costs at most the frame it hides.
    pub fn decode(&self, buf: &mut BytesMut) -> Option<Frame> {
        loop {
            if buf.len() < 2 {
                return None;
            }
            let len = buf[1];
            if len > self.max_data {
                buf.advance(1);
                continue;
            }
            let total = usize::from(len) + 5;
            if buf.len() < total {
                // The length may be a noise byte: if a whole valid frame already
                // starts further on, the bytes before it were garbage.
                match (1..buf.len()).find(|&i| self.complete_at(buf, i)) {
                    Some(i) => {
                        buf.advance(i);
                        continue;
                    }
                    None => return None,
                }
            }
            if !self.valid(&buf[..total]) {
                buf.advance(1);
                continue;
            }
            let frame = Frame {
                dest: buf[0],
                // A CRC frame has its CRC's low byte where the source would be.
                src: match self.checksum {
                    Checksum::Simple => buf[2],
                    Checksum::Crc16 => 0,
                },
                header: buf[3],
                data: buf[4..total - 1].to_vec(),
            };
            buf.advance(total);
            return Some(frame);
        }
    }
}

impl Decoder {
    fn complete_at(&self, buf: &[u8], i: usize) -> bool {
        let Some(&len) = buf.get(i + 1) else {
            return false;
        };
        let total = usize::from(len) + 5;
        len <= self.max_data && buf.len() >= i + total && self.valid(&buf[i..i + total])
    }
}

/// Requests used by the device task.
pub mod request {
    use super::{header, Frame};

    /// Header 254, simple poll.
    pub fn simple_poll(dest: u8) -> Frame {
        Frame::request(dest, header::SIMPLE_POLL, &[])
    }
    /// Header 229, read buffered credit or error codes.
    pub fn read_buffered_credit(dest: u8) -> Frame {
        Frame::request(dest, header::READ_BUFFERED_CREDIT, &[])
    }
    /// Header 231: `mask` bit n = coin position n+1 enabled.
    pub fn modify_inhibit(dest: u8, mask: u16) -> Frame {
        Frame::request(dest, header::MODIFY_INHIBIT, &mask.to_le_bytes())
    }
    /// Header 228: `accept` false = master inhibit (refuse every coin).
    pub fn modify_master_inhibit(dest: u8, accept: bool) -> Frame {
        Frame::request(dest, header::MODIFY_MASTER_INHIBIT, &[u8::from(accept)])
    }
    /// Header 184 for coin position `position` (1..=16).
    pub fn request_coin_id(dest: u8, position: u8) -> Frame {
        Frame::request(dest, header::REQUEST_COIN_ID, &[position])
    }
    /// Header 1, reset device.
    pub fn reset(dest: u8) -> Frame {
        Frame::request(dest, header::RESET, &[])
    }
}

/// Checks a reply is an ACK; NAK and BUSY become errors.
pub fn check_reply(reply: &Frame, request_header: u8) -> Result<(), CctalkError> {
    if reply.header == header::ACK {
        Ok(())
    } else {
        Err(CctalkError::Refused {
            header: request_header,
            reply: reply.header,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_poll_encodes_with_a_zero_sum_checksum() {
        // dest 2, 0 data bytes, src 1, header 254: 2+0+1+254 = 257 = 1 mod 256, checksum 255.
        assert_eq!(
            request::simple_poll(2).encode().unwrap(),
            vec![0x02, 0x00, 0x01, 0xFE, 0xFF]
        );
    }

    #[test]
    fn read_buffered_credit_request_matches_the_spec_example() {
        // [2, 0, 1, 229, checksum]: 2+1+229 = 232, checksum 24.
        assert_eq!(
            request::read_buffered_credit(2).encode().unwrap(),
            vec![2, 0, 1, 229, 24]
        );
    }

    #[test]
    fn inhibit_masks_are_little_endian_coin_one_first() {
        // Enable coins 1-3: mask 0b0000_0111, 0.
        let bytes = request::modify_inhibit(2, 0b111).encode().unwrap();
        assert_eq!(&bytes[..6], &[2, 2, 1, 231, 0x07, 0x00]);
        assert_eq!(bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b)), 0);
        assert_eq!(
            &request::modify_master_inhibit(2, true).encode().unwrap()[3..5],
            &[228, 1]
        );
    }

    fn reply(data: &[u8]) -> Vec<u8> {
        Frame {
            dest: HOST,
            src: 2,
            header: 0,
            data: data.to_vec(),
        }
        .encode()
        .unwrap()
    }

    #[test]
    fn partial_input_needs_more_bytes() {
        let bytes = reply(&[1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut buf = BytesMut::from(&bytes[..7]);
        assert_eq!(Decoder::default().decode(&mut buf), None);
        assert_eq!(buf.len(), 7, "nothing consumed while waiting");
        buf.extend_from_slice(&bytes[7..]);
        let frame = Decoder::default().decode(&mut buf).unwrap();
        assert_eq!(frame.data[..2], [1, 2]);
        assert!(buf.is_empty());
    }

    #[test]
    fn garbage_before_a_frame_is_skipped() {
        let mut buf = BytesMut::from(&[0x55, 0xAA, 0x13, 0x07][..]);
        buf.extend_from_slice(&reply(&[]));
        let frame = Decoder::default().decode(&mut buf).unwrap();
        assert_eq!((frame.dest, frame.src, frame.header), (HOST, 2, 0));
    }

    #[test]
    fn a_frame_with_a_bad_checksum_is_dropped_not_decoded() {
        let mut bytes = reply(&[3, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        bytes[5] ^= 0x04; // flip a bit in result A of event 1
        let mut buf = BytesMut::from(&bytes[..]);
        // Runs of zero bytes are valid broadcast frames ([0, 0, 0, 0, 0]); none may
        // look like a reply from the acceptor to the host.
        while let Some(f) = Decoder::default().decode(&mut buf) {
            assert_ne!(f.dest, HOST, "{f:?}");
        }
    }

    #[test]
    fn crc16_is_the_ccitt_polynomial_from_zero() {
        // The CRC-16/XMODEM check value: "123456789" gives 0x31C3.
        assert_eq!(crc16(*b"123456789"), 0x31C3);
        // Simple poll to address 2: CRC over [2, 0, 254]; low byte in the source slot.
        let bytes = request::simple_poll(2).encode_as(Checksum::Crc16).unwrap();
        let crc = crc16([2, 0, 254]).to_le_bytes();
        assert_eq!(bytes, vec![2, 0, crc[0], 254, crc[1]]);
        let mut buf = BytesMut::from(&bytes[..]);
        let f = Decoder::with_checksum(Checksum::Crc16)
            .decode(&mut buf)
            .unwrap();
        assert_eq!((f.dest, f.header), (2, 254));
    }

    #[test]
    fn crc16_frames_match_the_published_simple_poll_bytes() {
        // The ccTalk FAQ's CRC-16 example (CRC-CCITT, x^16 + x^12 + x^5 + 1, register
        // from 0x0000; [dest] [size] [CRC LSB] [header] [data..] [CRC MSB]): a simple
        // poll to address 40 is 40 0 182 254 33, the reply 1 0 48 0 55.
        assert_eq!(
            request::simple_poll(40).encode_as(Checksum::Crc16).unwrap(),
            vec![40, 0, 182, 254, 33]
        );
        let mut buf = BytesMut::from(&[1u8, 0, 48, 0, 55][..]);
        let f = Decoder::with_checksum(Checksum::Crc16)
            .decode(&mut buf)
            .unwrap();
        assert_eq!((f.dest, f.header, f.data.len()), (HOST, 0, 0));
        // One bit off in either CRC byte and the frame is not taken.
        for at in [2, 4] {
            let mut bytes = [1u8, 0, 48, 0, 55];
            bytes[at] ^= 1;
            let mut buf = BytesMut::from(&bytes[..]);
            let taken = Decoder::with_checksum(Checksum::Crc16).decode(&mut buf);
            assert!(
                taken.map_or(true, |f| f.dest != HOST || f.header != 0),
                "{at}"
            );
        }
    }

    #[test]
    fn compensating_byte_errors_pass_the_simple_sum_but_not_the_crc() {
        let frame = Frame {
            dest: HOST,
            src: 2,
            header: 0,
            data: vec![7, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        for checksum in [Checksum::Simple, Checksum::Crc16] {
            let mut bytes = frame.encode_as(checksum).unwrap();
            // Counter 7 -> 8 and coin 3 -> 2: the sum is unchanged.
            bytes[4] += 1;
            bytes[5] -= 1;
            let mut buf = BytesMut::from(&bytes[..]);
            let decoded = Decoder::with_checksum(checksum).decode(&mut buf);
            let passed = decoded.is_some_and(|f| f.dest == HOST && f.data.len() == 11);
            assert_eq!(passed, checksum == Checksum::Simple, "{checksum:?}");
        }
    }

    #[test]
    fn the_echo_of_our_request_decodes_as_a_frame_to_the_device() {
        let mut buf = BytesMut::from(&request::read_buffered_credit(2).encode().unwrap()[..]);
        buf.extend_from_slice(&reply(&[0; 11]));
        let d = Decoder::default();
        assert_eq!(
            d.decode(&mut buf).unwrap().dest,
            2,
            "echo: the caller drops it"
        );
        assert_eq!(d.decode(&mut buf).unwrap().dest, HOST);
    }
}
