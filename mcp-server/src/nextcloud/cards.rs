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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Typed {
    pub value: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Address {
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
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
        addresses: card
            .props("ADR")
            .map(|p| {
                let parts = split_structured(&p.value);
                let at = |i: usize| parts.get(i).cloned().unwrap_or_default();
                Address {
                    types: typed(p).types,
                    po_box: at(0),
                    extended: at(1),
                    street: at(2),
                    city: at(3),
                    region: at(4),
                    postal_code: at(5),
                    country: at(6),
                }
            })
            .collect(),
        birthday: card.prop("BDAY").and_then(birthday_of),
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
        if members.iter().all(|p| p.base_name().starts_with("X-AB")) {
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
        card.set_text("NOTE", note);
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

    #[test]
    fn lists_split_at_unescaped_commas() {
        assert_eq!(split_list("a,b\\,c,,d"), ["a", "b,c", "d"]);
    }
}
