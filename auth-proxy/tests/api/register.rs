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
