use super::*;
use crate::nextcloud::vobject::added_lines;
use chrono::{FixedOffset, NaiveDate, TimeZone};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

fn at(rfc3339: &str) -> Moment {
    Moment::At(DateTime::<FixedOffset>::parse_from_rfc3339(rfc3339).unwrap())
}

fn day(y: i32, m: u32, d: u32) -> Moment {
    Moment::Day(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

/// The physical lines `after` added to `before`, and those it removed.
fn line_diff(before: &str, after: &str) -> (Vec<String>, Vec<String>) {
    (added_lines(before, after), added_lines(after, before))
}

/// A weekly series as Thunderbird writes it: Europe/Berlin, EXDATEs before and after the
/// change to summer time (29 March 2026), an override moved by an hour, UNTIL in UTC.
const SERIES: &str = "BEGIN:VCALENDAR\r\n\
PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r\n\
VERSION:2.0\r\n\
BEGIN:VTIMEZONE\r\n\
TZID:Europe/Berlin\r\n\
BEGIN:DAYLIGHT\r\n\
TZOFFSETFROM:+0100\r\n\
TZOFFSETTO:+0200\r\n\
TZNAME:CEST\r\n\
DTSTART:19700329T020000\r\n\
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n\
END:DAYLIGHT\r\n\
BEGIN:STANDARD\r\n\
TZOFFSETFROM:+0200\r\n\
TZOFFSETTO:+0100\r\n\
TZNAME:CET\r\n\
DTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n\
END:STANDARD\r\n\
END:VTIMEZONE\r\n\
BEGIN:VEVENT\r\n\
CREATED:20260220T101500Z\r\n\
LAST-MODIFIED:20260220T101900Z\r\n\
DTSTAMP:20260220T101900Z\r\n\
UID:5f1c2a9e-8d4b-4c1e-9a0f-3b2d7e6c1a01\r\n\
SUMMARY:Team meeting\r\n\
ORGANIZER;CN=Alice:mailto:alice@example.com\r\n\
ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:bob\r\n\
\x20@example.com\r\n\
RRULE:FREQ=WEEKLY;UNTIL=20260427T070000Z;BYDAY=MO\r\n\
EXDATE;TZID=Europe/Berlin:20260316T090000\r\n\
EXDATE;TZID=Europe/Berlin:20260413T090000\r\n\
DTSTART;TZID=Europe/Berlin:20260302T090000\r\n\
DTEND;TZID=Europe/Berlin:20260302T100000\r\n\
SEQUENCE:2\r\n\
X-MOZ-GENERATION:3\r\n\
BEGIN:VALARM\r\n\
ACTION:DISPLAY\r\n\
TRIGGER;VALUE=DURATION:-PT15M\r\n\
DESCRIPTION:Default Mozilla Description\r\n\
END:VALARM\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
CREATED:20260220T101900Z\r\n\
LAST-MODIFIED:20260220T102000Z\r\n\
DTSTAMP:20260220T102000Z\r\n\
UID:5f1c2a9e-8d4b-4c1e-9a0f-3b2d7e6c1a01\r\n\
SUMMARY:Team meeting (moved)\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:20260406T090000\r\n\
DTSTART;TZID=Europe/Berlin:20260406T110000\r\n\
DTEND;TZID=Europe/Berlin:20260406T120000\r\n\
SEQUENCE:3\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
CREATED:20260220T102100Z\r\n\
DTSTAMP:20260220T102100Z\r\n\
UID:5f1c2a9e-8d4b-4c1e-9a0f-3b2d7e6c1a01\r\n\
SUMMARY:Team meeting with guests\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:20260323T090000\r\n\
DTSTART;TZID=Europe/Berlin:20260323T090000\r\n\
DTEND;TZID=Europe/Berlin:20260323T100000\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

const UID: &str = "5f1c2a9e-8d4b-4c1e-9a0f-3b2d7e6c1a01";

#[test]
fn an_unchanged_object_is_written_back_byte_for_byte() {
    let calendar = calendar_of(SERIES).unwrap();
    assert_eq!(calendar.to_text(), SERIES);
    let lf = SERIES.replace("\r\n", "\n");
    assert_eq!(calendar_of(&lf).unwrap().to_text(), lf);
}

#[test]
fn moving_a_zoned_series_moves_its_exceptions_in_its_own_zone() {
    // 09:00 → 09:30 Europe/Berlin, given as a model would: an instant with the winter offset.
    let change = EventChange {
        start: Some(at("2026-03-02T09:30:00+01:00")),
        ..EventChange::default()
    };
    let updated = update_event_data(SERIES, UID, &change, now()).unwrap();
    let (added, removed) = line_diff(SERIES, &updated);
    let expected_added = [
        "RRULE:FREQ=WEEKLY;UNTIL=20260427T073000Z;BYDAY=MO\r\n",
        "EXDATE;TZID=Europe/Berlin:20260316T093000\r\n",
        "EXDATE;TZID=Europe/Berlin:20260413T093000\r\n",
        "DTSTART;TZID=Europe/Berlin:20260302T093000\r\n",
        "DTEND;TZID=Europe/Berlin:20260302T103000\r\n",
        "SEQUENCE:3\r\n",
        "LAST-MODIFIED:20260102T030405Z\r\n",
        "DTSTAMP:20260102T030405Z\r\n",
        // The override moved by hand keeps its time; only its RECURRENCE-ID follows.
        "RECURRENCE-ID;TZID=Europe/Berlin:20260406T093000\r\n",
        // The override that kept its occurrence's time moves with the series.
        "RECURRENCE-ID;TZID=Europe/Berlin:20260323T093000\r\n",
        "DTSTART;TZID=Europe/Berlin:20260323T093000\r\n",
        "DTEND;TZID=Europe/Berlin:20260323T103000\r\n",
    ];
    for line in expected_added {
        assert!(
            added.contains(&line.to_owned()),
            "missing {line:?} in\n{updated}"
        );
    }
    assert_eq!(
        added.len(),
        expected_added.len(),
        "unexpected changes: {added:#?}"
    );
    assert_eq!(removed.len(), expected_added.len(), "removed: {removed:#?}");
    // Everything else is untouched: the folded ATTENDEE, the alarm, X- properties.
    for kept in [
        "ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:bob\r\n @example.com\r\n",
        "X-MOZ-GENERATION:3\r\n",
        "DTSTART;TZID=Europe/Berlin:20260406T110000\r\n",
        "SEQUENCE:3\r\nEND:VEVENT",
    ] {
        assert!(updated.contains(kept), "{kept:?}");
    }
}

#[test]
fn moving_a_weekly_series_to_another_day_moves_its_weekday() {
    let change = EventChange {
        start: Some(at("2026-03-03T08:00:00Z")), // Tuesday 09:00 Berlin
        ..EventChange::default()
    };
    let updated = update_event_data(SERIES, UID, &change, now()).unwrap();
    assert!(updated.contains("RRULE:FREQ=WEEKLY;UNTIL=20260428T070000Z;BYDAY=TU\r\n"));
    assert!(updated.contains("EXDATE;TZID=Europe/Berlin:20260317T090000\r\n"));
    assert!(updated.contains("RECURRENCE-ID;TZID=Europe/Berlin:20260407T090000\r\n"));
    // A monthly rule on the second Tuesday cannot follow a move to another day.
    let monthly = SERIES.replace(
        "RRULE:FREQ=WEEKLY;UNTIL=20260427T070000Z;BYDAY=MO",
        "RRULE:FREQ=MONTHLY;BYDAY=1MO",
    );
    let err = update_event_data(&monthly, UID, &change, now()).unwrap_err();
    assert!(err.to_string().contains("FREQ=MONTHLY;BYDAY=1MO"), "{err}");
}

#[test]
fn utc_exceptions_of_a_zoned_series_move_on_its_wall_clock() {
    // Some clients write EXDATE and RECURRENCE-ID in UTC. 16 March 09:00 CET = 08:00Z;
    // 13 April 09:00 CEST = 07:00Z. Moving the series by 30 minutes moves both by 30 minutes.
    let utc = SERIES
        .replace(
            "EXDATE;TZID=Europe/Berlin:20260316T090000",
            "EXDATE:20260316T080000Z",
        )
        .replace(
            "EXDATE;TZID=Europe/Berlin:20260413T090000",
            "EXDATE:20260413T070000Z",
        );
    let change = EventChange {
        start: Some(at("2026-03-02T08:30:00Z")),
        ..EventChange::default()
    };
    let updated = update_event_data(&utc, UID, &change, now()).unwrap();
    assert!(updated.contains("EXDATE:20260316T083000Z\r\n"), "{updated}");
    assert!(updated.contains("EXDATE:20260413T073000Z\r\n"), "{updated}");
}

#[test]
fn changing_details_keeps_times_and_every_other_line() {
    let change = EventChange {
        summary: Some("Weekly sync".into()),
        location: Some("Room 4".into()),
        ..EventChange::default()
    };
    let updated = update_event_data(SERIES, UID, &change, now()).unwrap();
    let (mut added, removed) = line_diff(SERIES, &updated);
    added.sort();
    assert_eq!(
        added,
        [
            "DTSTAMP:20260102T030405Z\r\n",
            "LAST-MODIFIED:20260102T030405Z\r\n",
            "LOCATION:Room 4\r\n",
            "SEQUENCE:3\r\n",
            "SUMMARY:Weekly sync\r\n",
        ]
    );
    assert_eq!(
        removed,
        [
            "LAST-MODIFIED:20260220T101900Z\r\n",
            "DTSTAMP:20260220T101900Z\r\n",
            "SUMMARY:Team meeting\r\n",
            "SEQUENCE:2\r\n",
        ]
    );
}

#[test]
fn a_floating_event_keeps_the_wall_clock_time_given() {
    let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:f\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260310T090000\r\nDURATION:PT45M\r\nSUMMARY:Floating\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let change = EventChange {
        start: Some(at("2026-03-11T14:00:00-05:00")),
        ..EventChange::default()
    };
    let updated = update_event_data(text, "f", &change, now()).unwrap();
    assert!(updated.contains("DTSTART:20260311T140000\r\n"), "{updated}");
    // DURATION stays DURATION (the length did not change).
    assert!(updated.contains("DURATION:PT45M\r\n"), "{updated}");
    assert!(!updated.contains("DTEND"));
}

#[test]
fn events_in_a_windows_zone_are_placed_by_their_vtimezone() {
    let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:Microsoft Exchange Server 2010\r\nBEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=W. Europe Standard Time:20260707T100000\r\nDTEND;TZID=W. Europe Standard Time:20260707T110000\r\nSUMMARY:Summer\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let change = EventChange {
        start: Some(at("2026-07-07T09:00:00Z")),
        ..EventChange::default()
    };
    let updated = update_event_data(text, "w", &change, now()).unwrap();
    assert!(updated.contains("DTSTART;TZID=W. Europe Standard Time:20260707T110000\r\n"));
    assert!(updated.contains("DTEND;TZID=W. Europe Standard Time:20260707T120000\r\n"));
}

#[test]
fn all_day_changes_and_bad_spans() {
    let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260801\r\nDTEND;VALUE=DATE:20260804\r\nSUMMARY:Holiday\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    // Moving keeps three days.
    let moved = EventChange {
        start: Some(day(2026, 9, 1)),
        ..EventChange::default()
    };
    let updated = update_event_data(text, "a", &moved, now()).unwrap();
    assert!(updated.contains("DTSTART;VALUE=DATE:20260901\r\n"));
    assert!(updated.contains("DTEND;VALUE=DATE:20260904\r\n"));
    // The last day is inclusive for the model.
    let shorter = EventChange {
        end: Some(day(2026, 8, 1)),
        ..EventChange::default()
    };
    let updated = update_event_data(text, "a", &shorter, now()).unwrap();
    assert!(updated.contains("DTEND;VALUE=DATE:20260802\r\n"));
    for bad in [
        EventChange {
            end: Some(day(2026, 7, 30)),
            ..EventChange::default()
        },
        EventChange {
            all_day: Some(false),
            ..EventChange::default()
        },
        EventChange {
            start: Some(at("2026-08-01T10:00:00Z")),
            ..EventChange::default()
        },
    ] {
        assert!(
            matches!(
                update_event_data(text, "a", &bad, now()),
                Err(NcError::InvalidInput(_))
            ),
            "{bad:?}"
        );
    }
    // Switching to a timed event (no zone to keep: UTC).
    let timed = EventChange {
        start: Some(at("2026-08-01T10:00:00+02:00")),
        all_day: Some(false),
        ..EventChange::default()
    };
    let updated = update_event_data(text, "a", &timed, now()).unwrap();
    assert!(
        updated.contains("DTSTART:20260801T080000Z\r\n"),
        "{updated}"
    );
    assert!(updated.contains("DTEND:20260801T090000Z\r\n"), "{updated}");
}

#[test]
fn summaries_of_timed_all_day_and_recurring_events() {
    let events = events_of(SERIES).unwrap();
    assert_eq!(events.len(), 3);
    let master = summarize_event(&events[0]).unwrap();
    assert_eq!(master.start, "2026-03-02T09:00:00");
    assert_eq!(master.end, "2026-03-02T10:00:00");
    assert_eq!(master.timezone.as_deref(), Some("Europe/Berlin"));
    assert!(master.recurring);
    let moved = summarize_event(&events[1]).unwrap();
    assert_eq!(moved.recurrence_id.as_deref(), Some("2026-04-06T09:00:00"));

    let start = EventTime::Utc(Utc.with_ymd_and_hms(2025, 3, 14, 14, 0, 0).unwrap());
    let end = EventTime::Utc(Utc.with_ymd_and_hms(2025, 3, 14, 15, 30, 0).unwrap());
    let description = format!("Agenda; items, and\nmore\\{}", "ü".repeat(80));
    let fields = NewEvent {
        summary: "Planning, Q2; \"core\"".into(),
        span: Some((start, end)),
        location: Some("Room 1".into()),
        description: Some(description.clone()),
    };
    let text = build_event("uid-1", &fields, now()).to_text();
    assert!(text.contains("DTSTART:20250314T140000Z\r\n"));
    assert!(text.contains("SUMMARY:Planning\\, Q2\\; \"core\"\r\n"));
    assert!(text.lines().all(|l| l.len() <= 75));
    let summary = summarize_event(&events_of(&text).unwrap()[0]).unwrap();
    assert_eq!(summary.summary, "Planning, Q2; \"core\"");
    assert_eq!(summary.end, "2025-03-14T15:30:00Z");
    assert_eq!(summary.description.as_deref(), Some(description.as_str()));
    assert!(!summary.recurring);

    let all_day = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART;VALUE=DATE:20250801\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let summary = summarize_event(&events_of(all_day).unwrap()[0]).unwrap();
    assert!(summary.all_day);
    assert_eq!(
        (summary.start.as_str(), summary.end.as_str()),
        ("2025-08-01", "2025-08-01")
    );
}

#[test]
fn an_event_in_the_spring_forward_gap_can_be_edited_and_moved() {
    // 02:30–03:30 Europe/Berlin on 29 March 2026: 02:30 does not exist, both ends are 01:30Z.
    let text = SERIES
        .replace(
            "DTSTART;TZID=Europe/Berlin:20260302T090000",
            "DTSTART;TZID=Europe/Berlin:20260329T023000",
        )
        .replace(
            "DTEND;TZID=Europe/Berlin:20260302T100000",
            "DTEND;TZID=Europe/Berlin:20260329T033000",
        );
    let details = EventChange {
        summary: Some("Nachtschicht".into()),
        ..EventChange::default()
    };
    assert!(update_event_data(&text, UID, &details, now()).is_ok());
    let end_only = EventChange {
        end: Some(at("2026-03-29T04:00:00+02:00")),
        ..EventChange::default()
    };
    let updated = update_event_data(&text, UID, &end_only, now()).unwrap();
    assert!(
        updated.contains("DTEND;TZID=Europe/Berlin:20260329T040000\r\n"),
        "{updated}"
    );
}

#[test]
fn durations() {
    assert_eq!(parse_duration("PT1H30M"), Some(Duration::minutes(90)));
    assert_eq!(parse_duration("P1W"), Some(Duration::weeks(1)));
    assert_eq!(parse_duration("-P1DT2H"), Some(-Duration::hours(26)));
    assert_eq!(parse_duration("P"), None);
    assert_eq!(parse_duration("PT5"), None);
    assert_eq!(parse_duration("P1H"), None);
    assert_eq!(format_duration(Duration::minutes(90)), "PT1H30M");
    assert_eq!(format_duration(Duration::hours(26)), "P1DT2H");
    assert_eq!(format_duration(Duration::zero()), "PT0S");
}
