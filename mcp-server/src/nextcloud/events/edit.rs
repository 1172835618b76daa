//! Edits of a stored event (the series' master): fields, times in the event's own form and
//! zone, time zone moves, reminders; every line not changed stays as stored.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use super::alarms::{set_reminders, Reminder};
use super::create::add_vtimezone;
use super::summary::event_span;
use super::{invalid, is_master_of, is_recurring, no_master, parse_object, sequence_of};
use crate::nextcloud::ical::{
    format_duration, ical_utc, in_form_of, parse_event_time, shift_series, EventTime, Moment,
};
use crate::nextcloud::timezone::parse_iana;
use crate::nextcloud::vobject::{write_all, Component, Property};
use crate::nextcloud::NcError;

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
pub(super) fn new_span(
    master: &Component,
    calendar: &Component,
    change: &EventChange,
    zone: Option<&EventTime>,
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
    if zone.is_some() && all_day {
        return Err(invalid(
            "an all-day event has no time zone; give timezone only for timed events",
        ));
    }
    if change.start.is_none() && change.end.is_none() && zone.is_none() {
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
    let (start_form, end_form) = match zone {
        Some(zone) => (Some(zone.clone()), Some(zone.clone())),
        None => (same_kind.then(|| start.clone()), end_form),
    };
    // The same instant in the new zone.
    let rezone = |time: &EventTime| -> Result<EventTime, NcError> {
        let instant = time.instant(calendar).ok_or_else(|| {
            invalid("the event's time zone is unknown here, so it cannot be moved to another")
        })?;
        in_form_of(
            Moment::At(instant.fixed_offset()),
            start_form.as_ref(),
            calendar,
        )
    };
    let new_start = match change.start {
        Some(moment) => {
            check_kind(&moment, "start")?;
            in_form_of(moment, start_form.as_ref(), calendar)?
        }
        None if zone.is_some() => rezone(&start)?,
        None => start.clone(),
    };
    let new_end = match change.end {
        Some(moment) => {
            check_kind(&moment, "end")?;
            exclusive_end(in_form_of(moment, end_form.as_ref(), calendar)?)
        }
        None if change.start.is_none() && zone.is_some() => rezone(&end)?,
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

/// What else an edit may change, beside [`EventChange`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MoreChange {
    /// The event's new time zone: an IANA name, or `UTC`. The event keeps its instants unless
    /// start/end are given, which are then placed in this zone.
    pub timezone: Option<String>,
    /// Replaces the reminders (`Some(vec![])` removes them all).
    pub reminders: Option<Vec<Reminder>>,
    /// The user's address, for e-mail reminders.
    pub alarm_email: Option<String>,
}

impl MoreChange {
    pub fn is_empty(&self) -> bool {
        self.timezone.is_none() && self.reminders.is_none()
    }
}

/// A sample time in the form a `timezone` argument asks for.
fn zone_form(timezone: &str) -> Result<EventTime, NcError> {
    let name = timezone.trim();
    if ["UTC", "Z", "Etc/UTC", "GMT", "Etc/GMT"]
        .iter()
        .any(|u| u.eq_ignore_ascii_case(name))
    {
        return Ok(EventTime::Utc(DateTime::<Utc>::MIN_UTC));
    }
    let tz = parse_iana(name).ok_or_else(|| {
        NcError::InvalidInput(format!(
            "timezone must be an IANA time zone name such as \"Europe/Berlin\" or \
             \"America/New_York\" (or \"UTC\"), got \"{name}\""
        ))
    })?;
    Ok(EventTime::Zoned(NaiveDateTime::MIN, tz.name().to_owned()))
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
    update_event_data_with(data, uid, change, &MoreChange::default(), now)
}

/// [`update_event_data`] with a time zone and reminders to change as well. Reminders given
/// replace those of the series and of its separately edited occurrences.
pub fn update_event_data_with(
    data: &str,
    uid: &str,
    change: &EventChange,
    more: &MoreChange,
    now: DateTime<Utc>,
) -> Result<String, NcError> {
    let (mut roots, index) = parse_object(data)?;
    let calendar = &roots[index];
    let master = calendar
        .components()
        .find(|c| is_master_of(c, uid))
        .ok_or_else(|| no_master(uid))?;
    let zone = more.timezone.as_deref().map(zone_form).transpose()?;
    if zone.is_some() && is_recurring(calendar, uid) {
        return Err(invalid(
            "the time zone of a recurring event cannot be changed here (its occurrences would \
             move differently across daylight-saving changes); create the series anew in the \
             new zone, or change it in a calendar app",
        ));
    }
    let old_start = event_span(master).map(|(start, _)| start);
    let span = new_span(master, calendar, change, zone.as_ref())?;
    let had_dtend = master.prop("DTEND").is_some();
    let had_duration = master.prop("DURATION").is_some();

    let calendar = &mut roots[index];
    if let (Some((new_start, _)), Some(old_start)) = (&span, &old_start) {
        shift_series(calendar, uid, old_start, new_start)?;
        add_vtimezone(calendar, new_start);
    }
    let master = calendar
        .components_mut()
        .find(|c| is_master_of(c, uid))
        .ok_or_else(|| NcError::BadResponse("the event disappeared while editing".into()))?;
    apply_change(master, change, span.as_ref(), had_dtend, had_duration, now);
    let sequence = sequence_of(master).saturating_add(1);
    master.set(Property::new("SEQUENCE", sequence.to_string()));
    if let Some(reminders) = &more.reminders {
        for event in calendar
            .components_mut()
            .filter(|c| c.name == "VEVENT" && c.text("UID").as_deref() == Some(uid))
        {
            set_reminders(event, reminders, more.alarm_email.as_deref())?;
        }
    }
    Ok(write_all(&roots))
}

/// Sets the fields `change` names, the new span, and the modification stamps of `event`.
pub(super) fn apply_change(
    event: &mut Component,
    change: &EventChange,
    span: Option<&(EventTime, EventTime)>,
    had_dtend: bool,
    had_duration: bool,
    now: DateTime<Utc>,
) {
    if let Some(summary) = &change.summary {
        event.set_text("SUMMARY", summary);
    }
    if let Some((start, end)) = span {
        event.set(start.property("DTSTART"));
        if had_duration && !had_dtend && start.is_date() == end.is_date() {
            event.set(Property::new("DURATION", length_value(start, end)));
        } else {
            event.remove("DURATION");
            event.set(end.property("DTEND"));
        }
    }
    if let Some(location) = &change.location {
        event.set_text("LOCATION", location);
    }
    if let Some(description) = &change.description {
        event.set_text("DESCRIPTION", description);
    }
    event.set(Property::new("DTSTAMP", ical_utc(now)));
    event.set(Property::new("LAST-MODIFIED", ical_utc(now)));
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
