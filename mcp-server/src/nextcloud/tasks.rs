//! Tasks (VTODO, RFC 5545 §3.6.2) in CalDAV calendars whose supported component set holds
//! VTODO (the Nextcloud Tasks app's lists; Nextcloud 32's first-login "Personal" calendar holds
//! events only). A task is read into what a model sees ([`Task`]) and edited in place: the
//! stored text goes through [`super::vobject`], so every line an edit does not change keeps its
//! bytes (X- properties, VALARMs, RELATED-TO of other kinds, folding), times keep the form and
//! zone they were written in, and recurring tasks are only changed where that cannot pick the
//! wrong occurrence.
//!
//! Completion follows the Nextcloud Tasks app (nextcloud/tasks `src/models/task.js`,
//! `set complete`): 100 % is STATUS:COMPLETED with a COMPLETED time stamp, anything less
//! removes COMPLETED (0 % is NEEDS-ACTION, more is IN-PROCESS).

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::collection::{object_in, Collections, Read};
use super::dav::{unexpected, DavObject, ObjectKind};
use super::events::{calendar_of, PRODID};
use super::ical::{format_duration, ical_utc, in_form_of, parse_event_time, EventTime, Moment};
use super::vobject::{
    escape_text, parse_components, split_unescaped, write_all, Component, Property,
};
use super::xml::{DavResponse, NS_CALDAV};
use super::{NcError, Session};

/// Tasks as CalDAV objects: found by UID among VTODOs, written and deleted on their ETag.
pub const TASKS: Collections = Collections {
    object: ObjectKind {
        api: "caldav",
        media_type: "text/calendar",
        noun: "task",
        a_noun: "a task",
        reread: "list the tasks again (tasks_list)",
        refused: "Nextcloud refused the task data (does this calendar hold tasks?)",
    },
    home: "calendars",
    extension: "ics",
    id_label: "the calendar id",
    name_label: "the task file name",
    noun: "calendar",
    list_hint: "tasks_list names the calendars that hold tasks",
    find_hint: "find tasks with tasks_list",
    uid_query: uid_query_body,
    object_of,
    holds_uid: holds_task,
    read: Read::AsSent,
};

/// A task's state (RFC 5545 STATUS for VTODO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum Status {
    NeedsAction,
    InProcess,
    Completed,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NeedsAction => "NEEDS-ACTION",
            Status::InProcess => "IN-PROCESS",
            Status::Completed => "COMPLETED",
            Status::Cancelled => "CANCELLED",
        }
    }

    /// Not completed and not cancelled.
    pub fn is_open(self) -> bool {
        matches!(self, Status::NeedsAction | Status::InProcess)
    }
}

/// One task as a model sees it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Task {
    /// The task's UID (for tasks_update and tasks_delete, and as parent_uid of subtasks).
    pub uid: String,
    /// The calendar (task list) id.
    pub calendar: String,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// NEEDS-ACTION, IN-PROCESS, COMPLETED or CANCELLED (a task with a COMPLETED time stamp
    /// counts as COMPLETED).
    pub status: Status,
    /// Percent complete, 0 to 100.
    pub percent: u8,
    /// When it is due: "YYYY-MM-DD" (a day), "…Z" (UTC) or local time in `timezone`.
    pub due: Option<String>,
    /// When work on it starts, in the same forms as due.
    pub start: Option<String>,
    /// The time zone (IANA or the client's TZID) of due and start when they are local times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// When it was completed (UTC), if it was.
    pub completed: Option<String>,
    /// 1 (highest) to 9 (lowest); null when not set.
    pub priority: Option<u8>,
    pub categories: Vec<String>,
    /// The UID of the task this one is a subtask of.
    pub parent_uid: Option<String>,
    /// The task repeats (RRULE/RDATE or changed occurrences): its dates and status can only be
    /// changed in a tasks app.
    pub recurring: bool,
    /// The stored object's ETag, needed by tasks_update (and optionally tasks_delete).
    pub etag: Option<String>,
}

impl Task {
    /// The sort key of lists: due first (soonest first, none last), then priority, then
    /// calendar and UID (unique).
    pub fn sort_key(&self, calendar: &Component, master: &Component) -> SortKey {
        let due = master
            .prop("DUE")
            .and_then(parse_event_time)
            .and_then(|t| t.instant(calendar))
            .map(ical_utc);
        SortKey(
            due.is_none(),
            due.unwrap_or_default(),
            self.priority.unwrap_or(10),
            self.calendar.clone(),
            self.uid.clone(),
        )
    }
}

/// Where a task stands in a list (see [`Task::sort_key`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SortKey(pub bool, pub String, pub u8, pub String, pub String);

fn uid_query_body(uid: &str) -> String {
    super::caldav::component_uid_query("VTODO", uid)
}

/// What the server is asked to leave out of a tasks REPORT (the caller still filters exactly).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskQuery {
    /// Only tasks without a COMPLETED time stamp, as the Nextcloud Tasks app asks for the open
    /// ones (nextcloud/tasks `src/store/cdav-requests.js`, `findVTODObyState`); a task with
    /// STATUS:COMPLETED but no time stamp still comes, and is left out by the caller.
    pub without_completed: bool,
    /// Only tasks whose DUE is at or after this.
    pub due_after: Option<DateTime<Utc>>,
    /// Only tasks whose DUE is at or before this: sabre compares a DUE property with
    /// `start <= DUE <= end` (CalendarQueryValidator::validateTimeRange), so the caller applies
    /// its own exclusive end.
    pub due_before: Option<DateTime<Utc>>,
}

/// Calendar-query REPORT for the VTODOs `query` admits.
pub fn tasks_query_body(query: &TaskQuery) -> String {
    let mut filters = String::new();
    if query.without_completed {
        filters.push_str(
            "\n        <c:prop-filter name=\"COMPLETED\">\n          <c:is-not-defined/>\n        </c:prop-filter>",
        );
    }
    if query.due_after.is_some() || query.due_before.is_some() {
        let mut attrs = String::new();
        if let Some(start) = query.due_after {
            attrs.push_str(&format!(r#" start="{}""#, ical_utc(start)));
        }
        if let Some(end) = query.due_before {
            attrs.push_str(&format!(r#" end="{}""#, ical_utc(end)));
        }
        filters.push_str(&format!(
            "\n        <c:prop-filter name=\"DUE\">\n          <c:time-range{attrs}/>\n        </c:prop-filter>"
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop>
    <d:getetag/>
    <c:calendar-data/>
  </d:prop>
  <c:filter>
    <c:comp-filter name="VCALENDAR">
      <c:comp-filter name="VTODO">{filters}
      </c:comp-filter>
    </c:comp-filter>
  </c:filter>
</c:calendar-query>"#
    )
}

fn object_of(response: &DavResponse) -> Option<DavObject> {
    object_in(response, NS_CALDAV, "calendar-data")
}

/// Whether an iCalendar text holds a task with `uid`.
fn holds_task(data: &str, uid: &str) -> bool {
    calendar_of(data).is_ok_and(|calendar| {
        calendar
            .components()
            .any(|c| c.name == "VTODO" && c.text("UID").as_deref() == Some(uid))
    })
}

/// The master VTODO of an object (the one without RECURRENCE-ID), else its first VTODO.
pub fn master_of<'a>(calendar: &'a Component, uid: Option<&str>) -> Option<&'a Component> {
    let todos = || {
        calendar.components().filter(move |c| {
            c.name == "VTODO" && uid.is_none_or(|uid| c.text("UID").as_deref() == Some(uid))
        })
    };
    todos()
        .find(|c| c.prop("RECURRENCE-ID").is_none())
        .or_else(|| todos().next())
}

/// Whether the task `uid` repeats: its master has RRULE or RDATE, or the object holds changed
/// occurrences of it.
fn is_recurring(calendar: &Component, uid: &str) -> bool {
    calendar.components().any(|c| {
        c.name == "VTODO"
            && c.text("UID").as_deref() == Some(uid)
            && (c.prop("RRULE").is_some()
                || c.prop("RDATE").is_some()
                || c.prop("RECURRENCE-ID").is_some())
    })
}

/// A RELATED-TO property naming the parent (RELTYPE=PARENT, the default).
fn is_parent_link(p: &Property) -> bool {
    p.base_name().eq_ignore_ascii_case("RELATED-TO")
        && p.param("RELTYPE")
            .is_none_or(|r| r.eq_ignore_ascii_case("PARENT"))
}

fn percent_of(todo: &Component) -> Option<u8> {
    todo.prop("PERCENT-COMPLETE")
        .and_then(|p| p.value.trim().parse::<u8>().ok())
        .map(|p| p.min(100))
}

/// The status a task is in: STATUS, where a COMPLETED time stamp without STATUS:COMPLETED
/// still counts as completed (the Tasks app reads completion from it).
pub fn status_of(todo: &Component) -> Status {
    let status = todo
        .prop("STATUS")
        .map(|p| p.value.trim().to_ascii_uppercase());
    match status.as_deref() {
        Some("CANCELLED") => Status::Cancelled,
        Some("COMPLETED") => Status::Completed,
        _ if todo.prop("COMPLETED").is_some() => Status::Completed,
        Some("IN-PROCESS") => Status::InProcess,
        _ => Status::NeedsAction,
    }
}

pub fn categories_of(todo: &Component) -> Vec<String> {
    todo.props("CATEGORIES")
        .flat_map(|p| split_unescaped(&p.value, ','))
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect()
}

fn parent_of(todo: &Component) -> Option<String> {
    todo.properties()
        .find(|p| is_parent_link(p))
        .map(|p| p.text_value().trim().to_owned())
        .filter(|p| !p.is_empty())
}

/// The task in `master` (a VTODO of `calendar`).
pub fn summarize_task(
    calendar: &Component,
    master: &Component,
    calendar_id: &str,
    etag: Option<&str>,
) -> Task {
    let uid = master.text("UID").unwrap_or_default();
    let due = master.prop("DUE").and_then(parse_event_time);
    let start = master.prop("DTSTART").and_then(parse_event_time);
    let status = status_of(master);
    let timezone = due
        .as_ref()
        .and_then(EventTime::tzid)
        .or_else(|| start.as_ref().and_then(EventTime::tzid))
        .map(str::to_owned);
    Task {
        recurring: is_recurring(calendar, &uid),
        uid,
        calendar: calendar_id.to_owned(),
        summary: master.text("SUMMARY").unwrap_or_default(),
        description: master.text("DESCRIPTION"),
        status,
        percent: percent_of(master).unwrap_or(if status == Status::Completed { 100 } else { 0 }),
        due: due.as_ref().map(EventTime::display),
        start: start.as_ref().map(EventTime::display),
        timezone,
        completed: master
            .prop("COMPLETED")
            .and_then(parse_event_time)
            .map(|t| t.display()),
        priority: master
            .prop("PRIORITY")
            .and_then(|p| p.value.trim().parse::<u8>().ok())
            .filter(|p| (1..=9).contains(p)),
        categories: categories_of(master),
        parent_uid: parent_of(master),
        etag: etag.map(str::to_owned),
    }
}

/// The tasks of one stored object (usually one; objects that are not valid iCalendar hold
/// none), each with its sort key.
pub fn tasks_of(object: &DavObject, calendar_id: &str) -> Vec<(SortKey, Task)> {
    let Ok(calendar) = calendar_of(&object.data) else {
        return Vec::new();
    };
    let mut uids: Vec<String> = Vec::new();
    for todo in calendar.components().filter(|c| c.name == "VTODO") {
        if let Some(uid) = todo.text("UID") {
            if !uids.contains(&uid) {
                uids.push(uid);
            }
        }
    }
    uids.iter()
        .filter_map(|uid| master_of(&calendar, Some(uid)))
        .map(|master| {
            let task = summarize_task(&calendar, master, calendar_id, object.etag.as_deref());
            (task.sort_key(&calendar, master), task)
        })
        .collect()
}

fn invalid(message: impl Into<String>) -> NcError {
    NcError::InvalidInput(message.into())
}

/// A model's time for a new task: a day stays a day, an instant is written in UTC.
fn new_time(moment: Moment) -> EventTime {
    match moment {
        Moment::Day(day) => EventTime::Date(day),
        Moment::At(at) => EventTime::Utc(at.with_timezone(&Utc)),
    }
}

/// sabre refuses (and RFC 5545 forbids) a DUE and DTSTART of different kinds, or a DUE before
/// the start (sabre/vobject `VTodo::validate`): said here in words a model can act on.
fn check_dates(
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
fn reminder(summary: &str, minutes: u32, related_end: bool) -> Component {
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
fn categories_value(categories: &[String]) -> Option<String> {
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

/// What to change in a stored task; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskChange {
    pub summary: Option<String>,
    /// "" removes the description.
    pub description: Option<String>,
    /// `Some(None)` removes the due date.
    pub due: Option<Option<Moment>>,
    /// `Some(None)` removes the start.
    pub start: Option<Option<Moment>>,
    pub status: Option<Status>,
    pub percent: Option<u8>,
    /// 1 (highest) to 9; 0 removes the priority.
    pub priority: Option<u8>,
    /// Replaces every category; empty removes them.
    pub categories: Option<Vec<String>>,
    /// `Some(None)` makes the task a top-level one.
    pub parent_uid: Option<Option<String>>,
}

impl TaskChange {
    pub fn is_empty(&self) -> bool {
        self == &TaskChange::default()
    }

    fn touches_dates_or_state(&self) -> bool {
        self.due.is_some()
            || self.start.is_some()
            || self.status.is_some()
            || self.percent.is_some()
    }
}

/// Sets `property` unless the component already says exactly that (so an unchanged line keeps
/// its bytes).
fn set_if_changed(todo: &mut Component, property: Property) {
    let name = property.base_name().to_owned();
    let unchanged = {
        let mut same = todo.props(&name);
        same.next() == Some(&property) && same.next().is_none()
    };
    if !unchanged {
        todo.set(property);
    }
}

/// The status and percent after `change` (see the module notes), or an error when the two
/// contradict each other.
fn new_state(
    current: Status,
    current_percent: Option<u8>,
    change: &TaskChange,
) -> Result<(Status, Option<u8>), NcError> {
    if change.percent.is_some_and(|p| p > 100) {
        return Err(invalid("percent must be between 0 and 100"));
    }
    Ok(match (change.status, change.percent) {
        (Some(Status::Completed), Some(p)) if p != 100 => {
            return Err(invalid(format!(
                "a completed task is 100 % done, not {p} %; leave percent out to complete it"
            )))
        }
        (Some(Status::Completed), _) | (None, Some(100)) => (Status::Completed, Some(100)),
        (Some(s @ (Status::NeedsAction | Status::InProcess)), Some(100)) => {
            return Err(invalid(format!(
                "percent 100 means completed, which contradicts status {}",
                s.as_str()
            )))
        }
        (Some(s @ (Status::NeedsAction | Status::InProcess)), p) => {
            // Reopening a completed task: it is no longer 100 % done.
            let reopened = current_percent == Some(100) || current == Status::Completed;
            (s, p.or(if reopened { Some(0) } else { None }))
        }
        (Some(Status::Cancelled), p) => (Status::Cancelled, p),
        (None, Some(p)) => match current {
            Status::Cancelled => (Status::Cancelled, Some(p)),
            _ if p == 0 => (Status::NeedsAction, Some(0)),
            _ => (Status::InProcess, Some(p)),
        },
        (None, None) => (current, None),
    })
}

/// Changes the task `uid` in the object `data` as `change` says. `Ok(None)` when the task
/// already is as asked (nothing to write); else the new text, where every line not changed is
/// kept as stored.
pub fn update_task_data(
    data: &str,
    uid: &str,
    change: &TaskChange,
    now: DateTime<Utc>,
) -> Result<Option<String>, NcError> {
    let mut roots = parse_components(data)
        .map_err(|e| NcError::BadResponse(format!("the task is not valid iCalendar ({e})")))?;
    let index = roots
        .iter()
        .position(|c| c.name == "VCALENDAR")
        .ok_or_else(|| NcError::BadResponse("the object has no VCALENDAR".into()))?;
    let calendar = &roots[index];
    let is_master = |c: &Component| {
        c.name == "VTODO"
            && c.text("UID").as_deref() == Some(uid)
            && c.prop("RECURRENCE-ID").is_none()
    };
    let master = calendar
        .components()
        .find(|c| is_master(c))
        .ok_or_else(|| {
            NcError::NotFound(format!(
                "task {uid} has only single changed occurrences here, which cannot be edited as a \
             task"
            ))
        })?;
    if is_recurring(calendar, uid) && change.touches_dates_or_state() {
        return Err(invalid(format!(
            "task {uid} repeats: completing or rescheduling it must say which occurrence, which \
             this tool cannot do safely. Change its summary, description, priority, categories \
             or parent here, and its dates or status in a tasks app (Nextcloud Tasks, \
             Thunderbird)"
        )));
    }
    if let Some(Some(parent)) = &change.parent_uid {
        if parent == uid {
            return Err(invalid("a task cannot be its own parent"));
        }
    }

    let old_due = master.prop("DUE").and_then(parse_event_time);
    let old_start = master.prop("DTSTART").and_then(parse_event_time);
    let has_duration = master.prop("DURATION").is_some();
    if change.start == Some(None) && has_duration && change.due.is_none() {
        return Err(invalid(
            "this task's due time is written as a duration after its start; give a due date \
             too when removing the start",
        ));
    }
    let like = old_due.as_ref().or(old_start.as_ref());
    let new_due = match change.due {
        Some(Some(moment)) => Some(Some(in_form_of(moment, like, calendar)?)),
        Some(None) => Some(None),
        None => None,
    };
    let start_like = old_start.as_ref().or(old_due.as_ref());
    let new_start = match change.start {
        Some(Some(moment)) => Some(Some(in_form_of(moment, start_like, calendar)?)),
        Some(None) => Some(None),
        None => None,
    };
    let final_due = match &new_due {
        Some(due) => due.clone(),
        None => old_due.clone(),
    };
    let final_start = match &new_start {
        Some(start) => start.clone(),
        None => old_start.clone(),
    };
    if new_due.is_some() || new_start.is_some() {
        check_dates(final_start.as_ref(), final_due.as_ref(), calendar)?;
    }
    let (status, percent) = new_state(status_of(master), percent_of(master), change)?;
    let current_status = status_of(master);

    let calendar = &mut roots[index];
    let master = calendar
        .components_mut()
        .find(|c| is_master(c))
        .ok_or_else(|| NcError::BadResponse("the task disappeared while editing".into()))?;
    let before = master.clone();
    if let Some(summary) = &change.summary {
        if master.text("SUMMARY").as_deref() != Some(summary.as_str()) {
            master.set_text("SUMMARY", summary);
        }
    }
    if let Some(description) = &change.description {
        if master.text("DESCRIPTION").unwrap_or_default() != description.trim() {
            master.set_text("DESCRIPTION", description);
        }
    }
    match new_start {
        Some(Some(start)) => set_if_changed(master, start.property("DTSTART")),
        Some(None) => master.remove("DTSTART"),
        None => {}
    }
    match new_due {
        Some(Some(due)) => {
            master.remove("DURATION");
            set_if_changed(master, due.property("DUE"));
        }
        Some(None) => {
            master.remove("DUE");
            master.remove("DURATION");
        }
        None => {}
    }
    if status != current_status {
        set_if_changed(master, Property::new("STATUS", status.as_str()));
    }
    if let Some(percent) = percent {
        let stored = percent_of(master);
        if stored != Some(percent) && !(stored.is_none() && percent == 0) {
            set_if_changed(
                master,
                Property::new("PERCENT-COMPLETE", percent.to_string()),
            );
        }
    }
    if status == Status::Completed {
        if master.prop("COMPLETED").is_none() {
            master.push_property(Property::new("COMPLETED", ical_utc(now)));
        }
    } else if change.status.is_some() || change.percent.is_some() {
        master.remove("COMPLETED");
    }
    match change.priority {
        Some(0) => master.remove("PRIORITY"),
        Some(p) => set_if_changed(master, Property::new("PRIORITY", p.to_string())),
        None => {}
    }
    if let Some(categories) = &change.categories {
        if normalize_categories(categories) != categories_of(master) {
            let new: Vec<Property> = categories_value(categories)
                .map(|v| Property::new("CATEGORIES", v))
                .into_iter()
                .collect();
            master.replace_all("CATEGORIES", new);
        }
    }
    match &change.parent_uid {
        Some(Some(parent)) if parent_of(master).as_deref() != Some(parent.as_str()) => {
            let link = master.properties_mut().find(|p| is_parent_link(p));
            if let Some(link) = link {
                link.value = escape_text(parent);
            } else {
                master.push_property(Property::text("RELATED-TO", parent));
            }
        }
        Some(None) => master.retain_properties(|p| !is_parent_link(p)),
        _ => {}
    }
    if *master == before {
        return Ok(None);
    }
    master.set(Property::new("DTSTAMP", ical_utc(now)));
    master.set(Property::new("LAST-MODIFIED", ical_utc(now)));
    if let Some(sequence) = master
        .prop("SEQUENCE")
        .and_then(|p| p.value.trim().parse::<u32>().ok())
    {
        master.set(Property::new(
            "SEQUENCE",
            sequence.saturating_add(1).to_string(),
        ));
    }
    Ok(Some(write_all(&roots)))
}

impl Session<'_> {
    /// The objects of `calendar` holding VTODOs that `query` admits.
    pub async fn calendar_tasks(
        &self,
        calendar: &str,
        query: &TaskQuery,
    ) -> Result<Vec<DavObject>, NcError> {
        let url = self.collection_url(&TASKS, calendar)?;
        let body = tasks_query_body(query);
        let request = self.dav_xml_request("REPORT", url, Some("1"), body)?;
        let responses = self
            .dav_multistatus(TASKS.object.api, request, |status| match status {
                StatusCode::NOT_FOUND => TASKS.not_found(calendar),
                StatusCode::BAD_REQUEST => {
                    NcError::InvalidInput("Nextcloud refused the due date range".into())
                }
                s => unexpected(s),
            })
            .await?;
        Ok(responses.iter().filter_map(object_of).collect())
    }
}

#[cfg(test)]
mod tests;
