//! The event tools: list in a range, create, update and delete (whole series or one
//! occurrence).

use chrono::Duration;
use rmcp::model::JsonObject;
use serde_json::{json, Value};

use super::args::{CreateEventArgs, DeleteEventArgs, ListEventsArgs, UpdateEventArgs};
use super::parse::{
    invalid, non_blank, parse_moment, parse_range, reminders_of, span_from_args, span_in_zone,
    truncate_chars,
};
use crate::nextcloud::caldav::CALENDARS;
use crate::nextcloud::events::{
    build_event, delete_occurrence_data, event_span, events_of, expanded_holds, find_occurrence,
    normalize_rrule, summarize_event, update_event_data_with, update_occurrence_data, AlarmAction,
    EventChange, MoreChange, NewEvent, Occurrence, OccurrenceRef, Reminder,
};
use crate::nextcloud::vobject::{random_uid, Component};
use crate::nextcloud::{NcError, Session};
use crate::tools::{parse_args, ToolContext, ToolError, ToolResult};

/// Longest time range calendar_list_events accepts.
const MAX_RANGE_DAYS: i64 = 366;
/// Most events calendar_list_events returns.
const MAX_EVENTS: usize = 500;
/// Descriptions in event lists are cut to this many characters.
const LIST_DESCRIPTION_CHARS: usize = 1000;

/// Summary JSON for the master event of `data` with `uid`.
pub(super) fn event_json(data: &str, uid: &str, calendar: &str, etag: Option<&str>) -> Value {
    let event = events_of(data).ok().and_then(|events| {
        events
            .into_iter()
            .find(|e| e.text("UID").as_deref() == Some(uid) && e.prop("RECURRENCE-ID").is_none())
    });
    summary_json(event.as_ref(), uid, calendar, etag)
}

pub(super) async fn calendar_list_events(
    args: Option<JsonObject>,
    ctx: &ToolContext<'_>,
) -> ToolResult {
    let a: ListEventsArgs = parse_args(args)?;
    let (start, end) = parse_range(
        &a.start,
        &a.end,
        MAX_RANGE_DAYS,
        "; ask for several smaller ranges",
    )?;
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

pub(super) async fn calendar_create_event(
    args: Option<JsonObject>,
    ctx: &ToolContext<'_>,
) -> ToolResult {
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

pub(super) async fn calendar_update_event(
    args: Option<JsonObject>,
    ctx: &ToolContext<'_>,
) -> ToolResult {
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

/// What the event tools answer for `event` (or, when it cannot be summarised, its uid), with
/// the calendar and the new etag.
fn summary_json(event: Option<&Component>, uid: &str, calendar: &str, etag: Option<&str>) -> Value {
    let mut value = event
        .and_then(summarize_event)
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or_else(|| json!({"uid": uid}));
    value["calendar_id"] = json!(calendar);
    value["etag"] = json!(etag);
    value
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
    summary_json(event.as_ref(), uid, calendar, etag)
}

pub(super) async fn calendar_delete_event(
    args: Option<JsonObject>,
    ctx: &ToolContext<'_>,
) -> ToolResult {
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
