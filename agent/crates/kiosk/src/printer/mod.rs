//! Thermal ticket printer: the ticket's content and layout, ESC/POS bytes, the
//! printer task, and a PNG preview of the paper.

pub mod device;
pub mod escpos;
pub mod render;
pub mod sheet;

use std::time::Duration;

use firmware_config::Secret;

use super::labels::{self, Money};
use super::words::{fill, Words};
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

/// Everything printed on a ticket, already formatted in the customer's language.
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
    /// `1 hour, 2 GB`: what the voucher allows.
    pub limits: String,
    /// `Valid 1 day from first login`.
    pub valid: Option<String>,
    /// `₱5`.
    pub price: String,
    /// `2026-11-22 11:23`, in the kiosk's time zone.
    pub sold_at: String,
    /// The WiFi network name customers join; empty = not printed.
    pub wifi_name: String,
    /// `hotspot.lan`: the address customers type.
    pub login_address: String,
    /// The QR payload.
    pub login_url: String,
    /// `Some(line under the REPRINT mark)` on a ticket printed again for the same sale.
    pub reprint_of: Option<String>,
    /// The phrases of the ticket's language.
    pub words: &'static Words,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("code", &self.code)
            .field("plan_name", &self.plan_name)
            .finish_non_exhaustive()
    }
}

/// How this kiosk's tickets read: its name, WiFi, language, money and clock.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketLook {
    /// `[agent] site_name`.
    pub site_name: String,
    /// `[kiosk] wifi_name`.
    pub wifi_name: String,
    /// `[kiosk] language`.
    pub words: &'static Words,
    /// `[vouchers] currency`.
    pub money: Money,
    /// The kiosk's time zone.
    pub clock: labels::Clock,
}

impl TicketLook {
    /// From a validated configuration; dates in the system's zone unless
    /// `[kiosk] utc_offset` is written.
    pub fn from_config(c: &firmware_config::Config) -> TicketLook {
        TicketLook {
            site_name: c.agent.site_name.clone(),
            wifi_name: c.kiosk.wifi_name.clone(),
            words: crate::words::words(c.kiosk.language),
            money: Money {
                currency: c.vouchers.currency.clone(),
                decimals: c.vouchers.currency_decimals,
            },
            clock: labels::Clock::from_config(&c.kiosk.utc_offset),
        }
    }
}

impl Ticket {
    /// The ticket for a sold voucher.
    pub fn for_voucher(v: &SaleReceipt, look: &TicketLook) -> Ticket {
        let w = look.words;
        let mut limits = Vec::new();
        if let Some(t) = v.time_limit {
            limits.push(labels::time_words(t, w));
        }
        if let Some(d) = v.data_limit {
            limits.push(labels::data_size(d));
        }
        let valid = v.validity.map(|t| {
            let phrase = if v.validity_from_sale {
                w.valid_from_sale
            } else {
                w.valid_from_login
            };
            fill(phrase, &labels::time_words(t, w))
        });
        Ticket {
            site_name: look.site_name.clone(),
            code: v.code.clone(),
            password: (v.password.expose() != v.code).then(|| v.password.clone()),
            plan_name: v.plan_name.clone(),
            limits: limits.join(", "),
            valid,
            price: look.money.show(v.price),
            sold_at: look.clock.date_time(v.sold_at),
            wifi_name: look.wifi_name.clone(),
            login_address: v
                .login_address
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string(),
            login_url: v.login_url.clone(),
            reprint_of: v
                .first_printed
                .map(|t| fill(w.first_printed, &look.clock.date_time(t))),
            words: w,
        }
    }

    /// Marks the ticket as a copy: under `REPRINT`, when the first print was (if known).
    pub fn mark_reprint(&mut self, first_printed: Option<&str>) {
        self.reprint_of = Some(match first_printed {
            Some(at) => fill(self.words.first_printed, at),
            None => self.words.not_printed_before.to_string(),
        });
    }

    /// `1 hour - ₱5`: the plan and what it cost.
    pub fn headline(&self) -> String {
        format!("{} - {}", self.plan_name, self.price)
    }

    /// The login steps: join the WiFi (when its name is set), then scan or open.
    pub fn steps(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.wifi_name.is_empty() {
            out.push(fill(self.words.step_wifi, &self.wifi_name));
        }
        out.push(fill(self.words.step_login, &self.login_address));
        out
    }

    /// The text blocks of the ticket, top to bottom; the QR code goes after `qr_after`
    /// blocks. Lines longer than `cols` characters are wrapped (plain ones) or cut.
    pub fn blocks(&self, cols: usize) -> (Vec<Block>, usize) {
        let w = self.words;
        let mut b = vec![Block::new(&self.site_name, Style::Heading)];
        if let Some(first) = &self.reprint_of {
            // A copy must never pass for the original, or for a new sale.
            b.push(Block::new(w.reprint, Style::Heading));
            b.push(Block::new(first, Style::Centered));
        }
        b.push(Block::new(&self.headline(), Style::Centered));
        let qr_after = b.len();
        match &self.password {
            Some(p) => {
                b.push(Block::new(
                    &format!("{} {}", w.user, self.code),
                    Style::Bold,
                ));
                b.push(Block::new(
                    &format!("{} {}", w.password, p.expose()),
                    Style::Bold,
                ));
            }
            None => {
                let labelled = format!("{} {}", w.code, self.code);
                let text = if labelled.chars().count() <= cols / 2 {
                    labelled
                } else {
                    self.code.clone()
                };
                b.push(Block::new(&text, Style::Code));
            }
        }
        let mut plain = self.steps();
        plain.extend(self.valid.iter().cloned());
        let tail = if self.limits.is_empty() {
            self.sold_at.clone()
        } else {
            format!("{} / {}", self.limits, self.sold_at)
        };
        plain.push(tail);
        for text in plain {
            for line in labels::wrap(&text, cols) {
                b.push(Block::new(&line, Style::Plain));
            }
        }
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
    /// Centred, bold.
    Bold,
    /// Centred, bold, double height and width.
    Heading,
    /// Centred, bold, double height and width: the code the customer types.
    Code,
}

/// Characters a thermal printer's default code page prints as themselves:
/// printable ASCII. Currency signs outside it are written as their ASCII forms
/// (`₱5` as `P5`, as Philippine shops also write it); anything else becomes `?`.
pub fn printable(text: &str) -> String {
    printable_marked(text).0
}

/// [`printable`], and the character positions in it where a `₱` stood: the
/// printer draws its own peso sign there ([`escpos::PESO`]), the PNG preview and
/// the display cross the `P` twice.
pub fn printable_marked(text: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut pesos = Vec::new();
    for c in text.chars() {
        match c {
            ' '..='~' => out.push(c),
            '\u{20b1}' => {
                pesos.push(out.chars().count());
                out.push('P');
            }
            '\u{20ac}' => out.push_str("EUR"),
            '\u{a3}' => out.push_str("GBP"),
            '\u{20b9}' => out.push_str("Rs"),
            '\u{e3f}' => out.push('B'),
            '\u{20ab}' => out.push('d'),
            _ => out.push('?'),
        }
    }
    (out, pesos)
}

/// Crosses the `P` of each peso sign in a line drawn at (`x`, `y`) in cells
/// `cell_w` x `cell_h` pixels: two strokes through the bowl, as the sign is written.
pub fn cross_pesos(
    c: &mut crate::canvas::Canvas,
    pesos: &[usize],
    x: u32,
    y: u32,
    cell_w: u32,
    cell_h: u32,
) {
    let thick = (cell_h / 20).max(1);
    for &i in pesos {
        let left = x + i as u32 * cell_w;
        for row in [cell_h * 3 / 10, cell_h * 9 / 20] {
            for dy in 0..thick {
                for dx in 0..cell_w.saturating_sub(1) {
                    c.set(left + dx, y + row + dy, true);
                }
            }
        }
    }
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
        validity_from_sale: false,
        login_url: login_url("hotspot.lan", code, password),
        login_address: "http://hotspot.lan".into(),
    }
}

/// A ticket look for tests and the simulators: Manila time, pesos, `Cafe WiFi`.
pub fn sample_look(language: firmware_config::kiosk::Language) -> TicketLook {
    TicketLook {
        site_name: "Cafe".into(),
        wifi_name: "Cafe WiFi".into(),
        words: crate::words::words(language),
        money: Money::default(),
        clock: labels::Clock::fixed(8 * 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firmware_config::kiosk::Language;

    fn texts(t: &Ticket) -> Vec<String> {
        t.blocks(32).0.into_iter().map(|b| b.text).collect()
    }

    #[test]
    fn login_urls_percent_encode_the_query_values() {
        assert_eq!(
            login_url("hotspot.lan", "AB 12", "p&s=x"),
            "http://hotspot.lan/login?username=AB%2012&password=p%26s%3Dx"
        );
    }

    #[test]
    fn the_password_is_printed_only_when_it_differs_from_the_code() {
        let look = sample_look(Language::En);
        let same = Ticket::for_voucher(&sample_voucher("KX7M4TRA", "KX7M4TRA"), &look);
        assert!(same.password.is_none());
        assert!(
            texts(&same).contains(&"Code: KX7M4TRA".to_string()),
            "{:?}",
            texts(&same)
        );
        let separate = Ticket::for_voucher(&sample_voucher("KX7M4TRA", "493817"), &look);
        assert!(texts(&separate).contains(&"Password: 493817".to_string()));
    }

    #[test]
    fn a_first_time_customer_reads_the_wifi_the_steps_and_the_validity() {
        let t = Ticket::for_voucher(&sample_voucher("C", "C"), &sample_look(Language::En));
        let lines = texts(&t);
        for want in [
            "1 hour - \u{20b1}5",
            "1. Join WiFi Cafe WiFi",
            "2. Scan QR or open hotspot.lan",
            "Valid 1 day from first login",
            // 1795000000 = 2026-11-18 11:06:40 UTC (date -u -d @1795000000); +08:00 = 19:06.
            "1 hour, 2 GB / 2026-11-18 19:06",
        ] {
            assert!(
                lines.contains(&want.to_string()),
                "{want:?} not in {lines:?}"
            );
        }
        let fil = texts(&Ticket::for_voucher(
            &sample_voucher("C", "C"),
            &sample_look(Language::Fil),
        ));
        assert!(
            fil.contains(&"Valid 1 araw mula sa unang login".to_string()),
            "{fil:?}"
        );
        let id = texts(&Ticket::for_voucher(
            &sample_voucher("C", "C"),
            &sample_look(Language::Id),
        ));
        assert!(
            id.contains(&"Aktif 1 hari sejak login pertama".to_string()),
            "{id:?}"
        );
        assert!(
            id.contains(&"1. Sambung ke WiFi Cafe WiFi".to_string()),
            "{id:?}"
        );
    }

    #[test]
    fn a_reprint_says_so_with_the_first_print_time() {
        let mut v = sample_voucher("C", "C");
        v.first_printed = Some(v.sold_at);
        let t = Ticket::for_voucher(&v, &sample_look(Language::En));
        let lines = texts(&t);
        assert_eq!(lines[1], "REPRINT");
        assert_eq!(lines[2], "first printed 2026-11-18 19:06");
        let mut never = Ticket::for_voucher(&sample_voucher("C", "C"), &sample_look(Language::Id));
        never.mark_reprint(None);
        assert_eq!(texts(&never)[1], "CETAK ULANG");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let t = Ticket::for_voucher(&sample_voucher("C", "secret99"), &sample_look(Language::En));
        assert!(!format!("{t:?}").contains("secret99"));
        assert!(!format!("{:?}", sample_voucher("C", "secret99")).contains("secret99"));
    }

    #[test]
    fn currency_signs_print_as_their_ascii_forms_and_the_rest_as_question_marks() {
        assert_eq!(printable("Caf\u{e9} \u{20b1}5"), "Caf? P5");
        assert_eq!(printable_marked("\u{20b1}5 / \u{20b1}20").1, vec![0, 5]);
        assert_eq!(printable("Rp2.000"), "Rp2.000");
    }
}
