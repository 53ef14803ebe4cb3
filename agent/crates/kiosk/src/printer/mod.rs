//! Thermal ticket printer: the ticket's content and layout, ESC/POS bytes, the
//! printer task, and a PNG preview of the paper.

pub mod device;
pub mod escpos;
pub mod render;

use std::time::Duration;

use firmware_config::Secret;

use super::labels::{self, Money};
use super::SaleReceipt;

/// Paper roll width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    /// 58 mm: 32 characters of font A, 384 dots.
    Mm58,
    /// 80 mm: 48 characters of font A, 576 dots.
    Mm80,
}

impl Paper {
    /// From `[kiosk.printer] paper_mm` (validated to 58 or 80).
    pub fn from_mm(mm: u32) -> Paper {
        if mm >= 80 {
            Paper::Mm80
        } else {
            Paper::Mm58
        }
    }

    /// Characters per line in font A (12x24).
    pub fn chars(self) -> usize {
        match self {
            Paper::Mm58 => 32,
            Paper::Mm80 => 48,
        }
    }

    /// Printable dots per line (203 dpi heads).
    pub fn dots(self) -> u32 {
        match self {
            Paper::Mm58 => 384,
            Paper::Mm80 => 576,
        }
    }
}

/// Everything printed on a ticket, already formatted.
#[derive(Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Site name, the heading.
    pub site_name: String,
    /// Login code.
    pub code: String,
    /// Password, only when it differs from the code.
    pub password: Option<Secret>,
    /// Plan name.
    pub plan_name: String,
    /// `Time: 1h`, `Data: 2 GB`, `Valid: 1d` lines.
    pub limits: Vec<String>,
    /// `PHP 5`.
    pub price: String,
    /// `2026-11-22 11:23`.
    pub sold_at: String,
    /// `http://hotspot.lan`.
    pub login_address: String,
    /// The QR payload.
    pub login_url: String,
    /// `Some(time of the first print)` on a ticket printed again for the same sale.
    pub reprint_of: Option<String>,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("code", &self.code)
            .field("plan_name", &self.plan_name)
            .finish_non_exhaustive()
    }
}

impl Ticket {
    /// The ticket for a sold voucher.
    pub fn for_voucher(
        v: &SaleReceipt,
        site_name: &str,
        money: &Money,
        utc_offset_minutes: i32,
    ) -> Ticket {
        let mut limits = Vec::new();
        if let Some(t) = v.time_limit {
            limits.push(format!("Time: {}", labels::time_span(t)));
        }
        if let Some(d) = v.data_limit {
            limits.push(format!("Data: {}", labels::data_size(d)));
        }
        if let Some(t) = v.validity {
            limits.push(format!("Valid for: {}", labels::time_span(t)));
        }
        Ticket {
            site_name: site_name.to_string(),
            code: v.code.clone(),
            password: (v.password.expose() != v.code).then(|| v.password.clone()),
            plan_name: v.plan_name.clone(),
            limits,
            price: money.show(v.price),
            sold_at: labels::date_time(v.sold_at, utc_offset_minutes),
            login_address: v.login_address.clone(),
            login_url: v.login_url.clone(),
            reprint_of: v
                .first_printed
                .map(|t| labels::date_time(t, utc_offset_minutes)),
        }
    }

    /// The text blocks of the ticket, top to bottom; the QR code goes after `qr_after` blocks.
    pub fn blocks(&self) -> (Vec<Block>, usize) {
        let mut b = vec![
            Block::new(&self.site_name, Style::Heading),
            Block::new(&self.plan_name, Style::Centered),
            Block::new("", Style::Plain),
        ];
        if let Some(first) = &self.reprint_of {
            // A copy must never pass for the original, or for a new sale.
            b.insert(1, Block::new("REPRINT", Style::Heading));
            b.insert(
                2,
                Block::new(&format!("first printed {first}"), Style::Centered),
            );
        }
        if let Some(p) = &self.password {
            b.push(Block::new("User:", Style::Centered));
            b.push(Block::new(&self.code, Style::Code));
            b.push(Block::new("Password:", Style::Centered));
            b.push(Block::new(p.expose(), Style::Code));
        } else {
            b.push(Block::new("Code:", Style::Centered));
            b.push(Block::new(&self.code, Style::Code));
        }
        b.push(Block::new("", Style::Plain));
        let qr_after = b.len();
        b.push(Block::new("Scan, or open:", Style::Centered));
        b.push(Block::new(&self.login_address, Style::Centered));
        b.push(Block::new("", Style::Plain));
        for l in &self.limits {
            b.push(Block::new(l, Style::Plain));
        }
        b.push(Block::new(&format!("Price: {}", self.price), Style::Plain));
        b.push(Block::new(&self.sold_at, Style::Plain));
        (b, qr_after)
    }
}

/// One line of the ticket and how it looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Text (ASCII after sanitising).
    pub text: String,
    /// Look.
    pub style: Style,
}

impl Block {
    fn new(text: &str, style: Style) -> Block {
        Block {
            text: text.to_string(),
            style,
        }
    }
}

/// Looks a ticket line can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Left, normal.
    Plain,
    /// Centred, normal.
    Centered,
    /// Centred, bold, double height and width.
    Heading,
    /// Centred, bold, double height and width: the code the customer types.
    Code,
}

/// Characters a thermal printer's default code page prints as themselves:
/// printable ASCII; anything else becomes `?`.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

/// `http://<dns_name>/login?username=..&password=..`, query values percent-encoded
/// (RFC 3986 unreserved characters stay as they are).
pub fn login_url(dns_name: &str, username: &str, password: &str) -> String {
    format!(
        "http://{}/login?username={}&password={}",
        dns_name,
        percent_encode(username),
        percent_encode(password)
    )
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A sold voucher for tests and the simulators.
pub fn sample_voucher(code: &str, password: &str) -> SaleReceipt {
    SaleReceipt {
        sale_id: "sale-1".into(),
        code: code.into(),
        password: Secret::new(password),
        plan_name: "1 hour".into(),
        time_limit: Some(Duration::from_secs(3600)),
        data_limit: Some(2 << 30),
        validity: Some(Duration::from_secs(86_400)),
        price: 5,
        sold_at: std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000),
        first_printed: None,
        login_url: login_url("hotspot.lan", code, password),
        login_address: "http://hotspot.lan".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_urls_percent_encode_the_query_values() {
        assert_eq!(
            login_url("hotspot.lan", "AB 12", "p&s=x"),
            "http://hotspot.lan/login?username=AB%2012&password=p%26s%3Dx"
        );
    }

    #[test]
    fn the_password_is_printed_only_when_it_differs_from_the_code() {
        let same = Ticket::for_voucher(
            &sample_voucher("KX7M4TRA", "KX7M4TRA"),
            "Cafe",
            &Money::default(),
            0,
        );
        assert!(same.password.is_none());
        let texts: Vec<String> = same.blocks().0.into_iter().map(|b| b.text).collect();
        assert!(texts.contains(&"Code:".to_string()), "{texts:?}");
        let separate = Ticket::for_voucher(
            &sample_voucher("KX7M4TRA", "493817"),
            "Cafe",
            &Money::default(),
            0,
        );
        let texts: Vec<String> = separate.blocks().0.into_iter().map(|b| b.text).collect();
        assert!(texts.contains(&"493817".to_string()), "{texts:?}");
    }

    #[test]
    fn ticket_lists_limits_price_and_local_date() {
        let t = Ticket::for_voucher(&sample_voucher("C", "C"), "Cafe", &Money::default(), 480);
        assert_eq!(t.limits, vec!["Time: 1h", "Data: 2 GB", "Valid for: 1d"]);
        assert_eq!(t.price, "PHP 5");
        // 1795000000 = 2026-11-18 11:06:40 UTC (date -u -d @1795000000); +08:00 = 19:06.
        assert_eq!(t.sold_at, "2026-11-18 19:06");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let t = Ticket::for_voucher(
            &sample_voucher("C", "secret99"),
            "Cafe",
            &Money::default(),
            0,
        );
        assert!(!format!("{t:?}").contains("secret99"));
        assert!(!format!("{:?}", sample_voucher("C", "secret99")).contains("secret99"));
    }

    #[test]
    fn non_ascii_text_prints_as_question_marks() {
        assert_eq!(printable("Caf\u{e9} \u{20b1}5"), "Caf? ?5");
    }
}
