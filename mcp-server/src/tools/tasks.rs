//! Tasks tools (CalDAV VTODO, see [`crate::nextcloud::tasks`]; scopes `tasks:read`,
//! `tasks:write`). Tasks live in calendars that hold VTODO (the Nextcloud Tasks app's lists);
//! tasks_list names them, so a token with only the tasks scopes needs no calendar tool.

use chrono::{DateTime, NaiveDate, Utc};
use mcp_shared::Scope;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use super::{answer, parse_args, ToolContext, ToolError, ToolResult, ToolSpec};
use crate::nextcloud::caldav::Calendar;
use crate::nextcloud::dav::DavObject;
use crate::nextcloud::events::calendar_of;
use crate::nextcloud::ical::{ical_utc, Moment};
use crate::nextcloud::tasks::{
    build_task, master_of, summarize_task, tasks_of, update_task_data, NewTask, SortKey, Status,
    Task, TaskChange, TaskQuery, TASKS,
};
use crate::nextcloud::vobject::random_uid;
use crate::nextcloud::{unquote_etag, NcError, Session};

use super::paging::{encode_cursor, DEFAULT_LIMIT, MAX_LIMIT};
/// Descriptions in lists are cut to this many characters.
const LIST_DESCRIPTION_CHARS: usize = 1000;

/// Which tasks to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    /// Not completed and not cancelled (NEEDS-ACTION, IN-PROCESS).
    #[default]
    Open,
    /// Completed.
    Done,
    /// Cancelled.
    Cancelled,
    /// Every task.
    All,
}

impl StatusFilter {
    fn admits(self, status: Status) -> bool {
        match self {
            StatusFilter::Open => status.is_open(),
            StatusFilter::Done => status == Status::Completed,
            StatusFilter::Cancelled => status == Status::Cancelled,
            StatusFilter::All => true,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// A calendar (task list) id from the calendars of an earlier answer. Left out: every
    /// calendar that holds tasks.
    #[serde(default)]
    pub calendar: Option<String>,
    /// open (default): not completed or cancelled; done: completed; cancelled; all.
    #[serde(default)]
    pub status: StatusFilter,
    /// Only tasks due before this time (exclusive): RFC 3339 with offset, or a date meaning
    /// midnight UTC (a task due on a day counts as due at its midnight, so "due by Friday" is
    /// due_before Saturday).
    #[serde(default)]
    pub due_before: Option<String>,
    /// Only tasks due at or after this time, same format as due_before.
    #[serde(default)]
    pub due_after: Option<String>,
    /// Only tasks whose summary, description or categories contain this text (any case).
    #[serde(default)]
    pub query: Option<String>,
    /// Only the subtasks of this task (its uid).
    #[serde(default)]
    pub parent_uid: Option<String>,
    /// Most tasks to return (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<usize>,
    /// The next_cursor of the previous answer (with the same filters), for the next page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    /// The calendar (task list) id. Left out: the first calendar that holds tasks.
    #[serde(default)]
    pub calendar: Option<String>,
    /// Title of the task.
    pub summary: String,
    /// Notes (plain text, may have several lines).
    #[serde(default)]
    pub description: Option<String>,
    /// When it is due: a date ("2025-03-14") or an RFC 3339 date-time with offset
    /// ("2025-03-14T17:00:00+01:00").
    #[serde(default)]
    pub due: Option<String>,
    /// When work starts, in the same form as due (both dates or both date-times).
    #[serde(default)]
    pub start: Option<String>,
    /// 1 (highest) to 9 (lowest); 0 or left out: none.
    #[serde(default)]
    pub priority: Option<u8>,
    #[serde(default)]
    pub categories: Option<Vec<String>>,
    /// Make it a subtask of this task (its uid, in the same calendar).
    #[serde(default)]
    pub parent_uid: Option<String>,
    /// A reminder this many minutes before due (or before start when there is no due).
    #[serde(default)]
    pub reminder_minutes_before: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    /// The task's calendar id (from tasks_list).
    pub calendar: String,
    /// The task's uid (from tasks_list).
    pub uid: String,
    /// The task's etag from tasks_list (or a previous create/update). If the task changed since,
    /// the update is refused as a conflict instead of overwriting that change.
    pub etag: String,
    /// New title.
    #[serde(default)]
    pub summary: Option<String>,
    /// New notes; "" removes them.
    #[serde(default)]
    pub description: Option<String>,
    /// New due date or time (as in tasks_create); null removes it. A task due at a local time
    /// in a zone stays in that zone.
    #[serde(default, deserialize_with = "present")]
    pub due: Option<Option<String>>,
    /// New start; null removes it.
    #[serde(default, deserialize_with = "present")]
    pub start: Option<Option<String>>,
    /// COMPLETED completes the task (percent 100 and a completion time); NEEDS-ACTION or
    /// IN-PROCESS reopens it; CANCELLED cancels it.
    #[serde(default)]
    pub status: Option<Status>,
    /// Percent done, 0-100 (100 completes the task, less reopens it).
    #[serde(default)]
    pub percent: Option<u8>,
    /// 1 (highest) to 9 (lowest); 0 removes the priority.
    #[serde(default)]
    pub priority: Option<u8>,
    /// Replaces all categories; [] removes them.
    #[serde(default)]
    pub categories: Option<Vec<String>>,
    /// Make it a subtask of this task (uid in the same calendar); null or "" makes it a
    /// top-level task.
    #[serde(default, deserialize_with = "present")]
    pub parent_uid: Option<Option<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    /// The task's calendar id.
    pub calendar: String,
    /// The task's uid. Its subtasks are not deleted (they become top-level tasks).
    pub uid: String,
    /// The task's etag: when given, delete only if the task did not change since.
    #[serde(default)]
    pub etag: Option<String>,
}

/// A field that is there (even as null) is `Some`: `due: null` removes the due date.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A calendar that holds tasks.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TaskCalendar {
    /// The id the tasks tools take as calendar.
    pub id: String,
    pub name: String,
    /// Whether the user may change its tasks (null: the server did not say).
    pub writable: Option<bool>,
}

/// tasks_list's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TaskList {
    pub items: Vec<Task>,
    /// Pass as cursor for the next page; null when this is the last.
    pub next_cursor: Option<String>,
    /// The calendars searched (every calendar holding tasks, or the one asked for).
    pub calendars: Vec<TaskCalendar>,
}

/// tasks_delete's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Deleted {
    /// The uid of the deleted task.
    pub deleted: String,
    pub calendar: String,
}

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "tasks_list",
        title: "List tasks",
        description: "Lists the user's tasks (to-dos) from every calendar that holds tasks, or \
                      one: uid, calendar, summary, description, status (NEEDS-ACTION, \
                      IN-PROCESS, COMPLETED, CANCELLED), percent, due, start, completed, \
                      priority, categories, parent_uid (for subtasks), etag. Open tasks by \
                      default (status: open, done, cancelled, all); filters on due time \
                      (due_before, due_after), text (query) and parent (parent_uid: a task's \
                      subtasks). Soonest due first, tasks without due date last; paginated \
                      (limit, cursor). Also names the calendars that hold tasks.",
        scopes: &[Scope::TasksRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<TaskList>),
        requires: None,
        schema: schema_for_type::<ListArgs>,
        handler: |args, ctx| Box::pin(tasks_list(args, ctx)),
    },
    ToolSpec {
        name: "tasks_create",
        title: "Create a task",
        description: "Creates a task (to-do) with a summary and optionally notes, due date or \
                      time, start, priority, categories, a parent task (subtask) and a reminder, \
                      in the given calendar or the first one that holds tasks. Returns the task \
                      with its uid and etag.",
        scopes: &[Scope::TasksWrite],
        any_of: &[],
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: false,
        output: Some(schema_for_output::<Task>),
        requires: None,
        schema: schema_for_type::<CreateArgs>,
        handler: |args, ctx| Box::pin(tasks_create(args, ctx)),
    },
    ToolSpec {
        name: "tasks_update",
        title: "Update or complete a task",
        description: "Changes a task: summary, description, due, start, status, percent, \
                      priority, categories, parent. To complete a task set status COMPLETED \
                      (percent becomes 100 and the completion time is recorded); NEEDS-ACTION \
                      or IN-PROCESS reopens it. Everything else in the task (reminders, other \
                      apps' fields) is kept. Requires the etag from tasks_list: if the task \
                      changed in the meantime the update is refused (conflict); list the tasks \
                      again and retry. The dates and status of a repeating task cannot be \
                      changed here. Returns the task as it is now.",
        scopes: &[Scope::TasksWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<Task>),
        requires: None,
        schema: schema_for_type::<UpdateArgs>,
        handler: |args, ctx| Box::pin(tasks_update(args, ctx)),
    },
    ToolSpec {
        name: "tasks_delete",
        title: "Delete a task",
        description: "Deletes a task (a repeating task with all its occurrences). Its subtasks \
                      stay, as top-level tasks. With etag, only if the task did not change \
                      since it was listed.",
        scopes: &[Scope::TasksWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<Deleted>),
        requires: None,
        schema: schema_for_type::<DeleteArgs>,
        handler: |args, ctx| Box::pin(tasks_delete(args, ctx)),
    },
];

fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::InvalidArguments(message.into())
}

fn non_blank(value: &str, what: &str) -> Result<String, ToolError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(invalid(format!("{what} must not be empty")));
    }
    Ok(trimmed.to_owned())
}

/// A due or start time: a date, or an RFC 3339 date-time with offset.
pub fn parse_moment(value: &str, what: &str) -> Result<Moment, ToolError> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(Moment::At(t));
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(Moment::Day(d));
    }
    Err(invalid(format!(
        "{what} must be a date (\"2025-03-14\") or an RFC 3339 date-time with offset \
         (\"2025-03-14T17:00:00+01:00\"), got \"{value}\""
    )))
}

/// A filter bound: RFC 3339, or a date meaning midnight UTC.
fn parse_bound(value: &str, what: &str) -> Result<DateTime<Utc>, ToolError> {
    Ok(match parse_moment(value, what)? {
        Moment::At(t) => t.with_timezone(&Utc),
        Moment::Day(d) => d.and_time(chrono::NaiveTime::MIN).and_utc(),
    })
}

fn priority_arg(priority: Option<u8>) -> Result<Option<u8>, ToolError> {
    match priority {
        Some(p) if p > 9 => Err(invalid(
            "priority must be 1 (highest) to 9 (lowest), or 0 for none",
        )),
        other => Ok(other),
    }
}

fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut.push('…');
    cut
}

fn may_hold_tasks(calendar: &Calendar) -> bool {
    calendar.components.is_empty() || calendar.components.iter().any(|c| c == "VTODO")
}

/// The user's calendars that hold tasks.
async fn task_calendars(dav: &Session<'_>) -> Result<Vec<TaskCalendar>, ToolError> {
    Ok(dav
        .calendars_list()
        .await?
        .into_iter()
        .filter(may_hold_tasks)
        .map(|c| TaskCalendar {
            id: c.id,
            name: c.name,
            writable: c.writable,
        })
        .collect())
}

/// The calendar `id` among the task calendars, or an error naming those there are.
fn pick_calendar(calendars: &[TaskCalendar], id: &str) -> Result<TaskCalendar, ToolError> {
    calendars
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or_else(|| {
            let names = calendars
                .iter()
                .map(|c| format!("\"{}\" ({})", c.id, c.name))
                .collect::<Vec<_>>()
                .join(", ");
            ToolError::Nextcloud(NcError::NotFound(format!(
                "there is no calendar \"{id}\" that holds tasks; {}",
                if names.is_empty() {
                    "the user has none (create a task list in the Nextcloud Tasks app)".to_owned()
                } else {
                    format!("the calendars holding tasks are {names}")
                }
            )))
        })
}

fn decode_cursor(cursor: &str) -> Result<SortKey, ToolError> {
    super::paging::decode_cursor(cursor, "cursor is not one tasks_list returned")
}

/// Whether `task` matches the text `query` (already lower-cased).
fn matches_query(task: &Task, query: &str) -> bool {
    task.summary.to_lowercase().contains(query)
        || task
            .description
            .as_deref()
            .is_some_and(|d| d.to_lowercase().contains(query))
        || task
            .categories
            .iter()
            .any(|c| c.to_lowercase().contains(query))
}

/// One page of `tasks` (already filtered), in [`SortKey`] order, after `cursor`.
fn page(
    mut tasks: Vec<(SortKey, Task)>,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<(Vec<Task>, Option<String>), ToolError> {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(0) => return Err(invalid("limit must be at least 1")),
        Some(n) => n.min(MAX_LIMIT),
    };
    tasks.sort_by(|a, b| a.0.cmp(&b.0));
    let start = match cursor {
        None => 0,
        Some(c) => {
            let after = decode_cursor(c)?;
            tasks.partition_point(|(key, _)| *key <= after)
        }
    };
    let rest = tasks.split_off(start.min(tasks.len()));
    let more = rest.len() > limit;
    let mut items: Vec<(SortKey, Task)> = rest.into_iter().take(limit).collect();
    let next = if more {
        items.last().map(|(key, _)| encode_cursor(key))
    } else {
        None
    };
    for (_, task) in &mut items {
        if let Some(d) = &task.description {
            task.description = Some(truncate_chars(d, LIST_DESCRIPTION_CHARS));
        }
    }
    Ok((items.into_iter().map(|(_, t)| t).collect(), next))
}

async fn tasks_list(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: ListArgs = parse_args(args)?;
    let due_before = a
        .due_before
        .as_deref()
        .map(|v| parse_bound(v, "due_before"))
        .transpose()?;
    let due_after = a
        .due_after
        .as_deref()
        .map(|v| parse_bound(v, "due_after"))
        .transpose()?;
    if let (Some(after), Some(before)) = (due_after, due_before) {
        if before <= after {
            return Err(invalid("due_before must be later than due_after"));
        }
    }
    if let Some(cursor) = &a.cursor {
        decode_cursor(cursor)?;
    }
    let query = a
        .query
        .as_deref()
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    let parent = a
        .parent_uid
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let dav = ctx.session().await?;
    let mut calendars = task_calendars(&dav).await?;
    if let Some(id) = a
        .calendar
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        calendars = vec![pick_calendar(&calendars, id)?];
    }
    let server_filter = TaskQuery {
        without_completed: a.status == StatusFilter::Open,
        due_after,
        due_before,
    };
    let mut tasks = Vec::new();
    for calendar in &calendars {
        for object in dav.calendar_tasks(&calendar.id, &server_filter).await? {
            for (key, task) in tasks_of(&object, &calendar.id) {
                if !a.status.admits(task.status)
                    || query.as_deref().is_some_and(|q| !matches_query(&task, q))
                    || parent.is_some_and(|p| task.parent_uid.as_deref() != Some(p))
                {
                    continue;
                }
                if due_after.is_some() || due_before.is_some() {
                    // sabre's range includes its end; ours does not.
                    let due = key.1.as_str();
                    if key.0
                        || due_after.is_some_and(|t| due < ical_utc(t).as_str())
                        || due_before.is_some_and(|t| due >= ical_utc(t).as_str())
                    {
                        continue;
                    }
                }
                tasks.push((key, task));
            }
        }
    }
    let (items, next_cursor) = page(tasks, a.limit, a.cursor.as_deref())?;
    answer(&TaskList {
        items,
        next_cursor,
        calendars,
    })
}

/// The task `uid` in `data` as the model sees it.
fn task_in(data: &str, uid: &str, calendar: &str, etag: Option<&str>) -> Result<Task, ToolError> {
    let vcalendar = calendar_of(data)?;
    let master = master_of(&vcalendar, Some(uid))
        .ok_or_else(|| NcError::BadResponse(format!("task {uid} is not in its object")))?;
    Ok(summarize_task(&vcalendar, master, calendar, etag))
}

/// The object holding task `uid`, with its bytes exactly as stored. `find_object` answers
/// with the REPORT's copy when the file is not named `<uid>.ics`, and sabre sends
/// calendar-data in a REPORT with its CRLF line ends turned into LF: written back, every line
/// of the task would change. So that copy is read again with a GET.
async fn stored_task(dav: &Session<'_>, calendar: &str, uid: &str) -> Result<DavObject, ToolError> {
    let object = dav.find_object(&TASKS, calendar, uid).await?;
    if object.name == format!("{uid}.{}", TASKS.extension) {
        return Ok(object);
    }
    dav.get_object(&TASKS, calendar, &object.name)
        .await?
        .ok_or_else(|| TASKS.object_not_found(calendar, uid).into())
}

/// Checks that `parent` is a task in `calendar` (subtasks live beside their parent).
async fn check_parent(dav: &Session<'_>, calendar: &str, parent: &str) -> Result<(), ToolError> {
    match dav.find_object(&TASKS, calendar, parent).await {
        Ok(_) => Ok(()),
        Err(NcError::NotFound(_)) => Err(invalid(format!(
            "parent_uid: there is no task \"{parent}\" in calendar \"{calendar}\" (a subtask \
             lives in its parent's calendar)"
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn tasks_create(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: CreateArgs = parse_args(args)?;
    let summary = non_blank(&a.summary, "summary")?;
    let fields = NewTask {
        summary,
        description: a.description.filter(|d| !d.trim().is_empty()),
        due: a
            .due
            .as_deref()
            .map(|v| parse_moment(v, "due"))
            .transpose()?,
        start: a
            .start
            .as_deref()
            .map(|v| parse_moment(v, "start"))
            .transpose()?,
        priority: priority_arg(a.priority)?,
        categories: a.categories.unwrap_or_default(),
        parent_uid: a
            .parent_uid
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty()),
        reminder_minutes_before: a.reminder_minutes_before,
    };
    let uid = random_uid()?;
    let data = build_task(&uid, &fields, crate::clock::now_utc())?.to_text();
    let dav = ctx.session().await?;
    let calendars = task_calendars(&dav).await?;
    let calendar = match a
        .calendar
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(id) => pick_calendar(&calendars, id)?,
        None => calendars
            .iter()
            .find(|c| c.writable != Some(false))
            .cloned()
            .ok_or_else(|| {
                ToolError::Nextcloud(NcError::NotFound(
                    "the user has no calendar that holds tasks; create a task list in the \
                     Nextcloud Tasks app (or a calendar for tasks) first"
                        .into(),
                ))
            })?,
    };
    if let Some(parent) = &fields.parent_uid {
        check_parent(&dav, &calendar.id, parent).await?;
    }
    let file = format!("{uid}.ics");
    let etag = dav
        .put_object(&TASKS, &calendar.id, &file, data.clone(), None)
        .await?;
    answer(&task_in(&data, &uid, &calendar.id, etag.as_deref())?)
}

fn change_from(a: &UpdateArgs) -> Result<TaskChange, ToolError> {
    if a.summary.as_deref().is_some_and(|s| s.trim().is_empty()) {
        return Err(invalid("summary must not be empty"));
    }
    let moment = |value: &Option<Option<String>>, what: &str| -> Result<_, ToolError> {
        Ok(match value {
            Some(Some(v)) if !v.trim().is_empty() => Some(Some(parse_moment(v, what)?)),
            Some(_) => Some(None),
            None => None,
        })
    };
    let change = TaskChange {
        summary: a.summary.as_deref().map(|s| s.trim().to_owned()),
        description: a.description.clone(),
        due: moment(&a.due, "due")?,
        start: moment(&a.start, "start")?,
        status: a.status,
        percent: match a.percent {
            Some(p) if p > 100 => return Err(invalid("percent must be between 0 and 100")),
            other => other,
        },
        priority: priority_arg(a.priority)?,
        categories: a.categories.clone(),
        parent_uid: a
            .parent_uid
            .clone()
            .map(|p| p.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty())),
    };
    if change.is_empty() {
        return Err(invalid(
            "nothing to change: give summary, description, due, start, status, percent, \
             priority, categories or parent_uid",
        ));
    }
    Ok(change)
}

async fn tasks_update(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: UpdateArgs = parse_args(args)?;
    let calendar = non_blank(&a.calendar, "calendar")?;
    let uid = non_blank(&a.uid, "uid")?;
    let etag = non_blank(&a.etag, "etag")?;
    let change = change_from(&a)?;
    let dav = ctx.session().await?;
    let object = stored_task(&dav, &calendar, &uid).await?;
    if object
        .etag
        .as_deref()
        .is_some_and(|current| unquote_etag(current) != unquote_etag(&etag))
    {
        return Err(NcError::Conflict(format!(
            "the task was changed since it was read (its ETag is no longer {etag}); list the \
             tasks again (tasks_list), merge the changes and retry with the new etag"
        ))
        .into());
    }
    if let Some(Some(parent)) = &change.parent_uid {
        if parent != &uid {
            check_parent(&dav, &calendar, parent).await?;
        }
    }
    let Some(data) = update_task_data(&object.data, &uid, &change, crate::clock::now_utc())? else {
        // Already as asked: nothing is written, the etag stays.
        return answer(&task_in(
            &object.data,
            &uid,
            &calendar,
            object.etag.as_deref(),
        )?);
    };
    let new_etag = dav
        .put_object(&TASKS, &calendar, &object.name, data.clone(), Some(&etag))
        .await?;
    answer(&task_in(&data, &uid, &calendar, new_etag.as_deref())?)
}

async fn tasks_delete(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: DeleteArgs = parse_args(args)?;
    let calendar = non_blank(&a.calendar, "calendar")?;
    let uid = non_blank(&a.uid, "uid")?;
    let etag = a.etag.filter(|e| !e.trim().is_empty());
    let dav = ctx.session().await?;
    // Found by its VTODO first, so that an object of another kind is never deleted.
    let object = dav.find_object(&TASKS, &calendar, &uid).await?;
    if !dav
        .delete_object(&TASKS, &calendar, &object.name, etag.as_deref())
        .await?
    {
        return Err(NcError::NotFound(format!("task {uid} was deleted in the meantime")).into());
    }
    answer(&Deleted {
        deleted: uid,
        calendar,
    })
}

/// Each tool's pinned hints (see `Hints`): one row per tool of this file.
#[cfg(test)]
pub(super) const HINTS: &[super::Hints] = &[
    ("tasks_list", true, false, true, false, None),
    ("tasks_create", false, false, false, false, None),
    ("tasks_update", false, true, true, false, None),
    ("tasks_delete", false, true, true, false, None),
];

#[cfg(test)]
mod tests;
