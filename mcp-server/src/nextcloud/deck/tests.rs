use super::*;
use serde_json::json;

/// `GET /boards/10` as docs/API.md shows it (labels' boardId as strings, no stacks key) with the
/// users and settings `BoardService::find` adds.
const BOARD: &str = r#"{
  "title": "Board title",
  "owner": {"primaryKey": "admin", "uid": "admin", "displayname": "Administrator", "type": 0},
  "color": "ff0000", "archived": false,
  "labels": [
    {"title": "Finished", "color": "31CC7C", "boardId": "10", "cardId": null, "id": 37},
    {"title": "To review", "color": "317CCC", "boardId": "10", "cardId": null, "id": 38}
  ],
  "acl": [{"id": 3, "participant": {"primaryKey": "bob", "uid": "bob", "displayname": "Bob", "type": 0},
    "type": 0, "boardId": 10, "permissionEdit": true, "permissionShare": false, "permissionManage": false, "owner": false}],
  "permissions": {"PERMISSION_READ": true, "PERMISSION_EDIT": true, "PERMISSION_MANAGE": true, "PERMISSION_SHARE": true},
  "users": [{"primaryKey": "admin", "uid": "admin", "displayname": "Administrator", "type": 0},
            {"primaryKey": "bob", "uid": "bob", "displayname": "", "type": 0}],
  "stacks": [{"id": 4, "title": "ToDo", "boardId": 10, "deletedAt": 0, "lastModified": 1541426139, "order": 999, "ETag": "x"}],
  "activeSessions": [], "deletedAt": 0, "lastModified": 1764930000,
  "settings": {"notify-due": "assigned", "calendar": true}, "ETag": "8d3c2f", "id": 10
}"#;

#[test]
fn a_board_as_deck_sends_it() {
    let board: Board = serde_json::from_str(BOARD).unwrap();
    assert_eq!((board.id, board.title.as_str()), (10, "Board title"));
    assert_eq!(
        board.owner,
        Person {
            id: "admin".into(),
            name: "Administrator".into()
        }
    );
    assert_eq!(
        board
            .labels
            .iter()
            .map(|l| (l.id, l.board_id))
            .collect::<Vec<_>>(),
        [(37, 10), (38, 10)]
    );
    assert!(board.permissions.manage && board.permissions.share);
    // A blank display name falls back to the id.
    assert_eq!(board.users[1].name, "bob");
    assert_eq!(board.stacks[0].id, 4);
    assert!(board.stacks[0].cards.is_empty(), "no cards key");
}

#[test]
fn a_board_of_the_list_without_details() {
    // GET /boards: no users or stacks filled, settings and permissions as PHP's empty array.
    let boards: Vec<Board> = serde_json::from_value(json!([{
        "id": 1, "title": "Personal", "owner": {"primaryKey": "alice", "uid": "alice", "displayname": "Alice"},
        "color": "0087C5", "archived": false, "labels": [], "acl": [], "permissions": [],
        "users": [], "stacks": [], "activeSessions": [], "deletedAt": 1764930000,
        "lastModified": 1764930000, "settings": [], "ETag": "e"
    }]))
    .unwrap();
    assert_eq!(boards[0].deleted_at, 1764930000);
    assert_eq!(boards[0].permissions, Permissions::default());
}

/// A card of `GET /boards/{b}/stacks` (CardDetails, enriched), and one of the archived listing
/// and of docs/API.md's create answer (owner a bare id, labels and assignedUsers null,
/// description null).
#[test]
fn cards_enriched_and_not() {
    let stacks: Vec<Stack> = serde_json::from_value(json!([{
        "id": 4, "title": "ToDo", "boardId": 10, "deletedAt": 0, "lastModified": 1, "order": 0,
        "cards": [{
            "id": 12, "title": "Write report", "description": "- [ ] intro\n- [x] data",
            "stackId": 4, "type": "plain", "lastModified": 1764930000, "lastEditor": null,
            "createdAt": 1764920000,
            "labels": [{"id": 37, "title": "Finished", "color": "31CC7C", "boardId": 10, "cardId": 12, "lastModified": 1, "ETag": "a"}],
            "assignedUsers": [{"id": 5, "participant": {"primaryKey": "bob", "uid": "bob", "displayname": "Bob", "type": 0}, "cardId": 12, "type": 0}],
            "attachments": null, "attachmentCount": 0,
            "owner": {"primaryKey": "alice", "uid": "alice", "displayname": "Alice", "type": 0},
            "order": 2, "archived": false, "done": "2026-12-05T10:00:00+00:00",
            "duedate": "2026-12-24T17:00:00+00:00", "deletedAt": 0, "commentsUnread": 0,
            "commentsCount": 3, "ETag": "b", "overdue": 0, "referenceData": null
        }],
        "ETag": "c"
    }]))
    .unwrap();
    let card = &stacks[0].cards[0];
    assert_eq!((card.id, card.stack_id, card.order), (12, 4, 2));
    assert_eq!(card.labels[0].title, "Finished");
    assert_eq!(card.assigned_users[0].participant.id, "bob");
    assert_eq!(card.assigned_users[0].kind, 0);
    assert_eq!(card.owner.id, "alice");
    assert_eq!(card.duedate.as_deref(), Some("2026-12-24T17:00:00+00:00"));
    assert_eq!(card.comments_count, 3);

    let bare: Card = serde_json::from_value(json!({
        "title": "Test", "description": null, "stackId": 6, "type": "plain",
        "lastModified": 1541528026, "createdAt": 1541528026, "labels": null,
        "assignedUsers": null, "attachments": null, "attachmentCount": null, "owner": "admin",
        "order": 999, "archived": false, "done": null, "duedate": "2019-12-24T19:29:30+00:00",
        "deletedAt": 0, "commentsUnread": 0, "id": 10, "overdue": 0
    }))
    .unwrap();
    assert!(bare.labels.is_empty() && bare.assigned_users.is_empty());
    assert_eq!(bare.owner.id, "admin");
    assert_eq!(bare.description, None);
    assert_eq!(bare.done, None);
}

#[test]
fn an_update_sends_the_whole_card_with_done_present() {
    let card: Card = serde_json::from_value(json!({
        "id": 10, "title": "Test", "description": null, "stackId": 6, "type": "plain",
        "owner": {"primaryKey": "admin", "uid": "admin", "displayname": "Admin"},
        "order": 3, "archived": false, "done": null, "duedate": "2019-12-24T19:29:30+00:00"
    }))
    .unwrap();
    let body = serde_json::to_value(CardBody::of(&card)).unwrap();
    // CardApiController::update: a missing `done` would clear it, a missing order reset it.
    assert_eq!(
        body,
        json!({"title": "Test", "type": "plain", "owner": "admin", "description": "", "order": 3,
               "duedate": "2019-12-24T19:29:30+00:00", "done": null})
    );
    let done: Card = serde_json::from_value(json!({
        "id": 11, "title": "Shipped", "owner": "admin", "order": 0,
        "done": "2026-12-01T09:00:00+00:00", "duedate": null
    }))
    .unwrap();
    let body = serde_json::to_value(CardBody::of(&done)).unwrap();
    assert_eq!(body["done"], "2026-12-01T09:00:00+00:00");
    assert_eq!(body["duedate"], Value::Null);
    assert_eq!(
        body["type"], "plain",
        "a card without a type gets Deck's only one"
    );
}

#[test]
fn card_actions_send_what_the_controller_reads() {
    assert_eq!(
        CardAction::Reorder { stack: 5, order: 0 }.route(),
        ("reorder", json!({"stackId": 5, "order": 0}))
    );
    assert_eq!(
        CardAction::AssignUser("bob").route(),
        ("assignUser", json!({"userId": "bob", "type": 0}))
    );
    assert_eq!(
        CardAction::RemoveLabel(37).route(),
        ("removeLabel", json!({"labelId": 37}))
    );
}

#[test]
fn comments_as_commentservice_formats_them() {
    let comments: Vec<Comment> = read_comments_answer(
        StatusCode::OK,
        json!({"ocs": {"meta": {"status": "ok", "statuscode": 200, "message": "OK"}, "data": [{
            "id": 7, "objectId": 12, "message": "@bob can you check?", "actorId": "alice",
            "actorType": "users", "actorDisplayName": "Alice",
            "creationDateTime": "2026-12-05T10:20:00+00:00",
            "mentions": [{"mentionId": "bob", "mentionType": "user", "mentionDisplayName": "Bob"}],
            "replyTo": {"id": 6, "objectId": 12, "message": "first", "actorId": "bob",
              "actorType": "users", "actorDisplayName": "Bob",
              "creationDateTime": "2026-12-05T10:00:00+00:00", "mentions": []}
        }]}})
        .to_string()
        .as_bytes(),
        12,
    )
    .unwrap();
    let c = &comments[0];
    assert_eq!((c.id, c.actor_id.as_str()), (7, "alice"));
    assert_eq!(c.mentions[0].mention_id, "bob");
    assert_eq!(c.reply_to.as_ref().unwrap().id, 6);
}

fn basic() -> NcAuth {
    NcAuth::Basic {
        user: "alice".into(),
        password: "pw".into(),
    }
}

fn error(auth: &NcAuth, target: Target, status: u16, body: Value) -> NcError {
    rest_error(
        auth,
        target,
        StatusCode::from_u16(status).unwrap(),
        body.to_string().as_bytes(),
    )
}

#[test]
fn deck_errors_become_messages_a_model_can_act_on() {
    let auth = basic();
    // ExceptionMiddleware: an unknown (or foreign) id is 403 "Permission denied".
    let e = error(
        &auth,
        Target::Card(99),
        403,
        json!({"status": 403, "message": "Permission denied"}),
    );
    assert!(
        matches!(&e, NcError::NotFound(m) if m.starts_with("card 99 does not exist")),
        "{e:?}"
    );
    // NoPermissionException and the like keep their message.
    assert!(matches!(
        error(&auth, Target::Card(9), 403, json!({"status": 403, "message": "Card is deleted"})),
        NcError::Forbidden(m) if m == "Card is deleted"
    ));
    assert!(matches!(
        error(&auth, Target::Card(9), 400, json!({"status": 400, "message": "The user is not part of the board"})),
        NcError::InvalidInput(m) if m == "The user is not part of the board"
    ));
    // StatusException (getStatus 500): an archived board or card.
    assert!(matches!(
        error(&auth, Target::Card(9), 500, json!({"status": 500, "message": "Operation not allowed. This board is archived."})),
        NcError::InvalidInput(m) if m.contains("board is archived")
    ));
    let internal = error(
        &auth,
        Target::Card(9),
        500,
        json!({"status": 500, "message": "Internal server error: Please contact …", "requestId": "Zx9"}),
    );
    assert!(
        matches!(&internal, NcError::Unavailable(m) if m.contains("request id Zx9")),
        "{internal:?}"
    );
    assert!(matches!(
        error(&auth, Target::Card(9), 404, json!({"status": 404, "message": "No assignment for bobfound."})),
        NcError::NotFound(m) if m.contains("No assignment")
    ));
    assert!(matches!(
        error(
            &auth,
            Target::Card(9),
            409,
            json!({"status": 409, "message": "conflict", "data": {}})
        ),
        NcError::Conflict(_)
    ));
}

#[test]
fn an_unknown_route_means_deck_is_not_there() {
    let e = rest_error(
        &basic(),
        Target::Boards,
        StatusCode::NOT_FOUND,
        b"<!DOCTYPE html><html><body>Page not found</body></html>",
    );
    assert!(
        matches!(&e, NcError::NotFound(m) if m.contains("Deck app installed")),
        "{e:?}"
    );
    let e = read_comments_answer::<Value>(StatusCode::NOT_FOUND, b"<html>", 1).unwrap_err();
    assert!(
        matches!(&e, NcError::NotFound(m) if m.contains("Deck app installed")),
        "{e:?}"
    );
}

#[test]
fn the_cors_refusal_of_a_bearer_token_is_not_a_sign_in_problem() {
    let body = json!({"message": "CORS requires basic auth"});
    let bearer = NcAuth::Bearer("token".into());
    assert_eq!(
        error(&bearer, Target::Boards, 401, body.clone()),
        NcError::Forbidden(NEEDS_APP_PASSWORD.into())
    );
    // The same answer to an app password: it was not accepted (revoked).
    assert_eq!(
        error(&basic(), Target::Boards, 401, body),
        NcError::Unauthorized
    );
    assert!(NEEDS_APP_PASSWORD.contains("app-password"));
}

#[test]
fn a_foreign_card_in_the_comments_api_is_not_found() {
    let body = json!({"ocs": {"meta": {"status": "failure", "statuscode": 403, "message": "Permission denied"}, "data": []}});
    let e = read_comments_answer::<Value>(StatusCode::FORBIDDEN, body.to_string().as_bytes(), 44)
        .unwrap_err();
    assert!(
        matches!(&e, NcError::NotFound(m) if m.starts_with("card 44")),
        "{e:?}"
    );
    let long = json!({"ocs": {"meta": {"status": "failure", "statuscode": 400, "message": "Message exceeds allowed character limit of 1000"}, "data": []}});
    assert!(matches!(
        read_comments_answer::<Value>(StatusCode::BAD_REQUEST, long.to_string().as_bytes(), 44),
        Err(NcError::InvalidInput(m)) if m.contains("limit of 1000")
    ));
}

#[test]
fn numbers_as_strings_and_bad_shapes() {
    let l: Label =
        serde_json::from_value(json!({"id": "37", "title": "x", "boardId": "10"})).unwrap();
    assert_eq!((l.id, l.board_id), (37, 10));
    assert!(serde_json::from_value::<Label>(json!({"id": "x"})).is_err());
    assert!(serde_json::from_value::<Card>(json!({"title": "no id"})).is_err());
}
