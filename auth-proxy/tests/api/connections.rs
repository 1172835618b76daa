//! The connections page: sign-in through the (fake) upstream IdP with a `c.` state, the list
//! of the signed-in person's own clients, revocation with session + CSRF token + Origin, and
//! what a revocation does to the client's refresh token and to token exchange.

use std::time::Duration;

use auth_proxy::store::UserGrant;
use serde_json::Value;

use crate::helpers::*;

const EXCHANGE_SECRET: &str = "exchange-secret-0123456789";
const MCP_BASIC: (&str, &str) = ("mcp-server", EXCHANGE_SECRET);

async fn spawn() -> TestApp {
    spawn_app_with(&[
        ("AUTH_PROXY_EXCHANGE_CLIENT_SECRET", EXCHANGE_SECRET),
        ("AUTH_PROXY_NEXTCLOUD_CREDENTIALS", "bearer"),
    ])
    .await
}

/// Authorize → approve → callback → redeem in `browser`, signing in upstream with `code`
/// (`good` is alice, `user:bob` is bob); returns the token response.
async fn tokens(app: &TestApp, browser: &reqwest::Client, client_id: &str, code: &str) -> Value {
    let pkce = pkce();
    let params = app.authorize_params(client_id, &pkce.challenge, &[]);
    let resp = browser
        .get(app.url("/authorize"))
        .query(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    let (flow, csrf) = (hidden_input(&html, "flow"), hidden_input(&html, "csrf"));
    let resp = browser
        .post(app.url("/consent"))
        .form(&[("flow", &*flow), ("csrf", &*csrf), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let upstream = query(&location(&resp));
    let resp = browser
        .get(app.url("/callback"))
        .query(&[("state", upstream["state"].as_str()), ("code", code)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let back = query(&location(&resp));
    let resp = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &back["code"]),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("code_verifier", &pkce.verifier),
            ("resource", RESOURCE),
        ])
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// GET /connections without a session: the redirect to the IdP.
async fn start_sign_in(app: &TestApp, browser: &reqwest::Client) -> reqwest::Response {
    browser.get(app.url("/connections")).send().await.unwrap()
}

/// Signs `browser` in to the connections page as the user of `code`; returns the callback's
/// answer (a 303 to /connections setting the session cookie).
async fn sign_in(app: &TestApp, browser: &reqwest::Client, code: &str) -> reqwest::Response {
    let resp = start_sign_in(app, browser).await;
    assert_eq!(resp.status(), 303);
    let state = query(&location(&resp))["state"].clone();
    let resp = browser
        .get(app.url("/callback"))
        .query(&[("state", state.as_str()), ("code", code)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{:?}", resp.text().await);
    resp
}

async fn page(app: &TestApp, browser: &reqwest::Client) -> String {
    let resp = browser.get(app.url("/connections")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

async fn revoke(
    app: &TestApp,
    browser: &reqwest::Client,
    form: &[(&str, &str)],
    origin: Option<&str>,
) -> reqwest::Response {
    let mut req = browser.post(app.url("/connections/revoke")).form(form);
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    req.send().await.unwrap()
}

async fn exchange(app: &TestApp, access_token: &str) -> reqwest::Response {
    app.http
        .post(app.url("/token"))
        .basic_auth(MCP_BASIC.0, Some(MCP_BASIC.1))
        .form(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", access_token),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ])
        .send()
        .await
        .unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[tokio::test]
async fn without_a_session_the_page_signs_in_at_the_idp_with_its_own_state() {
    let app = spawn().await;
    let resp = start_sign_in(&app, &app.http).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("mcp-auth-flow="), "{cookie}");
    let to = location(&resp);
    assert!(to.as_str().starts_with(FAKE_IDP), "{to}");
    let q = query(&to);
    assert!(q["state"].starts_with("c."), "{q:?}");
    assert!(!q["nonce"].is_empty());
    assert_eq!(q["code_challenge"].len(), 43);
    // Only the browser that started it can finish it, and only once.
    let resp = browser()
        .get(app.url("/callback"))
        .query(&[("state", q["state"].as_str()), ("code", "good")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = app
        .callback(&[("state", &q["state"]), ("code", "good")])
        .await;
    assert_eq!(
        resp.status(),
        400,
        "the flow was taken by the first attempt"
    );
}

#[tokio::test]
async fn the_callback_creates_a_session_and_the_page_lists_only_own_clients() {
    let app = spawn().await;
    let first = app.register_public_named("First <App>").await;
    let second = app.register_public_named("Second App").await;
    let bobs = app.register_public_named("Bob's App").await;
    tokens(&app, &app.http, &first.client_id, "good").await;
    tokens(&app, &app.http, &first.client_id, "good").await;
    tokens(&app, &app.http, &second.client_id, "good").await;
    let bob = browser();
    tokens(&app, &bob, &bobs.client_id, "user:bob").await;

    let resp = sign_in(&app, &app.http, "good").await;
    assert_eq!(location(&resp).path(), "/connections");
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("mcp-connections="))
        .expect("session cookie")
        .to_owned();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=900"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    // Loopback issuer: no Secure (the __Host- form with Secure is for https issuers).
    assert!(!cookie.contains("Secure"), "{cookie}");

    let resp = app.http.get(app.url("/connections")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(!h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    let html = resp.text().await.unwrap();
    assert!(html.contains("alice@example.com"));
    // One row per client (two grants of the first client are one row), escaped.
    assert_eq!(html.matches("class=\"connection\"").count(), 2, "{html}");
    assert_eq!(html.matches(&*first.client_id).count(), 3, "{html}");
    assert!(html.contains("First &lt;App&gt;"));
    assert!(html.contains("Second App"));
    assert!(html.contains("notes:read"));
    assert!(
        !html.contains("Bob"),
        "another user's client is listed: {html}"
    );
    assert!(!html.contains(&*bobs.client_id));

    let bob_page = {
        sign_in(&app, &bob, "user:bob").await;
        page(&app, &bob).await
    };
    assert!(bob_page.contains("Bob&#39;s App"));
    assert!(!bob_page.contains("First"));
}

#[tokio::test]
async fn revoke_needs_session_csrf_token_and_our_origin_and_touches_only_own_grants() {
    let app = spawn().await;
    let mine = app.register_public_named("Mine").await;
    let bobs = app.register_public_named("Bob's").await;
    let my_tokens = tokens(&app, &app.http, &mine.client_id, "good").await;
    let bob = browser();
    let bob_tokens = tokens(&app, &bob, &bobs.client_id, "user:bob").await;
    sign_in(&app, &app.http, "good").await;
    let html = page(&app, &app.http).await;
    let csrf = hidden_input(&html, "csrf");
    let client = mine.client_id.as_str();

    for (form, origin) in [
        (vec![("client_id", client)], None),
        (vec![("client_id", client), ("csrf", "wrong")], None),
        (
            vec![("client_id", client), ("csrf", csrf.as_str())],
            Some("https://evil.example"),
        ),
    ] {
        let resp = revoke(&app, &app.http, &form, origin).await;
        assert_eq!(resp.status(), 403, "{form:?} {origin:?}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
    // Without a session (another browser holding the token): refused too.
    let resp = revoke(
        &app,
        &browser(),
        &[("client_id", client), ("csrf", &csrf)],
        None,
    )
    .await;
    assert_eq!(resp.status(), 403);
    // Bob's client id from alice's session: nothing of bob's changes.
    let resp = revoke(
        &app,
        &app.http,
        &[("client_id", &bobs.client_id), ("csrf", &csrf)],
        Some(ISSUER),
    )
    .await;
    assert_eq!(resp.status(), 303);
    let resp = app
        .refresh(&bobs.client_id, s(&bob_tokens["refresh_token"]))
        .await;
    assert_eq!(resp.status(), 200);
    // Nothing refused so far revoked anything of alice's either.
    let resp = app
        .refresh(&mine.client_id, s(&my_tokens["refresh_token"]))
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn after_a_revoke_refresh_and_token_exchange_are_refused() {
    let app = spawn().await;
    let client = app.register_public_named("Doomed").await;
    let kept = app.register_public_named("Kept").await;
    let doomed = tokens(&app, &app.http, &client.client_id, "good").await;
    let doomed_too = tokens(&app, &app.http, &client.client_id, "good").await;
    let other = tokens(&app, &app.http, &kept.client_id, "good").await;
    assert_eq!(
        exchange(&app, s(&doomed["access_token"])).await.status(),
        200
    );

    sign_in(&app, &app.http, "good").await;
    let html = page(&app, &app.http).await;
    let csrf = hidden_input(&html, "csrf");
    let resp = revoke(
        &app,
        &app.http,
        &[("client_id", &client.client_id), ("csrf", &csrf)],
        Some(ISSUER),
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp).path(), "/connections");

    for t in [&doomed, &doomed_too] {
        let resp = app.refresh(&client.client_id, s(&t["refresh_token"])).await;
        assert_eq!(resp.status(), 400);
        assert_eq!(error_code(resp).await, "invalid_grant");
        let resp = exchange(&app, s(&t["access_token"])).await;
        assert_eq!(resp.status(), 400);
        assert_eq!(error_code(resp).await, "invalid_grant");
    }
    // The other client is untouched, and the page lists only it now.
    assert_eq!(
        exchange(&app, s(&other["access_token"])).await.status(),
        200
    );
    let html = page(&app, &app.http).await;
    assert!(!html.contains("Doomed"), "{html}");
    assert!(html.contains("Kept"));
    let indexed = app.app_state.store.list_user_grants("alice").await.unwrap();
    assert_eq!(indexed.len(), 1);
    let metrics = reqwest::get(format!("{}/metrics", app.metrics_address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("auth_proxy_tokens_revoked_total{kind=\"connection\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn last_use_is_recorded_on_refresh_and_exchange_at_most_every_ten_minutes() {
    let app = spawn().await;
    let client = app.register_public().await;
    let t = tokens(&app, &app.http, &client.client_id, "good").await;
    let last_used = || async {
        let listed: Vec<(_, UserGrant)> =
            app.app_state.store.list_user_grants("alice").await.unwrap();
        assert_eq!(listed.len(), 1);
        listed[0].1.last_used
    };
    assert_eq!(last_used().await, None);
    let start = auth_proxy::clock::Clock::now(&app.clock);
    let resp = app.refresh(&client.client_id, s(&t["refresh_token"])).await;
    assert_eq!(resp.status(), 200);
    let t: Value = resp.json().await.unwrap();
    assert_eq!(last_used().await, Some(start));
    // Within ten minutes, this replica does not write again.
    app.clock.advance_millis(60_000);
    assert_eq!(exchange(&app, s(&t["access_token"])).await.status(), 200);
    let resp = app.refresh(&client.client_id, s(&t["refresh_token"])).await;
    assert_eq!(resp.status(), 200);
    let t: Value = resp.json().await.unwrap();
    assert_eq!(last_used().await, Some(start));
    app.clock.advance_millis(600_000);
    assert_eq!(exchange(&app, s(&t["access_token"])).await.status(), 200);
    assert_eq!(last_used().await, Some(start + 660));
}

#[tokio::test]
async fn sessions_expire_and_sign_out_ends_them() {
    let app = spawn().await;
    sign_in(&app, &app.http, "good").await;
    let html = page(&app, &app.http).await;
    assert!(html.contains("no-connections"));
    app.clock
        .advance_millis(i64::try_from(Duration::from_secs(901).as_millis()).unwrap());
    assert_eq!(start_sign_in(&app, &app.http).await.status(), 303);

    sign_in(&app, &app.http, "good").await;
    let csrf = hidden_input(&page(&app, &app.http).await, "csrf");
    let resp = app
        .http
        .post(app.url("/connections/sign-out"))
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = app
        .http
        .post(app.url("/connections/sign-out"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("signed out"));
    assert_eq!(start_sign_in(&app, &app.http).await.status(), 303);
    // The old token is dead with its session.
    let resp = revoke(
        &app,
        &app.http,
        &[("client_id", "x"), ("csrf", &csrf)],
        None,
    )
    .await;
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn grants_revoked_elsewhere_are_dropped_from_the_list() {
    let app = spawn().await;
    let client = app.register_public_named("Revoked By Itself").await;
    let t = tokens(&app, &app.http, &client.client_id, "good").await;
    let resp = app
        .http
        .post(app.url("/revoke"))
        .form(&[
            ("token", s(&t["refresh_token"])),
            ("client_id", client.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    sign_in(&app, &app.http, "good").await;
    let html = page(&app, &app.http).await;
    assert!(!html.contains("Revoked By Itself"), "{html}");
    assert!(app
        .app_state
        .store
        .list_user_grants("alice")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn switched_off_there_is_no_page_and_no_index() {
    let app = spawn_app_with(&[("AUTH_PROXY_CONNECTIONS_ENABLED", "false")]).await;
    let client = app.register_public().await;
    let auth = app.authorize_code(&client.client_id).await;
    assert_eq!(app.redeem(&client.client_id, &auth).await.status(), 200);
    assert!(app
        .app_state
        .store
        .list_user_grants("alice")
        .await
        .unwrap()
        .is_empty());
    let resp = app.http.get(app.url("/connections")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let resp = app
        .callback(&[("state", "c.anything"), ("code", "good")])
        .await;
    assert_eq!(resp.status(), 404);
}
