//! vobject: lossless reading and writing of iCalendar and vCard text.

use proptest::prelude::*;

use super::extra_line;
use crate::nextcloud::vobject::{
    escape_text, fold_line, join_structured, parse_components, split_structured, unescape_text,
    unfold, write_all, Component, Property,
};

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
