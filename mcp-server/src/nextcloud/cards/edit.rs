//! New cards and edits of a stored card: each field set, replaced or removed in the card's own
//! version, every other line kept as stored.

use chrono::{DateTime, Utc};

use super::dates::{date_property, ContactDate};
use super::read::{address_of, anniversary_props, typed, Address, APPLE_ANNIVERSARY};
use super::PRODID;
use crate::nextcloud::vobject::{
    self, join_structured, parse_components, split_structured, Component, Property,
};
use crate::nextcloud::NcError;

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
