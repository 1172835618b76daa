//! Birthday and anniversary dates: as a model gives and reads them, and as each vCard version
//! writes them.

use crate::nextcloud::vobject::Property;

/// A date of a contact as given by a model: `YYYY-MM-DD`, or `--MM-DD` without a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactDate {
    pub year: Option<i32>,
    pub month: u32,
    pub day: u32,
}

impl ContactDate {
    /// Parses `YYYY-MM-DD`, `YYYYMMDD`, `--MM-DD` or `--MMDD`; the day must exist (29 February
    /// without a year is allowed).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad =
            || format!("\"{text}\" is not a date: write YYYY-MM-DD, or --MM-DD without a year");
        let (year, rest) = match text.strip_prefix("--") {
            Some(rest) => (None, rest.to_owned()),
            None => {
                let digits: String = text.chars().filter(|c| *c != '-').collect();
                if digits.len() != 8 || !text.chars().all(|c| c.is_ascii_digit() || c == '-') {
                    return Err(bad());
                }
                let year = digits[..4].parse::<i32>().map_err(|_| bad())?;
                (Some(year), digits[4..].to_owned())
            }
        };
        let rest: String = rest.chars().filter(|c| *c != '-').collect();
        if rest.len() != 4 || !rest.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let month = rest[..2].parse::<u32>().map_err(|_| bad())?;
        let day = rest[2..].parse::<u32>().map_err(|_| bad())?;
        // A year-less date is checked in a leap year so that 29 February is allowed.
        chrono::NaiveDate::from_ymd_opt(year.unwrap_or(2000), month, day).ok_or_else(bad)?;
        if year.is_some_and(|y| y < 1) {
            return Err(bad());
        }
        Ok(Self { year, month, day })
    }
}

/// Whether a stored date value is in ISO 8601 extended form (`1985-04-15`, `--04-15`).
fn extended_form(value: &str) -> bool {
    let value = value.trim();
    value.len() >= 5
        && (value.as_bytes()[4] == b'-' || (value.starts_with("--") && value.len() == 7))
}

/// The property `name` saying `date`, in the card's version: vCard 4.0 `19850415` / `--0415`
/// (RFC 6350 basic form, as DAVx5 and Thunderbird write; the extended form when the property
/// already used it), vCard 3.0 `1985-04-15`, and without a year Apple's
/// `X-APPLE-OMIT-YEAR=1604` + `1604-MM-DD` (vCard 3.0 has no year-less date; sabre's conversion
/// and Nextcloud's birthday calendar use the same). An existing property keeps its group and
/// other parameters.
pub(super) fn date_property(
    old: Option<&Property>,
    name: &str,
    date: ContactDate,
    v4: bool,
) -> Property {
    let extended = old.map_or(!v4, |p| extended_form(&p.value));
    let mut property = old.cloned().unwrap_or_else(|| Property::new(name, ""));
    // A rewritten line keeps the name's spelling (Apple's `item3.X-ABDATE`).
    if let Some(written) = old.and_then(Property::name_as_written) {
        property.name = written.to_owned();
    }
    let (month, day) = (date.month, date.day);
    let (value, omit) = match (date.year, v4) {
        (Some(y), _) if extended => (format!("{y:04}-{month:02}-{day:02}"), None),
        (Some(y), _) => (format!("{y:04}{month:02}{day:02}"), None),
        (None, true) if extended => (format!("--{month:02}-{day:02}"), None),
        (None, true) => (format!("--{month:02}{day:02}"), None),
        (None, false) if extended => (format!("1604-{month:02}-{day:02}"), Some("1604")),
        (None, false) => (format!("1604{month:02}{day:02}"), Some("1604")),
    };
    property.value = value;
    if omit.is_some() || property.param("X-APPLE-OMIT-YEAR").is_some() {
        property.set_param("X-APPLE-OMIT-YEAR", omit);
    }
    match old {
        // The same date: the line stays as it is.
        Some(old) if old.value == property.value && old.params == property.params => old.clone(),
        _ => property,
    }
}

/// A birthday (or anniversary) as a model reads it: `1985-04-15`, or `--04-15` without a year.
/// vCard 4.0 writes a year-less date as `--0415`; vCard 3.0 has none, and Apple (and sabre's
/// 4.0 → 3.0 conversion) write year 1604 with `X-APPLE-OMIT-YEAR=1604` instead.
pub fn birthday_of(property: &Property) -> Option<String> {
    let value = property.value.trim();
    if value.is_empty() {
        return None;
    }
    if let Some(rest) = value.strip_prefix("--") {
        let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
        return Some(if digits.len() == 4 {
            format!("--{}-{}", &digits[..2], &digits[2..])
        } else {
            value.to_owned()
        });
    }
    let date = value.split(['T', 't']).next().unwrap_or(value);
    let digits: String = date.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 8 {
        return Some(value.to_owned());
    }
    let (year, month, day) = (&digits[..4], &digits[4..6], &digits[6..8]);
    if property.param("X-APPLE-OMIT-YEAR").map(str::trim) == Some(year) {
        return Some(format!("--{month}-{day}"));
    }
    Some(format!("{year}-{month}-{day}"))
}
