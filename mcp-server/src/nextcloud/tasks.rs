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
//!
//! This file holds the collection, the queries and what the parts share; `summary` is what a
//! model sees, `create` new tasks, `edit` changes to a stored task.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;

use super::collection::{object_in, Collections, Read};
use super::dav::{unexpected, DavObject, ObjectKind};
use super::events::calendar_of;
use super::ical::ical_utc;
use super::vobject::{Component, Property};
use super::xml::{DavResponse, NS_CALDAV};
use super::{NcError, Session};

mod create;
mod edit;
mod summary;

pub use create::{build_task, normalize_categories, NewTask};
pub use edit::{update_task_data, TaskChange};
pub use summary::{categories_of, status_of, summarize_task, tasks_of, SortKey, Status, Task};

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
pub(super) fn is_recurring(calendar: &Component, uid: &str) -> bool {
    calendar.components().any(|c| {
        c.name == "VTODO"
            && c.text("UID").as_deref() == Some(uid)
            && (c.prop("RRULE").is_some()
                || c.prop("RDATE").is_some()
                || c.prop("RECURRENCE-ID").is_some())
    })
}

/// A RELATED-TO property naming the parent (RELTYPE=PARENT, the default).
pub(super) fn is_parent_link(p: &Property) -> bool {
    p.base_name().eq_ignore_ascii_case("RELATED-TO")
        && p.param("RELTYPE")
            .is_none_or(|r| r.eq_ignore_ascii_case("PARENT"))
}

pub(super) fn invalid(message: impl Into<String>) -> NcError {
    NcError::InvalidInput(message.into())
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
