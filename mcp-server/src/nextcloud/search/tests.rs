use super::*;
use crate::nextcloud::ocs::read_envelope;
use reqwest::StatusCode;
use serde_json::json;

fn page(body: Value) -> Page {
    read_envelope(StatusCode::OK, body.to_string().as_bytes()).unwrap()
}

fn envelope(data: Value) -> Value {
    json!({"ocs": {"meta": {"status": "ok", "statuscode": 200, "message": "OK"}, "data": data}})
}

fn entry(url: &str, attributes: Value) -> Entry {
    serde_json::from_value(json!({
        "thumbnailUrl": "", "title": "t", "subline": "", "resourceUrl": url,
        "icon": "", "rounded": false, "attributes": attributes,
    }))
    .unwrap()
}

#[test]
fn providers_as_the_controller_lists_them() {
    // UnifiedSearchController::getProviders → SearchComposer::getProviders (NC 32).
    let body = envelope(json!([
        {"id": "settings", "appId": "settings", "name": "Settings", "icon": "/core/img/actions/settings-dark.svg",
         "order": -3, "triggers": ["settings"], "filters": {"term": "string"}, "inAppSearch": false},
        {"id": "files", "appId": "files", "name": "Files", "icon": "/apps/files/img/app.svg", "order": 5,
         "triggers": ["files"], "filters": {"term": "string", "since": "datetime", "min-size": "int"}, "inAppSearch": false},
        {"id": "search-deck-card-board", "appId": "deck", "name": "Deck boards and cards", "icon": "", "order": 10,
         "triggers": [], "filters": {"term": "string"}, "inAppSearch": false}
    ]));
    let providers: Vec<Provider> =
        read_envelope(StatusCode::OK, body.to_string().as_bytes()).unwrap();
    let families: Vec<_> = providers
        .iter()
        .map(|p| Family::of_provider(&p.id))
        .collect();
    assert_eq!(
        families,
        vec![None, Some(Family::Files), Some(Family::Deck)]
    );
    assert_eq!(providers[1].app_id, "files");
}

#[test]
fn pages_with_int_string_and_null_cursors_and_php_empty_attributes() {
    // FilesSearchProvider: SearchResult::paginated(…, $query->getCursor() + $query->getLimit()).
    let files = page(envelope(json!({
        "name": "Files", "isPaginated": true, "cursor": 10,
        "entries": [{"thumbnailUrl": "https://cloud.example/index.php/core/preview?x=32&y=32&fileId=4711",
            "title": "report.md", "subline": "in Documents", "resourceUrl": "https://cloud.example/index.php/f/4711",
            "icon": "/core/img/filetypes/text.svg", "rounded": false,
            "attributes": {"fileId": "4711", "path": "/Documents/report.md"}}]
    })));
    assert!(files.is_paginated);
    assert_eq!(files.cursor.as_deref(), Some("10"));
    assert_eq!(
        ItemId::of_entry("files", &files.entries[0]),
        Some(ItemId::File(4711))
    );
    // Notes: SearchResult::complete, attributes an empty PHP array → `[]`.
    let notes = page(envelope(json!({
        "name": "Notes", "isPaginated": false, "cursor": null,
        "entries": [{"thumbnailUrl": "", "title": "Groceries", "subline": "milk\u{2003}eggs",
            "resourceUrl": "https://cloud.example/index.php/apps/notes/note/42", "icon": "icon-notes-trans",
            "rounded": false, "attributes": []}]
    })));
    assert_eq!(notes.cursor, None);
    assert!(notes.entries[0].attributes.is_empty());
    assert_eq!(
        ItemId::of_entry("notes", &notes.entries[0]),
        Some(ItemId::Note(42))
    );
    // Deck: paginated with "<min board lastModified>|<min card lastModified>".
    let deck = page(envelope(json!({
        "name": "Deck boards and cards", "isPaginated": true, "cursor": "1733400000|1733300000",
        "entries": []
    })));
    assert_eq!(deck.cursor.as_deref(), Some("1733400000|1733300000"));
    // A blank term: 400 with the message in data, failure in meta.
    let blank = json!({"ocs": {"meta": {"status": "failure", "statuscode": 400, "message": ""}, "data": "No valid filters provided"}});
    assert!(matches!(
        read_envelope::<Page>(StatusCode::BAD_REQUEST, blank.to_string().as_bytes()),
        Err(NcError::InvalidInput(_))
    ));
}

#[test]
fn ids_from_each_providers_entries() {
    let dav = "/remote.php/dav/calendars/alice/personal/6f1c-4a2b.ics";
    let b64 = base64::engine::general_purpose::STANDARD.encode(dav);
    assert_eq!(
        ItemId::of_entry(
            "calendar",
            &entry(
                &format!("https://cloud.example/index.php/apps/calendar/edit/{b64}"),
                json!([])
            )
        ),
        Some(ItemId::Event {
            calendar: "personal".into(),
            object: "6f1c-4a2b.ics".into()
        })
    );
    for url in [
        "https://cloud.example/index.php/apps/tasks/#/calendars/tasks/tasks/task-1.ics",
        "https://cloud.example/index.php/apps/tasks/calendars/tasks/tasks/task-1.ics",
    ] {
        assert_eq!(
            ItemId::of_entry("tasks", &entry(url, json!([]))),
            Some(ItemId::Task {
                calendar: "tasks".into(),
                object: "task-1.ics".into()
            }),
            "{url}"
        );
    }
    assert_eq!(
        ItemId::of_entry(
            "contacts",
            &entry(
                "https://cloud.example/index.php/apps/contacts/direct/contact/a1b2-c3~contacts",
                json!([])
            )
        ),
        Some(ItemId::Contact {
            book: "contacts".into(),
            uid: "a1b2-c3".into()
        })
    );
    let deck = |url| ItemId::of_entry("search-deck-card-board", &entry(url, json!([])));
    assert_eq!(
        deck("https://cloud.example/index.php/apps/deck/card/12"),
        Some(ItemId::DeckCard(12))
    );
    assert_eq!(
        deck("https://cloud.example/index.php/apps/deck/board/3"),
        Some(ItemId::DeckBoard(3))
    );
    assert_eq!(
        ItemId::of_entry(
            "search-deck-comment",
            &entry(
                "https://cloud.example/index.php/apps/deck/#/board/3/card/12/comments/90",
                json!([])
            )
        ),
        Some(ItemId::DeckCard(12))
    );
    // MessageSearch: attributes conversation, messageId (an int from getId() as string).
    assert_eq!(
        ItemId::of_entry(
            "talk-message",
            &entry(
                "https://cloud.example/index.php/call/abcd1234#message_77",
                json!({"conversation": "abcd1234", "messageId": "77", "actorType": "users", "actorId": "bob", "timestamp": "1733400000"})
            )
        ),
        Some(ItemId::TalkMessage {
            token: "abcd1234".into(),
            message: 77
        })
    );
    assert_eq!(
        ItemId::of_entry(
            "talk-conversations",
            &entry(
                "https://cloud.example/index.php/call/abcd1234",
                json!({"conversation": "abcd1234"})
            )
        ),
        Some(ItemId::TalkConversation("abcd1234".into()))
    );
    // Without the attribute, from the link.
    assert_eq!(
        ItemId::of_entry(
            "talk-conversations",
            &entry("https://cloud.example/index.php/call/abcd1234", json!([]))
        ),
        Some(ItemId::TalkConversation("abcd1234".into()))
    );
    // Providers not searched here, and entries naming nothing fetchable.
    assert_eq!(
        ItemId::of_entry(
            "settings",
            &entry("https://x/index.php/settings/user", json!([]))
        ),
        None
    );
    assert_eq!(
        ItemId::of_entry(
            "notes",
            &entry("https://x/index.php/apps/notes/", json!([]))
        ),
        None
    );
    // A calendar link whose DAV path tries to leave the user's calendar.
    let evil = base64::engine::general_purpose::STANDARD
        .encode("/remote.php/dav/calendars/alice/../bob/x.ics");
    assert_eq!(
        ItemId::of_entry(
            "calendar",
            &entry(
                &format!("https://x/index.php/apps/calendar/edit/{evil}"),
                json!([])
            )
        ),
        None
    );
}

#[test]
fn ids_round_trip_and_bad_ones_are_refused() {
    let ids = [
        ItemId::File(4711),
        ItemId::Note(42),
        ItemId::Event {
            calendar: "personal".into(),
            object: "6f1c@example.com.ics".into(),
        },
        ItemId::Task {
            calendar: "tasks".into(),
            object: "task-1.ics".into(),
        },
        ItemId::Contact {
            book: "contacts".into(),
            uid: "urn:uuid:a1/b2".into(),
        },
        ItemId::DeckCard(12),
        ItemId::DeckBoard(3),
        ItemId::TalkMessage {
            token: "abcd1234".into(),
            message: 77,
        },
        ItemId::TalkConversation("abcd1234".into()),
    ];
    for id in ids {
        let text = id.to_string();
        assert_eq!(ItemId::parse(&text).unwrap(), id, "{text}");
    }
    for bad in [
        "",
        "files",
        "files:",
        "files:-1",
        "files:0",
        "files:../etc",
        "notes:1e3",
        "calendar:personal",
        "calendar:../x.ics",
        "calendar:personal/../x.ics",
        "calendar:./x",
        "tasks:a/b/c",
        "deck:card/x",
        "deck:stack/1",
        "talk:ABC/1",
        "talk:abcd1234/x",
        "talk:ab",
        "mail:1",
        "files:1\n",
    ] {
        assert!(
            matches!(ItemId::parse(bad), Err(NcError::InvalidInput(m)) if m.contains("not an id from search")),
            "{bad:?}"
        );
    }
    assert!(ItemId::parse(&format!("notes:{}", "9".repeat(2000))).is_err());
}

#[test]
fn every_family_has_its_read_scope() {
    for family in Family::ALL {
        assert_eq!(Family::from_name(family.name()), Some(family));
        assert_eq!(family.scope().as_str(), format!("{}:read", family.name()));
    }
    assert_eq!(Family::of_provider("talk-message-current"), None);
    assert_eq!(Family::of_provider("fulltextsearch"), None);
}
