//! What a model reads of a card: the fields of [`Contact`], postal addresses, and where the
//! anniversary is written (its several forms).

use serde::Serialize;

use super::dates::birthday_of;
use crate::nextcloud::vobject::{self, split_structured, Component, Property};

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

pub(super) fn typed(property: &Property) -> Typed {
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
pub(super) fn split_list(value: &str) -> Vec<String> {
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
    pub(super) fn parts(&self) -> [&str; 7] {
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
    pub(super) fn same_place(&self, other: &Address) -> bool {
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

pub(super) fn address_of(property: &Property) -> Address {
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
pub(super) const APPLE_ANNIVERSARY: &str = "_$!<Anniversary>!$_";

/// Positions (among the card's properties) of every form an anniversary is written in:
/// ANNIVERSARY (vCard 4.0, Nextcloud Contacts, DAVx5), X-ANNIVERSARY (vCard 3.0: what sabre's
/// 4.0 → 3.0 conversion and Outlook/Evolution write) and `itemN.X-ABDATE` whose group's
/// X-ABLabel says `_$!<Anniversary>!$_` (Apple; sabre adds that pair too). Other X-ABDATEs
/// (Apple's custom dates) are not the anniversary.
pub(super) fn anniversary_props(card: &Component) -> Vec<usize> {
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
