use chrono::{NaiveDate, TimeZone, Utc};

use super::args::{ReminderAction, ReminderArg};
use super::parse::{
    color_of, parse_moment, parse_range_bound, reminders_of, span_from_args, span_in_zone,
    truncate_chars,
};
use crate::nextcloud::events::MAX_REMINDER_MINUTES;
use crate::nextcloud::ical::{EventTime, Moment};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> EventTime {
    EventTime::Utc(Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap())
}

fn day(y: i32, m: u32, d: u32) -> EventTime {
    EventTime::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

#[test]
fn range_bounds() {
    assert_eq!(
        parse_range_bound("2025-03-10T00:00:00+01:00", "start").unwrap(),
        Utc.with_ymd_and_hms(2025, 3, 9, 23, 0, 0).unwrap()
    );
    assert_eq!(
        parse_range_bound("2025-03-10", "start").unwrap(),
        Utc.with_ymd_and_hms(2025, 3, 10, 0, 0, 0).unwrap()
    );
    assert!(parse_range_bound("next monday", "start").is_err());
}

#[test]
fn spans_from_arguments() {
    assert_eq!(
        span_from_args("2025-03-14T15:00:00+01:00", None, false).unwrap(),
        (utc(2025, 3, 14, 14, 0), utc(2025, 3, 14, 15, 0))
    );
    assert_eq!(
        span_from_args("2025-08-01", Some("2025-08-03"), true).unwrap(),
        (day(2025, 8, 1), day(2025, 8, 4))
    );
    assert_eq!(
        span_from_args("2025-08-01", None, true).unwrap(),
        (day(2025, 8, 1), day(2025, 8, 2))
    );
    let err = span_from_args("2025-03-14T15:00:00", None, false).unwrap_err();
    assert!(err.to_string().contains("offset"), "{err}");
    let err = span_from_args("2025-03-14", None, false).unwrap_err();
    assert!(err.to_string().contains("all_day"), "{err}");
    assert!(span_from_args("2025-03-14T15:00:00Z", Some("2025-03-14T14:00:00Z"), false).is_err());
    assert!(span_from_args("2025-08-03", Some("2025-08-01"), true).is_err());
}

#[test]
fn moments_for_updates() {
    assert_eq!(
        parse_moment("2025-03-14", "start").unwrap(),
        Moment::Day(NaiveDate::from_ymd_opt(2025, 3, 14).unwrap())
    );
    assert!(matches!(
        parse_moment("2025-03-14T15:00:00+01:00", "start").unwrap(),
        Moment::At(_)
    ));
    let err = parse_moment("2025-03-14T15:00:00", "start").unwrap_err();
    assert!(err.to_string().contains("offset"), "{err}");
}

#[test]
fn zoned_spans_and_colours() {
    let zoned = |y, mo, d, h, mi| {
        EventTime::Zoned(
            NaiveDate::from_ymd_opt(y, mo, d)
                .unwrap()
                .and_hms_opt(h, mi, 0)
                .unwrap(),
            "Europe/Berlin".into(),
        )
    };
    // Local times as given; an instant placed in the zone (summer time: +02:00).
    assert_eq!(
        span_in_zone("2026-03-02T09:00", None, "Europe/Berlin").unwrap(),
        (zoned(2026, 3, 2, 9, 0), zoned(2026, 3, 2, 10, 0))
    );
    assert_eq!(
        span_in_zone(
            "2026-07-01T07:00:00Z",
            Some("2026-07-01T10:30:00+02:00"),
            "europe/berlin"
        )
        .unwrap(),
        (zoned(2026, 7, 1, 9, 0), zoned(2026, 7, 1, 10, 30))
    );
    assert!(span_in_zone(
        "2026-03-02T09:00",
        Some("2026-03-02T08:00"),
        "Europe/Berlin"
    )
    .is_err());
    let err = span_in_zone("2026-03-02T09:00", None, "CET+1").unwrap_err();
    assert!(err.to_string().contains("IANA"), "{err}");
    assert!(span_in_zone("tomorrow", None, "Europe/Berlin").is_err());
    assert_eq!(
        color_of(Some("#FF7A00".into())).unwrap().as_deref(),
        Some("#ff7a00")
    );
    assert_eq!(
        color_of(Some("0082c9".into())).unwrap().as_deref(),
        Some("#0082c9")
    );
    assert_eq!(color_of(Some(" ".into())).unwrap(), None);
    for bad in ["red", "#12345", "#GGGGGG"] {
        assert!(color_of(Some(bad.into())).is_err(), "{bad}");
    }
    let too_many = (0..11)
        .map(|_| ReminderArg {
            minutes_before: 5,
            action: ReminderAction::Display,
        })
        .collect();
    assert!(reminders_of(Some(too_many)).is_err());
    assert!(reminders_of(Some(vec![ReminderArg {
        minutes_before: MAX_REMINDER_MINUTES + 1,
        action: ReminderAction::Email,
    }]))
    .is_err());
}

#[test]
fn descriptions_are_cut_on_characters() {
    assert_eq!(truncate_chars("äöü", 2), "äö…");
    assert_eq!(truncate_chars("abc", 3), "abc");
}
