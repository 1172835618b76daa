use super::answers::{card_detail, card_summary, comment_out, EXCERPT_CHARS};
use super::args::{color_arg, cursor_arg, due_arg, limit_arg, title_arg};
use super::people::{is_retry, people_arg};
use super::read::{board_page, board_view};
use super::write::{changed_body, check_labels, create_checks, update_checks};
use super::*;
use crate::nextcloud::deck::{Board, Card, CardBody, Comment, Stack};
use serde_json::{json, Value};

fn board(id: i64, archived: bool, deleted_at: i64) -> Board {
    serde_json::from_value(json!({
        "id": id, "title": format!("Board {id}"), "color": "0082c9", "archived": archived,
        "owner": {"primaryKey": "alice", "uid": "alice", "displayname": "Alice"},
        "permissions": {"PERMISSION_READ": true, "PERMISSION_EDIT": true, "PERMISSION_MANAGE": false, "PERMISSION_SHARE": false},
        "labels": [{"id": 1, "title": "Urgent", "color": "FF7A66", "boardId": id}],
        "users": [{"primaryKey": "alice", "uid": "alice", "displayname": "Alice"}, {"primaryKey": "bob", "uid": "bob", "displayname": "Bob"}],
        "deletedAt": deleted_at, "lastModified": 1764930000
    }))
    .unwrap()
}

fn card(id: i64, stack: i64, order: i64, archived: bool) -> Value {
    json!({"id": id, "title": format!("Card {id}"), "description": "x".repeat(300), "stackId": stack,
           "type": "plain", "owner": "alice", "order": order, "archived": archived, "done": null,
           "duedate": "2026-12-24T17:00:00+01:00", "labels": null, "assignedUsers": null, "deletedAt": 0})
}

fn stacks(value: Value) -> Vec<Stack> {
    serde_json::from_value(value).unwrap()
}

#[test]
fn boards_page_by_id_without_deleted_or_archived_ones() {
    let boards = vec![
        board(5, false, 0),
        board(2, true, 0),
        board(3, false, 17),
        board(9, false, 0),
        board(1, false, 0),
    ];
    let first = board_page(boards.clone(), false, 2, None);
    assert_eq!(
        first.boards.iter().map(|b| b.id).collect::<Vec<_>>(),
        [1, 5]
    );
    assert_eq!(first.next_cursor.as_deref(), Some("b5"));
    let after = cursor_arg(first.next_cursor.as_deref(), 'b', "deck_list_boards").unwrap();
    let second = board_page(boards.clone(), false, 2, after);
    assert_eq!(second.boards.iter().map(|b| b.id).collect::<Vec<_>>(), [9]);
    assert_eq!(second.next_cursor, None);
    let all = board_page(boards, true, 50, None);
    assert_eq!(
        all.boards.iter().map(|b| b.id).collect::<Vec<_>>(),
        [1, 2, 5, 9]
    );
    let b = &all.boards[0];
    assert_eq!(b.permissions, ["read", "edit"]);
    assert_eq!(b.owner.name, "Alice");
    assert_eq!(b.last_modified.as_deref(), Some("2025-12-05T10:20:00Z"));
}

#[test]
fn cursors_are_checked() {
    for bad in ["", "5", "c5", "b-1", "bx", "b5x"] {
        assert!(
            cursor_arg(Some(bad), 'b', "deck_list_boards").is_err(),
            "{bad}"
        );
    }
    assert_eq!(cursor_arg(None, 'b', "t").unwrap(), None);
    assert!(limit_arg(Some(0)).is_err() && limit_arg(Some(201)).is_err());
    assert_eq!(limit_arg(None).unwrap(), 50);
}

#[test]
fn a_board_view_pages_cards_stack_by_stack() {
    let live = stacks(json!([
        {"id": 20, "title": "Done", "boardId": 1, "order": 2, "cards": [card(4, 20, 0, false)]},
        {"id": 10, "title": "To do", "boardId": 1, "order": 0, "cards": [card(1, 10, 0, false), card(2, 10, 1, false)]},
        {"id": 15, "title": "Empty", "boardId": 1, "order": 1}
    ]));
    let archived = stacks(
        json!([{"id": 10, "title": "To do", "boardId": 1, "order": 0, "cards": [card(3, 10, 5, true)]}]),
    );
    let b = board(1, false, 0);

    let first = board_view(&b, live.clone(), archived.clone(), None, 2, 0);
    let ids = |v: &BoardView| {
        v.stacks
            .iter()
            .map(|s| (s.id, s.cards.iter().map(|c| c.id).collect::<Vec<_>>()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), [(10, vec![1, 2]), (15, vec![]), (20, vec![])]);
    assert_eq!(first.stacks[0].card_count, 3, "archived cards merged in");
    assert_eq!(first.next_cursor.as_deref(), Some("c2"));
    let second = board_view(&b, live.clone(), archived.clone(), None, 2, 2);
    assert_eq!(ids(&second), [(10, vec![3]), (15, vec![]), (20, vec![4])]);
    assert_eq!(second.next_cursor, None);
    assert!(second.stacks[0].cards[0].archived);

    let only = board_view(&b, live.clone(), Vec::new(), Some(20), 50, 0);
    assert_eq!(ids(&only), [(20, vec![4])]);
    let c = &only.stacks[0].cards[0];
    assert_eq!(c.description.chars().count(), EXCERPT_CHARS + 1);
    assert_eq!(c.due.as_deref(), Some("2026-12-24T16:00:00Z"));
    assert_eq!(
        only.members
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert_eq!(only.labels[0].title, "Urgent");
    // The board's fields sit at the top level of the answer.
    let v = serde_json::to_value(&only).unwrap();
    assert_eq!(v["id"], 1);
    assert_eq!(v["title"], "Board 1");
}

#[test]
fn arguments_are_checked_before_anything_is_sent() {
    assert_eq!(
        due_arg("2026-12-11T17:00:00+01:00").unwrap(),
        "2026-12-11T16:00:00+00:00"
    );
    assert_eq!(
        due_arg(" 2026-12-11T17:00:00Z ").unwrap(),
        "2026-12-11T17:00:00+00:00"
    );
    for bad in ["2026-12-11", "tomorrow", "2026-12-11T17:00:00", ""] {
        assert!(due_arg(bad).is_err(), "{bad}");
    }
    assert_eq!(color_arg(Some("#FF7A66")).unwrap(), "ff7a66");
    assert_eq!(color_arg(None).unwrap(), DEFAULT_COLOR);
    for bad in ["red", "ff7a6", "ff7a66aa", "gg0000"] {
        assert!(color_arg(Some(bad)).is_err(), "{bad}");
    }
    assert!(title_arg("  ", 100).is_err());
    assert!(title_arg(&"é".repeat(101), 100).is_err());
    assert_eq!(title_arg(" ok ", 100).unwrap(), "ok");
}

fn create_args(value: Value) -> CreateArgs {
    serde_json::from_value(value).unwrap()
}

#[test]
fn create_takes_what_each_kind_needs() {
    assert!(create_checks(&create_args(json!({"kind": "board", "title": "B"}))).is_ok());
    assert!(create_checks(&create_args(
        json!({"kind": "board", "title": "B", "board_id": 1})
    ))
    .is_err());
    assert!(create_checks(&create_args(json!({"kind": "stack", "title": "S"}))).is_err());
    assert!(create_checks(&create_args(
        json!({"kind": "stack", "title": "S", "board_id": 1})
    ))
    .is_ok());
    assert!(create_checks(&create_args(
        json!({"kind": "label", "title": "L", "board_id": 1, "due": "x"})
    ))
    .is_err());
    assert!(create_checks(&create_args(
        json!({"kind": "card", "title": "C", "board_id": 1})
    ))
    .is_err());
    assert!(create_checks(&create_args(
        json!({"kind": "card", "title": "C", "board_id": 1, "stack_id": 2, "labels": [3]})
    ))
    .is_ok());
    assert!(create_checks(&create_args(
        json!({"kind": "card", "title": "C", "board_id": 1, "stack_id": 2, "color": "ffffff"})
    ))
    .is_err());
    assert!(
        serde_json::from_value::<CreateArgs>(json!({"kind": "comment", "title": "x"})).is_err()
    );
    assert!(serde_json::from_value::<CreateArgs>(
        json!({"kind": "card", "title": "x", "assignees": ["bob"]})
    )
    .is_err());
}

fn update_args(value: Value) -> UpdateArgs {
    serde_json::from_value(value).unwrap()
}

fn a_card() -> Card {
    serde_json::from_value(json!({
        "id": 7, "title": "Old", "description": "text", "stackId": 10, "type": "plain",
        "owner": {"primaryKey": "alice", "uid": "alice", "displayname": "Alice"}, "order": 3,
        "archived": false, "done": null, "duedate": "2026-12-24T17:00:00+00:00"
    }))
    .unwrap()
}

#[test]
fn an_update_changes_only_what_is_given() {
    let card = a_card();
    let now = 1_764_930_000;
    let (body, fields) = changed_body(
        &card,
        &update_args(json!({"board_id": 1, "card_id": 7})),
        now,
    )
    .unwrap();
    assert_eq!(body, CardBody::of(&card));
    assert!(fields.is_empty());

    // The same due date written differently is no change.
    let (_, fields) = changed_body(
        &card,
        &update_args(json!({"board_id": 1, "card_id": 7, "due": "2026-12-24T18:00:00+01:00"})),
        now,
    )
    .unwrap();
    assert!(fields.is_empty(), "{fields:?}");

    let (body, fields) = changed_body(
        &card,
        &update_args(
            json!({"board_id": 1, "card_id": 7, "title": " New ", "due": null, "done": true}),
        ),
        now,
    )
    .unwrap();
    assert_eq!(fields, ["title", "due", "done"]);
    assert_eq!(body.title, "New");
    assert_eq!(body.duedate, None);
    assert_eq!(body.done.as_deref(), Some("2025-12-05T10:20:00+00:00"));
    assert_eq!(
        (body.description.as_str(), body.order, body.owner.as_str()),
        ("text", 3, "alice")
    );

    let mut done = a_card();
    done.done = Some("2026-01-01T00:00:00+00:00".into());
    let (body, fields) = changed_body(
        &done,
        &update_args(json!({"board_id": 1, "card_id": 7, "done": true})),
        now,
    )
    .unwrap();
    assert!(fields.is_empty(), "already done keeps its time");
    assert_eq!(body.done.as_deref(), Some("2026-01-01T00:00:00+00:00"));
    let (body, fields) = changed_body(
        &done,
        &update_args(json!({"board_id": 1, "card_id": 7, "done": false})),
        now,
    )
    .unwrap();
    assert_eq!((fields, body.done), (vec!["done"], None));

    assert!(changed_body(
        &card,
        &update_args(json!({"board_id": 1, "card_id": 7, "due": "friday"})),
        now
    )
    .is_err());
    assert!(changed_body(
        &card,
        &update_args(json!({"board_id": 1, "card_id": 7, "title": ""})),
        now
    )
    .is_err());
    assert!(update_checks(&update_args(
        json!({"board_id": 1, "card_id": 7, "add_labels": [1], "remove_labels": [1]})
    ))
    .is_err());
    assert!(update_checks(&update_args(
        json!({"board_id": 1, "card_id": 7, "position": -1})
    ))
    .is_err());
    assert!(update_checks(&update_args(
        json!({"board_id": 1, "card_id": 7, "position": 0, "add_labels": [2]})
    ))
    .is_ok());
}

#[test]
fn labels_must_be_the_boards() {
    let b = board(1, false, 0);
    assert!(check_labels(&b, &[1]).is_ok());
    let e = check_labels(&b, &[1, 99]).unwrap_err().to_string();
    assert!(e.contains("no label 99") && e.contains("1 Urgent"), "{e}");
}

#[test]
fn people_are_named_once_and_not_both_ways() {
    let args = |v: Value| serde_json::from_value::<AssignArgs>(v).unwrap();
    let (add, remove) = people_arg(&args(
        json!({"board_id": 1, "card_id": 2, "assign": [" bob ", "bob", ""], "unassign": ["carol"]}),
    ))
    .unwrap();
    assert_eq!(
        (add, remove),
        (vec!["bob".to_owned()], vec!["carol".to_owned()])
    );
    assert!(people_arg(&args(json!({"board_id": 1, "card_id": 2}))).is_err());
    assert!(people_arg(&args(
        json!({"board_id": 1, "card_id": 2, "assign": ["bob"], "unassign": ["bob"]})
    ))
    .is_err());
}

#[test]
fn a_retried_comment_is_recognised() {
    let newest: Comment = serde_json::from_value(json!({
        "id": 9, "message": "Done, see PR", "actorId": "alice", "actorDisplayName": "Alice",
        "creationDateTime": "2025-12-05T10:19:00+00:00", "mentions": [],
        "replyTo": {"id": 8, "message": "status?", "actorId": "bob", "actorDisplayName": "Bob", "creationDateTime": "2025-12-05T10:00:00+00:00"}
    }))
    .unwrap();
    let now = 1_764_930_000; // 10:20:00
    assert!(is_retry(&newest, "alice", "Done, see PR", Some(8), now));
    assert!(!is_retry(&newest, "alice", "Done, see PR", None, now));
    assert!(!is_retry(&newest, "bob", "Done, see PR", Some(8), now));
    assert!(!is_retry(&newest, "alice", "Done", Some(8), now));
    assert!(!is_retry(
        &newest,
        "alice",
        "Done, see PR",
        Some(8),
        now + RETRY_WINDOW_SECS + 61
    ));
    let out = comment_out(&newest);
    assert_eq!(out.time.as_deref(), Some("2025-12-05T10:19:00Z"));
    assert_eq!(out.reply_to.unwrap().author, "Bob");
}

#[test]
fn a_card_for_the_model() {
    let card: Card = serde_json::from_value(json!({
        "id": 12, "title": "Write report", "description": "body", "stackId": 4, "type": "plain",
        "lastModified": 1764930000, "createdAt": 1764920000,
        "labels": [{"id": 37, "title": "Finished", "color": "31CC7C", "boardId": 10}],
        "assignedUsers": [{"id": 5, "participant": {"primaryKey": "bob", "uid": "bob", "displayname": "Bob", "type": 0}, "cardId": 12, "type": 0}],
        "owner": {"primaryKey": "alice", "uid": "alice", "displayname": "Alice"},
        "order": 2, "archived": false, "done": null, "duedate": null, "deletedAt": 0, "commentsCount": 1
    }))
    .unwrap();
    let d = card_detail(&card, 10);
    assert_eq!(
        (d.board_id, d.stack_id, d.due.clone(), d.done.clone()),
        (10, 4, None, None)
    );
    assert_eq!(d.assignees[0].name, "Bob");
    assert_eq!(d.created.as_deref(), Some("2025-12-05T07:33:20Z"));
    let s = card_summary(&card);
    assert_eq!(s.assignees, ["bob"]);
    assert_eq!(s.labels[0].id, 37);
}

#[test]
fn every_tool_has_an_object_output_schema_and_a_hints_row() {
    for spec in TOOLS {
        let schema = (spec.output.expect("structured"))();
        assert_eq!(
            schema.get("type").and_then(Value::as_str),
            Some("object"),
            "{}",
            spec.name
        );
        assert!(HINTS.iter().any(|h| h.0 == spec.name), "{}", spec.name);
    }
    // The board view's schema carries the board's own fields (flattened).
    let view = (TOOLS[1].output.unwrap())();
    let props = view["properties"].as_object().unwrap();
    for key in [
        "id",
        "title",
        "permissions",
        "stacks",
        "members",
        "next_cursor",
    ] {
        assert!(props.contains_key(key), "{key}");
    }
}
