//! Regressions: the minimal inputs the properties found.

use super::now;
use super::paths::nextcloud;
use crate::nextcloud::events::{events_of, summarize_event, update_event_data, EventChange};
use crate::nextcloud::ical::parse_duration;
use crate::nextcloud::vobject::{parse_components, Component, Property};

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
        let session = crate::nextcloud::Session::new(
            &nc,
            crate::nextcloud::NcAuth::Bearer(mcp_shared::Secret::new("t")),
            user.into(),
        );
        assert!(session.files_url("a").is_err(), "{user:?}");
        assert!(session
            .collections_home(&crate::nextcloud::caldav::CALENDARS)
            .is_err());
        assert!(session
            .object_url(&crate::nextcloud::caldav::CALENDARS, "personal", "e.ics")
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
