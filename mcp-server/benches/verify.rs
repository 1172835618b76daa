//! Access-token validation cost (DESIGN target: under 50 µs): header parse, kid lookup, ES256
//! signature check, claim checks — what every authenticated MCP request pays.
//!
//!     cargo bench -p mcp-server --bench verify
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcp_server::auth::jwks::{parse_jwks, JwksCache};
use mcp_server::auth::Verifier;
use mcp_server::metrics::Metrics;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://mcp.example.com/mcp";

fn setup() -> (Verifier, String, Vec<u8>) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "k1",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    }]});
    let keys = parse_jwks(jwks.to_string().as_bytes()).unwrap();
    let cache = Arc::new(JwksCache::with_keys(keys, Metrics::new().unwrap()));
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "client_id": "client-1",
        "scope": "notes:read notes:write files:read", "iat": now, "nbf": now,
        "exp": now + 3600, "jti": "jti-1", "gid": "grant-1",
    });
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("k1".into());
    let token =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(pkcs8.as_ref())).unwrap();
    let verifier = Verifier {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway: 30,
        jwks: cache,
    };
    (verifier, token, point.to_vec())
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (verifier, token, public_point) = setup();
    let now = chrono::Utc::now().timestamp();
    runtime.block_on(async {
        verifier.verify(&token, now).await.unwrap();
    });
    c.bench_function("verify ES256 access token", |b| {
        b.to_async(&runtime)
            .iter(|| async { verifier.verify(&token, now).await.unwrap() })
    });
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    c.bench_function("refuse a token with a bad signature", |b| {
        b.to_async(&runtime)
            .iter(|| async { verifier.verify(&tampered, now).await.unwrap_err() })
    });

    // The floor: the P-256 signature check alone, as ring does it, on the same token.
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        public_point,
    );
    c.bench_function("ES256 signature check alone (ring)", |b| {
        b.iter(|| public.verify(signing_input.as_bytes(), &signature).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
