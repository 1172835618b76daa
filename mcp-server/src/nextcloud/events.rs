//! Events (VEVENT, RFC 5545) as the calendar tools see and change them: a summary for a model,
//! a new event, and an edit of a stored object that changes only what was asked for. The stored
//! text is edited in place ([`super::vobject`] keeps every other line byte for byte), times stay
//! in the form and zone they were written in, and moving a recurring series moves its
//! exceptions with it ([`super::ical::shift_series`]).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::ical::{
    format_duration, ical_utc, in_form_of, parse_duration, parse_event_time, shift_series,
    EventTime, Moment,
};
use super::vobject::{parse_components, write_all, Component, Property};
use super::NcError;

pub const PRODID: &str = "-//Nextcloud MCP Server//EN";

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
    })
}

/// The VCALENDAR of an iCalendar object.
pub fn calendar_of(data: &str) -> Result<Component, NcError> {
    parse_components(data)
        .map_err(|e| NcError::BadResponse(format!("an event is not valid iCalendar ({e})")))?
        .into_iter()
        .find(|c| c.name == "VCALENDAR")
        .ok_or_else(|| NcError::BadResponse("the object has no VCALENDAR".into()))
}

/// The VEVENTs of an iCalendar object.
pub fn events_of(data: &str) -> Result<Vec<Component>, NcError> {
    Ok(calendar_of(data)?
        .into_components()
        .filter(|c| c.name == "VEVENT")
        .collect())
}

/// What a new event holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewEvent {
    pub summary: String,
    /// Start and exclusive end (iCalendar semantics).
    pub span: Option<(EventTime, EventTime)>,
    pub location: Option<String>,
    pub description: Option<String>,
}

/// A new VCALENDAR with one VEVENT.
pub fn build_event(uid: &str, fields: &NewEvent, now: DateTime<Utc>) -> Component {
    let mut event = Component::new("VEVENT");
    event.push_property(Property::text("UID", uid));
    event.push_property(Property::new("DTSTAMP", ical_utc(now)));
    event.push_property(Property::new("CREATED", ical_utc(now)));
    event.push_property(Property::new("LAST-MODIFIED", ical_utc(now)));
    event.push_property(Property::text("SUMMARY", &fields.summary));
    if let Some((start, end)) = &fields.span {
        event.push_property(start.property("DTSTART"));
        event.push_property(end.property("DTEND"));
    }
    for (name, value) in [
        ("LOCATION", &fields.location),
        ("DESCRIPTION", &fields.description),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            event.push_property(Property::text(name, value));
        }
    }
    let mut calendar = Component::new("VCALENDAR");
    calendar.push_property(Property::new("VERSION", "2.0"));
    calendar.push_property(Property::text("PRODID", PRODID));
    calendar.push_property(Property::new("CALSCALE", "GREGORIAN"));
    calendar.push_component(event);
    calendar
}

/// What to change in a stored event; `None` leaves a field as it is, blank location or
/// description removes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventChange {
    pub summary: Option<String>,
    pub start: Option<Moment>,
    /// For all-day events the last day (inclusive), else the end time.
    pub end: Option<Moment>,
    pub all_day: Option<bool>,
    pub location: Option<String>,
    pub description: Option<String>,
}

impl EventChange {
    pub fn is_empty(&self) -> bool {
        self == &EventChange::default()
    }
}

fn invalid(message: &str) -> NcError {
    NcError::InvalidInput(message.into())
}

/// A model's end value as an exclusive end: an all-day event's last day becomes the day after.
fn exclusive_end(end: EventTime) -> EventTime {
    match end {
        EventTime::Date(last) => EventTime::Date(last + Duration::days(1)),
        other => other,
    }
}

/// Whether `end` is after `start`: on the wall clock when both are in the same zone (an event
/// from 02:30 to 03:30 on the night clocks go forward is an hour long to the person, though
/// both ends are the same instant), else as instants where both can be placed.
fn ends_after(start: &EventTime, end: &EventTime, calendar: &Component) -> bool {
    let same_clock = match (start, end) {
        (EventTime::Zoned(_, a), EventTime::Zoned(_, b)) => a == b,
        (EventTime::Zoned(..), _) | (_, EventTime::Zoned(..)) => false,
        _ => true,
    };
    if same_clock {
        return end.naive() > start.naive();
    }
    match (start.instant(calendar), end.instant(calendar)) {
        (Some(s), Some(e)) => e > s,
        _ => end.naive() > start.naive(),
    }
}

/// The new start and exclusive end of `master`, each in the form the event uses, or `None` if
/// its time does not change.
fn new_span(
    master: &Component,
    calendar: &Component,
    change: &EventChange,
) -> Result<Option<(EventTime, EventTime)>, NcError> {
    let (start, end) = event_span(master)
        .ok_or_else(|| NcError::BadResponse("the event has no readable start (DTSTART)".into()))?;
    let was_all_day = start.is_date();
    let all_day = change.all_day.unwrap_or(was_all_day);
    if all_day != was_all_day && change.start.is_none() {
        return Err(invalid(
            "changing all_day needs start (and optionally end) in the new format",
        ));
    }
    if change.start.is_none() && change.end.is_none() {
        // Nothing to check: an event stored with a zero length (DTSTART only) stays editable.
        return Ok(None);
    }
    let check_kind = |moment: &Moment, what: &str| match (moment, all_day) {
        (Moment::Day(_), true) | (Moment::At(_), false) => Ok(()),
        (Moment::At(_), true) => Err(NcError::InvalidInput(format!(
            "{what} must be a date such as \"2025-03-14\" for an all-day event"
        ))),
        (Moment::Day(_), false) => Err(NcError::InvalidInput(format!(
            "{what} must be a date-time with offset such as \"2025-03-14T15:00:00+01:00\" (a \
             plain date is only valid with all_day=true)"
        ))),
    };
    // Times keep the event's form (zone, floating, UTC) unless the kind of event changes.
    let same_kind = all_day == was_all_day;
    let end_form = match master.prop("DTEND").and_then(parse_event_time) {
        Some(dtend) if same_kind => Some(dtend),
        _ if same_kind => Some(start.clone()),
        _ => None,
    };
    let new_start = match change.start {
        Some(moment) => {
            check_kind(&moment, "start")?;
            in_form_of(moment, same_kind.then_some(&start), calendar)?
        }
        None => start.clone(),
    };
    let new_end = match change.end {
        Some(moment) => {
            check_kind(&moment, "end")?;
            exclusive_end(in_form_of(moment, end_form.as_ref(), calendar)?)
        }
        None if change.start.is_none() => end.clone(),
        None if same_kind && end.naive() > start.naive() => {
            // Keep the length on the wall clock.
            new_start.add(end.naive() - start.naive())
        }
        None if all_day => new_start.add(Duration::days(1)),
        None => new_start.add(Duration::hours(1)),
    };
    if !ends_after(&new_start, &new_end, calendar) {
        return Err(invalid(if all_day {
            "end (the last day) must not be before start"
        } else {
            "end must be after start"
        }));
    }
    if new_start == start && new_end == end {
        return Ok(None);
    }
    Ok(Some((new_start, new_end)))
}

/// Changes the master VEVENT (the one without RECURRENCE-ID) of the object `data` as `change`
/// says and returns the new text: every line not changed is kept as stored, times keep their
/// zone, and a recurring series keeps its exceptions ([`shift_series`]).
pub fn update_event_data(
    data: &str,
    uid: &str,
    change: &EventChange,
    now: DateTime<Utc>,
) -> Result<String, NcError> {
    let mut roots = parse_components(data)
        .map_err(|e| NcError::BadResponse(format!("the event is not valid iCalendar ({e})")))?;
    let index = roots
        .iter()
        .position(|c| c.name == "VCALENDAR")
        .ok_or_else(|| NcError::BadResponse("the object has no VCALENDAR".into()))?;
    let is_master = |c: &Component| {
        c.name == "VEVENT"
            && c.text("UID").as_deref() == Some(uid)
            && c.prop("RECURRENCE-ID").is_none()
    };
    let calendar = &roots[index];
    let master = calendar
        .components()
        .find(|c| is_master(c))
        .ok_or_else(|| {
            NcError::NotFound(format!(
                "event {uid} has only single occurrences here, which cannot be changed as a series"
            ))
        })?;
    let old_start = event_span(master).map(|(start, _)| start);
    let span = new_span(master, calendar, change)?;
    let had_dtend = master.prop("DTEND").is_some();
    let had_duration = master.prop("DURATION").is_some();

    let calendar = &mut roots[index];
    if let (Some((new_start, _)), Some(old_start)) = (&span, &old_start) {
        shift_series(calendar, uid, old_start, new_start)?;
    }
    let master = calendar
        .components_mut()
        .find(|c| is_master(c))
        .ok_or_else(|| NcError::BadResponse("the event disappeared while editing".into()))?;
    if let Some(summary) = &change.summary {
        master.set_text("SUMMARY", summary);
    }
    if let Some((start, end)) = &span {
        master.set(start.property("DTSTART"));
        if had_duration && !had_dtend && start.is_date() == end.is_date() {
            master.set(Property::new("DURATION", length_value(start, end)));
        } else {
            master.remove("DURATION");
            master.set(end.property("DTEND"));
        }
    }
    if let Some(location) = &change.location {
        master.set_text("LOCATION", location);
    }
    if let Some(description) = &change.description {
        master.set_text("DESCRIPTION", description);
    }
    master.set(Property::new("DTSTAMP", ical_utc(now)));
    master.set(Property::new("LAST-MODIFIED", ical_utc(now)));
    let sequence = master
        .prop("SEQUENCE")
        .and_then(|p| p.value.trim().parse::<u32>().ok())
        .unwrap_or(0);
    master.set(Property::new(
        "SEQUENCE",
        sequence.saturating_add(1).to_string(),
    ));
    Ok(write_all(&roots))
}

/// The DURATION between two times of the same kind (whole days for all-day events).
fn length_value(start: &EventTime, end: &EventTime) -> String {
    let length = end.naive() - start.naive();
    if start.is_date() {
        format!("P{}D", length.num_days().max(1))
    } else {
        format_duration(length)
    }
}

#[cfg(test)]
mod tests;
