//! RFC 8693 token exchange: only the mcp-server's configured client, only our own access
//! tokens for a configured resource, answered with the user's upstream token (refreshed first
//! when near expiry).

use std::sync::atomic::Ordering;

use auth_proxy::upstream::UpstreamError;
use serde_json::Value;

use crate::helpers::*;

const EXCHANGE_SECRET: &str = "exchange-secret-0123456789";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The `bearer` strategy: the exchange hands out the upstream token (the app-password
/// strategy is tested end to end against the Nextcloud stand-in, tests/e2e/app-password).
async fn spawn() -> TestApp {
    spawn_app_with(&[
        ("AUTH_PROXY_EXCHANGE_CLIENT_SECRET", EXCHANGE_SECRET),
        ("AUTH_PROXY_NEXTCLOUD_CREDENTIALS", "bearer"),
    ])
    .await
}

/// A fresh access token for the test user (and the client that holds it).
async fn access_token(app: &TestApp) -> (String, String) {
    let client = app.register_public().await;
    let auth = app.authorize_code(&client.client_id).await;
    let resp = app.redeem(&client.client_id, &auth).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        client.client_id,
    )
}

async fn exchange(
    app: &TestApp,
    subject: &str,
    basic: Option<(&str, &str)>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", GRANT),
        ("subject_token", subject),
        ("subject_token_type", AT),
    ];
    form.extend_from_slice(extra);
    let mut request = app.http.post(app.url("/token")).form(&form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap()
}

const MCP: Option<(&str, &str)> = Some(("mcp-server", EXCHANGE_SECRET));

#[tokio::test]
async fn the_mcp_server_gets_the_users_upstream_token() {
    let app = spawn().await;
    let (token, _) = access_token(&app).await;
    let resp = exchange(&app, &token, MCP, &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["access_token"], "UPSTREAM-ACCESS-TOKEN");
    assert_eq!(body["issued_token_type"], AT);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("refresh_token").is_none());
    assert!(
        body.get("expires_in").is_none(),
        "upstream gave no lifetime"
    );
    assert_eq!(app.upstream.refresh_calls.load(Ordering::SeqCst), 0);

    let metadata: Value = app.metadata().await;
    assert!(metadata["grant_types_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g == GRANT));
}

#[tokio::test]
async fn only_the_configured_client_with_its_secret_may_exchange() {
    let app = spawn().await;
    let (token, public_client) = access_token(&app).await;

    let resp = exchange(
        &app,
        &token,
        Some(("mcp-server", "wrong-secret-0123456789")),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_client");

    let resp = exchange(&app, &token, None, &[("client_id", "mcp-server")]).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_client");

    // A registered MCP client may not exchange its own token for the upstream one.
    let resp = exchange(&app, &token, None, &[("client_id", &public_client)]).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "unauthorized_client");

    // The exchange client cannot run an authorization (no redirect URIs, not in the store).
    let resp = app
        .http
        .get(app.url("/authorize"))
        .query(&[
            ("client_id", "mcp-server"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn disabled_without_a_configured_secret() {
    let app = spawn_app().await;
    let (token, _) = access_token(&app).await;
    let resp = exchange(&app, &token, MCP, &[]).await;
    assert_eq!(resp.status(), 401, "no such client");
    let metadata: Value = app.metadata().await;
    assert!(!metadata.to_string().contains("token-exchange"));
}

#[tokio::test]
async fn bad_subject_tokens_are_invalid_grant() {
    let app = spawn().await;
    let (token, _) = access_token(&app).await;

    // Tampered signature.
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    for bad in ["not-a-jwt", tampered.as_str()] {
        let resp = exchange(&app, bad, MCP, &[]).await;
        assert_eq!(resp.status(), 400);
        assert_eq!(error_code(resp).await, "invalid_grant");
    }

    // Expired, beyond the clock-skew leeway the mcp-server allows too.
    app.clock
        .advance_secs(600 + mcp_shared::claims::CLOCK_SKEW_LEEWAY_SECS);
    let resp = exchange(&app, &token, MCP, &[]).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "invalid_grant");
}

#[tokio::test]
async fn revoked_tokens_and_grants_cannot_be_exchanged() {
    let app = spawn().await;
    let (token, client) = access_token(&app).await;
    let resp = app
        .http
        .post(app.url("/revoke"))
        .form(&[("token", token.as_str()), ("client_id", client.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = exchange(&app, &token, MCP, &[]).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "invalid_grant");

    let (token, _) = access_token(&app).await;
    let claims = app.app_state.keys.verify_access_token(&token).unwrap();
    app.app_state
        .store
        .revoke_grant(&auth_proxy::ids::GrantId::parse(&claims.gid).unwrap())
        .await
        .unwrap();
    let resp = exchange(&app, &token, MCP, &[]).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "invalid_grant");
}

#[tokio::test]
async fn malformed_exchange_requests_get_their_rfc_errors() {
    let app = spawn().await;
    let (token, _) = access_token(&app).await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[(
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            )],
            "invalid_request",
        ),
        (
            &[("actor_token", "x"), ("actor_token_type", AT)],
            "invalid_request",
        ),
        (
            &[("resource", "https://elsewhere.example")],
            "invalid_target",
        ),
        (&[("audience", "nextcloud")], "invalid_target"),
        (&[("scope", "notes:read")], "invalid_scope"),
    ];
    for (extra, expected) in cases {
        let resp = exchange(&app, &token, MCP, extra).await;
        assert_eq!(resp.status(), 400, "{extra:?}");
        assert_eq!(error_code(resp).await, *expected, "{extra:?}");
    }
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth("mcp-server", Some(EXCHANGE_SECRET))
        .form(&[
            ("grant_type", GRANT),
            ("subject_token", token.as_str()),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await, "invalid_request");
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_upstream_first_and_stored() {
    let app = spawn().await;
    let now = 1_700_000_000;
    *app.upstream.expires_at.lock().unwrap() = Some(now + 30); // inside the 60 s margin
    *app.upstream.refresh_outcome.lock().unwrap() = Some(Ok(now + 3600));
    let (token, _) = access_token(&app).await;

    let body: Value = exchange(&app, &token, MCP, &[]).await.json().await.unwrap();
    assert_eq!(body["access_token"], "UPSTREAM-ACCESS-TOKEN-1");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(app.upstream.refresh_calls.load(Ordering::SeqCst), 1);

    // The refreshed set was stored: the next exchange does not refresh again.
    let body: Value = exchange(&app, &token, MCP, &[]).await.json().await.unwrap();
    assert_eq!(body["access_token"], "UPSTREAM-ACCESS-TOKEN-1");
    assert_eq!(app.upstream.refresh_calls.load(Ordering::SeqCst), 1);
}

/// M1: concurrent exchanges for one grant near upstream expiry refresh upstream once; the
/// others wait for that result instead of presenting the same refresh token again (which an IdP
/// with refresh rotation treats as reuse, ending the user's session).
#[tokio::test]
async fn concurrent_exchanges_refresh_upstream_once() {
    let app = spawn().await;
    let now = 1_700_000_000;
    *app.upstream.expires_at.lock().unwrap() = Some(now + 30);
    *app.upstream.refresh_outcome.lock().unwrap() = Some(Ok(now + 3600));
    app.upstream.refresh_delay_ms.store(300, Ordering::SeqCst);
    let (token, _) = access_token(&app).await;

    let answers =
        futures_util::future::join_all((0..8).map(|_| exchange(&app, &token, MCP, &[]))).await;
    for resp in answers {
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["access_token"], "UPSTREAM-ACCESS-TOKEN-1");
    }
    assert_eq!(app.upstream.refresh_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_upstream_refusal_revokes_the_grant_and_an_outage_does_not() {
    let app = spawn().await;
    let now = 1_700_000_000;
    *app.upstream.expires_at.lock().unwrap() = Some(now + 10);
    let (token, _) = access_token(&app).await;

    *app.upstream.refresh_outcome.lock().unwrap() =
        Some(Err(UpstreamError::Unavailable("down".into())));
    let resp = exchange(&app, &token, MCP, &[]).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(error_code(resp).await, "temporarily_unavailable");

    *app.upstream.refresh_outcome.lock().unwrap() =
        Some(Err(UpstreamError::Rejected("invalid_grant".into())));
    let resp = exchange(&app, &token, MCP, &[]).await;
    assert_eq!(error_code(resp).await, "invalid_grant");
    // The grant is gone: even a working IdP does not bring it back.
    *app.upstream.refresh_outcome.lock().unwrap() = Some(Ok(now + 3600));
    let resp = exchange(&app, &token, MCP, &[]).await;
    assert_eq!(error_code(resp).await, "invalid_grant");
}
