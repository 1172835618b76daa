use super::*;
use serde_json::json;

/// `GET /ocs/v2.php/apps/spreed/api/v4/room` as Talk 22 answers it (`RoomFormatter::formatRoom`,
/// trimmed of call and avatar fields): a group conversation with a last message that mentions
/// the user, and a fresh one-to-one one whose `lastMessage` is `[]`.
const ROOMS: &str = r#"{"ocs":{"meta":{"status":"ok","statuscode":200,"message":"OK"},"data":[
  {"id":4,"token":"w3k9a2bc","type":2,"name":"Project X","displayName":"Project X",
   "objectType":"","objectId":"","participantType":1,"participantFlags":0,"readOnly":0,
   "hasPassword":false,"hasCall":false,"lastActivity":1764930000,"lastReadMessage":12,
   "unreadMessages":3,"unreadMention":true,"unreadMentionDirect":true,"isFavorite":true,
   "notificationLevel":2,"lobbyState":0,"description":"Planning","isArchived":false,
   "permissions":255,"attendeeId":4001,"actorType":"users","actorId":"alice",
   "lastMessage":{"id":15,"token":"w3k9a2bc","actorType":"users","actorId":"bob",
     "actorDisplayName":"Bob Builder","timestamp":1764930000,
     "message":"{mention-user1} see {file}","messageParameters":{
       "mention-user1":{"type":"user","id":"alice","name":"Alice Liddell","mention-id":"alice"},
       "file":{"type":"file","id":"123","name":"plan.pdf","size":"2048","path":"Talk/plan.pdf",
               "link":"https://cloud.example.com/f/123","mimetype":"application/pdf"}},
     "systemMessage":"","messageType":"comment","isReplyable":true,"referenceId":"",
     "reactions":{},"expirationTimestamp":0,"markdown":true,"threadId":15}},
  {"id":5,"token":"q8z2m4kd","type":1,"name":"carol","displayName":"Carol","readOnly":0,
   "lastActivity":1764920000,"unreadMessages":0,"unreadMention":false,"isFavorite":false,
   "description":"","lastMessage":[]}
]}}"#;

#[test]
fn rooms_as_spreed_lists_them() {
    let rooms: Vec<Room> = read_answer(Call::List, StatusCode::OK, ROOMS.as_bytes()).unwrap();
    assert_eq!(rooms.len(), 2);
    let group = &rooms[0];
    assert_eq!(
        (
            group.token.as_str(),
            group.kind_name(),
            group.display_name.as_str()
        ),
        ("w3k9a2bc", "group", "Project X")
    );
    assert_eq!(
        (
            group.unread_messages,
            group.unread_mention,
            group.is_favorite
        ),
        (3, true, true)
    );
    let last = group.last_message.as_ref().unwrap();
    assert_eq!(last.text(), "@Alice Liddell see plan.pdf");
    assert!(!last.is_system());
    let one = &rooms[1];
    assert_eq!(one.kind_name(), "one_to_one");
    assert!(one.last_message.is_none());
}

/// History (`GET api/v1/chat/{token}?lookIntoFuture=0`), newest first: a reply whose parent is
/// shown, a system message, and a message without parameters (`[]`).
const HISTORY: &str = r#"{"ocs":{"meta":{"status":"ok","statuscode":200,"message":"OK"},"data":[
  {"id":21,"token":"w3k9a2bc","actorType":"users","actorId":"alice","actorDisplayName":"Alice",
   "timestamp":1764931000,"message":"Yes, {mention-call1}: Friday","messageParameters":{
     "mention-call1":{"type":"call","id":"w3k9a2bc","name":"Project X","call-type":"group"}},
   "systemMessage":"","messageType":"comment","isReplyable":true,
   "referenceId":"0b2c5b0f3f5b7f9a","reactions":{"👍":1},"expirationTimestamp":0,
   "markdown":true,"threadId":20,"silent":true,
   "parent":{"id":20,"token":"w3k9a2bc","actorType":"users","actorId":"bob",
     "actorDisplayName":"Bob","timestamp":1764930900,"message":"When?","messageParameters":[],
     "systemMessage":"","messageType":"comment","isReplyable":true,"referenceId":"",
     "reactions":{},"expirationTimestamp":0,"markdown":true,"threadId":20}},
  {"id":19,"token":"w3k9a2bc","actorType":"users","actorId":"bob","actorDisplayName":"Bob",
   "timestamp":1764930800,"message":"{actor} added {user}","messageParameters":{
     "actor":{"type":"user","id":"bob","name":"Bob"},
     "user":{"type":"user","id":"carol","name":"Carol"}},
   "systemMessage":"user_added","messageType":"system","isReplyable":false,"referenceId":"",
   "reactions":[],"expirationTimestamp":0,"markdown":false},
  {"id":18,"token":"w3k9a2bc","actorType":"users","actorId":"bob","actorDisplayName":"Bob",
   "timestamp":1764930700,"message":"Plain {not a placeholder} and {unknown}",
   "messageParameters":[],"systemMessage":"","messageType":"comment","isReplyable":true,
   "referenceId":"","reactions":[],"expirationTimestamp":0,"markdown":true}
]}}"#;

#[test]
fn history_with_replies_system_messages_and_empty_parameters() {
    let messages: Vec<Message> =
        read_answer(Call::Read, StatusCode::OK, HISTORY.as_bytes()).unwrap();
    assert_eq!(messages.len(), 3);
    let reply = &messages[0];
    assert_eq!(reply.text(), "Yes, @Project X: Friday");
    assert!(reply.silent);
    let parent = reply.parent.as_ref().unwrap();
    assert_eq!((parent.id, parent.text().as_str()), (20, "When?"));
    assert!(messages[1].is_system());
    assert_eq!(messages[1].text(), "Bob added Carol");
    assert_eq!(
        messages[2].text(),
        "Plain {not a placeholder} and {unknown}"
    );
}

#[test]
fn rendering_keeps_text_that_only_looks_like_placeholders() {
    let params = json!({"file": {"type": "file", "name": "a}b.txt"}, "x": {"type": "user"}})
        .as_object()
        .unwrap()
        .clone();
    assert_eq!(render("{file}{file", &params), "a}b.txt{file");
    assert_eq!(render("{x} {} {{file}}", &params), "{x} {} {a}b.txt}");
    assert_eq!(render("Größe {file} ✓", &params), "Größe a}b.txt ✓");
    assert_eq!(render("", &params), "");
}

fn failure(status: u16, data: Value) -> (StatusCode, Vec<u8>) {
    let body = json!({"ocs": {"meta": {"status": "failure", "statuscode": status, "message": ""}, "data": data}});
    (
        StatusCode::from_u16(status).unwrap(),
        body.to_string().into_bytes(),
    )
}

fn error(call: Call, status: u16, data: Value) -> NcError {
    let (status, body) = failure(status, data);
    read_answer::<Value>(call, status, &body).unwrap_err()
}

#[test]
fn spreeds_failures_say_what_went_wrong() {
    assert!(
        matches!(error(Call::Send, 404, json!([])), NcError::NotFound(m) if m.contains("takes part"))
    );
    assert!(
        matches!(error(Call::Send, 403, json!([])), NcError::Forbidden(m) if m.contains("read-only"))
    );
    assert!(
        matches!(error(Call::Send, 413, json!({"error": "message"})), NcError::InvalidInput(m) if m.contains("longer"))
    );
    assert!(
        matches!(error(Call::Send, 400, json!({"error": "reply-to"})), NcError::InvalidInput(m) if m.contains("reply_to"))
    );
    assert!(matches!(
        error(Call::Send, 400, json!({"error": "message"})),
        NcError::InvalidInput(_)
    ));
    assert!(
        matches!(error(Call::Read, 412, json!([])), NcError::Forbidden(m) if m.contains("lobby"))
    );
    assert!(
        matches!(error(Call::Create, 404, json!([])), NcError::NotFound(m) if m.contains("login names"))
    );
    assert!(
        matches!(error(Call::Create, 400, json!([])), NcError::InvalidInput(m) if m.contains("name"))
    );
    assert!(matches!(
        error(Call::List, 401, json!([])),
        NcError::Unauthorized
    ));
    // Talk switched off: Nextcloud's HTML 404 for an unknown route.
    let html = read_answer::<Value>(Call::Read, StatusCode::NOT_FOUND, b"<html>Not found</html>");
    assert!(matches!(html, Err(NcError::NotFound(m)) if m.contains("installed and enabled")));
}

#[test]
fn tokens_are_checked_before_they_reach_a_url() {
    for good in ["w3k9a2bc", "abcd", "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5"] {
        assert!(check_token(good).is_ok(), "{good}");
    }
    for bad in [
        "abc",
        "ABCDEF",
        "ab/../cd",
        "abcd?x=1",
        "",
        "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p",
    ] {
        assert!(check_token(bad).is_err(), "{bad}");
    }
}
