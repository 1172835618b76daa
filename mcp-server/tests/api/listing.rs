//! `tools/list` answers (ADR 0022: the serialised tools are cached per set and written into
//! rmcp's own answer): every protocol version gets exactly the bytes rmcp writes for the tools
//! the token may see, and rmcp's own refusals still come first.

use mcp_shared::ScopeSet;
use rmcp::model::{ListToolsResult, ServerJsonRpcMessage, ServerResult, Tool};
use serde_json::{json, Value};

use crate::helpers::*;

/// The tools a token with `scope` is shown, in table order (no Nextcloud here: the app check
/// fails open and hides nothing).
fn expected_names(scope: &str) -> Vec<&'static str> {
    let granted = ScopeSet::parse(scope).unwrap().expanded();
    mcp_server::tools::all()
        .filter(|spec| spec.allowed(&granted))
        .map(|spec| spec.name)
        .collect()
}

/// What rmcp itself writes for a `tools/list` answering `id` with `tools`, for a peer on a
/// version before 2026-07-28 (`legacy`) or on it.
fn rmcp_answer(id: Value, tools: Vec<Tool>, legacy: bool) -> String {
    let id = serde_json::from_value(id).unwrap();
    let mut result = ServerResult::ListToolsResult(ListToolsResult::with_all_items(tools));
    if legacy {
        result.strip_result_type_for_legacy_peer();
        result.strip_non_object_output_for_legacy_peer();
    } else {
        result.fill_missing_cache_hints();
    }
    serde_json::to_string(&ServerJsonRpcMessage::response(result, id)).unwrap()
}

async fn list(
    server: &TestServer,
    token: &str,
    version: Option<&str>,
    body: &Value,
) -> (u16, String) {
    let mut request = server
        .http
        .post(format!("{}/mcp", server.base))
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(token)
        .json(body);
    if let Some(v) = version {
        request = request.header("mcp-protocol-version", v);
    }
    if version == Some("2026-07-28") {
        // SEP-2243: the method is named in a header too.
        request = request.header("mcp-method", "tools/list");
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

#[tokio::test]
async fn every_protocol_version_gets_rmcps_own_bytes_for_the_tools_it_may_see() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[]).await;
    for scope in [
        "notes:read files:write",
        "calendar:read contacts:write tasks:read",
        "openid",
    ] {
        let token = sign(&key, &claims(&auth.issuer, &server.resource, scope));
        for (version, id, legacy) in [
            (Some("2025-06-18"), json!(1), true),
            (Some("2025-03-26"), json!("req-\"7\" ✓"), true),
            (None, json!(9_007_199_254_740_993_u64), true),
        ] {
            let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": {}});
            check(&server, &token, scope, version, id, legacy, &body).await;
        }
        // 2026-07-28: the version travels in each request's _meta.
        let meta = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        let body =
            json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {"_meta": meta}});
        check(
            &server,
            &token,
            scope,
            Some("2026-07-28"),
            json!(5),
            false,
            &body,
        )
        .await;
    }
}

/// Lists twice (the second answer comes from the cached serialisation) and checks both.
async fn check(
    server: &TestServer,
    token: &str,
    scope: &str,
    version: Option<&str>,
    id: Value,
    legacy: bool,
    body: &Value,
) {
    for round in 0..2 {
        let (status, text) = list(server, token, version, body).await;
        assert_eq!(status, 200, "{scope} {version:?}: {text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        let tools: Vec<Tool> = serde_json::from_value(answer["result"]["tools"].clone()).unwrap();
        let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
        assert_eq!(
            names,
            expected_names(scope),
            "{scope} {version:?} round {round}"
        );
        assert_eq!(
            text,
            rmcp_answer(id.clone(), tools, legacy),
            "{scope} {version:?}"
        );
    }
}

#[tokio::test]
async fn rmcps_refusals_come_before_any_listing() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[]).await;
    let token = sign(&key, &claims(&auth.issuer, &server.resource, "notes:read"));
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}});

    // Not accepting event streams: rmcp's 406, untouched.
    let resp = server
        .http
        .post(format!("{}/mcp", server.base))
        .header("accept", "application/json")
        .header("mcp-protocol-version", "2025-06-18")
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 406);
    assert!(!resp.text().await.unwrap().contains("\"tools\""));

    // A protocol version rmcp does not know: its 400, untouched.
    let (status, text) = list(&server, &token, Some("1999-01-01"), &body).await;
    assert_eq!(status, 400, "{text}");
    assert!(!text.contains("\"tools\""), "{text}");

    // A notification (no id) gets no answer body, listing or not.
    let note = json!({"jsonrpc": "2.0", "method": "tools/list"});
    let (status, text) = list(&server, &token, Some("2025-06-18"), &note).await;
    assert!(status == 202 || status == 400, "{status} {text}");
    assert!(!text.contains("\"tools\""), "{text}");
}
