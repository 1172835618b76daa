use jsonwebtoken::EncodingKey;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;

use super::*;

const RSA_PEM: &str = include_str!("../../tests/fixtures/client-assertion-rs256.pem");
const RSA_JWK: &str = include_str!("../../tests/fixtures/client-assertion-rs256.jwk.json");

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// A signer whose header is whatever the test says.
struct Signer {
    key: EncodingKey,
    alg: Algorithm,
    public: Value,
}

impl Signer {
    fn rsa() -> Self {
        Self {
            key: EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap(),
            alg: Algorithm::RS256,
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

    fn kid(&self) -> &str {
        self.public["kid"].as_str().unwrap()
    }

    fn header(&self) -> Value {
        json!({ "alg": alg_name(self.alg), "kid": self.kid(), "typ": "JWT" })
    }

    fn sign_with(&self, header: &Value, claims: &Value) -> String {
        let message = format!("{}.{}", b64(header), b64(claims));
        let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &self.key, self.alg).unwrap();
        format!("{message}.{sig}")
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_with(&self.header(), claims)
    }

    fn set(&self) -> Jwks {
        Jwks::parse(&json!({ "keys": [self.public] })).unwrap()
    }
}

fn claims() -> Value {
    json!({ "iss": "c", "sub": "c", "aud": "https://as.example", "exp": 2000, "jti": "j" })
}

#[test]
fn good_signatures_of_each_key_type_verify() {
    for signer in [
        Signer::rsa(),
        Signer::es256("ec-1"),
        Signer::ed25519("ed-1"),
    ] {
        let token = signer.sign(&claims());
        let verified = verify(&token, &signer.set(), ASYMMETRIC_ALGS, None).unwrap();
        assert_eq!(verified.alg, signer.alg);
        assert_eq!(verified.kid.as_deref(), Some(signer.kid()));
        assert_eq!(Value::Object(verified.claims), claims());
    }
}

#[test]
fn a_changed_payload_or_another_key_fails() {
    let signer = Signer::es256("k");
    let token = signer.sign(&claims());
    let [h, _, s] = segments(&token).unwrap();
    let forged = format!("{h}.{}.{s}", b64(&json!({ "iss": "evil" })));
    assert_eq!(
        verify(&forged, &signer.set(), ASYMMETRIC_ALGS, None),
        Err(JoseError::BadSignature)
    );
    // Same kid, another key (the signer rotated, or someone guesses kids).
    let other = Signer::es256("k");
    assert_eq!(
        verify(&token, &other.set(), ASYMMETRIC_ALGS, None),
        Err(JoseError::BadSignature)
    );
}

#[test]
fn none_and_hmac_are_never_accepted() {
    let signer = Signer::rsa();
    let body = b64(&claims());
    let none = format!("{}.{body}.", b64(&json!({ "alg": "none" })));
    assert!(verify(&none, &signer.set(), ASYMMETRIC_ALGS, None).is_err());
    let none_sig = format!(
        "{}.{body}.AAAA",
        b64(&json!({ "alg": "none", "kid": "rs-1" }))
    );
    assert_eq!(
        verify(&none_sig, &signer.set(), ASYMMETRIC_ALGS, None),
        Err(JoseError::AlgorithmNotAllowed)
    );
    // HS256 "signed" with the public key's bytes: the confusion attack.
    let header = json!({ "alg": "HS256", "kid": "rs-1" });
    let message = format!("{}.{body}", b64(&header));
    let secret = EncodingKey::from_secret(RSA_JWK.as_bytes());
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &secret, Algorithm::HS256).unwrap();
    assert_eq!(
        verify(
            &format!("{message}.{sig}"),
            &signer.set(),
            ASYMMETRIC_ALGS,
            None
        ),
        Err(JoseError::AlgorithmNotAllowed)
    );
    assert_eq!(parse_asymmetric_alg("HS256"), None);
    assert_eq!(parse_asymmetric_alg("none"), None);
}

#[test]
fn an_algorithm_outside_the_allow_list_is_refused() {
    let signer = Signer::es256("k");
    let token = signer.sign(&claims());
    assert_eq!(
        verify(&token, &signer.set(), &[Algorithm::RS256], None),
        Err(JoseError::AlgorithmNotAllowed)
    );
}

#[test]
fn header_rules() {
    let signer = Signer::es256("k");
    let with = |extra: Value| {
        let mut h = signer.header();
        h.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        signer.sign_with(&h, &claims())
    };
    let set = signer.set();
    let check = |t: &str| verify(t, &set, ASYMMETRIC_ALGS, None);
    assert_eq!(
        check(&with(json!({ "crit": ["exp"] }))),
        Err(JoseError::Critical)
    );
    for m in ["jwk", "jku", "x5u", "x5c"] {
        assert_eq!(
            check(&with(json!({ m: "https://evil.example/keys" }))),
            Err(JoseError::EmbeddedKey),
            "{m}"
        );
    }
    assert_eq!(
        check(&with(json!({ "kid": "nope" }))),
        Err(JoseError::UnknownKey)
    );
    assert_eq!(
        check(&with(json!({ "kid": 7 }))),
        Err(JoseError::Malformed("kid is not a string"))
    );
    // No kid: the only key of the algorithm's type.
    let no_kid = signer.sign_with(&json!({ "alg": "ES256" }), &claims());
    assert!(check(&no_kid).is_ok());
    // typ, when the caller expects one.
    let typed = with(json!({ "typ": "Application/Oauth-Id-Jag+JWT" }));
    assert!(verify(&typed, &set, ASYMMETRIC_ALGS, Some("oauth-id-jag+jwt")).is_ok());
    assert_eq!(
        verify(
            &with(json!({})),
            &set,
            ASYMMETRIC_ALGS,
            Some("oauth-id-jag+jwt")
        ),
        Err(JoseError::WrongType)
    );
}

#[test]
fn without_a_kid_two_fitting_keys_are_ambiguous() {
    let a = Signer::es256("a");
    let b = Signer::es256("b");
    let set = Jwks::parse(&json!({ "keys": [a.public, b.public] })).unwrap();
    let token = a.sign_with(&json!({ "alg": "ES256" }), &claims());
    assert_eq!(
        verify(&token, &set, ASYMMETRIC_ALGS, None),
        Err(JoseError::AmbiguousKey)
    );
    assert!(verify(&a.sign(&claims()), &set, ASYMMETRIC_ALGS, None).is_ok());
    assert!(verify(&b.sign(&claims()), &set, ASYMMETRIC_ALGS, None).is_ok());
}

#[test]
fn a_key_stating_its_alg_is_used_with_that_alg_only() {
    let signer = Signer::rsa();
    let mut public = signer.public.clone();
    public["alg"] = json!("PS256");
    let set = Jwks::parse(&json!({ "keys": [public] })).unwrap();
    assert_eq!(
        verify(&signer.sign(&claims()), &set, ASYMMETRIC_ALGS, None),
        Err(JoseError::KeyAlgorithmMismatch)
    );
    // An EC key named by kid for an RSA algorithm.
    let ec = Signer::es256("rs-1");
    assert_eq!(
        verify(&signer.sign(&claims()), &ec.set(), ASYMMETRIC_ALGS, None),
        Err(JoseError::KeyAlgorithmMismatch)
    );
}

#[test]
fn shape_and_size() {
    let set = Signer::es256("k").set();
    let check = |t: &str| verify(t, &set, ASYMMETRIC_ALGS, None);
    assert_eq!(check("a.b.c.d.e"), Err(JoseError::Encrypted));
    assert!(matches!(check("a.b"), Err(JoseError::Malformed(_))));
    assert!(matches!(check("..."), Err(JoseError::Malformed(_))));
    assert!(matches!(check("!!.b.c"), Err(JoseError::Malformed(_))));
    let huge = format!("{}.{}.c", "a".repeat(MAX_JWT_BYTES), "b");
    assert_eq!(check(&huge), Err(JoseError::TooLarge));
    let enc_header = format!(
        "{}.{}.c",
        b64(&json!({"alg": "ES256", "enc": "A256GCM"})),
        "e30"
    );
    assert_eq!(check(&enc_header), Err(JoseError::Encrypted));
}

#[test]
fn key_sets_hold_public_signing_keys_only() {
    let rsa: Value = serde_json::from_str(RSA_JWK).unwrap();
    let with = |patch: Value| {
        let mut k = rsa.clone();
        k.as_object_mut()
            .unwrap()
            .extend(patch.as_object().unwrap().clone());
        Jwks::parse(&json!({ "keys": [k] }))
    };
    assert!(with(json!({})).is_ok());
    assert_eq!(
        with(json!({ "d": "AAAA" })),
        Err(JwksError::PrivateMaterial(0))
    );
    assert_eq!(
        with(json!({ "use": "enc" })),
        Err(JwksError::NotForSigning(0))
    );
    assert_eq!(
        with(json!({ "alg": "RSA-OAEP" })),
        Err(JwksError::KeyAlgorithm(0))
    );
    assert_eq!(
        with(json!({ "alg": "ES256" })),
        Err(JwksError::KeyAlgorithm(0))
    );
    assert_eq!(
        with(json!({ "n": URL_SAFE_NO_PAD.encode([0xc5u8; 128]) })),
        Err(JwksError::WeakKey(0))
    );
    assert_eq!(
        Jwks::parse(&json!({ "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] })),
        Err(JwksError::PrivateMaterial(0))
    );
    assert_eq!(
        Jwks::parse(&json!({ "keys": [{ "kty": "oct", "kid": "x" }] })),
        Err(JwksError::UnsupportedKey(0))
    );
    let mut p521 = Signer::es256("k").public;
    p521["crv"] = json!("P-521");
    assert!(Jwks::parse(&json!({ "keys": [p521] })).is_err());
    assert_eq!(Jwks::parse(&json!({ "keys": [] })), Err(JwksError::NotASet));
    assert_eq!(Jwks::parse(&json!([rsa])), Err(JwksError::NotASet));
    assert_eq!(
        Jwks::parse(&json!({ "keys": [rsa, rsa] })),
        Err(JwksError::DuplicateKid)
    );
    let many: Vec<Value> = (0..=MAX_KEYS)
        .map(|i| Signer::es256(&format!("k{i}")).public)
        .collect();
    assert_eq!(
        Jwks::parse(&json!({ "keys": many })),
        Err(JwksError::TooManyKeys)
    );
    // A coordinate of the wrong length for its curve.
    let mut bad = Signer::es256("k").public;
    bad["x"] = json!(URL_SAFE_NO_PAD.encode([1u8; 48]));
    assert_eq!(
        Jwks::parse(&json!({ "keys": [bad] })),
        Err(JwksError::Malformed(0))
    );
}

#[test]
fn debug_shows_key_ids_only() {
    let set = Signer::rsa().set();
    let text = format!("{set:?}");
    assert!(text.contains("rs-1") && !text.contains("\"n\""), "{text}");
}

#[test]
fn time_rules() {
    let rules = TimeRules {
        now: 1000,
        leeway_secs: 30,
        max_lifetime_secs: 300,
    };
    let at = |c: Value| check_times(c.as_object().unwrap(), rules);
    assert_eq!(at(json!({ "exp": 1300 })), Ok(300));
    assert_eq!(at(json!({ "exp": 1300.5 })), Ok(300));
    assert_eq!(at(json!({ "exp": 1301 })), Err(TimeError::TooLong));
    assert_eq!(at(json!({})), Err(TimeError::MissingExp));
    assert_eq!(
        at(json!({ "exp": "1300" })),
        Err(TimeError::NotANumber("exp"))
    );
    // Expired, within the leeway, exactly at its edge.
    assert_eq!(at(json!({ "exp": 980 })), Ok(0));
    assert_eq!(at(json!({ "exp": 970 })), Err(TimeError::Expired));
    for name in ["nbf", "iat"] {
        assert_eq!(at(json!({ "exp": 1100, name: 1030 })), Ok(100), "{name}");
        assert_eq!(
            at(json!({ "exp": 1100, name: 1031 })),
            Err(TimeError::NotYetValid),
            "{name}"
        );
    }
}
