use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mcp_shared::ScopeSet;

use super::*;
use crate::auth::BearerToken;
use crate::exchange::tests::{basic_reply, client, token_endpoint};

const DOC: &str =
    r#"{"ocs":{"meta":{"status":"ok"},"data":{"id":"alice","displayname":"Alice","email":null}}}"#;

/// A stand-in Nextcloud on loopback: answers every request with `status` (the user
/// document on 200) and keeps the `Authorization` headers it was sent.
async fn fake_nextcloud(status: Arc<AtomicU16>) -> (url::Url, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let (status, recorded) = (status.clone(), recorded.clone());
        App::new().default_service(web::to(move |request: HttpRequest| {
            let (status, recorded) = (status.clone(), recorded.clone());
            async move {
                let authorization = request
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                recorded.lock().unwrap().push(authorization);
                match status.load(Ordering::SeqCst) {
                    200 => HttpResponse::Ok()
                        .content_type("application/json")
                        .body(DOC),
                    _ => HttpResponse::Unauthorized().finish(),
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

/// A stand-in Nextcloud whose capabilities endpoint answers `capabilities` with `status`
/// (and counts the requests to it); everything else gets the user document.
async fn nextcloud_with_capabilities(
    status: u16,
    capabilities: &'static str,
) -> (url::Url, Arc<AtomicU16>) {
    let asked = Arc::new(AtomicU16::new(0));
    let counter = asked.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let counter = counter.clone();
        App::new().default_service(web::to(move |request: HttpRequest| {
            let counter = counter.clone();
            async move {
                if request.path() == "/ocs/v2.php/cloud/capabilities" {
                    counter.fetch_add(1, Ordering::SeqCst);
                    return HttpResponse::build(
                        actix_web::http::StatusCode::from_u16(status).unwrap(),
                    )
                    .content_type("application/json")
                    .body(capabilities);
                }
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(DOC)
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
        asked,
    )
}

const NO_NOTES: &str = r#"{"ocs":{"meta":{"status":"ok"},"data":{"capabilities":{"core":{},"files":{"undelete":true}}}}}"#;

fn names(specs: Vec<&'static tools::ToolSpec>) -> Vec<&'static str> {
    specs.into_iter().map(|s| s.name).collect()
}

#[actix_web::test]
async fn tools_of_an_app_the_user_lacks_are_hidden_and_a_call_names_the_app() {
    let (nc, asked) = nextcloud_with_capabilities(200, NO_NOTES).await;
    let (token_url, _, _) = token_endpoint(basic_reply).await;
    let backend = backend(nc, &token_url);
    let listed = names(backend.listed_tools(&principal()).await);
    assert!(
        listed.contains(&"whoami") && listed.contains(&"files_list"),
        "{listed:?}"
    );
    assert!(
        !listed.iter().any(|n| n.starts_with("notes_")),
        "{listed:?}"
    );

    let (result, audit) = audit_lines(backend.call("notes_list", None, &principal())).await;
    let result = result.unwrap();
    assert_eq!(result.is_error, Some(true));
    let message = text(&result);
    assert!(
        message.contains("Notes app") && message.contains("not installed or not enabled"),
        "{message}"
    );
    assert_eq!(audit[0]["reason"], "missing_app");
    // Remembered per credential: asked once for the list and the call.
    assert_eq!(asked.load(Ordering::SeqCst), 1);

    // A token whose tools need no app does not make Nextcloud be asked at all.
    let (nc, asked) = nextcloud_with_capabilities(200, NO_NOTES).await;
    let backend = self::backend(nc, &token_url);
    // (Calendar tools need no app; files:read would show the trash bin's and versions'.)
    let openid = principal_with(ScopeSet::parse("openid calendar:read").unwrap());
    assert!(names(backend.listed_tools(&openid).await).contains(&"calendar_list_events"));
    assert_eq!(asked.load(Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn when_capabilities_cannot_be_read_no_tool_is_hidden() {
    for (status, body) in [(503, ""), (200, "<html>maintenance</html>")] {
        let (nc, asked) = nextcloud_with_capabilities(status, body).await;
        let (token_url, _, _) = token_endpoint(basic_reply).await;
        let backend = backend(nc, &token_url);
        let listed = names(backend.listed_tools(&principal()).await);
        assert_eq!(listed.len(), tools::all().count(), "{status}");
        assert_eq!(asked.load(Ordering::SeqCst), 1);
    }
    // Nor when no credential can be had (the exchange is refused).
    fn invalid_grant(_: usize) -> (u16, serde_json::Value) {
        (400, serde_json::json!({"error": "invalid_grant"}))
    }
    let (nc, asked) = nextcloud_with_capabilities(200, NO_NOTES).await;
    let (token_url, _, _) = token_endpoint(invalid_grant).await;
    let backend = backend(nc, &token_url);
    let listed = names(backend.listed_tools(&principal()).await);
    assert!(listed.contains(&"notes_list"), "{listed:?}");
    assert_eq!(asked.load(Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn a_data_result_comes_as_structured_content_and_as_json_text() {
    let (nc, _) = fake_nextcloud(Arc::new(AtomicU16::new(200))).await;
    let (token_url, _, _) = token_endpoint(basic_reply).await;
    let backend = backend(nc, &token_url);
    let result = backend.call("whoami", None, &principal()).await.unwrap();
    let structured = result
        .structured_content
        .clone()
        .expect("structuredContent");
    assert_eq!(structured["user"]["id"], "alice");
    assert_eq!(structured["client_id"], "client-1");
    let text = result.content[0].as_text().unwrap().text.clone();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap(),
        structured
    );
}

fn backend(nextcloud: url::Url, token_endpoint: &str) -> Backend {
    let metrics = Metrics::new().unwrap();
    Backend {
        nextcloud: Nextcloud::new(reqwest::Client::new(), nextcloud, metrics.clone()),
        exchange: Some(Arc::new(client(token_endpoint, &metrics))),
        single_user: None,
        users: UserCache::default(),
        capabilities: CapabilityCache::default(),
        metrics,
        tools: Governance::default(),
        listings: Listings::default(),
    }
}

fn principal() -> Principal {
    principal_with(ScopeSet::all())
}

fn principal_with(scopes: ScopeSet) -> Principal {
    Principal {
        subject: "alice".into(),
        client_id: Some("client-1".into()),
        scopes,
        credential: Credential::AccessToken {
            token: BearerToken::new("proxy-token"),
            grant_id: "grant-1".into(),
            expires_at: now() + 600,
        },
    }
}

fn basic_header(n: usize) -> String {
    format!("Basic {}", STANDARD.encode(format!("alice:app-pw-{n}")))
}

#[actix_web::test]
async fn an_exchanged_app_password_is_sent_as_basic_and_forgotten_once_refused() {
    let status = Arc::new(AtomicU16::new(200));
    let (nc, seen) = fake_nextcloud(status.clone()).await;
    let (token_url, exchanges, _) = token_endpoint(basic_reply).await;
    let backend = backend(nc, &token_url);
    let principal = principal();

    // The exchanged credential goes to Nextcloud as HTTP Basic, and is reused.
    for _ in 0..2 {
        let answer = backend.run_tool("whoami", None, &principal).await.unwrap();
        assert_eq!(answer["user"]["id"], "alice");
    }
    assert_eq!(exchanges.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![basic_header(0), basic_header(0)]
    );

    // The app password is revoked in Nextcloud: one fresh exchange and retry, then a
    // message that says what happened and what to do, quoting no secret.
    status.store(401, Ordering::SeqCst);
    let err = backend
        .run_tool("whoami", None, &principal)
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::SignInAgain(_)), "{err:?}");
    let message = err.to_string();
    for expected in ["app password", "Devices & sessions", "Sign in again"] {
        assert!(message.contains(expected), "{message}");
    }
    assert!(
        !message.contains("app-pw") && !message.contains("Basic "),
        "{message}"
    );
    assert_eq!(exchanges.load(Ordering::SeqCst), 2);
    assert_eq!(
        seen.lock().unwrap()[2..],
        [basic_header(0), basic_header(1)]
    );

    // Nothing refused stays cached: the next call exchanges again.
    status.store(200, Ordering::SeqCst);
    backend.run_tool("whoami", None, &principal).await.unwrap();
    assert_eq!(exchanges.load(Ordering::SeqCst), 3);
    assert_eq!(seen.lock().unwrap().last(), Some(&basic_header(2)));
}

/// Issue 12, M1: parallel tool calls for one grant (one access token) cost one exchange,
/// so the auth-proxy never refreshes upstream twice for them.
#[actix_web::test]
async fn parallel_tool_calls_for_one_grant_cause_one_exchange() {
    let (nc, _) = fake_nextcloud(Arc::new(AtomicU16::new(200))).await;
    let (token_url, exchanges, _) = token_endpoint(basic_reply).await;
    let backend = backend(nc, &token_url);
    let principal = principal();
    let calls = (0..8).map(|_| backend.run_tool("whoami", None, &principal));
    for answer in futures_util::future::join_all(calls).await {
        assert_eq!(answer.unwrap()["user"]["id"], "alice");
    }
    assert_eq!(exchanges.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn whoami_shows_only_the_user_id_to_a_token_with_only_openid() {
    let (nc, _) = fake_nextcloud(Arc::new(AtomicU16::new(200))).await;
    let (token_url, _, _) = token_endpoint(basic_reply).await;
    let backend = backend(nc, &token_url);
    let openid = principal_with(ScopeSet::parse("openid").unwrap());
    let answer = backend.run_tool("whoami", None, &openid).await.unwrap();
    assert_eq!(answer["user"], serde_json::json!({"id": "alice"}));
    let profile = principal_with(ScopeSet::parse("openid profile").unwrap());
    let answer = backend.run_tool("whoami", None, &profile).await.unwrap();
    assert_eq!(
        answer["user"],
        serde_json::json!({"id": "alice", "displayname": "Alice"})
    );
}

/// Everything logged at `level` or above while `f` runs.
fn logged(level: tracing::Level, f: impl FnOnce()) -> String {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(move || SharedWriter(sink.clone()))
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buffer.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn tool_errors_log_their_kind_at_info_and_their_details_only_at_debug() {
    let error = ToolError::Nextcloud(NcError::NotFound(
        "/Documents/Secret plan.md (note 4711)".into(),
    ));
    let info = logged(tracing::Level::INFO, || {
        log_tool_error("files_read", &error)
    });
    assert!(
        info.contains("files_read") && info.contains("not_found"),
        "{info}"
    );
    assert!(
        !info.contains("Secret plan") && !info.contains("4711"),
        "{info}"
    );
    let debug = logged(tracing::Level::DEBUG, || {
        log_tool_error("files_read", &error)
    });
    assert!(debug.contains("Secret plan.md (note 4711)"), "{debug}");
}

#[actix_web::test]
async fn a_refused_grant_asks_the_user_to_sign_in_again() {
    fn invalid_grant(_: usize) -> (u16, serde_json::Value) {
        (400, serde_json::json!({"error": "invalid_grant"}))
    }
    let (nc, seen) = fake_nextcloud(Arc::new(AtomicU16::new(200))).await;
    let (token_url, _, _) = token_endpoint(invalid_grant).await;
    let backend = backend(nc, &token_url);
    let err = backend
        .run_tool("whoami", None, &principal())
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::SignInAgain(_)), "{err:?}");
    assert!(err.to_string().contains("Sign in again"), "{err}");
    assert!(seen.lock().unwrap().is_empty());
}

#[actix_web::test]
async fn a_refused_access_token_is_named_as_such() {
    fn bearer(n: usize) -> (u16, serde_json::Value) {
        (
            200,
            serde_json::json!({
                "access_token": format!("upstream-{n}"),
                "issued_token_type": mcp_shared::token_exchange::ACCESS_TOKEN_TYPE,
                "token_type": "Bearer",
                "expires_in": 3600,
            }),
        )
    }
    let (nc, seen) = fake_nextcloud(Arc::new(AtomicU16::new(401))).await;
    let (token_url, exchanges, _) = token_endpoint(bearer).await;
    let backend = backend(nc, &token_url);
    let err = backend
        .run_tool("whoami", None, &principal())
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("access token") && message.contains("Sign in again"),
        "{message}"
    );
    assert!(!message.contains("upstream-"), "{message}");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            "Bearer upstream-0".to_owned(),
            "Bearer upstream-1".to_owned()
        ]
    );
    assert_eq!(exchanges.load(Ordering::SeqCst), 2);
}

/// The JSON audit lines (target `audit`, fields flattened as `LOG_FORMAT=json` writes them)
/// logged on this thread while `f` runs.
async fn audit_lines<F: std::future::Future>(f: F) -> (F::Output, Vec<serde_json::Value>) {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || SharedWriter(sink.clone()))
        .finish();
    let output = {
        let _default = tracing::subscriber::set_default(subscriber);
        f.await
    };
    let bytes = buffer.lock().unwrap().clone();
    let lines = String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["target"] == "audit")
        .collect();
    (output, lines)
}

fn text(result: &CallToolResult) -> String {
    serde_json::to_value(&result.content).unwrap().to_string()
}

#[actix_web::test]
async fn a_disabled_tool_is_refused_by_name_before_any_exchange_or_nextcloud_request() {
    let (nc, seen) = fake_nextcloud(Arc::new(AtomicU16::new(200))).await;
    let (token_url, exchanges, _) = token_endpoint(basic_reply).await;
    let mut backend = backend(nc, &token_url);
    backend.tools = Governance::new(&["files_*".to_owned()], true).unwrap();
    let (result, audit) = audit_lines(backend.call("files_list", None, &principal())).await;
    let result = result.unwrap();
    assert_eq!(result.is_error, Some(true));
    let message = text(&result);
    assert!(
        message.contains("files_list is disabled") && message.contains("administrator"),
        "{message}"
    );
    assert_eq!(exchanges.load(Ordering::SeqCst), 0);
    assert!(seen.lock().unwrap().is_empty());
    let denials = &backend.metrics.tool_denials;
    assert_eq!(denials.with_label_values(&["disabled"]).get(), 1);
    assert_eq!(denials.with_label_values(&["scope"]).get(), 0);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["outcome"], "refused");
    assert_eq!(audit[0]["reason"], "disabled");
    assert_eq!(audit[0]["tool"], "files_list");

    // Read-only mode: a write tool of another family is refused the same way.
    let (result, _) = audit_lines(backend.call("notes_create", None, &principal())).await;
    assert!(text(&result.unwrap()).contains("notes_create is disabled"));
    assert_eq!(denials.with_label_values(&["disabled"]).get(), 2);
    assert_eq!(exchanges.load(Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn each_tool_call_leaves_one_audit_line_naming_who_and_what_but_no_content() {
    let (nc, _) = fake_nextcloud(Arc::new(AtomicU16::new(200))).await;
    let (token_url, _, _) = token_endpoint(basic_reply).await;
    let backend = backend(nc, &token_url);
    let secret_args = serde_json::json!({"id": 4711, "path": "/Documents/Secret plan.md"});
    let secret_args = secret_args.as_object().cloned();
    let (results, audit) = audit_lines(async {
        let ok = backend.call("whoami", None, &principal()).await;
        // The stand-in answers the user document to everything: not a note.
        let failed = backend.call("notes_get", secret_args, &principal()).await;
        let denied = backend
            .call(
                "notes_get",
                None,
                &principal_with(ScopeSet::parse("openid").unwrap()),
            )
            .await;
        let unknown = backend.call("no_such_tool", None, &principal()).await;
        (ok, failed, denied, unknown)
    })
    .await;
    assert!(text(&results.0.unwrap()).contains("Alice"));
    assert_eq!(results.1.unwrap().is_error, Some(true));
    assert_eq!(results.2.unwrap().is_error, Some(true));
    assert!(results.3.is_err());

    assert_eq!(audit.len(), 4, "{audit:?}");
    for line in &audit {
        assert_eq!(line["event"], "tool.call");
        assert_eq!(line["subject"], "alice");
        assert_eq!(line["client_id"], "client-1");
        assert_eq!(line["grant_id"], "grant-1");
        let raw = line.to_string();
        for never in [
            "4711",
            "Secret plan",
            "Alice",
            "proxy-token",
            "app-pw",
            "no_such",
        ] {
            assert!(!raw.contains(never), "{never} in {raw}");
        }
    }
    let summary: Vec<_> = audit
        .iter()
        .map(|l| {
            (
                l["tool"].as_str(),
                l["outcome"].as_str(),
                l["reason"].as_str(),
            )
        })
        .collect();
    assert_eq!(summary[0], (Some("whoami"), Some("ok"), None));
    assert_eq!(summary[1].0, Some("notes_get"));
    assert_eq!(summary[1].1, Some("error"));
    assert!(summary[1].2.is_some());
    assert_eq!(
        summary[2],
        (Some("notes_get"), Some("refused"), Some("scope"))
    );
    assert_eq!(summary[3], (None, Some("error"), Some("unknown_tool")));
    assert!(audit[0]["duration_ms"].is_u64() && audit[2].get("duration_ms").is_none());
    assert_eq!(
        backend
            .metrics
            .tool_denials
            .with_label_values(&["scope"])
            .get(),
        1
    );
}
