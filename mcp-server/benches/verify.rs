//! Access-token validation cost (DESIGN target: under 50 µs): header parse, kid lookup,
//! signature check, claim checks — what every authenticated MCP request pays. Once for each
//! algorithm the auth-proxy can sign with (ES256, EdDSA), each next to the bare `ring` signature
//! check, the floor no validation with that algorithm can go under; and the same token served
//! from the verified-token cache (what a client reusing its token pays after the first request).
//!
//!     cargo bench -p mcp-server --bench verify
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcp_server::auth::cache::CachedVerifier;
use mcp_server::auth::jwks::{parse_jwks, JwksCache};
use mcp_server::auth::Verifier;
use mcp_server::metrics::Metrics;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, UnparsedPublicKey, VerificationAlgorithm,
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519,
};
use serde_json::{json, Value};

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://mcp.example.com/mcp";

/// A signing key as the auth-proxy holds it, and its JWK as the auth-proxy publishes it.
struct Key {
    algorithm: Algorithm,
    name: &'static str,
    encoding: EncodingKey,
    jwk: Value,
    public: Vec<u8>,
    ring_algorithm: &'static dyn VerificationAlgorithm,
}

fn es256_key() -> Key {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    Key {
        algorithm: Algorithm::ES256,
        name: "ES256",
        encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwk: json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "k1",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }),
        public: point.to_vec(),
        ring_algorithm: &ECDSA_P256_SHA256_FIXED,
    }
}

fn eddsa_key() -> Key {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let public = pair.public_key().as_ref();
    Key {
        algorithm: Algorithm::EdDSA,
        name: "EdDSA",
        encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
        jwk: json!({
            "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": "k1",
            "x": URL_SAFE_NO_PAD.encode(public),
        }),
        public: public.to_vec(),
        ring_algorithm: &ED25519,
    }
}

/// A verifier holding `key`'s JWKS, the same behind the token cache, and an access token
/// signed with `key`.
fn setup(key: &Key) -> (Verifier, CachedVerifier, String) {
    let jwks = json!({ "keys": [key.jwk] });
    let keys = parse_jwks(jwks.to_string().as_bytes()).unwrap();
    assert_eq!(keys["k1"].algorithm, key.algorithm);
    let cache = Arc::new(JwksCache::with_keys(keys, Metrics::new().unwrap()));
    let now = mcp_server::clock::now();
    let claims = json!({
        "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "client_id": "client-1",
        "scope": "notes:read notes:write files:read", "iat": now, "nbf": now,
        "exp": now + 3600, "jti": "jti-1", "gid": "grant-1",
    });
    let mut header = Header::new(key.algorithm);
    header.typ = Some("at+jwt".into());
    header.kid = Some("k1".into());
    let token = jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap();
    let verifier = |jwks: Arc<JwksCache>| Verifier {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway: 30,
        jwks,
    };
    let cached = CachedVerifier::new(verifier(cache.clone()), Metrics::new().unwrap());
    (verifier(cache), cached, token)
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = mcp_server::clock::now();
    for key in [es256_key(), eddsa_key()] {
        let name = key.name;
        let (verifier, cached, token) = setup(&key);
        runtime.block_on(async {
            verifier.verify(&token, now).await.unwrap();
            // The first use verifies fully and fills the cache.
            cached.verify(&token, now).await.unwrap();
        });
        c.bench_function(&format!("verify {name} access token"), |b| {
            b.to_async(&runtime)
                .iter(|| async { verifier.verify(&token, now).await.unwrap() })
        });
        c.bench_function(&format!("{name} access token from the cache"), |b| {
            b.to_async(&runtime)
                .iter(|| async { cached.verify(&token, now).await.unwrap() })
        });
        // Flip a bit inside the signature: changing its last base64url character instead may
        // make the encoding non-canonical, refused before any signature check is done.
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let mut signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        signature[0] ^= 1;
        let tampered = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&signature));
        runtime.block_on(async {
            verifier.verify(&tampered, now).await.unwrap_err();
        });
        c.bench_function(
            &format!("refuse a {name} token with a bad signature"),
            |b| {
                b.to_async(&runtime)
                    .iter(|| async { verifier.verify(&tampered, now).await.unwrap_err() })
            },
        );

        // The floor: the signature check alone, as ring does it, on the same token.
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let public = UnparsedPublicKey::new(key.ring_algorithm, &key.public);
        public.verify(signing_input.as_bytes(), &signature).unwrap();
        c.bench_function(&format!("{name} signature check alone (ring)"), |b| {
            b.iter(|| public.verify(signing_input.as_bytes(), &signature).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
