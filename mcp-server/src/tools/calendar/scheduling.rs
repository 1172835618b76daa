//! The scheduling tools, which reach other people or their calendars: inviting attendees
//! and asking for free/busy times.

use rmcp::model::JsonObject;
use serde_json::json;

use super::args::{FreeBusyArgs, SetAttendeesArgs};
use super::events::event_json;
use super::parse::{invalid, non_blank, parse_range};
use super::FreeBusyAnswer;
use crate::nextcloud::caldav::CALENDARS;
use crate::nextcloud::events::{plausible_email, set_attendees_data, Invitee, Organizer};
use crate::nextcloud::vobject::random_uid;
use crate::tools::{answer, parse_args, ToolContext, ToolResult};

/// Most attendees one event may get here.
const MAX_ATTENDEES: usize = 100;

pub(super) async fn calendar_set_attendees(
    args: Option<JsonObject>,
    ctx: &ToolContext<'_>,
) -> ToolResult {
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

pub(super) async fn calendar_freebusy(
    args: Option<JsonObject>,
    ctx: &ToolContext<'_>,
) -> ToolResult {
    let a: FreeBusyArgs = parse_args(args)?;
    let (start, end) = parse_range(&a.start, &a.end, MAX_FREEBUSY_DAYS, "")?;
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
    answer(&FreeBusyAnswer {
        start: start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        end: end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        items,
    })
}
