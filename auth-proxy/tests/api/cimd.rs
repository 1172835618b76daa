//! Client ID Metadata Documents: a document server on loopback (reachable only through the
//! explicit test switch), and the default address policy refusing internal targets before any
//! connection is made (names resolve through the test's own DNS answers).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

use crate::helpers::*;

/// The document server: every path is a differently broken (or good) document; every path
/// under `/good/` is a good one.
pub struct DocServer {
    pub base: String,
    pub fetches: Arc<AtomicUsize>,
}

async fn serve_doc(
    req: HttpRequest,
    base: web::Data<String>,
    fetches: web::Data<Arc<AtomicUsize>>,
) -> HttpResponse {
    fetches.fetch_add(1, Ordering::SeqCst);
    let own = format!("{}{}", base.as_str(), req.path());
    let doc = |client_id: &str| {
        json!({
            "client_id": client_id,
            "client_name": "CIMD Test Client",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
        })
    };
    match req.path() {
        "/client.json" => HttpResponse::Ok()
            .insert_header(("cache-control", "public, max-age=600"))
            .json(doc(&own)),
        "/mismatch.json" => HttpResponse::Ok().json(doc(&format!("{}/other.json", base.as_str()))),
        "/secret.json" => {
            let mut d = doc(&own);
            d["client_secret"] = json!("s3cret");
            HttpResponse::Ok().json(d)
        }
        "/big.json" => {
            let mut d = doc(&own);
            d["padding"] = json!("x".repeat(100 * 1024));
            HttpResponse::Ok().json(d)
        }
        "/slow.json" => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            HttpResponse::Ok().json(doc(&own))
        }
        "/redirect.json" => HttpResponse::Found()
            .insert_header(("location", format!("{}/client.json", base.as_str())))
            .finish(),
        "/malformed.json" => HttpResponse::Ok()
            .content_type("application/json")
            .body("{not json"),
        "/missing.json" => HttpResponse::NotFound().finish(),
        path if path.starts_with("/good/") => HttpResponse::Ok()
            .insert_header(("cache-control", "public, max-age=600"))
            .json(doc(&own)),
        _ => HttpResponse::NotFound().finish(),
    }
}

pub async fn start_doc_server() -> DocServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let fetches = Arc::new(AtomicUsize::new(0));
    let (b, f) = (base.clone(), fetches.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(b.clone()))
            .app_data(web::Data::new(f.clone()))
            .default_service(web::to(serve_doc))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    DocServer { base, fetches }
}

pub async fn spawn_test_switch(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("AUTH_PROXY_CIMD_TEST_ALLOW_LOOPBACK", "true"),
        ("AUTH_PROXY_CIMD_FETCH_TIMEOUT_SECS", "1"),
        ("AUTH_PROXY_CIMD_FAILURE_CACHE_SECS", "0"),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

pub async fn page_text(resp: reqwest::Response) -> String {
    resp.text().await.unwrap()
}

#[tokio::test]
async fn a_cimd_client_signs_in_and_redeems_its_code_with_one_fetch() {
    let docs = start_doc_server().await;
    let app = spawn_test_switch(&[]).await;
    let metadata: Value = app.metadata().await;
    assert_eq!(metadata["client_id_metadata_document_supported"], true);

    let client_id = format!("{}/client.json", docs.base);
    let auth = app.authorize_code(&client_id).await;
    let resp = app.redeem(&client_id, &auth).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let claims = app
        .app_state
        .keys
        .verify_access_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.client_id, client_id);
    // Consent page, callback and token request: the document was fetched once (cache).
    assert_eq!(docs.fetches.load(Ordering::SeqCst), 1);
    // A redirect URI the document does not list is refused as a page.
    let p = pkce();
    let resp = app
        .authorize(&app.authorize_params(
            &client_id,
            &p.challenge,
            &[("redirect_uri", "https://evil.example/cb")],
        ))
        .await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}

#[tokio::test]
async fn broken_documents_are_refused_with_a_reason() {
    let docs = start_doc_server().await;
    let app = spawn_test_switch(&[]).await;
    let p = pkce();
    for (path, reason) in [
        ("/mismatch.json", "names a different client_id"),
        ("/secret.json", "must not carry a client secret"),
        ("/big.json", "larger than allowed"),
        ("/slow.json", "took too long"),
        ("/redirect.json", "redirects are not followed"),
        ("/malformed.json", "it is not JSON"),
        ("/missing.json", "answered HTTP 404"),
    ] {
        let client_id = format!("{}{path}", docs.base);
        let resp = app
            .authorize(&app.authorize_params(&client_id, &p.challenge, &[]))
            .await;
        assert_eq!(resp.status(), 400, "{path}");
        assert!(
            resp.headers().get("location").is_none(),
            "{path}: never redirected"
        );
        let text = page_text(resp).await;
        assert!(text.contains(reason), "{path}: {text}");
    }
    // And at the token endpoint, a broken document is invalid_client.
    let resp = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &format!("{}/mismatch.json", docs.base)),
            ("code", "x.y"),
            ("code_verifier", &p.verifier),
        ])
        .await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_client");
}

#[tokio::test]
async fn the_default_policy_refuses_internal_targets_without_connecting() {
    // No test switch: the shipped policy.
    let docs = start_doc_server().await;
    let app = spawn_app().await;
    {
        let mut answers = app.dns.answers.lock().unwrap();
        answers.insert("internal.test".into(), vec!["10.0.0.5".parse().unwrap()]);
        answers.insert(
            "metadata.test".into(),
            vec!["169.254.169.254".parse().unwrap()],
        );
        answers.insert("loop.test".into(), vec!["127.0.0.1".parse().unwrap()]);
        answers.insert("v6.test".into(), vec!["fd00::1".parse().unwrap()]);
        // One public and one internal address: refused as a whole (nothing is contacted).
        answers.insert(
            "mixed.test".into(),
            vec![
                "93.184.216.34".parse().unwrap(),
                "192.168.1.1".parse().unwrap(),
            ],
        );
    }
    let p = pkce();
    let port = docs.base.rsplit(':').next().unwrap().to_owned();
    for (client_id, reason) in [
        (format!("{}/client.json", docs.base), "must be https"),
        (
            format!("https://127.0.0.1:{port}/client.json"),
            "does not resolve to a public address",
        ),
        (
            "https://[::1]/client.json".to_owned(),
            "does not resolve to a public address",
        ),
        (
            "https://internal.test/client.json".to_owned(),
            "does not resolve to a public address",
        ),
        (
            "https://metadata.test/client.json".to_owned(),
            "does not resolve to a public address",
        ),
        (
            "https://loop.test/client.json".to_owned(),
            "does not resolve to a public address",
        ),
        (
            "https://v6.test/client.json".to_owned(),
            "does not resolve to a public address",
        ),
        (
            "https://mixed.test/client.json".to_owned(),
            "does not resolve to a public address",
        ),
        (
            "https://unknown.test/client.json".to_owned(),
            "does not resolve to a public address",
        ),
        ("https://internal.test/".to_owned(), "no path"),
        ("https://internal.test".to_owned(), "canonical form"),
        (
            "https://user@internal.test/c.json".to_owned(),
            "user information",
        ),
    ] {
        let resp = app
            .authorize(&app.authorize_params(&client_id, &p.challenge, &[]))
            .await;
        assert_eq!(resp.status(), 400, "{client_id}");
        let text = page_text(resp).await;
        assert!(text.contains(reason), "{client_id}: {text}");
    }
    assert_eq!(
        docs.fetches.load(Ordering::SeqCst),
        0,
        "the document server was never contacted"
    );
    // Whoever sends a client_id learns nothing about which internal names exist: a name that
    // does not resolve and one that resolves to an internal address get the same page.
    let mut pages = Vec::new();
    for host in ["internal.test", "unknown.test"] {
        let client_id = format!("https://{host}/c.json");
        let resp = app
            .authorize(&app.authorize_params(&client_id, &p.challenge, &[]))
            .await;
        pages.push(page_text(resp).await.replace(host, "HOST"));
    }
    assert_eq!(pages[0], pages[1]);
}

#[tokio::test]
async fn allow_list_rate_limit_and_switch_off() {
    let docs = start_doc_server().await;
    let p = pkce();
    let app = spawn_test_switch(&[(
        "AUTH_PROXY_CIMD_ALLOWED_HOSTS",
        "*.example.com, clients.example.org",
    )])
    .await;
    let resp = app
        .authorize(&app.authorize_params(&format!("{}/client.json", docs.base), &p.challenge, &[]))
        .await;
    assert!(page_text(resp).await.contains("not accepted here"));

    let app = spawn_test_switch(&[("AUTH_PROXY_RATE_LIMIT_CIMD_PER_HOST", "2/60")]).await;
    let mut last = String::new();
    for path in ["/missing.json", "/malformed.json", "/mismatch.json"] {
        let resp = app
            .authorize(&app.authorize_params(&format!("{}{path}", docs.base), &p.challenge, &[]))
            .await;
        last = page_text(resp).await;
    }
    assert!(
        last.contains("too many client metadata document fetches"),
        "{last}"
    );

    let app = spawn_test_switch(&[("AUTH_PROXY_CIMD_ENABLED", "false")]).await;
    let before = docs.fetches.load(Ordering::SeqCst);
    let resp = app
        .authorize(&app.authorize_params(&format!("{}/client.json", docs.base), &p.challenge, &[]))
        .await;
    assert!(page_text(resp).await.contains("unknown client_id"));
    assert_eq!(docs.fetches.load(Ordering::SeqCst), before);
    let metadata: Value = app.metadata().await;
    assert_eq!(metadata["client_id_metadata_document_supported"], false);
}

#[tokio::test]
async fn one_fetch_per_document_and_documents_do_not_wait_for_each_other() {
    let docs = start_doc_server().await;
    let app = spawn_test_switch(&[]).await;
    let p = pkce();

    // Concurrent requests for one document share one fetch.
    let client_id = format!("{}/client.json", docs.base);
    let params = app.authorize_params(&client_id, &p.challenge, &[]);
    let pages = futures_util::future::join_all((0..8).map(|_| app.authorize(&params))).await;
    for resp in pages {
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(docs.fetches.load(Ordering::SeqCst), 1);

    // A document that hangs holds up only requests for itself: another document is resolved
    // while the slow fetch is still waiting for its deadline.
    let slow_id = format!("{}/slow.json", docs.base);
    let slow_params = app.authorize_params(&slow_id, &p.challenge, &[]);
    let slow = app.authorize(&slow_params);
    tokio::pin!(slow);
    let started = async {
        while docs.fetches.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
    };
    tokio::select! {
        biased;
        _ = &mut slow => panic!("the slow document answered before it was fetched"),
        _ = started => {}
    }
    let other_id = format!("{}/missing.json", docs.base);
    let other_params = app.authorize_params(&other_id, &p.challenge, &[]);
    let other = app.authorize(&other_params);
    tokio::select! {
        biased;
        resp = other => assert!(page_text(resp).await.contains("answered HTTP 404")),
        _ = &mut slow => panic!("a different document waited for the slow one"),
    }
    assert!(page_text(slow.await).await.contains("took too long"));
}
