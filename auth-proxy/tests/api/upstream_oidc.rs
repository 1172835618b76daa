//! The upstream OIDC client against a scriptable fake OpenID Provider on loopback. The real
//! provider (oidc-provider) covers the happy path end to end; this covers what a real provider
//! will not do on demand: bad nonces, audiences, issuers, algorithms, expiry, key rotation,
//! missing ID tokens and failing token endpoints.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use auth_proxy::clock::{Clock, FakeClock};
use auth_proxy::upstream::{OidcUpstream, OidcUpstreamConfig, UpstreamError, UpstreamIdp};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

const CLIENT_ID: &str = "proxy";
const CLIENT_SECRET: &str = "proxy-secret";
const NONCE: &str = "nonce-123";
const NOW: i64 = 1_700_000_000;

struct OpKey {
    kid: String,
    jwk: Value,
    encoding: EncodingKey,
}

fn op_key() -> OpKey {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(pkcs8.as_ref())
    );
    let keys = auth_proxy::keys::SigningKeys::from_pem_bundle(&pem).unwrap();
    let jwk = serde_json::to_value(&keys.jwks().keys[0]).unwrap();
    OpKey {
        kid: keys.signing_kid().to_owned(),
        jwk,
        encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
    }
}

#[derive(Clone)]
enum TokenReply {
    IdToken(Value, Option<Box<Header>>),
    NoIdToken,
    Status(u16, Value),
    Slow,
}

struct Op {
    issuer: String,
    keys: Mutex<Vec<OpKey>>,
    reply: Mutex<TokenReply>,
    jwks_fetches: Mutex<u32>,
    last_token_form: Mutex<String>,
}

async fn discovery(op: web::Data<Arc<Op>>) -> HttpResponse {
    let i = &op.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/auth"),
        "token_endpoint": format!("{i}/token"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    }))
}

async fn jwks(op: web::Data<Arc<Op>>) -> HttpResponse {
    *op.jwks_fetches.lock().unwrap() += 1;
    let keys: Vec<Value> = op
        .keys
        .lock()
        .unwrap()
        .iter()
        .map(|k| k.jwk.clone())
        .collect();
    HttpResponse::Ok().json(json!({ "keys": keys }))
}

async fn token(op: web::Data<Arc<Op>>, body: String) -> HttpResponse {
    *op.last_token_form.lock().unwrap() = body;
    let reply = op.reply.lock().unwrap().clone();
    let base = json!({"access_token": "UP-AT", "token_type": "Bearer", "expires_in": 300, "refresh_token": "UP-RT"});
    match reply {
        TokenReply::IdToken(claims, header) => {
            let keys = op.keys.lock().unwrap();
            let key = keys.last().unwrap();
            let header = header.map(|h| *h).unwrap_or_else(|| {
                let mut h = Header::new(Algorithm::ES256);
                h.kid = Some(key.kid.clone());
                h
            });
            let encoding = if header.alg == Algorithm::HS256 {
                EncodingKey::from_secret(CLIENT_SECRET.as_bytes())
            } else {
                key.encoding.clone()
            };
            let id_token = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();
            let mut body = base;
            body["id_token"] = json!(id_token);
            HttpResponse::Ok().json(body)
        }
        TokenReply::NoIdToken => HttpResponse::Ok().json(base),
        TokenReply::Status(status, body) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body)
        }
        TokenReply::Slow => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            HttpResponse::Ok().json(base)
        }
    }
}

async fn userinfo() -> HttpResponse {
    HttpResponse::Ok().json(json!({"sub": "from-userinfo", "email": "u@example.test"}))
}

async fn spawn_op() -> Arc<Op> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let op = Arc::new(Op {
        issuer,
        keys: Mutex::new(vec![op_key()]),
        reply: Mutex::new(TokenReply::NoIdToken),
        jwks_fetches: Mutex::new(0),
        last_token_form: Mutex::new(String::new()),
    });
    let data = web::Data::new(op.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route(
                "/.well-known/openid-configuration",
                web::get().to(discovery),
            )
            // The same document (naming the base issuer) under another path: an issuer mismatch.
            .route(
                "/other/.well-known/openid-configuration",
                web::get().to(discovery),
            )
            .route("/jwks", web::get().to(jwks))
            .route("/token", web::post().to(token))
            .route("/userinfo", web::get().to(userinfo))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    op
}

fn upstream(op: &Op, clock: &FakeClock, scopes: &[&str]) -> OidcUpstream {
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    OidcUpstream::new(
        OidcUpstreamConfig {
            issuer: url::Url::parse(&op.issuer).unwrap(),
            client_id: CLIENT_ID.into(),
            client_secret: Some(CLIENT_SECRET.into()),
            redirect_uri: url::Url::parse("http://127.0.0.1:8080/callback").unwrap(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            timeout: Duration::from_millis(800),
            discovery_ttl: Duration::from_secs(3600),
        },
        clock,
    )
    .unwrap()
}

fn claims(op: &Op) -> Value {
    json!({"iss": op.issuer, "sub": "alice", "aud": CLIENT_ID, "iat": NOW, "exp": NOW + 300, "nonce": NONCE, "email": "alice@example.test"})
}

async fn exchange_with(op: &Op, reply: TokenReply) -> Result<String, UpstreamError> {
    *op.reply.lock().unwrap() = reply;
    let up = upstream(op, &FakeClock::at_secs(NOW), &["openid"]);
    up.exchange_code("code", &"v".repeat(43), NONCE)
        .await
        .map(|(_, id)| id.subject)
}

#[tokio::test]
async fn valid_id_token_gives_the_identity_and_pkce_and_client_auth_are_sent() {
    let op = spawn_op().await;
    *op.reply.lock().unwrap() = TokenReply::IdToken(claims(&op), None);
    let up = upstream(
        &op,
        &FakeClock::at_secs(NOW),
        &["openid", "profile", "offline_access"],
    );
    assert!(!up.is_ready().await);
    let verifier = "v".repeat(43);
    let url = up.authorization_url("st", NONCE, &verifier).await.unwrap();
    assert!(up.is_ready().await);
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["state"], "st");
    assert_eq!(q["nonce"], NONCE);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["code_challenge"],
        auth_proxy::crypto::sha256_b64url(verifier.as_bytes())
    );
    assert_eq!(
        q["prompt"], "consent",
        "offline_access needs an explicit consent prompt"
    );
    assert!(q["scope"].split(' ').any(|s| s == "offline_access"));

    let (tokens, identity) = up
        .exchange_code("the-code", &verifier, NONCE)
        .await
        .unwrap();
    assert_eq!(identity.subject, "alice");
    assert_eq!(identity.email.as_deref(), Some("alice@example.test"));
    assert_eq!(tokens.refresh_token.as_deref(), Some("UP-RT"));
    assert_eq!(tokens.expires_at, Some(NOW + 300));
    let form = op.last_token_form.lock().unwrap().clone();
    assert!(
        form.contains(&format!("code_verifier={verifier}")),
        "{form}"
    );
    assert!(
        !format!("{tokens:?}").contains("UP-AT"),
        "Debug redacts upstream tokens"
    );
}

#[tokio::test]
async fn no_prompt_without_offline_access() {
    let op = spawn_op().await;
    let up = upstream(&op, &FakeClock::at_secs(NOW), &["openid", "email"]);
    let url = up
        .authorization_url("st", NONCE, &"v".repeat(43))
        .await
        .unwrap();
    assert!(!url.query_pairs().any(|(k, _)| k == "prompt"));
}

#[tokio::test]
async fn bad_id_tokens_are_refused() {
    let op = spawn_op().await;
    let mut hs256 = Header::new(Algorithm::HS256);
    hs256.kid = None;
    let cases: Vec<(&str, Value, Option<Box<Header>>)> = vec![
        ("wrong nonce", json!({"nonce": "other"}), None),
        ("wrong audience", json!({"aud": "someone-else"}), None),
        ("wrong issuer", json!({"iss": "http://127.0.0.1:1"}), None),
        ("expired", json!({"exp": NOW - 600, "iat": NOW - 900}), None),
        (
            "HS256 signed with the client secret",
            json!({}),
            Some(Box::new(hs256)),
        ),
    ];
    for (name, overrides, header) in cases {
        let mut c = claims(&op);
        for (k, v) in overrides.as_object().unwrap() {
            c[k] = v.clone();
        }
        let result = exchange_with(&op, TokenReply::IdToken(c, header)).await;
        assert!(
            matches!(result, Err(UpstreamError::Invalid(_))),
            "{name}: {result:?}"
        );
    }
}

#[tokio::test]
async fn rotated_idp_key_is_fetched_once_then_rate_limited() {
    let op = spawn_op().await;
    let clock = FakeClock::at_secs(NOW);
    let up = upstream(&op, &clock, &["openid"]);
    up.discover().await.unwrap();
    let before = *op.jwks_fetches.lock().unwrap();
    // The IdP rotates: a new key signs, published only now.
    op.keys.lock().unwrap().push(op_key());
    *op.reply.lock().unwrap() = TokenReply::IdToken(claims(&op), None);
    let (_, identity) = up.exchange_code("c", &"v".repeat(43), NONCE).await.unwrap();
    assert_eq!(identity.subject, "alice");
    assert_eq!(*op.jwks_fetches.lock().unwrap(), before + 1);

    // Tokens signed by keys nobody publishes do not trigger a refetch per request.
    let mut forged = Header::new(Algorithm::ES256);
    forged.kid = Some("unknown-kid".into());
    *op.reply.lock().unwrap() = TokenReply::IdToken(claims(&op), Some(Box::new(forged)));
    for _ in 0..5 {
        assert!(up.exchange_code("c", &"v".repeat(43), NONCE).await.is_err());
    }
    assert_eq!(
        *op.jwks_fetches.lock().unwrap(),
        before + 1,
        "at most one JWKS fetch per cooldown"
    );
}

#[tokio::test]
async fn without_an_id_token_userinfo_names_the_user() {
    let op = spawn_op().await;
    assert_eq!(
        exchange_with(&op, TokenReply::NoIdToken).await.unwrap(),
        "from-userinfo"
    );
}

#[tokio::test]
async fn idp_failures_are_classified() {
    let op = spawn_op().await;
    let rejected = exchange_with(
        &op,
        TokenReply::Status(
            400,
            json!({"error": "invalid_grant", "error_description": "code UP-SECRET expired"}),
        ),
    )
    .await;
    match rejected {
        Err(UpstreamError::Rejected(msg)) => {
            assert!(msg.contains("invalid_grant"));
            assert!(
                !msg.contains("UP-SECRET"),
                "IdP descriptions are not passed on"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        exchange_with(&op, TokenReply::Status(500, json!({}))).await,
        Err(UpstreamError::Unavailable(_))
    ));
    assert!(
        matches!(
            exchange_with(&op, TokenReply::Slow).await,
            Err(UpstreamError::Unavailable(_))
        ),
        "timeouts are enforced"
    );
}

#[tokio::test]
async fn unreachable_or_mismatched_idp_is_not_ready() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let clock = FakeClock::at_secs(NOW);
    let dead = OidcUpstream::new(
        OidcUpstreamConfig {
            issuer: url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
            client_id: CLIENT_ID.into(),
            client_secret: None,
            redirect_uri: url::Url::parse("http://127.0.0.1:8080/callback").unwrap(),
            scopes: vec!["openid".into()],
            timeout: Duration::from_millis(500),
            discovery_ttl: Duration::from_secs(3600),
        },
        Arc::new(clock),
    )
    .unwrap();
    assert!(matches!(
        dead.discover().await,
        Err(UpstreamError::Unavailable(_))
    ));
    assert!(!dead.is_ready().await);

    // Discovery whose issuer differs from the configured one is refused (OIDC Discovery §4.3).
    let op = spawn_op().await;
    let mut config_issuer = url::Url::parse(&op.issuer).unwrap();
    config_issuer.set_path("/other");
    let mismatched = OidcUpstream::new(
        OidcUpstreamConfig {
            issuer: config_issuer,
            client_id: CLIENT_ID.into(),
            client_secret: None,
            redirect_uri: url::Url::parse("http://127.0.0.1:8080/callback").unwrap(),
            scopes: vec!["openid".into()],
            timeout: Duration::from_millis(500),
            discovery_ttl: Duration::from_secs(3600),
        },
        Arc::new(FakeClock::at_secs(NOW)),
    )
    .unwrap();
    assert!(mismatched.discover().await.is_err());
}
