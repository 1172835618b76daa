//! Calendar tools (Nextcloud Calendar over CalDAV).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use mcp_shared::Scope;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{parse_args, ToolContext, ToolError, ToolResult, ToolSpec};
use crate::nextcloud::caldav::{Calendar, CALENDARS};
use crate::nextcloud::events::{
    build_event, event_span, events_of, summarize_event, update_event_data, EventChange, NewEvent,
};
use crate::nextcloud::ical::{EventTime, Moment};
use crate::nextcloud::vobject::random_uid;

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
        description: "Creates an event (timed or all-day) in a calendar and returns its uid and \
                      etag.",
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
        description: "Changes an event's summary, time, location or description; everything \
                      else (attendees, reminders, recurrence…) is kept. Requires the etag from \
                      calendar_list_events: if the event changed in the meantime the update is \
                      refused (conflict); list the events again and retry.",
        scopes: &[Scope::CalendarWrite],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<UpdateEventArgs>,
        handler: |args, ctx| Box::pin(calendar_update_event(args, ctx)),
    },
    ToolSpec {
        name: "calendar_delete_event",
        title: "Delete an event",
        description: "Deletes an event (a recurring event with all its occurrences).",
        scopes: &[Scope::CalendarWrite],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<DeleteEventArgs>,
        handler: |args, ctx| Box::pin(calendar_delete_event(args, ctx)),
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

async fn calendar_create_event(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: CreateEventArgs = parse_args(args)?;
    let calendar = non_blank(&a.calendar_id, "calendar_id")?;
    let summary = non_blank(&a.summary, "summary")?;
    let span = span_from_args(&a.start, a.end.as_deref(), a.all_day)?;
    let fields = NewEvent {
        summary,
        span: Some(span),
        location: a.location.filter(|l| !l.trim().is_empty()),
        description: a.description.filter(|d| !d.trim().is_empty()),
    };
    let uid = random_uid()?;
    let data = build_event(&uid, &fields, crate::clock::now_utc()).to_text();
    let dav = ctx.session().await?;
    let file = format!("{uid}.ics");
    let etag = dav
        .put_object(&CALENDARS, &calendar, &file, data.clone(), None)
        .await?;
    let mut value = event_json(&data, &uid, &calendar, etag.as_deref());
    value["href"] = json!(file);
    Ok(value)
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
    {
        return Err(invalid(
            "nothing to change: give summary, start, end, all_day, location or \
             description",
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
    let dav = ctx.session().await?;
    let object = dav.find_object(&CALENDARS, &calendar, &uid).await?;
    let data = update_event_data(&object.data, &uid, &change, crate::clock::now_utc())?;
    let new_etag = dav
        .put_object(
            &CALENDARS,
            &calendar,
            &object.name,
            data.clone(),
            Some(&etag),
        )
        .await?;
    let mut value = event_json(&data, &uid, &calendar, new_etag.as_deref());
    value["href"] = json!(object.name);
    Ok(value)
}

async fn calendar_delete_event(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: DeleteEventArgs = parse_args(args)?;
    let calendar = non_blank(&a.calendar_id, "calendar_id")?;
    let uid = non_blank(&a.uid, "uid")?;
    let etag = a.etag.filter(|e| !e.trim().is_empty());
    let dav = ctx.session().await?;
    dav.delete_by_uid(&CALENDARS, &calendar, &uid, etag.as_deref())
        .await?;
    Ok(json!({"deleted": uid, "calendar_id": calendar}))
}

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
    fn descriptions_are_cut_on_characters() {
        assert_eq!(truncate_chars("äöü", 2), "äö…");
        assert_eq!(truncate_chars("abc", 3), "abc");
    }
}

/// Hints of this family's tools added after the table in `tools::tests` (see `Hints`).
#[cfg(test)]
pub(super) const HINTS: &[super::Hints] = &[];
