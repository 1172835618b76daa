use super::*;
use serde_json::json;

fn room(token: &str, name: &str, last_activity: i64, unread: i64) -> Room {
    serde_json::from_value(json!({
        "token": token, "type": 2, "displayName": name, "lastActivity": last_activity,
        "unreadMessages": unread, "lastMessage": []
    }))
    .unwrap()
}

fn rooms() -> Vec<Room> {
    vec![
        room("aaaa1111", "Project X", 100, 0),
        room("bbbb2222", "Lunch", 300, 2),
        room("cccc3333", "project y", 200, 1),
        room("dddd4444", "Same time", 200, 0),
    ]
}

fn list(args: serde_json::Value) -> Result<ConversationList, ToolError> {
    page(rooms(), &serde_json::from_value(args).unwrap())
}

fn tokens(list: &ConversationList) -> Vec<&str> {
    list.conversations
        .iter()
        .map(|c| c.token.as_str())
        .collect()
}

#[test]
fn conversations_page_by_activity_with_a_cursor() {
    let first = list(json!({"limit": 2})).unwrap();
    assert_eq!(tokens(&first), ["bbbb2222", "dddd4444"]);
    let cursor = first.next_cursor.clone().unwrap();
    let second = list(json!({"limit": 2, "cursor": cursor})).unwrap();
    assert_eq!(tokens(&second), ["cccc3333", "aaaa1111"]);
    assert_eq!(second.next_cursor, None);
    assert!(list(json!({"cursor": "nonsense"})).is_err());
    assert!(list(json!({"cursor": "1:../x"})).is_err());
}

#[test]
fn conversations_filter_by_name_and_unread() {
    assert_eq!(
        tokens(&list(json!({"query": " PROJECT "})).unwrap()),
        ["cccc3333", "aaaa1111"]
    );
    assert_eq!(
        tokens(&list(json!({"unread_only": true})).unwrap()),
        ["bbbb2222", "cccc3333"]
    );
}

#[test]
fn a_conversation_for_the_model() {
    let room: Room = serde_json::from_value(json!({
        "token": "w3k9a2bc", "type": 1, "displayName": "Bob", "lastActivity": 1764930000,
        "readOnly": 1, "isArchived": true,
        "lastMessage": {"id": 3, "actorDisplayName": "Bob", "message": "Hi {mention-user1}\nthere",
          "messageParameters": {"mention-user1": {"type": "user", "id": "alice", "name": "Alice"}}}
    }))
    .unwrap();
    let c = Conversation::from(&room);
    assert_eq!(c.kind, "one_to_one");
    assert_eq!(c.last_activity.as_deref(), Some("2025-12-05T10:20:00Z"));
    assert!(c.read_only && c.archived);
    assert_eq!(c.last_message.as_deref(), Some("Bob: Hi @Alice there"));
}

#[test]
fn long_texts_are_shortened_by_characters() {
    let text = "ä".repeat(MAX_TEXT_CHARS + 10);
    let m: Message = serde_json::from_value(json!({"id": 1, "message": text})).unwrap();
    let shown = ChatMessage::from(&m).text;
    assert_eq!(shown.chars().count(), MAX_TEXT_CHARS + 1);
    assert!(shown.ends_with('…'));
}

#[test]
fn the_same_call_gives_the_same_reference_id() {
    let args = |message: &str| SendArgs {
        token: "w3k9a2bc".into(),
        message: message.into(),
        reply_to: None,
        silent: false,
    };
    let id = reference_id("alice", &args("hi"));
    assert_eq!(id.len(), 64);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(id, reference_id("alice", &args("hi")));
    assert_ne!(id, reference_id("alice", &args("hi!")));
    assert_ne!(id, reference_id("bob", &args("hi")));
}

#[test]
fn arguments_are_strict() {
    assert!(parse_args::<SendArgs>(Some(
        json!({"token": "abcd", "message": "x", "to": "bob"})
            .as_object()
            .unwrap()
            .clone()
    ))
    .is_err());
    let a: CreateArgs = parse_args(Some(
        json!({"type": "one_to_one", "with_user": "bob"})
            .as_object()
            .unwrap()
            .clone(),
    ))
    .unwrap();
    assert!(matches!(a.kind, Kind::OneToOne));
}
