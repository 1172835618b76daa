//! Property tests (proptest) for what the Nextcloud client parses from data other people can
//! write: iCalendar and vCard objects (shared calendars and address books, invitations), WebDAV
//! multistatus bodies, file contents in legacy encodings, and the paths a model passes.
//!
//! Each property is written down in its doc comment and holds for every input: no panic, and
//! the invariant. Generators mix arbitrary text (to find panics) with text shaped like what
//! Thunderbird, Apple, DAVx5 and sabre/vobject write (to reach the editing paths).
//!
//! The generators several parts use are here; the properties are in one file per part of the
//! client: `vobject`, `events`, `cards`, `text`, `paths`, `xml`, and `regressions` for the
//! minimal inputs they found.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::vobject::fold_line;

mod cards;
mod events;
mod paths;
mod regressions;
mod text;
mod vobject;
mod xml;

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
