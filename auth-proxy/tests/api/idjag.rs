//! Enterprise-Managed Authorization: the jwt-bearer grant with ID-JAGs (ADR 0020). The test
//! IdPs' keys are generated here with ring (ES256, EdDSA); ID-JAGs are minted per test. Every
//! refusal is a 400 `invalid_grant` counted under its own reason.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use crate::helpers::*;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const PROFILE: &str = "urn:ietf:params:oauth:grant-profile:id-jag";
const IDP: &str = "https://idp.example";
const OTHER_IDP: &str = "https://other-idp.example";
const SECRET: &str = "ema-client-secret-0123456789";

struct Signer {
    key: EncodingKey,
    alg: Algorithm,
    public: Value,
}

impl Signer {
    fn es256(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        Self {
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            alg: Algorithm::ES256,
            public: json!({
                "kty": "EC", "crv": "P-256", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            }),
        }
    }

    fn ed25519(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        Self {
            key: EncodingKey::from_ed_der(pkcs8.as_ref()),
            alg: Algorithm::EdDSA,
            public: json!({
                "kty": "OKP", "crv": "Ed25519", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            }),
        }
    }

    fn header(&self) -> Value {
        let alg = if self.alg == Algorithm::EdDSA {
            "EdDSA"
        } else {
            "ES256"
        };
        json!({ "alg": alg, "kid": self.public["kid"], "typ": "oauth-id-jag+jwt" })
    }

    fn sign_with(&self, header: &Value, claims: &Value) -> String {
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        let message = format!("{}.{}", b64(header), b64(claims));
        let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &self.key, self.alg).unwrap();
        format!("{message}.{sig}")
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_with(&self.header(), claims)
    }
}

struct Idps {
    main: Signer,
    ed: Signer,
    other: Signer,
    dir: std::path::PathBuf,
}

/// The files go with the test (the app read them at start-up).
impl Drop for Idps {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The trusted issuers' keys and the files naming them: `IDP` (ES256 + EdDSA keys in a
/// `jwks_file`) and `OTHER_IDP` (its own key); clients `ema` (confidential, has the grant),
/// `ema-nogrant`, `vouched` (no grant, but `IDP` names it) and `ema-public` (public).
fn idps(extra_issuers: Vec<Value>) -> Idps {
    let idps = Idps {
        main: Signer::es256("idp-1"),
        ed: Signer::ed25519("idp-ed"),
        other: Signer::es256("other-1"),
        dir: std::env::temp_dir().join(format!(
            "auth-proxy-api-idjag-{}",
            auth_proxy::crypto::random_token(9)
        )),
    };
    std::fs::create_dir_all(&idps.dir).unwrap();
    let write = |name: &str, v: Value| std::fs::write(idps.dir.join(name), v.to_string()).unwrap();
    write(
        "idp.jwks.json",
        json!({ "keys": [idps.main.public, idps.ed.public] }),
    );
    write("other.jwks.json", json!({ "keys": [idps.other.public] }));
    let mut issuers = vec![
        json!({ "issuer": IDP, "jwks_file": "idp.jwks.json", "clients": ["vouched"] }),
        json!({ "issuer": OTHER_IDP, "jwks_file": "other.jwks.json" }),
    ];
    issuers.extend(extra_issuers);
    write("issuers.json", Value::Array(issuers));
    let confidential = |id: &str, grants: Value| {
        json!({
            "client_id": id,
            "client_name": format!("EMA {id}"),
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "client_secret_post",
            "client_secret_sha256": auth_proxy::crypto::sha256_hex(SECRET),
            "grant_types": grants,
        })
    };
    write(
        "clients.json",
        json!([
            confidential("ema", json!(["authorization_code", GRANT])),
            confidential("ema-nogrant", json!(["authorization_code"])),
            confidential("vouched", json!(["authorization_code"])),
            {
                "client_id": "ema-public",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", GRANT],
            },
        ]),
    );
    idps
}

impl Idps {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }

    fn vars(&self) -> Vec<(String, String)> {
        vec![
            (
                "AUTH_PROXY_IDJAG_ISSUERS_FILE".into(),
                self.path("issuers.json"),
            ),
            ("AUTH_PROXY_CLIENTS_FILE".into(), self.path("clients.json")),
            ("AUTH_PROXY_RATE_LIMIT_TOKEN".into(), "off".into()),
        ]
    }

    async fn spawn(&self, extra: &[(&str, &str)]) -> TestApp {
        let vars = self.vars();
        let mut all: Vec<(&str, &str)> =
            vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        all.extend_from_slice(extra);
        spawn_app_with(&all).await
    }
}

fn claims(app_now: i64) -> Value {
    json!({
        "iss": IDP,
        "sub": "alice",
        "aud": ISSUER,
        "client_id": "ema",
        "jti": auth_proxy::crypto::random_token(12),
        "iat": app_now,
        "exp": app_now + 120,
        "resource": RESOURCE,
        "scope": "notes:read files:read",
    })
}

async fn trade(
    app: &TestApp,
    client_id: &str,
    assertion: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", GRANT),
        ("assertion", assertion),
        ("client_id", client_id),
        ("client_secret", SECRET),
    ];
    form.extend_from_slice(extra);
    app.token(&form).await
}

async fn metrics(app: &TestApp) -> String {
    reqwest::get(format!("{}/metrics", app.metrics_address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn now(app: &TestApp) -> i64 {
    use auth_proxy::clock::Clock;
    app.clock.now()
}

#[tokio::test]
async fn a_valid_id_jag_buys_one_access_token_for_its_resource() {
    let idps = idps(vec![]);
    let app = idps.spawn(&[]).await;
    let resp = trade(&app, "ema", &idps.main.sign(&claims(now(&app))), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "notes:read files:read");
    assert_eq!(body["resource"], RESOURCE);
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    assert!(body.get("refresh_token").is_none(), "{body}");
    let token = payload(body["access_token"].as_str().unwrap());
    assert_eq!(token["aud"], RESOURCE);
    assert_eq!(token["sub"], "alice");
    assert_eq!(token["client_id"], "ema");
    let text = metrics(&app).await;
    assert!(
        text.contains("auth_proxy_idjag_total{outcome=\"ok\"} 1"),
        "{text}"
    );
    assert!(text.contains("auth_proxy_tokens_issued_total{grant_type=\"jwt_bearer\"} 1"));
    // The grant is in alice's index, so the connections page lists it.
    let listed = app.app_state.store.list_user_grants("alice").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].1.client_id.as_str(), "ema");
}

/// A case name, the assertion, extra form fields, the scope granted.
type Accepted<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, &'a str);

#[tokio::test]
async fn accepted_spellings_and_the_scope_intersection() {
    let idps = idps(vec![]);
    let app = idps.spawn(&[]).await;
    let t = now(&app);
    let mut typ = idps.main.header();
    typ["typ"] = json!("application/oauth-id-jag+jwt");
    let cases: Vec<Accepted> = vec![
        (
            "application/ typ",
            idps.main.sign_with(&typ, &claims(t)),
            vec![],
            "notes:read files:read",
        ),
        (
            "aud array",
            idps.main.sign(&patched(t, "aud", json!([ISSUER]))),
            vec![],
            "notes:read files:read",
        ),
        (
            "aud with slash",
            idps.main
                .sign(&patched(t, "aud", json!(format!("{ISSUER}/")))),
            vec![],
            "notes:read files:read",
        ),
        (
            "resource with slash",
            idps.main
                .sign(&patched(t, "resource", json!(format!("{RESOURCE}/")))),
            vec![("resource", RESOURCE)],
            "notes:read files:read",
        ),
        (
            "resource array",
            idps.main.sign(&patched(
                t,
                "resource",
                json!(["https://x.example/mcp", RESOURCE]),
            )),
            vec![],
            "notes:read files:read",
        ),
        (
            "EdDSA",
            idps.ed.sign(&claims(t)),
            vec![],
            "notes:read files:read",
        ),
        (
            "narrower request",
            idps.main.sign(&claims(t)),
            vec![("scope", "files:read calendar:read")],
            "files:read",
        ),
    ];
    for (name, assertion, extra, scope) in cases {
        let resp = trade(&app, "ema", &assertion, &extra).await;
        assert_eq!(resp.status(), 200, "{name}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["scope"], scope, "{name}");
        assert_eq!(
            payload(body["access_token"].as_str().unwrap())["aud"],
            RESOURCE,
            "{name}"
        );
    }
}

fn patched(now: i64, name: &str, value: Value) -> Value {
    let mut c = claims(now);
    if value.is_null() {
        c.as_object_mut().unwrap().remove(name);
    } else {
        c[name] = value;
    }
    c
}

#[tokio::test]
async fn every_refusal_is_invalid_grant_with_its_reason() {
    let idps = idps(vec![]);
    let app = idps.spawn(&[]).await;
    let t = now(&app);
    let header = |name: &str, value: Value| {
        let mut h = idps.main.header();
        if value.is_null() {
            h.as_object_mut().unwrap().remove(name);
        } else {
            h[name] = value;
        }
        h
    };
    let good = idps.main.sign(&claims(t));
    let mut tampered: Vec<&str> = good.split('.').collect();
    let other_payload = URL_SAFE_NO_PAD.encode(patched(t, "sub", json!("mallory")).to_string());
    tampered[1] = &other_payload;
    let tampered = tampered.join(".");
    let unsigned = {
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.c2ln",
            b64(&json!({"alg": "none", "typ": "oauth-id-jag+jwt"})),
            b64(&claims(t))
        )
    };
    let hs256 = {
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.c2ln",
            b64(&json!({"alg": "HS256", "kid": "idp-1", "typ": "oauth-id-jag+jwt"})),
            b64(&claims(t))
        )
    };
    let sign = |c: Value| idps.main.sign(&c);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "typ missing",
            idps.main.sign_with(&header("typ", Value::Null), &claims(t)),
            "typ",
        ),
        (
            "typ JWT",
            idps.main
                .sign_with(&header("typ", json!("JWT")), &claims(t)),
            "typ",
        ),
        (
            "typ at+jwt",
            idps.main
                .sign_with(&header("typ", json!("at+jwt")), &claims(t)),
            "typ",
        ),
        ("alg none", unsigned, "alg_not_allowed"),
        ("alg HS256", hs256, "alg_not_allowed"),
        (
            "alg not allowed",
            idps.main
                .sign_with(&header("alg", json!("RS512")), &claims(t)),
            "alg_not_allowed",
        ),
        ("bad signature", tampered, "bad_signature"),
        (
            "unknown kid",
            idps.main
                .sign_with(&header("kid", json!("nope")), &claims(t)),
            "unknown_kid",
        ),
        (
            "untrusted iss",
            sign(patched(t, "iss", json!("https://evil.example"))),
            "untrusted_issuer",
        ),
        (
            "iss missing",
            sign(patched(t, "iss", Value::Null)),
            "untrusted_issuer",
        ),
        (
            "another issuer's key",
            idps.other.sign(&claims(t)),
            "unknown_kid",
        ),
        (
            "aud other",
            sign(patched(t, "aud", json!("https://other.example"))),
            "aud",
        ),
        (
            "aud two",
            sign(patched(t, "aud", json!([ISSUER, "https://other.example"]))),
            "aud",
        ),
        (
            "client_id missing",
            sign(patched(t, "client_id", Value::Null)),
            "client_id",
        ),
        (
            "client_id other",
            sign(patched(t, "client_id", json!("vouched"))),
            "client_id",
        ),
        (
            "resource missing",
            sign(patched(t, "resource", Value::Null)),
            "resource",
        ),
        (
            "resource other",
            sign(patched(t, "resource", json!("https://x.example/mcp"))),
            "resource",
        ),
        (
            "unknown scope",
            sign(patched(t, "scope", json!("notes:read root"))),
            "unknown_scope",
        ),
        (
            "no scope",
            sign(patched(t, "scope", Value::Null)),
            "no_scope",
        ),
        (
            "exp past",
            sign(patched(t, "exp", json!(t - 31))),
            "expired",
        ),
        (
            "too long",
            sign(patched(t, "exp", json!(t + 301))),
            "too_long",
        ),
        (
            "iat future",
            sign(patched(t, "iat", json!(t + 31))),
            "not_yet_valid",
        ),
        (
            "nbf future",
            sign(patched(t, "nbf", json!(t + 31))),
            "not_yet_valid",
        ),
        ("sub missing", sign(patched(t, "sub", Value::Null)), "sub"),
        (
            "jti missing",
            sign(patched(t, "jti", Value::Null)),
            "jti_missing",
        ),
        (
            "iat missing",
            sign(patched(t, "iat", Value::Null)),
            "iat_missing",
        ),
        ("JWE", "a.b.c.d.e".to_owned(), "encrypted"),
        ("malformed", "not-a-jwt".to_owned(), "malformed"),
    ];
    for (name, assertion, label) in &cases {
        let resp = trade(&app, "ema", assertion, &[]).await;
        assert_eq!(resp.status(), 400, "{name}");
        assert_eq!(resp.headers()["cache-control"], "no-store", "{name}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant", "{name}: {body}");
        let text = metrics(&app).await;
        assert!(
            text.contains(&format!("auth_proxy_idjag_total{{outcome=\"{label}\"}}")),
            "{name}: no {label} in {text}"
        );
    }
    // Requested scope outside the ID-JAG's: the intersection is empty.
    let resp = trade(&app, "ema", &sign(claims(t)), &[("scope", "calendar:read")]).await;
    assert_eq!(error_code(resp).await, "invalid_grant");
    // Request-level errors keep their own codes.
    let resp = trade(&app, "ema", &"a".repeat(9000), &[]).await;
    assert_eq!(error_code(resp).await, "invalid_request");
    let resp = app
        .token(&[
            ("grant_type", GRANT),
            ("client_id", "ema"),
            ("client_secret", SECRET),
        ])
        .await;
    assert_eq!(error_code(resp).await, "invalid_request");
}

#[tokio::test]
async fn a_jti_buys_one_token_and_a_refused_request_does_not_spend_it() {
    let idps = idps(vec![]);
    let app = idps.spawn(&[]).await;
    let t = now(&app);
    let c = claims(t);
    // Refused (other resource requested): the jti is still unused.
    let mut two = c.clone();
    two["resource"] = json!([RESOURCE]);
    let resp = trade(
        &app,
        "ema",
        &idps.main.sign(&c),
        &[("scope", "calendar:read")],
    )
    .await;
    assert_eq!(error_code(resp).await, "invalid_grant");
    let assertion = idps.main.sign(&c);
    assert_eq!(trade(&app, "ema", &assertion, &[]).await.status(), 200);
    let resp = trade(&app, "ema", &assertion, &[]).await;
    assert_eq!(error_code(resp).await, "invalid_grant");
    // The same jti in a new assertion is a replay too (scoped by issuer).
    let resp = trade(&app, "ema", &idps.main.sign(&two), &[]).await;
    assert_eq!(error_code(resp).await, "invalid_grant");
    assert!(metrics(&app)
        .await
        .contains("auth_proxy_idjag_total{outcome=\"replayed\"} 2"));
}

#[tokio::test]
async fn which_clients_may_use_the_grant() {
    let idps = idps(vec![]);
    let app = idps.spawn(&[]).await;
    let t = now(&app);
    let for_client = |id: &str| idps.main.sign(&patched(t, "client_id", json!(id)));
    let resp = trade(&app, "ema-nogrant", &for_client("ema-nogrant"), &[]).await;
    assert_eq!(error_code(resp).await, "unauthorized_client");
    // The issuer's entry vouches for it.
    assert_eq!(
        trade(&app, "vouched", &for_client("vouched"), &[])
            .await
            .status(),
        200
    );
    let resp = app
        .token(&[
            ("grant_type", GRANT),
            ("assertion", &for_client("ema-public")),
            ("client_id", "ema-public"),
        ])
        .await;
    assert_eq!(error_code(resp).await, "unauthorized_client");
    // Unless the operator lets public clients in.
    let app = idps
        .spawn(&[("AUTH_PROXY_IDJAG_PUBLIC_CLIENTS", "true")])
        .await;
    let resp = app
        .token(&[
            ("grant_type", GRANT),
            ("assertion", &for_client("ema-public")),
            ("client_id", "ema-public"),
        ])
        .await;
    assert_eq!(resp.status(), 200);
    // A wrong secret is a client authentication failure, as for every grant.
    let resp = app
        .token(&[
            ("grant_type", GRANT),
            ("assertion", &for_client("ema")),
            ("client_id", "ema"),
            ("client_secret", "wrong"),
        ])
        .await;
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn advertised_only_when_issuers_are_configured_and_never_listing_them() {
    let app = spawn_app().await;
    let metadata = app.metadata().await;
    assert!(!metadata["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(GRANT)));
    assert!(metadata
        .get("authorization_grant_profiles_supported")
        .is_none());
    let resp = app
        .token(&[("grant_type", GRANT), ("assertion", "a.b.c")])
        .await;
    assert_eq!(error_code(resp).await, "unsupported_grant_type");

    let idps = idps(vec![]);
    let app = idps.spawn(&[]).await;
    let metadata = app.metadata().await;
    assert!(metadata["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(GRANT)));
    assert_eq!(
        metadata["authorization_grant_profiles_supported"],
        json!([PROFILE])
    );
    let text = metadata.to_string();
    assert!(!text.contains("idp.example"), "{text}");
}

#[tokio::test]
async fn an_enterprise_grant_has_no_nextcloud_credential_to_exchange() {
    let idps = idps(vec![]);
    for (strategy, says) in [
        ("bearer", "no upstream token"),
        ("app-password", "/connections"),
    ] {
        let app = idps
            .spawn(&[
                (
                    "AUTH_PROXY_EXCHANGE_CLIENT_SECRET",
                    "exchange-secret-0123456789",
                ),
                ("AUTH_PROXY_NEXTCLOUD_CREDENTIALS", strategy),
                ("AUTH_PROXY_NEXTCLOUD_URL", "http://127.0.0.1:9"),
            ])
            .await;
        let resp = trade(&app, "ema", &idps.main.sign(&claims(now(&app))), &[]).await;
        let body: Value = resp.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap();
        let resp = app
            .http
            .post(app.url("/token"))
            .basic_auth("mcp-server", Some("exchange-secret-0123456789"))
            .form(&[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", token),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{strategy}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant", "{strategy}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(says), "{strategy}: {description}");
    }
}

#[derive(Clone, Default)]
struct Served {
    keys: Arc<Mutex<Vec<Value>>>,
    hits: Arc<Mutex<usize>>,
}

async fn serve_keys(_req: HttpRequest, served: web::Data<Served>) -> HttpResponse {
    *served.hits.lock().unwrap() += 1;
    HttpResponse::Ok().json(json!({ "keys": *served.keys.lock().unwrap() }))
}

/// A loopback IdP serving its key set at `/jwks`; its issuer is its own base URL.
fn key_host() -> (String, Served) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let served = Served::default();
    let s = served.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(s.clone()))
            .default_service(web::to(serve_keys))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (base, served)
}

#[tokio::test]
async fn remote_keys_are_cached_and_refetched_once_per_cooldown_for_an_unknown_kid() {
    let (base, served) = key_host();
    let k1 = Signer::es256("k1");
    let k2 = Signer::es256("k2");
    let k3 = Signer::es256("k3");
    served.keys.lock().unwrap().push(k1.public.clone());
    let idps = idps(vec![
        json!({ "issuer": base, "jwks_uri": format!("{base}/jwks") }),
    ]);
    let app = idps
        .spawn(&[("AUTH_PROXY_IDJAG_TEST_ALLOW_LOOPBACK", "true")])
        .await;
    let t = now(&app);
    let remote = |s: &Signer| s.sign(&patched(t, "iss", json!(base)));
    assert_eq!(trade(&app, "ema", &remote(&k1), &[]).await.status(), 200);
    assert_eq!(trade(&app, "ema", &remote(&k1), &[]).await.status(), 200);
    assert_eq!(*served.hits.lock().unwrap(), 1, "cached");
    // The IdP rotates: an unknown kid fetches the set again, once.
    served.keys.lock().unwrap().push(k2.public.clone());
    assert_eq!(trade(&app, "ema", &remote(&k2), &[]).await.status(), 200);
    assert_eq!(*served.hits.lock().unwrap(), 2);
    // Within the cooldown, a kid the cache does not know costs no fetch.
    served.keys.lock().unwrap().push(k3.public.clone());
    let resp = trade(&app, "ema", &remote(&k3), &[]).await;
    assert_eq!(error_code(resp).await, "invalid_grant");
    assert_eq!(*served.hits.lock().unwrap(), 2);
    // After it, one refetch finds the new key.
    app.clock.advance_secs(61);
    let t = now(&app);
    let resp = trade(&app, "ema", &k3.sign(&patched(t, "iss", json!(base))), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(*served.hits.lock().unwrap(), 3);
}

#[tokio::test]
async fn bad_issuer_files_stop_the_start_naming_the_variable() {
    let idps = idps(vec![]);
    let cases = [
        (json!([]), "names no issuer"),
        (
            json!([{ "issuer": "http://idp.example", "jwks_file": "idp.jwks.json" }]),
            "must be https",
        ),
        (
            json!([{ "issuer": "http://127.0.0.1:9", "jwks_file": "idp.jwks.json" }]),
            "must be https",
        ),
        (
            json!([{ "issuer": IDP }]),
            "exactly one of jwks_uri and jwks_file",
        ),
        (
            json!([{ "issuer": IDP, "jwks_file": "idp.jwks.json", "jwks_uri": "https://idp.example/jwks" }]),
            "exactly one",
        ),
        (
            json!([{ "issuer": IDP, "jwks_file": "idp.jwks.json", "algs": ["HS256"] }]),
            "HS256",
        ),
        (
            json!([{ "issuer": IDP, "jwks_file": "idp.jwks.json", "algs": ["ES384"] }]),
            "ES384",
        ),
        (
            json!([{ "issuer": IDP, "jwks_file": "missing.json" }]),
            "missing.json",
        ),
        (
            json!([{ "issuer": IDP, "jwks_file": "idp.jwks.json" }, { "issuer": IDP, "jwks_file": "idp.jwks.json" }]),
            "listed twice",
        ),
        (
            json!([{ "issuer": IDP, "jwks_file": "idp.jwks.json", "subject": "x" }]),
            "unknown field",
        ),
    ];
    for (file, says) in cases {
        std::fs::write(idps.dir.join("bad.json"), file.to_string()).unwrap();
        let mut vars: HashMap<String, String> = [
            ("AUTH_PROXY_ISSUER", ISSUER),
            ("AUTH_PROXY_BIND", "127.0.0.1:0"),
            ("AUTH_PROXY_METRICS_BIND", "127.0.0.1:0"),
            ("AUTH_PROXY_UPSTREAM_ISSUER", "http://127.0.0.1:9"),
            ("AUTH_PROXY_UPSTREAM_CLIENT_ID", "proxy"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        vars.insert(
            "AUTH_PROXY_IDJAG_ISSUERS_FILE".into(),
            idps.path("bad.json"),
        );
        let config = auth_proxy::config::Config::from_vars(&vars).unwrap();
        let clock: Arc<dyn auth_proxy::clock::Clock> = Arc::new(auth_proxy::clock::SystemClock);
        let built = auth_proxy::startup::Application::build_with(
            config,
            auth_proxy::startup::Dependencies {
                store: Arc::new(auth_proxy::store::MemoryStore::new(clock.clone())),
                upstream: Arc::new(FakeUpstream::default()),
                clock,
                dns: Arc::new(FakeDns::default()),
            },
        )
        .await;
        let message = format!("{:#}", built.err().expect("the start must fail"));
        assert!(
            message.starts_with("AUTH_PROXY_IDJAG_ISSUERS_FILE: "),
            "{message}"
        );
        assert!(message.contains(says), "{says}: {message}");
    }
    // The variables themselves.
    for (name, value) in [
        ("AUTH_PROXY_IDJAG_ALGS", "HS256"),
        ("AUTH_PROXY_IDJAG_ALGS", "none"),
        ("AUTH_PROXY_IDJAG_MAX_LIFETIME_SECS", "5"),
        ("AUTH_PROXY_IDJAG_MAX_LIFETIME_SECS", "7200"),
        ("AUTH_PROXY_IDJAG_PUBLIC_CLIENTS", "maybe"),
        ("AUTH_PROXY_IDJAG_ISSUERS_FILE", " "),
    ] {
        let vars: HashMap<String, String> = [
            ("AUTH_PROXY_UPSTREAM_ISSUER", "http://127.0.0.1:9"),
            ("AUTH_PROXY_UPSTREAM_CLIENT_ID", "proxy"),
            (name, value),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let e = auth_proxy::config::Config::from_vars(&vars).expect_err(name);
        assert!(e.to_string().contains(name), "{e}");
    }
}

/// Two replicas sharing one Redis: an ID-JAG spent at one is a replay at the other.
#[tokio::test]
async fn a_replay_at_another_replica_is_refused() {
    let idps = idps(vec![]);
    let prefix = format!("idjag-{}", auth_proxy::crypto::random_token(6));
    let mut apps = Vec::new();
    for _ in 0..2 {
        let mut vars: HashMap<String, String> = [
            ("AUTH_PROXY_ISSUER", ISSUER),
            ("AUTH_PROXY_BIND", "127.0.0.1:0"),
            ("AUTH_PROXY_METRICS_BIND", "127.0.0.1:0"),
            ("AUTH_PROXY_RESOURCES", RESOURCE),
            ("AUTH_PROXY_UPSTREAM_ISSUER", "http://127.0.0.1:9"),
            ("AUTH_PROXY_UPSTREAM_CLIENT_ID", "proxy"),
            ("AUTH_PROXY_SHUTDOWN_TIMEOUT_SECS", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        vars.extend(idps.vars());
        let config = auth_proxy::config::Config::from_vars(&vars).unwrap();
        let store = auth_proxy::store::RedisStore::connect(crate::redis_server::url(), &prefix)
            .await
            .unwrap();
        let app = auth_proxy::startup::Application::build_with(
            config,
            auth_proxy::startup::Dependencies {
                store: Arc::new(store),
                upstream: Arc::new(FakeUpstream::default()),
                clock: Arc::new(auth_proxy::clock::SystemClock),
                dns: Arc::new(FakeDns::default()),
            },
        )
        .await
        .unwrap();
        apps.push(format!("http://127.0.0.1:{}", app.port()));
        tokio::spawn(app.run_until_stopped());
    }
    let t = {
        use auth_proxy::clock::Clock;
        auth_proxy::clock::SystemClock.now()
    };
    let assertion = idps.main.sign(&claims(t));
    let mut statuses = Vec::new();
    for address in &apps {
        let resp = reqwest::Client::new()
            .post(format!("{address}/token"))
            .form(&[
                ("grant_type", GRANT),
                ("assertion", assertion.as_str()),
                ("client_id", "ema"),
                ("client_secret", SECRET),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, [200, 400]);
}

#[tokio::test]
async fn the_access_policy_applies_to_the_assertion_subject_before_its_jti_is_spent() {
    let idps = idps(vec![]);
    let app = idps
        .spawn(&[
            ("AUTH_PROXY_POLICY_ALLOWED_GROUPS", "staff"),
            ("AUTH_PROXY_POLICY_ALLOWED_EMAIL_DOMAINS", "example.org"),
        ])
        .await;
    let t = now(&app);
    let with = |pairs: &[(&str, Value)]| {
        let mut c = claims(t);
        for (k, v) in pairs {
            c[*k] = v.clone();
        }
        c
    };
    let first = with(&[]);
    let refused = [
        (first.clone(), "policy_email_domain"),
        (with(&[("groups", json!(["other"]))]), "policy_email_domain"),
        (
            with(&[
                ("email", json!("a@example.org")),
                ("email_verified", json!("true")),
            ]),
            "policy_email_unverified",
        ),
    ];
    for (c, reason) in &refused {
        let resp = trade(&app, "ema", &idps.main.sign(c), &[]).await;
        assert_eq!(error_code(resp).await, "invalid_grant", "{reason}");
        let text = metrics(&app).await;
        assert!(
            text.contains(&format!("auth_proxy_denials_total{{reason=\"{reason}\"}}")),
            "{text}"
        );
    }
    // The refusal did not spend the jti: in the group, the same jti buys a token.
    let in_group = with(&[("groups", json!(["staff"])), ("jti", first["jti"].clone())]);
    assert_eq!(
        trade(&app, "ema", &idps.main.sign(&in_group), &[])
            .await
            .status(),
        200
    );
    let verified = with(&[
        ("email", json!("a@Example.org")),
        ("email_verified", json!(true)),
    ]);
    assert_eq!(
        trade(&app, "ema", &idps.main.sign(&verified), &[])
            .await
            .status(),
        200
    );
    let text = metrics(&app).await;
    assert!(
        text.contains("auth_proxy_denials_total{reason=\"policy_email_domain\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("auth_proxy_denials_total{reason=\"policy_email_unverified\"} 1"),
        "{text}"
    );
}
