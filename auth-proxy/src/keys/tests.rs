use super::*;
use mcp_shared::ScopeSet;
use ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING;

/// RFC 8037 appendix A.1: an Ed25519 private key (`d`) and its public key (`x`); A.3 gives the
/// key's RFC 7638 thumbprint.
const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const RFC8037_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

/// DER prefix of an Ed25519 PKCS#8 v1 private key (what `openssl genpkey` writes), followed by
/// the 32-byte seed.
const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

fn pem(label: &str, der: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        STANDARD.encode(der)
    )
}

fn bundle(pems: &[&str]) -> String {
    pems.join("\n")
}

fn new_p256_pem() -> String {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .unwrap();
    pem("PRIVATE KEY", pkcs8.as_ref())
}

/// PKCS#8 v2 (with the public key), as ring writes it.
fn new_ed25519_pem() -> String {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    pem("PRIVATE KEY", pkcs8.as_ref())
}

/// The RFC 8037 key as PKCS#8 v1, the form `openssl genpkey -algorithm ed25519` writes.
fn rfc8037_pem() -> String {
    let mut der = ED25519_PKCS8_V1_PREFIX.to_vec();
    der.extend(URL_SAFE_NO_PAD.decode(RFC8037_D).unwrap());
    pem("PRIVATE KEY", &der)
}

/// The `PUBLIC KEY` block (SPKI) of a private key PEM, as `openssl pkey -pubout` writes it.
fn public_pem_of(private: &str) -> String {
    let blocks = parse_pem_bundle(private).unwrap();
    let Block::Private(der) = &blocks[0] else {
        panic!("not a private key")
    };
    let (public, _) = parse_private_key(der, 0).unwrap();
    let spki = match public {
        PublicKey::P256 { x, y } => [&P256_SPKI_PREFIX[..], &[0x04], &x, &y].concat(),
        PublicKey::Ed25519(key) => [&ED25519_SPKI_PREFIX[..], &key].concat(),
    };
    pem("PUBLIC KEY", &spki)
}

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "https://auth.example".into(),
        sub: "alice".into(),
        aud: "https://mcp.example/mcp".into(),
        client_id: "c".into(),
        scope: ScopeSet::parse("notes:read").unwrap(),
        iat: 1,
        nbf: 1,
        exp: 2,
        jti: "j".into(),
        gid: "g".into(),
    }
}

fn signed_by(pem: &str) -> String {
    SigningKeys::from_pem_bundle(pem)
        .unwrap()
        .sign_access_token(&claims())
        .unwrap()
}

/// A token with an arbitrary header `alg` and `kid`, signed with `signer`'s key.
fn forged(signer: &SigningKeys, alg: Algorithm, kid: &str) -> String {
    let mut header = Header::new(alg);
    header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims(), &signer.encoding).unwrap()
}

fn published(keys: &SigningKeys) -> Vec<serde_json::Value> {
    let jwks: serde_json::Value = serde_json::from_str(keys.jwks_json()).unwrap();
    jwks["keys"].as_array().unwrap().clone()
}

#[test]
fn signs_at_jwt_with_kid_and_verifies() {
    let keys = SigningKeys::ephemeral().unwrap();
    let token = keys.sign_access_token(&claims()).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(
        header.alg,
        Algorithm::ES256,
        "the ephemeral key stays ES256"
    );
    assert_eq!(header.kid.as_deref(), Some(keys.signing_kid()));
    assert_eq!(keys.verify_access_token(&token).unwrap(), claims());
}

#[test]
fn an_ed25519_bundle_signs_eddsa_and_verifies() {
    for pem in [new_ed25519_pem(), rfc8037_pem()] {
        let keys = SigningKeys::from_pem_bundle(&pem).unwrap();
        assert_eq!(keys.signing_algorithm(), Algorithm::EdDSA);
        let token = keys.sign_access_token(&claims()).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(keys.signing_kid()));
        assert_eq!(keys.verify_access_token(&token).unwrap(), claims());
    }
}

#[test]
fn a_mixed_bundle_signs_with_the_first_key_and_verifies_both() {
    let ed = new_ed25519_pem();
    let ec = new_p256_pem();
    let ed_token = signed_by(&ed);
    let ec_token = signed_by(&ec);
    for (first, second, algorithm) in [(&ed, &ec, Algorithm::EdDSA), (&ec, &ed, Algorithm::ES256)] {
        let keys = SigningKeys::from_pem_bundle(&bundle(&[first, second])).unwrap();
        assert_eq!(keys.signing_algorithm(), algorithm);
        assert_eq!(keys.jwks().keys.len(), 2);
        assert_eq!(keys.jwks().keys[0].kid, keys.signing_kid());
        let own = keys.sign_access_token(&claims()).unwrap();
        assert_eq!(jsonwebtoken::decode_header(&own).unwrap().alg, algorithm);
        for token in [&own, &ed_token, &ec_token] {
            assert_eq!(keys.verify_access_token(token).unwrap(), claims());
        }
    }
}

#[test]
fn the_jwks_publishes_both_key_types_with_their_members() {
    let keys = SigningKeys::from_pem_bundle(&bundle(&[&rfc8037_pem(), &new_p256_pem()])).unwrap();
    let published = published(&keys);
    assert_eq!(published.len(), 2);

    let okp = &published[0];
    let mut members: Vec<&str> = okp
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x"]);
    assert_eq!(okp["kty"], "OKP");
    assert_eq!(okp["crv"], "Ed25519");
    assert_eq!(okp["alg"], "EdDSA");
    assert_eq!(okp["use"], "sig");
    assert_eq!(okp["x"], RFC8037_X);
    assert_eq!(okp["kid"], RFC8037_THUMBPRINT);
    assert_eq!(okp["kid"], keys.signing_kid());

    let ec = &published[1];
    let mut members: Vec<&str> = ec.as_object().unwrap().keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
    assert_eq!(ec["kty"], "EC");
    assert_eq!(ec["crv"], "P-256");
    assert_eq!(ec["alg"], "ES256");
    assert_eq!(ec["use"], "sig");
    let input = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        ec["x"].as_str().unwrap(),
        ec["y"].as_str().unwrap()
    );
    assert_eq!(ec["kid"], sha256_b64url(input.as_bytes()));
}

#[test]
fn every_key_is_published_and_the_first_signs() {
    let new = new_p256_pem();
    let old = new_ed25519_pem();
    let retired_ec = new_p256_pem();
    let retired_ed = new_ed25519_pem();
    let keys = SigningKeys::from_pem_bundle(&bundle(&[
        &new,
        &old,
        &public_pem_of(&retired_ec),
        &public_pem_of(&retired_ed),
    ]))
    .unwrap();
    assert_eq!(keys.jwks().keys.len(), 4);
    assert_eq!(keys.jwks().keys[0].kid, keys.signing_kid());

    // Tokens of the old and of the retired keys still verify after rotation.
    for signer in [&old, &retired_ec, &retired_ed] {
        assert!(keys.verify_access_token(&signed_by(signer)).is_ok());
    }
    // A key not in the bundle does not.
    for stranger in [new_p256_pem(), new_ed25519_pem()] {
        assert!(matches!(
            keys.verify_access_token(&signed_by(&stranger)),
            Err(VerifyError::UnknownKey)
        ));
    }
}

#[test]
fn a_key_listed_twice_is_published_once() {
    let ed = new_ed25519_pem();
    let keys = SigningKeys::from_pem_bundle(&bundle(&[&ed, &public_pem_of(&ed)])).unwrap();
    assert_eq!(keys.jwks().keys.len(), 1);
}

#[test]
fn kid_is_the_rfc7638_thumbprint_and_stable() {
    for pem in [new_p256_pem(), new_ed25519_pem()] {
        let a = SigningKeys::from_pem_bundle(&pem).unwrap();
        let b = SigningKeys::from_pem_bundle(&pem).unwrap();
        assert_eq!(a.signing_kid(), b.signing_kid());
        assert_eq!(a.signing_kid().len(), 43);
        let jwk = &a.jwks().keys[0];
        let input = match &jwk.y {
            Some(y) => format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{y}"}}"#, jwk.x),
            None => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, jwk.x),
        };
        assert_eq!(jwk.kid, sha256_b64url(input.as_bytes()));
    }
    // The RFC 8037 example key, from its private and from its public form.
    let private = SigningKeys::from_pem_bundle(&rfc8037_pem()).unwrap();
    assert_eq!(private.signing_kid(), RFC8037_THUMBPRINT);
    let with_public =
        SigningKeys::from_pem_bundle(&bundle(&[&new_p256_pem(), &public_pem_of(&rfc8037_pem())]))
            .unwrap();
    assert_eq!(with_public.jwks().keys[1].kid, RFC8037_THUMBPRINT);
}

#[test]
fn algorithm_confusion_is_refused() {
    let ec = new_p256_pem();
    let ed = new_ed25519_pem();
    let keys = SigningKeys::from_pem_bundle(&bundle(&[&ec, &ed])).unwrap();
    let ec_kid = keys.jwks().keys[0].kid.clone();
    let ed_kid = keys.jwks().keys[1].kid.clone();
    let ec_keys = SigningKeys::from_pem_bundle(&ec).unwrap();
    let ed_keys = SigningKeys::from_pem_bundle(&ed).unwrap();

    // The right pairs verify…
    for token in [
        forged(&ec_keys, Algorithm::ES256, &ec_kid),
        forged(&ed_keys, Algorithm::EdDSA, &ed_kid),
    ] {
        assert!(keys.verify_access_token(&token).is_ok());
    }
    // …an algorithm other than the key's does not, whoever signed.
    for token in [
        forged(&ec_keys, Algorithm::ES256, &ed_kid),
        forged(&ed_keys, Algorithm::EdDSA, &ec_kid),
    ] {
        assert!(matches!(
            keys.verify_access_token(&token),
            Err(VerifyError::Invalid)
        ));
    }
    // A header claiming the other algorithm over a genuine signature is refused too.
    let genuine = forged(&ed_keys, Algorithm::EdDSA, &ed_kid);
    let (_, rest) = genuine.split_once('.').unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
    header.kid = Some(ed_kid.clone());
    let relabelled = format!(
        "{}.{rest}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap())
    );
    assert!(matches!(
        keys.verify_access_token(&relabelled),
        Err(VerifyError::Invalid)
    ));
    // HMAC with a published key as the secret is never accepted.
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
    header.kid = Some(ed_kid);
    let hmac = jsonwebtoken::encode(
        &header,
        &claims(),
        &EncodingKey::from_secret(keys.jwks().keys[1].x.as_bytes()),
    )
    .unwrap();
    assert!(matches!(
        keys.verify_access_token(&hmac),
        Err(VerifyError::Invalid)
    ));
}

#[test]
fn bad_bundles_are_refused() {
    assert!(matches!(
        SigningKeys::from_pem_bundle(""),
        Err(KeyError::Empty)
    ));
    assert!(matches!(
        SigningKeys::from_pem_bundle("-----BEGIN PRIVATE KEY-----\nAAAA\n"),
        Err(KeyError::Pem(0))
    ));
    assert!(matches!(
        SigningKeys::from_pem_bundle(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        ),
        Err(KeyError::Unsupported(0))
    ));
    for public_first in [new_p256_pem(), new_ed25519_pem()] {
        assert!(matches!(
            SigningKeys::from_pem_bundle(&public_pem_of(&public_first)),
            Err(KeyError::FirstNotPrivate)
        ));
    }
}

#[test]
fn a_bad_block_is_named_with_a_way_out() {
    // A curve we do not sign with, after a good key: its index and both supported kinds.
    let p384 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    let err = SigningKeys::from_pem_bundle(&bundle(&[
        &new_ed25519_pem(),
        &pem("PRIVATE KEY", p384.as_ref()),
    ]))
    .unwrap_err();
    assert!(matches!(err, KeyError::Unsupported(1)));
    let message = err.to_string();
    assert!(message.contains("PEM block 1"), "{message}");
    assert!(
        message.contains("openssl genpkey -algorithm ed25519"),
        "{message}"
    );

    // An Ed25519 public key that is not 32 bytes long.
    let mut short = ED25519_SPKI_PREFIX.to_vec();
    short.extend([7; 31]);
    assert!(matches!(
        SigningKeys::from_pem_bundle(&bundle(&[&new_p256_pem(), &pem("PUBLIC KEY", &short)])),
        Err(KeyError::Unsupported(1))
    ));

    // A block in another format (SEC 1, OpenSSH): named by its label, with the conversion.
    for label in ["EC PRIVATE KEY", "OPENSSH PRIVATE KEY"] {
        let err = SigningKeys::from_pem_bundle(&bundle(&[&new_ed25519_pem(), &pem(label, b"key")]))
            .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, KeyError::Label { index: 1, .. }), "{message}");
        assert!(message.contains(label), "{message}");
        assert!(message.contains("openssl pkey"), "{message}");
    }
}

#[test]
fn debug_shows_no_key_material() {
    let pem = rfc8037_pem();
    let keys = SigningKeys::from_pem_bundle(&pem).unwrap();
    let debug = format!("{keys:?}");
    let body = pem.lines().nth(1).unwrap();
    assert!(!debug.contains(body), "{debug}");
    assert!(debug.contains("EdDSA"), "{debug}");
}

#[test]
fn wrong_type_and_tampering_are_refused() {
    for keys in [
        SigningKeys::ephemeral().unwrap(),
        SigningKeys::from_pem_bundle(&new_ed25519_pem()).unwrap(),
    ] {
        let mut header = Header::new(keys.signing_algorithm());
        header.kid = Some(keys.signing_kid().to_owned());
        header.typ = Some("JWT".into());
        let token = jsonwebtoken::encode(&header, &claims(), &keys.encoding).unwrap();
        assert!(matches!(
            keys.verify_access_token(&token),
            Err(VerifyError::WrongType)
        ));

        let good = keys.sign_access_token(&claims()).unwrap();
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&AccessTokenClaims {
                sub: "mallory".into(),
                ..claims()
            })
            .unwrap(),
        );
        parts[1] = &forged_payload;
        assert!(matches!(
            keys.verify_access_token(&parts.join(".")),
            Err(VerifyError::Invalid)
        ));
    }
}
