use super::*;
use chrono::TimeZone;
use serde_json::{json, Value};

fn args(value: Value) -> Option<JsonObject> {
    value.as_object().cloned()
}

fn item(uid: &str, due: Option<&str>, priority: Option<u8>) -> (SortKey, Task) {
    let task = Task {
        uid: uid.into(),
        calendar: "tasks".into(),
        summary: format!("Task {uid}"),
        description: None,
        status: Status::NeedsAction,
        percent: 0,
        due: due.map(str::to_owned),
        start: None,
        timezone: None,
        completed: None,
        priority,
        categories: vec![],
        parent_uid: None,
        recurring: false,
        etag: None,
    };
    let key = SortKey(
        due.is_none(),
        due.unwrap_or_default().to_owned(),
        priority.unwrap_or(10),
        "tasks".into(),
        uid.into(),
    );
    (key, task)
}

#[test]
fn pages_follow_due_then_priority_and_the_cursor_survives_removals() {
    let all = vec![
        item("c", None, None),
        item("a", Some("20260501T000000Z"), Some(5)),
        item("b", Some("20260501T000000Z"), Some(1)),
        item("d", Some("20260401T120000Z"), None),
        item("e", None, Some(1)),
    ];
    let uids = |items: &[Task]| items.iter().map(|t| t.uid.clone()).collect::<Vec<_>>();
    let (first, next) = page(all.clone(), Some(2), None).unwrap();
    assert_eq!(uids(&first), ["d", "b"]);
    let cursor = next.expect("more pages");
    let (second, next) = page(all.clone(), Some(2), Some(&cursor)).unwrap();
    assert_eq!(uids(&second), ["a", "e"]);
    let (third, last) = page(all.clone(), Some(2), next.as_deref()).unwrap();
    assert_eq!((uids(&third), last), (vec!["c".to_owned()], None));
    // A task completed between pages does not shift the next page.
    let fewer: Vec<_> = all.iter().filter(|(_, t)| t.uid != "b").cloned().collect();
    assert_eq!(
        uids(&page(fewer, Some(2), Some(&cursor)).unwrap().0),
        ["a", "e"]
    );
    assert_eq!(page(all.clone(), None, None).unwrap().0.len(), 5);
    assert!(page(all.clone(), Some(0), None).is_err());
    let bad = page(all.clone(), Some(2), Some("not-a-cursor")).unwrap_err();
    assert!(bad.to_string().contains("cursor"), "{bad}");
    // Limits are capped.
    let many: Vec<_> = (0..250)
        .map(|i| item(&format!("{i:03}"), None, None))
        .collect();
    assert_eq!(page(many, Some(1000), None).unwrap().0.len(), MAX_LIMIT);
}

#[test]
fn list_arguments_and_filters() {
    let a: ListArgs = parse_args(args(json!({}))).unwrap();
    assert_eq!(a.status, StatusFilter::Open);
    let a: ListArgs =
        parse_args(args(json!({"status": "done", "due_before": "2026-05-01"}))).unwrap();
    assert_eq!(a.status, StatusFilter::Done);
    assert!(parse_args::<ListArgs>(args(json!({"status": "finished"}))).is_err());
    assert!(parse_args::<ListArgs>(args(json!({"calendar_id": "x"}))).is_err());
    assert!(StatusFilter::Open.admits(Status::InProcess));
    assert!(!StatusFilter::Open.admits(Status::Cancelled));
    assert!(!StatusFilter::Done.admits(Status::Cancelled));
    assert!(StatusFilter::All.admits(Status::Cancelled));
    assert_eq!(
        parse_bound("2026-05-01", "due_before").unwrap(),
        Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap()
    );
    assert_eq!(
        parse_bound("2026-05-01T02:00:00+02:00", "due_before").unwrap(),
        Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap()
    );
    assert!(parse_bound("tomorrow", "due_before").is_err());

    let (_, mut t) = item("q", None, None);
    t.description = Some("Mit Grüßen".into());
    t.categories = vec!["Büro".into()];
    assert!(matches_query(&t, "task q"));
    assert!(matches_query(&t, "grüßen"));
    assert!(matches_query(&t, "büro"));
    assert!(!matches_query(&t, "garten"));
}

#[test]
fn updates_tell_removal_from_leaving_alone() {
    let a: UpdateArgs = parse_args(args(json!({
        "calendar": "tasks", "uid": "u", "etag": "e",
        "due": null, "parent_uid": "", "status": "COMPLETED"
    })))
    .unwrap();
    let change = change_from(&a).unwrap();
    assert_eq!(change.due, Some(None));
    assert_eq!(change.parent_uid, Some(None));
    assert_eq!(change.start, None);
    assert_eq!(change.status, Some(Status::Completed));
    let a: UpdateArgs = parse_args(args(json!({
        "calendar": "tasks", "uid": "u", "etag": "e", "due": "2026-05-01", "priority": 0
    })))
    .unwrap();
    let change = change_from(&a).unwrap();
    assert!(matches!(change.due, Some(Some(Moment::Day(_)))));
    assert_eq!(change.priority, Some(0));
    for (value, says) in [
        (
            json!({"calendar": "t", "uid": "u", "etag": "e"}),
            "nothing to change",
        ),
        (
            json!({"calendar": "t", "uid": "u", "etag": "e", "summary": " "}),
            "summary",
        ),
        (
            json!({"calendar": "t", "uid": "u", "etag": "e", "priority": 10}),
            "priority",
        ),
        (
            json!({"calendar": "t", "uid": "u", "etag": "e", "percent": 120}),
            "percent",
        ),
        (
            json!({"calendar": "t", "uid": "u", "etag": "e", "due": "next week"}),
            "due must be",
        ),
    ] {
        let err = change_from(&parse_args::<UpdateArgs>(args(value.clone())).unwrap()).unwrap_err();
        assert!(err.to_string().contains(says), "{value}: {err}");
    }
    // Status names are iCalendar's.
    assert!(parse_args::<UpdateArgs>(args(
        json!({"calendar": "t", "uid": "u", "etag": "e", "status": "done"})
    ))
    .is_err());
    // The etag is required.
    assert!(
        parse_args::<UpdateArgs>(args(json!({"calendar": "t", "uid": "u", "summary": "x"})))
            .is_err()
    );
}

#[test]
fn an_unknown_calendar_is_answered_with_the_ones_that_hold_tasks() {
    let calendars = vec![TaskCalendar {
        id: "tasks".into(),
        name: "Aufgaben".into(),
        writable: Some(true),
    }];
    assert_eq!(pick_calendar(&calendars, "tasks").unwrap().name, "Aufgaben");
    let err = pick_calendar(&calendars, "personal")
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"tasks\" (Aufgaben)"), "{err}");
    let none = pick_calendar(&[], "personal").unwrap_err().to_string();
    assert!(none.contains("Tasks app"), "{none}");
}

#[test]
fn every_tool_has_an_object_output_schema() {
    for spec in TOOLS {
        let schema = (spec.output.expect("structured"))();
        assert_eq!(
            schema.get("type").and_then(Value::as_str),
            Some("object"),
            "{}",
            spec.name
        );
    }
    let update = (TOOLS[2].schema)();
    let required = update["required"].as_array().unwrap();
    for field in ["calendar", "uid", "etag"] {
        assert!(required.iter().any(|r| r == field), "{field}");
    }
    assert!(TOOLS[2].description.contains("set status COMPLETED"));
}
