use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use mcp_shared::ScopeSet;
use serde_json::json;

use super::fetch::property;
use super::*;
use crate::auth::{Credential, Principal};
use crate::nextcloud::users::UserCache;
use crate::nextcloud::{NcAuth, Nextcloud};

fn ocs(data: Value) -> String {
    json!({"ocs": {"meta": {"status": "ok", "statuscode": 200, "message": "OK"}, "data": data}})
        .to_string()
}

/// How the fake notes provider answers.
#[derive(Clone, Copy, PartialEq)]
enum Notes {
    Found,
    /// The 500 of an uncaught exception in a provider.
    Fails,
    /// After two seconds.
    Slow,
}

/// A Nextcloud on loopback with the files, notes and settings providers (and Talk's
/// current-conversation twin), as UnifiedSearchController answers; the notes provider as
/// `notes` says. Keeps every request's path and query.
async fn fake_nextcloud(notes: Notes) -> (url::Url, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let recorded = recorded.clone();
        App::new().default_service(web::to(move |request: HttpRequest| {
            let recorded = recorded.clone();
            async move {
                let path = request.path().to_owned();
                recorded
                    .lock()
                    .unwrap()
                    .push(format!("{path}?{}", request.query_string()));
                let query: std::collections::HashMap<String, String> =
                    url::form_urlencoded::parse(request.query_string().as_bytes())
                        .into_owned()
                        .collect();
                let json = |body: String| {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                };
                match path.as_str() {
                    "/ocs/v2.php/search/providers" => json(ocs(json!([
                        {"id": "talk-message-current", "appId": "spreed", "name": "Messages in current conversation", "order": 0, "triggers": [], "filters": {}, "inAppSearch": false},
                        {"id": "settings", "appId": "settings", "name": "Settings", "order": -3, "triggers": [], "filters": {}, "inAppSearch": false},
                        {"id": "notes", "appId": "notes", "name": "Notes", "order": 4, "triggers": [], "filters": {"term": "string"}, "inAppSearch": false},
                        {"id": "files", "appId": "files", "name": "Files", "order": 5, "triggers": [], "filters": {"term": "string"}, "inAppSearch": false}
                    ]))),
                    "/ocs/v2.php/search/providers/files/search" => {
                        let limit: u64 = query["limit"].parse().unwrap();
                        let offset: u64 = query.get("cursor").map_or(0, |c| c.parse().unwrap());
                        // 12 matching files in all.
                        let entries: Vec<Value> = (offset..(offset + limit).min(12))
                            .map(|i| json!({
                                "thumbnailUrl": "", "title": format!("plan-{i}.md"), "subline": "in Projects",
                                "resourceUrl": format!("https://cloud.example/index.php/f/{}", 100 + i),
                                "icon": "", "rounded": false,
                                "attributes": {"fileId": (100 + i).to_string(), "path": format!("/Projects/plan-{i}.md")}
                            }))
                            .collect();
                        json(ocs(json!({"name": "Files", "isPaginated": true, "entries": entries, "cursor": offset + limit})))
                    }
                    "/ocs/v2.php/search/providers/notes/search" if notes == Notes::Slow => {
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                        json(ocs(json!({"name": "Notes", "isPaginated": false, "cursor": null, "entries": []})))
                    }
                    "/ocs/v2.php/search/providers/notes/search" if notes == Notes::Fails => {
                        HttpResponse::InternalServerError()
                            .content_type("application/json")
                            .body(json!({"ocs": {"meta": {"status": "failure", "statuscode": 500, "message": "Internal Server Error\n"}, "data": []}}).to_string())
                    }
                    "/ocs/v2.php/search/providers/notes/search" => json(ocs(json!({
                        "name": "Notes", "isPaginated": false, "cursor": null,
                        "entries": [{"thumbnailUrl": "", "title": "Plan", "subline": "the plan",
                            "resourceUrl": "https://cloud.example/index.php/apps/notes/note/7",
                            "icon": "icon-notes-trans", "rounded": false, "attributes": []}]
                    }))),
                    _ => HttpResponse::NotFound().finish(),
                }
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (
        url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap(),
        seen,
    )
}

fn principal(scopes: &str) -> Principal {
    Principal {
        subject: "alice".into(),
        client_id: Some("client-1".into()),
        scopes: ScopeSet::parse(scopes).unwrap(),
        credential: Credential::SingleUser,
    }
}

struct Fixture {
    nextcloud: Nextcloud,
    users: UserCache,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn fixture(notes: Notes) -> Fixture {
    let (base, seen) = fake_nextcloud(notes).await;
    Fixture {
        nextcloud: Nextcloud::new(
            reqwest::Client::new(),
            base,
            crate::metrics::Metrics::new().unwrap(),
        ),
        users: UserCache::default(),
        seen,
    }
}

impl Fixture {
    async fn call(&self, tool: &str, scopes: &str, args: Value) -> ToolResult {
        let principal = principal(scopes);
        let ctx = ToolContext {
            nextcloud: &self.nextcloud,
            auth: NcAuth::Bearer("token".into()),
            principal: &principal,
            users: &self.users,
        };
        let Value::Object(args) = args else { panic!() };
        let result = match tool {
            "search" => search(Some(args), &ctx).await,
            _ => fetch(Some(args), &ctx).await,
        };
        result
    }

    fn ctx<'a>(&'a self, principal: &'a Principal) -> ToolContext<'a> {
        ToolContext {
            nextcloud: &self.nextcloud,
            auth: NcAuth::Bearer("token".into()),
            principal,
            users: &self.users,
        }
    }

    fn searched(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.contains("/search?"))
            .cloned()
            .collect()
    }
}

fn ids(answer: &Value) -> Vec<&str> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn only_the_providers_of_granted_scopes_are_searched() {
    let f = fixture(Notes::Found).await;
    let all = f
        .call(
            "search",
            "files:read notes:read",
            json!({"query": "plan", "limit": 3}),
        )
        .await
        .unwrap();
    // Nextcloud's order (notes 4 before files 5); settings and the current-conversation
    // provider never searched.
    assert_eq!(
        ids(&all),
        ["notes:7", "files:100", "files:101", "files:102"]
    );
    assert_eq!(all["results"][0]["provider"], "notes");
    assert_eq!(all["results"][0]["snippet"], "the plan");
    assert_eq!(
        all["results"][1]["url"],
        "https://cloud.example/index.php/f/100"
    );
    assert_eq!(all["not_permitted"], json!([]));
    let searched = f.searched();
    assert_eq!(searched.len(), 2, "{searched:?}");
    assert!(searched
        .iter()
        .all(|s| s.contains("/notes/") || s.contains("/files/")));

    f.seen.lock().unwrap().clear();
    let files_only = f
        .call(
            "search",
            "files:read calendar:read",
            json!({"query": "plan", "limit": 3}),
        )
        .await
        .unwrap();
    assert!(ids(&files_only).iter().all(|id| id.starts_with("files:")));
    assert_eq!(
        files_only["not_permitted"],
        json!([{"provider": "notes", "needs_scope": "notes:read"}])
    );
    let searched = f.searched();
    assert!(
        searched.iter().all(|s| !s.contains("/notes/")),
        "{searched:?}"
    );

    // Asking for notes alone without notes:read: refused, nothing asked of Nextcloud.
    f.seen.lock().unwrap().clear();
    let refused = f
        .call(
            "search",
            "files:read",
            json!({"query": "plan", "providers": ["notes"]}),
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("`notes:read`"), "{refused}");
    assert!(f.seen.lock().unwrap().is_empty());
    // A token without any data scope.
    let none = f
        .call("search", "sharing:read", json!({"query": "plan"}))
        .await
        .unwrap_err();
    assert!(none.to_string().contains("insufficient scope"), "{none}");
}

#[tokio::test]
async fn pages_follow_each_providers_cursor_and_stop() {
    let f = fixture(Notes::Found).await;
    let first = f
        .call(
            "search",
            "files:read notes:read",
            json!({"query": "plan", "limit": 5}),
        )
        .await
        .unwrap();
    assert_eq!(ids(&first).len(), 6);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    f.seen.lock().unwrap().clear();
    let second = f
        .call(
            "search",
            "files:read notes:read",
            json!({"query": "plan", "limit": 5, "cursor": cursor}),
        )
        .await
        .unwrap();
    // Notes was complete: only files asked again, from offset 5.
    assert_eq!(
        ids(&second),
        [
            "files:105",
            "files:106",
            "files:107",
            "files:108",
            "files:109"
        ]
    );
    let searched = f.searched();
    assert_eq!(searched.len(), 1);
    assert!(searched[0].contains("cursor=5"), "{searched:?}");
    let third = f
        .call(
            "search",
            "files:read notes:read",
            json!({"query": "plan", "limit": 5, "cursor": second["next_cursor"]}),
        )
        .await
        .unwrap();
    assert_eq!(ids(&third), ["files:110", "files:111"]);
    assert_eq!(third["next_cursor"], Value::Null);

    // A cursor of another query, or no cursor at all.
    let other = f
        .call(
            "search",
            "files:read",
            json!({"query": "other", "cursor": first["next_cursor"]}),
        )
        .await
        .unwrap_err();
    assert!(matches!(other, ToolError::InvalidArguments(_)), "{other}");
    let garbage = f
        .call(
            "search",
            "files:read",
            json!({"query": "plan", "cursor": "!!"}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(garbage, ToolError::InvalidArguments(_)),
        "{garbage}"
    );
}

#[tokio::test]
async fn a_failing_provider_is_named_and_the_others_answer() {
    let f = fixture(Notes::Fails).await;
    let answer = f
        .call(
            "search",
            "files:read notes:read",
            json!({"query": "plan", "limit": 2}),
        )
        .await
        .unwrap();
    assert_eq!(ids(&answer), ["files:100", "files:101"]);
    assert_eq!(answer["failed"][0]["provider"], "notes");
    assert!(answer["failed"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("500"));
}

#[tokio::test]
async fn arguments_and_fetch_scopes_are_checked_before_nextcloud_is_asked() {
    let f = fixture(Notes::Found).await;
    for args in [
        json!({"query": "  "}),
        json!({"query": "plan", "limit": 0}),
        json!({"query": "plan", "limit": 26}),
        json!({"query": "plan", "providers": ["mail"]}),
        json!({"query": "plan", "extra": 1}),
        json!({"query": "a\nb"}),
    ] {
        let e = f
            .call("search", "files:read", args.clone())
            .await
            .unwrap_err();
        assert!(matches!(e, ToolError::InvalidArguments(_)), "{args}: {e}");
    }
    let e = f
        .call("fetch", "files:read", json!({"id": "notes:7"}))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("insufficient scope") && e.to_string().contains("`notes:read`"),
        "{e}"
    );
    let e = f
        .call("fetch", "files:read", json!({"id": "files:../../etc"}))
        .await
        .unwrap_err();
    assert!(matches!(e, ToolError::InvalidArguments(_)), "{e}");
    assert!(f.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_provider_past_its_deadline_is_named_and_the_others_answer() {
    let f = fixture(Notes::Slow).await;
    let principal = principal("files:read notes:read");
    let args: SearchArgs = serde_json::from_value(json!({"query": "plan", "limit": 2})).unwrap();
    let started = mcp_shared::ops::clock::monotonic();
    let answer = search_within(args, &f.ctx(&principal), Duration::from_millis(300))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(ids(&answer), ["files:100", "files:101"]);
    assert_eq!(answer["failed"][0]["provider"], "notes");
    assert!(answer["failed"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("no answer within 0.3 seconds"));
}

#[test]
fn cursors_round_trip_and_properties_unfold() {
    let state = CursorState {
        q: "plan ä".into(),
        p: vec![
            ("files".into(), "10".into()),
            ("search-deck-card-board".into(), "1|2".into()),
        ],
    };
    assert_eq!(decode_cursor(&encode_cursor(&state)).unwrap(), state);
    let ics = "BEGIN:VEVENT\r\nSUMMARY;LANGUAGE=en:Team\r\n  meeting\\, room 2\r\nDTSTART:20261205T100000Z\r\nEND:VEVENT\r\n";
    assert_eq!(
        property(ics, "summary").as_deref(),
        Some("Team meeting, room 2")
    );
    assert_eq!(
        property(ics, "DTSTART").as_deref(),
        Some("20261205T100000Z")
    );
    assert_eq!(property(ics, "LOCATION"), None);
    assert_eq!(shorten("ääää", 2), ("ää…".to_owned(), true));
}
