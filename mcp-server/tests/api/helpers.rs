use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcp_server::config::Config;
use mcp_server::startup::Application;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

pub const RESOURCE_PATH: &str = "/mcp";

/// An ES256 key: private for signing test tokens, public as a JWK.
pub struct TestKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    pub fn generate(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Self {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk,
        }
    }
}

/// The fake auth-proxy: RFC 8414 metadata and a JWKS whose keys tests can change.
pub struct FakeAs {
    pub issuer: String,
    /// Where it actually listens.
    pub internal: String,
    pub keys: Arc<Mutex<Vec<Value>>>,
    pub jwks_fetches: Arc<AtomicUsize>,
}

impl FakeAs {
    pub async fn start(initial: &[&TestKey]) -> Self {
        Self::start_as(initial, None).await
    }

    /// `public_issuer`: the issuer (and base of `jwks_uri`) the metadata claims, when it is not
    /// the address the server listens on (an authorization server reached internally).
    pub async fn start_as(initial: &[&TestKey], public_issuer: Option<&str>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let issuer = public_issuer
            .map(str::to_owned)
            .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
        let internal = format!("http://127.0.0.1:{port}");
        let keys = Arc::new(Mutex::new(
            initial.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>(),
        ));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (k, f, iss) = (keys.clone(), fetches.clone(), issuer.clone());
        let server = HttpServer::new(move || {
            let (k, f, iss) = (k.clone(), f.clone(), iss.clone());
            App::new()
                .route(
                    "/.well-known/oauth-authorization-server",
                    web::get().to({
                        let iss = iss.clone();
                        move || {
                            let iss = iss.clone();
                            async move {
                                HttpResponse::Ok().json(json!({
                                    "issuer": iss,
                                    "jwks_uri": format!("{iss}/jwks.json"),
                                }))
                            }
                        }
                    }),
                )
                // Token exchange: every grant is revoked here (tests of the refusal path).
                .route(
                    "/token",
                    web::post().to(|| async {
                        HttpResponse::BadRequest().json(json!({
                            "error": "invalid_grant",
                            "error_description": "the grant behind subject_token was revoked or has expired",
                        }))
                    }),
                )
                .route(
                    "/jwks.json",
                    web::get().to(move || {
                        let (k, f) = (k.clone(), f.clone());
                        async move {
                            f.fetch_add(1, Ordering::SeqCst);
                            let keys = k.lock().unwrap().clone();
                            HttpResponse::Ok().json(json!({ "keys": keys }))
                        }
                    }),
                )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self {
            issuer,
            internal,
            keys,
            jwks_fetches: fetches,
        }
    }

    pub fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }
}

pub struct TestServer {
    pub base: String,
    pub resource: String,
    pub http: reqwest::Client,
}

pub async fn spawn_server(auth: &FakeAs, extra: &[(&str, &str)]) -> TestServer {
    // The resource URI names the port the server will get: bind first, then configure.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let resource = format!("http://127.0.0.1:{port}{RESOURCE_PATH}");
    let mut vars: HashMap<String, String> = [
        ("MCP_SERVER_BIND", format!("127.0.0.1:{port}")),
        ("MCP_SERVER_METRICS_BIND", "127.0.0.1:0".to_owned()),
        ("MCP_SERVER_RESOURCE", resource.clone()),
        ("MCP_SERVER_AUTHORIZATION_SERVER", auth.issuer.clone()),
        ("MCP_SERVER_JWKS_REFETCH_COOLDOWN_SECS", "3600".to_owned()),
        ("MCP_SERVER_SHUTDOWN_TIMEOUT_SECS", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = Config::from_vars(&vars).expect("valid test config");
    let app = Application::build(config).await.expect("server builds");
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let server = TestServer {
        base: format!("http://127.0.0.1:{port}"),
        resource,
        http: reqwest::Client::new(),
    };
    // Ready once the JWKS is loaded.
    for _ in 0..200 {
        if state.jwks.as_ref().is_none_or(|j| j.is_loaded()) {
            return server;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("JWKS never loaded");
}

pub fn now() -> i64 {
    mcp_server::clock::now()
}

pub fn claims(issuer: &str, audience: &str, scope: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer, "sub": "alice", "aud": audience, "client_id": "client-1",
        "scope": scope, "iat": now, "nbf": now, "exp": now + 600,
        "jti": "jti-1", "gid": "grant-1",
    })
}

pub fn sign(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

/// Builds a compact JWS from raw header and claims JSON with the given signature bytes.
pub fn raw_jwt(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

impl TestServer {
    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.base)
    }

    /// One JSON-RPC request to /mcp (stateless: no session, no initialize needed).
    pub async fn rpc(&self, token: Option<&str>, method: &str, params: Value) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}{RESOURCE_PATH}", self.base))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        request.send().await.unwrap()
    }

    pub async fn tool_names(&self, token: &str) -> Vec<String> {
        let resp = self.rpc(Some(token), "tools/list", json!({})).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        body["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("no tools in {body}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    }
}
