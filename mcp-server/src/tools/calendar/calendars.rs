//! The tools on calendars themselves: list, create, update, delete.

use rmcp::model::JsonObject;
use serde_json::json;

use super::args::{CreateCalendarArgs, DeleteCalendarArgs, ListCalendarsArgs, UpdateCalendarArgs};
use super::parse::{color_of, invalid, non_blank};
use super::CalendarList;
use crate::nextcloud::caldav::{id_from_name, Calendar, CalendarProps, CALENDARS};
use crate::nextcloud::{NcError, Session};
use crate::tools::{answer, parse_args, ToolContext, ToolError, ToolResult};

pub(super) async fn calendar_list_calendars(
    args: Option<JsonObject>,
    ctx: &ToolContext<'_>,
) -> ToolResult {
    let _: ListCalendarsArgs = parse_args(args)?;
    let dav = ctx.session().await?;
    let calendars = dav.calendars_list().await?;
    answer(&CalendarList {
        count: calendars.len(),
        calendars,
    })
}

/// The calendar `id` as calendar_list_calendars shows it.
async fn calendar_named(dav: &Session<'_>, id: &str) -> Result<Calendar, ToolError> {
    dav.calendars_list()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| CALENDARS.not_found(id).into())
}

pub(super) async fn calendar_create_calendar(
    args: Option<JsonObject>,
    ctx: &ToolContext<'_>,
) -> ToolResult {
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
    answer(&calendar_named(&dav, &id).await?)
}

pub(super) async fn calendar_update_calendar(
    args: Option<JsonObject>,
    ctx: &ToolContext<'_>,
) -> ToolResult {
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
    answer(&calendar_named(&dav, &id).await?)
}

pub(super) async fn calendar_delete_calendar(
    args: Option<JsonObject>,
    ctx: &ToolContext<'_>,
) -> ToolResult {
    let a: DeleteCalendarArgs = parse_args(args)?;
    let id = non_blank(&a.calendar_id, "calendar_id")?;
    let dav = ctx.session().await?;
    dav.calendar_delete(&id).await?;
    Ok(json!({"deleted": id}))
}
