use crate::helpers::*;

#[tokio::test]
async fn metadata_is_served_at_both_paths_and_is_complete() {
    let app = spawn_app().await;
    let a: serde_json::Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b: serde_json::Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a["issuer"], ISSUER);
    assert_eq!(a["token_endpoint"], format!("{ISSUER}/token"));
    assert_eq!(
        a["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(a["authorization_response_iss_parameter_supported"], true);
    assert_eq!(a["response_types_supported"], serde_json::json!(["code"]));
    let scopes: Vec<&str> = a["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for s in mcp_shared::Scope::ALL {
        assert!(scopes.contains(&s.as_str()), "{s} missing");
    }
}

#[tokio::test]
async fn private_key_jwt_is_advertised_with_its_algorithms_only_with_documents() {
    let app = spawn_app().await;
    let m = app.metadata().await;
    let methods = serde_json::json!([
        "none",
        "client_secret_post",
        "client_secret_basic",
        "private_key_jwt"
    ]);
    assert_eq!(m["token_endpoint_auth_methods_supported"], methods);
    assert_eq!(m["revocation_endpoint_auth_methods_supported"], methods);
    let algs = serde_json::json!(["ES256", "ES384", "EdDSA", "PS256", "RS256"]);
    assert_eq!(m["token_endpoint_auth_signing_alg_values_supported"], algs);
    assert_eq!(
        m["revocation_endpoint_auth_signing_alg_values_supported"],
        algs
    );

    let app = spawn_app_with(&[("AUTH_PROXY_CLIENT_ASSERTION_ALGS", "RS256")]).await;
    let m = app.metadata().await;
    assert_eq!(
        m["token_endpoint_auth_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    // Without documents no client can hold keys: neither the method nor the algorithms.
    for off in ["AUTH_PROXY_CIMD_ENABLED", "AUTH_PROXY_CIMD_PRIVATE_KEY_JWT"] {
        let m = spawn_app_with(&[(off, "false")]).await.metadata().await;
        assert_eq!(
            m["token_endpoint_auth_methods_supported"],
            serde_json::json!(["none", "client_secret_post", "client_secret_basic"]),
            "{off}"
        );
        assert!(m
            .get("token_endpoint_auth_signing_alg_values_supported")
            .is_none());
        assert!(m
            .get("revocation_endpoint_auth_signing_alg_values_supported")
            .is_none());
    }
}

#[tokio::test]
async fn jwks_publishes_the_signing_key() {
    let app = spawn_app().await;
    let resp = app.http.get(app.url("/jwks.json")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let jwks: serde_json::Value = resp.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["kid"], app.app_state.keys.signing_kid());
    assert!(
        key.get("d").is_none(),
        "private key material must never be published"
    );
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = app
        .http
        .get(format!("{}/metrics", app.metrics_address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "auth_proxy_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    // Metrics are not exposed on the public port.
    assert_eq!(
        app.http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn wrong_method_is_405_not_500() {
    let app = spawn_app().await;
    assert_eq!(
        app.http
            .get(app.url("/token"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    assert_eq!(
        app.http
            .get(app.url("/register"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
}

#[tokio::test]
async fn api_endpoints_allow_cross_origin_calls_but_browser_pages_do_not() {
    let app = spawn_app().await;
    let resp = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/token"))
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert!(resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("Authorization"));
    // Error responses carry it too, or a browser client could not read the OAuth error.
    let resp = app.token(&[("grant_type", "nope")]).await;
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let resp = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let resp = app.authorize(&[("client_id", "x")]).await;
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}
