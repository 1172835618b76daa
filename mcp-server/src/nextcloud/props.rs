//! Property tests (proptest) for what the Nextcloud client parses from data other people can
//! write: iCalendar and vCard objects (shared calendars and address books, invitations), WebDAV
//! multistatus bodies, file contents in legacy encodings, and the paths a model passes.
//!
//! Each property is written down in its doc comment and holds for every input: no panic, and
//! the invariant. Generators mix arbitrary text (to find panics) with text shaped like what
//! Thunderbird, Apple, DAVx5 and sabre/vobject write (to reach the editing paths).

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;

use super::cards::{contact_of, update_card_data, Address, ContactDate, ContactFields};
use super::events::{events_of, summarize_event, update_event_data, EventChange};
use super::ical::{parse_duration, Moment};
use super::paths::{encode_path, path_segments, validate_name};
use super::text::{bytes_as_text, encode_text, output_encoding};
use super::vobject::{
    escape_text, fold_line, join_structured, parse_components, split_structured, unescape_text,
    unfold, write_all, Component, Property,
};
use super::xml::{decode_href, parse_multistatus, parse_xml, xml_escape, NS_DAV};
use super::NcError;

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

/// Text a calendar or card value might hold, including the characters with meaning in content
/// lines.
fn value_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ,;:\\\\\"^'=.-]{0,30}",
        any::<String>().prop_map(|s| s.replace(['\r', '\n'], " ")),
        "[äöü€😀 ]{0,100}",
    ]
}

/// A date-time value in one of the forms events use, in any year iCalendar can write.
fn ical_time() -> impl Strategy<Value = (String, String)> {
    let date =
        (1i32..=9999, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y:04}{m:02}{d:02}"));
    let time = (0u32..24, 0u32..60, 0u32..60).prop_map(|(h, m, s)| format!("T{h:02}{m:02}{s:02}"));
    (date, time, 0u8..5).prop_map(|(d, t, form)| match form {
        0 => (";VALUE=DATE".to_owned(), d),
        1 => (String::new(), format!("{d}{t}Z")),
        2 => (String::new(), format!("{d}{t}")),
        3 => (";TZID=Europe/Berlin".to_owned(), format!("{d}{t}")),
        _ => (";TZID=Custom/Zone".to_owned(), format!("{d}{t}")),
    })
}

fn duration_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[+-]?P([0-9]{1,4}W)?([0-9]{1,4}D)?(T([0-9]{1,4}H)?([0-9]{1,4}M)?([0-9]{1,4}S)?)?",
        "[+-]?P[0-9]{1,20}[WD]",
        "[+-]?PT[0-9]{1,20}[HMS]",
        any::<String>(),
    ]
}

fn rrule_text() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        Just("FREQ=WEEKLY".to_owned()),
        Just("FREQ=MONTHLY".to_owned()),
        Just("FREQ=YEARLY".to_owned()),
        Just("FREQ=DAILY".to_owned()),
        Just("BYDAY=MO,WE".to_owned()),
        Just("BYDAY=-1SU".to_owned()),
        (1u32..32).prop_map(|d| format!("BYMONTHDAY={d}")),
        (1u32..13).prop_map(|m| format!("BYMONTH={m}")),
        Just("BYHOUR=9".to_owned()),
        Just("BYSETPOS=1".to_owned()),
        Just("COUNT=5".to_owned()),
        ical_time().prop_map(|(_, v)| format!("UNTIL={v}")),
        "[A-Z=;0-9,-]{0,12}",
    ];
    prop::collection::vec(part, 0..5).prop_map(|p| p.join(";"))
}

/// A VTIMEZONE named `Custom/Zone` with arbitrary offsets and rules, as anyone sharing a
/// calendar may write one.
fn vtimezone() -> impl Strategy<Value = String> {
    let offset = prop_oneof![
        (any::<bool>(), 0u32..30, 0u32..60)
            .prop_map(|(n, h, m)| format!("{}{h:02}{m:02}", if n { '-' } else { '+' })),
        "[+-]?[0-9]{0,8}",
    ];
    let observance = (
        prop_oneof![Just("STANDARD"), Just("DAYLIGHT")],
        offset.clone(),
        offset,
        ical_time(),
        prop::option::of(rrule_text()),
    )
        .prop_map(|(kind, from, to, (_, start), rule)| {
            let rule = rule.map(|r| format!("RRULE:{r}\r\n")).unwrap_or_default();
            format!(
                "BEGIN:{kind}\r\nTZOFFSETFROM:{from}\r\nTZOFFSETTO:{to}\r\nDTSTART:{start}\r\n\
                 {rule}END:{kind}\r\n"
            )
        });
    prop::collection::vec(observance, 0..3).prop_map(|o| {
        format!(
            "BEGIN:VTIMEZONE\r\nTZID:Custom/Zone\r\n{}END:VTIMEZONE\r\n",
            o.concat()
        )
    })
}

/// Extra lines clients write: `X-` properties with parameters, quoted and caret-encoded
/// parameter values, long lines folded (CRLF + space), and lines that are not content lines.
fn extra_line() -> impl Strategy<Value = String> {
    prop_oneof![
        ("X-[A-Z]{1,8}", value_text(), prop::option::of(value_text())).prop_map(
            |(n, v, p)| match p {
                Some(p) => format!("{n};X-P=\"{}\":{v}\r\n", p.replace('"', "^'")),
                None => format!("{n}:{v}\r\n"),
            }
        ),
        ("X-LONG", "[a-zé]{70,160}").prop_map(|(n, v)| {
            let mut folded = String::new();
            fold_line(&format!("{n}:{v}"), &mut folded);
            folded
        }),
        Just("ATTENDEE;CN=\"Doe, Jane\";PARTSTAT=ACCEPTED:mailto:jane@example.com\r\n".to_owned()),
        Just("CATEGORIES:a,b\\,c\r\n".to_owned()),
        Just("not a content line\r\n".to_owned()),
        Just("\r\n".to_owned()),
    ]
}

prop_compose! {
    /// A VCALENDAR with a master VEVENT `u1` (any mix of start forms, end, duration, rule,
    /// exceptions, sequence, client-specific lines), perhaps an override of it, and another
    /// event `u2` that no edit of `u1` may touch. Returns the text and the other event's text.
    fn calendar()(
        (start_params, start) in ical_time(),
        end in prop::option::of(ical_time()),
        duration in prop::option::of(duration_text()),
        rrule in prop::option::of(rrule_text()),
        exdate in prop::option::of(prop::collection::vec(ical_time(), 1..3)),
        sequence in prop::option::of(prop_oneof![
            Just(u32::MAX.to_string()), any::<u32>().prop_map(|s| s.to_string()), "[0-9a-z-]{0,6}",
        ]),
        extras in prop::collection::vec(extra_line(), 0..4),
        override_of in prop::option::of(ical_time()),
        timezone in prop::option::of(vtimezone()),
        lf in any::<bool>(),
    ) -> (String, String) {
        let mut master = format!("BEGIN:VEVENT\r\nUID:u1\r\nSUMMARY:Old\r\nDTSTART{start_params}:{start}\r\n");
        if let Some((p, v)) = end {
            master.push_str(&format!("DTEND{p}:{v}\r\n"));
        }
        if let Some(d) = duration {
            master.push_str(&format!("DURATION:{}\r\n", d.replace(['\r', '\n'], "")));
        }
        if let Some(r) = rrule {
            master.push_str(&format!("RRULE:{r}\r\n"));
        }
        if let Some(list) = exdate {
            let values: Vec<String> = list.iter().map(|(_, v)| v.clone()).collect();
            master.push_str(&format!("EXDATE{}:{}\r\n", list[0].0, values.join(",")));
        }
        if let Some(s) = sequence {
            master.push_str(&format!("SEQUENCE:{s}\r\n"));
        }
        master.push_str(&extras.concat());
        master.push_str("END:VEVENT\r\n");
        let overridden = override_of
            .map(|(p, v)| format!(
                "BEGIN:VEVENT\r\nUID:u1\r\nRECURRENCE-ID{p}:{v}\r\nDTSTART{p}:{v}\r\nSUMMARY:One\r\nEND:VEVENT\r\n"
            ))
            .unwrap_or_default();
        let other = "BEGIN:VEVENT\r\nUID:u2\r\nDTSTART:20260101T090000Z\r\nDURATION:PT1H\r\nSUMMARY:Other\r\nEND:VEVENT\r\n".to_owned();
        let text = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n{}{master}{overridden}{other}END:VCALENDAR\r\n",
            timezone.unwrap_or_default()
        );
        if lf {
            (text.replace("\r\n", "\n"), other.replace("\r\n", "\n"))
        } else {
            (text, other)
        }
    }
}

fn moment() -> impl Strategy<Value = Moment> {
    let day = (1i32..=9999, 1u32..=12, 1u32..=28)
        .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap());
    prop_oneof![
        day.clone().prop_map(Moment::Day),
        (day, 0u32..86_400, -86_399i32..86_400).prop_map(|(d, secs, offset)| {
            let offset = FixedOffset::east_opt(offset).unwrap();
            let local = d
                .and_hms_opt(secs / 3600, secs / 60 % 60, secs % 60)
                .unwrap();
            Moment::At(offset.from_local_datetime(&local).unwrap())
        }),
    ]
}

prop_compose! {
    fn event_change()(
        summary in prop::option::of(value_text()),
        start in prop::option::of(moment()),
        end in prop::option::of(moment()),
        all_day in prop::option::of(any::<bool>()),
        location in prop::option::of(value_text()),
        description in prop::option::of(any::<String>()),
    ) -> EventChange {
        EventChange { summary, start, end, all_day, location, description }
    }
}

/// The physical lines of `text` grouped into what one property was read from: a line and its
/// continuation (and blank) lines.
fn line_groups(text: &str) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        let continuation = line.starts_with([' ', '\t']) || line.trim().is_empty();
        match groups.last_mut() {
            Some(last) if continuation => last.push_str(line),
            _ => groups.push(line.to_owned()),
        }
    }
    groups
}

/// The property name a group starts with, upper-cased, group prefix dropped.
fn group_name(group: &str) -> String {
    let name = group.split([';', ':']).next().unwrap_or_default();
    name.rsplit('.')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase()
}

// ---------------------------------------------------------------------------------------------
// vobject: lossless reading and writing
// ---------------------------------------------------------------------------------------------

/// Text shaped like an iCalendar or vCard object: BEGIN/END lines (balanced or not), content
/// lines with parameters, folded lines, blank lines, junk, with CRLF, LF or no final line end.
fn vobject_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        3 => extra_line(),
        1 => prop_oneof![Just("VCALENDAR"), Just("VEVENT"), Just("VCARD"), Just("vcard")]
            .prop_map(|c| format!("BEGIN:{c}\r\n")),
        1 => prop_oneof![Just("VCALENDAR"), Just("VEVENT"), Just("VCARD"), Just("vcard")]
            .prop_map(|c| format!("END:{c}\r\n")),
        1 => "[ \t][a-z]{0,5}\r?\n",
        1 => Just("item1.EMAIL;type=INTERNET;type=HOME:a@b.example\r\n".to_owned()),
        1 => Just("TEL;HOME:+1 555\n".to_owned()),
        1 => any::<String>(),
    ];
    (
        prop::collection::vec(line, 0..14),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(lines, lf, trim_end)| {
            let mut text = lines.concat();
            if lf {
                text = text.replace("\r\n", "\n");
            }
            if trim_end {
                text = text.trim_end_matches(['\r', '\n']).to_owned();
            }
            text
        })
}

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

proptest! {
    /// Lossless: for every text `parse_components` accepts, writing the components back gives
    /// the text byte for byte (folding, parameter quoting and case, line ends, blank lines,
    /// junk lines and text outside the components included). Parsing never panics.
    #[test]
    fn vobject_round_trips_byte_for_byte(text in prop_oneof![vobject_text(), any::<String>()]) {
        if let Ok(roots) = parse_components(&text) {
            prop_assert_eq!(write_all(&roots), text);
        }
    }

    /// A property built by the server (name, parameters with any values, an escaped TEXT
    /// value) is written as content lines of at most 75 octets that read back as the same
    /// property (parameter line breaks read back as LF, RFC 6868), and its TEXT value
    /// unescapes to the text given (line breaks as LF).
    #[test]
    fn written_properties_read_back_the_same(
        name in "(item[0-9]\\.)?[A-Z][A-Z0-9-]{0,10}",
        params in prop::collection::vec(
            (
                "[A-Z][A-Z-]{0,6}",
                prop::collection::vec(prop_oneof![any::<String>(), "[a^nN',:;\"\n]{0,8}"], 1..3),
            ),
            0..3,
        ),
        value in any::<String>(),
    ) {
        let mut property = Property::text(&name, &value);
        property.params = params.clone();
        let mut component = Component::new("VCARD");
        component.push_property(property.clone());
        let text = component.to_text();
        for line in text.split("\r\n") {
            prop_assert!(line.len() <= 75, "{line:?}");
        }
        let read = parse_components(&text).unwrap();
        let read = read[0].properties().next().unwrap();
        let normalize = |s: &str| s.replace("\r\n", "\n").replace('\r', "\n");
        let expected: Vec<(String, Vec<String>)> = params
            .iter()
            .map(|(k, vs)| (k.clone(), vs.iter().map(|v| normalize(v)).collect()))
            .collect();
        prop_assert_eq!(&read.name, &name.to_ascii_uppercase());
        prop_assert_eq!(&read.params, &expected);
        prop_assert_eq!(read.text_value(), normalize(&value));
    }

    /// Folding and unfolding are inverse for one content line (no line breaks in it, not
    /// starting with whitespace), and no physical line exceeds 75 octets or splits a character.
    #[test]
    fn folding_is_reversible(line in "[^\\s][^\r\n]{0,300}") {
        let mut folded = String::new();
        fold_line(&line, &mut folded);
        for physical in folded.split_terminator("\r\n") {
            prop_assert!(physical.len() <= 75);
        }
        prop_assert_eq!(unfold(&folded), vec![line]);
    }

    /// TEXT escaping round-trips (line breaks come back as LF), and a structured value joined
    /// from parts splits back into the same parts.
    #[test]
    fn text_escaping_round_trips(value in any::<String>(), parts in prop::collection::vec(any::<String>(), 1..5)) {
        let normalize = |s: &str| s.replace("\r\n", "\n").replace('\r', "\n");
        prop_assert_eq!(unescape_text(&escape_text(&value)), normalize(&value));
        let split = split_structured(&join_structured(&parts));
        let expected: Vec<String> = parts.iter().map(|p| normalize(p)).collect();
        prop_assert_eq!(split, expected);
    }
}

// ---------------------------------------------------------------------------------------------
// Events (ical.rs, events.rs, timezone.rs)
// ---------------------------------------------------------------------------------------------

/// What an edit of event `u1` may change: its own times, texts, stamps, sequence and
/// recurrence lines.
const EVENT_EDITED: &[&str] = &[
    "SUMMARY",
    "DTSTART",
    "DTEND",
    "DURATION",
    "LOCATION",
    "DESCRIPTION",
    "DTSTAMP",
    "LAST-MODIFIED",
    "SEQUENCE",
    "RRULE",
    "EXDATE",
    "RDATE",
    "RECURRENCE-ID",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// Reading events never panics, whatever their times, durations, rules and time zones say.
    #[test]
    fn events_are_summarized_without_panic((text, _) in calendar()) {
        for event in events_of(&text).unwrap() {
            let _ = summarize_event(&event);
        }
    }

    /// An edit of event `u1` never panics; when it succeeds the result is valid iCalendar, the
    /// other event is kept byte for byte, and every line of a property the edit does not change
    /// (X- properties, attendees, the time zone, junk lines…) is kept byte for byte.
    #[test]
    fn event_edits_keep_unedited_lines((text, other) in calendar(), change in event_change()) {
        let Ok(updated) = update_event_data(&text, "u1", &change, now()) else {
            return Ok(());
        };
        prop_assert!(parse_components(&updated).is_ok());
        prop_assert!(updated.contains(&other), "{updated}");
        for group in line_groups(&text) {
            if !EVENT_EDITED.contains(&group_name(&group).as_str()) {
                prop_assert!(updated.contains(&group), "lost {group:?} in\n{updated}");
            }
        }
    }

    /// DURATION parsing never panics on any text.
    #[test]
    fn durations_parse_without_panic(value in duration_text()) {
        let _ = parse_duration(&value);
    }
}

// ---------------------------------------------------------------------------------------------
// Contacts (cards.rs)
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// File contents (text.rs)
// ---------------------------------------------------------------------------------------------

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("text/plain".to_owned()),
        Just("text/plain; charset=windows-1252".to_owned()),
        Just("text/plain; charset=\"ISO-8859-15\"".to_owned()),
        Just("text/plain; charset=utf-16le".to_owned()),
        Just("text/plain; charset=shift_jis".to_owned()),
        Just("application/octet-stream; charset=".to_owned()),
        any::<String>(),
    ])
}

proptest! {
    /// Reading never panics on any bytes and content type, never returns text with a NUL, and
    /// is lossless where the file can be written back: writing the text in the encoding it was
    /// read in gives bytes that read as the same text, and for UTF-8 and the single-byte
    /// encodings (windows-1252, ISO-8859-x) exactly the bytes read (after a byte-order mark).
    /// (Multi-byte legacy encodings have several byte forms for some characters, e.g. Shift_JIS
    /// `ED 80`; the encoder writes the standard one.) UTF-8 text that looks like text is read as
    /// itself.
    #[test]
    fn text_is_read_and_written_back_losslessly(
        bytes in prop_oneof![
            any::<Vec<u8>>(),
            "[a-zäöü€ \n\t]{0,40}".prop_map(String::into_bytes),
            prop::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\n')], 0..40),
        ],
        content_type in content_type(),
    ) {
        let Some((text, encoding)) = bytes_as_text(&bytes, content_type.as_deref()) else {
            return Ok(());
        };
        prop_assert!(!text.contains('\0'));
        let Ok(output) = output_encoding(Some(encoding)) else {
            return Ok(());
        };
        let exact = output == encoding_rs::UTF_8 || output.is_single_byte();
        let written = match encode_text(&text, output) {
            Ok(written) => written,
            // Some legacy multi-byte characters (Shift_JIS user-defined ones) decode to
            // private-use characters the encoder does not map back: refused, never replaced.
            Err(NcError::InvalidInput(_)) if !exact => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(format!("{encoding}: {e}"))),
        };
        prop_assert_eq!(output.decode_without_bom_handling(&written).0, text.as_str());
        prop_assert!(
            !exact || bytes.ends_with(&written),
            "{encoding}: {bytes:?} read as {text:?} written as {written:?}"
        );
        if content_type.is_none() && !bytes.starts_with(b"\xef\xbb\xbf") {
            if let Ok(utf8) = std::str::from_utf8(&bytes) {
                prop_assert_eq!(text.as_str(), utf8);
            }
        }
    }

    /// Encoding any text in any label never panics; what is written reads back as the text.
    #[test]
    fn encoded_text_reads_back(text in any::<String>(), label in prop_oneof![
        Just("utf-8".to_owned()), Just("windows-1252".to_owned()), Just("iso-8859-15".to_owned()),
        Just("utf-16le".to_owned()), any::<String>(),
    ]) {
        let Ok(encoding) = output_encoding(Some(&label)) else { return Ok(()) };
        if let Ok(bytes) = encode_text(&text, encoding) {
            let (decoded, _) = encoding.decode_without_bom_handling(&bytes);
            prop_assert_eq!(decoded, text.as_str());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Paths (paths.rs) and the URLs built from them
// ---------------------------------------------------------------------------------------------

fn user_path() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop_oneof![
                "[a-zA-Z0-9 ._~-]{1,8}",
                Just("..".to_owned()),
                Just(".".to_owned()),
                Just("%2e%2e".to_owned()),
                Just("%2F".to_owned()),
                Just("a\\..\\b".to_owned()),
                Just("?#".to_owned()),
                Just(String::new()),
                Just("\u{ff0e}\u{ff0e}".to_owned()),
            ],
            0..5,
        )
        .prop_map(|s| s.join("/")),
    ]
}

fn nextcloud() -> super::Nextcloud {
    super::Nextcloud::new(
        reqwest::Client::new(),
        url::Url::parse("https://cloud.example.com/nc").unwrap(),
        crate::metrics::Metrics::new().unwrap(),
    )
}

/// The user's part of a URL below `prefix`, percent-decoded segment by segment.
fn segments_below(url: &url::Url, prefix: &str) -> Option<Vec<String>> {
    let rest = url.path().strip_prefix(prefix)?;
    Some(
        rest.split('/')
            .filter(|s| !s.is_empty())
            .map(decode_href)
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// No path a model gives leaves the user's files: a URL built from it is on the Nextcloud
    /// host, below `/nc/remote.php/dav/files/<user>/`, without query or fragment, and its
    /// segments there decode to exactly the path's segments (`.`/`..` refused, `/`, `%`, `?`,
    /// `#` and `\` encoded inside a segment). The same holds for calendar and address book ids
    /// and object names, which are single segments.
    #[test]
    fn no_path_escapes_the_users_root(
        path in user_path(),
        user in prop_oneof![Just("alice".to_owned()), "[a-z@. ]{1,10}", any::<String>().prop_filter("non-empty", |s| !s.is_empty())],
        id in user_path(),
        name in user_path(),
    ) {
        let nc = nextcloud();
        let session = super::Session::new(&nc, super::NcAuth::Bearer(mcp_shared::Secret::new("t")), user.clone());
        let user_segment = super::paths::encode_segment(&user);
        if let Ok(url) = session.files_url(&path) {
            prop_assert_eq!(url.host_str(), Some("cloud.example.com"));
            prop_assert!(url.query().is_none() && url.fragment().is_none());
            let prefix = format!("/nc/remote.php/dav/files/{user_segment}/");
            let below = segments_below(&url, &prefix);
            prop_assert!(below.is_some(), "{url} escapes {prefix}");
            let expected: Vec<String> = path_segments(&path).unwrap().into_iter().map(str::to_owned).collect();
            prop_assert_eq!(below.unwrap(), expected);
            prop_assert!(encode_path(&path).is_ok());
        } else {
            prop_assert!(encode_path(&path).is_err() || matches!(user.as_str(), "." | ".."));
        }
        for kind in [&super::caldav::CALENDARS, &super::carddav::ADDRESS_BOOKS] {
            if let Ok(url) = session.object_url(kind, &id, &name) {
                prop_assert!(validate_name(&id, "id").is_ok() && validate_name(&name, "name").is_ok());
                prop_assert!(url.query().is_none() && url.fragment().is_none());
                let prefix = format!("/nc/remote.php/dav/{}/{user_segment}/", kind.home);
                let below = segments_below(&url, &prefix);
                prop_assert_eq!(below, Some(vec![id.clone(), name.clone()]), "{}", url);
            }
            if let Ok(url) = session.collection_url(kind, &id) {
                let prefix = format!("/nc/remote.php/dav/{}/{user_segment}/", kind.home);
                prop_assert_eq!(segments_below(&url, &prefix), Some(vec![id.clone()]), "{}", url);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// WebDAV multistatus (xml.rs)
// ---------------------------------------------------------------------------------------------

/// One response of a generated multistatus: href segments, a response status, and properties
/// (local name, text) under a 2xx or a failed propstat.
#[derive(Debug, Clone)]
struct GenResponse {
    segments: Vec<String>,
    status: Option<u16>,
    ok_props: Vec<(String, String)>,
    failed_props: Vec<String>,
}

/// Character data XML 1.0 can carry as it is (no control characters but tab and LF, no CR,
/// which XML normalises to LF).
fn xml_text() -> impl Strategy<Value = String> {
    prop_oneof![
        r#"[a-zA-Z0-9 <>&'"\]\[;:/-]{0,20}"#,
        any::<String>().prop_map(|s| s
            .chars()
            .filter(|c| !c.is_control() || *c == '\t' || *c == '\n')
            .filter(|c| !matches!(c, '\u{fffe}' | '\u{ffff}'))
            .collect()),
    ]
}

fn gen_response() -> impl Strategy<Value = GenResponse> {
    (
        prop::collection::vec("[^/\u{0}]{1,8}", 1..4),
        prop::option::of(100u16..600),
        prop::collection::vec(("[a-z][a-z-]{0,8}", xml_text()), 0..4),
        prop::collection::vec("[a-z][a-z-]{0,8}", 0..2),
    )
        .prop_map(|(segments, status, ok_props, failed_props)| GenResponse {
            segments,
            status,
            ok_props,
            failed_props,
        })
}

/// The multistatus body for `responses`, with `prefix` for DAV: (empty: default namespace),
/// hrefs percent-encoded, texts escaped or in CDATA.
fn multistatus_body(responses: &[GenResponse], prefix: &str, cdata: bool) -> String {
    let p = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}:")
    };
    let xmlns = if prefix.is_empty() {
        "xmlns=\"DAV:\"".to_owned()
    } else {
        format!("xmlns:{prefix}=\"DAV:\"")
    };
    let mut body = format!("<?xml version=\"1.0\"?>\n<{p}multistatus {xmlns}>");
    for r in responses {
        let href: Vec<String> = r
            .segments
            .iter()
            .map(|s| super::paths::encode_segment(s))
            .collect();
        body.push_str(&format!(
            "<{p}response><{p}href>/remote.php/dav/files/u/{}</{p}href>",
            href.join("/")
        ));
        if let Some(status) = r.status {
            body.push_str(&format!("<{p}status>HTTP/1.1 {status} X</{p}status>"));
        }
        body.push_str(&format!("<{p}propstat><{p}prop>"));
        for (name, text) in &r.ok_props {
            let text = if cdata && !text.contains("]]>") {
                format!("<![CDATA[{text}]]>")
            } else {
                xml_escape(text).into_owned()
            };
            body.push_str(&format!("<{p}{name}>{text}</{p}{name}>"));
        }
        body.push_str(&format!(
            "</{p}prop><{p}status>HTTP/1.1 200 OK</{p}status></{p}propstat>"
        ));
        body.push_str(&format!("<{p}propstat><{p}prop>"));
        for name in &r.failed_props {
            body.push_str(&format!("<{p}{name}/>"));
        }
        body.push_str(&format!(
            "</{p}prop><{p}status>HTTP/1.1 404 Not Found</{p}status></{p}propstat></{p}response>"
        ));
    }
    body.push_str(&format!("</{p}multistatus>"));
    body
}

proptest! {
    /// Parsing never panics on any text, nor on any one-character change of a real body.
    #[test]
    fn xml_parsing_never_panics(
        text in any::<String>(),
        responses in prop::collection::vec(gen_response(), 0..3),
        at in any::<prop::sample::Index>(),
        c in any::<char>(),
    ) {
        let _ = parse_xml(&text);
        let _ = parse_multistatus(&text);
        let mut body: Vec<char> = multistatus_body(&responses, "d", false).chars().collect();
        let i = at.index(body.len());
        body[i] = c;
        let body: String = body.into_iter().collect();
        let _ = parse_multistatus(&body);
    }

    /// A multistatus reads back as written, whatever the namespace prefix and however texts
    /// are quoted: each response's href percent-decoded to the path, its status, the
    /// properties of 2xx propstats with their text, and none of a failed propstat's.
    #[test]
    fn multistatus_reads_back_as_written(
        responses in prop::collection::vec(gen_response(), 0..4),
        prefix in prop_oneof![Just(String::new()), "[a-zA-Z][a-zA-Z0-9]{0,3}".prop_filter("reserved", |p| !p.to_ascii_lowercase().starts_with("xml"))],
        cdata in any::<bool>(),
    ) {
        let body = multistatus_body(&responses, &prefix, cdata);
        let parsed = parse_multistatus(&body).unwrap();
        prop_assert_eq!(parsed.len(), responses.len());
        for (got, want) in parsed.iter().zip(&responses) {
            prop_assert_eq!(&got.href, &format!("/remote.php/dav/files/u/{}", want.segments.join("/")));
            prop_assert_eq!(got.status, want.status);
            prop_assert_eq!(got.props.len(), want.ok_props.len());
            for (prop, (name, text)) in got.props.iter().zip(&want.ok_props) {
                prop_assert!(prop.is(NS_DAV, name));
                prop_assert_eq!(&prop.text, text);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions: the minimal inputs the properties above found
// ---------------------------------------------------------------------------------------------

/// A DURATION beyond what a date can hold (`P107000000000D`) panicked in chrono
/// (`TimeDelta::days` out of bounds): it is now not a duration this server reads.
#[test]
fn a_huge_duration_is_unreadable_not_a_panic() {
    assert_eq!(parse_duration("P107000000000D"), None);
    assert_eq!(parse_duration("PT9999999999999999999S"), None);
    assert_eq!(parse_duration("P1D"), Some(chrono::Duration::days(1)));
}

/// An all-day event in year 1 lasting `P100000000D` panicked when read (date overflow); its
/// end is now the RFC 5545 default.
#[test]
fn an_event_lasting_beyond_the_calendar_is_read() {
    let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTART;VALUE=DATE:00010101\r\n\
                DURATION:P100000000D\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let event = &events_of(text).unwrap()[0];
    let summary = summarize_event(event).unwrap();
    assert_eq!(summary.start, "0001-01-01");
}

/// An event at `SEQUENCE:4294967295` panicked on edit (u32 overflow in debug builds, a wrap to
/// 0 in release, which tells clients the edit is older): the sequence now stays at the maximum.
#[test]
fn editing_an_event_at_the_last_sequence_number_does_not_overflow() {
    let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTART:20260101T090000Z\r\n\
                DTEND:20260101T100000Z\r\nSEQUENCE:4294967295\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let change = EventChange {
        summary: Some("New".into()),
        ..EventChange::default()
    };
    let updated = update_event_data(text, "u1", &change, now()).unwrap();
    assert!(updated.contains("SEQUENCE:4294967295\r\n"), "{updated}");
}

/// An event with a start and no end or duration (zero length, RFC 5545 §3.6.1) could not be
/// renamed: the edit checked "end after start" although neither changed.
#[test]
fn a_zero_length_event_can_be_renamed() {
    let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTART:20260101T090000Z\r\n\
                END:VEVENT\r\nEND:VCALENDAR\r\n";
    let change = EventChange {
        summary: Some("New".into()),
        ..EventChange::default()
    };
    let updated = update_event_data(text, "u1", &change, now()).unwrap();
    assert!(updated.contains("SUMMARY:New\r\n"), "{updated}");
    assert!(
        updated.contains("DTSTART:20260101T090000Z\r\n"),
        "{updated}"
    );
}

/// Text with content lines but no component (`X-A:`) was accepted as zero components, and
/// writing them back lost the text (blank lines too): such text is now refused, it is no
/// iCalendar or vCard object. Only the empty text is zero components.
#[test]
fn text_without_a_component_is_refused() {
    assert!(parse_components("X-A:\r\n").is_err());
    assert!(parse_components("junk").is_err());
    assert!(parse_components("\r\n").is_err());
    assert_eq!(parse_components("").unwrap().len(), 0);
}

/// A user id of `.` made the user's files URL `…/dav/files/./`, which the URL parser resolves
/// to `…/dav/files/`: every user's home. Such an id is now refused.
#[test]
fn a_dot_user_id_does_not_leave_the_users_home() {
    let nc = nextcloud();
    for user in [".", "..", ""] {
        let session = super::Session::new(
            &nc,
            super::NcAuth::Bearer(mcp_shared::Secret::new("t")),
            user.into(),
        );
        assert!(session.files_url("a").is_err(), "{user:?}");
        assert!(session.collections_home(&super::caldav::CALENDARS).is_err());
        assert!(session
            .object_url(&super::caldav::CALENDARS, "personal", "e.ics")
            .is_err());
    }
}

/// A parameter value with a literal `^n` (decoded from `^^n`) was written back as `^n`,
/// which reads as a line break (RFC 6868): carets are now escaped whenever they could be
/// read as an escape.
#[test]
fn a_literal_caret_in_a_parameter_survives_a_rewrite() {
    let mut property = Property::new("X-A", "v");
    property.params = vec![("X-P".into(), vec!["a^nb".into()])];
    let mut component = Component::new("VCARD");
    component.push_property(property);
    let text = component.to_text();
    let read = parse_components(&text).unwrap();
    let read = read[0].properties().next().unwrap();
    assert_eq!(read.param("X-P"), Some("a^nb"), "{text}");
}
