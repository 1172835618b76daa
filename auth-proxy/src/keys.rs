//! The proxy's signing keys and its JWKS. Keys are PKCS#8 private keys from a PEM bundle, ES256
//! (P-256) or EdDSA (Ed25519) in any mix: the first signs (its algorithm is the `alg` of new
//! tokens), every key is published, so a new key can be introduced (published first, promoted
//! later) and an old one retired without invalidating live tokens. Public-only keys (`PUBLIC KEY`
//! blocks) may be added to keep verifying tokens of a key whose private part has been destroyed.
//! Key ids are RFC 7638 JWK thumbprints.

use std::collections::HashMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use mcp_shared::{AccessTokenClaims, ACCESS_TOKEN_TYP};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::Serialize;

use crate::crypto::sha256_b64url;

/// DER prefix of a P-256 SubjectPublicKeyInfo, followed by the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), followed by the 32-byte key.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no PEM block found")]
    Empty,
    #[error("PEM block {0} is malformed")]
    Pem(usize),
    #[error("PEM block {index} is labelled `{label}`; only `PRIVATE KEY` (PKCS#8) and `PUBLIC KEY` (SPKI) blocks are accepted (convert with `openssl pkey -in key.pem -out pkcs8.pem`)")]
    Label { index: usize, label: String },
    #[error("PEM block {0} is not a P-256 or Ed25519 key (generate with `openssl genpkey -algorithm ed25519` or `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`)")]
    Unsupported(usize),
    #[error("the first PEM block must be a private key (it signs)")]
    FirstNotPrivate,
    #[error("key generation failed")]
    Generate,
}

/// A published key. `y` exists for EC keys only; OKP keys (RFC 8037) have `x` alone.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("token is malformed or its signature does not verify")]
    Invalid,
    #[error("token type is not at+jwt")]
    WrongType,
    #[error("token was signed by an unknown key")]
    UnknownKey,
}

/// The public half of a key, whatever block it came from. Its type fixes the one algorithm it
/// is used with, so an ES256 header can never select an Ed25519 key or the reverse.
enum PublicKey {
    P256 { x: [u8; 32], y: [u8; 32] },
    Ed25519([u8; 32]),
}

impl PublicKey {
    /// From a SEC 1 uncompressed point (`04 || x || y`).
    fn p256(point: &[u8]) -> Option<Self> {
        let coordinates = point.strip_prefix(&[0x04])?;
        let (x, y) = coordinates.split_at_checked(32)?;
        Some(Self::P256 {
            x: x.try_into().ok()?,
            y: y.try_into().ok()?,
        })
    }

    fn ed25519(key: &[u8]) -> Option<Self> {
        key.try_into().ok().map(Self::Ed25519)
    }

    fn from_spki(der: &[u8]) -> Option<Self> {
        if let Some(point) = der.strip_prefix(&P256_SPKI_PREFIX[..]) {
            return Self::p256(point);
        }
        Self::ed25519(der.strip_prefix(&ED25519_SPKI_PREFIX[..])?)
    }

    fn algorithm(&self) -> Algorithm {
        match self {
            Self::P256 { .. } => Algorithm::ES256,
            Self::Ed25519(_) => Algorithm::EdDSA,
        }
    }

    fn jwk(&self) -> Jwk {
        // RFC 7638: the required members in lexicographic order, no whitespace (RFC 8037 §2
        // for OKP: crv, kty, x).
        let (kty, crv, alg, x, y, thumbprint_input) = match self {
            Self::P256 { x, y } => {
                let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
                let input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
                ("EC", "P-256", "ES256", x, Some(y), input)
            }
            Self::Ed25519(key) => {
                let x = URL_SAFE_NO_PAD.encode(key);
                let input = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
                ("OKP", "Ed25519", "EdDSA", x, None, input)
            }
        };
        Jwk {
            kty,
            crv,
            x,
            y,
            kid: sha256_b64url(thumbprint_input.as_bytes()),
            use_: "sig",
            alg,
        }
    }

    fn decoding_key(&self) -> DecodingKey {
        match self {
            Self::P256 { x, y } => {
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                DecodingKey::from_ec_der(&point)
            }
            Self::Ed25519(key) => DecodingKey::from_ed_der(key),
        }
    }
}

/// A PKCS#8 private key (P-256 or Ed25519): its public half, and the key to sign with.
fn parse_private_key(der: &[u8], index: usize) -> Result<(PublicKey, EncodingKey), KeyError> {
    let rng = SystemRandom::new();
    if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng) {
        let public =
            PublicKey::p256(pair.public_key().as_ref()).ok_or(KeyError::Unsupported(index))?;
        return Ok((public, EncodingKey::from_ec_der(der)));
    }
    // `maybe_unchecked` accepts PKCS#8 v1, which is what `openssl genpkey` writes (v2 adds the
    // public key, which ring then checks against the private one).
    if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
        let public =
            PublicKey::ed25519(pair.public_key().as_ref()).ok_or(KeyError::Unsupported(index))?;
        return Ok((public, EncodingKey::from_ed_der(der)));
    }
    Err(KeyError::Unsupported(index))
}

struct VerifyingKey {
    algorithm: Algorithm,
    key: DecodingKey,
}

pub struct SigningKeys {
    signing_kid: String,
    signing_algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: HashMap<String, VerifyingKey>,
    jwks: Jwks,
    /// Pre-serialised JWKS document (served on every request, changes only at restart).
    jwks_json: String,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("signing_kid", &self.signing_kid)
            .field("signing_algorithm", &self.signing_algorithm)
            .field("published", &self.jwks.keys.len())
            .finish()
    }
}

enum Block {
    Private(Vec<u8>),
    Public(Vec<u8>),
}

fn parse_pem_bundle(pem: &str) -> Result<Vec<Block>, KeyError> {
    let mut blocks = Vec::new();
    let mut lines = pem.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let index = blocks.len();
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            if l == end {
                closed = true;
                break;
            }
            body.push_str(l);
        }
        if !closed {
            return Err(KeyError::Pem(index));
        }
        let der = STANDARD.decode(body).map_err(|_| KeyError::Pem(index))?;
        blocks.push(match label {
            "PRIVATE KEY" => Block::Private(der),
            "PUBLIC KEY" => Block::Public(der),
            _ => {
                return Err(KeyError::Label {
                    index,
                    label: label.to_owned(),
                })
            }
        });
    }
    if blocks.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(blocks)
}

impl SigningKeys {
    pub fn from_pem_bundle(pem: &str) -> Result<Self, KeyError> {
        let mut signing: Option<(String, Algorithm, EncodingKey)> = None;
        let mut jwks = Vec::new();
        let mut decoding = HashMap::new();
        for (index, block) in parse_pem_bundle(pem)?.into_iter().enumerate() {
            let (public, encoding) = match (&block, index) {
                (Block::Private(der), _) => {
                    let (public, encoding) = parse_private_key(der, index)?;
                    (public, Some(encoding))
                }
                (Block::Public(_), 0) => return Err(KeyError::FirstNotPrivate),
                (Block::Public(der), _) => (
                    PublicKey::from_spki(der).ok_or(KeyError::Unsupported(index))?,
                    None,
                ),
            };
            let jwk = public.jwk();
            if let (0, Some(encoding)) = (index, encoding) {
                signing = Some((jwk.kid.clone(), public.algorithm(), encoding));
            }
            if !decoding.contains_key(&jwk.kid) {
                decoding.insert(
                    jwk.kid.clone(),
                    VerifyingKey {
                        algorithm: public.algorithm(),
                        key: public.decoding_key(),
                    },
                );
                jwks.push(jwk);
            }
        }
        let (signing_kid, signing_algorithm, encoding) =
            signing.ok_or(KeyError::FirstNotPrivate)?;
        let jwks = Jwks { keys: jwks };
        let jwks_json = serde_json::to_string(&jwks).map_err(|_| KeyError::Generate)?;
        Ok(Self {
            signing_kid,
            signing_algorithm,
            encoding,
            decoding,
            jwks,
            jwks_json,
        })
    }

    /// A fresh ES256 key for single-process development use; tokens die with the process.
    pub fn ephemeral() -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Generate)?;
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        );
        Self::from_pem_bundle(&pem)
    }

    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }

    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// The `alg` of new tokens: that of the first key in the bundle.
    pub fn signing_algorithm(&self) -> Algorithm {
        self.signing_algorithm
    }

    /// Signs an RFC 9068 access token.
    pub fn sign_access_token(
        &self,
        claims: &AccessTokenClaims,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(self.signing_algorithm);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(self.signing_kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }

    /// Verifies signature and type of one of our own access tokens, without time or audience
    /// checks: revocation and token exchange decide those themselves.
    pub fn verify_access_token(&self, token: &str) -> Result<AccessTokenClaims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid)?;
        if !matches!(header.alg, Algorithm::ES256 | Algorithm::EdDSA) {
            return Err(VerifyError::Invalid);
        }
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return Err(VerifyError::WrongType);
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let key = self.decoding.get(&kid).ok_or(VerifyError::UnknownKey)?;
        // The key decides the algorithm, never the token.
        if header.alg != key.algorithm {
            return Err(VerifyError::Invalid);
        }
        let mut validation = Validation::new(key.algorithm);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<AccessTokenClaims>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|_| VerifyError::Invalid)
    }
}

#[cfg(test)]
mod tests;
