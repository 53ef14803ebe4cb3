//! What tickets and screens say, in the customer's language: English, Filipino and
//! Indonesian (`[kiosk] language`). Only the words live here; numbers, prices and
//! dates are formatted by [`crate::labels`].
//!
//! Filipino follows how Philippine piso WiFi machines and shops write (Taglish: "code",
//! "login" and "WiFi" stay English); Indonesian follows the hotspot voucher wording
//! of Indonesian shops ("kode", "masa berlaku", "sambungkan ke WiFi").

use firmware_config::kiosk::Language;

/// Every phrase a ticket or screen shows. `{}` marks where a value goes.
#[derive(Debug, PartialEq, Eq)]
pub struct Words {
    /// Label before the login code.
    pub code: &'static str,
    /// Label before the user name, when the password differs.
    pub user: &'static str,
    /// Label before the password.
    pub password: &'static str,
    /// Large mark on a ticket printed again.
    pub reprint: &'static str,
    /// `first printed {}` under the mark.
    pub first_printed: &'static str,
    /// Under the mark when no print of it was recorded before.
    pub not_printed_before: &'static str,
    /// Step 1: `Join WiFi {}` (the network name).
    pub step_wifi: &'static str,
    /// Step 2: `Scan the QR or open {}` (the login address).
    pub step_login: &'static str,
    /// `Valid {} from first login`.
    pub valid_from_login: &'static str,
    /// `Valid {} from purchase`.
    pub valid_from_sale: &'static str,
    /// Singular and plural of day, hour, minute.
    pub day: (&'static str, &'static str),
    /// Hour.
    pub hour: (&'static str, &'static str),
    /// Minute.
    pub minute: (&'static str, &'static str),
    /// Idle screen's bottom line.
    pub insert_coin: &'static str,
    /// `Credit {}` on the idle screen.
    pub credit: &'static str,
    /// `press {}`: what a button number does.
    pub press: &'static str,
    /// `insert {} more`: what is missing for a plan.
    pub insert_more: &'static str,
    /// `{}s left` of the insert window.
    pub seconds_left: &'static str,
    /// Rates mode: `buys {}`.
    pub buys: &'static str,
    /// Rates mode: press any button to buy.
    pub press_to_buy: &'static str,
    /// Working screens.
    pub printing: &'static str,
    /// A sale is being made.
    pub issuing: &'static str,
    /// Under the working and starting screens.
    pub please_wait: &'static str,
    /// The starting screen.
    pub starting: &'static str,
    /// Voucher screen notes.
    pub take_ticket: &'static str,
    /// No ticket (printer failed).
    pub no_ticket: &'static str,
    /// No paper.
    pub no_paper: &'static str,
    /// Kiosk without a printer.
    pub scan_or_note: &'static str,
    /// The two lines of the out-of-service screen.
    pub out_of_service: (&'static str, &'static str),
    /// `credit {} kept` while out of service.
    pub credit_kept: &'static str,
}

const EN: Words = Words {
    code: "Code:",
    user: "User:",
    password: "Password:",
    reprint: "REPRINT",
    first_printed: "first printed {}",
    not_printed_before: "no earlier print recorded",
    step_wifi: "1. Join WiFi {}",
    step_login: "2. Scan QR or open {}",
    valid_from_login: "Valid {} from first login",
    valid_from_sale: "Valid {} from purchase",
    day: ("day", "days"),
    hour: ("hour", "hours"),
    minute: ("min", "min"),
    insert_coin: "Insert coin",
    credit: "Credit {}",
    press: "press {}",
    insert_more: "insert {} more",
    seconds_left: "{}s left",
    buys: "buys {}",
    press_to_buy: "press a button to buy",
    printing: "Printing",
    issuing: "Issuing",
    please_wait: "please wait",
    starting: "Starting",
    take_ticket: "Take your ticket",
    no_ticket: "No ticket: scan or note the code",
    no_paper: "No paper: scan or note the code",
    scan_or_note: "Scan or note the code",
    out_of_service: ("Out of", "service"),
    credit_kept: "credit {} kept",
};

const FIL: Words = Words {
    code: "Code:",
    user: "User:",
    password: "Password:",
    reprint: "REPRINT",
    first_printed: "unang print {}",
    not_printed_before: "walang naunang print",
    step_wifi: "1. Kumonekta sa WiFi {}",
    step_login: "2. I-scan o buksan {}",
    valid_from_login: "Valid {} mula sa unang login",
    valid_from_sale: "Valid {} mula ngayon",
    day: ("araw", "araw"),
    hour: ("oras", "oras"),
    minute: ("minuto", "minuto"),
    insert_coin: "Maghulog ng barya",
    credit: "Credit {}",
    press: "pindot {}",
    insert_more: "hulog pa {}",
    seconds_left: "{}s na lang",
    buys: "{} na",
    press_to_buy: "pumindot para bumili",
    printing: "Nagpi-print",
    issuing: "Ginagawa",
    please_wait: "sandali lang",
    starting: "Nagsisimula",
    take_ticket: "Kunin ang tiket",
    no_ticket: "Walang tiket: i-scan o isulat ang code",
    no_paper: "Walang papel: i-scan o isulat ang code",
    scan_or_note: "I-scan o isulat ang code",
    out_of_service: ("Hindi muna", "magagamit"),
    credit_kept: "naitabi ang credit {}",
};

const ID: Words = Words {
    code: "Kode:",
    user: "User:",
    password: "Sandi:",
    reprint: "CETAK ULANG",
    first_printed: "pertama dicetak {}",
    not_printed_before: "belum pernah tercetak",
    step_wifi: "1. Sambung ke WiFi {}",
    step_login: "2. Scan QR atau buka {}",
    valid_from_login: "Aktif {} sejak login pertama",
    valid_from_sale: "Aktif {} sejak dibeli",
    day: ("hari", "hari"),
    hour: ("jam", "jam"),
    minute: ("menit", "menit"),
    insert_coin: "Masukkan koin",
    credit: "Saldo {}",
    press: "tekan {}",
    insert_more: "kurang {}",
    seconds_left: "sisa {} detik",
    buys: "dapat {}",
    press_to_buy: "tekan tombol untuk beli",
    printing: "Mencetak",
    issuing: "Memproses",
    please_wait: "mohon tunggu",
    starting: "Memulai",
    take_ticket: "Ambil tiket Anda",
    no_ticket: "Tiket gagal: pindai atau catat kodenya",
    no_paper: "Kertas habis: pindai atau catat kodenya",
    scan_or_note: "Pindai atau catat kodenya",
    out_of_service: ("Sedang tidak", "melayani"),
    credit_kept: "saldo {} disimpan",
};

/// The phrases of `language`.
pub fn words(language: Language) -> &'static Words {
    match language {
        Language::En => &EN,
        Language::Fil => &FIL,
        Language::Id => &ID,
    }
}

/// `phrase` with its `{}` replaced by `value`.
pub fn fill(phrase: &str, value: &str) -> String {
    phrase.replacen("{}", value, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phrase_with_a_value_has_one_place_for_it() {
        for lang in [Language::En, Language::Fil, Language::Id] {
            let w = words(lang);
            for p in [
                w.first_printed,
                w.step_wifi,
                w.step_login,
                w.valid_from_login,
                w.valid_from_sale,
                w.credit,
                w.press,
                w.insert_more,
                w.seconds_left,
                w.buys,
                w.credit_kept,
            ] {
                assert_eq!(p.matches("{}").count(), 1, "{lang:?}: {p}");
            }
        }
        assert_eq!(fill(words(Language::Id).press, "2"), "tekan 2");
    }
}
