//! Contacts (vCard 3.0 and 4.0, RFC 2426 / RFC 6350) as the contacts tools see and change them:
//! the fields a model reads, a new card, and an edit of a stored card that changes only what was
//! asked for, in the card's own version ([`super::vobject`] keeps every other line byte for byte).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::vobject::{
    self, join_structured, parse_components, split_structured, Component, Property,
};
use super::NcError;

const PRODID: &str = "-//Nextcloud MCP Server//EN";

/// A value with its TYPE parameters (EMAIL, TEL, URL…).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Typed {
    pub value: String,
    /// Labels such as "work", "home", "cell" (lower case).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
}

/// A postal address (vCard ADR).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Address {
    /// "home" and/or "work" (none: other).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    pub po_box: String,
    pub extended: String,
    pub street: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
}

/// The fields of a vCard a model gets to see.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Contact {
    pub uid: String,
    pub full_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    pub emails: Vec<Typed>,
    pub phones: Vec<Typed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Address>,
    /// "YYYY-MM-DD", or "--MM-DD" without a year.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    /// ANNIVERSARY (vCard 4.0), X-ANNIVERSARY or Apple's X-ABDATE labelled as the anniversary
    /// (vCard 3.0), as `birthday` reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anniversary: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<Typed>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nicknames: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

fn non_empty(value: String) -> Option<String> {
    Some(value).filter(|v| !v.trim().is_empty())
}

fn typed(property: &Property) -> Typed {
    let value = property.text_value();
    Typed {
        // vCard 4 may write `tel:` / `mailto:` URIs.
        value: value
            .strip_prefix("tel:")
            .or_else(|| value.strip_prefix("mailto:"))
            .unwrap_or(&value)
            .to_owned(),
        types: property
            .param_values("TYPE")
            .into_iter()
            .map(|t| t.to_ascii_lowercase())
            .filter(|t| t != "pref" && t != "internet" && t != "voice")
            .collect(),
    }
}

/// Splits a comma list value (NICKNAME, CATEGORIES) at unescaped commas.
fn split_list(value: &str) -> Vec<String> {
    vobject::split_unescaped(value, ',')
        .into_iter()
        .filter(|i| !i.trim().is_empty())
        .collect()
}

/// Reads a VCARD component.
pub fn contact_of(card: &Component) -> Contact {
    let name_parts = card
        .prop("N")
        .map(|p| split_structured(&p.value))
        .unwrap_or_default();
    let part = |i: usize| name_parts.get(i).cloned().and_then(non_empty);
    let full_name = card.text("FN").unwrap_or_else(|| {
        [part(3), part(1), part(2), part(0), part(4)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    });
    Contact {
        uid: card.text("UID").unwrap_or_default(),
        full_name,
        given_name: part(1),
        family_name: part(0),
        emails: card.props("EMAIL").map(typed).collect(),
        phones: card.props("TEL").map(typed).collect(),
        org: card.prop("ORG").and_then(|p| {
            non_empty(
                split_structured(&p.value)
                    .into_iter()
                    .filter(|s| !s.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        }),
        title: card.text("TITLE"),
        note: card.text("NOTE"),
        // Nextcloud Contacts puts an empty `ADR;TYPE=HOME:;;;;;;` into every new card: no address.
        addresses: card
            .props("ADR")
            .map(address_of)
            .filter(|a| !a.is_empty())
            .collect(),
        birthday: card.prop("BDAY").and_then(birthday_of),
        anniversary: anniversary_props(card)
            .into_iter()
            .find_map(|i| card.properties().nth(i).and_then(birthday_of)),
        urls: card.props("URL").map(typed).collect(),
        nicknames: card
            .props("NICKNAME")
            .flat_map(|p| split_list(&p.value))
            .collect(),
        categories: card
            .props("CATEGORIES")
            .flat_map(|p| split_list(&p.value))
            .collect(),
    }
}

impl Address {
    fn parts(&self) -> [&str; 7] {
        [
            &self.po_box,
            &self.extended,
            &self.street,
            &self.city,
            &self.region,
            &self.postal_code,
            &self.country,
        ]
    }

    /// Whether no component holds anything.
    pub fn is_empty(&self) -> bool {
        self.parts().iter().all(|p| p.trim().is_empty())
    }

    /// Whether both name the same place (components compared trimmed, case-insensitively;
    /// TYPE only when `self` has one).
    fn same_place(&self, other: &Address) -> bool {
        let norm = |s: &str| s.trim().to_lowercase();
        self.parts()
            .iter()
            .zip(other.parts())
            .all(|(a, b)| norm(a) == norm(b))
            && (self.types.is_empty() || {
                let mut a: Vec<String> = self.types.iter().map(|t| t.to_lowercase()).collect();
                let mut b: Vec<String> = other.types.iter().map(|t| t.to_lowercase()).collect();
                a.sort();
                b.sort();
                a == b
            })
    }
}

fn address_of(property: &Property) -> Address {
    let parts = split_structured(&property.value);
    let at = |i: usize| parts.get(i).cloned().unwrap_or_default();
    Address {
        types: typed(property).types,
        po_box: at(0),
        extended: at(1),
        street: at(2),
        city: at(3),
        region: at(4),
        postal_code: at(5),
        country: at(6),
    }
}

/// Apple's label of an anniversary date (`itemN.X-ABDATE` + `itemN.X-ABLabel`).
const APPLE_ANNIVERSARY: &str = "_$!<Anniversary>!$_";

/// Positions (among the card's properties) of every form an anniversary is written in:
/// ANNIVERSARY (vCard 4.0, Nextcloud Contacts, DAVx5), X-ANNIVERSARY (vCard 3.0: what sabre's
/// 4.0 → 3.0 conversion and Outlook/Evolution write) and `itemN.X-ABDATE` whose group's
/// X-ABLabel says `_$!<Anniversary>!$_` (Apple; sabre adds that pair too). Other X-ABDATEs
/// (Apple's custom dates) are not the anniversary.
fn anniversary_props(card: &Component) -> Vec<usize> {
    let labelled = |group: &str| {
        card.properties().any(|p| {
            p.base_name().eq_ignore_ascii_case("X-ABLABEL")
                && p.group().is_some_and(|g| g.eq_ignore_ascii_case(group))
                && p.text_value().trim() == APPLE_ANNIVERSARY
        })
    };
    card.properties()
        .enumerate()
        .filter(|(_, p)| {
            let name = p.base_name();
            name.eq_ignore_ascii_case("ANNIVERSARY")
                || name.eq_ignore_ascii_case("X-ANNIVERSARY")
                || (name.eq_ignore_ascii_case("X-ABDATE") && p.group().is_some_and(labelled))
        })
        .map(|(i, _)| i)
        .collect()
}

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
fn date_property(old: Option<&Property>, name: &str, date: ContactDate, v4: bool) -> Property {
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

/// The VCARDs of a vCard text.
pub fn cards_of(data: &str) -> Result<Vec<Component>, NcError> {
    let roots = parse_components(data)
        .map_err(|e| NcError::BadResponse(format!("a contact is not a valid vCard ({e})")))?;
    Ok(roots.into_iter().filter(|c| c.name == "VCARD").collect())
}

/// What to put into a new or changed card; `None` leaves a field as it is, blank strings
/// remove it, lists replace all values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactFields {
    pub full_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub emails: Option<Vec<String>>,
    pub phones: Option<Vec<String>>,
    pub org: Option<String>,
    pub note: Option<String>,
    /// Job title (TITLE).
    pub title: Option<String>,
    /// `Some(None)` removes the birthday.
    pub birthday: Option<Option<ContactDate>>,
    /// `Some(None)` removes the anniversary (in every form it is written in).
    pub anniversary: Option<Option<ContactDate>>,
    /// The complete list of postal addresses; one equal to a stored address keeps that line.
    pub addresses: Option<Vec<Address>>,
}

/// Replaces every `name` property by `values`, keeping an existing property (with its TYPE,
/// other parameters, group and exact text) whose value is the same. Returns the vCard groups of
/// the properties that went away.
fn replace_values(
    card: &mut Component,
    name: &str,
    values: &[String],
    same: fn(&str, &str) -> bool,
) -> Vec<String> {
    let existing: Vec<Property> = card.props(name).cloned().collect();
    let mut kept = vec![false; existing.len()];
    let new: Vec<Property> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(|v| {
            match existing
                .iter()
                .enumerate()
                .find(|(i, p)| !kept[*i] && same(&typed(p).value, v))
            {
                Some((i, p)) => {
                    kept[i] = true;
                    p.clone()
                }
                None => Property::text(name, v),
            }
        })
        .collect();
    card.replace_all(name, new);
    existing
        .iter()
        .zip(kept)
        .filter(|(_, kept)| !kept)
        .filter_map(|(p, _)| p.group().map(str::to_owned))
        .collect()
}

/// Removes what is left of vCard groups whose main property was removed: Apple's label and
/// address-format companions (`item1.X-ABLabel`, `item1.X-ABADR`) of a deleted `item1.EMAIL`.
fn drop_orphaned_groups(card: &mut Component, groups: &[String]) {
    for group in groups {
        let members: Vec<&Property> = card
            .properties()
            .filter(|p| p.group().is_some_and(|g| g.eq_ignore_ascii_case(group)))
            .collect();
        // A grouped LABEL (vCard 3.0 formatted address) belonged to the removed address too.
        if members.iter().all(|p| {
            p.base_name().starts_with("X-AB") || p.base_name().eq_ignore_ascii_case("LABEL")
        }) {
            card.retain_properties(|p| !p.group().is_some_and(|g| g.eq_ignore_ascii_case(group)));
        }
    }
}

fn same_email(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

fn same_phone(a: &str, b: &str) -> bool {
    let digits = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect()
    };
    digits(a) == digits(b)
}

/// Sets a TEXT property (or removes it when blank), leaving its line alone when the text is
/// already the same.
fn set_text_if_changed(card: &mut Component, name: &str, value: &str) {
    if value.trim().is_empty() {
        card.remove(name);
    } else if card.text(name).as_deref() != Some(value) || card.props(name).count() > 1 {
        card.set(Property::text(name, value));
    }
}

/// Sets or removes the anniversary. Every form already in the card is changed in place (each
/// keeps its group, parameters and position); a card without one gets the form its version's
/// clients read: ANNIVERSARY in vCard 4.0 (RFC 6350, as Nextcloud Contacts and DAVx5 write),
/// in vCard 3.0 the pair sabre/vobject writes when it converts a 4.0 card for a 3.0 client:
/// X-ANNIVERSARY (Nextcloud Contacts, Evolution, Outlook) and Apple's `itemN.X-ABDATE` +
/// `itemN.X-ABLabel:_$!<Anniversary>!$_` (Apple Contacts reads only this one). Sabre turns
/// either back into one ANNIVERSARY for a 4.0 client.
fn set_anniversary(card: &mut Component, date: Option<ContactDate>, v4: bool) {
    let at = anniversary_props(card);
    let Some(date) = date else {
        let groups: Vec<String> = at
            .iter()
            .filter_map(|i| card.properties().nth(*i))
            .filter_map(|p| p.group().map(str::to_owned))
            .collect();
        let mut index = 0;
        card.retain_properties(|_| {
            index += 1;
            !at.contains(&(index - 1))
        });
        drop_orphaned_groups(card, &groups);
        return;
    };
    if !at.is_empty() {
        for (i, property) in card.properties_mut().enumerate() {
            if at.contains(&i) {
                let name = property.base_name().to_owned();
                *property = date_property(Some(property), &name, date, v4);
            }
        }
        return;
    }
    if v4 {
        card.push_property(date_property(None, "ANNIVERSARY", date, true));
        return;
    }
    card.push_property(date_property(None, "X-ANNIVERSARY", date, false));
    let group = free_group(card);
    let mut abdate = date_property(None, "X-ABDATE", date, false);
    abdate.name = format!("{group}.X-ABDATE");
    let mut label = Property::text("X-ABLABEL", APPLE_ANNIVERSARY);
    label.name = format!("{group}.X-ABLabel");
    card.push_property(abdate);
    card.push_property(label);
}

/// The first vCard group name `itemN` not used in the card (as Apple names them).
fn free_group(card: &Component) -> String {
    (1..)
        .map(|n| format!("item{n}"))
        .find(|g| {
            !card
                .properties()
                .any(|p| p.group().is_some_and(|pg| pg.eq_ignore_ascii_case(g)))
        })
        .unwrap_or_else(|| "item1".into())
}

/// TYPE values of a new address in the card's version: `home`/`work` in vCard 4.0 (RFC 6350),
/// upper case in vCard 3.0 (as sabre's conversion and Apple write them).
fn address_property(address: &Address, v4: bool) -> Property {
    let mut property = Property::new("ADR", join_structured(&address.parts()));
    for t in &address.types {
        let t = if v4 {
            t.to_ascii_lowercase()
        } else {
            t.to_ascii_uppercase()
        };
        property = property.with_param("TYPE", &t);
    }
    property
}

/// Replaces the postal addresses by `addresses`. An address equal to a stored one keeps that
/// line byte for byte (its group with Apple's X-ABADR/X-ABLabel, a vCard 4.0 LABEL parameter,
/// its TYPE spelling); a changed or new one is written new, without a formatted label (the
/// old one would show the old address). Apple's companions of removed addresses go with them,
/// and so does a vCard 3.0 LABEL property whose TYPE matches only removed addresses.
fn set_addresses(card: &mut Component, addresses: &[Address], v4: bool) {
    let existing: Vec<Property> = card.props("ADR").cloned().collect();
    let mut kept = vec![false; existing.len()];
    let mut new = Vec::new();
    for address in addresses.iter().filter(|a| !a.is_empty()) {
        let found = existing
            .iter()
            .enumerate()
            .find(|(i, p)| !kept[*i] && address.same_place(&address_of(p)));
        match found {
            Some((i, p)) => {
                kept[i] = true;
                new.push(p.clone());
            }
            None => new.push(address_property(address, v4)),
        }
    }
    card.replace_all("ADR", new);
    let type_set = |p: &Property| {
        let mut t: Vec<String> = p
            .param_values("TYPE")
            .into_iter()
            .map(|t| t.to_ascii_lowercase())
            .filter(|t| t != "pref")
            .collect();
        t.sort();
        t
    };
    let kept_types: Vec<Vec<String>> = existing
        .iter()
        .zip(&kept)
        .filter(|(_, k)| **k)
        .map(|(p, _)| type_set(p))
        .collect();
    let removed: Vec<&Property> = existing
        .iter()
        .zip(&kept)
        .filter(|(_, k)| !**k)
        .map(|(p, _)| p)
        .collect();
    let removed_types: Vec<Vec<String>> = removed.iter().map(|p| type_set(p)).collect();
    card.retain_properties(|p| {
        !(p.base_name().eq_ignore_ascii_case("LABEL")
            && p.group().is_none()
            && removed_types.contains(&type_set(p))
            && !kept_types.contains(&type_set(p)))
    });
    let groups: Vec<String> = removed
        .iter()
        .filter_map(|p| p.group().map(str::to_owned))
        .collect();
    drop_orphaned_groups(card, &groups);
}

/// The display name made of N's parts (prefix, given, additional, family, suffix).
fn name_from_parts(parts: &[String]) -> String {
    [3, 1, 2, 0, 4]
        .iter()
        .filter_map(|i| parts.get(*i))
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Applies `fields` to a VCARD. A changed name part also changes FN when FN was just the name
/// made of those parts (and no new FN is given).
pub fn apply_contact_fields(card: &mut Component, fields: &ContactFields, now: DateTime<Utc>) {
    if fields.given_name.is_some() || fields.family_name.is_some() {
        let mut parts = card
            .prop("N")
            .map(|p| split_structured(&p.value))
            .unwrap_or_default();
        parts.resize(parts.len().max(5), String::new());
        let old_name = name_from_parts(&parts);
        if let Some(family) = &fields.family_name {
            parts[0] = family.trim().to_owned();
        }
        if let Some(given) = &fields.given_name {
            parts[1] = given.trim().to_owned();
        }
        card.set(Property::new("N", join_structured(&parts)));
        let derived = card.text("FN").is_none_or(|f| f.trim() == old_name);
        if fields.full_name.is_none() && derived {
            let name = name_from_parts(&parts);
            if !name.is_empty() {
                card.set(Property::text("FN", &name));
            }
        }
    }
    if let Some(full_name) = &fields.full_name {
        card.set(Property::text("FN", full_name.trim()));
    }
    let mut gone = Vec::new();
    if let Some(emails) = &fields.emails {
        gone.extend(replace_values(card, "EMAIL", emails, same_email));
    }
    if let Some(phones) = &fields.phones {
        gone.extend(replace_values(card, "TEL", phones, same_phone));
    }
    drop_orphaned_groups(card, &gone);
    if let Some(org) = &fields.org {
        if org.trim().is_empty() {
            card.remove("ORG");
        } else if card.text("ORG").as_deref() != Some(org.trim()) {
            card.set(Property::text("ORG", org.trim()));
        }
    }
    if let Some(note) = &fields.note {
        set_text_if_changed(card, "NOTE", note);
    }
    if let Some(title) = &fields.title {
        set_text_if_changed(card, "TITLE", title);
    }
    let v4 = card
        .prop("VERSION")
        .is_some_and(|v| v.value.trim().starts_with('4'));
    if let Some(birthday) = fields.birthday {
        match birthday {
            None => card.remove("BDAY"),
            Some(date) => {
                let property = date_property(card.prop("BDAY"), "BDAY", date, v4);
                card.replace_all("BDAY", vec![property]);
            }
        }
    }
    if let Some(anniversary) = fields.anniversary {
        set_anniversary(card, anniversary, v4);
    }
    if let Some(addresses) = &fields.addresses {
        set_addresses(card, addresses, v4);
    }
    card.set(Property::new(
        "REV",
        now.format("%Y%m%dT%H%M%SZ").to_string(),
    ));
}

/// A new vCard 3.0. `fields.full_name` must be set (the caller derives it if needed); N is
/// derived from FN (last word as family name) if neither name part is given.
pub fn build_card(uid: &str, fields: &ContactFields, now: DateTime<Utc>) -> Component {
    let mut card = Component::new("VCARD");
    card.push_property(Property::new("VERSION", "3.0"));
    card.push_property(Property::text("PRODID", PRODID));
    card.push_property(Property::text("UID", uid));
    let mut fields = fields.clone();
    if fields.given_name.is_none() && fields.family_name.is_none() {
        let full = fields.full_name.clone().unwrap_or_default();
        let full = full.trim();
        let (given, family) = match full.rsplit_once(' ') {
            Some((given, family)) => (given.trim().to_owned(), family.to_owned()),
            None => (String::new(), full.to_owned()),
        };
        fields.given_name = Some(given);
        fields.family_name = Some(family);
    }
    apply_contact_fields(&mut card, &fields, now);
    card
}

/// Changes a stored card as `fields` says and returns the new text: the card stays in the vCard
/// version it is stored in, and every line not changed is kept byte for byte.
pub fn update_card_data(
    data: &str,
    fields: &ContactFields,
    now: DateTime<Utc>,
) -> Result<String, NcError> {
    let mut roots = parse_components(data)
        .map_err(|e| NcError::BadResponse(format!("the contact is not a valid vCard ({e})")))?;
    let card = roots
        .iter_mut()
        .find(|c| c.name == "VCARD")
        .ok_or_else(|| NcError::BadResponse("the stored contact holds no VCARD".into()))?;
    apply_contact_fields(card, fields, now);
    Ok(vobject::write_all(&roots))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nextcloud::vobject::added_lines;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap()
    }

    const DAVX5: &str = include_str!("../../../tests/fixtures/dav/contacts/davx5-4.0.vcf");
    const APPLE: &str = include_str!("../../../tests/fixtures/dav/contacts/apple-3.0.vcf");

    #[test]
    fn new_card_round_trips() {
        let fields = ContactFields {
            full_name: Some("Jane Q. Doe".into()),
            emails: Some(vec![
                "jane@example.com".into(),
                " ".into(),
                "j@work.example".into(),
            ]),
            phones: Some(vec!["+49 30 1234".into()]),
            org: Some("ACME; Inc, Ltd".into()),
            note: Some(format!("Met at the fair.\nLikes tea, {}", "x".repeat(100))),
            ..ContactFields::default()
        };
        let text = build_card("uid-9", &fields, now()).to_text();
        assert!(text.starts_with("BEGIN:VCARD\r\nVERSION:3.0\r\n"));
        assert!(text.contains("N:Doe;Jane Q.;;;\r\n"));
        assert!(text.contains("ORG:ACME\\; Inc\\, Ltd\r\n"));
        assert!(text.lines().all(|l| l.len() <= 75));
        let cards = cards_of(&text).unwrap();
        let contact = contact_of(&cards[0]);
        assert_eq!(contact.uid, "uid-9");
        assert_eq!(contact.full_name, "Jane Q. Doe");
        assert_eq!(contact.given_name.as_deref(), Some("Jane Q."));
        assert_eq!(contact.family_name.as_deref(), Some("Doe"));
        let emails: Vec<&str> = contact.emails.iter().map(|e| e.value.as_str()).collect();
        assert_eq!(emails, ["jane@example.com", "j@work.example"]);
        assert_eq!(contact.phones[0].value, "+49 30 1234");
        assert_eq!(contact.org.as_deref(), Some("ACME; Inc, Ltd"));
        assert_eq!(contact.note, fields.note);
    }

    #[test]
    fn update_keeps_unknown_properties_and_types() {
        let stored = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u1\r\nFN:Bob Smith\r\nN:Smith;Bob;;Mr.;\r\nitem1.EMAIL;TYPE=work:bob@old.example\r\nitem1.X-ABLABEL:office\r\nEMAIL;TYPE=home:bob@home.example\r\nTEL;TYPE=cell:tel:+1 555 0100\r\nPHOTO;VALUE=uri:https://example.com/p.jpg\r\nX-SOCIALPROFILE;TYPE=twitter:bob\r\nADR;TYPE=home:;;1 Main St;Springfield;IL;62701;USA\r\nEND:VCARD\r\n";
        let fields = ContactFields {
            given_name: Some("Robert".into()),
            emails: Some(vec!["BOB@home.example".into(), "new@example.com".into()]),
            note: Some("".into()),
            ..ContactFields::default()
        };
        let updated = update_card_data(stored, &fields, now()).unwrap();
        let card = &cards_of(&updated).unwrap()[0];
        assert_eq!(card.prop("VERSION").unwrap().value, "4.0");
        assert_eq!(card.prop("N").unwrap().value, "Smith;Robert;;Mr.;");
        assert!(card.prop("PHOTO").is_some());
        assert!(card.prop("X-SOCIALPROFILE").is_some());
        assert!(card.prop("REV").is_some());
        let emails: Vec<&Property> = card.props("EMAIL").collect();
        assert_eq!(emails.len(), 2);
        assert_eq!(emails[0].param_values("TYPE"), ["home"]);
        assert_eq!(emails[1].value, "new@example.com");
        let contact = contact_of(card);
        assert_eq!(contact.full_name, "Bob Smith");
        assert_eq!(contact.phones[0].value, "+1 555 0100");
        assert_eq!(contact.phones[0].types, ["cell"]);
        assert_eq!(contact.addresses[0].city, "Springfield");
        assert_eq!(contact.addresses[0].types, ["home"]);
        // The label of the removed grouped address went with it.
        assert!(!updated.contains("X-ABLABEL"), "{updated}");
    }

    #[test]
    fn a_vcard_4_card_keeps_everything_not_edited() {
        let fields = ContactFields {
            phones: Some(vec!["+34 612 345 678".into(), "+34 911 000 111".into()]),
            note: Some("Seilpartner, Sommer 2026".into()),
            ..ContactFields::default()
        };
        let updated = update_card_data(DAVX5, &fields, now()).unwrap();
        assert_eq!(
            added_lines(DAVX5, &updated),
            [
                "TEL:+34 911 000 111\r\n",
                "NOTE:Seilpartner\\, Sommer 2026\r\n",
                "REV:20250102T030405Z\r\n",
            ]
        );
        let removed = added_lines(&updated, DAVX5);
        assert_eq!(
            removed,
            [
                "NOTE:Seilpartner für die Sommertour\r\n",
                "REV:20260614T171045Z\r\n"
            ]
        );
        let contact = contact_of(&cards_of(&updated).unwrap()[0]);
        assert_eq!(contact.birthday.as_deref(), Some("--04-15"));
    }

    #[test]
    fn apple_groups_labels_and_year_less_birthdays() {
        let contact = contact_of(&cards_of(APPLE).unwrap()[0]);
        assert_eq!(contact.birthday.as_deref(), Some("--04-15"));
        // Drop the grouped work address (item1), keep the home one.
        let fields = ContactFields {
            emails: Some(vec!["leni.brandt@example.net".into()]),
            ..ContactFields::default()
        };
        let updated = update_card_data(APPLE, &fields, now()).unwrap();
        assert!(!updated.contains("item1."), "{updated}");
        assert!(updated.contains("item3.X-ABLabel:_$!<HomePage>!$_\r\n"));
        assert!(updated.contains("EMAIL;type=INTERNET;type=HOME:leni.brandt@example.net\r\n"));
        let removed = added_lines(&updated, APPLE);
        assert_eq!(removed.len(), 3, "{removed:#?}"); // item1.EMAIL, item1.X-ABLabel, REV
        assert_eq!(added_lines(APPLE, &updated), ["REV:20250102T030405Z\r\n"]);
    }

    #[test]
    fn a_name_change_updates_a_full_name_made_of_the_parts() {
        let stored =
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u\r\nFN:Jane Doe\r\nN:Doe;Jane;;;\r\nEND:VCARD\r\n";
        let fields = ContactFields {
            given_name: Some("Janet".into()),
            ..ContactFields::default()
        };
        let updated = update_card_data(stored, &fields, now()).unwrap();
        assert!(updated.contains("FN:Janet Doe\r\n"), "{updated}");
        // A full name that is not just the parts is the person's choice: kept.
        let custom = stored.replace("FN:Jane Doe", "FN:Dr. J. Doe (ACME)");
        let updated = update_card_data(&custom, &fields, now()).unwrap();
        assert!(updated.contains("FN:Dr. J. Doe (ACME)\r\n"), "{updated}");
    }

    #[test]
    fn birthdays_as_models_read_them() {
        let bday = |line: &str| {
            let card = cards_of(&format!("BEGIN:VCARD\r\n{line}\r\nEND:VCARD\r\n")).unwrap();
            birthday_of(card[0].prop("BDAY").unwrap())
        };
        assert_eq!(bday("BDAY:19850415").as_deref(), Some("1985-04-15"));
        assert_eq!(bday("BDAY:1985-04-15").as_deref(), Some("1985-04-15"));
        assert_eq!(
            bday("BDAY;VALUE=DATE:19850415").as_deref(),
            Some("1985-04-15")
        );
        assert_eq!(bday("BDAY:--0415").as_deref(), Some("--04-15"));
        assert_eq!(
            bday("BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-15").as_deref(),
            Some("--04-15")
        );
        assert_eq!(
            bday("BDAY:1985-04-15T00:00:00Z").as_deref(),
            Some("1985-04-15")
        );
        assert_eq!(
            bday("BDAY;VALUE=text:circa 1800").as_deref(),
            Some("circa 1800")
        );
    }

    const THUNDERBIRD: &str =
        include_str!("../../../tests/fixtures/dav/contacts/thunderbird-4.0.vcf");
    const NEXTCLOUD_4: &str =
        include_str!("../../../tests/fixtures/dav/contacts/nextcloud-contacts-4.0.vcf");
    const APPLE_DATES: &str =
        include_str!("../../../tests/fixtures/dav/contacts/apple-anniversary-3.0.vcf");

    fn date(text: &str) -> Option<Option<ContactDate>> {
        Some(Some(ContactDate::parse(text).unwrap()))
    }

    fn address(kind: &str, street: &str, city: &str, code: &str, country: &str) -> Address {
        Address {
            types: if kind.is_empty() {
                vec![]
            } else {
                vec![kind.into()]
            },
            po_box: String::new(),
            extended: String::new(),
            street: street.into(),
            city: city.into(),
            region: String::new(),
            postal_code: code.into(),
            country: country.into(),
        }
    }

    fn read(text: &str) -> Contact {
        contact_of(&cards_of(text).unwrap()[0])
    }

    #[test]
    fn a_new_card_writes_the_new_fields_in_vcard_3() {
        let fields = ContactFields {
            full_name: Some("Ana Lima".into()),
            title: Some("Kapitänin".into()),
            birthday: date("--02-29"),
            anniversary: date("2018-06-09"),
            addresses: Some(vec![
                address(
                    "home",
                    "Rua Augusta 10\n2. Stock",
                    "Lisboa",
                    "1100-053",
                    "Portugal",
                ),
                address("work", "Kai 3", "Hamburg", "20457", ""),
            ]),
            ..ContactFields::default()
        };
        let text = build_card("uid-d", &fields, now()).to_text();
        for line in [
            "TITLE:Kapitänin\r\n",
            "BDAY;X-APPLE-OMIT-YEAR=1604:1604-02-29\r\n",
            "X-ANNIVERSARY:2018-06-09\r\n",
            "item1.X-ABDATE:2018-06-09\r\n",
            "item1.X-ABLabel:_$!<Anniversary>!$_\r\n",
            "ADR;TYPE=HOME:;;Rua Augusta 10\\n2. Stock;Lisboa;;1100-053;Portugal\r\n",
            "ADR;TYPE=WORK:;;Kai 3;Hamburg;;20457;\r\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        let contact = read(&text);
        assert_eq!(contact.title.as_deref(), Some("Kapitänin"));
        assert_eq!(contact.birthday.as_deref(), Some("--02-29"));
        assert_eq!(contact.anniversary.as_deref(), Some("2018-06-09"));
        assert_eq!(contact.addresses, fields.addresses.unwrap());
    }

    #[test]
    fn a_vcard_4_card_gets_vcard_4_dates_and_keeps_its_other_lines() {
        // DAVx5: ANNIVERSARY and a year-less BDAY in basic form, changed in place.
        let fields = ContactFields {
            birthday: date("1990-04-15"),
            anniversary: date("--06-09"),
            title: Some("Bergführer".into()),
            addresses: Some(vec![address(
                "home",
                "Calle Mayor 5",
                "Madrid",
                "28013",
                "",
            )]),
            ..ContactFields::default()
        };
        let updated = update_card_data(DAVX5, &fields, now()).unwrap();
        assert_eq!(
            added_lines(DAVX5, &updated),
            [
                "ANNIVERSARY:--0609\r\n",
                "BDAY:19900415\r\n",
                "REV:20250102T030405Z\r\n",
                "TITLE:Bergführer\r\n",
                "ADR;TYPE=home:;;Calle Mayor 5;Madrid;;28013;\r\n",
            ]
        );
        assert_eq!(added_lines(&updated, DAVX5).len(), 3); // ANNIVERSARY, BDAY, REV
        let contact = read(&updated);
        assert_eq!(contact.birthday.as_deref(), Some("1990-04-15"));
        assert_eq!(contact.anniversary.as_deref(), Some("--06-09"));

        // Nextcloud Contacts: no ANNIVERSARY yet, the app's empty ADR replaced.
        let fields = ContactFields {
            anniversary: date("2001-09-15"),
            addresses: Some(vec![address("", "Alsterufer 2", "Hamburg", "20354", "")]),
            ..ContactFields::default()
        };
        let updated = update_card_data(NEXTCLOUD_4, &fields, now()).unwrap();
        assert_eq!(
            added_lines(NEXTCLOUD_4, &updated),
            [
                "ADR:;;Alsterufer 2;Hamburg;;20354;\r\n",
                "REV:20250102T030405Z\r\n",
                "ANNIVERSARY:20010915\r\n",
            ]
        );
        assert_eq!(
            added_lines(&updated, NEXTCLOUD_4),
            [
                "ADR;TYPE=HOME:;;;;;;\r\n",
                "REV;VALUE=DATE-AND-OR-TIME:20260702T190844Z\r\n"
            ]
        );
        // The app's empty default address is no address to a model.
        assert!(read(NEXTCLOUD_4).addresses.is_empty());
    }

    #[test]
    fn thunderbird_keeps_value_date_and_a_kept_address_keeps_its_line() {
        let before = read(THUNDERBIRD);
        let mut addresses = before.addresses.clone();
        addresses.push(address("home", "ul. Długa 1", "Kraków", "31-147", "Polska"));
        let fields = ContactFields {
            birthday: date("--09-22"),
            addresses: Some(addresses.clone()),
            ..ContactFields::default()
        };
        let updated = update_card_data(THUNDERBIRD, &fields, now()).unwrap();
        assert_eq!(
            added_lines(THUNDERBIRD, &updated),
            [
                "ADR;TYPE=home:;;ul. Długa 1;Kraków;;31-147;Polska\r\n",
                "BDAY;VALUE=DATE:--0922\r\n",
                "REV:20250102T030405Z\r\n",
            ]
        );
        assert_eq!(
            added_lines(&updated, THUNDERBIRD),
            ["BDAY;VALUE=DATE:19850922\r\n"]
        );
        assert_eq!(read(&updated).addresses, addresses);
        // Giving the same values again changes nothing but REV.
        let fields = ContactFields {
            title: before.title.clone(),
            note: before.note.clone(),
            birthday: date("--09-22"),
            addresses: Some(addresses),
            ..ContactFields::default()
        };
        let again = update_card_data(&updated, &fields, now()).unwrap();
        assert_eq!(again, updated);
    }

    #[test]
    fn apple_anniversaries_change_in_place_and_go_with_their_label() {
        let contact = read(APPLE_DATES);
        assert_eq!(contact.anniversary.as_deref(), Some("2012-08-18"));
        assert_eq!(contact.birthday.as_deref(), Some("1984-11-02"));
        assert_eq!(contact.addresses[0].extended, "Hinterhaus");
        let fields = ContactFields {
            anniversary: date("2013-08-17"),
            birthday: date("--11-02"),
            ..ContactFields::default()
        };
        let updated = update_card_data(APPLE_DATES, &fields, now()).unwrap();
        assert_eq!(
            added_lines(APPLE_DATES, &updated),
            [
                "item3.X-ABDATE;TYPE=pref:2013-08-17\r\n",
                "BDAY;X-APPLE-OMIT-YEAR=1604:1604-11-02\r\n",
                "REV:20250102T030405Z\r\n",
            ]
        );
        assert_eq!(read(&updated).birthday.as_deref(), Some("--11-02"));
        // The same dates again: nothing but REV changes.
        let again = update_card_data(&updated, &fields, now()).unwrap();
        assert_eq!(again, updated);

        // Removing the anniversary and the address removes their groups, nothing else.
        let fields = ContactFields {
            anniversary: Some(None),
            addresses: Some(vec![]),
            ..ContactFields::default()
        };
        let updated = update_card_data(APPLE_DATES, &fields, now()).unwrap();
        assert_eq!(
            added_lines(APPLE_DATES, &updated),
            ["REV:20250102T030405Z\r\n"]
        );
        let removed = added_lines(&updated, APPLE_DATES);
        assert_eq!(
            removed,
            [
                "item2.ADR;type=HOME;type=pref:;Hinterhaus;Lindenallee 7;Hamburg;;20259;\r\n",
                "item2.X-ABADR:de\r\n",
                "item3.X-ABDATE;type=pref:2012-08-18\r\n",
                "item3.X-ABLabel:_$!<Anniversary>!$_\r\n",
                "REV:2026-05-11T16:22:09Z\r\n",
            ]
        );
        assert!(updated.contains("item4.X-ABDATE:2019-03-01\r\nitem4.X-ABLabel:Firmeneintritt"));
        let contact = read(&updated);
        assert_eq!(contact.anniversary, None);
        assert!(contact.addresses.is_empty());

        // A 3.0 card without one gets sabre's pair in a free group.
        let fields = ContactFields {
            anniversary: date("2020-02-02"),
            ..ContactFields::default()
        };
        let updated = update_card_data(APPLE, &fields, now()).unwrap();
        assert_eq!(
            added_lines(APPLE, &updated),
            [
                "REV:20250102T030405Z\r\n",
                "X-ANNIVERSARY:2020-02-02\r\n",
                "item4.X-ABDATE:2020-02-02\r\n",
                "item4.X-ABLabel:_$!<Anniversary>!$_\r\n",
            ]
        );
        // Both forms are one anniversary: changing it changes both.
        let fields = ContactFields {
            anniversary: date("2021-03-03"),
            ..ContactFields::default()
        };
        let again = update_card_data(&updated, &fields, now()).unwrap();
        assert!(again.contains("X-ANNIVERSARY:2021-03-03\r\n"));
        assert!(again.contains("item4.X-ABDATE:2021-03-03\r\n"));
        assert!(!again.contains("2020-02-02"));
    }

    #[test]
    fn apple_keeps_a_grouped_address_given_back_unchanged() {
        let contact = read(APPLE_DATES);
        let mut addresses = contact.addresses.clone();
        // As a model gives it back: no type, different case.
        addresses[0].types.clear();
        addresses[0].city = "HAMBURG".into();
        addresses.push(address("work", "Am Sandtorkai 1", "Hamburg", "20457", ""));
        let fields = ContactFields {
            addresses: Some(addresses),
            ..ContactFields::default()
        };
        let updated = update_card_data(APPLE_DATES, &fields, now()).unwrap();
        assert_eq!(
            added_lines(APPLE_DATES, &updated),
            [
                "ADR;TYPE=WORK:;;Am Sandtorkai 1;Hamburg;;20457;\r\n",
                "REV:20250102T030405Z\r\n",
            ]
        );
    }

    #[test]
    fn vcard_3_labels_of_removed_addresses_go() {
        let stored = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:l\r\nFN:L\r\n\
            ADR;TYPE=HOME:;;Old St 1;Town;;111;\r\nLABEL;TYPE=HOME:Old St 1\\n111 Town\r\n\
            ADR;TYPE=WORK:;;Work St 2;City;;222;\r\nLABEL;TYPE=WORK:Work St 2\\n222 City\r\n\
            END:VCARD\r\n";
        let fields = ContactFields {
            addresses: Some(vec![
                address("work", "Work St 2", "City", "222", ""),
                address("home", "New St 3", "Town", "111", ""),
            ]),
            ..ContactFields::default()
        };
        let updated = update_card_data(stored, &fields, now()).unwrap();
        assert!(!updated.contains("LABEL;TYPE=HOME"), "{updated}");
        assert!(updated.contains("LABEL;TYPE=WORK:Work St 2\\n222 City\r\n"));
        assert!(updated.contains("ADR;TYPE=HOME:;;New St 3;Town;;111;\r\n"));
    }

    #[test]
    fn dates_models_give() {
        let ok = |t: &str| ContactDate::parse(t).unwrap();
        assert_eq!(
            ok("1985-04-15"),
            ContactDate {
                year: Some(1985),
                month: 4,
                day: 15
            }
        );
        assert_eq!(ok("19850415"), ok("1985-04-15"));
        assert_eq!(ok("--0229").year, None);
        assert_eq!(ok("--02-29").day, 29);
        for bad in [
            "1985-02-30",
            "--13-01",
            "15.04.1985",
            "1985-4-15",
            "",
            "0000-01-01",
            "--04",
        ] {
            assert!(ContactDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phone_numbers_match_however_they_are_written() {
        for (query, number) in [
            ("+49 170 1234567", "01701234567"),
            ("+49 170 1234567", "+49 (0)170 1234567"),
            ("0049 170 1234567", "+491701234567"),
            ("01701234567", "+49 170 123 45 67"),
            ("0170/1234567", "tel:+49-170-1234567"),
            ("1234567", "+49 (0)170 1234567"),
            ("040 3344120", "040 / 3344-120"),
            ("+49 40 3344120", "040 / 3344-120"),
            ("(555) 010-0100", "+1 555 010 0100"),
            ("+1 555 010 0100", "555.010.0100"),
            ("0170 123", "+49 170 1234567"),
        ] {
            assert!(phone_matches(query, number), "{query} ~ {number}");
        }
        for (query, number) in [
            ("+49 170 1234567", "+48 170 1234568"),
            ("0170 1234567", "0171 1234567"),
            ("12", "+49 12 3"),
            ("+44 20 7946 0958", "0049 20 7946 0959"),
            ("5678", ""),
        ] {
            assert!(!phone_matches(query, number), "{query} !~ {number}");
        }
    }

    #[test]
    fn lists_split_at_unescaped_commas() {
        assert_eq!(split_list("a,b\\,c,,d"), ["a", "b,c", "d"]);
    }
}
