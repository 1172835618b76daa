use super::*;
use crate::nextcloud::ical::Moment;
use crate::nextcloud::vobject::added_lines;
use chrono::{FixedOffset, NaiveDate, TimeZone};

const NEXTCLOUD: &str =
    include_str!("../../../../tests/fixtures/dav/calendar/nextcloud-tasks-vtodo.ics");
const THUNDERBIRD: &str =
    include_str!("../../../../tests/fixtures/dav/calendar/thunderbird-task-berlin.ics");
const APPLE: &str =
    include_str!("../../../../tests/fixtures/dav/calendar/apple-reminders-completed.ics");
const OPENTASKS: &str =
    include_str!("../../../../tests/fixtures/dav/calendar/davx5-opentasks-recurring.ics");

const NC_UID: &str = "e7a1c3b5-9d24-4f6e-8b0a-3c5d7e9f1a26";
const TB_UID: &str = "8c0d5e7a-3b19-4f26-a4d8-61e9c2b7f053";
const APPLE_UID: &str = "6D1F4C2A-93B7-4E0A-8C5D-2F7A1B3E9C48";
const OT_UID: &str = "1b7e3f09-5c2d-4a8e-9f61-d04b2c7a8e35";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 20, 7, 30, 0).unwrap()
}

fn at(rfc3339: &str) -> Moment {
    Moment::At(DateTime::<FixedOffset>::parse_from_rfc3339(rfc3339).unwrap())
}

fn day(y: i32, m: u32, d: u32) -> Moment {
    Moment::Day(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn task(data: &str) -> Task {
    let object = DavObject {
        name: "x.ics".into(),
        etag: Some("e1".into()),
        data: data.into(),
    };
    let mut tasks = tasks_of(&object, "tasks");
    assert_eq!(tasks.len(), 1);
    tasks.remove(0).1
}

/// (lines added, lines removed), physical lines as multisets.
fn diff(before: &str, after: &str) -> (Vec<String>, Vec<String>) {
    (added_lines(before, after), added_lines(after, before))
}

fn names(lines: &[String]) -> Vec<String> {
    let mut names: Vec<String> = lines
        .iter()
        .map(|l| l.split([';', ':']).next().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    names
}

fn edit(data: &str, uid: &str, change: TaskChange) -> String {
    update_task_data(data, uid, &change, now())
        .unwrap()
        .expect("something changed")
}

#[test]
fn tasks_from_every_client_read_as_a_model_sees_them() {
    let nc = task(NEXTCLOUD);
    assert_eq!(nc.uid, NC_UID);
    assert_eq!(nc.summary, "Hochbeet bepflanzen");
    assert_eq!(nc.status, Status::InProcess);
    assert_eq!(nc.percent, 40);
    assert_eq!(nc.due.as_deref(), Some("2026-04-25"));
    assert_eq!(nc.priority, Some(1));
    assert_eq!(nc.categories, ["Garten"]);
    assert_eq!(
        nc.parent_uid.as_deref(),
        Some("2b4d6f80-1a3c-4e5f-9071-b2c4d6e8f0a1")
    );
    assert_eq!(
        nc.description.as_deref(),
        Some("Tomaten, Basilikum, Salat – Erde vorher auflockern.")
    );
    assert!(!nc.recurring);
    assert_eq!(nc.etag.as_deref(), Some("e1"));

    let tb = task(THUNDERBIRD);
    assert_eq!(tb.due.as_deref(), Some("2026-04-15T18:00:00"));
    assert_eq!(tb.start.as_deref(), Some("2026-04-01T09:00:00"));
    assert_eq!(tb.timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(
        (tb.status, tb.percent, tb.priority),
        (Status::InProcess, 25, Some(1))
    );

    let apple = task(APPLE);
    assert_eq!(apple.status, Status::Completed);
    assert_eq!(apple.completed.as_deref(), Some("2026-04-05T08:12:33Z"));
    assert_eq!(apple.due.as_deref(), Some("2026-04-04"));
    assert_eq!(apple.priority, Some(9));
    assert_eq!(apple.parent_uid, None);

    let ot = task(OPENTASKS);
    assert!(ot.recurring);
    assert_eq!(ot.timezone.as_deref(), Some("Europe/Vienna"));
    assert_eq!(ot.description.as_deref(), Some("Balkon und Wohnzimmer; die Orchidee auf der Fensterbank nur jede zweite Woche, dann aber tauchen."));
}

#[test]
fn lists_sort_by_due_instant_then_priority_with_undated_tasks_last() {
    let object = |data: &str| DavObject {
        name: "x.ics".into(),
        etag: None,
        data: data.into(),
    };
    let key = |data: &str| tasks_of(&object(data), "tasks").remove(0).0;
    // Thunderbird's due is 18:00 CEST = 16:00Z: zoned times sort by their instant.
    assert_eq!(key(THUNDERBIRD).1, "20260415T160000Z");
    assert_eq!(key(NEXTCLOUD).1, "20260425T000000Z");
    assert!(key(THUNDERBIRD) < key(NEXTCLOUD));
    let undated = NEXTCLOUD.replace("DUE;VALUE=DATE:20260425\r\n", "");
    assert!(key(&undated).0, "no due: sorts last");
    assert!(key(NEXTCLOUD) < key(&undated));
    // Not iCalendar at all: no task, no panic.
    assert!(tasks_of(&object("garbage"), "tasks").is_empty());
}

#[test]
fn completing_a_nextcloud_subtask_sets_status_percent_and_completed_and_keeps_the_rest() {
    let after = edit(
        NEXTCLOUD,
        NC_UID,
        TaskChange {
            status: Some(Status::Completed),
            ..Default::default()
        },
    );
    let (added, removed) = diff(NEXTCLOUD, &after);
    assert_eq!(
        names(&added),
        [
            "COMPLETED",
            "DTSTAMP",
            "LAST-MODIFIED",
            "PERCENT-COMPLETE",
            "STATUS"
        ]
    );
    assert_eq!(
        names(&removed),
        ["DTSTAMP", "LAST-MODIFIED", "PERCENT-COMPLETE", "STATUS"]
    );
    assert!(added.contains(&"COMPLETED:20260420T073000Z\r\n".to_owned()));
    assert!(added.contains(&"STATUS:COMPLETED\r\n".to_owned()));
    assert!(added.contains(&"PERCENT-COMPLETE:100\r\n".to_owned()));
    // The subtask link, the all-day due date and the X-OC line are the stored bytes.
    for line in [
        "RELATED-TO:2b4d6f80-1a3c-4e5f-9071-b2c4d6e8f0a1\r\n",
        "DUE;VALUE=DATE:20260425\r\n",
        "X-OC-HIDESUBTASKS:0\r\n",
    ] {
        assert!(after.contains(line), "{line}");
    }
    let done = task(&after);
    assert_eq!((done.status, done.percent), (Status::Completed, 100));
    // Completing again changes nothing (and writes nothing).
    let again = update_task_data(
        &after,
        NC_UID,
        &TaskChange {
            status: Some(Status::Completed),
            ..Default::default()
        },
        now() + chrono::Duration::hours(1),
    )
    .unwrap();
    assert_eq!(again, None);
}

#[test]
fn percent_100_completes_and_less_reopens_as_the_tasks_app_does() {
    let done = edit(
        NEXTCLOUD,
        NC_UID,
        TaskChange {
            percent: Some(100),
            ..Default::default()
        },
    );
    assert_eq!(task(&done).status, Status::Completed);
    assert!(done.contains("COMPLETED:20260420T073000Z\r\n"));
    let reopened = edit(
        &done,
        NC_UID,
        TaskChange {
            percent: Some(60),
            ..Default::default()
        },
    );
    let t = task(&reopened);
    assert_eq!(
        (t.status, t.percent, t.completed),
        (Status::InProcess, 60, None)
    );
    assert!(!reopened.contains("\r\nCOMPLETED:"));
    let zero = edit(
        &reopened,
        NC_UID,
        TaskChange {
            percent: Some(0),
            ..Default::default()
        },
    );
    assert_eq!(task(&zero).status, Status::NeedsAction);
}

#[test]
fn reopening_an_apple_reminder_removes_completed_and_keeps_apples_lines() {
    let after = edit(
        APPLE,
        APPLE_UID,
        TaskChange {
            status: Some(Status::NeedsAction),
            ..Default::default()
        },
    );
    let (added, removed) = diff(APPLE, &after);
    assert_eq!(
        names(&added),
        ["DTSTAMP", "LAST-MODIFIED", "PERCENT-COMPLETE", "STATUS"]
    );
    assert_eq!(
        names(&removed),
        [
            "COMPLETED",
            "DTSTAMP",
            "LAST-MODIFIED",
            "PERCENT-COMPLETE",
            "STATUS"
        ]
    );
    assert!(added.contains(&"PERCENT-COMPLETE:0\r\n".to_owned()));
    let t = task(&after);
    assert_eq!(
        (t.status, t.percent, t.completed),
        (Status::NeedsAction, 0, None)
    );
    assert!(after.contains("X-APPLE-SORT-ORDER:796501930\r\n"));
    assert!(after.contains(
        "DESCRIPTION:Pfandflaschen aus dem Keller\\, dazu die Getränkekisten vom G\r\n eburtstag"
    ));
}

#[test]
fn a_thunderbird_due_time_stays_in_its_zone_and_the_alarm_stays() {
    // The model gives 18:00 with the summer offset: stored as Berlin local time.
    let after = edit(
        THUNDERBIRD,
        TB_UID,
        TaskChange {
            due: Some(Some(at("2026-04-20T18:00:00+02:00"))),
            ..Default::default()
        },
    );
    let (added, removed) = diff(THUNDERBIRD, &after);
    assert_eq!(names(&added), ["DTSTAMP", "DUE", "LAST-MODIFIED"]);
    assert_eq!(names(&removed), ["DTSTAMP", "DUE", "LAST-MODIFIED"]);
    assert!(added.contains(&"DUE;TZID=Europe/Berlin:20260420T180000\r\n".to_owned()));
    for kept in [
        "TRIGGER;RELATED=END;VALUE=DURATION:-PT1H\r\n",
        "X-MOZ-GENERATION:4\r\n",
        "DTSTART;TZID=Europe/Berlin:20260401T090000\r\n",
    ] {
        assert!(after.contains(kept), "{kept}");
    }
    // A UTC time given for a zoned task lands at the same instant, in the zone.
    let utc = edit(
        THUNDERBIRD,
        TB_UID,
        TaskChange {
            due: Some(Some(at("2026-04-20T16:00:00Z"))),
            ..Default::default()
        },
    );
    assert!(utc.contains("DUE;TZID=Europe/Berlin:20260420T180000\r\n"));
    // Giving the same due time changes nothing.
    let same = TaskChange {
        due: Some(Some(at("2026-04-15T18:00:00+02:00"))),
        ..Default::default()
    };
    assert_eq!(
        update_task_data(THUNDERBIRD, TB_UID, &same, now()).unwrap(),
        None
    );
}

#[test]
fn all_day_due_dates_round_trip_and_mixed_kinds_are_refused() {
    let moved = edit(
        NEXTCLOUD,
        NC_UID,
        TaskChange {
            due: Some(Some(day(2026, 5, 2))),
            ..Default::default()
        },
    );
    assert!(moved.contains("DUE;VALUE=DATE:20260502\r\n"));
    assert_eq!(task(&moved).due.as_deref(), Some("2026-05-02"));
    // Apple's reminder has a date start: a timed due would break the pair.
    let err = update_task_data(
        APPLE,
        APPLE_UID,
        &TaskChange {
            due: Some(Some(at("2026-04-06T10:00:00Z"))),
            ..Default::default()
        },
        now(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, NcError::InvalidInput(m) if m.contains("must both be dates or both date-times")),
        "{err}"
    );
    let err = update_task_data(
        THUNDERBIRD,
        TB_UID,
        &TaskChange {
            due: Some(Some(at("2026-03-20T18:00:00+01:00"))),
            ..Default::default()
        },
        now(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, NcError::InvalidInput(m) if m.contains("must not be before start")),
        "{err}"
    );
    // Removing the due date removes the line only.
    let cleared = edit(
        NEXTCLOUD,
        NC_UID,
        TaskChange {
            due: Some(None),
            ..Default::default()
        },
    );
    let (added, removed) = diff(NEXTCLOUD, &cleared);
    assert_eq!(names(&added), ["DTSTAMP", "LAST-MODIFIED"]);
    assert_eq!(names(&removed), ["DTSTAMP", "DUE", "LAST-MODIFIED"]);
}

#[test]
fn categories_priority_and_parent_change_only_their_lines() {
    let after = edit(
        NEXTCLOUD,
        NC_UID,
        TaskChange {
            categories: Some(vec![
                "Garten".into(),
                "Frühling, draußen".into(),
                " ".into(),
            ]),
            priority: Some(0),
            parent_uid: Some(None),
            ..Default::default()
        },
    );
    let (added, removed) = diff(NEXTCLOUD, &after);
    assert_eq!(names(&added), ["CATEGORIES", "DTSTAMP", "LAST-MODIFIED"]);
    assert_eq!(
        names(&removed),
        [
            "CATEGORIES",
            "DTSTAMP",
            "LAST-MODIFIED",
            "PRIORITY",
            "RELATED-TO"
        ]
    );
    assert!(added.contains(&"CATEGORIES:Garten,Frühling\\, draußen\r\n".to_owned()));
    let t = task(&after);
    assert_eq!(t.categories, ["Garten", "Frühling, draußen"]);
    assert_eq!((t.priority, t.parent_uid), (None, None));

    // A new parent replaces the parent link in place; a CHILD link is another kind and stays.
    let with_child = NEXTCLOUD.replace(
        "DUE;VALUE=DATE",
        "RELATED-TO;RELTYPE=CHILD:0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a\r\nDUE;VALUE=DATE",
    );
    let moved = edit(
        &with_child,
        NC_UID,
        TaskChange {
            parent_uid: Some(Some("new-parent".into())),
            ..Default::default()
        },
    );
    assert!(moved.contains("SUMMARY:Hochbeet bepflanzen\r\nRELATED-TO:new-parent\r\n"));
    assert!(moved.contains("RELATED-TO;RELTYPE=CHILD:0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a\r\n"));
    assert_eq!(task(&moved).parent_uid.as_deref(), Some("new-parent"));
    let own = update_task_data(
        NEXTCLOUD,
        NC_UID,
        &TaskChange {
            parent_uid: Some(Some(NC_UID.into())),
            ..Default::default()
        },
        now(),
    );
    assert!(matches!(own, Err(NcError::InvalidInput(_))));
}

#[test]
fn a_repeating_task_keeps_its_recurrence_and_refuses_date_and_status_changes() {
    let after = edit(
        OPENTASKS,
        OT_UID,
        TaskChange {
            summary: Some("Blumen gießen (auch Kräuter)".into()),
            priority: Some(1),
            ..Default::default()
        },
    );
    let (added, removed) = diff(OPENTASKS, &after);
    assert_eq!(
        names(&added),
        ["DTSTAMP", "LAST-MODIFIED", "PRIORITY", "SUMMARY"]
    );
    assert_eq!(
        names(&removed),
        ["DTSTAMP", "LAST-MODIFIED", "PRIORITY", "SUMMARY"]
    );
    // The VTIMEZONE after the VTODO, the alarm and the rule are the stored bytes.
    assert!(after.ends_with(OPENTASKS.split("END:VTODO\r\n").nth(1).unwrap()));
    assert!(after.contains("RRULE:FREQ=WEEKLY;BYDAY=WE\r\n"));
    for change in [
        TaskChange {
            status: Some(Status::Completed),
            ..Default::default()
        },
        TaskChange {
            due: Some(Some(at("2026-05-07T19:00:00+02:00"))),
            ..Default::default()
        },
        TaskChange {
            percent: Some(50),
            ..Default::default()
        },
    ] {
        let err = update_task_data(OPENTASKS, OT_UID, &change, now()).unwrap_err();
        assert!(
            matches!(&err, NcError::InvalidInput(m) if m.contains("repeats")),
            "{err}"
        );
    }
}

#[test]
fn contradicting_status_and_percent_are_refused() {
    for (status, percent) in [
        (Some(Status::Completed), Some(50)),
        (Some(Status::NeedsAction), Some(100)),
        (None, Some(101)),
    ] {
        let change = TaskChange {
            status,
            percent,
            ..Default::default()
        };
        assert!(
            matches!(
                update_task_data(NEXTCLOUD, NC_UID, &change, now()),
                Err(NcError::InvalidInput(_))
            ),
            "{change:?}"
        );
    }
    let missing = update_task_data(
        NEXTCLOUD,
        "someone-else",
        &TaskChange {
            summary: Some("x".into()),
            ..Default::default()
        },
        now(),
    );
    assert!(matches!(missing, Err(NcError::NotFound(_))));
}

#[test]
fn new_tasks_are_valid_vtodos_with_their_fields() {
    let fields = NewTask {
        summary: "Angebot prüfen; dann unterschreiben".into(),
        description: Some("Zeile 1\nZeile 2".into()),
        due: Some(at("2026-06-01T17:00:00+02:00")),
        start: Some(at("2026-05-28T09:00:00+02:00")),
        priority: Some(3),
        categories: vec!["Arbeit".into(), "Verträge".into()],
        parent_uid: Some("p-1".into()),
        reminder_minutes_before: Some(90),
    };
    let text = build_task("u-1", &fields, now()).unwrap().to_text();
    for line in [
        "BEGIN:VTODO\r\nUID:u-1\r\n",
        "SUMMARY:Angebot prüfen\\; dann unterschreiben\r\n",
        "DESCRIPTION:Zeile 1\\nZeile 2\r\n",
        "DTSTART:20260528T070000Z\r\n",
        "DUE:20260601T150000Z\r\n",
        "PRIORITY:3\r\n",
        "STATUS:NEEDS-ACTION\r\n",
        "CATEGORIES:Arbeit,Verträge\r\n",
        "RELATED-TO:p-1\r\n",
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;RELATED=END:-PT1H30M\r\n",
    ] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
    let t = task(&text);
    assert_eq!(t.uid, "u-1");
    assert_eq!(t.status, Status::NeedsAction);
    assert_eq!(t.due.as_deref(), Some("2026-06-01T15:00:00Z"));
    // A day stays a day.
    let dated = build_task(
        "u-2",
        &NewTask {
            summary: "x".into(),
            due: Some(day(2026, 6, 1)),
            ..Default::default()
        },
        now(),
    )
    .unwrap()
    .to_text();
    assert!(dated.contains("DUE;VALUE=DATE:20260601\r\n"));
    // Refusals: mixed kinds, due before start, a reminder with nothing to be relative to.
    for fields in [
        NewTask {
            summary: "x".into(),
            due: Some(day(2026, 6, 1)),
            start: Some(at("2026-05-28T09:00:00Z")),
            ..Default::default()
        },
        NewTask {
            summary: "x".into(),
            due: Some(day(2026, 6, 1)),
            start: Some(day(2026, 6, 2)),
            ..Default::default()
        },
        NewTask {
            summary: "x".into(),
            reminder_minutes_before: Some(10),
            ..Default::default()
        },
    ] {
        assert!(matches!(
            build_task("u", &fields, now()),
            Err(NcError::InvalidInput(_))
        ));
    }
}

#[test]
fn the_query_filters_on_vtodo_and_due() {
    use crate::nextcloud::xml::parse_xml;
    let todo_filter = |query: &TaskQuery| {
        let root = parse_xml(&tasks_query_body(query)).unwrap();
        let todo = root
            .child(NS_CALDAV, "filter")
            .and_then(|f| f.child(NS_CALDAV, "comp-filter"))
            .and_then(|f| f.child(NS_CALDAV, "comp-filter"))
            .unwrap()
            .clone();
        assert_eq!(todo.attr("name"), Some("VTODO"));
        todo
    };
    let open_from_april = todo_filter(&TaskQuery {
        without_completed: true,
        due_after: Some(Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap()),
        due_before: None,
    });
    let props: Vec<_> = open_from_april
        .children_named(NS_CALDAV, "prop-filter")
        .collect();
    assert_eq!(props.len(), 2);
    assert_eq!(props[0].attr("name"), Some("COMPLETED"));
    assert!(props[0].child(NS_CALDAV, "is-not-defined").is_some());
    assert_eq!(props[1].attr("name"), Some("DUE"));
    let range = props[1].child(NS_CALDAV, "time-range").unwrap();
    assert_eq!(range.attr("start"), Some("20260401T000000Z"));
    assert_eq!(range.attr("end"), None);
    let all = todo_filter(&TaskQuery::default());
    assert!(all.child(NS_CALDAV, "prop-filter").is_none());
    assert!(parse_xml(&uid_query_body("a<b")).is_ok());
    assert!(holds_task(NEXTCLOUD, NC_UID));
    assert!(!holds_task(NEXTCLOUD, "other"));
}
