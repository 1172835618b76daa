//! New tasks: dates checked, reminders, categories normalised.

use chrono::{DateTime, Utc};

use super::{invalid, Status};
use crate::nextcloud::events::PRODID;
use crate::nextcloud::ical::{format_duration, ical_utc, EventTime, Moment};
use crate::nextcloud::vobject::{escape_text, Component, Property};
use crate::nextcloud::NcError;

/// A model's time for a new task: a day stays a day, an instant is written in UTC.
pub(super) fn new_time(moment: Moment) -> EventTime {
    match moment {
        Moment::Day(day) => EventTime::Date(day),
        Moment::At(at) => EventTime::Utc(at.with_timezone(&Utc)),
    }
}

/// sabre refuses (and RFC 5545 forbids) a DUE and DTSTART of different kinds, or a DUE before
/// the start (sabre/vobject `VTodo::validate`): said here in words a model can act on.
pub(super) fn check_dates(
    start: Option<&EventTime>,
    due: Option<&EventTime>,
    calendar: &Component,
) -> Result<(), NcError> {
    let (Some(start), Some(due)) = (start, due) else {
        return Ok(());
    };
    if start.is_date() != due.is_date() {
        let kind = |t: &EventTime| if t.is_date() { "a date" } else { "a date-time" };
        return Err(invalid(format!(
            "due and start must both be dates or both date-times, but start is {} ({}) and due \
             is {} ({}); give both in the same form",
            kind(start),
            start.display(),
            kind(due),
            due.display()
        )));
    }
    let before = match (start.instant(calendar), due.instant(calendar)) {
        (Some(s), Some(d)) if start.tzid() != due.tzid() => d < s,
        _ => due.naive() < start.naive(),
    };
    if before {
        return Err(invalid(format!(
            "due ({}) must not be before start ({})",
            due.display(),
            start.display()
        )));
    }
    Ok(())
}

/// What a new task holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewTask {
    pub summary: String,
    pub description: Option<String>,
    pub due: Option<Moment>,
    pub start: Option<Moment>,
    /// 1 (highest) to 9; 0 or none: not set.
    pub priority: Option<u8>,
    pub categories: Vec<String>,
    pub parent_uid: Option<String>,
    /// A reminder this many minutes before due (or before start, if there is no due).
    pub reminder_minutes_before: Option<u32>,
}

/// A new VCALENDAR with one VTODO (property order as the Nextcloud Tasks app writes it).
pub fn build_task(uid: &str, fields: &NewTask, now: DateTime<Utc>) -> Result<Component, NcError> {
    let due = fields.due.map(new_time);
    let start = fields.start.map(new_time);
    let empty = Component::new("VCALENDAR");
    check_dates(start.as_ref(), due.as_ref(), &empty)?;
    let mut todo = Component::new("VTODO");
    todo.push_property(Property::text("UID", uid));
    todo.push_property(Property::new("CREATED", ical_utc(now)));
    todo.push_property(Property::new("LAST-MODIFIED", ical_utc(now)));
    todo.push_property(Property::new("DTSTAMP", ical_utc(now)));
    todo.push_property(Property::text("SUMMARY", &fields.summary));
    if let Some(description) = fields
        .description
        .as_deref()
        .filter(|d| !d.trim().is_empty())
    {
        todo.push_property(Property::text("DESCRIPTION", description));
    }
    if let Some(start) = &start {
        todo.push_property(start.property("DTSTART"));
    }
    if let Some(due) = &due {
        todo.push_property(due.property("DUE"));
    }
    if let Some(priority) = fields.priority.filter(|p| (1..=9).contains(p)) {
        todo.push_property(Property::new("PRIORITY", priority.to_string()));
    }
    todo.push_property(Property::new("STATUS", Status::NeedsAction.as_str()));
    if let Some(categories) = categories_value(&fields.categories) {
        todo.push_property(Property::new("CATEGORIES", categories));
    }
    if let Some(parent) = fields.parent_uid.as_deref() {
        todo.push_property(Property::text("RELATED-TO", parent));
    }
    if let Some(minutes) = fields.reminder_minutes_before {
        let related_end = match (&due, &start) {
            (Some(_), _) => true,
            (None, Some(_)) => false,
            (None, None) => {
                return Err(invalid(
                    "a reminder needs a due date or a start to be relative to",
                ))
            }
        };
        todo.push_component(reminder(&fields.summary, minutes, related_end));
    }
    let mut calendar = Component::new("VCALENDAR");
    calendar.push_property(Property::new("VERSION", "2.0"));
    calendar.push_property(Property::text("PRODID", PRODID));
    calendar.push_component(todo);
    Ok(calendar)
}

/// A display alarm `minutes` before the due time (RELATED=END) or the start.
pub(super) fn reminder(summary: &str, minutes: u32, related_end: bool) -> Component {
    let trigger = if minutes == 0 {
        "PT0S".to_owned()
    } else {
        format!(
            "-{}",
            format_duration(chrono::Duration::minutes(i64::from(minutes)))
        )
    };
    let mut trigger = Property::new("TRIGGER", trigger);
    if related_end {
        trigger = trigger.with_param("RELATED", "END");
    }
    let mut alarm = Component::new("VALARM");
    alarm.push_property(Property::new("ACTION", "DISPLAY"));
    alarm.push_property(trigger);
    alarm.push_property(Property::text("DESCRIPTION", summary));
    alarm
}

/// Categories as one CATEGORIES value (each escaped), `None` for none. Blank and repeated
/// names are dropped.
pub(super) fn categories_value(categories: &[String]) -> Option<String> {
    let list = normalize_categories(categories);
    (!list.is_empty()).then(|| {
        list.iter()
            .map(|c| escape_text(c))
            .collect::<Vec<_>>()
            .join(",")
    })
}

pub fn normalize_categories(categories: &[String]) -> Vec<String> {
    let mut list: Vec<String> = Vec::new();
    for c in categories
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
    {
        if !list.iter().any(|l| l == c) {
            list.push(c.to_owned());
        }
    }
    list
}
