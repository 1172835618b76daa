//! Error answers keep the connection: every refusal of a normal-size request is answered on the
//! connection it came on, with no `Connection: close`, so a client (or an attacker being
//! refused) does not pay a new TCP handshake per request. Only a body above the limit costs its
//! connection. All requests of a test go over ONE raw TCP connection, so a closed connection is
//! a failed (unanswered) request, not a silent reconnect.

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::helpers::*;

/// A bare HTTP/1.1 client on one TCP connection: reqwest would quietly open a new connection
/// when the server closes one, which is exactly what these tests must see.
struct RawConnection {
    stream: BufReader<TcpStream>,
}

struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

impl RawConnection {
    async fn open(base: &str) -> Self {
        let address = base.trim_start_matches("http://");
        let stream = TcpStream::connect(address).await.unwrap();
        Self {
            stream: BufReader::new(stream),
        }
    }

    /// Sends one request with a `Content-Length` body; `None` when the server closed the
    /// connection instead of answering.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Option<RawResponse> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes()).await.ok()?;
        stream.write_all(body).await.ok()?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> Option<RawResponse> {
        let mut line = String::new();
        if self.stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let status = line.split(' ').nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.ok()?;
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            let (name, value) = trimmed.split_once(':')?;
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let mut response = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        if let Some(length) = response.header("content-length") {
            let mut body = vec![0; length.parse().ok()?];
            self.stream.read_exact(&mut body).await.ok()?;
            response.body = body;
        } else if response
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                line.clear();
                self.stream.read_line(&mut line).await.ok()?;
                let size = usize::from_str_radix(line.trim_end(), 16).ok()?;
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk).await.ok()?;
                if size == 0 {
                    break;
                }
                response.body.extend_from_slice(&chunk[..size]);
            }
        }
        Some(response)
    }
}

fn rpc_body(method: &str, params: serde_json::Value) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        .to_string()
        .into_bytes()
}

/// Method, path, headers, body, expected status.
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, &'a [u8], u16);

const MCP_HEADERS: [(&str, &str); 3] = [
    ("content-type", "application/json"),
    ("accept", "application/json, text/event-stream"),
    ("mcp-protocol-version", "2025-06-18"),
];

#[tokio::test]
async fn every_error_answer_keeps_the_connection_alive() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[]).await;
    let good = sign(&key, &claims(&auth.issuer, &server.resource, "notes:read"));
    let other_key = TestKey::generate("k1");
    let forged = sign(
        &other_key,
        &claims(&auth.issuer, &server.resource, "notes:read"),
    );
    let good_auth = format!("Bearer {good}");
    let forged_auth = format!("Bearer {forged}");
    let list = rpc_body("tools/list", json!({}));
    let beyond_scope = rpc_body(
        "tools/call",
        json!({"name": "notes_create", "arguments": {"content": "x".repeat(2000)}}),
    );

    let with = |extra: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        MCP_HEADERS
            .iter()
            .map(|(n, v)| (*n, (*v).to_owned()))
            .chain(extra.iter().map(|(n, v)| (*n, (*v).to_owned())))
            .collect()
    };
    let cases: Vec<Case> = vec![
        ("POST", "/mcp", with(&[]), &list, 401),
        (
            "POST",
            "/mcp",
            with(&[("authorization", "Bearer not-a-jwt")]),
            &list,
            401,
        ),
        (
            "POST",
            "/mcp",
            with(&[("authorization", &forged_auth)]),
            &list,
            401,
        ),
        (
            "POST",
            "/mcp",
            with(&[("authorization", &good_auth)]),
            &beyond_scope,
            403,
        ),
        ("POST", "/nowhere", with(&[]), &list, 404),
        ("GET", "/healthz", with(&[]), b"a body nobody reads", 200),
        (
            "POST",
            "/mcp",
            with(&[("authorization", &good_auth)]),
            &list,
            200,
        ),
        // The same refusals again, on the same connection.
        ("POST", "/mcp", with(&[]), &list, 401),
        (
            "POST",
            "/mcp",
            with(&[("authorization", &good_auth)]),
            &beyond_scope,
            403,
        ),
    ];

    let mut connection = RawConnection::open(&server.base).await;
    for (i, (method, path, headers, body, status)) in cases.iter().enumerate() {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let response = connection
            .send(method, path, &headers, body)
            .await
            .unwrap_or_else(|| panic!("request {i} ({method} {path}) found the connection closed"));
        assert_eq!(response.status, *status, "request {i} ({method} {path})");
        assert!(
            !response.closes(),
            "request {i} ({method} {path}) was answered with Connection: close"
        );
    }
}

#[tokio::test]
async fn a_body_near_the_limit_keeps_the_connection_and_one_above_is_refused() {
    let key = TestKey::generate("k1");
    let auth = FakeAs::start(&[&key]).await;
    let server = spawn_server(&auth, &[("MCP_SERVER_MAX_BODY_BYTES", "2048")]).await;
    let token = format!(
        "Bearer {}",
        sign(&key, &claims(&auth.issuer, &server.resource, "notes:write"))
    );
    let mut headers = MCP_HEADERS.to_vec();
    headers.push(("authorization", &token));
    let big = rpc_body(
        "tools/call",
        json!({"name": "notes_create", "arguments": {"content": "x".repeat(4096)}}),
    );

    let mut connection = RawConnection::open(&server.base).await;
    // Just under the limit, refused without a token: answered, connection kept.
    let near_limit = vec![b' '; 2000];
    let response = connection
        .send("POST", "/mcp", &MCP_HEADERS, &near_limit)
        .await
        .unwrap();
    assert_eq!(response.status, 401);
    assert!(!response.closes());

    let response = connection
        .send("POST", "/mcp", &headers, &big)
        .await
        .unwrap();
    assert_eq!(response.status, 413);
    // The server may close here (the rest of the body was never read) or keep going (the whole
    // body had already arrived); either way the connection never goes out of step.
    if let Some(next) = connection.send("GET", "/healthz", &[], b"").await {
        assert!(!response.closes(), "answered after announcing a close");
        assert_eq!(next.status, 200);
    }
}
