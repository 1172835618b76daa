//! Calendar tools (Nextcloud Calendar over CalDAV).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use mcp_shared::Scope;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{parse_args, ToolContext, ToolError, ToolResult, ToolSpec};
use crate::nextcloud::caldav::{id_from_name, Calendar, CalendarProps, FreeBusy, CALENDARS};
use crate::nextcloud::events::{
    build_event, delete_occurrence_data, event_span, events_of, expanded_holds, find_occurrence,
    normalize_rrule, plausible_email, set_attendees_data, summarize_event, update_event_data_with,
    update_occurrence_data, AlarmAction, EventChange, Invitee, MoreChange, NewEvent, Occurrence,
    OccurrenceRef, Organizer, Reminder, MAX_REMINDER_MINUTES,
};
use crate::nextcloud::ical::{EventTime, Moment};
use crate::nextcloud::timezone::{parse_iana, Zone};
use crate::nextcloud::vobject::{random_uid, Component};
use crate::nextcloud::{NcError, Session};

/// Longest time range calendar_list_events accepts.
const MAX_RANGE_DAYS: i64 = 366;
/// Most events calendar_list_events returns.
const MAX_EVENTS: usize = 500;
/// Descriptions in event lists are cut to this many characters.
const LIST_DESCRIPTION_CHARS: usize = 1000;

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCalendarsArgs {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListEventsArgs {
    /// Calendar id from calendar_list_calendars (e.g. "personal"). Left out: every calendar
    /// that holds events.
    #[serde(default)]
    pub calendar_id: Option<String>,
    /// Start of the range, RFC 3339 with offset (e.g. "2025-03-10T00:00:00+01:00") or a date
    /// ("2025-03-10", meaning midnight UTC).
    pub start: String,
    /// End of the range (exclusive), same format as start; at most 366 days after start.
    pub end: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEventArgs {
    /// Calendar id from calendar_list_calendars (e.g. "personal").
    pub calendar_id: String,
    /// Title of the event.
    pub summary: String,
    /// Start: RFC 3339 date-time with offset (e.g. "2025-03-14T15:00:00+01:00" or
    /// "2025-03-14T14:00:00Z"); for all-day events a date ("2025-03-14").
    pub start: String,
    /// End, same format as start. Timed events: left out means one hour after start. All-day
    /// events: the last day of the event (inclusive, e.g. start "2025-08-01", end
    /// "2025-08-03" for three days); left out means a one-day event.
    #[serde(default)]
    pub end: Option<String>,
    /// true for an all-day event (start and end are dates).
    #[serde(default)]
    pub all_day: bool,
    /// Where it takes place.
    #[serde(default)]
    pub location: Option<String>,
    /// Longer description or notes (plain text, may have several lines).
    #[serde(default)]
    pub description: Option<String>,
    /// IANA time zone of a timed event (e.g. "Europe/Berlin"): the event is stored in that
    /// zone, so it stays at the same local time across daylight-saving changes. start/end may
    /// then also be local times without offset ("2026-03-02T09:00:00"). Left out: UTC.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Makes the event repeat: an RFC 5545 RRULE such as "FREQ=WEEKLY;BYDAY=MO,WE",
    /// "FREQ=MONTHLY;BYMONTHDAY=15;COUNT=6", "FREQ=YEARLY" or "FREQ=DAILY;UNTIL=2026-06-30"
    /// (FREQ DAILY, WEEKLY, MONTHLY or YEARLY; INTERVAL, COUNT or UNTIL, BYDAY, BYMONTHDAY,
    /// BYMONTH, BYSETPOS, WKST).
    #[serde(default)]
    pub recurrence: Option<String>,
    /// Reminders before the start, e.g. [{"minutes_before": 15}] or
    /// [{"minutes_before": 1440, "action": "email"}].
    #[serde(default)]
    pub reminders: Option<Vec<ReminderArg>>,
}

/// One reminder.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderArg {
    /// Minutes before the start (0 = at the start; at most 40320, four weeks).
    pub minutes_before: u32,
    /// "display" (a notification, the default) or "email" (an e-mail to the user).
    #[serde(default)]
    pub action: ReminderAction,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReminderAction {
    #[default]
    Display,
    Email,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEventArgs {
    /// Calendar id of the event.
    pub calendar_id: String,
    /// The event's uid from calendar_list_events.
    pub uid: String,
    /// The event's etag from calendar_list_events (or a previous create/update). If the event
    /// changed since, the update is refused as a conflict instead of overwriting that change.
    pub etag: String,
    /// New title (left out: unchanged).
    #[serde(default)]
    pub summary: Option<String>,
    /// New start, same format as in calendar_create_event. If end is left out the event keeps
    /// its length.
    #[serde(default)]
    pub start: Option<String>,
    /// New end (for all-day events the last day, inclusive).
    #[serde(default)]
    pub end: Option<String>,
    /// Make the event all-day (true) or timed (false); needs start.
    #[serde(default)]
    pub all_day: Option<bool>,
    /// New location; "" removes it (left out: unchanged).
    #[serde(default)]
    pub location: Option<String>,
    /// New description; "" removes it (left out: unchanged).
    #[serde(default)]
    pub description: Option<String>,
    /// Move a timed event into this IANA time zone (e.g. "America/New_York", or "UTC"): it
    /// keeps its instants unless start/end are given too. Not for recurring events.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Replaces the reminders ([] removes them); same form as in calendar_create_event. For a
    /// whole series also those of its separately edited occurrences.
    #[serde(default)]
    pub reminders: Option<Vec<ReminderArg>>,
    /// Change only this occurrence of a recurring event: its original start as
    /// calendar_list_events gives it in recurrence_id (e.g. "2026-03-09T08:00:00Z"; a date for
    /// all-day series). Left out: the whole series.
    #[serde(default)]
    pub occurrence: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteEventArgs {
    /// Calendar id of the event.
    pub calendar_id: String,
    /// The event's uid from calendar_list_events. A recurring event is deleted with all its
    /// occurrences.
    pub uid: String,
    /// The event's etag: when given, delete only if the event did not change since.
    #[serde(default)]
    pub etag: Option<String>,
    /// Delete only this occurrence of a recurring event (the series stays): its original
    /// start as calendar_list_events gives it in recurrence_id (a date for all-day series).
    #[serde(default)]
    pub occurrence: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAttendeesArgs {
    /// Calendar id of the event.
    pub calendar_id: String,
    /// The event's uid from calendar_list_events.
    pub uid: String,
    /// The event's etag from calendar_list_events (a changed event is refused as a conflict).
    pub etag: String,
    /// Everyone who should be invited (the whole list: people left out are uninvited and told
    /// so; [] makes it a plain event again). At most 100.
    pub attendees: Vec<AttendeeArg>,
}

/// One person to invite.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendeeArg {
    /// E-mail address.
    pub email: String,
    /// Name to show.
    #[serde(default)]
    pub name: Option<String>,
    /// true: attendance optional.
    #[serde(default)]
    pub optional: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FreeBusyArgs {
    /// Start of the range, RFC 3339 with offset or a date ("2026-03-10", midnight UTC).
    pub start: String,
    /// End of the range (exclusive); at most 92 days after start.
    pub end: String,
    /// E-mail addresses of the people to ask about (users of this Nextcloud); left out or []:
    /// the user's own busy times. At most 20.
    #[serde(default)]
    pub attendees: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCalendarArgs {
    /// Name to show (e.g. "Project X").
    pub name: String,
    /// Id (the last part of its URL), letters, digits and dashes; left out: made from the
    /// name.
    #[serde(default)]
    pub calendar_id: Option<String>,
    /// Colour as "#RRGGBB".
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// What it holds: ["VEVENT"] (events, the default), ["VTODO"] (tasks) or both. Cannot be
    /// changed later.
    #[serde(default)]
    pub components: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCalendarArgs {
    /// Calendar id from calendar_list_calendars.
    pub calendar_id: String,
    /// New name (left out: unchanged).
    #[serde(default)]
    pub name: Option<String>,
    /// New colour as "#RRGGBB".
    #[serde(default)]
    pub color: Option<String>,
    /// New description; "" removes it.
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteCalendarArgs {
    /// Calendar id from calendar_list_calendars.
    pub calendar_id: String,
}

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

fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::InvalidArguments(message.into())
}

/// A range bound: RFC 3339 date-time, or a date meaning midnight UTC.
pub fn parse_range_bound(value: &str, what: &str) -> Result<DateTime<Utc>, ToolError> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(invalid(format!(
        "{what} must be an RFC 3339 date-time with offset (e.g. \"2025-03-14T15:00:00+01:00\") \
         or a date (\"2025-03-14\"), got \"{value}\""
    )))
}

/// A timed event's start or end: RFC 3339 with an offset, converted to UTC.
pub fn parse_timed(value: &str, what: &str) -> Result<DateTime<Utc>, ToolError> {
    let value = value.trim();
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            let hint = if NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok() {
                " (a plain date is only valid with all_day=true)"
            } else {
                " (include the UTC offset, e.g. \"Z\" or \"+01:00\")"
            };
            invalid(format!(
                "{what} must be an RFC 3339 date-time such as \"2025-03-14T15:00:00+01:00\", got \
                 \"{value}\"{hint}"
            ))
        })
}

/// An all-day event's day: `YYYY-MM-DD` (the date part of an RFC 3339 value is accepted).
pub fn parse_day(value: &str, what: &str) -> Result<NaiveDate, ToolError> {
    let value = value.trim();
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(value)
                .ok()
                .map(|t| t.date_naive())
        })
        .ok_or_else(|| {
            invalid(format!(
                "{what} must be a date such as \"2025-03-14\" for an all-day event, got \
                 \"{value}\""
            ))
        })
}

/// Start and exclusive end from the model's start and (inclusive for all-day) end.
pub fn span_from_args(
    start: &str,
    end: Option<&str>,
    all_day: bool,
) -> Result<(EventTime, EventTime), ToolError> {
    if all_day {
        let first = parse_day(start, "start")?;
        let last = match end {
            Some(end) => parse_day(end, "end")?,
            None => first,
        };
        if last < first {
            return Err(invalid("end (the last day) must not be before start"));
        }
        Ok((
            EventTime::Date(first),
            EventTime::Date(last + Duration::days(1)),
        ))
    } else {
        let start = parse_timed(start, "start")?;
        let end = match end {
            Some(end) => parse_timed(end, "end")?,
            None => start + Duration::hours(1),
        };
        if end <= start {
            return Err(invalid("end must be after start"));
        }
        Ok((EventTime::Utc(start), EventTime::Utc(end)))
    }
}

/// A start or end for an update: a date (all-day events) or an RFC 3339 date-time with offset.
/// Which of the two the event needs is checked against the event itself.
pub fn parse_moment(value: &str, what: &str) -> Result<Moment, ToolError> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(Moment::At(t));
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(Moment::Day(d));
    }
    Err(invalid(format!(
        "{what} must be an RFC 3339 date-time with offset (e.g. \"2025-03-14T15:00:00+01:00\") \
         or, for all-day events, a date (\"2025-03-14\"), got \"{value}\""
    )))
}

fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut.push('…');
    cut
}

fn non_blank(value: &str, what: &str) -> Result<String, ToolError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(invalid(format!("{what} must not be empty")));
    }
    Ok(trimmed.to_owned())
}

/// Summary JSON for the master event of `data` with `uid`.
fn event_json(data: &str, uid: &str, calendar: &str, etag: Option<&str>) -> Value {
    let event = events_of(data).ok().and_then(|events| {
        events
            .into_iter()
            .find(|e| e.text("UID").as_deref() == Some(uid) && e.prop("RECURRENCE-ID").is_none())
    });
    let mut value = event
        .as_ref()
        .and_then(summarize_event)
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or_else(|| json!({"uid": uid}));
    value["calendar_id"] = json!(calendar);
    value["etag"] = json!(etag);
    value
}

async fn calendar_list_calendars(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let _: ListCalendarsArgs = parse_args(args)?;
    let dav = ctx.session().await?;
    let calendars = dav.calendars_list().await?;
    super::answer(&CalendarList {
        count: calendars.len(),
        calendars,
    })
}

async fn calendar_list_events(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: ListEventsArgs = parse_args(args)?;
    let start = parse_range_bound(&a.start, "start")?;
    let end = parse_range_bound(&a.end, "end")?;
    if end <= start {
        return Err(invalid("end must be after start"));
    }
    if end - start > Duration::days(MAX_RANGE_DAYS) {
        return Err(invalid(format!(
            "the range may be at most {MAX_RANGE_DAYS} days; ask for several smaller \
             ranges"
        )));
    }
    let dav = ctx.session().await?;
    let calendar_ids: Vec<String> = match a.calendar_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => vec![id.to_owned()],
        _ => dav
            .calendars_list()
            .await?
            .into_iter()
            .filter(|c| c.components.is_empty() || c.components.iter().any(|k| k == "VEVENT"))
            .map(|c| c.id)
            .collect(),
    };
    let mut events = Vec::new();
    for calendar in &calendar_ids {
        for object in dav.calendar_events(calendar, start, end).await? {
            let Ok(components) = events_of(&object.data) else {
                tracing::debug!(
                    calendar,
                    object = object.name,
                    "skipping an unparsable event"
                );
                continue;
            };
            for event in &components {
                let (Some(summary), Some((event_start, _))) =
                    (summarize_event(event), event_span(event))
                else {
                    continue;
                };
                let mut value = serde_json::to_value(&summary).unwrap_or(Value::Null);
                if let Some(description) = &summary.description {
                    value["description"] =
                        json!(truncate_chars(description, LIST_DESCRIPTION_CHARS));
                }
                value["calendar_id"] = json!(calendar);
                value["etag"] = json!(object.etag);
                value["href"] = json!(object.name);
                events.push((event_start.naive(), value));
            }
        }
    }
    events.sort_by_key(|x| x.0);
    let total = events.len();
    let listed: Vec<Value> = events
        .into_iter()
        .take(MAX_EVENTS)
        .map(|(_, v)| v)
        .collect();
    Ok(json!({
        "start": start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "end": end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "count": total,
        "truncated": total > MAX_EVENTS,
        "events": listed,
    }))
}

/// A timed event's start or end in zone `tz`: an RFC 3339 instant placed in the zone, or a
/// local time without offset read as local time there.
pub fn parse_zoned(value: &str, what: &str, tz: chrono_tz::Tz) -> Result<EventTime, ToolError> {
    let trimmed = value.trim();
    let zone = Zone::Iana(tz);
    let local = match DateTime::parse_from_rfc3339(trimmed) {
        Ok(t) => zone.to_local(t.with_timezone(&Utc)),
        Err(_) => ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(trimmed, f).ok())
            .ok_or_else(|| {
                invalid(format!(
                    "{what} must be a date-time such as \"2026-03-02T09:00:00\" (local time in \
                     {tz}) or with an offset, got \"{trimmed}\""
                ))
            })?,
    };
    Ok(EventTime::Zoned(local, tz.name().to_owned()))
}

/// [`span_from_args`] for a timed event in zone `timezone` (IANA).
pub fn span_in_zone(
    start: &str,
    end: Option<&str>,
    timezone: &str,
) -> Result<(EventTime, EventTime), ToolError> {
    let tz = parse_iana(timezone).ok_or_else(|| {
        invalid(format!(
            "timezone must be an IANA time zone name such as \"Europe/Berlin\" or \
             \"America/New_York\", got \"{}\"",
            timezone.trim()
        ))
    })?;
    let start = parse_zoned(start, "start", tz)?;
    let end = match end {
        Some(end) => parse_zoned(end, "end", tz)?,
        None => start.add(Duration::hours(1)),
    };
    let zone = Zone::Iana(tz);
    if end.naive() <= start.naive() || zone.to_utc(end.naive()) < zone.to_utc(start.naive()) {
        return Err(invalid("end must be after start"));
    }
    Ok((start, end))
}

fn reminders_of(args: Option<Vec<ReminderArg>>) -> Result<Option<Vec<Reminder>>, ToolError> {
    let Some(args) = args else {
        return Ok(None);
    };
    if args.len() > 10 {
        return Err(invalid("at most 10 reminders per event"));
    }
    args.into_iter()
        .map(|r| {
            if r.minutes_before > MAX_REMINDER_MINUTES {
                return Err(invalid(format!(
                    "minutes_before may be at most {MAX_REMINDER_MINUTES} (four weeks)"
                )));
            }
            Ok(Reminder {
                minutes_before: r.minutes_before,
                action: match r.action {
                    ReminderAction::Display => AlarmAction::Display,
                    ReminderAction::Email => AlarmAction::Email,
                },
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The user's e-mail address if an e-mail reminder needs it.
async fn alarm_email(
    reminders: &Option<Vec<Reminder>>,
    ctx: &ToolContext<'_>,
) -> Result<Option<String>, ToolError> {
    let wants = reminders
        .as_ref()
        .is_some_and(|r| r.iter().any(|r| r.action == AlarmAction::Email));
    if !wants {
        return Ok(None);
    }
    Ok(ctx.user().await?.email.filter(|e| !e.trim().is_empty()))
}

async fn calendar_create_event(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: CreateEventArgs = parse_args(args)?;
    let calendar = non_blank(&a.calendar_id, "calendar_id")?;
    let summary = non_blank(&a.summary, "summary")?;
    let timezone = a
        .timezone
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let span = match timezone {
        Some(_) if a.all_day => {
            return Err(invalid(
                "an all-day event has no time zone; leave timezone out for all_day events",
            ))
        }
        Some(tz)
            if !["UTC", "Etc/UTC"]
                .iter()
                .any(|u| u.eq_ignore_ascii_case(tz)) =>
        {
            span_in_zone(&a.start, a.end.as_deref(), tz)?
        }
        _ => span_from_args(&a.start, a.end.as_deref(), a.all_day)?,
    };
    let rrule = match a
        .recurrence
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(rule) => Some(normalize_rrule(
            rule,
            &span.0,
            &Component::new("VCALENDAR"),
        )?),
        None => None,
    };
    let reminders = reminders_of(a.reminders)?;
    let email = alarm_email(&reminders, ctx).await?;
    let fields = NewEvent {
        summary,
        span: Some(span),
        location: a.location.filter(|l| !l.trim().is_empty()),
        description: a.description.filter(|d| !d.trim().is_empty()),
        rrule,
        reminders: reminders.unwrap_or_default(),
        alarm_email: email,
    };
    let uid = random_uid()?;
    let data = build_event(&uid, &fields, crate::clock::now_utc())?.to_text();
    let dav = ctx.session().await?;
    let file = format!("{uid}.ics");
    let etag = dav
        .put_object(&CALENDARS, &calendar, &file, data.clone(), None)
        .await?;
    let mut value = event_json(&data, &uid, &calendar, etag.as_deref());
    value["href"] = json!(file);
    Ok(value)
}

/// The occurrence a model names, checked against the series (its edited copies, else the
/// occurrences the server expands it into), so that no copy of an occurrence the series does
/// not have is written.
async fn occurrence_of(
    dav: &Session<'_>,
    calendar: &str,
    uid: &str,
    data: &str,
    occurrence: &str,
) -> Result<Occurrence, ToolError> {
    let reference = OccurrenceRef::parse(occurrence).ok_or_else(|| {
        invalid(format!(
            "occurrence must be the occurrence's original start as calendar_list_events gives \
             it in recurrence_id (e.g. \"2026-03-09T08:00:00Z\", or \"2026-03-09\" for all-day \
             series), got \"{}\"",
            occurrence.trim()
        ))
    })?;
    let found = find_occurrence(data, uid, &reference)?;
    if found.overridden {
        return Ok(found);
    }
    let objects = dav
        .calendar_events(
            calendar,
            // Around the start: an occurrence of no length matches no range starting at it.
            found.instant - Duration::minutes(1),
            found.instant + Duration::minutes(1),
        )
        .await?;
    if objects.iter().any(|o| expanded_holds(&o.data, uid, &found)) {
        return Ok(found);
    }
    Err(invalid(format!(
        "the series has no occurrence starting at {} (it may have been cancelled); list the \
         events and use an occurrence's recurrence_id",
        found.recurrence_id.display()
    )))
}

async fn calendar_update_event(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: UpdateEventArgs = parse_args(args)?;
    let calendar = non_blank(&a.calendar_id, "calendar_id")?;
    let uid = non_blank(&a.uid, "uid")?;
    let etag = non_blank(&a.etag, "etag")?;
    if a.summary.is_none()
        && a.start.is_none()
        && a.end.is_none()
        && a.all_day.is_none()
        && a.location.is_none()
        && a.description.is_none()
        && a.timezone.is_none()
        && a.reminders.is_none()
    {
        return Err(invalid(
            "nothing to change: give summary, start, end, all_day, location, description, \
             timezone or reminders",
        ));
    }
    if a.summary.as_deref().is_some_and(|s| s.trim().is_empty()) {
        return Err(invalid("summary must not be empty"));
    }
    let change = EventChange {
        summary: a.summary.map(|s| s.trim().to_owned()),
        start: a
            .start
            .as_deref()
            .map(|v| parse_moment(v, "start"))
            .transpose()?,
        end: a
            .end
            .as_deref()
            .map(|v| parse_moment(v, "end"))
            .transpose()?,
        all_day: a.all_day,
        location: a.location,
        description: a.description,
    };
    let reminders = reminders_of(a.reminders)?;
    let more = MoreChange {
        timezone: a.timezone.filter(|t| !t.trim().is_empty()),
        alarm_email: alarm_email(&reminders, ctx).await?,
        reminders,
    };
    let dav = ctx.session().await?;
    let object = dav.find_object(&CALENDARS, &calendar, &uid).await?;
    let now = crate::clock::now_utc();
    let (data, occurrence) = match a.occurrence.as_deref().filter(|o| !o.trim().is_empty()) {
        Some(occurrence) => {
            let found = occurrence_of(&dav, &calendar, &uid, &object.data, occurrence).await?;
            let data = update_occurrence_data(&object.data, &uid, &found, &change, &more, now)?;
            (data, Some(found))
        }
        None => (
            update_event_data_with(&object.data, &uid, &change, &more, now)?,
            None,
        ),
    };
    let new_etag = dav
        .put_object(
            &CALENDARS,
            &calendar,
            &object.name,
            data.clone(),
            Some(&etag),
        )
        .await?;
    let mut value = match &occurrence {
        Some(found) => occurrence_json(&data, &uid, found, &calendar, new_etag.as_deref()),
        None => event_json(&data, &uid, &calendar, new_etag.as_deref()),
    };
    value["href"] = json!(object.name);
    Ok(value)
}

/// Summary JSON for the edited occurrence `occurrence` of series `uid` in `data`.
fn occurrence_json(
    data: &str,
    uid: &str,
    occurrence: &Occurrence,
    calendar: &str,
    etag: Option<&str>,
) -> Value {
    let event = events_of(data).ok().and_then(|events| {
        events.into_iter().find(|e| {
            e.text("UID").as_deref() == Some(uid)
                && e.prop("RECURRENCE-ID")
                    .and_then(crate::nextcloud::ical::parse_event_time)
                    .is_some_and(|rid| rid == occurrence.recurrence_id)
        })
    });
    let mut value = event
        .as_ref()
        .and_then(summarize_event)
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or_else(|| json!({"uid": uid}));
    value["calendar_id"] = json!(calendar);
    value["etag"] = json!(etag);
    value
}

async fn calendar_delete_event(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: DeleteEventArgs = parse_args(args)?;
    let calendar = non_blank(&a.calendar_id, "calendar_id")?;
    let uid = non_blank(&a.uid, "uid")?;
    let etag = a.etag.filter(|e| !e.trim().is_empty());
    let dav = ctx.session().await?;
    if let Some(occurrence) = a.occurrence.as_deref().filter(|o| !o.trim().is_empty()) {
        let object = dav.find_object(&CALENDARS, &calendar, &uid).await?;
        if let (Some(given), Some(current)) = (etag.as_deref(), object.etag.as_deref()) {
            if given.trim_matches('"') != current.trim_matches('"') {
                return Err(NcError::Conflict(
                    "the event was changed since it was read; list the events again and \
                     retry with the new etag"
                        .into(),
                )
                .into());
            }
        }
        let found = occurrence_of(&dav, &calendar, &uid, &object.data, occurrence).await?;
        let data = delete_occurrence_data(&object.data, &uid, &found, crate::clock::now_utc())?;
        let if_match = etag.or(object.etag.clone()).ok_or_else(|| {
            NcError::BadResponse("Nextcloud sent the event without an ETag".into())
        })?;
        let new_etag = dav
            .put_object(&CALENDARS, &calendar, &object.name, data, Some(&if_match))
            .await?;
        return Ok(json!({
            "deleted_occurrence": found.recurrence_id.display(),
            "uid": uid,
            "calendar_id": calendar,
            "etag": new_etag,
        }));
    }
    dav.delete_by_uid(&CALENDARS, &calendar, &uid, etag.as_deref())
        .await?;
    Ok(json!({"deleted": uid, "calendar_id": calendar}))
}

/// Most attendees one event may get here.
const MAX_ATTENDEES: usize = 100;

async fn calendar_set_attendees(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: SetAttendeesArgs = parse_args(args)?;
    let calendar = non_blank(&a.calendar_id, "calendar_id")?;
    let uid = non_blank(&a.uid, "uid")?;
    let etag = non_blank(&a.etag, "etag")?;
    if a.attendees.len() > MAX_ATTENDEES {
        return Err(invalid(format!("at most {MAX_ATTENDEES} attendees")));
    }
    let mut invitees: Vec<Invitee> = Vec::new();
    for attendee in a.attendees {
        let email = attendee.email.trim().to_owned();
        if !plausible_email(&email) {
            return Err(invalid(format!("\"{email}\" is not an e-mail address")));
        }
        if invitees
            .iter()
            .any(|i| i.email.eq_ignore_ascii_case(&email))
        {
            continue;
        }
        invitees.push(Invitee {
            email,
            name: attendee.name.filter(|n| !n.trim().is_empty()),
            optional: attendee.optional,
        });
    }
    let user = ctx.user().await?;
    let email = user.email.filter(|e| plausible_email(e)).ok_or_else(|| {
        invalid(
            "the user has no e-mail address in their Nextcloud profile, which invitations are \
             sent from; set one in the personal settings first",
        )
    })?;
    if invitees
        .iter()
        .any(|i| i.email.eq_ignore_ascii_case(&email))
    {
        return Err(invalid(
            "the user is the organizer and need not be invited; leave their own address out",
        ));
    }
    let organizer = Organizer {
        email,
        name: user.displayname.clone(),
    };
    let dav = ctx.session().await?;
    let object = dav.find_object(&CALENDARS, &calendar, &uid).await?;
    let data = set_attendees_data(
        &object.data,
        &uid,
        &organizer,
        &invitees,
        crate::clock::now_utc(),
    )?;
    let new_etag = dav
        .put_object(
            &CALENDARS,
            &calendar,
            &object.name,
            data.clone(),
            Some(&etag),
        )
        .await?;
    // The server adds each attendee's delivery status (SCHEDULE-STATUS) to what it stores.
    let stored = dav
        .get_object(&CALENDARS, &calendar, &object.name)
        .await?
        .unwrap_or(crate::nextcloud::dav::DavObject {
            name: object.name.clone(),
            etag: new_etag,
            data,
        });
    let mut value = event_json(&stored.data, &uid, &calendar, stored.etag.as_deref());
    value["href"] = json!(object.name);
    Ok(value)
}

/// Longest range calendar_freebusy accepts.
const MAX_FREEBUSY_DAYS: i64 = 92;
/// Most people one free/busy question may name.
const MAX_FREEBUSY_ATTENDEES: usize = 20;

async fn calendar_freebusy(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: FreeBusyArgs = parse_args(args)?;
    let start = parse_range_bound(&a.start, "start")?;
    let end = parse_range_bound(&a.end, "end")?;
    if end <= start {
        return Err(invalid("end must be after start"));
    }
    if end - start > Duration::days(MAX_FREEBUSY_DAYS) {
        return Err(invalid(format!(
            "the range may be at most {MAX_FREEBUSY_DAYS} days"
        )));
    }
    let user = ctx.user().await?;
    let own = user.email.filter(|e| plausible_email(e)).ok_or_else(|| {
        invalid(
            "the user has no e-mail address in their Nextcloud profile, which Nextcloud's \
             scheduling needs to ask for free/busy times; set one in the personal settings",
        )
    })?;
    let mut attendees: Vec<String> = Vec::new();
    for email in a.attendees.unwrap_or_default() {
        let email = email.trim().to_owned();
        if !plausible_email(&email) {
            return Err(invalid(format!("\"{email}\" is not an e-mail address")));
        }
        if !attendees.iter().any(|e| e.eq_ignore_ascii_case(&email)) {
            attendees.push(email);
        }
    }
    if attendees.len() > MAX_FREEBUSY_ATTENDEES {
        return Err(invalid(format!(
            "at most {MAX_FREEBUSY_ATTENDEES} people per question"
        )));
    }
    if attendees.is_empty() {
        attendees.push(own.clone());
    }
    let dav = ctx.session().await?;
    let uid = random_uid()?;
    let items = dav
        .calendar_freebusy(&own, &attendees, start, end, &uid, crate::clock::now_utc())
        .await?;
    super::answer(&FreeBusyAnswer {
        start: start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        end: end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        items,
    })
}

fn color_of(color: Option<String>) -> Result<Option<String>, ToolError> {
    let Some(color) = color.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let hex = color.strip_prefix('#').unwrap_or(&color);
    if !(hex.len() == 6 || hex.len() == 8) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(format!(
            "color must be \"#RRGGBB\" (e.g. \"#0082c9\"), got \"{color}\""
        )));
    }
    Ok(Some(format!("#{}", hex.to_ascii_lowercase())))
}

/// The calendar `id` as calendar_list_calendars shows it.
async fn calendar_named(dav: &Session<'_>, id: &str) -> Result<Calendar, ToolError> {
    dav.calendars_list()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| CALENDARS.not_found(id).into())
}

async fn calendar_create_calendar(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: CreateCalendarArgs = parse_args(args)?;
    let name = non_blank(&a.name, "name")?;
    let mut components: Vec<String> = Vec::new();
    for component in a.components.unwrap_or_else(|| vec!["VEVENT".into()]) {
        let component = component.trim().to_ascii_uppercase();
        if component != "VEVENT" && component != "VTODO" {
            return Err(invalid(format!(
                "components may hold \"VEVENT\" (events) and \"VTODO\" (tasks), got \
                 \"{component}\""
            )));
        }
        if !components.contains(&component) {
            components.push(component);
        }
    }
    if components.is_empty() {
        return Err(invalid("components must name VEVENT, VTODO or both"));
    }
    let props = CalendarProps {
        name: Some(name.clone()),
        color: color_of(a.color)?,
        description: a.description.filter(|d| !d.trim().is_empty()),
        components,
    };
    let dav = ctx.session().await?;
    let explicit = a
        .calendar_id
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty());
    let id = match explicit {
        Some(id) => {
            if !dav.calendar_create(id, &props).await? {
                return Err(NcError::AlreadyExists(format!(
                    "a calendar with id \"{id}\" already exists (calendar_list_calendars lists \
                     them; choose another id)"
                ))
                .into());
            }
            id.to_owned()
        }
        None => {
            let base = id_from_name(&name);
            let mut created = None;
            for n in 1..=20 {
                let id = if n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                };
                if dav.calendar_create(&id, &props).await? {
                    created = Some(id);
                    break;
                }
            }
            created.ok_or_else(|| {
                NcError::AlreadyExists(format!(
                    "calendars named like \"{base}\" exist already; give calendar_id"
                ))
            })?
        }
    };
    super::answer(&calendar_named(&dav, &id).await?)
}

async fn calendar_update_calendar(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: UpdateCalendarArgs = parse_args(args)?;
    let id = non_blank(&a.calendar_id, "calendar_id")?;
    if a.name.is_none() && a.color.is_none() && a.description.is_none() {
        return Err(invalid(
            "nothing to change: give name, color or description",
        ));
    }
    let props = CalendarProps {
        name: a
            .name
            .as_deref()
            .map(|n| non_blank(n, "name"))
            .transpose()?,
        color: color_of(a.color)?,
        description: a.description,
        components: Vec::new(),
    };
    let dav = ctx.session().await?;
    dav.calendar_update(&id, &props).await?;
    super::answer(&calendar_named(&dav, &id).await?)
}

async fn calendar_delete_calendar(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: DeleteCalendarArgs = parse_args(args)?;
    let id = non_blank(&a.calendar_id, "calendar_id")?;
    let dav = ctx.session().await?;
    dav.calendar_delete(&id).await?;
    Ok(json!({"deleted": id}))
}

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
mod tests {
    use super::*;
    use chrono::TimeZone;

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
        assert!(
            span_from_args("2025-03-14T15:00:00Z", Some("2025-03-14T14:00:00Z"), false).is_err()
        );
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
}
