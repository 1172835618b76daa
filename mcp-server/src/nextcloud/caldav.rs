//! Nextcloud Calendar over CalDAV (RFC 4791): calendars below
//! `remote.php/dav/calendars/{user}/`, events as iCalendar objects (RFC 5545). Reads ask the
//! server to expand recurring events into the requested range (`C:expand`), which also turns
//! their times into UTC; writes are conditional (`If-None-Match: *` to create, `If-Match` to
//! change) so that nobody's edit is overwritten silently.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Serialize;

use super::collection::{object_in, Collections, Read};
use super::dav::{read_body_limited, read_text, unexpected, DavObject, ObjectKind};
use super::events::events_of;
use super::ical::ical_utc;
use super::paths::last_segment;
use super::xml::{
    parse_xml, xml_escape, DavResponse, XmlElement, NS_APPLE_ICAL, NS_CALDAV, NS_DAV,
};
use super::{NcError, Session};

const API: &str = "caldav";

/// A calendar collection.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Calendar {
    /// The collection's name in its URL (e.g. `personal`).
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Component types it accepts (VEVENT, VTODO…).
    pub components: Vec<String>,
    /// Whether the user may change it (`None`: the server did not say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writable: Option<bool>,
}

/// An iCalendar object as stored (one `.ics` resource).
pub type CalendarObject = DavObject;

/// Calendars: what CalDAV objects share with address books ([`super::collection`]).
pub const CALENDARS: Collections = Collections {
    object: ObjectKind {
        api: API,
        media_type: "text/calendar",
        noun: "event",
        a_noun: "an event",
        reread: "list the events again",
        refused: "Nextcloud refused the event data (does this calendar accept events?)",
    },
    home: "calendars",
    extension: "ics",
    id_label: "the calendar id",
    name_label: "the event file name",
    noun: "calendar",
    list_hint: "list them with calendar_list_calendars",
    find_hint: "find events with calendar_list_events",
    uid_query: uid_query_body,
    object_of,
    holds_uid: holds_event,
    read: Read::AsSent,
};

/// Whether an iCalendar text holds an event with `uid`.
fn holds_event(data: &str, uid: &str) -> bool {
    events_of(data)
        .map(|events| events.iter().any(|e| e.text("UID").as_deref() == Some(uid)))
        .unwrap_or(false)
}

/// Calendar-query REPORT for VEVENTs overlapping `[start, end)`, expanded.
pub fn events_query_body(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let (start, end) = (ical_utc(start), ical_utc(end));
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop>
    <d:getetag/>
    <c:calendar-data>
      <c:expand start="{start}" end="{end}"/>
    </c:calendar-data>
  </d:prop>
  <c:filter>
    <c:comp-filter name="VCALENDAR">
      <c:comp-filter name="VEVENT">
        <c:time-range start="{start}" end="{end}"/>
      </c:comp-filter>
    </c:comp-filter>
  </c:filter>
</c:calendar-query>"#
    )
}

fn uid_query_body(uid: &str) -> String {
    component_uid_query("VEVENT", uid)
}

/// The calendar-query REPORT body finding the `component` (VEVENT, VTODO) with this UID.
pub(super) fn component_uid_query(component: &str, uid: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop>
    <d:getetag/>
    <c:calendar-data/>
  </d:prop>
  <c:filter>
    <c:comp-filter name="VCALENDAR">
      <c:comp-filter name="{component}">
        <c:prop-filter name="UID">
          <c:text-match collation="i;octet">{uid}</c:text-match>
        </c:prop-filter>
      </c:comp-filter>
    </c:comp-filter>
  </c:filter>
</c:calendar-query>"#,
        uid = xml_escape(uid)
    )
}

const CALENDARS_PROPFIND: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:a="http://apple.com/ns/ical/">
  <d:prop>
    <d:resourcetype/>
    <d:displayname/>
    <d:current-user-privilege-set/>
    <a:calendar-color/>
    <c:calendar-description/>
    <c:supported-calendar-component-set/>
  </d:prop>
</d:propfind>"#;

fn calendar_entry(response: &DavResponse) -> Option<Calendar> {
    if !response.has_resourcetype(NS_CALDAV, "calendar") {
        return None;
    }
    let id = last_segment(&response.href);
    let components = response
        .prop(NS_CALDAV, "supported-calendar-component-set")
        .map(|set| {
            set.children_named(NS_CALDAV, "comp")
                .filter_map(|c| c.attr("name"))
                .map(str::to_ascii_uppercase)
                .collect()
        })
        .unwrap_or_default();
    let writable = response
        .prop(NS_DAV, "current-user-privilege-set")
        .map(|set| {
            set.children_named(NS_DAV, "privilege").any(|p| {
                p.child(NS_DAV, "all").is_some()
                    || p.child(NS_DAV, "write").is_some()
                    || p.child(NS_DAV, "write-content").is_some()
            })
        });
    Some(Calendar {
        name: response
            .prop_text(NS_DAV, "displayname")
            .map(str::to_owned)
            .unwrap_or_else(|| id.clone()),
        color: response
            .prop_text(NS_APPLE_ICAL, "calendar-color")
            .map(str::to_owned),
        description: response
            .prop_text(NS_CALDAV, "calendar-description")
            .map(str::to_owned),
        components,
        writable,
        id,
    })
}

fn object_of(response: &DavResponse) -> Option<CalendarObject> {
    object_in(response, NS_CALDAV, "calendar-data")
}

impl Session<'_> {
    /// The user's calendars (collections that hold calendar data; inbox, outbox, trash bin
    /// and subscriptions are left out).
    pub async fn calendars_list(&self) -> Result<Vec<Calendar>, NcError> {
        let url = self.collections_home(&CALENDARS)?;
        let request =
            self.dav_xml_request("PROPFIND", url, Some("1"), CALENDARS_PROPFIND.into())?;
        let responses = self
            .dav_multistatus(API, request, |status| match status {
                StatusCode::NOT_FOUND => NcError::NotFound(
                    "the user has no calendars (is the Calendar app enabled?)".into(),
                ),
                s => unexpected(s),
            })
            .await?;
        Ok(responses.iter().filter_map(calendar_entry).collect())
    }

    /// Objects with VEVENTs overlapping `[start, end)`, recurrences expanded by the server.
    pub async fn calendar_events(
        &self,
        calendar: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<CalendarObject>, NcError> {
        let url = self.collection_url(&CALENDARS, calendar)?;
        let request =
            self.dav_xml_request("REPORT", url, Some("1"), events_query_body(start, end))?;
        let responses = self
            .dav_multistatus(API, request, |status| match status {
                StatusCode::NOT_FOUND => CALENDARS.not_found(calendar),
                StatusCode::BAD_REQUEST => {
                    NcError::InvalidInput("Nextcloud refused the time range".into())
                }
                s => unexpected(s),
            })
            .await?;
        Ok(responses.iter().filter_map(object_of).collect())
    }
}

/// A calendar to create, or what to change of one (`None`: unchanged; an empty description
/// removes it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CalendarProps {
    pub name: Option<String>,
    pub color: Option<String>,
    pub description: Option<String>,
    /// VEVENT, VTODO (only when creating: sabre and Nextcloud cannot change it later).
    pub components: Vec<String>,
}

fn prop_elements(props: &CalendarProps) -> (String, String) {
    let mut set = String::new();
    let mut remove = String::new();
    if let Some(name) = &props.name {
        set.push_str(&format!(
            "<d:displayname>{}</d:displayname>",
            xml_escape(name)
        ));
    }
    if let Some(color) = &props.color {
        set.push_str(&format!(
            "<a:calendar-color>{}</a:calendar-color>",
            xml_escape(color)
        ));
    }
    match props.description.as_deref() {
        Some(d) if d.trim().is_empty() => remove.push_str("<c:calendar-description/>"),
        Some(d) => set.push_str(&format!(
            "<c:calendar-description>{}</c:calendar-description>",
            xml_escape(d)
        )),
        None => {}
    }
    if !props.components.is_empty() {
        set.push_str("<c:supported-calendar-component-set>");
        for component in &props.components {
            set.push_str(&format!("<c:comp name=\"{}\"/>", xml_escape(component)));
        }
        set.push_str("</c:supported-calendar-component-set>");
    }
    (set, remove)
}

const NAMESPACES: &str =
    r#"xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:a="http://apple.com/ns/ical/""#;

/// MKCALENDAR body (RFC 4791 §5.3.1) with the properties Nextcloud's calendar app sets.
pub fn mkcalendar_body(props: &CalendarProps) -> String {
    let (set, _) = prop_elements(props);
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<c:mkcalendar {NAMESPACES}><d:set><d:prop>{set}</d:prop></d:set></c:mkcalendar>"
    )
}

/// PROPPATCH body (RFC 4918 §9.2).
pub fn proppatch_body(props: &CalendarProps) -> String {
    let (set, remove) = prop_elements(props);
    let mut body =
        format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:propertyupdate {NAMESPACES}>");
    if !set.is_empty() {
        body.push_str(&format!("<d:set><d:prop>{set}</d:prop></d:set>"));
    }
    if !remove.is_empty() {
        body.push_str(&format!("<d:remove><d:prop>{remove}</d:prop></d:remove>"));
    }
    body.push_str("</d:propertyupdate>");
    body
}

/// The properties a PROPPATCH answer says were not changed (any propstat with a status other
/// than 2xx), by local name.
pub fn refused_props(body: &str) -> Result<Vec<String>, NcError> {
    let root = parse_xml(body)?;
    let mut refused = Vec::new();
    for response in root.children_named(NS_DAV, "response") {
        for propstat in response.children_named(NS_DAV, "propstat") {
            let ok = propstat
                .child(NS_DAV, "status")
                .and_then(XmlElement::text_value)
                .and_then(|line| line.split_whitespace().nth(1)?.parse::<u16>().ok())
                .is_some_and(|s| (200..300).contains(&s));
            if !ok {
                if let Some(prop) = propstat.child(NS_DAV, "prop") {
                    refused.extend(prop.children.iter().map(|p| p.name.clone()));
                }
            }
        }
    }
    Ok(refused)
}

/// One recipient's answer to a free/busy request.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FreeBusy {
    /// The address asked about.
    pub email: String,
    /// The server's request status (`2.0;Success`, `3.7;Could not find principal`…).
    pub status: String,
    /// Whether the server could answer for this person.
    pub found: bool,
    /// Busy periods in the range, earliest first (UTC).
    pub busy: Vec<BusyPeriod>,
    /// More busy periods than were listed.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct BusyPeriod {
    pub start: String,
    pub end: String,
    /// BUSY, BUSY-TENTATIVE or BUSY-UNAVAILABLE.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Most busy periods listed per person.
pub const MAX_BUSY: usize = 500;

/// The iTIP free/busy request (RFC 6638 §5, RFC 5546 §3.3.2) POSTed to the scheduling outbox.
pub fn freebusy_request(
    uid: &str,
    organizer: &str,
    attendees: &[String],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> String {
    let mut text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{}\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:{uid}\r\nDTSTAMP:{}\r\nDTSTART:{}\r\nDTEND:{}\r\nORGANIZER:mailto:{organizer}\r\n",
        super::events::PRODID,
        ical_utc(now),
        ical_utc(start),
        ical_utc(end)
    );
    for attendee in attendees {
        text.push_str(&format!("ATTENDEE:mailto:{attendee}\r\n"));
    }
    text.push_str("END:VFREEBUSY\r\nEND:VCALENDAR\r\n");
    text
}

/// One FREEBUSY period value (`start/end` or `start/duration`) in UTC.
fn busy_period(value: &str, kind: &str) -> Option<BusyPeriod> {
    let (start, rest) = value.trim().split_once('/')?;
    let parse = |v: &str| {
        chrono::NaiveDateTime::parse_from_str(v.trim().trim_end_matches('Z'), "%Y%m%dT%H%M%S")
            .ok()
            .map(|t| t.and_utc())
    };
    let start = parse(start)?;
    let end = if rest.trim_start().starts_with(['P', '+', '-']) {
        start + super::ical::parse_duration(rest)?
    } else {
        parse(rest)?
    };
    let format = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Some(BusyPeriod {
        start: format(start),
        end: format(end),
        kind: kind.to_owned(),
    })
}

/// The answers of a `cal:schedule-response` (RFC 6638 §5.1), one per recipient.
pub fn parse_schedule_response(body: &str) -> Result<Vec<FreeBusy>, NcError> {
    let root = parse_xml(body)?;
    if !root.is(NS_CALDAV, "schedule-response") {
        return Err(NcError::BadResponse(format!(
            "expected a schedule-response, got <{}>",
            root.name
        )));
    }
    let mut answers = Vec::new();
    for response in root.children_named(NS_CALDAV, "response") {
        let email = response
            .child(NS_CALDAV, "recipient")
            .and_then(|r| r.child(NS_DAV, "href"))
            .and_then(XmlElement::text_value)
            .map(super::events::address_of)
            .unwrap_or_default();
        let status = response
            .child(NS_CALDAV, "request-status")
            .and_then(XmlElement::text_value)
            .unwrap_or("")
            .to_owned();
        let mut busy = Vec::new();
        if let Some(data) = response
            .child(NS_CALDAV, "calendar-data")
            .map(|d| d.text.clone())
        {
            if let Ok(calendar) = super::events::calendar_of(&data) {
                for fb in calendar.components().filter(|c| c.name == "VFREEBUSY") {
                    for property in fb.props("FREEBUSY") {
                        let kind = property
                            .param("FBTYPE")
                            .unwrap_or("BUSY")
                            .to_ascii_uppercase();
                        if kind == "FREE" {
                            continue;
                        }
                        busy.extend(
                            property
                                .value
                                .split(',')
                                .filter_map(|v| busy_period(v, &kind)),
                        );
                    }
                }
            }
        }
        busy.sort_by(|a, b| a.start.cmp(&b.start));
        let truncated = busy.len() > MAX_BUSY;
        busy.truncate(MAX_BUSY);
        answers.push(FreeBusy {
            email,
            found: status.starts_with("2."),
            status,
            busy,
            truncated,
        });
    }
    Ok(answers)
}

/// A calendar id from a display name, as Nextcloud's calendar app derives one: lower case,
/// letters, digits and dashes.
pub fn id_from_name(name: &str) -> String {
    let mut id = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    let id = id
        .trim_end_matches('-')
        .chars()
        .take(60)
        .collect::<String>();
    if id.is_empty() {
        "calendar".into()
    } else {
        id
    }
}

impl Session<'_> {
    /// Creates calendar `id` (MKCALENDAR). `Ok(false)` if something with that name exists.
    pub async fn calendar_create(&self, id: &str, props: &CalendarProps) -> Result<bool, NcError> {
        let url = self.collection_url(&CALENDARS, id)?;
        let request = self.dav_xml_request("MKCALENDAR", url, None, mkcalendar_body(props))?;
        let response = self.send(API, request).await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::METHOD_NOT_ALLOWED => Ok(false),
            StatusCode::CONFLICT | StatusCode::NOT_FOUND => Err(NcError::NotFound(
                "the user has no calendar home (is the Calendar app enabled?)".into(),
            )),
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                let body = read_text(response, "answer").await.unwrap_or_default();
                let message = parse_xml(&body)
                    .ok()
                    .and_then(|e| {
                        e.child(super::xml::NS_SABRE, "message")
                            .and_then(|m| m.text_value().map(str::to_owned))
                    })
                    .unwrap_or_else(|| "Nextcloud refused the calendar's properties".into());
                Err(NcError::InvalidInput(message))
            }
            s => Err(unexpected(s)),
        }
    }

    /// Changes a calendar's name, colour or description (PROPPATCH).
    pub async fn calendar_update(&self, id: &str, props: &CalendarProps) -> Result<(), NcError> {
        let url = self.collection_url(&CALENDARS, id)?;
        let request = self.dav_xml_request("PROPPATCH", url, None, proppatch_body(props))?;
        let response = self.send(API, request).await?;
        match response.status() {
            StatusCode::MULTI_STATUS => {
                let body = read_text(response, "answer").await?;
                let refused = refused_props(&body)?;
                if refused.is_empty() {
                    Ok(())
                } else {
                    Err(NcError::InvalidInput(format!(
                        "Nextcloud did not change {} of calendar \"{id}\" (nothing was changed)",
                        refused.join(", ")
                    )))
                }
            }
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(CALENDARS.not_found(id)),
            s => Err(unexpected(s)),
        }
    }

    /// Deletes calendar `id` and everything in it (Nextcloud keeps it in its calendar trash
    /// bin for a while).
    pub async fn calendar_delete(&self, id: &str) -> Result<(), NcError> {
        let url = self.collection_url(&CALENDARS, id)?;
        let request = self.request(reqwest::Method::DELETE, url);
        let response = self.send(API, request).await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(CALENDARS.not_found(id)),
            s => Err(unexpected(s)),
        }
    }

    /// Asks the scheduling outbox for the free/busy time of `attendees` (RFC 6638 §5).
    pub async fn calendar_freebusy(
        &self,
        organizer: &str,
        attendees: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        uid: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<FreeBusy>, NcError> {
        let url = self.url(&format!(
            "remote.php/dav/calendars/{}/outbox/",
            self.user_segment()?
        ))?;
        let body = freebusy_request(uid, organizer, attendees, start, end, now);
        let request = self
            .request(reqwest::Method::POST, url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "text/calendar; charset=utf-8",
            )
            .body(body);
        let response = self
            .send_allowing(API, request, &[StatusCode::FORBIDDEN])
            .await?;
        match response.status() {
            StatusCode::OK => {
                let body = read_text(response, "free/busy answer").await?;
                parse_schedule_response(&body)
            }
            StatusCode::FORBIDDEN => {
                let body = read_body_limited(response, 64 * 1024)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_default();
                let organizer_refused = body.contains("organizer");
                Err(NcError::Forbidden(if organizer_refused {
                    format!(
                        "Nextcloud does not accept {organizer} as this user's calendar address; \
                         the e-mail address in the user's profile must be the one their \
                         calendar uses"
                    )
                } else {
                    "the account may not ask for free/busy time".into()
                }))
            }
            StatusCode::NOT_FOUND => Err(NcError::NotFound(
                "this Nextcloud has no scheduling outbox for the user (is the Calendar app \
                 enabled?)"
                    .into(),
            )),
            StatusCode::BAD_REQUEST => Err(NcError::InvalidInput(
                "Nextcloud refused the free/busy request".into(),
            )),
            s => Err(unexpected(s)),
        }
    }
}

#[cfg(test)]
mod tests;
