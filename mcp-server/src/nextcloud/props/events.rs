//! Events (ical.rs, events.rs, timezone.rs): reading never panics, edits keep unedited lines.

use chrono::{FixedOffset, NaiveDate, TimeZone};
use proptest::prelude::*;

use super::{extra_line, group_name, line_groups, now, value_text};
use crate::nextcloud::events::{events_of, summarize_event, update_event_data, EventChange};
use crate::nextcloud::ical::{parse_duration, Moment};
use crate::nextcloud::vobject::parse_components;

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
