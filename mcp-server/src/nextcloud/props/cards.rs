//! Contacts (cards.rs): edits keep every line they do not change.

use proptest::prelude::*;

use super::{extra_line, group_name, line_groups, now, value_text};
use crate::nextcloud::cards::{contact_of, update_card_data, Address, ContactDate, ContactFields};
use crate::nextcloud::vobject::{escape_text, parse_components};

/// A well-formed VCARD around `lines`.
fn card_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        3 => extra_line(),
        1 => value_text().prop_map(|v| format!("FN:{}\r\n", escape_text(&v))),
        1 => (value_text(), value_text())
            .prop_map(|(a, b)| format!("N:{};{};;;\r\n", escape_text(&a), escape_text(&b))),
        1 => (prop::option::of("item[0-9]"), value_text()).prop_map(|(g, v)| format!(
            "{}EMAIL;TYPE=work:{}\r\n", g.map(|g| format!("{g}.")).unwrap_or_default(), v)),
        1 => "item[0-9]\\.X-ABLabel:[a-z]{1,5}\r\n",
        1 => value_text().prop_map(|v| format!("TEL;TYPE=cell:{v}\r\n")),
        1 => value_text().prop_map(|v| format!("BDAY:{v}\r\n")),
        1 => value_text().prop_map(|v| format!("ADR;TYPE=home:{v}\r\n")),
        1 => value_text().prop_map(|v| format!("ORG:{v}\r\n")),
        1 => Just("REV:20200101T000000Z\r\n".to_owned()),
    ];
    (
        prop_oneof![Just("3.0"), Just("4.0")],
        prop::collection::vec(line, 0..10),
    )
        .prop_map(|(version, lines)| {
            format!(
                "BEGIN:VCARD\r\nVERSION:{version}\r\nUID:c1\r\n{}END:VCARD\r\n",
                lines.concat()
            )
        })
}

/// What an edit of a card may change: the fields `ContactFields` names, REV, and Apple's label
/// companions (`itemN.X-AB…`) of a removed grouped property.
fn card_line_may_change(group: &str) -> bool {
    let name = group_name(group);
    [
        "N",
        "FN",
        "EMAIL",
        "TEL",
        "ORG",
        "NOTE",
        "REV",
        "TITLE",
        "BDAY",
        "ANNIVERSARY",
        "X-ANNIVERSARY",
        "ADR",
        "LABEL",
    ]
    .contains(&name.as_str())
        || name.starts_with("X-AB")
}

fn contact_date() -> impl Strategy<Value = Option<Option<ContactDate>>> {
    prop::option::of(prop::option::of(
        (prop::option::of(1i32..3000), 1u32..=12, 1u32..=28)
            .prop_map(|(year, month, day)| ContactDate { year, month, day }),
    ))
}

fn address() -> impl Strategy<Value = Address> {
    (
        prop::sample::subsequence(vec!["home".to_owned(), "work".to_owned()], 0..=2),
        value_text(),
        value_text(),
        value_text(),
    )
        .prop_map(|(types, street, city, country)| Address {
            types,
            po_box: String::new(),
            extended: String::new(),
            street,
            city,
            region: String::new(),
            postal_code: "12345".into(),
            country,
        })
}

prop_compose! {
    fn contact_fields()(
        full_name in prop::option::of(value_text()),
        given_name in prop::option::of(value_text()),
        family_name in prop::option::of(value_text()),
        emails in prop::option::of(prop::collection::vec(value_text(), 0..3)),
        phones in prop::option::of(prop::collection::vec(value_text(), 0..3)),
        org in prop::option::of(value_text()),
        note in prop::option::of(any::<String>()),
        title in prop::option::of(value_text()),
        birthday in contact_date(),
        anniversary in contact_date(),
        addresses in prop::option::of(prop::collection::vec(address(), 0..3)),
    ) -> ContactFields {
        ContactFields {
            full_name, given_name, family_name, emails, phones, org, note, title, birthday,
            anniversary, addresses,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// Reading and editing a card never panics; an edit gives valid vCard text and keeps every
    /// line it does not change byte for byte ([`card_line_may_change`]).
    #[test]
    fn card_edits_keep_unedited_lines(text in card_text(), fields in contact_fields()) {
        let roots = parse_components(&text).unwrap();
        let _ = contact_of(&roots[0]);
        let updated = update_card_data(&text, &fields, now()).unwrap();
        let roots = parse_components(&updated);
        prop_assert!(roots.is_ok(), "{updated}");
        let _ = contact_of(&roots.unwrap()[0]);
        for group in line_groups(&text) {
            if !card_line_may_change(&group) {
                prop_assert!(updated.contains(&group), "lost {group:?} in\n{updated}");
            }
        }
    }
}
