use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn public_client_registers_without_secret() {
    let app = spawn_app().await;
    let resp = app
        .register(json!({"client_name": "Claude", "redirect_uris": ["http://localhost/callback"], "grant_types": ["authorization_code", "refresh_token"], "scope": "notes:read bogus"}))
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["client_id"].as_str().unwrap().len() >= 32);
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert!(body.get("client_secret").is_none());
    assert_eq!(
        body["scope"], "notes:read",
        "unknown scopes are dropped from the registration"
    );
}

#[tokio::test]
async fn confidential_client_gets_a_secret_that_authenticates() {
    let app = spawn_app().await;
    let body: serde_json::Value = app
        .register(json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic", "grant_types": ["authorization_code", "refresh_token"]}))
        .await
        .json()
        .await
        .unwrap();
    let id = body["client_id"].as_str().unwrap().to_owned();
    let secret = body["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(body["client_secret_expires_at"], 0);
    let auth = app.authorize_code(&id).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", auth.code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", auth.pkce.verifier.as_str()),
    ];
    // Wrong secret: 401 invalid_client with a Basic challenge.
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth(&id, Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    // Client authentication happens before the code is taken, so the right secret still
    // redeems it.
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn bad_metadata_gets_rfc7591_errors() {
    let app = spawn_app().await;
    let cases = [
        (json!({}), "invalid_redirect_uri"),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": "https://app.example/cb"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "logo_uri": "javascript:x"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "client_name": "x".repeat(500)}),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
        (
            json!({"redirect_uris": [REDIRECT], "application_type": "web"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["cursor://x/cb"], "application_type": "web"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "application_type": "desktop"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "application_type": 1}),
            "invalid_client_metadata",
        ),
    ];
    for (body, expected) in cases {
        let resp = app.register(body.clone()).await;
        assert_eq!(resp.status(), 400, "{body}");
        assert_eq!(error_code(resp).await, expected, "{body}");
    }
    let resp = app
        .http
        .post(app.url("/register"))
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await, "invalid_client_metadata");
    let resp = app
        .http
        .post(app.url("/register"))
        .body("redirect_uris=x")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await, "invalid_request");
}

#[tokio::test]
async fn oversized_body_is_refused_cleanly() {
    let app = spawn_app().await;
    let huge = "x".repeat(200 * 1024);
    let resp = app
        .http
        .post(app.url("/register"))
        .body(huge)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

/// Registers `body` and returns the 201 body.
async fn registered(app: &TestApp, body: serde_json::Value) -> serde_json::Value {
    let resp = app.register(body.clone()).await;
    assert_eq!(resp.status(), 201, "{body}");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn identical_public_registrations_are_one_client() {
    let app = spawn_app().await;
    let meta = json!({
        "client_name": "Claude Code",
        "redirect_uris": ["http://localhost:33418/callback", "http://127.0.0.1:33418/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        "scope": "notes:read",
    });
    let first = registered(&app, meta).await;
    app.clock.advance_secs(120);
    // Same metadata, members and lists in another order, defaults spelled out.
    let again = registered(
        &app,
        json!({
            "grant_types": ["refresh_token", "authorization_code"],
            "redirect_uris": ["http://127.0.0.1:33418/callback", "http://localhost:33418/callback"],
            "response_types": ["code"],
            "scope": "notes:read",
            "client_name": "Claude Code",
        }),
    )
    .await;
    assert_eq!(again["client_id"], first["client_id"]);
    assert_eq!(
        again["client_id_issued_at"], first["client_id_issued_at"],
        "the original registration time"
    );
    assert_eq!(first["application_type"], "native");
    assert_eq!(again["application_type"], "native");
    assert!(again.get("client_secret").is_none());
    assert_eq!(
        app.app_state.metrics.clients_registered.get(),
        1,
        "no second client was created"
    );

    // Anything that defines the client differs: another client.
    for (name, changed) in [
        (
            "name",
            json!({"client_name": "Claude Code 2", "redirect_uris": ["http://localhost:33418/callback", "http://127.0.0.1:33418/callback"], "grant_types": ["authorization_code", "refresh_token"], "scope": "notes:read"}),
        ),
        (
            "redirect",
            json!({"client_name": "Claude Code", "redirect_uris": ["http://localhost:33418/callback"], "grant_types": ["authorization_code", "refresh_token"], "scope": "notes:read"}),
        ),
        (
            "grants",
            json!({"client_name": "Claude Code", "redirect_uris": ["http://localhost:33418/callback", "http://127.0.0.1:33418/callback"], "scope": "notes:read"}),
        ),
        (
            "scope",
            json!({"client_name": "Claude Code", "redirect_uris": ["http://localhost:33418/callback", "http://127.0.0.1:33418/callback"], "grant_types": ["authorization_code", "refresh_token"], "scope": "notes:write"}),
        ),
        (
            "version",
            json!({"client_name": "Claude Code", "redirect_uris": ["http://localhost:33418/callback", "http://127.0.0.1:33418/callback"], "grant_types": ["authorization_code", "refresh_token"], "scope": "notes:read", "software_version": "2.0"}),
        ),
    ] {
        let other = registered(&app, changed).await;
        assert_ne!(other["client_id"], first["client_id"], "{name}");
    }
    assert_eq!(app.app_state.metrics.clients_registered.get(), 6);
}

#[tokio::test]
async fn confidential_clients_are_never_deduplicated() {
    let app = spawn_app().await;
    let meta = json!({"client_name": "Server app", "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_post"});
    let a = registered(&app, meta.clone()).await;
    let b = registered(&app, meta).await;
    assert_ne!(a["client_id"], b["client_id"]);
    assert_ne!(a["client_secret"], b["client_secret"]);
    assert_eq!(a["application_type"], "web");
    // The secret is stored only as its SHA-256.
    let stored = app
        .app_state
        .store
        .get_client(&auth_proxy::ids::ClientId::parse(a["client_id"].as_str().unwrap()).unwrap())
        .await
        .unwrap()
        .unwrap();
    let secret = a["client_secret"].as_str().unwrap();
    assert_eq!(
        stored.client_secret_hash.as_deref(),
        Some(auth_proxy::crypto::sha256_hex(secret).as_str())
    );
    assert!(!serde_json::to_string(&stored).unwrap().contains(secret));
}

#[tokio::test]
async fn application_type_is_checked_and_returned() {
    let app = spawn_app().await;
    let web = registered(
        &app,
        json!({"redirect_uris": ["https://app.example/cb"], "application_type": "web"}),
    )
    .await;
    assert_eq!(web["application_type"], "web");
    let native = registered(
        &app,
        json!({"redirect_uris": ["http://[::1]/cb", "com.example.app:/cb", "https://app.example/cb"], "application_type": "native"}),
    )
    .await;
    assert_eq!(native["application_type"], "native");
    let resp = app
        .register(json!({"redirect_uris": ["https://app.example/cb", "http://localhost/cb"], "application_type": "web"}))
        .await;
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_redirect_uri");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("redirect_uris[1]: application_type web"),
        "{body}"
    );
}

/// The authorization page for `client_id` with the standard redirect: 200 (consent) when the
/// client exists, 400 (error page) when it does not.
async fn authorize_status(app: &TestApp, client_id: &str) -> u16 {
    let pkce = pkce();
    app.authorize(&app.authorize_params(client_id, &pkce.challenge, &[]))
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn unused_registrations_expire_and_used_ones_live_on() {
    let app = spawn_app_with(&[("AUTH_PROXY_CLIENT_IDLE_TTL_SECS", "3600")]).await;
    let idle = app.register_public_named("Idle").await;
    let used = app.register_public_named("Used").await;

    // 50 minutes on, `used` gets tokens (authorization code grant): its hour starts again.
    app.clock.advance_secs(3000);
    let auth = app.authorize_code(&used.client_id).await;
    let resp = app.redeem(&used.client_id, &auth).await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();

    app.clock.advance_secs(601);
    assert_eq!(
        authorize_status(&app, &idle.client_id).await,
        400,
        "unused for an hour: gone"
    );
    assert!(app
        .app_state
        .store
        .get_client(&auth_proxy::ids::ClientId::parse(&idle.client_id).unwrap())
        .await
        .unwrap()
        .is_none());
    assert_eq!(authorize_status(&app, &used.client_id).await, 200);

    // A refresh slides it too (its hour would have ended at 6600).
    app.clock.advance_secs(2000);
    let resp = app.refresh(&used.client_id, &refresh_token).await;
    assert_eq!(resp.status(), 200);
    app.clock.advance_secs(3000);
    assert_eq!(authorize_status(&app, &used.client_id).await, 200);
    app.clock.advance_secs(601);
    assert_eq!(
        authorize_status(&app, &used.client_id).await,
        400,
        "an hour after its last tokens: gone"
    );

    // The expired metadata registers afresh, under a new id.
    let again = app.register_public_named("Idle").await;
    assert_ne!(again.client_id, idle.client_id);
}

#[tokio::test]
async fn repeated_registration_restarts_the_idle_lifetime() {
    let app = spawn_app_with(&[("AUTH_PROXY_CLIENT_IDLE_TTL_SECS", "3600")]).await;
    let first = app.register_public().await;
    app.clock.advance_secs(3000);
    assert_eq!(app.register_public().await.client_id, first.client_id);
    app.clock.advance_secs(3000);
    assert_eq!(authorize_status(&app, &first.client_id).await, 200);
}

#[tokio::test]
async fn global_quota_counts_new_registrations_from_every_ip() {
    let app = spawn_app_with(&[
        ("AUTH_PROXY_RATE_LIMIT_REGISTER_GLOBAL", "2/3600"),
        ("AUTH_PROXY_RATE_LIMIT_REGISTER", "10/3600"),
        ("AUTH_PROXY_TRUSTED_PROXIES", "127.0.0.0/8"),
    ])
    .await;
    let send = |ip: &'static str, name: &'static str, method: &'static str| {
        app.http
            .post(app.url("/register"))
            .header("x-forwarded-for", ip)
            .json(&json!({"client_name": name, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": method}))
            .send()
    };
    assert_eq!(
        send("198.51.100.1", "A", "none").await.unwrap().status(),
        201
    );
    assert_eq!(
        send("198.51.100.2", "B", "none").await.unwrap().status(),
        201
    );
    // A third new client, from yet another IP: over the shared quota.
    for (ip, name, method) in [
        ("198.51.100.3", "C", "none"),
        ("198.51.100.4", "D", "client_secret_basic"),
    ] {
        let resp = send(ip, name, method).await.unwrap();
        assert_eq!(resp.status(), 429, "{name}");
        let retry: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=3600).contains(&retry), "{retry}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert_eq!(error_code(resp).await, "temporarily_unavailable");
    }
    // Repeats create nothing and are not refused by the quota.
    assert_eq!(
        send("198.51.100.5", "A", "none").await.unwrap().status(),
        201
    );
    // Invalid metadata is answered as such, not counted.
    let resp = app
        .register(json!({"redirect_uris": ["http://evil.example/cb"]}))
        .await;
    assert_eq!(error_code(resp).await, "invalid_redirect_uri");
    assert_eq!(
        app.app_state
            .metrics
            .rate_limited
            .with_label_values(&["register_global"])
            .get(),
        2
    );
    assert_eq!(app.app_state.metrics.clients_registered.get(), 2);
    // The window passes: new registrations are welcome again.
    app.clock.advance_secs(3601);
    assert_eq!(
        send("198.51.100.3", "C", "none").await.unwrap().status(),
        201
    );
}
