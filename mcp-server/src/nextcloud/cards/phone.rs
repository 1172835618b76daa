//! Phone numbers compared by their digits, for the phone search.

/// A phone number reduced to its digits: formatting (spaces, dashes, dots, slashes,
/// parentheses, a `tel:` prefix) dropped, and an international prefix (`+` or `00`) noted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneDigits {
    pub international: bool,
    pub digits: String,
}

impl PhoneDigits {
    pub fn of(number: &str) -> Self {
        let number = number.trim();
        let number = number.strip_prefix("tel:").unwrap_or(number).trim_start();
        let international = number.starts_with('+') || number.starts_with("00");
        // `+49 (0)170 …`: the trunk 0 in parentheses is not dialled from abroad.
        let number = if international {
            number.replacen("(0)", "", 1)
        } else {
            number.to_owned()
        };
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        if number.starts_with('+') {
            Self {
                international: true,
                digits,
            }
        } else if let Some(rest) = digits.strip_prefix("00") {
            Self {
                international: true,
                digits: rest.to_owned(),
            }
        } else {
            Self {
                international: false,
                digits,
            }
        }
    }

    /// The national number without its trunk prefix `0` (`0170…` → `170…`), for numbers
    /// written nationally.
    fn without_trunk(&self) -> Option<&str> {
        (!self.international)
            .then(|| self.digits.strip_prefix('0'))
            .flatten()
            .filter(|d| !d.starts_with('0'))
    }
}

/// Least digits a phone search needs (fewer would match almost every number).
pub const PHONE_MIN_DIGITS: usize = 3;

/// Whether the stored `number` matches the searched `query`: their digits are compared with
/// formatting ignored (also a `(0)` after a country code), and a number written internationally (`+49 170 1234567`,
/// `0049 170 1234567`) matches its national form with the trunk prefix 0 (`0170 1234567`) with
/// a country code of one to three digits in between. Part of a number (at least
/// [`PHONE_MIN_DIGITS`] digits) finds the numbers containing it.
pub fn phone_matches(query: &str, number: &str) -> bool {
    let q = PhoneDigits::of(query);
    let n = PhoneDigits::of(number);
    if q.digits.len() < PHONE_MIN_DIGITS || n.digits.is_empty() {
        return false;
    }
    if n.digits.contains(&q.digits) {
        return true;
    }
    // A national query, an international number: the query after the trunk 0 follows the
    // country code.
    if let Some(national) = q.without_trunk() {
        if n.international && national.len() >= PHONE_MIN_DIGITS {
            return (1..=3).any(|cc| n.digits.get(cc..).is_some_and(|r| r.starts_with(national)));
        }
    }
    // An international query, a national number: the query after its country code is the
    // number after its trunk 0 (or the start of it); a national number without a trunk 0
    // (North America) must give at least 7 digits after the country code.
    if q.international && !n.international {
        let (national, least) = match n.without_trunk() {
            Some(national) => (national, PHONE_MIN_DIGITS),
            None => (n.digits.as_str(), 7),
        };
        return (1..=3).any(|cc| {
            q.digits
                .get(cc..)
                .is_some_and(|r| r.len() >= least && national.starts_with(r))
        });
    }
    false
}
