//! Single occurrences of a series: finding one as a model names it, editing its own copy
//! (RECURRENCE-ID) and cancelling it (EXDATE).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};

use super::alarms::set_reminders;
use super::calendar_of;
use super::edit::{apply_change, new_span, EventChange, MoreChange};
use super::summary::event_span;
use super::{
    invalid, is_master_of, is_override_of, is_recurring, no_master, parse_object, sequence_of,
};
use crate::nextcloud::ical::{ical_utc, in_form_of, parse_event_time, EventTime, Moment};
use crate::nextcloud::vobject::{write_all, Component, Property};
use crate::nextcloud::NcError;

/// An occurrence as a model names it: its original start, as calendar_list_events gives it
/// (`recurrence_id`), as an instant, a date (all-day series) or a local time in the series'
/// zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OccurrenceRef {
    Day(NaiveDate),
    At(DateTime<FixedOffset>),
    Local(NaiveDateTime),
}

impl OccurrenceRef {
    pub fn parse(value: &str) -> Option<OccurrenceRef> {
        let value = value.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(value) {
            return Some(OccurrenceRef::At(t));
        }
        if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            return Some(OccurrenceRef::Day(d));
        }
        for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y%m%dT%H%M%S"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(value, format) {
                return Some(OccurrenceRef::Local(t));
            }
        }
        if let Some(t) = value
            .strip_suffix('Z')
            .and_then(|v| NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%S").ok())
        {
            return Some(OccurrenceRef::At(t.and_utc().fixed_offset()));
        }
        None
    }
}

/// One occurrence of a series in its object.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    /// Its RECURRENCE-ID, in the form of the series' start.
    pub recurrence_id: EventTime,
    /// Its original start as an instant (dates at midnight UTC).
    pub instant: DateTime<Utc>,
    /// Whether the object already holds an edited copy of it.
    pub overridden: bool,
}

fn occurrence_matches(component: &Component, id: &EventTime, calendar: &Component) -> bool {
    component
        .prop("RECURRENCE-ID")
        .and_then(parse_event_time)
        .is_some_and(|rid| {
            rid == *id
                || (rid.is_date() == id.is_date()
                    && rid.instant(calendar).is_some()
                    && rid.instant(calendar) == id.instant(calendar))
        })
}

/// The occurrence `occurrence` of series `uid` in `data`, named in the series' own form.
pub fn find_occurrence(
    data: &str,
    uid: &str,
    occurrence: &OccurrenceRef,
) -> Result<Occurrence, NcError> {
    let (roots, index) = parse_object(data)?;
    let calendar = &roots[index];
    let master = calendar
        .components()
        .find(|c| is_master_of(c, uid))
        .ok_or_else(|| no_master(uid))?;
    let start = event_span(master)
        .map(|(start, _)| start)
        .ok_or_else(|| NcError::BadResponse("the event has no readable start (DTSTART)".into()))?;
    if !is_recurring(calendar, uid) {
        return Err(invalid(
            "this event does not repeat; leave occurrence out to change or delete it",
        ));
    }
    let mismatch = || {
        NcError::InvalidInput(if start.is_date() {
            "this series is all-day: name the occurrence by its date (\"2026-03-09\")".into()
        } else {
            "this series is timed: name the occurrence by its original start as \
             calendar_list_events gives it in recurrence_id (e.g. \"2026-03-09T08:00:00Z\")"
                .to_string()
        })
    };
    let recurrence_id = match (&start, occurrence) {
        (EventTime::Date(_), OccurrenceRef::Day(d)) => EventTime::Date(*d),
        (EventTime::Date(_), OccurrenceRef::At(t)) => EventTime::Date(t.date_naive()),
        (EventTime::Date(_), OccurrenceRef::Local(t)) => EventTime::Date(t.date()),
        (_, OccurrenceRef::Day(_)) => return Err(mismatch()),
        (EventTime::Zoned(_, tzid), OccurrenceRef::Local(t)) => EventTime::Zoned(*t, tzid.clone()),
        (EventTime::Floating(_), OccurrenceRef::Local(t)) => EventTime::Floating(*t),
        (EventTime::Utc(_), OccurrenceRef::Local(t)) => EventTime::Utc(t.and_utc()),
        (form, OccurrenceRef::At(t)) => in_form_of(Moment::At(*t), Some(form), calendar)?,
    };
    let instant = recurrence_id
        .instant(calendar)
        .ok_or_else(|| invalid("the series' time zone is unknown here"))?;
    let overridden = calendar
        .components()
        .any(|c| is_override_of(c, uid) && occurrence_matches(c, &recurrence_id, calendar));
    Ok(Occurrence {
        recurrence_id,
        instant,
        overridden,
    })
}

/// Whether a REPORT answer expanded by the server (`C:expand`, every occurrence with a UTC
/// RECURRENCE-ID) holds the occurrence of `uid` starting originally at `instant`.
pub fn expanded_holds(data: &str, uid: &str, occurrence: &Occurrence) -> bool {
    let Ok(calendar) = calendar_of(data) else {
        return false;
    };
    let found = calendar.components().any(|c| {
        c.name == "VEVENT"
            && c.text("UID").as_deref() == Some(uid)
            && c.prop("RECURRENCE-ID")
                .and_then(parse_event_time)
                .is_some_and(|rid| {
                    rid.instant(&calendar) == Some(occurrence.instant)
                        || (rid.is_date() && occurrence.recurrence_id == rid)
                })
    });
    found
}

/// Properties of the series an occurrence's own copy does not take over.
const SERIES_ONLY: &[&str] = &[
    "RRULE",
    "RDATE",
    "EXDATE",
    "EXRULE",
    "DTSTART",
    "DTEND",
    "DURATION",
    "RECURRENCE-ID",
    "DTSTAMP",
    "LAST-MODIFIED",
    "CREATED",
    "SEQUENCE",
];

/// Changes one occurrence of series `uid`: its override (RECURRENCE-ID) is edited, or made
/// from the series (its details, attendees and reminders) and then edited. The series itself
/// and every other line stay as they are.
pub fn update_occurrence_data(
    data: &str,
    uid: &str,
    occurrence: &Occurrence,
    change: &EventChange,
    more: &MoreChange,
    now: DateTime<Utc>,
) -> Result<String, NcError> {
    if change.all_day.is_some() {
        return Err(invalid(
            "one occurrence cannot be switched between all-day and timed; change the series",
        ));
    }
    if more.timezone.is_some() {
        return Err(invalid(
            "one occurrence keeps the series' time zone; give its new start with an offset",
        ));
    }
    let (mut roots, index) = parse_object(data)?;
    let calendar = &mut roots[index];
    let master = calendar
        .components()
        .find(|c| is_master_of(c, uid))
        .ok_or_else(|| no_master(uid))?
        .clone();
    let snapshot = calendar.clone();
    if !occurrence.overridden {
        let (start, end) = event_span(&master).ok_or_else(|| {
            NcError::BadResponse("the event has no readable start (DTSTART)".into())
        })?;
        let mut copy = Component::new("VEVENT");
        for property in master.properties() {
            if !SERIES_ONLY.contains(&property.base_name()) {
                copy.push_property(property.clone());
            }
        }
        let mut recurrence_id = occurrence.recurrence_id.property("RECURRENCE-ID");
        if let Some(range) = master.prop("DTSTART").and_then(|p| p.param("VALUE")) {
            recurrence_id.set_param("VALUE", Some(range));
        }
        copy.push_property(recurrence_id);
        let own_start = occurrence.recurrence_id.clone();
        let own_end = own_start.add(end.naive() - start.naive());
        copy.push_property(own_start.property("DTSTART"));
        if master.prop("DURATION").is_some() && master.prop("DTEND").is_none() {
            if let Some(duration) = master.prop("DURATION") {
                copy.push_property(duration.clone());
            }
        } else {
            copy.push_property(own_end.property("DTEND"));
        }
        copy.push_property(Property::new("CREATED", ical_utc(now)));
        for alarm in master.components().filter(|c| c.name == "VALARM") {
            copy.push_component(alarm.clone());
        }
        calendar.push_component(copy);
    }
    let target = calendar
        .components()
        .find(|c| {
            is_override_of(c, uid) && occurrence_matches(c, &occurrence.recurrence_id, &snapshot)
        })
        .ok_or_else(|| NcError::BadResponse("the occurrence disappeared while editing".into()))?;
    let span = new_span(target, &snapshot, change, None)?;
    let had_dtend = target.prop("DTEND").is_some();
    let had_duration = target.prop("DURATION").is_some();
    let sequence = sequence_of(target)
        .max(sequence_of(&master))
        .saturating_add(1);
    let target = calendar
        .components_mut()
        .find(|c| {
            is_override_of(c, uid) && occurrence_matches(c, &occurrence.recurrence_id, &snapshot)
        })
        .ok_or_else(|| NcError::BadResponse("the occurrence disappeared while editing".into()))?;
    apply_change(target, change, span.as_ref(), had_dtend, had_duration, now);
    target.set(Property::new("SEQUENCE", sequence.to_string()));
    if let Some(reminders) = &more.reminders {
        set_reminders(target, reminders, more.alarm_email.as_deref())?;
    }
    Ok(write_all(&roots))
}

/// Cancels one occurrence of series `uid`: an EXDATE on the series (in the form of its start)
/// and its edited copy, if any, removed.
pub fn delete_occurrence_data(
    data: &str,
    uid: &str,
    occurrence: &Occurrence,
    now: DateTime<Utc>,
) -> Result<String, NcError> {
    let (mut roots, index) = parse_object(data)?;
    let calendar = &mut roots[index];
    let snapshot = calendar.clone();
    calendar.retain_components(|c| {
        !(is_override_of(c, uid) && occurrence_matches(c, &occurrence.recurrence_id, &snapshot))
    });
    let master = calendar
        .components_mut()
        .find(|c| is_master_of(c, uid))
        .ok_or_else(|| no_master(uid))?;
    master.push_property(occurrence.recurrence_id.property("EXDATE"));
    master.set(Property::new("DTSTAMP", ical_utc(now)));
    master.set(Property::new("LAST-MODIFIED", ical_utc(now)));
    let sequence = sequence_of(master).saturating_add(1);
    master.set(Property::new("SEQUENCE", sequence.to_string()));
    Ok(write_all(&roots))
}
