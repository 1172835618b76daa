//! The bearer layer: what is accepted, what is refused, and the exact challenges.

use serde_json::json;

use crate::helpers::*;

const ALL_DATA: &str =
    "notes:read notes:write files:read files:write calendar:read calendar:write contacts:read contacts:write \
     tasks:read tasks:write sharing:read sharing:write deck:read deck:write talk:read talk:write";

fn www(resp: &reqwest::Response) -> String {
    resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_good_token_lists_tools_for_its_scopes() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[]).await;
    let token = sign(&key, &claims(&auth.issuer, &server.resource, "notes:read"));
    let names = server.tool_names(&token).await;
    assert!(names.contains(&"notes_list".to_owned()));
    assert!(names.contains(&"whoami".to_owned()));
    assert!(!names.contains(&"notes_create".to_owned()), "{names:?}");

    let token = sign(&key, &claims(&auth.issuer, &server.resource, "notes:write"));
    let names = server.tool_names(&token).await;
    assert!(names.contains(&"notes_create".to_owned()));
    assert!(
        names.contains(&"notes_list".to_owned()),
        "write implies read"
    );
}

#[tokio::test]
async fn a_token_without_nbf_is_accepted_as_rfc_9068_allows() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[]).await;
    let mut c = claims(&auth.issuer, &server.resource, "notes:read");
    c.as_object_mut().unwrap().remove("nbf");
    let names = server.tool_names(&sign(&key, &c)).await;
    assert!(names.contains(&"notes_list".to_owned()), "{names:?}");
}

#[tokio::test]
async fn no_token_gets_the_discovery_challenge() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[]).await;
    let resp = server.rpc(None, "tools/list", json!({})).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        www(&resp),
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"{ALL_DATA}\"",
            server.metadata_url()
        )
    );
    // The challenge points at a document that names the authorization server.
    let prm: serde_json::Value = server
        .http
        .get(server.metadata_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], server.resource);
    assert_eq!(prm["authorization_servers"][0], auth.issuer);
    assert_eq!(prm["scopes_supported"].as_array().unwrap().len(), 16);
    let plain: serde_json::Value = server
        .http
        .get(format!(
            "{}/.well-known/oauth-protected-resource",
            server.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(plain, prm);
}

async fn assert_invalid(server: &TestServer, token: &str, description: &str) {
    let resp = server.rpc(Some(token), "tools/list", json!({})).await;
    assert_eq!(resp.status(), 401, "{description}");
    assert_eq!(
        www(&resp),
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"{ALL_DATA}\", error=\"invalid_token\", error_description=\"{description}\"",
            server.metadata_url()
        )
    );
}

#[tokio::test]
async fn every_broken_token_is_refused_with_invalid_token() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[]).await;
    let good = claims(&auth.issuer, &server.resource, "notes:read");

    let mut c = good.clone();
    c["aud"] = json!("http://127.0.0.1:1/other-mcp");
    assert_invalid(
        &server,
        &sign(&key, &c),
        "the token is meant for another resource",
    )
    .await;

    let mut c = good.clone();
    c["iss"] = json!("http://127.0.0.1:1");
    assert_invalid(
        &server,
        &sign(&key, &c),
        "the token was issued by another authorization server",
    )
    .await;

    let mut c = good.clone();
    c["iat"] = json!(now() - 1000);
    c["nbf"] = json!(now() - 1000);
    c["exp"] = json!(now() - 100); // beyond the 30 s leeway
    assert_invalid(&server, &sign(&key, &c), "the token has expired").await;

    let mut c = good.clone();
    c["nbf"] = json!(now() + 300);
    c["exp"] = json!(now() + 900);
    assert_invalid(&server, &sign(&key, &c), "the token is not valid yet").await;

    // Within the leeway both are fine.
    let mut c = good.clone();
    c["nbf"] = json!(now() + 5);
    assert_eq!(
        server
            .rpc(Some(&sign(&key, &c)), "tools/list", json!({}))
            .await
            .status(),
        200
    );

    // alg: none, unsigned.
    let none = raw_jwt(
        &json!({"alg": "none", "typ": "at+jwt", "kid": "k1"}),
        &good,
        b"",
    );
    assert_invalid(&server, &none, "the access token is malformed").await;

    // HS256 "signed" with the public key as the HMAC secret (algorithm confusion).
    let public = key.jwk.to_string();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("k1".into());
    let hs = jsonwebtoken::encode(
        &header,
        &good,
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    assert_invalid(
        &server,
        &hs,
        "the token's signing algorithm is not accepted",
    )
    .await;

    // Wrong typ (an ID token, say).
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("JWT".into());
    header.kid = Some("k1".into());
    let id_token = jsonwebtoken::encode(&header, &good, &key.encoding).unwrap();
    assert_invalid(
        &server,
        &id_token,
        "the token is not an access token (typ must be at+jwt)",
    )
    .await;

    // Signed by a key the JWKS does not have under that kid.
    let other = TestKey::generate("k1");
    assert_invalid(
        &server,
        &sign(&other, &good),
        "the token signature is invalid",
    )
    .await;

    // Tampered claims.
    let token = sign(&key, &good);
    let parts: Vec<&str> = token.split('.').collect();
    let mut evil = good.clone();
    evil["scope"] = json!("notes:write files:write");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            evil.to_string()
        ),
        parts[2]
    );
    assert_invalid(&server, &tampered, "the token signature is invalid").await;

    for malformed in ["", "abc", "a.b.c", "Zm9v.YmFy.YmF6"] {
        assert_invalid(&server, malformed, "the access token is malformed").await;
    }
    // Not a Bearer credential at all.
    let resp = server
        .http
        .post(format!("{}/mcp", server.base))
        .header("authorization", "Basic YWxpY2U6cHc=")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(www(&resp).contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn unknown_kids_refetch_the_jwks_at_most_once_per_cooldown() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[]).await;
    let loaded = auth.fetches();
    assert_eq!(loaded, 1, "one fetch at startup");

    // A flood of random kids: one refetch, then the cooldown holds.
    let good = claims(&auth.issuer, &server.resource, "notes:read");
    let mut tasks = Vec::new();
    for i in 0..50 {
        let stranger = TestKey::generate(&format!("random-{i}"));
        let token = sign(&stranger, &good);
        let http = server.http.clone();
        let url = format!("{}/mcp", server.base);
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .header("accept", "application/json, text/event-stream")
                .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 401);
    }
    assert_eq!(
        auth.fetches(),
        loaded + 1,
        "one refetch for the whole flood"
    );
    let resp = server
        .rpc(
            Some(&sign(&TestKey::generate("k9"), &good)),
            "tools/list",
            json!({}),
        )
        .await;
    assert!(www(&resp).contains("unknown key"));
    assert_eq!(auth.fetches(), loaded + 1);
}

#[tokio::test]
async fn a_rotated_in_key_is_found_by_refetching() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    // Short cooldown: the rotation is picked up on the first token with the new kid.
    let server = spawn_server(&auth, &[("MCP_SERVER_JWKS_REFETCH_COOLDOWN_SECS", "1")]).await;
    let next = TestKey::generate("k2");
    auth.keys.lock().unwrap().push(next.jwk.clone());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let token = sign(&next, &claims(&auth.issuer, &server.resource, "notes:read"));
    assert_eq!(
        server
            .rpc(Some(&token), "tools/list", json!({}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_tool_call_beyond_the_scopes_is_403_naming_every_needed_scope() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[]).await;
    let token = sign(&key, &claims(&auth.issuer, &server.resource, "notes:read"));
    let resp = server
        .rpc(
            Some(&token),
            "tools/call",
            json!({"name": "notes_create", "arguments": {"content": "x"}}),
        )
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(
        www(&resp),
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"notes:write\", resource_metadata=\"{}\", error_description=\"the access token does not grant the scopes this operation needs\"",
            server.metadata_url()
        )
    );
}

#[tokio::test]
async fn a_tool_call_whose_grant_was_revoked_is_401_so_the_client_signs_in_again() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(
        &auth,
        &[("MCP_SERVER_CLIENT_SECRET", "exchange-secret-0123456789")],
    )
    .await;
    let token = sign(&key, &claims(&auth.issuer, &server.resource, "notes:read"));
    // The token itself is fine: listing tools needs no exchange. It is now in the verified-token
    // cache, so the tool calls below are served from it: revocation must still be enforced.
    assert!(!server.tool_names(&token).await.is_empty());
    let resp = server
        .rpc(
            Some(&token),
            "tools/call",
            json!({"name": "notes_list", "arguments": {}}),
        )
        .await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        www(&resp),
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"{}\", error=\"invalid_token\", error_description=\"the token or the grant behind it was revoked; sign in again\"",
            server.metadata_url(),
            mcp_server::auth::all_data_scopes()
        )
    );
    // whoami needs no scope, but it reaches Nextcloud too: the same answer.
    let whoami = server
        .rpc(
            Some(&token),
            "tools/call",
            json!({"name": "whoami", "arguments": {}}),
        )
        .await;
    assert_eq!(whoami.status(), 401);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[("MCP_SERVER_MAX_BODY_BYTES", "2048")]).await;
    let token = sign(&key, &claims(&auth.issuer, &server.resource, "notes:write"));
    let resp = server
        .rpc(
            Some(&token),
            "tools/call",
            json!({"name": "notes_create", "arguments": {"content": "x".repeat(4096)}}),
        )
        .await;
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn foreign_hosts_are_refused_dns_rebinding() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[]).await;
    let token = sign(&key, &claims(&auth.issuer, &server.resource, "notes:read"));
    let resp = server
        .http
        .post(format!("{}/mcp", server.base))
        .header("host", "evil.example")
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(&token)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn the_authorization_server_can_be_reached_at_an_internal_url() {
    // The public issuer is a loopback port nothing listens on: if the server used it (or the
    // metadata's public jwks_uri) instead of the internal URL, the JWKS would never load.
    let key = TestKey::generate("k1");
    let auth = FakeAs::start_as(&[&key], Some("http://localhost:1")).await;
    let server = spawn_server(
        &auth,
        &[(
            "MCP_SERVER_AUTHORIZATION_SERVER_INTERNAL_URL",
            auth.internal.as_str(),
        )],
    )
    .await;
    let token = sign(
        &key,
        &claims("http://localhost:1", &server.resource, "notes:read"),
    );
    assert_eq!(
        server
            .rpc(Some(&token), "tools/list", json!({}))
            .await
            .status(),
        200
    );
    assert_eq!(auth.fetches(), 1);
    // The metadata still names the public issuer.
    let prm: serde_json::Value = server
        .http
        .get(server.metadata_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["authorization_servers"][0], "http://localhost:1");
}
