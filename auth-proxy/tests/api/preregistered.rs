//! Clients from `AUTH_PROXY_CLIENTS_FILE`: confidential clients authenticate with their
//! configured secret, hosted connectors match by redirect pattern, and nothing else about
//! redirect matching loosens.

use serde_json::{json, Value};

use crate::helpers::*;

const BASIC_SECRET: &str = "basic-client-secret-from-a-file";
const POST_SECRET: &str = "post-client-secret-given-as-hash";
const CONNECTOR: &str = "https://chatgpt.com/connector/oauth/c-0123abc";

/// Writes the clients file (and a secret file next to it) and starts the app with it.
async fn spawn_with_clients(extra: &[(&str, &str)]) -> TestApp {
    let dir = std::env::temp_dir().join(format!(
        "auth-proxy-api-clients-{}",
        auth_proxy::crypto::random_token(9)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("basic.secret"), format!("{BASIC_SECRET}\n")).unwrap();
    let clients = json!([
        {
            "client_id": "ops-basic",
            "client_name": "Ops (basic)",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "client_secret_basic",
            "client_secret_file": "basic.secret"
        },
        {
            "client_id": "ops-post",
            "client_name": "Ops (post)",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "client_secret_post",
            "client_secret_sha256": auth_proxy::crypto::sha256_hex(POST_SECRET)
        },
        {
            "client_id": "chatgpt",
            "client_name": "ChatGPT",
            "redirect_uris": [
                "https://chatgpt.com/connector_platform_oauth_redirect",
                "https://chatgpt.com/connector/oauth/*"
            ],
            "scope": "notes:read notes:write"
        },
        {
            "client_id": "hosted",
            "client_name": "Every hosted and native client's callbacks",
            "redirect_uri_presets": ["claude", "chatgpt", "cursor", "vscode", "claude-code", "copilot-cli"]
        }
    ]);
    let path = dir.join("clients.json");
    std::fs::write(&path, clients.to_string()).unwrap();
    let path = path.to_str().unwrap().to_owned();
    let mut vars = vec![("AUTH_PROXY_CLIENTS_FILE", path.as_str())];
    vars.extend_from_slice(extra);
    let app = spawn_app_with(&vars).await;
    // Read once at start-up.
    let _ = std::fs::remove_dir_all(dir);
    app
}

/// authorize → approve → callback for `client_id` with `redirect_uri`; the code.
async fn code_for(app: &TestApp, client_id: &str, redirect_uri: &str) -> Authorized {
    let pkce = pkce();
    let resp = app
        .authorize(&app.authorize_params(
            client_id,
            &pkce.challenge,
            &[("redirect_uri", redirect_uri)],
        ))
        .await;
    assert_eq!(resp.status(), 200, "consent page for {client_id}");
    let html = resp.text().await.unwrap();
    let (flow, csrf) = (hidden_input(&html, "flow"), hidden_input(&html, "csrf"));
    let resp = app.decide(&flow, &csrf, "approve").await;
    assert_eq!(resp.status(), 303);
    let upstream = query(&location(&resp));
    let resp = app
        .callback(&[("state", &upstream["state"]), ("code", "good")])
        .await;
    assert_eq!(resp.status(), 302);
    let back = location(&resp);
    assert!(
        back.as_str().starts_with(&format!("{redirect_uri}?")),
        "{back}"
    );
    Authorized {
        code: query(&back)["code"].clone(),
        pkce,
    }
}

fn code_form<'a>(auth: &'a Authorized, redirect_uri: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", auth.code.as_str()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", auth.pkce.verifier.as_str()),
    ]
}

#[tokio::test]
async fn confidential_client_with_basic_secret_from_a_file() {
    let app = spawn_with_clients(&[]).await;
    let auth = code_for(&app, "ops-basic", REDIRECT).await;
    let form = code_form(&auth, REDIRECT);
    for wrong in ["wrong", POST_SECRET, ""] {
        let resp = app
            .http
            .post(app.url("/token"))
            .basic_auth("ops-basic", Some(wrong))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{wrong}");
        assert!(resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic"));
        assert_eq!(error_code(resp).await, "invalid_client");
    }
    // No secret at all, as a public client would: refused.
    let mut public = form.clone();
    public.push(("client_id", "ops-basic"));
    let resp = app.token(&public).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_client");
    // Client authentication comes before the code is taken: the right secret still redeems.
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth("ops-basic", Some(BASIC_SECRET))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let claims = app
        .app_state
        .keys
        .verify_access_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.client_id, "ops-basic");
    // The refresh token grant is allowed by default and needs the secret too.
    let refresh_token = body["refresh_token"].as_str().unwrap();
    let resp = app.refresh("ops-basic", refresh_token).await;
    assert_eq!(resp.status(), 401);
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth("ops-basic", Some(BASIC_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn confidential_client_with_post_secret_given_as_hash() {
    let app = spawn_with_clients(&[]).await;
    let auth = code_for(&app, "ops-post", REDIRECT).await;
    let mut form = code_form(&auth, REDIRECT);
    form.push(("client_id", "ops-post"));
    let mut wrong = form.clone();
    wrong.push(("client_secret", BASIC_SECRET));
    let resp = app.token(&wrong).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_client");
    // The hash itself is not the secret.
    let hash = auth_proxy::crypto::sha256_hex(POST_SECRET);
    let mut hashed = form.clone();
    hashed.push(("client_secret", &hash));
    assert_eq!(app.token(&hashed).await.status(), 401);
    form.push(("client_secret", POST_SECRET));
    let resp = app.token(&form).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn pattern_client_gets_its_per_connector_callback() {
    let app = spawn_with_clients(&[]).await;
    for redirect in [
        CONNECTOR,
        "https://chatgpt.com/connector/oauth/another_connector.v2",
        "https://chatgpt.com/connector_platform_oauth_redirect",
    ] {
        let auth = code_for(&app, "chatgpt", redirect).await;
        let mut form = code_form(&auth, redirect);
        form.push(("client_id", "chatgpt"));
        let resp = app.token(&form).await;
        assert_eq!(resp.status(), 200, "{redirect}");
        // The token request must repeat exactly the redirect URI used.
        let auth = code_for(&app, "chatgpt", redirect).await;
        let mut form = code_form(&auth, "https://chatgpt.com/connector/oauth/other");
        form.push(("client_id", "chatgpt"));
        let resp = app.token(&form).await;
        assert_eq!(error_code(resp).await, "invalid_grant", "{redirect}");
    }
}

#[tokio::test]
async fn pattern_client_refuses_the_attack_list_with_a_page() {
    let app = spawn_with_clients(&[]).await;
    let pkce = pkce();
    for bad in [
        "https://chatgpt.com.evil.com/connector/oauth/abc",
        "https://evilchatgpt.com/connector/oauth/abc",
        "https://chatgpt.com@evil.com/connector/oauth/abc",
        "https://user@chatgpt.com/connector/oauth/abc",
        "https://chatgpt.com/connector/oauth/../../x",
        "https://chatgpt.com/connector/oauth/%2e%2e",
        "https://chatgpt.com/connector/oauth/a%2fb",
        "https://chatgpt.com/connector/oauth/%61bc",
        "https://chatgpt.com/connector/oauth/",
        "https://chatgpt.com/connector/oauth/abc/def",
        "https://chatgpt.com/connector/oauth/abc/",
        "https://chatgpt.com/connector/oauth/abc?next=https://evil.com",
        "https://chatgpt.com/connector/oauth/abc#x",
        "http://chatgpt.com/connector/oauth/abc",
        "https://CHATGPT.com/connector/oauth/abc",
        "https://chаtgpt.com/connector/oauth/abc",
        "https://chatgpt.com:8443/connector/oauth/abc",
        "https://chatgpt.com/connector_platform_oauth_redirect/x",
        "http://127.0.0.1:7777/callback",
    ] {
        let resp = app
            .authorize(&app.authorize_params("chatgpt", &pkce.challenge, &[("redirect_uri", bad)]))
            .await;
        assert_eq!(resp.status(), 400, "{bad}");
        assert!(resp.headers().get("location").is_none(), "{bad}");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = resp.text().await.unwrap();
        assert!(html.contains("does not match"), "{bad}");
    }
    // A pattern is never the implied redirect URI.
    let resp = app
        .authorize(&app.authorize_params("chatgpt", &pkce.challenge, &[("redirect_uri", "")]))
        .await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}

#[tokio::test]
async fn preregistered_clients_shadow_stored_ones_and_never_expire() {
    let app = spawn_with_clients(&[("AUTH_PROXY_CLIENT_IDLE_TTL_SECS", "3600")]).await;
    let mut impostor = app
        .app_state
        .clients
        .lookup("chatgpt")
        .await
        .unwrap()
        .unwrap();
    impostor.redirect_uris = vec!["https://evil.example/cb".into()];
    impostor.client_name = Some("Impostor".into());
    app.app_state
        .store
        .put_client(&impostor, std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    let found = app
        .app_state
        .clients
        .lookup("chatgpt")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.client_name.as_deref(), Some("ChatGPT"));
    assert!(found
        .redirect_uris
        .iter()
        .all(|u| u.starts_with("https://chatgpt.com/")));

    app.clock.advance_secs(10 * 86_400);
    let auth = code_for(&app, "ops-basic", REDIRECT).await;
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth("ops-basic", Some(BASIC_SECRET))
        .form(&code_form(&auth, REDIRECT))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        app.app_state
            .store
            .get_client(&auth_proxy::ids::ClientId::parse("ops-basic").unwrap())
            .await
            .unwrap()
            .is_none(),
        "pre-registered clients are not stored"
    );
}

/// Starts the app with `clients` as its clients file; the start-up error and the file's path.
async fn start_error(clients: Value) -> (String, String) {
    let dir = std::env::temp_dir().join(format!(
        "auth-proxy-api-bad-clients-{}",
        auth_proxy::crypto::random_token(9)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("clients.json");
    std::fs::write(&path, clients.to_string()).unwrap();
    let mut vars: std::collections::HashMap<String, String> = [
        ("AUTH_PROXY_UPSTREAM_ISSUER", "http://127.0.0.1:9"),
        ("AUTH_PROXY_UPSTREAM_CLIENT_ID", "proxy"),
        ("AUTH_PROXY_BIND", "127.0.0.1:0"),
        ("AUTH_PROXY_METRICS_BIND", "127.0.0.1:0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.insert(
        "AUTH_PROXY_CLIENTS_FILE".into(),
        path.to_str().unwrap().to_owned(),
    );
    let config = auth_proxy::config::Config::from_vars(&vars).unwrap();
    let clock: std::sync::Arc<dyn auth_proxy::clock::Clock> =
        std::sync::Arc::new(auth_proxy::clock::FakeClock::at_secs(1_700_000_000));
    let result = auth_proxy::startup::Application::build_with(
        config,
        auth_proxy::startup::Dependencies {
            store: std::sync::Arc::new(auth_proxy::store::MemoryStore::new(clock.clone())),
            upstream: std::sync::Arc::new(FakeUpstream::default()),
            clock,
            dns: std::sync::Arc::new(FakeDns::default()),
        },
    )
    .await;
    let Err(err) = result else {
        panic!("a bad clients file must stop the start");
    };
    let _ = std::fs::remove_dir_all(dir);
    (format!("{err:#}"), path.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_bad_clients_file_stops_the_start_naming_file_and_entry() {
    let (message, path) = start_error(
        json!([{"client_id": "ok", "redirect_uris": [REDIRECT]}, {"client_id": "bad", "redirect_uris": ["https://*.chatgpt.com/cb"]}]),
    )
    .await;
    assert!(
        message.starts_with("AUTH_PROXY_CLIENTS_FILE: "),
        "{message}"
    );
    assert!(message.contains(&path), "{message}");
    assert!(message.contains("entry [1] (client_id `bad`)"), "{message}");
}

/// A preset name that is not one of ours stops the start and lists the ones there are.
#[tokio::test]
async fn an_unknown_preset_stops_the_start_listing_the_known_ones() {
    let (message, _) = start_error(
        json!([{"client_id": "c", "redirect_uri_presets": ["claude", "claude-desktop"]}]),
    )
    .await;
    assert!(message.contains("entry [0] (client_id `c`)"), "{message}");
    assert!(
        message.contains(
            "unknown preset `claude-desktop` (known: claude, chatgpt, cursor, vscode, claude-code, copilot-cli)"
        ),
        "{message}"
    );
}

/// Every callback of the presets authorizes and redeems, including the native clients'
/// loopback callbacks on another port than the registered one: VS Code when 33418 is busy,
/// Copilot CLI (registers 33418, listens elsewhere), Claude Code (port-less registration).
#[tokio::test]
async fn preset_callbacks_authorize_including_native_clients_on_other_ports() {
    let app = spawn_with_clients(&[]).await;
    for redirect_uri in [
        "https://claude.ai/api/mcp/auth_callback",
        "https://claude.com/api/mcp/auth_callback",
        "https://chatgpt.com/connector/oauth/OUbdUMlL15Ct",
        "https://chatgpt.com/connector_platform_oauth_redirect",
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "https://www.cursor.com/agents/mcp/oauth/callback",
        "http://localhost:8787/callback",
        "https://vscode.dev/redirect",
        "http://127.0.0.1:33418/",
        "http://127.0.0.1:59656/",
        "http://localhost:3118/callback",
        "http://127.0.0.1:55319/",
    ] {
        let auth = code_for(&app, "hosted", redirect_uri).await;
        let mut form = code_form(&auth, redirect_uri);
        form.push(("client_id", "hosted"));
        let resp = app.token(&form).await;
        assert_eq!(resp.status(), 200, "{redirect_uri}");
    }
    // Nothing but the port is loosened.
    let pkce = pkce();
    for redirect_uri in [
        "http://127.0.0.1:3118/callback",
        "http://127.0.0.1:55319/cb",
        "https://chatgpt.com/connector/oauth/a/b",
        "https://claude.ai/api/mcp/auth_callback/",
    ] {
        let resp = app
            .authorize(&app.authorize_params(
                "hosted",
                &pkce.challenge,
                &[("redirect_uri", redirect_uri)],
            ))
            .await;
        assert_eq!(resp.status(), 400, "{redirect_uri}");
        assert!(resp.headers().get("location").is_none(), "{redirect_uri}");
    }
}
