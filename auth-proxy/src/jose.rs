//! Verifying JWTs that others signed (RFC 7515/7519) against a JWK set (RFC 7517): client
//! assertions (RFC 7523 `private_key_jwt`) today, identity assertions later. Deliberately
//! narrow, because the token and often the key set come from anyone on the internet:
//!
//! - compact JWS only, at most [`MAX_JWT_BYTES`]; a JWE (five segments) is refused, not
//!   decrypted;
//! - asymmetric algorithms from the caller's allow-list only: `none` and `HS*` can never be
//!   allowed (an HMAC "signed" with a public key is the classic confusion attack);
//! - no `crit` header (we understand no extension, so RFC 7515 §4.1.11 says refuse), no key
//!   carried or pointed to by the token itself (`jwk`, `jku`, `x5u`, `x5c`): the keys are the
//!   ones the caller trusts, never the presenter's choice;
//! - the key is the one the header's `kid` names (or, without a `kid`, the only key of the
//!   algorithm's type); a key that states its own `alg` is used with that algorithm only;
//! - key sets hold public signing keys only: RSA of 2048 bits or more, EC P-256/P-384, OKP
//!   Ed25519, `use` absent or `sig`, no private or symmetric members.
//!
//! Signatures are checked by `jsonwebtoken`'s ring backend; everything around them is here.
//! The claims come back as a JSON object for the caller's own rules, with [`check_times`] for
//! the ones every caller shares. Error messages never quote the token or a key.

use std::collections::HashSet;
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

/// Longest JWT accepted: an assertion is a few hundred bytes; an RS512 signature is 700.
pub const MAX_JWT_BYTES: usize = 8 * 1024;
/// Most keys one set may hold (rotation needs two or three).
pub const MAX_KEYS: usize = 16;
/// Smallest RSA modulus accepted, in bytes (2048 bits; RFC 7518 §3.3).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// The algorithms that may ever be allowed: asymmetric signatures `jsonwebtoken` verifies.
pub const ASYMMETRIC_ALGS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The JWS name of an algorithm (`jsonwebtoken`'s `Debug` is the name, but say it here).
pub fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
    }
}

/// An asymmetric algorithm by its JWS name; `None` for `none`, `HS*` and anything unknown.
pub fn parse_asymmetric_alg(name: &str) -> Option<Algorithm> {
    ASYMMETRIC_ALGS
        .iter()
        .copied()
        .find(|a| alg_name(*a) == name)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    #[error("the JWT is larger than allowed")]
    TooLarge,
    #[error("the JWT is encrypted (JWE); only signed JWTs are accepted")]
    Encrypted,
    #[error("the JWT is malformed: {0}")]
    Malformed(&'static str),
    #[error("the JWT's algorithm is not accepted")]
    AlgorithmNotAllowed,
    #[error("the JWT has a critical header extension, which is not supported")]
    Critical,
    #[error("the JWT names its own key (jwk, jku, x5u or x5c header); that is not accepted")]
    EmbeddedKey,
    #[error("the JWT has a typ other than the one expected")]
    WrongType,
    #[error("no key of the signer matches the JWT's kid")]
    UnknownKey,
    #[error("the signer has no single key for the JWT's algorithm")]
    AmbiguousKey,
    #[error("the signer's key does not allow the JWT's algorithm")]
    KeyAlgorithmMismatch,
    #[error("the JWT signature is not valid")]
    BadSignature,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("jwks must be a JSON object with a non-empty keys array")]
    NotASet,
    #[error("jwks holds more than {MAX_KEYS} keys")]
    TooManyKeys,
    #[error("jwks key {0}: it holds private or symmetric key material")]
    PrivateMaterial(usize),
    #[error(
        "jwks key {0}: only RSA, EC (P-256, P-384) and OKP (Ed25519) signing keys are accepted"
    )]
    UnsupportedKey(usize),
    #[error("jwks key {0}: an RSA key needs at least 2048 bits")]
    WeakKey(usize),
    #[error("jwks key {0}: use must be sig")]
    NotForSigning(usize),
    #[error("jwks key {0}: its alg is not an accepted signing algorithm")]
    KeyAlgorithm(usize),
    #[error("jwks key {0}: the key is malformed")]
    Malformed(usize),
    #[error("jwks keys must have distinct kids")]
    DuplicateKid,
}

/// A validated set of public signing keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

impl fmt::Debug for Jwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Public keys, but the logs have no use for them: their ids are enough.
        let kids: Vec<&str> = self
            .keys
            .iter()
            .map(|k| k.common.key_id.as_deref().unwrap_or("-"))
            .collect();
        f.debug_struct("Jwks").field("kids", &kids).finish()
    }
}

/// Members that only a private or symmetric JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

impl Jwks {
    /// Parses and checks a JWK set (a document's `jwks` member or a fetched `jwks_uri`).
    pub fn parse(value: &Value) -> Result<Self, JwksError> {
        let raw = value
            .as_object()
            .and_then(|o| o.get("keys"))
            .and_then(Value::as_array)
            .filter(|keys| !keys.is_empty())
            .ok_or(JwksError::NotASet)?;
        if raw.len() > MAX_KEYS {
            return Err(JwksError::TooManyKeys);
        }
        let mut keys = Vec::with_capacity(raw.len());
        let mut kids = HashSet::new();
        for (i, key) in raw.iter().enumerate() {
            let object = key.as_object().ok_or(JwksError::Malformed(i))?;
            if PRIVATE_MEMBERS.iter().any(|m| object.contains_key(*m)) {
                return Err(JwksError::PrivateMaterial(i));
            }
            let jwk = check_key(i, key)?;
            if let Some(kid) = &jwk.common.key_id {
                if !kids.insert(kid.clone()) {
                    return Err(JwksError::DuplicateKid);
                }
            }
            keys.push(jwk);
        }
        Ok(Self { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key has id `kid` (a miss may mean the signer rotated: refetch once).
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys
            .iter()
            .any(|k| k.common.key_id.as_deref() == Some(kid))
    }
}

fn check_key(i: usize, key: &Value) -> Result<Jwk, JwksError> {
    let kty = key.get("kty").and_then(Value::as_str);
    if !matches!(kty, Some("RSA" | "EC" | "OKP")) {
        return Err(JwksError::UnsupportedKey(i));
    }
    let jwk: Jwk = serde_json::from_value(key.clone()).map_err(|_| JwksError::Malformed(i))?;
    match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let n = URL_SAFE_NO_PAD
                .decode(rsa.n.as_bytes())
                .map_err(|_| JwksError::Malformed(i))?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return Err(JwksError::WeakKey(i));
            }
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            let size = match ec.curve {
                EllipticCurve::P256 => 32,
                EllipticCurve::P384 => 48,
                _ => return Err(JwksError::UnsupportedKey(i)),
            };
            if decoded_len(&ec.x) != Some(size) || decoded_len(&ec.y) != Some(size) {
                return Err(JwksError::Malformed(i));
            }
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            if okp.curve != EllipticCurve::Ed25519 {
                return Err(JwksError::UnsupportedKey(i));
            }
            if decoded_len(&okp.x) != Some(32) {
                return Err(JwksError::Malformed(i));
            }
        }
        AlgorithmParameters::OctetKey(_) => return Err(JwksError::PrivateMaterial(i)),
    }
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(_) => return Err(JwksError::NotForSigning(i)),
    }
    if let Some(stated) = key.get("alg") {
        let ok = stated
            .as_str()
            .and_then(parse_asymmetric_alg)
            .is_some_and(|alg| key_fits(&jwk, alg));
        if !ok {
            return Err(JwksError::KeyAlgorithm(i));
        }
    }
    // The key must load (a point off the curve is only noticed by ring when verifying).
    DecodingKey::from_jwk(&jwk).map_err(|_| JwksError::Malformed(i))?;
    Ok(jwk)
}

fn decoded_len(b64: &str) -> Option<usize> {
    URL_SAFE_NO_PAD.decode(b64.as_bytes()).ok().map(|v| v.len())
}

/// Whether `alg` can be used with `jwk`'s type and curve.
fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    match (&jwk.algorithm, alg) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
            ec.curve == EllipticCurve::P256
        }
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => {
            ec.curve == EllipticCurve::P384
        }
        (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA) => {
            okp.curve == EllipticCurve::Ed25519
        }
        _ => false,
    }
}

/// The key's own `alg`, if it states one (checked at parse time to be an asymmetric one).
fn stated_alg(jwk: &Jwk) -> Option<&'static str> {
    jwk.common.key_algorithm.and_then(|ka| {
        ASYMMETRIC_ALGS
            .iter()
            .copied()
            .map(alg_name)
            .find(|name| *name == ka.to_string())
    })
}

/// A JWT whose signature was checked: its algorithm, key id and (unchecked) claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedJwt {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
}

/// What the header asks for, read before any key is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedHeader {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

fn b64_json(segment: &str) -> Result<Map<String, Value>, JoseError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.as_bytes())
        .map_err(|_| JoseError::Malformed("a segment is not base64url"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JoseError::Malformed("a segment is not a JSON object")),
    }
}

/// The compact form's three segments, the size and shape rules applied.
fn segments(token: &str) -> Result<[&str; 3], JoseError> {
    if token.len() > MAX_JWT_BYTES {
        return Err(JoseError::TooLarge);
    }
    let parts: Vec<&str> = token.split('.').collect();
    match parts.as_slice() {
        [h, p, s] if !h.is_empty() && !p.is_empty() && !s.is_empty() => Ok([h, p, s]),
        [_, _, _, _, _] => Err(JoseError::Encrypted),
        _ => Err(JoseError::Malformed("not a compact JWS")),
    }
}

/// Reads and checks the header alone: algorithm allowed, no `crit`, no embedded or remote
/// key, `typ` as expected. Callers that must find keys first (by `kid`) use this.
pub fn read_header(
    token: &str,
    allowed: &[Algorithm],
    expected_typ: Option<&str>,
) -> Result<UnverifiedHeader, JoseError> {
    let [header, _, _] = segments(token)?;
    let header = b64_json(header)?;
    if header.contains_key("enc") {
        return Err(JoseError::Encrypted);
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(parse_asymmetric_alg)
        .filter(|alg| allowed.contains(alg))
        .ok_or(JoseError::AlgorithmNotAllowed)?;
    if header.contains_key("crit") {
        return Err(JoseError::Critical);
    }
    if ["jwk", "jku", "x5u", "x5c"]
        .iter()
        .any(|m| header.contains_key(*m))
    {
        return Err(JoseError::EmbeddedKey);
    }
    if let Some(expected) = expected_typ {
        let typ = header.get("typ").and_then(Value::as_str);
        if !typ.is_some_and(|t| typ_matches(t, expected)) {
            return Err(JoseError::WrongType);
        }
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(JoseError::Malformed("kid is not a string")),
    };
    Ok(UnverifiedHeader { alg, kid })
}

/// RFC 7515 §4.1.9: media type names compare case-insensitively, `application/` optional.
fn typ_matches(typ: &str, expected: &str) -> bool {
    let bare = |t: &str| {
        let lower = t.to_ascii_lowercase();
        lower
            .strip_prefix("application/")
            .map(str::to_owned)
            .unwrap_or(lower)
    };
    bare(typ) == bare(expected)
}

/// Reads the claims without checking anything: only to learn who claims to have signed
/// (`iss`), so that the right keys can be found. Never trust the result otherwise.
pub fn unverified_claims(token: &str) -> Result<Map<String, Value>, JoseError> {
    let [_, payload, _] = segments(token)?;
    b64_json(payload)
}

/// Verifies `token` against `keys`: header rules ([`read_header`]), key choice, signature.
pub fn verify(
    token: &str,
    keys: &Jwks,
    allowed: &[Algorithm],
    expected_typ: Option<&str>,
) -> Result<VerifiedJwt, JoseError> {
    let header = read_header(token, allowed, expected_typ)?;
    let key = choose_key(keys, &header)?;
    let decoding = DecodingKey::from_jwk(key).map_err(|_| JoseError::UnknownKey)?;
    let [h, p, s] = segments(token)?;
    let message = &token[..h.len() + 1 + p.len()];
    let valid = jsonwebtoken::crypto::verify(s, message.as_bytes(), &decoding, header.alg)
        .map_err(|_| JoseError::BadSignature)?;
    if !valid {
        return Err(JoseError::BadSignature);
    }
    Ok(VerifiedJwt {
        alg: header.alg,
        kid: header.kid,
        claims: b64_json(p)?,
    })
}

fn choose_key<'k>(keys: &'k Jwks, header: &UnverifiedHeader) -> Result<&'k Jwk, JoseError> {
    let key = match &header.kid {
        Some(kid) => keys
            .keys
            .iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid.as_str()))
            .ok_or(JoseError::UnknownKey)?,
        None => {
            let mut fitting = keys.keys.iter().filter(|k| key_fits(k, header.alg));
            match (fitting.next(), fitting.next()) {
                (Some(key), None) => key,
                (None, _) => return Err(JoseError::UnknownKey),
                (Some(_), Some(_)) => return Err(JoseError::AmbiguousKey),
            }
        }
    };
    if !key_fits(key, header.alg)
        || stated_alg(key).is_some_and(|stated| stated != alg_name(header.alg))
    {
        return Err(JoseError::KeyAlgorithmMismatch);
    }
    Ok(key)
}

/// Time rules every signed assertion shares (RFC 7519 §4.1.4-6, RFC 7523 §3).
#[derive(Debug, Clone, Copy)]
pub struct TimeRules {
    /// Unix seconds.
    pub now: i64,
    pub leeway_secs: i64,
    /// Longest accepted `exp − now`.
    pub max_lifetime_secs: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("exp is missing")]
    MissingExp,
    #[error("the assertion has expired")]
    Expired,
    #[error("the assertion lives longer than allowed")]
    TooLong,
    #[error("the assertion is not valid yet")]
    NotYetValid,
    #[error("{0} is not a number")]
    NotANumber(&'static str),
}

/// Checks `exp` (required, not past, not further than the maximum lifetime), `nbf` and `iat`
/// (not in the future), each with the leeway. Returns the seconds until `exp`, at least 0.
pub fn check_times(claims: &Map<String, Value>, rules: TimeRules) -> Result<i64, TimeError> {
    let number = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        // Fractions are allowed (NumericDate); a fraction of a second changes nothing here.
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or(TimeError::NotANumber(name)),
    };
    let exp = number("exp")?.ok_or(TimeError::MissingExp)?;
    if exp <= rules.now.saturating_sub(rules.leeway_secs) {
        return Err(TimeError::Expired);
    }
    if exp.saturating_sub(rules.now) > rules.max_lifetime_secs {
        return Err(TimeError::TooLong);
    }
    for name in ["nbf", "iat"] {
        if number(name)?.is_some_and(|t| t > rules.now.saturating_add(rules.leeway_secs)) {
            return Err(TimeError::NotYetValid);
        }
    }
    Ok(exp.saturating_sub(rules.now).max(0))
}

#[cfg(test)]
mod tests;
