use super::*;
use crate::nextcloud::ical::{format_duration, parse_duration, EventTime, Moment};
use crate::nextcloud::vobject::added_lines;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};

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
        ..NewEvent::default()
    };
    let text = build_event("uid-1", &fields, now()).unwrap().to_text();
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

// ---- issue 15: time zones, recurrence and reminders on create; occurrences; attendees -------

const THUNDERBIRD: &str =
    include_str!("../../../../tests/fixtures/dav/calendar/thunderbird-weekly-berlin.ics");
const THUNDERBIRD_UID: &str = "3f6c1d2e-8a47-4b9c-9d1e-5a2b7c8d9e01";
const DST: &str = include_str!("../../../../tests/fixtures/dav/calendar/dst-crossing.ics");
const DST_UID: &str = "9b2e4c61-7f3a-4d85-a0c9-6e1b8d3f5a72";
const APPLE: &str = include_str!("../../../../tests/fixtures/dav/calendar/apple-daily-newyork.ics");
const APPLE_UID: &str = "5E9A3C71-2B4D-4F8E-9A61-C07D2E4B8F13";
const OUTLOOK: &str =
    include_str!("../../../../tests/fixtures/dav/calendar/outlook-windows-tz.ics");
const DAVX5_UTC: &str =
    include_str!("../../../../tests/fixtures/dav/calendar/davx5-utc-single.ics");
const DAVX5_UTC_UID: &str = "6a0d8f3e-2b71-4c9e-a5d4-1f8e3b7c9a20";
const ALLDAY: &str =
    include_str!("../../../../tests/fixtures/dav/calendar/nextcloud-web-allday.ics");
const ALLDAY_UID: &str = "b1e3f0c4-7d2a-4c59-8e16-9a0f4d2b6c73";

fn occurrence_at(data: &str, uid: &str, value: &str) -> Occurrence {
    find_occurrence(data, uid, &OccurrenceRef::parse(value).unwrap()).unwrap()
}

fn outlook_uid() -> String {
    events_of(OUTLOOK).unwrap()[0].text("UID").unwrap()
}

#[test]
fn a_new_event_in_a_zone_repeats_and_reminds() {
    let start = EventTime::Zoned(
        NaiveDate::from_ymd_opt(2026, 3, 2)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap(),
        "Europe/Berlin".into(),
    );
    let end = start.add(Duration::minutes(45));
    let calendar = Component::new("VCALENDAR");
    let rrule = normalize_rrule(
        "rrule:freq=weekly;byday=mo;until=2026-04-27",
        &start,
        &calendar,
    )
    .unwrap();
    // Through the end of 27 April in Berlin (CEST, +02:00).
    assert_eq!(rrule, "FREQ=WEEKLY;BYDAY=MO;UNTIL=20260427T215959Z");
    let fields = NewEvent {
        summary: "Stand-up".into(),
        span: Some((start, end)),
        rrule: Some(rrule),
        reminders: vec![
            Reminder {
                minutes_before: 15,
                action: AlarmAction::Display,
            },
            Reminder {
                minutes_before: 1440,
                action: AlarmAction::Email,
            },
        ],
        alarm_email: Some("alice@example.test".into()),
        ..NewEvent::default()
    };
    let text = build_event("uid-tz", &fields, now()).unwrap().to_text();
    for line in [
        "DTSTART;TZID=Europe/Berlin:20260302T090000\r\n",
        "DTEND;TZID=Europe/Berlin:20260302T094500\r\n",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20260427T215959Z\r\n",
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n",
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;RELATED=START:-PT15M\r\nDESCRIPTION:Stand-up\r\nEND:VALARM\r\n",
        "BEGIN:VALARM\r\nACTION:EMAIL\r\nTRIGGER;RELATED=START:-P1D\r\nDESCRIPTION:Stand-up\r\nSUMMARY:Stand-up\r\nATTENDEE:mailto:alice@example.test\r\nEND:VALARM\r\n",
    ] {
        assert!(text.contains(line), "{line:?} missing in\n{text}");
    }
    // The VTIMEZONE comes before the event, as the clients write it.
    assert!(text.find("BEGIN:VTIMEZONE").unwrap() < text.find("BEGIN:VEVENT").unwrap());
    let summary = summarize_event(&events_of(&text).unwrap()[0]).unwrap();
    assert_eq!(summary.timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(summary.start, "2026-03-02T09:00:00");
    assert_eq!(
        summary
            .reminders
            .iter()
            .map(|r| (r.action.as_str(), r.minutes_before))
            .collect::<Vec<_>>(),
        [("DISPLAY", Some(15)), ("EMAIL", Some(1440))]
    );
    // Without an address an e-mail reminder is refused, not written without its recipient.
    let fields = NewEvent {
        reminders: vec![Reminder {
            minutes_before: 5,
            action: AlarmAction::Email,
        }],
        alarm_email: None,
        ..fields
    };
    assert!(matches!(
        build_event("u", &fields, now()),
        Err(NcError::InvalidInput(_))
    ));
}

#[test]
fn recurrence_rules_are_checked() {
    let calendar = Component::new("VCALENDAR");
    let zoned = EventTime::Zoned(
        NaiveDate::from_ymd_opt(2026, 3, 2)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap(),
        "America/New_York".into(),
    );
    let day = EventTime::Date(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
    let utc = EventTime::Utc(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    assert_eq!(
        normalize_rrule("BYDAY=1MO,-1FR;FREQ=MONTHLY;COUNT=6", &zoned, &calendar).unwrap(),
        "FREQ=MONTHLY;BYDAY=1MO,-1FR;COUNT=6"
    );
    assert_eq!(
        normalize_rrule("FREQ=YEARLY;UNTIL=20300302", &day, &calendar).unwrap(),
        "FREQ=YEARLY;UNTIL=20300302"
    );
    assert_eq!(
        normalize_rrule("FREQ=DAILY;UNTIL=2026-03-10", &utc, &calendar).unwrap(),
        "FREQ=DAILY;UNTIL=20260310T235959Z"
    );
    assert_eq!(
        normalize_rrule("FREQ=DAILY;UNTIL=20260310T090000", &zoned, &calendar).unwrap(),
        "FREQ=DAILY;UNTIL=20260310T130000Z"
    );
    for bad in [
        "",
        "BYDAY=MO",
        "FREQ=SECONDLY",
        "FREQ=WEEKLY;COUNT=3;UNTIL=20260401",
        "FREQ=WEEKLY;BYDAY=1MO",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=MONTHLY;BYMONTHDAY=32",
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=DAILY;COUNT=100000",
        "FREQ=DAILY;FREQ=WEEKLY",
        "FREQ=DAILY;X-FOO=1",
        "FREQ=DAILY\r\nSUMMARY:x",
        "FREQ=DAILY;UNTIL=soon",
    ] {
        let err = normalize_rrule(bad, &zoned, &calendar).unwrap_err();
        assert!(matches!(err, NcError::InvalidInput(_)), "{bad:?}: {err}");
    }
}

#[test]
fn a_single_event_moves_into_a_zone_at_the_same_instant() {
    let more = MoreChange {
        timezone: Some("Europe/Berlin".into()),
        ..MoreChange::default()
    };
    let updated = update_event_data_with(
        DAVX5_UTC,
        DAVX5_UTC_UID,
        &EventChange::default(),
        &more,
        now(),
    )
    .unwrap();
    let event = events_of(&updated).unwrap().remove(0);
    let (start, end) = event_span(&event).unwrap();
    let (old_start, old_end) = event_span(&events_of(DAVX5_UTC).unwrap()[0]).unwrap();
    let calendar = calendar_of(&updated).unwrap();
    assert_eq!(start.tzid(), Some("Europe/Berlin"));
    assert_eq!(start.instant(&calendar), old_start.instant(&calendar));
    assert_eq!(end.instant(&calendar), old_end.instant(&calendar));
    assert!(updated.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"));
    // A recurring series is refused (its occurrences would move), as is an all-day event.
    let err =
        update_event_data_with(SERIES, UID, &EventChange::default(), &more, now()).unwrap_err();
    assert!(err.to_string().contains("recurring"), "{err}");
    let err = update_event_data_with(ALLDAY, ALLDAY_UID, &EventChange::default(), &more, now())
        .unwrap_err();
    assert!(err.to_string().contains("all-day"), "{err}");
    let bad = MoreChange {
        timezone: Some("Berlin time".into()),
        ..MoreChange::default()
    };
    assert!(update_event_data_with(
        DAVX5_UTC,
        DAVX5_UTC_UID,
        &EventChange::default(),
        &bad,
        now()
    )
    .is_err());
}

#[test]
fn reminders_are_replaced_and_nothing_else_changes() {
    let more = MoreChange {
        reminders: Some(vec![]),
        ..MoreChange::default()
    };
    let updated = update_event_data_with(
        THUNDERBIRD,
        THUNDERBIRD_UID,
        &EventChange::default(),
        &more,
        now(),
    )
    .unwrap();
    let (added, removed) = line_diff(THUNDERBIRD, &updated);
    assert!(!updated.contains("BEGIN:VALARM"));
    // The two alarms (master and override) are gone, the master got its stamps.
    assert_eq!(
        removed
            .iter()
            .filter(|l| l.starts_with("BEGIN:VALARM"))
            .count(),
        2
    );
    assert!(
        removed.iter().all(|l| l.contains("VALARM")
            || l.starts_with("TRIGGER")
            || l.starts_with("ACTION")
            || l.starts_with("DESCRIPTION:Default Mozilla")
            || l.starts_with("DTSTAMP")
            || l.starts_with("LAST-MODIFIED")
            || l.starts_with("SEQUENCE")),
        "{removed:?}"
    );
    assert_eq!(added.len(), 3, "{added:?}");
}

#[test]
fn one_occurrence_of_a_dst_crossing_series_is_edited_in_its_zone() {
    // 2026-04-05 02:30 Europe/Berlin (CEST) is 00:30 UTC, as calendar_list_events lists it.
    let occurrence = occurrence_at(DST, DST_UID, "2026-04-05T00:30:00Z");
    assert_eq!(
        occurrence.recurrence_id,
        EventTime::Zoned(
            NaiveDate::from_ymd_opt(2026, 4, 5)
                .unwrap()
                .and_hms_opt(2, 30, 0)
                .unwrap(),
            "Europe/Berlin".into()
        )
    );
    assert!(!occurrence.overridden);
    // A local time in the series' zone names the same occurrence.
    assert_eq!(
        occurrence_at(DST, DST_UID, "2026-04-05T02:30:00"),
        occurrence
    );
    let change = EventChange {
        summary: Some("Wartung (verschoben)".into()),
        start: Some(at("2026-04-05T04:00:00+02:00")),
        ..EventChange::default()
    };
    let more = MoreChange {
        reminders: Some(vec![Reminder {
            minutes_before: 30,
            action: AlarmAction::Display,
        }]),
        ..MoreChange::default()
    };
    let updated = update_occurrence_data(DST, DST_UID, &occurrence, &change, &more, now()).unwrap();
    // Every line of the stored object is still there; only the new occurrence was added.
    let (added, removed) = line_diff(DST, &updated);
    assert!(removed.is_empty(), "{removed:?}");
    assert!(updated.starts_with(&DST[..DST.find("END:VCALENDAR").unwrap()]));
    let events = events_of(&updated).unwrap();
    assert_eq!(events.len(), 2);
    let copy = &events[1];
    assert_eq!(copy.prop("RECURRENCE-ID").unwrap().value, "20260405T023000");
    assert_eq!(
        copy.prop("RECURRENCE-ID").unwrap().param("TZID"),
        Some("Europe/Berlin")
    );
    for line in [
        "RECURRENCE-ID;TZID=Europe/Berlin:20260405T023000\r\n",
        "DTSTART;TZID=Europe/Berlin:20260405T040000\r\n",
        "DTEND;TZID=Europe/Berlin:20260405T050000\r\n",
        "SUMMARY:Wartung (verschoben)\r\n",
        "TRIGGER;RELATED=START:-PT30M\r\n",
        "SEQUENCE:1\r\n",
    ] {
        assert!(added.iter().any(|l| l == line), "{line:?} not in {added:?}");
    }
    assert!(copy.prop("RRULE").is_none() && copy.prop("EXDATE").is_none());
    // The series' description and transparency came along (as the folded lines they were).
    assert!(added
        .iter()
        .any(|l| l.starts_with("DESCRIPTION:Failover-Test")));
    assert!(added.iter().any(|l| l == "TRANSP:TRANSPARENT\r\n"));

    // Editing it again edits that copy, found by its RECURRENCE-ID.
    let again = occurrence_at(&updated, DST_UID, "2026-04-05T00:30:00Z");
    assert!(again.overridden);
    let change = EventChange {
        location: Some("RZ 2".into()),
        ..EventChange::default()
    };
    let twice = update_occurrence_data(
        &updated,
        DST_UID,
        &again,
        &change,
        &MoreChange::default(),
        now(),
    )
    .unwrap();
    assert_eq!(events_of(&twice).unwrap().len(), 2);
    let (added, removed) = line_diff(&updated, &twice);
    assert!(added.iter().any(|l| l == "LOCATION:RZ 2\r\n"), "{added:?}");
    assert!(
        removed.iter().all(|l| l.starts_with("SEQUENCE")
            || l.starts_with("DTSTAMP")
            || l.starts_with("LAST-MODIFIED")),
        "{removed:?}"
    );
}

#[test]
fn an_edited_occurrence_of_a_thunderbird_series_is_found_by_its_instant() {
    // The override of 13 April (09:00 CEST = 07:00 UTC), moved to 10:00 by Thunderbird.
    let occurrence = occurrence_at(THUNDERBIRD, THUNDERBIRD_UID, "2026-04-13T07:00:00Z");
    assert!(occurrence.overridden);
    let change = EventChange {
        summary: Some("Release-Review".into()),
        ..EventChange::default()
    };
    let updated = update_occurrence_data(
        THUNDERBIRD,
        THUNDERBIRD_UID,
        &occurrence,
        &change,
        &MoreChange::default(),
        now(),
    )
    .unwrap();
    let (added, removed) = line_diff(THUNDERBIRD, &updated);
    assert_eq!(
        added,
        [
            "LAST-MODIFIED:20260102T030405Z\r\n",
            "DTSTAMP:20260102T030405Z\r\n",
            "SUMMARY:Release-Review\r\n",
            "SEQUENCE:5\r\n"
        ]
    );
    assert_eq!(removed.len(), 4, "{removed:?}");
    assert!(
        removed.contains(&"SUMMARY:Plattform-Weekly (verschoben: Release-Review)\r\n".to_owned())
    );
    // Switching one occurrence to all-day or to another zone is refused.
    let all_day = EventChange {
        all_day: Some(true),
        start: Some(day(2026, 4, 13)),
        ..EventChange::default()
    };
    assert!(update_occurrence_data(
        THUNDERBIRD,
        THUNDERBIRD_UID,
        &occurrence,
        &all_day,
        &MoreChange::default(),
        now()
    )
    .is_err());
    // A single event has no occurrences; a date names no occurrence of a timed series.
    assert!(find_occurrence(
        DAVX5_UTC,
        DAVX5_UTC_UID,
        &OccurrenceRef::parse("2026-04-13T07:00:00Z").unwrap()
    )
    .is_err());
    assert!(find_occurrence(
        THUNDERBIRD,
        THUNDERBIRD_UID,
        &OccurrenceRef::parse("2026-04-13").unwrap()
    )
    .is_err());
}

#[test]
fn deleting_one_occurrence_adds_an_exdate_in_the_series_form() {
    // SERIES' 23 March has an edited copy: it goes, and the EXDATE says 09:00 Berlin time.
    let occurrence = occurrence_at(SERIES, UID, "2026-03-23T08:00:00Z");
    assert!(occurrence.overridden);
    let updated = delete_occurrence_data(SERIES, UID, &occurrence, now()).unwrap();
    let (added, removed) = line_diff(SERIES, &updated);
    assert!(
        added.contains(&"EXDATE;TZID=Europe/Berlin:20260323T090000\r\n".to_owned()),
        "{added:?}"
    );
    assert!(removed.contains(&"SUMMARY:Team meeting with guests\r\n".to_owned()));
    assert_eq!(events_of(&updated).unwrap().len(), 2);
    // The new EXDATE follows the existing ones' form and sits among the series' properties.
    let master = &events_of(&updated).unwrap()[0];
    assert_eq!(master.props("EXDATE").count(), 3);
    assert!(
        updated
            .find("EXDATE;TZID=Europe/Berlin:20260323T090000")
            .unwrap()
            < updated.find("BEGIN:VALARM").unwrap()
    );

    // Apple's series in New York: the EXDATE is in New York time.
    let occurrence = occurrence_at(APPLE, APPLE_UID, "2026-06-15T13:00:00Z");
    let updated = delete_occurrence_data(APPLE, APPLE_UID, &occurrence, now()).unwrap();
    let (added, removed) = line_diff(APPLE, &updated);
    assert!(
        added.contains(&"EXDATE;TZID=America/New_York:20260615T090000\r\n".to_owned()),
        "{added:?}"
    );
    assert!(
        removed.iter().all(|l| l.starts_with("DTSTAMP")
            || l.starts_with("LAST-MODIFIED")
            || l.starts_with("SEQUENCE")),
        "{removed:?}"
    );

    // Outlook's Windows zone is placed by its VTIMEZONE: 3 March 14:00 W. Europe = 13:00 UTC.
    let uid = outlook_uid();
    let occurrence = occurrence_at(OUTLOOK, &uid, "2026-03-03T13:00:00Z");
    let updated = delete_occurrence_data(OUTLOOK, &uid, &occurrence, now()).unwrap();
    assert!(
        updated.contains("EXDATE;TZID=W. Europe Standard Time:20260303T140000\r\n"),
        "{updated}"
    );
}

#[test]
fn attendees_are_set_by_the_organizer_only() {
    let organizer = Organizer {
        email: "alice@example.com".into(),
        name: Some("Alice".into()),
    };
    let invitees = [
        Invitee {
            email: "bob@example.com".into(),
            name: Some("Bob".into()),
            optional: false,
        },
        Invitee {
            email: "carol@example.org".into(),
            name: None,
            optional: true,
        },
    ];
    let updated = set_attendees_data(SERIES, UID, &organizer, &invitees, now()).unwrap();
    let (added, removed) = line_diff(SERIES, &updated);
    // Bob's folded line is kept as it was; Carol is new (in the series and in both copies).
    assert!(updated.contains("ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:bob\r\n @example.com\r\n"));
    let carol = "ATTENDEE;CUTYPE=INDIVIDUAL;PARTSTAT=NEEDS-ACTION;ROLE=OPT-PARTICIPANT;RSVP=TRUE:mailto:carol@example.org\r\n";
    assert_eq!(
        updated.replace("\r\n ", "").matches(carol).count(),
        3,
        "{updated}"
    );
    let bob = "ATTENDEE;CN=Bob;CUTYPE=INDIVIDUAL;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:bob@example.com\r\n";
    // Bob was only in the series; its two edited occurrences now invite him too.
    assert_eq!(
        updated.replace("\r\n ", "").matches(bob).count(),
        2,
        "{updated}"
    );
    assert!(
        removed.iter().all(|l| l.starts_with("DTSTAMP")
            || l.starts_with("LAST-MODIFIED")
            || l.starts_with("SEQUENCE")),
        "{removed:?}"
    );
    assert!(added
        .iter()
        .any(|l| l.starts_with("ORGANIZER;CN=Alice:mailto:alice@example.com")));
    let summary = summarize_event(&events_of(&updated).unwrap()[0]).unwrap();
    assert_eq!(summary.organizer.as_deref(), Some("alice@example.com"));
    assert_eq!(
        summary
            .attendees
            .iter()
            .map(|a| a.email.as_str())
            .collect::<Vec<_>>(),
        ["bob@example.com", "carol@example.org"]
    );

    // Someone else's meeting (Thunderbird's, organized by Katrin) is refused.
    let err =
        set_attendees_data(THUNDERBIRD, THUNDERBIRD_UID, &organizer, &invitees, now()).unwrap_err();
    assert!(matches!(err, NcError::Forbidden(_)), "{err}");
    // [] makes it a plain event.
    let plain = set_attendees_data(SERIES, UID, &organizer, &[], now()).unwrap();
    assert!(!plain.contains("ATTENDEE") && !plain.contains("ORGANIZER"));
    assert!(plausible_email("a.b+c@example.co.uk"));
    for bad in [
        "",
        "a",
        "a@b",
        "a b@example.com",
        "a@example.com\r\nX:y",
        "<a@example.com>",
    ] {
        assert!(!plausible_email(bad), "{bad:?}");
    }
}
