//! Error answers keep the connection: every refusal of a normal-size request is answered on the
//! connection it came on, with no `Connection: close`, so a refused client does not pay a new
//! TCP handshake per request. Only a body above the limit may cost its connection. All requests
//! of a test go over ONE raw TCP connection, so a closed connection is a failed (unanswered)
//! request, not a silent reconnect.

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

/// Method, path, headers, body, expected status.
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a [u8], u16);

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

#[tokio::test]
async fn every_error_answer_keeps_the_connection_alive() {
    let app = spawn_app_with(&[
        ("AUTH_PROXY_RATE_LIMIT_TOKEN", "3/60"),
        ("AUTH_PROXY_RATE_LIMIT_AUTHORIZE", "1/60"),
    ])
    .await;
    let unknown_client = b"grant_type=refresh_token&refresh_token=r&client_id=nobody".as_slice();
    let cases: [Case; 12] = [
        (
            "POST",
            "/token",
            &[("content-type", "application/json")],
            b"{\"grant_type\":\"x\"}",
            400,
        ),
        ("POST", "/token", &[FORM], unknown_client, 401),
        ("POST", "/token", &[FORM], b"grant_type=nonsense", 400),
        ("POST", "/token", &[FORM], b"grant_type=nonsense", 429),
        ("POST", "/revoke", &[FORM], b"token=t", 429),
        (
            "POST",
            "/register",
            &[("content-type", "application/json")],
            b"{not json",
            400,
        ),
        (
            "POST",
            "/consent",
            &[FORM],
            b"flow=f&csrf=c&decision=allow",
            400,
        ),
        (
            "GET",
            "/authorize?client_id=nobody",
            &[],
            b"a body nobody reads",
            400,
        ),
        (
            "GET",
            "/authorize?client_id=nobody",
            &[],
            b"a body nobody reads",
            429,
        ),
        ("PUT", "/token", &[FORM], b"grant_type=x", 405),
        ("POST", "/nowhere", &[FORM], b"grant_type=x", 404),
        ("GET", "/healthz", &[], b"a body nobody reads", 200),
    ];

    let mut connection = RawConnection::open(&app.address).await;
    for (i, (method, path, headers, body, status)) in cases.iter().enumerate() {
        let response = connection
            .send(method, path, headers, body)
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
async fn a_body_above_the_limit_is_refused_without_desynchronising_the_connection() {
    let app = spawn_app().await;
    let mut connection = RawConnection::open(&app.address).await;
    let big = vec![b'a'; 256 * 1024];
    let response = connection
        .send("POST", "/token", &[FORM], &big)
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
