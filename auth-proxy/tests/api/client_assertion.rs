//! `private_key_jwt` (RFC 7523 client authentication) for metadata-document clients: a
//! document and key set served on loopback (through the test switch), assertions signed by the
//! test with an RS256 fixture key (ChatGPT's shape) or ES256 keys made by ring.
//!
//! Each refusal is checked against a control: the same request with a valid assertion gets
//! past client authentication (a bogus code then answers `invalid_grant`, 400), so a refusal
//! (`invalid_client`, 401) is the rule under test and nothing else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use auth_proxy::clock::Clock;

use crate::helpers::*;

const RSA_PEM: &str = include_str!("../fixtures/client-assertion-rs256.pem");
const RSA_JWK: &str = include_str!("../fixtures/client-assertion-rs256.jwk.json");
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const TOKEN_ENDPOINT: &str = "http://127.0.0.1:8080/token";
const REVOCATION_ENDPOINT: &str = "http://127.0.0.1:8080/revoke";

/// Serves whatever the test put at a path; counts requests per path.
#[derive(Clone, Default)]
struct Served {
    bodies: Arc<Mutex<HashMap<String, Value>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

struct DocHost {
    base: String,
    served: Served,
}

impl DocHost {
    fn put(&self, path: &str, body: Value) {
        self.served
            .bodies
            .lock()
            .unwrap()
            .insert(path.to_owned(), body);
    }

    fn hits(&self, path: &str) -> usize {
        *self.served.hits.lock().unwrap().get(path).unwrap_or(&0)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A ChatGPT-shaped document at `/<name>/client.json` (its `client_id`) with its key set
    /// at `/<name>/jwks.json`; `patch` members replace the defaults (`null` removes one).
    fn chatgpt(&self, name: &str, keys: Vec<Value>, patch: Value) -> String {
        let client_id = self.url(&format!("/{name}/client.json"));
        let mut doc = json!({
            "client_id": client_id,
            "client_uri": "https://chatgpt.com/",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "ChatGPT",
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "RS256",
            "jwks_uri": self.url(&format!("/{name}/jwks.json")),
        });
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                doc.as_object_mut().unwrap().remove(k);
            } else {
                doc[k] = v.clone();
            }
        }
        self.put(&format!("/{name}/client.json"), doc);
        self.put(&format!("/{name}/jwks.json"), json!({ "keys": keys }));
        client_id
    }
}

async fn serve(req: HttpRequest, served: web::Data<Served>) -> HttpResponse {
    let path = req.path().to_owned();
    *served.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    match served.bodies.lock().unwrap().get(&path) {
        Some(body) => HttpResponse::Ok()
            .insert_header(("cache-control", "public, max-age=600"))
            .json(body),
        None => HttpResponse::NotFound().finish(),
    }
}

async fn start_doc_host() -> DocHost {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let served = Served::default();
    let s = served.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(s.clone()))
            .default_service(web::to(serve))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    DocHost { base, served }
}

async fn spawn(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("AUTH_PROXY_CIMD_TEST_ALLOW_LOOPBACK", "true"),
        ("AUTH_PROXY_CIMD_FETCH_TIMEOUT_SECS", "2"),
        ("AUTH_PROXY_CIMD_FAILURE_CACHE_SECS", "0"),
        ("AUTH_PROXY_RATE_LIMIT_TOKEN", "off"),
        ("AUTH_PROXY_RATE_LIMIT_CIMD_PER_HOST", "off"),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

struct Signer {
    key: EncodingKey,
    alg: Algorithm,
    kid: String,
    public: Value,
}

impl Signer {
    fn rsa() -> Self {
        Self {
            key: EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap(),
            alg: Algorithm::RS256,
            kid: "rs-1".into(),
            public: serde_json::from_str(RSA_JWK).unwrap(),
        }
    }

    fn es256(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        Self {
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            alg: Algorithm::ES256,
            kid: kid.into(),
            public: json!({
                "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            }),
        }
    }

    fn alg_name(&self) -> &'static str {
        match self.alg {
            Algorithm::RS256 => "RS256",
            Algorithm::PS256 => "PS256",
            Algorithm::ES256 => "ES256",
            _ => unreachable!(),
        }
    }

    fn header(&self) -> Value {
        json!({ "alg": self.alg_name(), "kid": self.kid, "typ": "JWT" })
    }

    fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        let message = format!("{}.{}", b64(header), b64(claims));
        let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &self.key, self.alg).unwrap();
        format!("{message}.{sig}")
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_raw(&self.header(), claims)
    }
}

/// Valid claims for `client_id` at the app's time, with a fresh `jti`; `patch` members replace
/// them (`null` removes one).
fn claims(app: &TestApp, client_id: &str, patch: Value) -> Value {
    let now = app.clock.now_millis() / 1000;
    let mut c = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER,
        "iat": now,
        "exp": now + 300,
        "jti": auth_proxy::crypto::random_token(16),
    });
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

/// A code redemption with a code that does not exist: client authentication decides between
/// 401 `invalid_client` (refused) and 400 `invalid_grant` (authenticated).
async fn bogus_redemption(app: &TestApp, extra: &[(&str, &str)]) -> (u16, String) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", "nosuchgrant.nosuchcode"),
        ("redirect_uri", REDIRECT),
        (
            "code_verifier",
            "v-0123456789012345678901234567890123456789012",
        ),
    ];
    form.extend_from_slice(extra);
    let resp = app.token(&form).await;
    let status = resp.status().as_u16();
    if status == 401 {
        assert!(
            resp.headers().get("www-authenticate").is_some(),
            "a client authentication failure carries a challenge"
        );
    }
    (status, error_code(resp).await)
}

async fn with_assertion(app: &TestApp, assertion: &str) -> (u16, String) {
    bogus_redemption(
        app,
        &[
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ],
    )
    .await
}

const AUTHENTICATED: (u16, &str) = (400, "invalid_grant");

fn refused(outcome: &(u16, String)) -> bool {
    outcome.0 == 401 && outcome.1 == "invalid_client"
}

#[tokio::test]
async fn a_chatgpt_shaped_client_redeems_refreshes_and_revokes_with_assertions() {
    let host = start_doc_host().await;
    let app = spawn(&[]).await;
    let signer = Signer::rsa();
    let client_id = host.chatgpt("chatgpt", vec![signer.public.clone()], json!({}));

    let auth = app.authorize_code(&client_id).await;
    let assertion = signer.sign(&claims(&app, &client_id, json!({})));
    let resp = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &auth.code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &auth.pkce.verifier),
            ("resource", RESOURCE),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ])
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let access = app
        .app_state
        .keys
        .verify_access_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(access.client_id, client_id);
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();

    // Refresh: a new assertion, this time naming the token endpoint, with client_id in the form.
    let assertion = signer.sign(&claims(&app, &client_id, json!({ "aud": TOKEN_ENDPOINT })));
    let resp = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("client_id", &client_id),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ])
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let rotated = body["refresh_token"].as_str().unwrap().to_owned();

    // Without an assertion the document's only method is not met.
    let resp = app.refresh(&client_id, &rotated).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("www-authenticate").is_some());
    assert_eq!(error_code(resp).await, "invalid_client");

    // Revoke, with the revocation endpoint as audience; the family is gone.
    let assertion = signer.sign(&claims(
        &app,
        &client_id,
        json!({ "aud": [REVOCATION_ENDPOINT, "x"] }),
    ));
    let resp = app
        .http
        .post(app.url("/revoke"))
        .form(&[
            ("token", rotated.as_str()),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let assertion = signer.sign(&claims(&app, &client_id, json!({})));
    let resp = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rotated),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ])
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "invalid_grant");
    // The document and the key set were each fetched once (cache).
    assert_eq!(host.hits("/chatgpt/client.json"), 1);
    assert_eq!(host.hits("/chatgpt/jwks.json"), 1);
}

#[tokio::test]
async fn every_assertion_rule_refuses_and_only_that_rule() {
    let host = start_doc_host().await;
    let app = spawn(&[]).await;
    let signer = Signer::rsa();
    let client_id = host.chatgpt("rules", vec![signer.public.clone()], json!({}));
    let other_id = host.chatgpt("other", vec![signer.public.clone()], json!({}));
    let now = app.clock.now_millis() / 1000;

    let control = signer.sign(&claims(&app, &client_id, json!({})));
    let got = with_assertion(&app, &control).await;
    assert_eq!((got.0, got.1.as_str()), AUTHENTICATED);

    let cases: Vec<(&str, Value)> = vec![
        ("iss of another client", json!({ "iss": other_id })),
        ("sub other than client_id", json!({ "sub": other_id })),
        ("sub missing", json!({ "sub": null })),
        (
            "aud another server",
            json!({ "aud": "https://elsewhere.example" }),
        ),
        (
            "aud the revocation endpoint at /token",
            json!({ "aud": REVOCATION_ENDPOINT }),
        ),
        ("aud missing", json!({ "aud": null })),
        ("exp missing", json!({ "exp": null })),
        ("exp past", json!({ "exp": now - 31, "iat": now - 100 })),
        ("exp too far", json!({ "exp": now + 301 })),
        ("nbf future", json!({ "nbf": now + 31 })),
        ("iat future", json!({ "iat": now + 31 })),
        ("jti missing", json!({ "jti": null })),
        ("jti empty", json!({ "jti": "" })),
    ];
    for (why, patch) in cases {
        let got = with_assertion(&app, &signer.sign(&claims(&app, &client_id, patch))).await;
        assert!(refused(&got), "{why}: {got:?}");
    }
    // Leeway: 30 s of clock skew either way is tolerated.
    let skewed = claims(
        &app,
        &client_id,
        json!({ "iat": now + 30, "nbf": now + 30, "exp": now - 29 }),
    );
    let got = with_assertion(&app, &signer.sign(&skewed)).await;
    assert_eq!((got.0, got.1.as_str()), AUTHENTICATED);

    // Replay: the control's jti was used.
    let got = with_assertion(&app, &control).await;
    assert!(refused(&got), "replay: {got:?}");

    // The form's client_id must be the assertion's iss.
    let assertion = signer.sign(&claims(&app, &client_id, json!({})));
    let got = bogus_redemption(
        &app,
        &[
            ("client_id", &other_id),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ],
    )
    .await;
    assert!(refused(&got), "client_id mismatch: {got:?}");
}

#[tokio::test]
async fn algorithms_and_signatures_are_checked() {
    let host = start_doc_host().await;
    // ES256 allowed by configuration, RS256 not: the ChatGPT client (RS256) cannot sign in.
    let app = spawn(&[("AUTH_PROXY_CLIENT_ASSERTION_ALGS", "ES256 PS256 RS256")]).await;
    let signer = Signer::rsa();
    let client_id = host.chatgpt("algs", vec![signer.public.clone()], json!({}));
    let good = claims(&app, &client_id, json!({}));
    let got = with_assertion(&app, &signer.sign(&good)).await;
    assert_eq!((got.0, got.1.as_str()), AUTHENTICATED);

    let body = |c: &Value| b64(c);
    // alg none.
    let none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "kid": "rs-1" })),
        body(&claims(&app, &client_id, json!({})))
    );
    assert!(refused(&with_assertion(&app, &none).await), "none");
    // HS256 keyed with the public key's bytes.
    let header = json!({ "alg": "HS256", "kid": "rs-1" });
    let message = format!(
        "{}.{}",
        b64(&header),
        body(&claims(&app, &client_id, json!({})))
    );
    let sig = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(RSA_JWK.as_bytes()),
        Algorithm::HS256,
    )
    .unwrap();
    assert!(
        refused(&with_assertion(&app, &format!("{message}.{sig}")).await),
        "HS256"
    );
    // PS256 with the same key: allowed here, but the document pins RS256.
    let ps = Signer {
        alg: Algorithm::PS256,
        ..Signer::rsa()
    };
    let got = with_assertion(&app, &ps.sign(&claims(&app, &client_id, json!({})))).await;
    assert!(refused(&got), "alg other than the document's: {got:?}");
    // A signature over other claims.
    let token = signer.sign(&claims(&app, &client_id, json!({})));
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = body(&claims(
        &app,
        &client_id,
        json!({ "exp": 4_000_000_000i64 }),
    ));
    parts[1] = &forged;
    assert!(
        refused(&with_assertion(&app, &parts.join(".")).await),
        "forged"
    );

    // RS256 not configured: refused although the document names it.
    let strict = spawn(&[("AUTH_PROXY_CLIENT_ASSERTION_ALGS", "ES256")]).await;
    let got = with_assertion(
        &strict,
        &signer.sign(&claims(&strict, &client_id, json!({}))),
    )
    .await;
    assert!(refused(&got), "alg not configured: {got:?}");
}

#[tokio::test]
async fn assertion_type_mixing_and_missing_assertions() {
    let host = start_doc_host().await;
    let app = spawn(&[]).await;
    let signer = Signer::rsa();
    let client_id = host.chatgpt("mix", vec![signer.public.clone()], json!({}));
    let assertion = || signer.sign(&claims(&app, &client_id, json!({})));

    let a = assertion();
    let got = bogus_redemption(
        &app,
        &[
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            ),
            ("client_assertion", &a),
        ],
    )
    .await;
    assert!(refused(&got), "wrong type: {got:?}");

    let a = assertion();
    let got = bogus_redemption(
        &app,
        &[
            ("client_secret", "s3cret"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &a),
        ],
    )
    .await;
    assert_eq!(
        (got.0, got.1.as_str()),
        (400, "invalid_request"),
        "with a secret"
    );

    let a = assertion();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:s3cret"))
    );
    let resp = app
        .http
        .post(app.url("/token"))
        .header("authorization", basic)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "g.c"),
            (
                "code_verifier",
                "v-0123456789012345678901234567890123456789012",
            ),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &a),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "invalid_request", "with Basic");

    // A private_key_jwt-only client without an assertion.
    let got = bogus_redemption(&app, &[("client_id", &client_id)]).await;
    assert!(refused(&got), "no assertion: {got:?}");
    // An assertion for a client whose document is `none`: not a private_key_jwt client.
    host.put(
        "/public/client.json",
        json!({ "client_id": host.url("/public/client.json"), "redirect_uris": [REDIRECT] }),
    );
    let public_id = host.url("/public/client.json");
    let a = signer.sign(&claims(&app, &public_id, json!({})));
    assert!(refused(&with_assertion(&app, &a).await), "none client");
    // Garbage.
    assert!(refused(&with_assertion(&app, "not.a.jwt").await), "garbage");
    assert!(refused(&with_assertion(&app, "a.b.c.d.e").await), "JWE");
}

#[tokio::test]
async fn a_rotated_key_is_found_by_one_refetch_and_unknown_kids_wait_for_the_cooldown() {
    let host = start_doc_host().await;
    let app = spawn(&[]).await;
    let old = Signer::es256("old");
    let client_id = host.chatgpt(
        "rotate",
        vec![old.public.clone()],
        json!({ "token_endpoint_auth_signing_alg": "ES256" }),
    );
    let got = with_assertion(&app, &old.sign(&claims(&app, &client_id, json!({})))).await;
    assert_eq!((got.0, got.1.as_str()), AUTHENTICATED);
    assert_eq!(host.hits("/rotate/jwks.json"), 1);

    // The client rotates: its set now has only the new key.
    let new = Signer::es256("new");
    host.put("/rotate/jwks.json", json!({ "keys": [new.public] }));
    let got = with_assertion(&app, &new.sign(&claims(&app, &client_id, json!({})))).await;
    assert_eq!((got.0, got.1.as_str()), AUTHENTICATED);
    assert_eq!(host.hits("/rotate/jwks.json"), 2);

    // A made-up kid within the cooldown: refused without another fetch.
    let stranger = Signer::es256("stranger");
    let got = with_assertion(&app, &stranger.sign(&claims(&app, &client_id, json!({})))).await;
    assert!(refused(&got), "{got:?}");
    assert_eq!(host.hits("/rotate/jwks.json"), 2);
    // The old key is gone for good.
    let got = with_assertion(&app, &old.sign(&claims(&app, &client_id, json!({})))).await;
    assert!(refused(&got), "{got:?}");
}

#[tokio::test]
async fn inline_keys_and_a_choice_of_none() {
    let host = start_doc_host().await;
    let app = spawn(&[]).await;
    let signer = Signer::es256("inline");
    let client_id = host.url("/choices/client.json");
    host.put(
        "/choices/client.json",
        json!({
            "client_id": client_id,
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            "jwks": { "keys": [signer.public] },
        }),
    );
    // With an assertion …
    let got = with_assertion(&app, &signer.sign(&claims(&app, &client_id, json!({})))).await;
    assert_eq!((got.0, got.1.as_str()), AUTHENTICATED);
    // … and, the document offering none too, as a public client (PKCE binds the code).
    let auth = app.authorize_code(&client_id).await;
    let resp = app.redeem(&client_id, &auth).await;
    assert_eq!(resp.status(), 200);
    // But a bad assertion is never "downgraded" to none.
    let bad = signer.sign(&claims(
        &app,
        &client_id,
        json!({ "aud": "https://x.example" }),
    ));
    assert!(refused(&with_assertion(&app, &bad).await));
}

#[tokio::test]
async fn bad_documents_and_key_sets_refuse_the_client() {
    let host = start_doc_host().await;
    let app = spawn(&[]).await;
    let signer = Signer::rsa();
    let mut private = signer.public.clone();
    private["d"] = json!("AAAA");
    for (name, keys, patch) in [
        (
            "nokeys",
            vec![signer.public.clone()],
            json!({ "jwks_uri": null }),
        ),
        (
            "offhost",
            vec![signer.public.clone()],
            json!({ "jwks_uri": "http://localhost:9/jwks.json" }),
        ),
        (
            "secret",
            vec![signer.public.clone()],
            json!({ "token_endpoint_auth_method": "client_secret_post" }),
        ),
        ("privatekeys", vec![private.clone()], json!({})),
        (
            "oct",
            vec![json!({ "kty": "oct", "k": "c2VjcmV0", "kid": "rs-1" })],
            json!({}),
        ),
    ] {
        let client_id = host.chatgpt(name, keys, patch);
        let got = with_assertion(&app, &signer.sign(&claims(&app, &client_id, json!({})))).await;
        assert!(refused(&got), "{name}: {got:?}");
    }
    // A key set larger than the document cap.
    let big = (0..200).map(|_| signer.public.clone()).collect::<Vec<_>>();
    let client_id = host.chatgpt("bigset", big, json!({}));
    let got = with_assertion(&app, &signer.sign(&claims(&app, &client_id, json!({})))).await;
    assert!(refused(&got), "oversized set: {got:?}");
}

#[tokio::test]
async fn switched_off_documents_must_be_public() {
    let host = start_doc_host().await;
    let app = spawn(&[("AUTH_PROXY_CIMD_PRIVATE_KEY_JWT", "false")]).await;
    let signer = Signer::rsa();
    let client_id = host.chatgpt("off", vec![signer.public.clone()], json!({}));
    let got = with_assertion(&app, &signer.sign(&claims(&app, &client_id, json!({})))).await;
    assert!(refused(&got), "{got:?}");
    let metadata = app.metadata().await;
    let methods = metadata["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(!methods.contains(&json!("private_key_jwt")));
    assert!(metadata
        .get("token_endpoint_auth_signing_alg_values_supported")
        .is_none());
}
