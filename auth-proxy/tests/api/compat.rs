//! The compatibility profile (issue 14, ADR 0017): what hosted and native MCP clients send that
//! a strict reading would refuse. `resource` is compared after canonicalisation and the token
//! carries the configured string; `invalid_target` is decided before a code is spent or a
//! refresh token rotated; every redirect is a 302 or 303.

use serde_json::Value;

use crate::helpers::*;

/// A second resource served by the same authorization server.
const OTHER: &str = "http://127.0.0.1:8001/other";

async fn spawn_two_resources() -> TestApp {
    spawn_app_with(&[("AUTH_PROXY_RESOURCES", &format!("{RESOURCE},{OTHER}"))]).await
}

/// authorize (with `overrides`) → approve → callback; the proxy's code for `client_id`.
async fn code_with(app: &TestApp, client_id: &str, overrides: &[(&str, &str)]) -> Authorized {
    let pkce = pkce();
    let resp = app
        .authorize(&app.authorize_params(client_id, &pkce.challenge, overrides))
        .await;
    assert_eq!(resp.status(), 200, "consent page expected");
    let html = resp.text().await.unwrap();
    let (flow, csrf) = (hidden_input(&html, "flow"), hidden_input(&html, "csrf"));
    let resp = app.decide(&flow, &csrf, "approve").await;
    assert_eq!(resp.status(), 303);
    let upstream = query(&location(&resp));
    let resp = app
        .callback(&[("state", &upstream["state"]), ("code", "good")])
        .await;
    assert_eq!(resp.status(), 302);
    Authorized {
        code: query(&location(&resp))["code"].clone(),
        pkce,
    }
}

async fn redeem_with(
    app: &TestApp,
    client_id: &str,
    auth: &Authorized,
    resource: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", auth.code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", client_id),
        ("code_verifier", auth.pkce.verifier.as_str()),
    ];
    form.extend(resource.map(|r| ("resource", r)));
    app.token(&form).await
}

async fn refresh_with(
    app: &TestApp,
    client_id: &str,
    refresh_token: &str,
    resource: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ];
    form.extend(resource.map(|r| ("resource", r)));
    app.token(&form).await
}

/// The `aud` of the access token in a successful token response, and its refresh token.
async fn issued(app: &TestApp, resp: reqwest::Response) -> (String, String) {
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let claims = app
        .app_state
        .keys
        .verify_access_token(body["access_token"].as_str().unwrap())
        .unwrap();
    (
        claims.aud,
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// How many store operations `op` ran so far, from the store latency histogram.
async fn store_ops(app: &TestApp, op: &str) -> u64 {
    let text = app
        .http
        .get(format!("{}/metrics", app.metrics_address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let label = format!("operation=\"{op}\"");
    text.lines()
        .filter(|l| {
            l.starts_with("auth_proxy_store_operation_duration_seconds_count") && l.contains(&label)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Claude sends the MCP URL with a trailing slash; others an upper-case host or the default
/// port. Each is the configured resource, and the token says so in the configured spelling.
#[tokio::test]
async fn other_spellings_of_a_resource_get_a_token_for_the_configured_one() {
    let app = spawn_app_with(&[("AUTH_PROXY_RESOURCES", "https://mcp.example/mcp")]).await;
    let client = app.register_public().await;
    for spelling in [
        "https://mcp.example/mcp/",
        "https://MCP.Example/mcp",
        "https://mcp.example:443/mcp",
    ] {
        let auth = code_with(&app, &client.client_id, &[("resource", spelling)]).await;
        let resp = redeem_with(&app, &client.client_id, &auth, Some(spelling)).await;
        let (aud, refresh) = issued(&app, resp).await;
        assert_eq!(aud, "https://mcp.example/mcp", "{spelling}");
        let resp = refresh_with(&app, &client.client_id, &refresh, Some(spelling)).await;
        assert_eq!(issued(&app, resp).await.0, "https://mcp.example/mcp");
    }
    let resp = app
        .authorize(&app.authorize_params(
            &client.client_id,
            &pkce().challenge,
            &[("resource", "https://mcp.example/mcp?x=1")],
        ))
        .await;
    assert_eq!(resp.status(), 302);
    assert_eq!(query(&location(&resp))["error"], "invalid_target");
}

/// `invalid_target` at the token endpoint is about the request: the code stays redeemable,
/// whether the resource is not ours at all (refused before the store is asked) or is another
/// of ours (refused by the take itself).
#[tokio::test]
async fn a_wrong_resource_at_redemption_does_not_spend_the_code() {
    let app = spawn_two_resources().await;
    let client = app.register_public().await;
    let auth = code_with(&app, &client.client_id, &[]).await;

    let takes = store_ops(&app, "take_code").await;
    let resp = redeem_with(
        &app,
        &client.client_id,
        &auth,
        Some("https://evil.example/mcp"),
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "invalid_target");
    assert_eq!(
        store_ops(&app, "take_code").await,
        takes,
        "no store call for a resource we do not serve"
    );

    let resp = redeem_with(&app, &client.client_id, &auth, Some(OTHER)).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "invalid_target");

    let resp = redeem_with(
        &app,
        &client.client_id,
        &auth,
        Some(&format!("{RESOURCE}/")),
    )
    .await;
    assert_eq!(issued(&app, resp).await.0, RESOURCE);
    // Spent now: the same code again is a replay.
    let resp = redeem_with(&app, &client.client_id, &auth, None).await;
    assert_eq!(error_code(resp).await, "invalid_grant");
}

/// A refresh without `resource` keeps the grant's; with another resource it is refused
/// before rotating, so the same refresh token still works.
#[tokio::test]
async fn a_refresh_keeps_the_grants_resource_and_a_wrong_one_rotates_nothing() {
    let app = spawn_two_resources().await;
    let client = app.register_public().await;
    let auth = code_with(&app, &client.client_id, &[("resource", OTHER)]).await;
    let resp = redeem_with(&app, &client.client_id, &auth, None).await;
    let (aud, refresh) = issued(&app, resp).await;
    assert_eq!(aud, OTHER);

    let rotations = store_ops(&app, "rotate_refresh_token").await;
    for wrong in [RESOURCE, "https://evil.example/mcp"] {
        let resp = refresh_with(&app, &client.client_id, &refresh, Some(wrong)).await;
        assert_eq!(resp.status(), 400, "{wrong}");
        assert_eq!(error_code(resp).await, "invalid_target", "{wrong}");
    }
    assert_eq!(store_ops(&app, "rotate_refresh_token").await, rotations);

    let resp = refresh_with(&app, &client.client_id, &refresh, None).await;
    let (aud, refresh) = issued(&app, resp).await;
    assert_eq!(aud, OTHER, "a refresh without resource keeps the grant's");
    let resp = refresh_with(
        &app,
        &client.client_id,
        &refresh,
        Some(&format!("{OTHER}/")),
    )
    .await;
    assert_eq!(issued(&app, resp).await.0, OTHER);
}

/// OAuth 2.1 §4.1.2: the authorization response is a 302 or 303 (claude.ai gives up on a 307).
/// Every redirect of /authorize, /consent and /callback, success and error, is one of them.
#[tokio::test]
async fn every_redirect_of_the_browser_flow_is_302_or_303() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let mut statuses = Vec::new();
    let mut note = |what: &str, resp: &reqwest::Response| {
        if resp.headers().contains_key("location") {
            statuses.push((what.to_owned(), resp.status().as_u16()));
        }
    };

    // /authorize refusals that go back to the client.
    for (k, v) in [
        ("resource", "https://evil.example/mcp"),
        ("response_type", "token"),
        ("scope", "bogus"),
    ] {
        let resp = app
            .authorize(&app.authorize_params(&client.client_id, &pkce().challenge, &[(k, v)]))
            .await;
        note(&format!("authorize {k}"), &resp);
    }
    // /consent approve and deny.
    let (flow, csrf) = app.consent_page(&client.client_id, &pkce().challenge).await;
    let resp = app.decide(&flow, &csrf, "deny").await;
    note("consent deny", &resp);
    let (flow, csrf) = app.consent_page(&client.client_id, &pkce().challenge).await;
    let resp = app.decide(&flow, &csrf, "approve").await;
    note("consent approve", &resp);
    let upstream = query(&location(&resp));
    // /callback: the upstream's error, then (new flow) success.
    let resp = app
        .callback(&[("state", &upstream["state"]), ("error", "access_denied")])
        .await;
    note("callback error", &resp);
    let (flow, csrf) = app.consent_page(&client.client_id, &pkce().challenge).await;
    let resp = app.decide(&flow, &csrf, "approve").await;
    let upstream = query(&location(&resp));
    let resp = app
        .callback(&[("state", &upstream["state"]), ("code", "good")])
        .await;
    note("callback success", &resp);

    assert!(statuses.len() >= 7, "{statuses:?}");
    for (what, status) in statuses {
        assert!(matches!(status, 302 | 303), "{what}: {status}");
    }
}
