//! Events (VEVENT, RFC 5545) as the calendar tools see and change them: a summary for a model,
//! a new event, and an edit of a stored object that changes only what was asked for. The stored
//! text is edited in place ([`super::vobject`] keeps every other line byte for byte), times stay
//! in the form and zone they were written in, and moving a recurring series moves its
//! exceptions with it ([`super::ical::shift_series`]).
//!
//! This file holds what the parts share (reading an object, finding a series' master and its
//! edited occurrences); `summary` is what a model sees, `create` new events, `edit` changes to
//! a stored event, `alarms` reminders, `rrule` recurrence rules, `occurrences` single
//! occurrences of a series, `attendees` the guest list.

use super::vobject::{parse_components, Component};
use super::NcError;

mod alarms;
mod attendees;
mod create;
mod edit;
mod occurrences;
mod rrule;
mod summary;

pub use alarms::{alarm_component, AlarmAction, Reminder, MAX_REMINDER_MINUTES};
pub use attendees::{plausible_email, set_attendees_data, Invitee, Organizer};
pub use create::{build_event, NewEvent};
pub use edit::{update_event_data, update_event_data_with, EventChange, MoreChange};
pub use occurrences::{
    delete_occurrence_data, expanded_holds, find_occurrence, update_occurrence_data, Occurrence,
    OccurrenceRef,
};
pub use rrule::{normalize_rrule, MAX_COUNT};
pub use summary::{
    address_of, event_span, summarize_event, AttendeeInfo, EventSummary, ReminderInfo,
};

pub const PRODID: &str = "-//Nextcloud MCP Server//EN";

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

fn invalid(message: &str) -> NcError {
    NcError::InvalidInput(message.into())
}

fn parse_object(data: &str) -> Result<(Vec<Component>, usize), NcError> {
    let roots = parse_components(data)
        .map_err(|e| NcError::BadResponse(format!("the event is not valid iCalendar ({e})")))?;
    let index = roots
        .iter()
        .position(|c| c.name == "VCALENDAR")
        .ok_or_else(|| NcError::BadResponse("the object has no VCALENDAR".into()))?;
    Ok((roots, index))
}

fn is_master_of(c: &Component, uid: &str) -> bool {
    c.name == "VEVENT" && c.text("UID").as_deref() == Some(uid) && c.prop("RECURRENCE-ID").is_none()
}

fn is_override_of(c: &Component, uid: &str) -> bool {
    c.name == "VEVENT" && c.text("UID").as_deref() == Some(uid) && c.prop("RECURRENCE-ID").is_some()
}

fn no_master(uid: &str) -> NcError {
    NcError::NotFound(format!(
        "event {uid} has only single occurrences here, which cannot be changed as a series"
    ))
}

fn is_recurring(calendar: &Component, uid: &str) -> bool {
    calendar.components().any(|c| {
        c.name == "VEVENT"
            && c.text("UID").as_deref() == Some(uid)
            && (c.prop("RRULE").is_some()
                || c.prop("RDATE").is_some()
                || c.prop("RECURRENCE-ID").is_some())
    })
}

fn sequence_of(event: &Component) -> u32 {
    event
        .prop("SEQUENCE")
        .and_then(|p| p.value.trim().parse::<u32>().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
