//! Instance-wide tool governance (`MCP_SERVER_DISABLED_TOOLS`, `MCP_SERVER_READ_ONLY`) and the
//! audit trail of tool calls, over HTTP.

use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};

use crate::helpers::*;

const ALL_DATA: &str =
    "notes:read notes:write files:read files:write calendar:read calendar:write contacts:read contacts:write \
     tasks:read tasks:write sharing:read sharing:write deck:read deck:write talk:read talk:write";

/// The fake authorization server refuses every token exchange: a tool call that got as far as
/// the exchange would be answered 401. Disabled tools must be refused before it.
const SECRET: (&str, &str) = ("MCP_SERVER_CLIENT_SECRET", "exchange-secret-0123456789");

async fn call(server: &TestServer, token: &str, tool: &str) -> reqwest::Response {
    server
        .rpc(
            Some(token),
            "tools/call",
            json!({"name": tool, "arguments": {"path": "/Secret plan.md"}}),
        )
        .await
}

#[tokio::test]
async fn disabled_tools_and_families_are_hidden_and_refused_by_name_before_the_exchange() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(
        &auth,
        &[
            SECRET,
            ("MCP_SERVER_DISABLED_TOOLS", "files_*, notes_delete"),
        ],
    )
    .await;
    let token = sign(&key, &claims(&auth.issuer, &server.resource, ALL_DATA));
    let names = server.tool_names(&token).await;
    assert!(names.iter().all(|n| !n.starts_with("files_")), "{names:?}");
    assert!(!names.contains(&"notes_delete".to_owned()), "{names:?}");
    assert!(names.contains(&"notes_create".to_owned()), "{names:?}");

    for tool in ["files_read", "notes_delete"] {
        let resp = call(&server, &token, tool).await;
        assert_eq!(resp.status(), 200, "{tool}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["result"]["isError"], true, "{body}");
        let text = body["result"]["content"][0]["text"].as_str().unwrap();
        assert!(
            text.contains(&format!("{tool} is disabled")) && text.contains("administrator"),
            "{text}"
        );
    }
    // A token without the tool's scope hears the same: the tool is off for everyone.
    let notes_only = sign(&key, &claims(&auth.issuer, &server.resource, "notes:read"));
    let body: Value = call(&server, &notes_only, "files_write")
        .await
        .json()
        .await
        .unwrap();
    assert!(body["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("files_write is disabled"));
    // A served tool still goes to the exchange (refused here: 401).
    assert_eq!(call(&server, &token, "notes_list").await.status(), 401);
}

#[tokio::test]
async fn read_only_mode_serves_only_tools_that_change_nothing() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[SECRET, ("MCP_SERVER_READ_ONLY", "true")]).await;
    let token = sign(&key, &claims(&auth.issuer, &server.resource, ALL_DATA));
    let names = server.tool_names(&token).await;
    for spec in mcp_server::tools::all() {
        assert_eq!(
            names.contains(&spec.name.to_owned()),
            spec.read_only,
            "{}",
            spec.name
        );
    }
    let body: Value = call(&server, &token, "calendar_delete_event")
        .await
        .json()
        .await
        .unwrap();
    assert!(body["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("calendar_delete_event is disabled"));
}

/// Everything logged by any thread of this test binary, as JSON lines (`LOG_FORMAT=json`).
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        buffer
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The audit lines of one client (tests run in parallel and share the global subscriber).
fn audit_of(client_id: &str) -> Vec<Value> {
    let bytes = logs().lock().unwrap().clone();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["target"] == "audit" && l["client_id"] == client_id)
        .collect()
}

#[tokio::test]
async fn refused_tool_calls_leave_audit_lines_with_their_reason_and_no_arguments() {
    logs();
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(
        &auth,
        &[SECRET, ("MCP_SERVER_DISABLED_TOOLS", "contacts_*")],
    )
    .await;
    let client = "audit-client-7f3a";
    let mut token_claims = claims(&auth.issuer, &server.resource, "notes:read");
    token_claims["client_id"] = json!(client);
    let token = sign(&key, &token_claims);

    assert_eq!(call(&server, &token, "notes_create").await.status(), 403);
    assert_eq!(call(&server, &token, "contacts_get").await.status(), 200);
    assert_eq!(call(&server, &token, "notes_get").await.status(), 401);

    let audit = audit_of(client);
    let summary: Vec<_> = audit
        .iter()
        .map(|l| {
            (
                l["tool"].as_str().unwrap_or_default(),
                l["outcome"].as_str().unwrap_or_default(),
                l["reason"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("notes_create", "refused", "scope"),
            ("contacts_get", "refused", "disabled"),
            ("notes_get", "refused", "revoked"),
        ]
    );
    for line in &audit {
        assert_eq!(line["event"], "tool.call");
        assert_eq!(line["subject"], "alice");
        assert_eq!(line["grant_id"], "grant-1");
        let raw = line.to_string();
        assert!(
            !raw.contains("Secret plan") && !raw.contains(&token),
            "{raw}"
        );
    }
}

/// `mcp-server --list-tools` under a configuration: the tools it serves, or exit code 2 naming
/// the variable.
fn list_tools(vars: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mcp-server"))
        .arg("--list-tools")
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn list_tools_prints_what_the_configuration_serves() {
    let all = list_tools(&[]);
    assert!(all.status.success());
    let all = String::from_utf8(all.stdout).unwrap();
    assert_eq!(
        all,
        mcp_server::tools::markdown_table(&Default::default()),
        "the full table, as in docs/tools.md"
    );
    let served = list_tools(&[("MCP_SERVER_DISABLED_TOOLS", "files_*")]);
    assert!(served.status.success());
    let table = String::from_utf8(served.stdout).unwrap();
    assert!(
        !table.contains("`files_") && table.contains("`notes_get`"),
        "{table}"
    );
    assert!(String::from_utf8(served.stderr)
        .unwrap()
        .contains("files_read"));

    let typo = list_tools(&[("MCP_SERVER_DISABLED_TOOLS", "file_*")]);
    assert_eq!(typo.status.code(), Some(2));
    let stderr = String::from_utf8(typo.stderr).unwrap();
    assert!(
        stderr.contains("MCP_SERVER_DISABLED_TOOLS") && stderr.contains("file_*"),
        "{stderr}"
    );
}
