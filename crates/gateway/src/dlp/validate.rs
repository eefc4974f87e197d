//! The checks a regex match must pass before it counts (docs/dlp.md): checksums and the
//! numbering rules of each identifier, so digits that merely look like one do not match.

use base64::Engine;

/// A check run on a regex match's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validator {
    /// The Luhn (mod 10) checksum over the match's digits (Cloudflare One's `luhn`).
    Luhn,
    /// A payment card: 13–19 digits, an issuer's prefix and length, and the Luhn checksum.
    PaymentCard,
    /// An IBAN: its country's length and the ISO 13616 mod-97 checksum.
    Iban,
    /// A US ABA routing number: a Federal Reserve prefix and the 3-7-1 weighted checksum.
    AbaRouting,
    /// A US SSN: area not 000, 666 or 9xx, group not 00, serial not 0000.
    UsSsn,
    /// A UK National Insurance number: the prefixes HMRC never issues are refused.
    UkNino,
    /// A Canadian SIN: nine digits, a first digit in use (not 0 or 8), the Luhn checksum.
    CaSin,
    /// A JWT: three base64url parts whose first decodes to a JSON object with `alg`.
    Jwt,
    /// An OpenAI-style `sk-` key that is not an Anthropic one (that entry has its own id).
    NotAnthropicKey,
}

impl Validator {
    /// The name used in a custom profile's `pattern.validation`.
    pub fn name(self) -> &'static str {
        match self {
            Validator::Luhn => "luhn",
            Validator::PaymentCard => "payment_card",
            Validator::Iban => "iban",
            Validator::AbaRouting => "aba_routing",
            Validator::UsSsn => "us_ssn",
            Validator::UkNino => "uk_nino",
            Validator::CaSin => "ca_sin",
            Validator::Jwt => "jwt",
            Validator::NotAnthropicKey => "not_anthropic_key",
        }
    }

    /// The validators a custom profile may name.
    pub const NAMED: [Validator; 8] = [
        Validator::Luhn,
        Validator::PaymentCard,
        Validator::Iban,
        Validator::AbaRouting,
        Validator::UsSsn,
        Validator::UkNino,
        Validator::CaSin,
        Validator::Jwt,
    ];

    pub fn parse(name: &str) -> Option<Validator> {
        Validator::NAMED.into_iter().find(|v| v.name() == name)
    }

    pub fn check(self, text: &[u8]) -> bool {
        match self {
            Validator::Luhn => {
                let digits = digits(text);
                digits.len() >= 2 && luhn(&digits)
            }
            Validator::PaymentCard => payment_card(&digits(text)),
            Validator::Iban => iban(text),
            Validator::AbaRouting => aba_routing(&digits(text)),
            Validator::UsSsn => us_ssn(&digits(text)),
            Validator::UkNino => uk_nino(text),
            Validator::CaSin => {
                let digits = digits(text);
                digits.len() == 9 && !matches!(digits[0], 0 | 8) && luhn(&digits)
            }
            Validator::Jwt => jwt(text),
            Validator::NotAnthropicKey => !text.starts_with(b"sk-ant-"),
        }
    }
}

/// The decimal digits of `text`, separators dropped.
fn digits(text: &[u8]) -> Vec<u8> {
    text.iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect()
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            match i % 2 {
                1 if d * 2 > 9 => d * 2 - 9,
                1 => d * 2,
                _ => d,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The digits as a number (at most 9 digits are ever read this way).
fn number(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |n, &d| n * 10 + u32::from(d))
}

/// Issuer prefixes and lengths (Visa, Mastercard, American Express, Discover, Diners Club,
/// JCB, UnionPay): a Luhn-valid number no network issues is an order number.
fn payment_card(digits: &[u8]) -> bool {
    let len = digits.len();
    if !(13..=19).contains(&len) || !luhn(digits) {
        return false;
    }
    let prefix = |n: usize| number(&digits[..n]);
    match digits[0] {
        4 => matches!(len, 13 | 16 | 19),
        5 => (51..=55).contains(&prefix(2)) && len == 16,
        2 => (2221..=2720).contains(&prefix(4)) && len == 16,
        3 => {
            (matches!(prefix(2), 34 | 37) && len == 15)
                || ((300..=305).contains(&prefix(3)) || matches!(prefix(2), 36 | 38 | 39))
                    && (14..=19).contains(&len)
                || (3528..=3589).contains(&prefix(4)) && (16..=19).contains(&len)
        }
        6 => {
            (prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3)))
                && (16..=19).contains(&len)
                || prefix(2) == 62 && (16..=19).contains(&len)
        }
        _ => false,
    }
}

/// IBAN lengths by country (ISO 13616 registry); a country not listed is refused, since a
/// two-letter, two-digit prefix alone is too common in ordinary text.
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AT", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"CH", 21),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"EE", 20),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"SA", 24),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"TR", 26),
    (b"UA", 29),
];

fn iban(text: &[u8]) -> bool {
    let compact: Vec<u8> = text
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(u8::to_ascii_uppercase)
        .collect();
    let Some(country) = compact.get(..2) else {
        return false;
    };
    let expected = IBAN_LENGTHS
        .iter()
        .find(|(code, _)| code.as_slice() == country)
        .map(|(_, len)| *len);
    if expected != Some(compact.len()) {
        return false;
    }
    // Move the first four characters to the end, letters become 10..35, then mod 97 == 1,
    // computed digit by digit so no big number is needed.
    let mut remainder: u32 = 0;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        let value = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

fn aba_routing(digits: &[u8]) -> bool {
    if digits.len() != 9 {
        return false;
    }
    // The first two digits: Federal Reserve districts (00–12), thrifts (21–32), electronic
    // (61–72), traveller's cheques (80).
    let prefix = number(&digits[..2]);
    let district = matches!(prefix, 0..=12 | 21..=32 | 61..=72 | 80);
    let weights = [3, 7, 1, 3, 7, 1, 3, 7, 1];
    let sum: u32 = digits
        .iter()
        .zip(weights)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    district && sum.is_multiple_of(10) && number(digits) != 0
}

fn us_ssn(digits: &[u8]) -> bool {
    if digits.len() != 9 {
        return false;
    }
    let area = number(&digits[..3]);
    let group = number(&digits[3..5]);
    let serial = number(&digits[5..]);
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

fn uk_nino(text: &[u8]) -> bool {
    let compact: Vec<u8> = text
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .copied()
        .collect();
    let [first, second, ..] = compact.as_slice() else {
        return false;
    };
    let first_ok = !b"DFIQUV".contains(first);
    let second_ok = !b"DFIOQUV".contains(second);
    let prefix = [*first, *second];
    let never_issued = [b"BG", b"GB", b"KN", b"NK", b"NT", b"TN", b"ZZ"];
    compact.len() == 9 && first_ok && second_ok && !never_issued.iter().any(|p| **p == prefix)
}

fn jwt(text: &[u8]) -> bool {
    let mut parts = text.split(|b| *b == b'.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine.decode(header).ok();
    let header: Option<serde_json::Map<String, serde_json::Value>> =
        header.and_then(|bytes| serde_json::from_slice(&bytes).ok());
    header.is_some_and(|h| h.contains_key("alg")) && engine.decode(payload).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known_values() {
        assert!(Validator::Luhn.check(b"79927398713"));
        assert!(!Validator::Luhn.check(b"79927398710"));
    }

    #[test]
    fn cards_need_an_issuer() {
        assert!(Validator::PaymentCard.check(b"4111 1111 1111 1111"));
        assert!(Validator::PaymentCard.check(b"378282246310005"));
        assert!(Validator::PaymentCard.check(b"5555-5555-5555-4444"));
        assert!(Validator::PaymentCard.check(b"6011111111111117"));
        // Luhn-valid, but no network issues numbers starting with 1 or 9.
        assert!(!Validator::PaymentCard.check(b"1000000000000008"));
        assert!(!Validator::PaymentCard.check(b"4111111111111112"));
    }

    #[test]
    fn iban_checksum_and_length() {
        assert!(Validator::Iban.check(b"GB82 WEST 1234 5698 7654 32"));
        assert!(Validator::Iban.check(b"DE89370400440532013000"));
        assert!(!Validator::Iban.check(b"GB82 WEST 1234 5698 7654 33"));
        assert!(!Validator::Iban.check(b"DE8937040044053201300"));
        assert!(!Validator::Iban.check(b"XX89370400440532013000"));
    }

    #[test]
    fn aba_weights_and_prefix() {
        assert!(Validator::AbaRouting.check(b"011000015"));
        assert!(Validator::AbaRouting.check(b"021000021"));
        assert!(!Validator::AbaRouting.check(b"021000022"));
        // Checksum holds (3·9+7·1+…), but 90 is no Federal Reserve prefix.
        assert!(!Validator::AbaRouting.check(b"900000000"));
    }

    #[test]
    fn ssn_rules() {
        assert!(Validator::UsSsn.check(b"123-45-6789"));
        for bad in [
            "000-12-3456",
            "666-12-3456",
            "912-12-3456",
            "123-00-4567",
            "123-45-0000",
        ] {
            assert!(!Validator::UsSsn.check(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn nino_prefixes() {
        assert!(Validator::UkNino.check(b"AB 12 34 56 C"));
        for bad in [
            "DA123456C",
            "AO123456C",
            "GB123456A",
            "ZZ123456A",
            "QQ123456C",
        ] {
            assert!(!Validator::UkNino.check(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn sin_luhn_and_first_digit() {
        assert!(Validator::CaSin.check(b"130 692 544"));
        assert!(!Validator::CaSin.check(b"130 692 545"));
        assert!(!Validator::CaSin.check(b"000 000 000"));
        // Luhn holds, but SINs starting with 0 are never issued.
        assert!(!Validator::CaSin.check(b"046 454 286"));
    }

    #[test]
    fn jwt_header_must_be_json() {
        let good = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert!(Validator::Jwt.check(good));
        assert!(!Validator::Jwt.check(b"eyJub3Rqc29u.eyJzdWIiOiIxIn0.abcdefghijklmnop"));
        assert!(!Validator::Jwt.check(b"eyJmb28iOjF9.eyJzdWIiOiIxIn0.abcdefghijklmnop"));
    }
}
