//! Who is at the acceptor's address: the identification headers read at start
//! (254, 245, 246, 244, 242, 4) and the coin id (184) of every configured
//! channel, compared with `[kiosk.coin] channel_values`. Pure: replies in, a
//! verdict per channel out; the device task does the asking.
//!
//! Coin ids are 6 ASCII characters `CCVVVI`: country, three value characters,
//! issue letter (e.g. `EU100A` for one euro, `GB010A` for ten pence; ccTalk
//! Generic Specification part 3, appendix 3 "Coin types and coin values").

use std::fmt;

/// What the acceptor said about itself; `None` where it did not answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptorInfo {
    /// ccTalk address.
    pub address: u8,
    /// Header 245, e.g. "Coin Acceptor".
    pub category: Option<String>,
    /// Header 246.
    pub manufacturer: Option<String>,
    /// Header 244.
    pub product: Option<String>,
    /// Header 242, 3 bytes least significant first.
    pub serial: Option<u32>,
    /// Header 4: release, major, minor.
    pub comms_revision: Option<[u8; 3]>,
    /// One row per configured channel.
    pub channels: Vec<ChannelCheck>,
}

/// A configured channel and what the acceptor reports for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelCheck {
    /// Credit channel (coin position) 1..=16.
    pub channel: u8,
    /// Configured credit.
    pub value: u64,
    /// Configured coin id, if any.
    pub expected: Option<String>,
    /// Header 184's answer (`None`: no answer).
    pub reported: Option<String>,
    /// Whether the channel may be enabled.
    pub verdict: Verdict,
}

/// Whether a channel's coin id fits its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The id fits: the channel is enabled.
    Matches,
    /// The id does not fit (or no coin is programmed there): the channel stays inhibited.
    Mismatch,
    /// The acceptor does not answer header 184: enabled, with a warning.
    Unverified,
}

impl AcceptorInfo {
    /// Whether the device says it is a coin acceptor (an unanswered 245 is not a no).
    pub fn is_coin_acceptor(&self) -> bool {
        self.category
            .as_deref()
            .is_none_or(|c| c.to_ascii_lowercase().contains("coin"))
    }

    /// Names this acceptor for the stored event counter: a counter belongs to one
    /// device, and a swapped acceptor must not resume another's count.
    pub fn key(&self) -> String {
        match self.serial {
            Some(s) => format!("cctalk:{}:serial:{s}", self.address),
            None => format!("cctalk:{}", self.address),
        }
    }

    /// Channel enable mask (231): matching and unverified channels only.
    pub fn enable_mask(&self) -> u16 {
        self.channels
            .iter()
            .filter(|c| c.verdict != Verdict::Mismatch && (1..=16).contains(&c.channel))
            .fold(0u16, |m, c| m | 1 << (c.channel - 1))
    }
}

impl fmt::Display for AcceptorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        writeln!(
            f,
            "ccTalk address {}: {} / {} / {}, serial {}, comms revision {}",
            self.address,
            or_dash(&self.category),
            or_dash(&self.manufacturer),
            or_dash(&self.product),
            self.serial.map_or("-".into(), |s| s.to_string()),
            self.comms_revision
                .map_or("-".into(), |[r, a, b]| format!("{r}.{a}.{b}")),
        )?;
        writeln!(f, "channel  value  coin id  expected  state")?;
        for c in &self.channels {
            let state = match c.verdict {
                Verdict::Matches => "enabled",
                Verdict::Mismatch => "REFUSED: id does not match",
                Verdict::Unverified => "enabled, not verified (no coin id)",
            };
            writeln!(
                f,
                "{:>7}  {:>5}  {:<7}  {:<8}  {state}",
                c.channel,
                c.value,
                or_dash(&c.reported),
                c.expected
                    .clone()
                    .unwrap_or_else(|| format!("{:03}", c.value)),
            )?;
        }
        Ok(())
    }
}

/// An ASCII reply as text; control bytes and padding trimmed.
pub fn ascii(data: &[u8]) -> String {
    data.iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Header 242's three bytes, least significant first.
pub fn serial(data: &[u8]) -> Option<u32> {
    match data {
        [a, b, c] => Some(u32::from_le_bytes([*a, *b, *c, 0])),
        _ => None,
    }
}

/// Judges one channel: `expected` (configured id) compares country and value,
/// not the issue letter; without it the three value characters must read as
/// `value`. An empty position ("......" or blanks) never matches.
pub fn check_channel(value: u64, expected: Option<&str>, reported: Option<&str>) -> Verdict {
    let Some(id) = reported else {
        return Verdict::Unverified;
    };
    let id = id.as_bytes();
    if id.len() != 6 || !id[..5].iter().all(u8::is_ascii_alphanumeric) {
        return Verdict::Mismatch;
    }
    let fits = match expected {
        Some(e) => e.len() == 6 && e.as_bytes()[..5].eq_ignore_ascii_case(&id[..5]),
        None => {
            std::str::from_utf8(&id[2..5])
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                == Some(value)
        }
    };
    if fits {
        Verdict::Matches
    } else {
        Verdict::Mismatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coin_id_is_judged_by_country_and_value_not_issue() {
        assert_eq!(check_channel(5, None, Some("PH005A")), Verdict::Matches);
        assert_eq!(check_channel(5, None, Some("PH005B")), Verdict::Matches);
        // The vendo-board fault: channel set to 100, acceptor programmed with a 5.
        assert_eq!(check_channel(100, None, Some("PH005A")), Verdict::Mismatch);
        assert_eq!(
            check_channel(100, Some("PH005A"), Some("ph005c")),
            Verdict::Matches,
            "a configured id overrides the value rule"
        );
        assert_eq!(
            check_channel(5, Some("EU005A"), Some("PH005A")),
            Verdict::Mismatch
        );
        assert_eq!(
            check_channel(5, None, Some("......")),
            Verdict::Mismatch,
            "empty position"
        );
        assert_eq!(check_channel(5, None, None), Verdict::Unverified);
    }

    #[test]
    fn the_mask_leaves_out_refused_channels_and_the_key_names_the_serial() {
        let row = |channel, verdict| ChannelCheck {
            channel,
            value: 1,
            expected: None,
            reported: None,
            verdict,
        };
        let info = AcceptorInfo {
            address: 2,
            serial: serial(&[0x40, 0xE2, 0x01]),
            channels: vec![
                row(1, Verdict::Matches),
                row(2, Verdict::Mismatch),
                row(3, Verdict::Unverified),
            ],
            ..AcceptorInfo::default()
        };
        assert_eq!(info.enable_mask(), 0b101);
        assert_eq!(info.key(), "cctalk:2:serial:123456");
        let table = info.to_string();
        assert!(table.contains("REFUSED"), "{table}");
    }
}
