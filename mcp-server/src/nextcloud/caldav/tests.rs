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
    // Events and tasks are found by the same query, for their own component.
    for component in ["VEVENT", "VTODO"] {
        let query = parse_xml(&component_uid_query(component, "a<b")).unwrap();
        let found = query
            .child(NS_CALDAV, "filter")
            .and_then(|f| f.child(NS_CALDAV, "comp-filter"))
            .and_then(|f| f.child(NS_CALDAV, "comp-filter"))
            .unwrap();
        assert_eq!(found.attr("name"), Some(component));
        let text = found
            .child(NS_CALDAV, "prop-filter")
            .and_then(|f| f.child(NS_CALDAV, "text-match"))
            .unwrap();
        assert_eq!(text.text, "a<b");
    }
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

#[test]
fn calendar_bodies_and_answers() {
    let props = CalendarProps {
        name: Some("Projekt <X> & Co".into()),
        color: Some("#0082c9".into()),
        description: Some("".into()),
        components: vec!["VEVENT".into(), "VTODO".into()],
    };
    let mk = parse_xml(&mkcalendar_body(&props)).unwrap();
    assert!(mk.is(NS_CALDAV, "mkcalendar"));
    let prop = mk
        .child(NS_DAV, "set")
        .and_then(|s| s.child(NS_DAV, "prop"))
        .unwrap();
    assert_eq!(
        prop.child(NS_DAV, "displayname").unwrap().text,
        "Projekt <X> & Co"
    );
    assert_eq!(
        prop.child(NS_APPLE_ICAL, "calendar-color").unwrap().text,
        "#0082c9"
    );
    let comps: Vec<_> = prop
        .child(NS_CALDAV, "supported-calendar-component-set")
        .unwrap()
        .children_named(NS_CALDAV, "comp")
        .filter_map(|c| c.attr("name"))
        .collect();
    assert_eq!(comps, ["VEVENT", "VTODO"]);
    let patch = parse_xml(&proppatch_body(&props)).unwrap();
    assert!(patch.is(NS_DAV, "propertyupdate"));
    assert!(patch
        .child(NS_DAV, "remove")
        .and_then(|r| r.child(NS_DAV, "prop"))
        .and_then(|p| p.child(NS_CALDAV, "calendar-description"))
        .is_some());
    // sabre's PROPPATCH answer when one property is refused (403) and the rest fail (424).
    let answer = r#"<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:x1="http://apple.com/ns/ical/">
 <d:response><d:href>/remote.php/dav/calendars/alice/personal/</d:href>
  <d:propstat><d:prop><x1:calendar-color/></d:prop><d:status>HTTP/1.1 403 Forbidden</d:status></d:propstat>
  <d:propstat><d:prop><d:displayname/></d:prop><d:status>HTTP/1.1 424 Failed Dependency</d:status></d:propstat>
 </d:response></d:multistatus>"#;
    assert_eq!(
        refused_props(answer).unwrap(),
        ["calendar-color", "displayname"]
    );
    let fine = answer
        .replace("403 Forbidden", "200 OK")
        .replace("424 Failed Dependency", "200 OK");
    assert!(refused_props(&fine).unwrap().is_empty());
    assert_eq!(id_from_name("Projekt X: Büro & Co."), "projekt-x-b-ro-co");
    assert_eq!(id_from_name("  ***  "), "calendar");
}

#[test]
fn free_busy_answers_as_sabre_sends_them() {
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2026, 3, 9, 0, 0, 0).unwrap();
    let request = freebusy_request(
        "fb-1",
        "alice@example.test",
        &["bob@example.test".into(), "nobody@example.test".into()],
        start,
        end,
        start,
    );
    let calendar = crate::nextcloud::events::calendar_of(&request).unwrap();
    let fb = calendar.components().next().unwrap();
    assert_eq!(fb.name, "VFREEBUSY");
    assert_eq!(fb.prop("DTSTART").unwrap().value, "20260302T000000Z");
    assert_eq!(fb.props("ATTENDEE").count(), 2);
    assert!(request.contains("METHOD:REQUEST\r\n"));
    // Sabre\CalDAV\Schedule\Plugin::outboxRequest → getFreeBusyForEmail (sabre/dav 4.7).
    let answer = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<cal:schedule-response xmlns:d=\"DAV:\" xmlns:s=\"http://sabredav.org/ns\" xmlns:cal=\"urn:ietf:params:xml:ns:caldav\">\n <cal:response>\n  <cal:recipient>\n   <d:href>mailto:bob@example.test</d:href>\n  </cal:recipient>\n  <cal:request-status>2.0;Success</cal:request-status>\n  <cal:calendar-data>BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Sabre//Sabre VObject 4.5.6//EN\r\nCALSCALE:GREGORIAN\r\nMETHOD:REPLY\r\nBEGIN:VFREEBUSY\r\nDTSTART:20260302T000000Z\r\nDTEND:20260309T000000Z\r\nDTSTAMP:20260301T120000Z\r\nFREEBUSY;FBTYPE=BUSY:20260304T090000Z/20260304T100000Z,20260303T080000Z/PT30M\r\nFREEBUSY;FBTYPE=BUSY-TENTATIVE:20260305T090000Z/20260305T093000Z\r\nATTENDEE:mailto:bob@example.test\r\nUID:fb-1\r\nORGANIZER:mailto:alice@example.test\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n</cal:calendar-data>\n </cal:response>\n <cal:response>\n  <cal:recipient>\n   <d:href>mailto:nobody@example.test</d:href>\n  </cal:recipient>\n  <cal:request-status>3.7;Could not find principal</cal:request-status>\n </cal:response>\n</cal:schedule-response>\n";
    let items = parse_schedule_response(answer).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].email, "bob@example.test");
    assert!(items[0].found);
    let busy: Vec<_> = items[0]
        .busy
        .iter()
        .map(|b| (b.start.as_str(), b.end.as_str(), b.kind.as_str()))
        .collect();
    assert_eq!(
        busy,
        [
            ("2026-03-03T08:00:00Z", "2026-03-03T08:30:00Z", "BUSY"),
            ("2026-03-04T09:00:00Z", "2026-03-04T10:00:00Z", "BUSY"),
            (
                "2026-03-05T09:00:00Z",
                "2026-03-05T09:30:00Z",
                "BUSY-TENTATIVE"
            ),
        ]
    );
    assert!(!items[1].found);
    assert_eq!(items[1].status, "3.7;Could not find principal");
    assert!(parse_schedule_response("<d:multistatus xmlns:d=\"DAV:\"/>").is_err());
}
