//! The compatibility profile at the resource server (issue 14, ADR 0017): the MCP endpoint and
//! its protected-resource metadata answer with and without the trailing slash hosted clients
//! add, the metadata is also at the root (Claude gives up on a 404 there), and every challenge
//! points at it with an absolute URL (Claude rejects a relative `resource_metadata`).

use serde_json::{json, Value};

use crate::helpers::*;

fn resource_metadata(resp: &reqwest::Response) -> String {
    let www = resp.headers()["www-authenticate"].to_str().unwrap();
    let start = www.find("resource_metadata=\"").expect("resource_metadata") + 19;
    let end = start + www[start..].find('"').unwrap();
    www[start..end].to_owned()
}

async fn post_mcp(server: &TestServer, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = server
        .http
        .post(format!("{}{path}", server.base))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_metadata_is_served_at_the_root_and_path_inserted_with_and_without_slash() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[]).await;
    let mut documents = Vec::new();
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource/mcp/",
    ] {
        let resp = server
            .http
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        documents.push(resp.json::<Value>().await.unwrap());
    }
    assert_eq!(documents[0]["resource"], server.resource);
    assert!(
        documents.iter().all(|d| d == &documents[0]),
        "{documents:?}"
    );
}

#[tokio::test]
async fn the_endpoint_answers_with_a_trailing_slash_and_every_challenge_is_absolute() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[]).await;
    let good = sign(&key, &claims(&auth.issuer, &server.resource, "notes:read"));
    let foreign = sign(
        &key,
        &claims(&auth.issuer, "http://127.0.0.1:1/other", "notes:read"),
    );
    for path in ["/mcp", "/mcp/"] {
        let resp = post_mcp(&server, path, Some(&good)).await;
        assert_eq!(resp.status(), 200, "{path}");
        for token in [None, Some("not-a-jwt"), Some(foreign.as_str())] {
            let resp = post_mcp(&server, path, token).await;
            assert_eq!(resp.status(), 401, "{path} {token:?}");
            let url = resource_metadata(&resp);
            assert_eq!(url, server.metadata_url(), "{path} {token:?}");
            assert!(url::Url::parse(&url).is_ok(), "absolute: {url}");
        }
    }
}
