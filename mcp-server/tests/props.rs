//! Property tests (proptest) for what mcp-server parses from the network before it trusts
//! anything: the authorization server's JWK Set and the bearer tokens MCP clients present.
//! (The Nextcloud parsers' properties live next to them, in `src/nextcloud/props.rs`.)
//!
//! Each property is written down in its doc comment and holds for every input: no panic, and
//! the invariant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcp_server::auth::jwks::{parse_jwks, JwksCache};
use mcp_server::auth::Verifier;
use mcp_server::metrics::Metrics;
use proptest::prelude::*;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://mcp.example.com/mcp";
const NOW: i64 = 1_800_000_000;

/// A valid P-256 point (RFC 7517 appendix A.1).
const EC_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const EC_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

fn jwk() -> impl Strategy<Value = Value> {
    let opt_str = |values: Vec<&'static str>| {
        prop::option::of(prop_oneof![
            prop::sample::select(values).prop_map(str::to_owned),
            any::<String>(),
        ])
    };
    (
        opt_str(vec!["EC", "OKP", "RSA", "oct"]),
        opt_str(vec!["k1", "k2", ""]),
        opt_str(vec!["sig", "enc"]),
        opt_str(vec!["ES256", "EdDSA", "HS256", "none", "RS256"]),
        opt_str(vec!["P-256", "Ed25519", "P-384"]),
        opt_str(vec![
            EC_X,
            "AAAA",
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        ]),
        opt_str(vec![EC_Y, "AAAA", "!!"]),
        any::<bool>(),
    )
        .prop_map(|(kty, kid, use_, alg, crv, x, y, number_kid)| {
            let mut jwk = json!({});
            for (name, value) in [
                ("kty", kty),
                ("kid", kid),
                ("use", use_),
                ("alg", alg),
                ("crv", crv),
                ("x", x),
                ("y", y),
            ] {
                if let Some(v) = value {
                    jwk[name] = v.into();
                }
            }
            if number_kid {
                jwk["kid"] = 7.into();
            }
            jwk
        })
}

proptest! {
    /// `parse_jwks` never panics on any bytes; a key set it accepts keeps only signature keys
    /// (`use` absent or `sig`) with a `kid`, of the two kinds this server verifies: EC P-256 for
    /// ES256 and OKP Ed25519 for EdDSA, whose `alg`, if given, says the same. Never HMAC, RSA
    /// or `none`. A key it cannot read (no `kty`, a member of the wrong JSON type) is skipped;
    /// a set of keys is never refused because of one of them.
    #[test]
    fn jwks_keep_only_usable_signature_keys(
        keys in prop::collection::vec(jwk(), 0..5),
        garbage in any::<Vec<u8>>(),
    ) {
        let _ = parse_jwks(&garbage);
        let body = serde_json::to_vec(&json!({ "keys": keys })).unwrap();
        let parsed = parse_jwks(&body);
        prop_assert!(parsed.is_ok(), "a key set was refused as a whole");
        let parsed = parsed.unwrap();
        for (kid, key) in &parsed {
            let source = keys.iter().rev().find(|k| k["kid"].as_str() == Some(kid.as_str()));
            prop_assert!(source.is_some(), "key {kid:?} came from nowhere");
            let source = source.unwrap();
            prop_assert!(source["use"].is_null() || source["use"] == "sig");
            match key.algorithm {
                Algorithm::ES256 => {
                    prop_assert_eq!(&source["kty"], "EC");
                    prop_assert_eq!(&source["crv"], "P-256");
                    prop_assert!(source["alg"].is_null() || source["alg"] == "ES256");
                }
                Algorithm::EdDSA => {
                    prop_assert_eq!(&source["kty"], "OKP");
                    prop_assert_eq!(&source["crv"], "Ed25519");
                    prop_assert!(source["alg"].is_null() || source["alg"] == "EdDSA");
                }
                other => prop_assert!(false, "algorithm {other:?} accepted"),
            }
        }
    }
}

/// An Ed25519 key as the auth-proxy holds it, a verifier holding its JWKS, and a valid token.
struct Fixture {
    verifier: Verifier,
    encoding: EncodingKey,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> Fixture {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let jwks = json!({"keys": [{
        "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": "k1",
        "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
    }]});
    let keys = parse_jwks(jwks.to_string().as_bytes()).unwrap();
    let cache = Arc::new(JwksCache::with_keys(keys, Metrics::new().unwrap()));
    Fixture {
        verifier: Verifier {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            leeway: 30,
            jwks: cache,
        },
        encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    }
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "client_id": "c1",
        "scope": "notes:read", "gid": "g1", "jti": "j1",
        "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 600,
    })
}

fn sign(fixture: &Fixture, header_typ: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k1".into());
    header.typ = Some(header_typ.into());
    jsonwebtoken::encode(&header, claims, &fixture.encoding).unwrap()
}

fn token_part() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{0,40}",
        any::<Vec<u8>>().prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        any::<String>().prop_map(|s| URL_SAFE_NO_PAD.encode(s)),
        prop_oneof![
            Just(json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "k1"})),
            Just(json!({"alg": "none", "typ": "at+jwt", "kid": "k1"})),
            Just(json!({"alg": "HS256", "typ": "at+jwt", "kid": "k1"})),
            Just(json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "unknown"})),
            Just(json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1"})),
            Just(claims()),
        ]
        .prop_map(|v| URL_SAFE_NO_PAD.encode(v.to_string())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Token verification never panics and refuses everything that is not a token the
    /// authorization server signed: any text, three arbitrary (or header- and claims-shaped)
    /// base64url parts, and every one-character change of a valid token.
    #[test]
    fn only_signed_tokens_verify(
        text in any::<String>(),
        parts in prop::collection::vec(token_part(), 3),
        at in any::<prop::sample::Index>(),
        c in prop_oneof![
            prop::sample::select(vec!['A', 'a', '0', '-', '_', '.', '=', '+', '/']),
            any::<char>(),
        ],
    ) {
        let fixture = fixture();
        let verify = |token: &str| fixture.runtime.block_on(fixture.verifier.verify(token, NOW));
        prop_assert!(verify(&text).is_err());
        prop_assert!(verify(&parts.join(".")).is_err());
        let valid = sign(&fixture, "at+jwt", &claims());
        prop_assert!(verify(&valid).is_ok());
        let mut chars: Vec<char> = valid.chars().collect();
        let i = at.index(chars.len());
        prop_assume!(chars[i] != c);
        chars[i] = c;
        let mutated: String = chars.into_iter().collect();
        prop_assert!(verify(&mutated).is_err(), "{mutated} verified");
    }

    /// A token signed by the right key verifies only with the claims the resource server
    /// requires: any change to issuer, audience, expiry or not-before outside the leeway, or
    /// a `typ` other than `at+jwt`, is refused.
    #[test]
    fn signed_tokens_verify_only_with_valid_claims(
        iss in prop_oneof![Just(ISSUER.to_owned()), any::<String>()],
        aud in prop_oneof![Just(AUDIENCE.to_owned()), any::<String>()],
        exp in prop_oneof![Just(NOW + 600), (NOW - 1000)..(NOW + 1000)],
        nbf in prop::option::of(prop_oneof![Just(NOW - 10), (NOW - 1000)..(NOW + 1000)]),
        typ in prop_oneof![Just("at+jwt".to_owned()), Just("JWT".to_owned()), any::<String>()],
    ) {
        let fixture = fixture();
        let mut claims = claims();
        claims["iss"] = iss.clone().into();
        claims["aud"] = aud.clone().into();
        claims["exp"] = exp.into();
        match nbf {
            Some(nbf) => claims["nbf"] = nbf.into(),
            None => {
                claims.as_object_mut().unwrap().remove("nbf");
            }
        }
        let token = sign(&fixture, &typ, &claims);
        let result = fixture.runtime.block_on(fixture.verifier.verify(&token, NOW));
        if result.is_ok() {
            prop_assert_eq!(iss.as_str(), ISSUER);
            prop_assert_eq!(aud.as_str(), AUDIENCE);
            prop_assert!(exp + 30 > NOW, "expired token accepted");
            prop_assert!(nbf.is_none_or(|nbf| nbf - 30 <= NOW), "future token accepted");
            prop_assert!(typ == "at+jwt" || typ == "application/at+jwt");
        }
    }
}
