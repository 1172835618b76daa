//! The calendar tools' arguments, as clients send them (JSON schemas come from these types).

use schemars::JsonSchema;
use serde::Deserialize;

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
