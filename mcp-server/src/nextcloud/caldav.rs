//! Nextcloud Calendar over CalDAV (RFC 4791): calendars below
//! `remote.php/dav/calendars/{user}/`, events as iCalendar objects (RFC 5545). Reads ask the
//! server to expand recurring events into the requested range (`C:expand`), which also turns
//! their times into UTC; writes are conditional (`If-None-Match: *` to create, `If-Match` to
//! change) so that nobody's edit is overwritten silently.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use reqwest::StatusCode;
use serde::Serialize;
use url::Url;

use super::dav::{
    encode_segment, last_segment, parse_components, unexpected, validate_name, xml_escape,
    Component, DavObject, DavResponse, ObjectKind, Property, NS_APPLE_ICAL, NS_CALDAV, NS_DAV,
};
use super::{NcAuth, NcError, Nextcloud};

const API: &str = "caldav";
pub const PRODID: &str = "-//Nextcloud MCP Server//EN";

/// A calendar collection.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

const EVENTS: ObjectKind = ObjectKind {
    api: API,
    media_type: "text/calendar",
    noun: "event",
    a_noun: "an event",
    reread: "list the events again",
    refused: "Nextcloud refused the event data (does this calendar accept events?)",
};

/// A DATE-TIME or DATE value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    Date(NaiveDate),
    Utc(DateTime<Utc>),
    /// Local time, in `tzid` or floating.
    Local(NaiveDateTime),
}

impl EventTime {
    /// `2024-03-05`, `2024-03-05T10:00:00Z` or `2024-03-05T10:00:00`.
    pub fn display(&self) -> String {
        match self {
            EventTime::Date(d) => d.format("%Y-%m-%d").to_string(),
            EventTime::Utc(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            EventTime::Local(t) => t.format("%Y-%m-%dT%H:%M:%S").to_string(),
        }
    }

    /// The wall-clock value (dates at midnight), for durations between two times.
    pub fn naive(&self) -> NaiveDateTime {
        match self {
            EventTime::Date(d) => d.and_time(chrono::NaiveTime::MIN),
            EventTime::Utc(t) => t.naive_utc(),
            EventTime::Local(t) => *t,
        }
    }

    fn add(&self, delta: Duration) -> EventTime {
        match self {
            EventTime::Date(d) => EventTime::Date(*d + Duration::days(delta.num_days())),
            EventTime::Utc(t) => EventTime::Utc(*t + delta),
            EventTime::Local(t) => EventTime::Local(*t + delta),
        }
    }

    /// The DTSTART/DTEND property for this time.
    pub fn property(&self, name: &str) -> Property {
        match self {
            EventTime::Date(d) => {
                Property::new(name, d.format("%Y%m%d").to_string()).with_param("VALUE", "DATE")
            }
            EventTime::Utc(t) => Property::new(name, ical_utc(*t)),
            EventTime::Local(t) => Property::new(name, t.format("%Y%m%dT%H%M%S").to_string()),
        }
    }
}

/// `YYYYMMDDTHHMMSSZ`, as CalDAV time ranges and UTC DATE-TIMEs are written.
pub fn ical_utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Reads a DTSTART/DTEND/RECURRENCE-ID property.
pub fn parse_event_time(property: &Property) -> Option<EventTime> {
    let value = property.value.trim();
    let is_date = property
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
        || (value.len() == 8 && !value.contains('T'));
    if is_date {
        return NaiveDate::parse_from_str(value.get(..8)?, "%Y%m%d")
            .ok()
            .map(EventTime::Date);
    }
    if let Some(utc) = value.strip_suffix('Z').or_else(|| value.strip_suffix('z')) {
        return NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
            .ok()
            .map(|t| EventTime::Utc(t.and_utc()));
    }
    NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S")
        .ok()
        .map(EventTime::Local)
}

/// An RFC 5545 DURATION (`P1D`, `PT1H30M`, `-P1W`…).
pub fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (negative, rest) = match value.as_bytes().first()? {
        b'-' => (true, &value[1..]),
        b'+' => (false, &value[1..]),
        _ => (false, value),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let mut total = Duration::zero();
    let mut number = String::new();
    let mut in_time = false;
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            'T' => in_time = true,
            d if d.is_ascii_digit() => number.push(d),
            unit => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                any = true;
                total += match (unit, in_time) {
                    ('W', false) => Duration::weeks(n),
                    ('D', false) => Duration::days(n),
                    ('H', true) => Duration::hours(n),
                    ('M', true) => Duration::minutes(n),
                    ('S', true) => Duration::seconds(n),
                    _ => return None,
                };
            }
        }
    }
    if !any || !number.is_empty() {
        return None;
    }
    Some(if negative { -total } else { total })
}

/// The fields of one VEVENT a model gets to see.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSummary {
    pub uid: String,
    pub summary: String,
    /// `YYYY-MM-DD` for all-day events, else a date-time (UTC `…Z`, or local time in
    /// `timezone`).
    pub start: String,
    /// For all-day events the last day (inclusive); else the end time.
    pub end: String,
    pub all_day: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Part of a recurring series (an occurrence, or the series itself).
    pub recurring: bool,
    /// For an occurrence of a recurring event: which one (its original start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recurrence_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rrule: Option<String>,
}

/// Start and end of a VEVENT: DTEND, else DTSTART + DURATION, else the RFC 5545 defaults
/// (one day for dates, zero length for date-times). The end is exclusive.
pub fn event_span(event: &Component) -> Option<(EventTime, EventTime)> {
    let start = event.prop("DTSTART").and_then(parse_event_time)?;
    let end = event
        .prop("DTEND")
        .and_then(parse_event_time)
        .or_else(|| {
            let duration = parse_duration(&event.prop("DURATION")?.value)?;
            Some(start.add(duration))
        })
        .unwrap_or(match start {
            EventTime::Date(_) => start.add(Duration::days(1)),
            other => other,
        });
    Some((start, end))
}

/// Summarizes one VEVENT.
pub fn summarize_event(event: &Component) -> Option<EventSummary> {
    let (start, end) = event_span(event)?;
    let all_day = matches!(start, EventTime::Date(_));
    let end = match (start, end) {
        // iCalendar's DTEND of an all-day event is the day after; models get the last day.
        (EventTime::Date(s), EventTime::Date(e)) => {
            EventTime::Date(if e > s { e - Duration::days(1) } else { s })
        }
        (_, e) => e,
    };
    let timezone = match start {
        EventTime::Local(_) => event
            .prop("DTSTART")
            .and_then(|p| p.param("TZID"))
            .map(str::to_owned),
        _ => None,
    };
    let recurrence_id = event
        .prop("RECURRENCE-ID")
        .and_then(parse_event_time)
        .map(|t| t.display());
    let rrule = event.prop("RRULE").map(|p| p.value.clone());
    Some(EventSummary {
        uid: event.text("UID").unwrap_or_default(),
        summary: event.text("SUMMARY").unwrap_or_default(),
        start: start.display(),
        end: end.display(),
        all_day,
        timezone,
        location: event.text("LOCATION"),
        description: event.text("DESCRIPTION"),
        status: event.text("STATUS"),
        recurring: recurrence_id.is_some() || rrule.is_some(),
        recurrence_id,
        rrule,
    })
}

/// The VEVENTs of an iCalendar object.
pub fn events_of(data: &str) -> Result<Vec<Component>, NcError> {
    let roots = parse_components(data)
        .map_err(|e| NcError::BadResponse(format!("an event is not valid iCalendar ({e})")))?;
    Ok(roots
        .into_iter()
        .filter(|c| c.name == "VCALENDAR")
        .flat_map(|c| c.components)
        .filter(|c| c.name == "VEVENT")
        .collect())
}

/// What to put into a new or changed event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFields {
    pub summary: Option<String>,
    /// Start and exclusive end (iCalendar semantics).
    pub span: Option<(EventTime, EventTime)>,
    pub location: Option<String>,
    pub description: Option<String>,
}

/// Applies `fields` to a VEVENT (blank location/description remove them).
pub fn apply_event_fields(event: &mut Component, fields: &EventFields, now: DateTime<Utc>) {
    if let Some(summary) = &fields.summary {
        event.set_text("SUMMARY", summary);
    }
    if let Some((start, end)) = &fields.span {
        event.set(start.property("DTSTART"));
        event.remove("DURATION");
        event.set(end.property("DTEND"));
    }
    if let Some(location) = &fields.location {
        event.set_text("LOCATION", location);
    }
    if let Some(description) = &fields.description {
        event.set_text("DESCRIPTION", description);
    }
    event.set(Property::new("DTSTAMP", ical_utc(now)));
    event.set(Property::new("LAST-MODIFIED", ical_utc(now)));
}

/// A new VCALENDAR with one VEVENT.
pub fn build_event(uid: &str, fields: &EventFields, now: DateTime<Utc>) -> Component {
    let mut event = Component::new("VEVENT");
    event.properties.push(Property::text("UID", uid));
    event
        .properties
        .push(Property::new("CREATED", ical_utc(now)));
    apply_event_fields(&mut event, fields, now);
    let mut calendar = Component::new("VCALENDAR");
    calendar.properties.push(Property::new("VERSION", "2.0"));
    calendar.properties.push(Property::text("PRODID", PRODID));
    calendar
        .properties
        .push(Property::new("CALSCALE", "GREGORIAN"));
    calendar.components.push(event);
    calendar
}

/// Changes the master VEVENT (the one without RECURRENCE-ID) of an object; other
/// components and unknown properties are kept. Returns the new text.
pub fn update_event_data(
    data: &str,
    uid: &str,
    fields: &EventFields,
    now: DateTime<Utc>,
) -> Result<String, NcError> {
    let roots = parse_components(data)
        .map_err(|e| NcError::BadResponse(format!("the event is not valid iCalendar ({e})")))?;
    let mut calendar = roots
        .into_iter()
        .find(|c| c.name == "VCALENDAR")
        .ok_or_else(|| NcError::BadResponse("the object has no VCALENDAR".into()))?;
    let master = calendar
        .components
        .iter_mut()
        .find(|c| {
            c.name == "VEVENT"
                && c.text("UID").as_deref() == Some(uid)
                && c.prop("RECURRENCE-ID").is_none()
        })
        .ok_or_else(|| NcError::NotFound(format!("the object holds no event with uid {uid}")))?;
    apply_event_fields(master, fields, now);
    let sequence = master
        .prop("SEQUENCE")
        .and_then(|p| p.value.trim().parse::<u32>().ok())
        .unwrap_or(0);
    master.set(Property::new("SEQUENCE", (sequence + 1).to_string()));
    Ok(calendar.to_text())
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

fn calendar_not_found(id: &str) -> NcError {
    NcError::NotFound(format!(
        "there is no calendar with id \"{id}\" (list them with calendar_list_calendars)"
    ))
}

fn event_not_found(calendar: &str, uid: &str) -> NcError {
    NcError::NotFound(format!(
        "there is no event with uid \"{uid}\" in calendar \"{calendar}\" (find events with \
         calendar_list_events)"
    ))
}

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
    Some(CalendarObject {
        name: last_segment(&response.href),
        etag: response.etag(),
        data: response.prop(NS_CALDAV, "calendar-data")?.text.clone(),
    })
}

impl Nextcloud {
    fn calendar_url(&self, user: &str, calendar: &str) -> Result<Url, NcError> {
        validate_name(calendar, "the calendar id")?;
        self.url(&format!(
            "remote.php/dav/calendars/{}/{}/",
            encode_segment(user),
            encode_segment(calendar)
        ))
    }

    fn calendar_object_url(&self, user: &str, calendar: &str, name: &str) -> Result<Url, NcError> {
        // Both are single segments: a calendar id of `.` or `..` would otherwise be resolved
        // away by the URL parser and leave the user's calendar.
        validate_name(calendar, "the calendar id")?;
        validate_name(name, "the event file name")?;
        self.url(&format!(
            "remote.php/dav/calendars/{}/{}/{}",
            encode_segment(user),
            encode_segment(calendar),
            encode_segment(name)
        ))
    }

    /// The user's calendars (collections that hold calendar data; inbox, outbox, trash bin
    /// and subscriptions are left out).
    pub async fn calendars_list(
        &self,
        auth: &NcAuth,
        user: &str,
    ) -> Result<Vec<Calendar>, NcError> {
        let url = self.url(&format!(
            "remote.php/dav/calendars/{}/",
            encode_segment(user)
        ))?;
        let request =
            self.dav_xml_request(auth, "PROPFIND", url, Some("1"), CALENDARS_PROPFIND.into())?;
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
        auth: &NcAuth,
        user: &str,
        calendar: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<CalendarObject>, NcError> {
        let url = self.calendar_url(user, calendar)?;
        let request = self.dav_xml_request(
            auth,
            "REPORT",
            url,
            Some("1"),
            events_query_body(start, end),
        )?;
        let responses = self
            .dav_multistatus(API, request, |status| match status {
                StatusCode::NOT_FOUND => calendar_not_found(calendar),
                StatusCode::BAD_REQUEST => {
                    NcError::InvalidInput("Nextcloud refused the time range".into())
                }
                s => unexpected(s),
            })
            .await?;
        Ok(responses.iter().filter_map(object_of).collect())
    }

    async fn calendar_get_object(
        &self,
        auth: &NcAuth,
        user: &str,
        calendar: &str,
        name: &str,
    ) -> Result<Option<CalendarObject>, NcError> {
        let url = self.calendar_object_url(user, calendar, name)?;
        self.dav_get_object(auth, &EVENTS, url, name).await
    }

    /// The object holding the event with `uid`: `{uid}.ics` (as this server and most clients
    /// name them), else found by a UID calendar-query.
    pub async fn calendar_find_event(
        &self,
        auth: &NcAuth,
        user: &str,
        calendar: &str,
        uid: &str,
    ) -> Result<CalendarObject, NcError> {
        let has_uid = |object: &CalendarObject| {
            events_of(&object.data)
                .map(|events| events.iter().any(|e| e.text("UID").as_deref() == Some(uid)))
                .unwrap_or(false)
        };
        let direct = format!("{uid}.ics");
        if validate_name(&direct, "uid").is_ok() {
            if let Some(object) = self
                .calendar_get_object(auth, user, calendar, &direct)
                .await?
            {
                if has_uid(&object) {
                    return Ok(object);
                }
            }
        }
        let url = self.calendar_url(user, calendar)?;
        let request = self.dav_xml_request(auth, "REPORT", url, Some("1"), uid_query_body(uid))?;
        let responses = self
            .dav_multistatus(API, request, |status| match status {
                StatusCode::NOT_FOUND => calendar_not_found(calendar),
                s => unexpected(s),
            })
            .await?;
        responses
            .iter()
            .filter_map(object_of)
            .find(has_uid)
            .ok_or_else(|| event_not_found(calendar, uid))
    }

    /// Stores an object; `if_match` None means create only. Returns the new ETag if known.
    pub async fn calendar_put_object(
        &self,
        auth: &NcAuth,
        user: &str,
        calendar: &str,
        name: &str,
        data: String,
        if_match: Option<&str>,
    ) -> Result<Option<String>, NcError> {
        let url = self.calendar_object_url(user, calendar, name)?;
        self.dav_put_object(auth, &EVENTS, url, name, data, if_match, || {
            calendar_not_found(calendar)
        })
        .await
    }

    /// Deletes the object `name`; `etag` makes it conditional. Returns false if it was gone.
    pub async fn calendar_delete_object(
        &self,
        auth: &NcAuth,
        user: &str,
        calendar: &str,
        name: &str,
        etag: Option<&str>,
    ) -> Result<bool, NcError> {
        let url = self.calendar_object_url(user, calendar, name)?;
        self.dav_delete_object(auth, &EVENTS, url, etag).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nextcloud::dav::{parse_multistatus, parse_xml};
    use chrono::TimeZone;

    #[test]
    fn object_urls_stay_in_the_calendar() {
        let nc = Nextcloud::new(
            reqwest::Client::new(),
            Url::parse("https://cloud.example/").unwrap(),
            crate::metrics::Metrics::new().unwrap(),
        );
        assert_eq!(
            nc.calendar_object_url("alice", "personal", "a b.ics")
                .unwrap()
                .as_str(),
            "https://cloud.example/remote.php/dav/calendars/alice/personal/a%20b.ics"
        );
        for calendar in ["..", ".", "a/b", ""] {
            assert!(
                matches!(
                    nc.calendar_object_url("alice", calendar, "x.ics"),
                    Err(NcError::InvalidInput(_))
                ),
                "{calendar:?}"
            );
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap()
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
    fn timed_event_round_trip_with_escaping_and_folding() {
        let start = EventTime::Utc(Utc.with_ymd_and_hms(2025, 3, 14, 14, 0, 0).unwrap());
        let end = EventTime::Utc(Utc.with_ymd_and_hms(2025, 3, 14, 15, 30, 0).unwrap());
        let description = format!("Agenda; items, and\nmore\\{}", "ü".repeat(80));
        let fields = EventFields {
            summary: Some("Planning, Q2; \"core\"".into()),
            span: Some((start, end)),
            location: Some("Room 1".into()),
            description: Some(description.clone()),
        };
        let text = build_event("uid-1", &fields, now()).to_text();
        assert!(text.contains("DTSTART:20250314T140000Z\r\n"));
        assert!(text.contains("SUMMARY:Planning\\, Q2\\; \"core\"\r\n"));
        assert!(text.contains("PRODID:-//Nextcloud MCP Server//EN\r\n"));
        assert!(text.lines().all(|l| l.len() <= 75));
        let events = events_of(&text).unwrap();
        assert_eq!(events.len(), 1);
        let summary = summarize_event(&events[0]).unwrap();
        assert_eq!(summary.uid, "uid-1");
        assert_eq!(summary.summary, "Planning, Q2; \"core\"");
        assert_eq!(summary.start, "2025-03-14T14:00:00Z");
        assert_eq!(summary.end, "2025-03-14T15:30:00Z");
        assert!(!summary.all_day);
        assert_eq!(summary.location.as_deref(), Some("Room 1"));
        assert_eq!(summary.description.as_deref(), Some(description.as_str()));
        assert!(!summary.recurring);
    }

    #[test]
    fn all_day_events_use_dates_and_inclusive_last_day() {
        let fields = EventFields {
            summary: Some("Holiday".into()),
            span: Some((
                EventTime::Date(NaiveDate::from_ymd_opt(2025, 8, 1).unwrap()),
                EventTime::Date(NaiveDate::from_ymd_opt(2025, 8, 4).unwrap()),
            )),
            ..EventFields::default()
        };
        let text = build_event("uid-2", &fields, now()).to_text();
        assert!(text.contains("DTSTART;VALUE=DATE:20250801\r\n"));
        assert!(text.contains("DTEND;VALUE=DATE:20250804\r\n"));
        let summary = summarize_event(&events_of(&text).unwrap()[0]).unwrap();
        assert!(summary.all_day);
        assert_eq!(summary.start, "2025-08-01");
        assert_eq!(summary.end, "2025-08-03");
        // Without DTEND an all-day event lasts one day.
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART;VALUE=DATE:20250801\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let summary = summarize_event(&events_of(text).unwrap()[0]).unwrap();
        assert_eq!(
            (summary.start.as_str(), summary.end.as_str()),
            ("2025-08-01", "2025-08-01")
        );
    }

    #[test]
    fn foreign_events_with_tzid_duration_and_recurrence() {
        let text = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VTIMEZONE\nTZID:Europe/Berlin\nEND:VTIMEZONE\nBEGIN:VEVENT\nUID:abc@example.com\nDTSTART;TZID=Europe/Berlin:20250310T090000\nDURATION:PT1H30M\nRRULE:FREQ=WEEKLY;BYDAY=MO\nSUMMARY:Stand-up\nX-CUSTOM;X-P=1:keep me\nEND:VEVENT\nBEGIN:VEVENT\nUID:abc@example.com\nRECURRENCE-ID:20250317T080000Z\nDTSTART:20250317T100000Z\nDTEND:20250317T103000Z\nSUMMARY:Stand-up (moved)\nEND:VEVENT\nEND:VCALENDAR\n";
        let events = events_of(text).unwrap();
        assert_eq!(events.len(), 2);
        let master = summarize_event(&events[0]).unwrap();
        assert_eq!(master.start, "2025-03-10T09:00:00");
        assert_eq!(master.end, "2025-03-10T10:30:00");
        assert_eq!(master.timezone.as_deref(), Some("Europe/Berlin"));
        assert!(master.recurring);
        assert_eq!(master.rrule.as_deref(), Some("FREQ=WEEKLY;BYDAY=MO"));
        let moved = summarize_event(&events[1]).unwrap();
        assert_eq!(moved.recurrence_id.as_deref(), Some("2025-03-17T08:00:00Z"));

        // Updating keeps unknown properties, other components and bumps SEQUENCE.
        let fields = EventFields {
            summary: Some("Daily stand-up".into()),
            location: Some("".into()),
            ..EventFields::default()
        };
        let updated = update_event_data(text, "abc@example.com", &fields, now()).unwrap();
        let events = events_of(&updated).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].text("SUMMARY").as_deref(), Some("Daily stand-up"));
        assert_eq!(events[0].prop("X-CUSTOM").unwrap().value, "keep me");
        assert_eq!(events[0].prop("SEQUENCE").unwrap().value, "1");
        assert_eq!(
            events[0].prop("DTSTART").unwrap().param("TZID"),
            Some("Europe/Berlin")
        );
        assert_eq!(
            events[1].text("SUMMARY").as_deref(),
            Some("Stand-up (moved)")
        );
        assert!(updated.contains("BEGIN:VTIMEZONE"));
        assert!(update_event_data(text, "other", &fields, now()).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT1H30M"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("P1W"), Some(Duration::weeks(1)));
        assert_eq!(parse_duration("-P1DT2H"), Some(-Duration::hours(26)));
        assert_eq!(parse_duration("P"), None);
        assert_eq!(parse_duration("PT5"), None);
        assert_eq!(parse_duration("P1H"), None);
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
