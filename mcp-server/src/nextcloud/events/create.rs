//! New events: a VCALENDAR with one VEVENT and the VTIMEZONE of its zone.

use chrono::{DateTime, Datelike, Utc};

use super::alarms::{set_reminders, Reminder};
use super::PRODID;
use crate::nextcloud::ical::{ical_utc, EventTime};
use crate::nextcloud::timezone::{parse_iana, vtimezone};
use crate::nextcloud::vobject::{Component, Property};
use crate::nextcloud::NcError;

/// What a new event holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewEvent {
    pub summary: String,
    /// Start and exclusive end (iCalendar semantics).
    pub span: Option<(EventTime, EventTime)>,
    pub location: Option<String>,
    pub description: Option<String>,
    /// A validated RRULE value ([`normalize_rrule`]).
    pub rrule: Option<String>,
    pub reminders: Vec<Reminder>,
    /// The user's address, for e-mail reminders.
    pub alarm_email: Option<String>,
}

/// A new VCALENDAR with one VEVENT (and the VTIMEZONE of its zone, if it has one).
pub fn build_event(uid: &str, fields: &NewEvent, now: DateTime<Utc>) -> Result<Component, NcError> {
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
    if let Some(rrule) = &fields.rrule {
        event.push_property(Property::new("RRULE", rrule.clone()));
    }
    set_reminders(&mut event, &fields.reminders, fields.alarm_email.as_deref())?;
    let mut calendar = Component::new("VCALENDAR");
    calendar.push_property(Property::new("VERSION", "2.0"));
    calendar.push_property(Property::text("PRODID", PRODID));
    calendar.push_property(Property::new("CALSCALE", "GREGORIAN"));
    if let Some((start, _)) = &fields.span {
        add_vtimezone(&mut calendar, start);
    }
    calendar.push_component(event);
    Ok(calendar)
}

/// Adds the VTIMEZONE of `time`'s zone to `calendar` unless it has one for that TZID already
/// (only for IANA zones: others can only come with their own definition).
pub(super) fn add_vtimezone(calendar: &mut Component, time: &EventTime) {
    let Some(tzid) = time.tzid() else {
        return;
    };
    let present = calendar
        .components()
        .any(|c| c.name == "VTIMEZONE" && c.prop("TZID").is_some_and(|p| p.value.trim() == tzid));
    if present {
        return;
    }
    if let Some(tz) = parse_iana(tzid) {
        calendar.push_component(vtimezone(tz, time.naive().year()));
    }
}
