//! Calendar tools (Nextcloud Calendar over CalDAV). This file holds the tool table; the
//! arguments are in `args`, reading them in `parse`, and the handlers by what they act on:
//! `events` (list, create, update, delete), `scheduling` (attendees, free/busy, which reach
//! other people) and `calendars` (the calendars themselves).

use mcp_shared::Scope;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use schemars::JsonSchema;
use serde::Serialize;

mod args;
mod calendars;
mod events;
mod parse;
mod scheduling;

pub use args::{
    AttendeeArg, CreateCalendarArgs, CreateEventArgs, DeleteCalendarArgs, DeleteEventArgs,
    FreeBusyArgs, ListCalendarsArgs, ListEventsArgs, ReminderAction, ReminderArg, SetAttendeesArgs,
    UpdateCalendarArgs, UpdateEventArgs,
};
pub use parse::{
    parse_day, parse_moment, parse_range_bound, parse_timed, parse_zoned, span_from_args,
    span_in_zone,
};

use super::ToolSpec;
use crate::nextcloud::caldav::{Calendar, FreeBusy};
use calendars::{
    calendar_create_calendar, calendar_delete_calendar, calendar_list_calendars,
    calendar_update_calendar,
};
use events::{
    calendar_create_event, calendar_delete_event, calendar_list_events, calendar_update_event,
};
use scheduling::{calendar_freebusy, calendar_set_attendees};

/// calendar_freebusy's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FreeBusyAnswer {
    pub start: String,
    pub end: String,
    /// One entry per person asked about.
    pub items: Vec<FreeBusy>,
}

/// calendar_list_calendars' answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CalendarList {
    pub count: usize,
    pub calendars: Vec<Calendar>,
}

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "calendar_list_calendars",
        title: "List calendars",
        description: "Lists the user's calendars: id (used by the other calendar tools), name, \
                      color, description, the kinds of items each holds (VEVENT = events, VTODO \
                      = tasks) and whether the user may change it.",
        scopes: &[Scope::CalendarRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<CalendarList>),
        requires: None,
        schema: schema_for_type::<ListCalendarsArgs>,
        handler: |args, ctx| Box::pin(calendar_list_calendars(args, ctx)),
    },
    ToolSpec {
        name: "calendar_list_events",
        title: "List events",
        description: "Lists the events overlapping a time range (at most 366 days) in one \
                      calendar or all of them: uid, summary, start, end, all-day flag, \
                      location, description, etag. Recurring events are listed once per \
                      occurrence when the server expands them. Times are UTC (ending in Z) \
                      unless a timezone is given; all-day events use dates and their end is \
                      the last day.",
        scopes: &[Scope::CalendarRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<ListEventsArgs>,
        handler: |args, ctx| Box::pin(calendar_list_events(args, ctx)),
    },
    ToolSpec {
        name: "calendar_create_event",
        title: "Create an event",
        description: "Creates an event (timed or all-day) in a calendar and returns it with its \
                      uid and etag. Optionally in a time zone (IANA, e.g. Europe/Berlin), \
                      repeating (an RRULE such as FREQ=WEEKLY;BYDAY=MO) and with reminders \
                      (minutes before; notification or e-mail to the user). To invite people \
                      use calendar_set_attendees afterwards.",
        scopes: &[Scope::CalendarWrite],
        any_of: &[],
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<CreateEventArgs>,
        handler: |args, ctx| Box::pin(calendar_create_event(args, ctx)),
    },
    ToolSpec {
        name: "calendar_update_event",
        title: "Update an event",
        description: "Changes an event's summary, time, location, description, time zone or \
                      reminders; everything else (attendees, recurrence…) is kept. For a \
                      recurring event, occurrence (its recurrence_id) changes only that \
                      occurrence; without it the whole series changes. Requires the etag from \
                      calendar_list_events: if the event changed in the meantime the update is \
                      refused (conflict); list the events again and retry. If the event has \
                      attendees, Nextcloud e-mails the change to those other people.",
        scopes: &[Scope::CalendarWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: true,
        output: None,
        requires: None,
        schema: schema_for_type::<UpdateEventArgs>,
        handler: |args, ctx| Box::pin(calendar_update_event(args, ctx)),
    },
    ToolSpec {
        name: "calendar_delete_event",
        title: "Delete an event",
        description: "Deletes an event (a recurring event with all its occurrences), or with \
                      occurrence (its recurrence_id) only that occurrence of a series. If the \
                      event has attendees, Nextcloud e-mails those other people that it is \
                      cancelled.",
        scopes: &[Scope::CalendarWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: true,
        output: None,
        requires: None,
        schema: schema_for_type::<DeleteEventArgs>,
        handler: |args, ctx| Box::pin(calendar_delete_event(args, ctx)),
    },
    ToolSpec {
        name: "calendar_set_attendees",
        title: "Invite people to an event",
        description: "Sets who is invited to an event (the whole guest list; the user is the \
                      organizer). This reaches other people: Nextcloud e-mails an invitation to \
                      everyone added, an update to those kept, and a cancellation to those \
                      removed; people on this Nextcloud also get it in their calendar. Needs \
                      the event's etag; returns the event with each attendee's answer and \
                      delivery status.",
        scopes: &[Scope::CalendarWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: true,
        output: None,
        requires: None,
        schema: schema_for_type::<SetAttendeesArgs>,
        handler: |args, ctx| Box::pin(calendar_set_attendees(args, ctx)),
    },
    ToolSpec {
        name: "calendar_freebusy",
        title: "Free/busy times",
        description: "Lists when people are busy in a time range (at most 92 days): the user's \
                      own busy times, or those of other users of this Nextcloud by e-mail \
                      address (only busy periods, no event details). For finding a meeting \
                      time.",
        scopes: &[Scope::CalendarRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<FreeBusyAnswer>),
        requires: None,
        schema: schema_for_type::<FreeBusyArgs>,
        handler: |args, ctx| Box::pin(calendar_freebusy(args, ctx)),
    },
    ToolSpec {
        name: "calendar_create_calendar",
        title: "Create a calendar",
        description: "Creates a calendar for events (VEVENT), tasks (VTODO) or both, with a \
                      name, colour and description; returns it with its id.",
        scopes: &[Scope::CalendarWrite],
        any_of: &[],
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: false,
        output: Some(schema_for_output::<Calendar>),
        requires: None,
        schema: schema_for_type::<CreateCalendarArgs>,
        handler: |args, ctx| Box::pin(calendar_create_calendar(args, ctx)),
    },
    ToolSpec {
        name: "calendar_update_calendar",
        title: "Rename or recolour a calendar",
        description: "Changes a calendar's name, colour or description; returns it.",
        scopes: &[Scope::CalendarWrite],
        any_of: &[],
        read_only: false,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<Calendar>),
        requires: None,
        schema: schema_for_type::<UpdateCalendarArgs>,
        handler: |args, ctx| Box::pin(calendar_update_calendar(args, ctx)),
    },
    ToolSpec {
        name: "calendar_delete_calendar",
        title: "Delete a calendar",
        description: "Deletes a calendar with all its events and tasks (Nextcloud keeps it in \
                      its calendar trash bin for a while).",
        scopes: &[Scope::CalendarWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<DeleteCalendarArgs>,
        handler: |args, ctx| Box::pin(calendar_delete_calendar(args, ctx)),
    },
];

/// Hints of this family's tools added after the table in `tools::tests` (see `Hints`).
#[cfg(test)]
pub(super) const HINTS: &[super::Hints] = &[
    ("calendar_set_attendees", false, true, true, true, None),
    ("calendar_freebusy", true, false, true, false, None),
    ("calendar_create_calendar", false, false, false, false, None),
    ("calendar_update_calendar", false, false, true, false, None),
    ("calendar_delete_calendar", false, true, true, false, None),
];

#[cfg(test)]
mod tests;
