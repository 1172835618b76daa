//! What a model sees of a task: [`Task`] with its status, completion, categories and parent,
//! and the order tasks are listed in.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{is_parent_link, is_recurring, master_of};
use crate::nextcloud::dav::DavObject;
use crate::nextcloud::events::calendar_of;
use crate::nextcloud::ical::{ical_utc, parse_event_time, EventTime};
use crate::nextcloud::vobject::{split_unescaped, Component};

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

pub(super) fn percent_of(todo: &Component) -> Option<u8> {
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

pub(super) fn parent_of(todo: &Component) -> Option<String> {
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
