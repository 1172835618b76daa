//! Nextcloud Calendar over CalDAV (RFC 4791): calendars below
//! `remote.php/dav/calendars/{user}/`, events as iCalendar objects (RFC 5545). Reads ask the
//! server to expand recurring events into the requested range (`C:expand`), which also turns
//! their times into UTC; writes are conditional (`If-None-Match: *` to create, `If-Match` to
//! change) so that nobody's edit is overwritten silently.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Serialize;

use super::collection::{object_in, Collections, Read};
use super::dav::{unexpected, DavObject, ObjectKind};
use super::events::events_of;
use super::ical::ical_utc;
use super::paths::last_segment;
use super::xml::{xml_escape, DavResponse, NS_APPLE_ICAL, NS_CALDAV, NS_DAV};
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
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop>
    <d:getetag/>
    <c:calendar-data/>
  </d:prop>
  <c:filter>
    <c:comp-filter name="VCALENDAR">
      <c:comp-filter name="VEVENT">
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nextcloud::xml::{parse_multistatus, parse_xml};
    use chrono::TimeZone;
    use url::Url;

    #[test]
    fn object_urls_stay_in_the_calendar() {
        let nc = crate::nextcloud::Nextcloud::new(
            reqwest::Client::new(),
            Url::parse("https://cloud.example/").unwrap(),
            crate::metrics::Metrics::new().unwrap(),
        );
        let nc = Session::new(
            &nc,
            crate::nextcloud::NcAuth::Bearer("t".into()),
            "alice".into(),
        );
        assert_eq!(
            nc.object_url(&CALENDARS, "personal", "a b.ics")
                .unwrap()
                .as_str(),
            "https://cloud.example/remote.php/dav/calendars/alice/personal/a%20b.ics"
        );
        for calendar in ["..", ".", "a/b", ""] {
            assert!(
                matches!(
                    nc.object_url(&CALENDARS, calendar, "x.ics"),
                    Err(NcError::InvalidInput(_))
                ),
                "{calendar:?}"
            );
        }
    }

    #[test]
    fn time_range_is_utc_basic_format() {
        let start = DateTime::parse_from_rfc3339("2025-03-14T15:00:00+01:00").unwrap();
        assert_eq!(ical_utc(start.with_timezone(&Utc)), "20250314T140000Z");
        let body = events_query_body(
            start.with_timezone(&Utc),
            Utc.with_ymd_and_hms(2025, 3, 15, 0, 0, 0).unwrap(),
        );
        let root = parse_xml(&body).unwrap();
        assert!(root.is(NS_CALDAV, "calendar-query"));
        let range = root
            .child(NS_CALDAV, "filter")
            .and_then(|f| f.child(NS_CALDAV, "comp-filter"))
            .and_then(|f| f.child(NS_CALDAV, "comp-filter"))
            .and_then(|f| f.child(NS_CALDAV, "time-range"))
            .unwrap();
        assert_eq!(range.attr("start"), Some("20250314T140000Z"));
        assert_eq!(range.attr("end"), Some("20250315T000000Z"));
        let uid = parse_xml(&uid_query_body("a<b")).unwrap();
        assert!(uid.is(NS_CALDAV, "calendar-query"));
    }

    #[test]
    fn calendars_from_propfind() {
        let body = r#"<d:multistatus xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:x1="http://apple.com/ns/ical/" xmlns:cs="http://calendarserver.org/ns/">
 <d:response><d:href>/remote.php/dav/calendars/alice/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
 <d:response><d:href>/remote.php/dav/calendars/alice/personal/</d:href><d:propstat><d:prop>
   <d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>
   <d:displayname>Personal</d:displayname>
   <x1:calendar-color>#0082c9</x1:calendar-color>
   <cal:supported-calendar-component-set><cal:comp name="VEVENT"/></cal:supported-calendar-component-set>
   <d:current-user-privilege-set><d:privilege><d:read/></d:privilege><d:privilege><d:write/></d:privilege></d:current-user-privilege-set>
 </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
 <d:response><d:href>/remote.php/dav/calendars/alice/inbox/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cal:schedule-inbox/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
 <d:response><d:href>/remote.php/dav/calendars/alice/holidays/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cs:subscribed/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
</d:multistatus>"#;
        let calendars: Vec<Calendar> = parse_multistatus(body)
            .unwrap()
            .iter()
            .filter_map(calendar_entry)
            .collect();
        assert_eq!(calendars.len(), 1);
        assert_eq!(calendars[0].id, "personal");
        assert_eq!(calendars[0].name, "Personal");
        assert_eq!(calendars[0].color.as_deref(), Some("#0082c9"));
        assert_eq!(calendars[0].components, ["VEVENT"]);
        assert_eq!(calendars[0].writable, Some(true));
    }
}
