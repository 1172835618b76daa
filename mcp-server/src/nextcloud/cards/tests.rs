use super::read::split_list;
use super::*;
use crate::nextcloud::vobject::{added_lines, Property};
use chrono::{DateTime, TimeZone, Utc};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap()
}

const DAVX5: &str = include_str!("../../../../tests/fixtures/dav/contacts/davx5-4.0.vcf");
const APPLE: &str = include_str!("../../../../tests/fixtures/dav/contacts/apple-3.0.vcf");

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
    include_str!("../../../../tests/fixtures/dav/contacts/thunderbird-4.0.vcf");
const NEXTCLOUD_4: &str =
    include_str!("../../../../tests/fixtures/dav/contacts/nextcloud-contacts-4.0.vcf");
const APPLE_DATES: &str =
    include_str!("../../../../tests/fixtures/dav/contacts/apple-anniversary-3.0.vcf");

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
