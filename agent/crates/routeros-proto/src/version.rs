//! The RouterOS version a router reports, and what the protocol does differently by version.

use serde::Serialize;

/// A RouterOS version: `6.49.10`, `7.18`, `7.1beta4 (development)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RouterVersion {
    /// Major version (6 or 7).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch level (0 when absent).
    pub patch: u32,
}

impl RouterVersion {
    /// Parses the `version` property; the channel in parentheses and beta/rc suffixes are ignored.
    pub fn parse(text: &str) -> Option<RouterVersion> {
        let number = text.split_whitespace().next()?;
        let mut parts = number.split('.').map(|p| {
            let digits: String = p.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse::<u32>().ok()
        });
        let major = parts.next()??;
        let minor = parts.next().flatten().unwrap_or(0);
        let patch = parts.next().flatten().unwrap_or(0);
        Some(RouterVersion {
            major,
            minor,
            patch,
        })
    }

    /// `!empty` replies exist from 7.18.
    pub fn sends_empty(&self) -> bool {
        (self.major, self.minor) >= (7, 18)
    }

    /// REST exists from 7.1.
    pub fn has_rest(&self) -> bool {
        self.major >= 7
    }
}

impl std::fmt::Display for RouterVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_with_channels_and_betas() {
        assert_eq!(
            RouterVersion::parse("7.1beta4 (development)"),
            Some(RouterVersion {
                major: 7,
                minor: 1,
                patch: 0
            })
        );
        let v = RouterVersion::parse("7.18 (stable)").unwrap();
        assert!(v.sends_empty() && v.has_rest());
        let v = RouterVersion::parse("6.49.10").unwrap();
        assert!(!v.has_rest() && v.patch == 10);
        assert_eq!(RouterVersion::parse("junk"), None);
    }
}
