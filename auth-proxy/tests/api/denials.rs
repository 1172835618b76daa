//! `auth_proxy_denials_total{reason}`: every refusal at `/token` (and `/revoke`) counted under
//! one fixed reason; every label is exported from the start at 0.

use serde_json::Value;

use crate::helpers::*;

fn denials(app: &TestApp, reason: &str) -> u64 {
    app.app_state
        .metrics
        .denials
        .with_label_values(&[reason])
        .get()
}

#[tokio::test]
async fn every_label_is_exported_at_zero() {
    let app = spawn_app().await;
    let text = reqwest::get(format!("{}/metrics", app.metrics_address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for reason in [
        "invalid_client",
        "invalid_target",
        "code_invalid",
        "code_replayed",
        "refresh_invalid",
        "refresh_reuse",
        "policy_user",
        "policy_group",
        "policy_email_domain",
        "policy_email_unverified",
        "rate_limited_ip",
        "rate_limited_client",
        "rate_limited_user",
    ] {
        let line = format!("auth_proxy_denials_total{{reason=\"{reason}\"}} 0");
        assert!(text.contains(&line), "{line}\n{text}");
    }
}

#[tokio::test]
async fn token_refusals_are_counted_by_reason() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let id = client.client_id.as_str();
    // An unknown client, at /token and /revoke.
    let resp = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x.y"),
            ("client_id", "nobody"),
        ])
        .await;
    assert_eq!(error_code(resp).await, "invalid_client");
    let resp = app
        .http
        .post(app.url("/revoke"))
        .form(&[("token", "x"), ("client_id", "nobody")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(denials(&app, "invalid_client"), 2);
    // A code that never was.
    let resp = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "nope.nope"),
            ("redirect_uri", REDIRECT),
            ("client_id", id),
            ("code_verifier", &"v".repeat(43)),
        ])
        .await;
    assert_eq!(error_code(resp).await, "invalid_grant");
    assert_eq!(denials(&app, "code_invalid"), 1);
    // Another resource than ours.
    let auth = app.authorize_code(id).await;
    let resp = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &auth.code),
            ("redirect_uri", REDIRECT),
            ("client_id", id),
            ("code_verifier", &auth.pkce.verifier),
            ("resource", "https://elsewhere.example/mcp"),
        ])
        .await;
    assert_eq!(error_code(resp).await, "invalid_target");
    assert_eq!(denials(&app, "invalid_target"), 1);
    // Redeemed, then presented again.
    let body: Value = app.redeem(id, &auth).await.json().await.unwrap();
    let resp = app.redeem(id, &auth).await;
    assert_eq!(error_code(resp).await, "invalid_grant");
    assert_eq!(denials(&app, "code_replayed"), 1);
    // The replay revoked the grant: its refresh token is now simply invalid.
    let rt = body["refresh_token"].as_str().unwrap();
    assert_eq!(error_code(app.refresh(id, rt).await).await, "invalid_grant");
    assert_eq!(denials(&app, "refresh_invalid"), 1);
    // A fresh grant: rotate, then reuse the old token after the grace window.
    let auth = app.authorize_code(id).await;
    let body: Value = app.redeem(id, &auth).await.json().await.unwrap();
    let rt1 = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(app.refresh(id, &rt1).await.status(), 200);
    app.clock.advance_secs(10);
    assert_eq!(
        error_code(app.refresh(id, &rt1).await).await,
        "invalid_grant"
    );
    assert_eq!(denials(&app, "refresh_reuse"), 1);
}
