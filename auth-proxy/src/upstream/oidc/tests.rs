//! Validation logic against a scriptable fake OP on loopback; the real IdP (oidc-provider)
//! is exercised by the end-to-end suite.

use std::collections::HashMap;
use std::sync::Mutex as StdMutex;

use actix_web::{web, App, HttpServer};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use super::*;
use crate::clock::FakeClock;
use crate::crypto::sha256_b64url;

const CLIENT_ID: &str = "proxy";
const SECRET: &str = "SECRET-v4lue";
const NONCE: &str = "n-0S6_WzA2Mj";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CODE: &str = "CODE-SplxlOBeZQQYbYS6WxSbIA";
const AT: &str = "UP-ACCESS-TOKEN";
const REDIRECT: &str = "http://127.0.0.1:8080/callback";
const NOW: i64 = 1_700_000_000;

struct Key {
    kid: String,
    jwk: Value,
    pkcs8: Vec<u8>,
}

impl Key {
    fn new(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap()
            .as_ref()
            .to_vec();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).unwrap();
        // Uncompressed SEC1 point: 0x04 || x || y.
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Self {
            kid: kid.into(),
            jwk,
            pkcs8,
        }
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&self.pkcs8)).unwrap()
    }
}

/// A request the fake OP received.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    authorization: Option<String>,
    form: HashMap<String, String>,
}

struct Op {
    issuer: String,
    /// `None`: discovery answers 503.
    discovery: StdMutex<Option<Value>>,
    jwks: StdMutex<Vec<Value>>,
    token: StdMutex<(u16, Value)>,
    token_delay: StdMutex<Duration>,
    seen: StdMutex<Vec<Seen>>,
}

impl Op {
    fn reply(&self, status: u16, body: Value) {
        *self.token.lock().unwrap() = (status, body);
    }
    fn edit_discovery(&self, edit: impl FnOnce(&mut Value)) {
        edit(self.discovery.lock().unwrap().as_mut().unwrap());
    }
    fn count(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .count()
    }
    fn last(&self, path: &str) -> Seen {
        let seen = self.seen.lock().unwrap();
        seen.iter().rev().find(|s| s.path == path).unwrap().clone()
    }
    fn claims(&self) -> Value {
        json!({
            "iss": self.issuer, "sub": "alice", "aud": CLIENT_ID, "iat": NOW,
            "exp": NOW + 300, "nonce": NONCE, "at_hash": at_hash(AT),
            "email": "alice@example.test", "name": "Alice", "preferred_username": "alice",
        })
    }
}

fn at_hash(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

fn token_body(id_token: Option<String>) -> Value {
    let mut body = json!({
        "access_token": AT, "token_type": "Bearer", "expires_in": 300,
        "refresh_token": "UP-RT", "scope": "openid profile",
    });
    if let Some(id_token) = id_token {
        body["id_token"] = json!(id_token);
    }
    body
}

async fn handle(
    op: web::Data<Arc<Op>>,
    req: actix_web::HttpRequest,
    body: web::Bytes,
) -> actix_web::HttpResponse {
    use actix_web::HttpResponse;
    op.seen.lock().unwrap().push(Seen {
        path: req.path().to_owned(),
        authorization: req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        form: serde_urlencoded::from_bytes(&body).unwrap_or_default(),
    });
    match req.path() {
        "/.well-known/openid-configuration" => {
            let discovery = op.discovery.lock().unwrap().clone();
            match discovery {
                Some(doc) => HttpResponse::Ok().json(doc),
                None => HttpResponse::ServiceUnavailable().finish(),
            }
        }
        "/jwks" => HttpResponse::Ok().json(json!({ "keys": *op.jwks.lock().unwrap() })),
        "/token" => {
            let delay = *op.token_delay.lock().unwrap();
            tokio::time::sleep(delay).await;
            let (status, body) = op.token.lock().unwrap().clone();
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body)
        }
        "/userinfo" => HttpResponse::Ok().json(
            json!({"sub": "from-userinfo", "email": "u@example.test", "preferred_username": "u"}),
        ),
        _ => HttpResponse::NotFound().finish(),
    }
}

/// A fake OP on 127.0.0.1:0 publishing one ES256 key, which is returned for signing.
async fn spawn_op() -> (Arc<Op>, Key) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let key = Key::new("k1");
    let op = Arc::new(Op {
        discovery: StdMutex::new(Some(json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256", "HS256", "none"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }))),
        issuer,
        jwks: StdMutex::new(vec![key.jwk.clone()]),
        token: StdMutex::new((200, token_body(None))),
        token_delay: StdMutex::new(Duration::ZERO),
        seen: StdMutex::new(Vec::new()),
    });
    let data = web::Data::new(op.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(handle))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (op, key)
}

fn config(issuer: &str, scopes: &[&str], timeout: Duration) -> OidcUpstreamConfig {
    OidcUpstreamConfig {
        issuer: Url::parse(issuer).unwrap(),
        client_id: CLIENT_ID.into(),
        client_secret: Some(SECRET.into()),
        redirect_uri: Url::parse(REDIRECT).unwrap(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        timeout,
        discovery_ttl: Duration::from_secs(3600),
    }
}

fn upstream(op: &Op, clock: &FakeClock) -> OidcUpstream {
    let config = config(
        &op.issuer,
        &["openid", "profile", "email"],
        Duration::from_secs(2),
    );
    OidcUpstream::new(config, Arc::new(clock.clone())).unwrap()
}

async fn exchange(up: &OidcUpstream) -> Result<(UpstreamTokens, UpstreamIdentity), UpstreamError> {
    up.exchange_code(CODE, VERIFIER, NONCE).await
}

fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn happy_path_gives_the_identity_and_sends_pkce_and_client_auth() {
    let (op, key) = spawn_op().await;
    let up = upstream(&op, &FakeClock::at_secs(NOW));
    assert!(!up.is_ready().await);
    let url = up.authorization_url("st", NONCE, VERIFIER).await.unwrap();
    assert!(up.is_ready().await, "discovery ran lazily");
    let challenge = query(&url)["code_challenge"].clone();

    op.reply(200, token_body(Some(key.sign(&op.claims()))));
    let (tokens, identity) = exchange(&up).await.unwrap();
    assert_eq!(
        (
            identity.subject.as_str(),
            identity.email.as_deref(),
            identity.name.as_deref(),
            identity.preferred_username.as_deref()
        ),
        (
            "alice",
            Some("alice@example.test"),
            Some("Alice"),
            Some("alice")
        )
    );
    // Every string claim of the verified payload is readable, for the Nextcloud user claim.
    assert_eq!(identity.claim("sub"), Some("alice"));
    assert_eq!(identity.claim("preferred_username"), Some("alice"));
    assert_eq!(identity.claim("email"), Some("alice@example.test"));
    assert_eq!(identity.claim("nonexistent"), None);
    assert_eq!(tokens.access_token.expose(), AT);
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(
        tokens.refresh_token.as_ref().map(Secret::expose),
        Some("UP-RT")
    );
    assert_eq!(tokens.expires_at, Some(NOW + 300));
    assert_eq!(tokens.scope.as_deref(), Some("openid profile"));
    assert!(tokens.id_token.is_some());

    let sent = op.last("/token");
    assert_eq!(sent.form["grant_type"], "authorization_code");
    assert_eq!(sent.form["code"], CODE);
    assert_eq!(sent.form["redirect_uri"], REDIRECT);
    assert_eq!(sent.form["code_verifier"], VERIFIER);
    assert_eq!(
        sha256_b64url(sent.form["code_verifier"].as_bytes()),
        challenge
    );
    assert_eq!(
        sent.authorization,
        Some(format!(
            "Basic {}",
            STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"))
        ))
    );
    assert!(!sent.form.contains_key("client_secret"));
}

#[tokio::test]
async fn client_secret_post_when_discovery_offers_no_basic() {
    let (op, _) = spawn_op().await;
    op.edit_discovery(|d| {
        d["token_endpoint_auth_methods_supported"] = json!(["client_secret_post"])
    });
    let up = upstream(&op, &FakeClock::at_secs(NOW));
    exchange(&up).await.unwrap();
    let sent = op.last("/token");
    assert_eq!(sent.authorization, None);
    assert_eq!(sent.form["client_id"], CLIENT_ID);
    assert_eq!(sent.form["client_secret"], SECRET);
}

#[tokio::test]
async fn authorization_url_has_exactly_the_expected_parameters() {
    let (op, _) = spawn_op().await;
    for offline in [false, true] {
        let mut scopes = vec!["openid", "profile", "email"];
        if offline {
            scopes.push("offline_access");
        }
        let config = config(&op.issuer, &scopes, Duration::from_secs(2));
        let up = OidcUpstream::new(config, Arc::new(FakeClock::at_secs(NOW))).unwrap();
        let url = up.authorization_url("st", NONCE, VERIFIER).await.unwrap();
        assert_eq!(
            url.as_str().split('?').next(),
            Some(format!("{}/auth", op.issuer).as_str())
        );
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let q = query(&url);
        assert_eq!(pairs.len(), q.len(), "no repeated parameter: {url}");
        let mut expected = HashMap::from([
            ("response_type", "code".to_owned()),
            ("client_id", CLIENT_ID.to_owned()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("scope", scopes.join(" ")),
            ("state", "st".to_owned()),
            ("nonce", NONCE.to_owned()),
            ("code_challenge", sha256_b64url(VERIFIER.as_bytes())),
            ("code_challenge_method", "S256".to_owned()),
        ]);
        if offline {
            expected.insert("prompt", "consent".to_owned());
        }
        let expected: HashMap<String, String> = expected
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(q, expected, "offline_access: {offline}");
    }
}

#[tokio::test]
async fn id_tokens_that_must_not_validate_are_invalid() {
    let (op, key) = spawn_op().await;
    let up = upstream(&op, &FakeClock::at_secs(NOW));
    let other_key = Key::new("k1");
    let with = |overrides: Value| {
        let mut claims = op.claims();
        for (k, v) in overrides.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let hs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &op.claims(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let cases = [
        ("wrong nonce", key.sign(&with(json!({"nonce": "other"})))),
        ("no nonce", key.sign(&with(json!({"nonce": null})))),
        ("wrong aud", key.sign(&with(json!({"aud": "someone-else"})))),
        (
            "untrusted extra aud",
            key.sign(&with(json!({"aud": [CLIENT_ID, "other"]}))),
        ),
        ("wrong azp", key.sign(&with(json!({"azp": "someone-else"})))),
        (
            "wrong iss",
            key.sign(&with(json!({"iss": "http://127.0.0.1:1"}))),
        ),
        (
            "expired",
            key.sign(&with(json!({"iat": NOW - 600, "exp": NOW - 1}))),
        ),
        (
            "wrong at_hash",
            key.sign(&with(json!({"at_hash": at_hash("other")}))),
        ),
        ("bad signature", other_key.sign(&op.claims())),
        (
            "alg none",
            format!("{}.{}.", b64(json!({"alg": "none"})), b64(op.claims())),
        ),
        ("HS256 with the client secret", hs256),
    ];
    for (name, id_token) in cases {
        op.reply(200, token_body(Some(id_token)));
        match exchange(&up).await {
            Err(UpstreamError::Invalid(msg)) => {
                for secret in [AT, CODE, SECRET, VERIFIER] {
                    assert!(!msg.contains(secret), "{name}: {msg}");
                }
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(
        op.count("/userinfo"),
        0,
        "a bad ID token is not papered over by userinfo"
    );
}

#[tokio::test]
async fn expiry_is_checked_against_the_injected_clock() {
    let (op, key) = spawn_op().await;
    let clock = FakeClock::at_secs(NOW);
    let up = upstream(&op, &clock);
    op.reply(200, token_body(Some(key.sign(&op.claims()))));
    exchange(&up).await.unwrap();
    clock.advance_secs(300);
    assert!(matches!(exchange(&up).await, Err(UpstreamError::Invalid(m)) if m.contains("xpired")));
}

#[tokio::test]
async fn unknown_kid_refetches_the_jwks_once_per_minute() {
    let (op, _) = spawn_op().await;
    let clock = FakeClock::at_secs(NOW);
    let up = upstream(&op, &clock);
    up.discover().await.unwrap();
    assert_eq!(op.count("/jwks"), 1);

    // The IdP rotates: a new key signs, published only now.
    let rotated = Key::new("k2");
    op.jwks.lock().unwrap().push(rotated.jwk.clone());
    op.reply(200, token_body(Some(rotated.sign(&op.claims()))));
    assert_eq!(exchange(&up).await.unwrap().1.subject, "alice");
    assert_eq!(op.count("/jwks"), 2);
    exchange(&up).await.unwrap();
    assert_eq!(op.count("/jwks"), 2, "the new key is cached");

    // Keys nobody publishes do not cost a JWKS fetch per request.
    op.reply(200, token_body(Some(rotated.sign_as("k9", &op.claims()))));
    for _ in 0..3 {
        assert!(matches!(
            exchange(&up).await,
            Err(UpstreamError::Invalid(_))
        ));
    }
    assert_eq!(op.count("/jwks"), 2);
    clock.advance_secs(61);
    assert!(matches!(
        exchange(&up).await,
        Err(UpstreamError::Invalid(_))
    ));
    assert_eq!(op.count("/jwks"), 3);
    assert_eq!(
        op.count("/.well-known/openid-configuration"),
        1,
        "only the JWKS is refetched"
    );
}

#[tokio::test]
async fn without_an_id_token_userinfo_names_the_user() {
    let (op, _) = spawn_op().await;
    let up = upstream(&op, &FakeClock::at_secs(NOW));
    op.reply(200, token_body(None));
    let (tokens, identity) = exchange(&up).await.unwrap();
    assert_eq!(identity.subject, "from-userinfo");
    assert_eq!(identity.preferred_username.as_deref(), Some("u"));
    assert_eq!(tokens.id_token, None);
    assert_eq!(
        op.last("/userinfo").authorization,
        Some(format!("Bearer {AT}"))
    );

    // Neither an ID token nor a userinfo endpoint: nobody to name.
    op.edit_discovery(|d| {
        d.as_object_mut().unwrap().remove("userinfo_endpoint");
    });
    let up = upstream(&op, &FakeClock::at_secs(NOW));
    assert!(matches!(
        exchange(&up).await,
        Err(UpstreamError::Invalid(_))
    ));
}

#[tokio::test]
async fn token_endpoint_failures_are_classified() {
    let (op, _) = spawn_op().await;
    let up = upstream(&op, &FakeClock::at_secs(NOW));
    op.reply(
        400,
        json!({"error": "invalid_grant", "error_description": format!("code {CODE} expired")}),
    );
    match exchange(&up).await {
        Err(UpstreamError::Rejected(msg)) => {
            assert!(msg.contains("invalid_grant"), "{msg}");
            assert!(
                !msg.contains(CODE),
                "IdP descriptions are not passed on: {msg}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        up.refresh("UP-RT").await,
        Err(UpstreamError::Rejected(_))
    ));
    op.reply(401, json!({"error": "invalid_client"}));
    assert!(
        matches!(exchange(&up).await, Err(UpstreamError::Rejected(m)) if m.contains("invalid_client"))
    );

    // A 5xx is an outage even when its body is a well-formed OAuth error.
    for (status, body) in [
        (500, json!({"error": "server_error"})),
        (503, json!({})),
        (200, json!({"unexpected": true})),
    ] {
        op.reply(status, body);
        assert!(
            matches!(exchange(&up).await, Err(UpstreamError::Unavailable(_))),
            "{status}"
        );
    }
}

#[tokio::test]
async fn slow_token_endpoint_hits_the_timeout() {
    let (op, _) = spawn_op().await;
    let config = config(&op.issuer, &["openid"], Duration::from_millis(300));
    let up = OidcUpstream::new(config, Arc::new(FakeClock::at_secs(NOW))).unwrap();
    up.discover().await.unwrap();
    *op.token_delay.lock().unwrap() = Duration::from_secs(2);
    assert!(matches!(
        exchange(&up).await,
        Err(UpstreamError::Unavailable(_))
    ));
}

#[tokio::test]
async fn unreachable_idp_is_unavailable_and_not_ready() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = config(
        &format!("http://127.0.0.1:{port}"),
        &["openid"],
        Duration::from_millis(500),
    );
    let up = OidcUpstream::new(config, Arc::new(FakeClock::at_secs(NOW))).unwrap();
    assert!(matches!(
        up.discover().await,
        Err(UpstreamError::Unavailable(_))
    ));
    assert!(!up.is_ready().await);
    assert!(matches!(
        up.authorization_url("st", NONCE, VERIFIER).await,
        Err(UpstreamError::Unavailable(_))
    ));
    assert!(matches!(
        exchange(&up).await,
        Err(UpstreamError::Unavailable(_))
    ));
}

#[tokio::test]
async fn discovery_naming_another_issuer_is_refused() {
    let (op, _) = spawn_op().await;
    op.edit_discovery(|d| d["issuer"] = json!("http://127.0.0.1:1"));
    let up = upstream(&op, &FakeClock::at_secs(NOW));
    assert!(matches!(up.discover().await, Err(UpstreamError::Invalid(m)) if m.contains("issuer")));
    assert!(!up.is_ready().await);
    assert!(matches!(
        exchange(&up).await,
        Err(UpstreamError::Unavailable(_))
    ));
    assert_eq!(op.count("/token"), 0);
}

#[tokio::test]
async fn an_issuer_with_a_trailing_slash_is_used_verbatim() {
    let (op, key) = spawn_op().await;
    let slashed = format!("{}/", op.issuer);
    op.edit_discovery(|d| d["issuer"] = json!(slashed));
    let up = upstream(&op, &FakeClock::at_secs(NOW));
    up.discover().await.unwrap();
    let mut claims = op.claims();
    claims["iss"] = json!(slashed);
    op.reply(200, token_body(Some(key.sign(&claims))));
    exchange(&up).await.unwrap();
    op.reply(200, token_body(Some(key.sign(&op.claims()))));
    assert!(matches!(
        exchange(&up).await,
        Err(UpstreamError::Invalid(_))
    ));
}

#[tokio::test]
async fn refresh_returns_the_new_tokens() {
    let (op, _) = spawn_op().await;
    let clock = FakeClock::at_secs(NOW);
    let up = upstream(&op, &clock);
    clock.advance_secs(1000);
    op.reply(
        200,
        json!({"access_token": "AT-2", "token_type": "Bearer", "expires_in": 120}),
    );
    let tokens = up.refresh("UP-RT-OLD").await.unwrap();
    assert_eq!(tokens.access_token.expose(), "AT-2");
    assert_eq!(
        tokens.refresh_token, None,
        "not rotated: the caller keeps the old one"
    );
    assert_eq!(tokens.expires_at, Some(NOW + 1000 + 120));
    let sent = op.last("/token");
    assert_eq!(sent.form["grant_type"], "refresh_token");
    assert_eq!(sent.form["refresh_token"], "UP-RT-OLD");

    op.reply(
        200,
        json!({"access_token": "AT-3", "token_type": "Bearer", "refresh_token": "RT-3"}),
    );
    let tokens = up.refresh("UP-RT-OLD").await.unwrap();
    assert_eq!(
        tokens.refresh_token.as_ref().map(Secret::expose),
        Some("RT-3")
    );
    assert_eq!(tokens.expires_at, None);
}

#[tokio::test]
async fn discovery_is_cached_refreshed_after_the_ttl_and_kept_while_the_idp_is_down() {
    let (op, _) = spawn_op().await;
    let clock = FakeClock::at_secs(NOW);
    let up = upstream(&op, &clock);
    let discoveries = || op.count("/.well-known/openid-configuration");
    up.authorization_url("st", NONCE, VERIFIER).await.unwrap();
    up.authorization_url("st", NONCE, VERIFIER).await.unwrap();
    assert_eq!(discoveries(), 1);
    clock.advance_secs(3601);
    up.authorization_url("st", NONCE, VERIFIER).await.unwrap();
    assert_eq!(discoveries(), 2);

    *op.discovery.lock().unwrap() = None;
    clock.advance_secs(3601);
    up.authorization_url("st", NONCE, VERIFIER).await.unwrap();
    assert_eq!(discoveries(), 3, "tried, failed, served the stale metadata");
    up.authorization_url("st", NONCE, VERIFIER).await.unwrap();
    assert_eq!(discoveries(), 3, "no retry on every request");
    clock.advance_secs(31);
    up.authorization_url("st", NONCE, VERIFIER).await.unwrap();
    assert_eq!(discoveries(), 4);
    assert!(up.is_ready().await);
    assert!(up.discover().await.is_err());
}

#[test]
fn debug_output_redacts_the_client_secret() {
    let config = config(
        "https://idp.example.test",
        &["openid"],
        Duration::from_secs(1),
    );
    let up = OidcUpstream::new(config.clone(), Arc::new(FakeClock::at_secs(NOW))).unwrap();
    for text in [format!("{config:?}"), format!("{up:?}")] {
        assert!(!text.contains(SECRET), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}

#[tokio::test]
async fn an_identity_sign_in_never_asks_for_offline_access() {
    let (op, _) = spawn_op().await;
    let config = config(
        &op.issuer,
        &["openid", "profile", "email", "offline_access"],
        Duration::from_secs(2),
    );
    let up = OidcUpstream::new(config, Arc::new(FakeClock::at_secs(NOW))).unwrap();
    let q = query(&up.identity_url("c.st", NONCE, VERIFIER).await.unwrap());
    assert_eq!(q["scope"], "openid profile email");
    assert!(!q.contains_key("prompt"), "{q:?}");
    assert_eq!(q["state"], "c.st");
    assert_eq!(q["nonce"], NONCE);
    assert_eq!(q["code_challenge"], sha256_b64url(VERIFIER.as_bytes()));
}
