//! Edits of a stored task: each field changed in place, completion as the Tasks app sets it,
//! every line not changed kept as stored.

use chrono::{DateTime, Utc};

use super::create::{categories_value, check_dates, normalize_categories};
use super::summary::{categories_of, parent_of, percent_of, status_of, Status};
use super::{invalid, is_parent_link, is_recurring};
use crate::nextcloud::ical::{ical_utc, in_form_of, parse_event_time, Moment};
use crate::nextcloud::vobject::{escape_text, parse_components, write_all, Component, Property};
use crate::nextcloud::NcError;

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
pub(super) fn set_if_changed(todo: &mut Component, property: Property) {
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
pub(super) fn new_state(
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
