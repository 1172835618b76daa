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
    ] {
        let other = registered(&app, changed).await;
        assert_ne!(other["client_id"], first["client_id"], "{name}");
    }
    assert_eq!(app.app_state.metrics.clients_registered.get(), 5);

    // Members this server does not keep do not make another client.
    let versioned = registered(
        &app,
        json!({"client_name": "Claude Code", "redirect_uris": ["http://localhost:33418/callback", "http://127.0.0.1:33418/callback"], "grant_types": ["authorization_code", "refresh_token"], "scope": "notes:read", "software_version": "2.0", "logo_uri": "https://claude.example/logo.png"}),
    )
    .await;
    assert_eq!(versioned["client_id"], first["client_id"]);
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

/// A dynamically registered client still exists (its record is in the store).
async fn exists(app: &TestApp, client_id: &str) -> bool {
    app.app_state
        .store
        .get_client(&auth_proxy::ids::ClientId::parse(client_id).unwrap())
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn registrations_never_used_expire_within_a_day() {
    // Default lifetimes: 30 days idle once used, a day while never used.
    let app = spawn_app().await;
    let public = app.register_public_named("Never used").await;
    let confidential = registered(
        &app,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    let confidential = confidential["client_id"].as_str().unwrap().to_owned();
    let used = app.register_public_named("Used").await;
    let auth = app.authorize_code(&used.client_id).await;
    assert_eq!(app.redeem(&used.client_id, &auth).await.status(), 200);

    app.clock.advance_secs(86_400 - 60);
    assert!(exists(&app, &public.client_id).await);
    assert!(exists(&app, &confidential).await);
    app.clock.advance_secs(61);
    assert!(
        !exists(&app, &public.client_id).await,
        "a day without tokens since it registered: gone"
    );
    assert!(!exists(&app, &confidential).await);
    assert_eq!(authorize_status(&app, &public.client_id).await, 400);
    // A client that got tokens keeps the idle lifetime.
    app.clock.advance_secs(28 * 86_400);
    assert!(exists(&app, &used.client_id).await);
    app.clock.advance_secs(2 * 86_400);
    assert!(!exists(&app, &used.client_id).await, "30 days idle: gone");
}

#[tokio::test]
async fn repeating_an_unused_registration_does_not_keep_it_for_the_idle_period() {
    let app = spawn_app().await;
    let first = app.register_public().await;
    app.clock.advance_secs(20 * 3600);
    // A repeat gives the client at least a day again (it may be about to be used)...
    assert_eq!(app.register_public().await.client_id, first.client_id);
    app.clock.advance_secs(86_400 - 60);
    assert!(exists(&app, &first.client_id).await);
    // ...and no more: repeats alone never earn the 30 idle days of a used client.
    app.clock.advance_secs(61);
    assert!(!exists(&app, &first.client_id).await);

    // A repeat never shortens the idle lifetime of a client in use.
    let used = app.register_public_named("Used").await;
    let auth = app.authorize_code(&used.client_id).await;
    assert_eq!(app.redeem(&used.client_id, &auth).await.status(), 200);
    assert_eq!(
        app.register_public_named("Used").await.client_id,
        used.client_id
    );
    app.clock.advance_secs(29 * 86_400);
    assert!(exists(&app, &used.client_id).await);
}

/// Metadata at every limit registration accepts, with the members this server keeps none of.
fn largest_registration(redirect_uris: Vec<String>) -> serde_json::Value {
    // A 4-byte character that is a letter: the longest name in bytes.
    let name: String = std::iter::repeat_n('\u{1D49C}', 200).collect();
    let long_https = format!("https://app.example/{}", "l".repeat(1950));
    json!({
        "redirect_uris": redirect_uris,
        "client_name": name,
        "client_uri": long_https,
        "logo_uri": long_https,
        "software_id": "s".repeat(200),
        "software_version": "v".repeat(200),
        "scope": "notes:read notes:write",
        "grant_types": vec!["authorization_code"; 1000].into_iter().chain(["refresh_token"]).collect::<Vec<_>>(),
        "response_types": vec!["code"; 1000],
    })
}

#[tokio::test]
async fn a_registration_stores_only_what_is_used() {
    let app = spawn_app().await;
    // Ten redirect URIs sharing the budget registration allows them together.
    let uris: Vec<String> = (0..10)
        .map(|i| format!("http://127.0.0.1:{}/{}", 1000 + i, "p".repeat(180)))
        .collect();
    let body = registered(&app, largest_registration(uris.clone())).await;
    for dropped in ["client_uri", "logo_uri", "software_id", "software_version"] {
        assert!(body.get(dropped).is_none(), "{dropped} is not kept: {body}");
    }
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(body["response_types"], json!(["code"]));
    let stored = app
        .app_state
        .store
        .get_client(&auth_proxy::ids::ClientId::parse(body["client_id"].as_str().unwrap()).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.client_uri, None);
    assert_eq!(stored.logo_uri, None);
    assert_eq!(stored.software_id, None);
    assert_eq!(stored.software_version, None);
    assert_eq!(stored.redirect_uris, uris);
    assert_eq!(stored.response_types.len(), 1);
    assert_eq!(stored.grant_types.len(), 2);

    // Redirect URIs that are fine one by one but too long together.
    let too_long: Vec<String> = (0..10)
        .map(|i| format!("http://127.0.0.1:{}/{}", 1000 + i, "p".repeat(250)))
        .collect();
    let resp = app.register(largest_registration(too_long)).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "invalid_redirect_uri");
}

/// The application on a real redis-server (the helpers' app runs on the memory store).
async fn spawn_app_on_redis(prefix: &str) -> String {
    use std::sync::Arc;
    let vars: std::collections::HashMap<String, String> = [
        ("AUTH_PROXY_ISSUER", ISSUER),
        ("AUTH_PROXY_BIND", "127.0.0.1:0"),
        ("AUTH_PROXY_METRICS_BIND", "127.0.0.1:0"),
        ("AUTH_PROXY_RESOURCES", RESOURCE),
        ("AUTH_PROXY_UPSTREAM_ISSUER", "http://127.0.0.1:9"),
        ("AUTH_PROXY_UPSTREAM_CLIENT_ID", "proxy"),
        ("AUTH_PROXY_SHUTDOWN_TIMEOUT_SECS", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = auth_proxy::config::Config::from_vars(&vars).unwrap();
    let store = auth_proxy::store::RedisStore::connect(crate::redis_server::url(), prefix)
        .await
        .unwrap();
    let app = auth_proxy::startup::Application::build_with(
        config,
        auth_proxy::startup::Dependencies {
            store: Arc::new(store),
            upstream: Arc::new(FakeUpstream::default()),
            clock: Arc::new(auth_proxy::clock::SystemClock),
            dns: Arc::new(FakeDns::default()),
        },
    )
    .await
    .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

/// Bytes Redis uses for every key under `prefix` (`MEMORY USAGE`, which counts the key, the
/// value and the per-key overhead), and their TTLs in seconds.
async fn redis_usage(prefix: &str) -> (i64, Vec<i64>) {
    let client = redis::Client::open(crate::redis_server::url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let (mut bytes, mut ttls) = (0, Vec::new());
    for key in keys.iter().filter(|k| !k.contains(":rl:")) {
        let used: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut conn)
            .await
            .unwrap();
        bytes += used;
        let ttl: i64 = redis::cmd("TTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        ttls.push(ttl);
    }
    (bytes, ttls)
}

#[tokio::test]
async fn the_largest_registration_is_small_and_short_lived_in_redis() {
    let prefix = format!("register-size-{}", auth_proxy::crypto::random_token(9));
    let address = spawn_app_on_redis(&prefix).await;
    // The most a registration could carry before limits on what is stored: ten redirect
    // URIs of the longest length allowed on their own.
    let uris: Vec<String> = (0..10)
        .map(|i| format!("http://127.0.0.1:{}/{}", 1000 + i, "p".repeat(1970)))
        .collect();
    let resp = reqwest::Client::new()
        .post(format!("{address}/register"))
        .json(&largest_registration(uris))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let (refused_bytes, _) = redis_usage(&prefix).await;
    eprintln!("ten maximal redirect URIs: {status}, {refused_bytes} bytes stored");
    assert_eq!(status, 400, "over the redirect URI budget");
    assert_eq!(refused_bytes, 0);

    // The largest registration accepted now: ten URIs filling the budget together.
    let uris: Vec<String> = (0..10)
        .map(|i| format!("http://127.0.0.1:{}/{}", 1000 + i, "p".repeat(180)))
        .collect();
    let resp = reqwest::Client::new()
        .post(format!("{address}/register"))
        .json(&largest_registration(uris))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let (bytes, ttls) = redis_usage(&prefix).await;
    eprintln!("largest accepted registration: {bytes} bytes in Redis, TTLs {ttls:?}");
    assert_eq!(ttls.len(), 2, "the client and its fingerprint");
    assert!(bytes <= 4096, "{bytes} bytes for one registration");
    assert!(
        ttls.iter().all(|t| (86_000..=86_400).contains(t)),
        "never used: a day, {ttls:?}"
    );
}

#[tokio::test]
async fn web_pages_cannot_register_but_local_and_installed_clients_can() {
    let app = spawn_app().await;
    let send = |origin: Option<&'static str>, name: &'static str| {
        let mut req = app
            .http
            .post(app.url("/register"))
            .json(&json!({"client_name": name, "redirect_uris": [REDIRECT]}));
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        req.send()
    };
    for (i, origin) in [
        "https://evil.example",
        "http://evil.example:8080",
        "https://a.b.evil.example",
        "null",
        "not an origin",
        "https://localhost.evil.example",
        "http://127.0.0.1.nip.io",
    ]
    .into_iter()
    .enumerate()
    {
        let resp = send(Some(origin), ["a", "b", "c", "d", "e", "f", "g"][i])
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{origin}");
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        assert_eq!(error_code(resp).await, "access_denied", "{origin}");
    }
    assert_eq!(app.app_state.metrics.clients_registered.get(), 0);
    for (origin, name) in [
        (None, "native"),
        (Some("http://localhost:6274"), "inspector"),
        (Some("http://127.0.0.1:5173"), "dev server"),
        (Some("http://[::1]:3000"), "v6 dev server"),
        (Some("https://tauri.localhost"), "tauri"),
        (Some("chrome-extension://abcdefghijklmnop"), "extension"),
        (Some("vscode-file://vscode-app"), "electron"),
        (Some(ISSUER), "same origin"),
    ] {
        let resp = send(origin, name).await.unwrap();
        assert_eq!(resp.status(), 201, "{origin:?}");
    }
}

#[tokio::test]
async fn extending_a_client_on_redis_never_shortens_it() {
    use auth_proxy::store::{ClientPut, Store};
    use std::time::Duration;
    let prefix = format!("register-extend-{}", auth_proxy::crypto::random_token(9));
    let store = auth_proxy::store::RedisStore::connect(crate::redis_server::url(), &prefix)
        .await
        .unwrap();
    let keys = store.keys().clone();
    let mut raw = redis::Client::open(crate::redis_server::url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let client = auth_proxy::store::ClientRecord {
        client_id: auth_proxy::ids::ClientId::parse("extend-me").unwrap(),
        client_name: None,
        redirect_uris: vec![REDIRECT.into()],
        token_endpoint_auth_method: auth_proxy::store::TokenEndpointAuthMethod::None,
        client_secret_hash: None,
        grant_types: vec![auth_proxy::clients::GrantType::AuthorizationCode],
        response_types: vec![auth_proxy::clients::ResponseType::Code],
        scope: None,
        client_uri: None,
        logo_uri: None,
        software_id: None,
        software_version: None,
        created_at: 1,
        application_type: None,
    };
    let put = store
        .put_client_deduplicated("fp", &client, Duration::from_secs(1000))
        .await
        .unwrap();
    assert!(matches!(put, ClientPut::Created));
    let ttls = |raw: &mut redis::aio::MultiplexedConnection| {
        let mut raw = raw.clone();
        let (client, fp) = (keys.client("extend-me"), keys.client_fingerprint("fp"));
        async move {
            let a: i64 = redis::cmd("TTL")
                .arg(client)
                .query_async(&mut raw)
                .await
                .unwrap();
            let b: i64 = redis::cmd("TTL")
                .arg(fp)
                .query_async(&mut raw)
                .await
                .unwrap();
            (a, b)
        }
    };
    // Shorter than what is left: nothing changes.
    assert!(store
        .extend_client(&client.client_id, Duration::from_secs(10))
        .await
        .unwrap());
    let (a, b) = ttls(&mut raw).await;
    assert!(a > 900 && b > 900, "{a} {b}");
    // Longer: both get it.
    assert!(store
        .extend_client(&client.client_id, Duration::from_secs(5000))
        .await
        .unwrap());
    let (a, b) = ttls(&mut raw).await;
    assert!(a > 4900 && b > 4900, "{a} {b}");
    let unknown = auth_proxy::ids::ClientId::parse("nobody").unwrap();
    assert!(!store
        .extend_client(&unknown, Duration::from_secs(10))
        .await
        .unwrap());
}
