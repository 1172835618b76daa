//! What a model sees of an event: its span, a summary with reminders and attendees.

use chrono::Duration;
use serde::Serialize;

use crate::nextcloud::ical::{parse_duration, parse_event_time, EventTime};
use crate::nextcloud::vobject::{Component, Property};

/// The fields of one VEVENT a model gets to see.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSummary {
    pub uid: String,
    pub summary: String,
    /// `YYYY-MM-DD` for all-day events, else a date-time (UTC `…Z`, or local time in
    /// `timezone`).
    pub start: String,
    /// For all-day events the last day (inclusive); else the end time.
    pub end: String,
    pub all_day: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Part of a recurring series (an occurrence, or the series itself).
    pub recurring: bool,
    /// For an occurrence of a recurring event: which one (its original start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recurrence_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rrule: Option<String>,
    /// Reminders (VALARMs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reminders: Vec<ReminderInfo>,
    /// The organizer's e-mail address (events with attendees).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizer: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<AttendeeInfo>,
}

/// One reminder of an event as a model sees it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReminderInfo {
    /// `DISPLAY` (a notification), `EMAIL`, `AUDIO`…
    pub action: String,
    /// Minutes before the start (negative: after it); absent for a reminder at a fixed time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes_before: Option<i64>,
    /// Minutes before the end, for a reminder relative to the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes_before_end: Option<i64>,
    /// A reminder at a fixed time (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// One attendee of an event.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AttendeeInfo {
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// PARTSTAT: NEEDS-ACTION, ACCEPTED, DECLINED, TENTATIVE, DELEGATED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// ROLE: REQ-PARTICIPANT, OPT-PARTICIPANT, CHAIR, NON-PARTICIPANT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// What the server did with the invitation (SCHEDULE-STATUS): `1.x` sent or delivered,
    /// `3.7` an address it could not use, `5.x` not delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_status: Option<String>,
}

/// Start and end of a VEVENT: DTEND, else DTSTART + DURATION, else the RFC 5545 defaults
/// (one day for dates, zero length for date-times). The end is exclusive.
pub fn event_span(event: &Component) -> Option<(EventTime, EventTime)> {
    let start = event.prop("DTSTART").and_then(parse_event_time)?;
    let end = event
        .prop("DTEND")
        .and_then(parse_event_time)
        .or_else(|| {
            let duration = parse_duration(&event.prop("DURATION")?.value)?;
            Some(start.add(duration))
        })
        .unwrap_or_else(|| match start {
            EventTime::Date(_) => start.add(Duration::days(1)),
            ref other => other.clone(),
        });
    Some((start, end))
}

/// Summarizes one VEVENT.
pub fn summarize_event(event: &Component) -> Option<EventSummary> {
    let (start, end) = event_span(event)?;
    let all_day = start.is_date();
    let end = match (&start, end) {
        // iCalendar's DTEND of an all-day event is the day after; models get the last day.
        (EventTime::Date(s), EventTime::Date(e)) => {
            EventTime::Date(if e > *s { e - Duration::days(1) } else { *s })
        }
        (_, e) => e,
    };
    let recurrence_id = event
        .prop("RECURRENCE-ID")
        .and_then(parse_event_time)
        .map(|t| t.display());
    let rrule = event.prop("RRULE").map(|p| p.value.clone());
    Some(EventSummary {
        uid: event.text("UID").unwrap_or_default(),
        summary: event.text("SUMMARY").unwrap_or_default(),
        start: start.display(),
        end: end.display(),
        all_day,
        timezone: start.tzid().map(str::to_owned),
        location: event.text("LOCATION"),
        description: event.text("DESCRIPTION"),
        status: event.text("STATUS"),
        recurring: recurrence_id.is_some() || rrule.is_some(),
        recurrence_id,
        rrule,
        reminders: event
            .components()
            .filter(|c| c.name == "VALARM")
            .filter_map(reminder_info)
            .collect(),
        organizer: event.prop("ORGANIZER").map(|p| address_of(&p.value)),
        attendees: event.props("ATTENDEE").map(attendee_info).collect(),
    })
}

/// `mailto:a@b.example` → `a@b.example` (other URIs as they are).
pub fn address_of(value: &str) -> String {
    let value = value.trim();
    match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => value[7..].to_owned(),
        _ => value.to_owned(),
    }
}

fn attendee_info(property: &Property) -> AttendeeInfo {
    let param = |name: &str| property.param(name).map(str::to_owned);
    AttendeeInfo {
        email: address_of(&property.value),
        name: param("CN"),
        status: param("PARTSTAT"),
        role: param("ROLE"),
        schedule_status: param("SCHEDULE-STATUS"),
    }
}

fn reminder_info(alarm: &Component) -> Option<ReminderInfo> {
    let trigger = alarm.prop("TRIGGER")?;
    let action = alarm
        .prop("ACTION")
        .map(|p| p.value.trim().to_ascii_uppercase())
        .unwrap_or_else(|| "DISPLAY".into());
    let mut info = ReminderInfo {
        action,
        minutes_before: None,
        minutes_before_end: None,
        at: None,
    };
    let absolute = trigger
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE-TIME"));
    if absolute {
        info.at = parse_event_time(trigger).map(|t| t.display());
    } else {
        let before = -parse_duration(&trigger.value)?.num_minutes();
        if trigger
            .param("RELATED")
            .is_some_and(|r| r.eq_ignore_ascii_case("END"))
        {
            info.minutes_before_end = Some(before);
        } else {
            info.minutes_before = Some(before);
        }
    }
    Some(info)
}
