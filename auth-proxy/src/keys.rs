//! The proxy's signing keys and its JWKS. Keys are ES256 (P-256) PKCS#8 private keys from a PEM
//! bundle: the first signs, every key is published, so a new key can be introduced (published
//! first, promoted later) and an old one retired without invalidating live tokens. Public-only
//! keys (`PUBLIC KEY` blocks) may be added to keep verifying tokens of a key whose private part
//! has been destroyed. Key ids are RFC 7638 JWK thumbprints.

use std::collections::HashMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use mcp_shared::{AccessTokenClaims, ACCESS_TOKEN_TYP};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::Serialize;

use crate::crypto::sha256_b64url;

/// DER prefix of a P-256 SubjectPublicKeyInfo, followed by the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no PEM block found")]
    Empty,
    #[error("PEM block {0} is malformed")]
    Pem(usize),
    #[error("PEM block {0} is not a P-256 PKCS#8 private key or P-256 public key (generate with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`)")]
    Unsupported(usize),
    #[error("the first PEM block must be a private key (it signs)")]
    FirstNotPrivate,
    #[error("key generation failed")]
    Generate,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub y: String,
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

pub struct SigningKeys {
    signing_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    jwks: Jwks,
    /// Pre-serialised JWKS document (served on every request, changes only at restart).
    jwks_json: String,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("signing_kid", &self.signing_kid)
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
            _ => return Err(KeyError::Unsupported(index)),
        });
    }
    if blocks.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(blocks)
}

fn jwk_from_point(point: &[u8]) -> Option<Jwk> {
    if point.len() != 65 || point[0] != 0x04 {
        return None;
    }
    let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
    let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
    // RFC 7638: members in lexicographic order, no whitespace.
    let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    Some(Jwk {
        kty: "EC",
        crv: "P-256",
        kid: sha256_b64url(thumbprint_input.as_bytes()),
        x,
        y,
        use_: "sig",
        alg: "ES256",
    })
}

impl SigningKeys {
    pub fn from_pem_bundle(pem: &str) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let mut signing: Option<(String, EncodingKey)> = None;
        let mut jwks = Vec::new();
        for (index, block) in parse_pem_bundle(pem)?.into_iter().enumerate() {
            let jwk = match &block {
                Block::Private(der) => {
                    let pair =
                        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
                            .map_err(|_| KeyError::Unsupported(index))?;
                    jwk_from_point(pair.public_key().as_ref())
                        .ok_or(KeyError::Unsupported(index))?
                }
                Block::Public(der) => der
                    .strip_prefix(&P256_SPKI_PREFIX[..])
                    .and_then(jwk_from_point)
                    .ok_or(KeyError::Unsupported(index))?,
            };
            match (&block, index) {
                (Block::Private(der), 0) => {
                    signing = Some((jwk.kid.clone(), EncodingKey::from_ec_der(der)));
                }
                (Block::Public(_), 0) => return Err(KeyError::FirstNotPrivate),
                _ => {}
            }
            if !jwks.iter().any(|k: &Jwk| k.kid == jwk.kid) {
                jwks.push(jwk);
            }
        }
        let (signing_kid, encoding) = signing.ok_or(KeyError::FirstNotPrivate)?;
        Self::assemble(signing_kid, encoding, jwks)
    }

    /// A fresh key for single-process development use; tokens die with the process.
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

    fn assemble(
        signing_kid: String,
        encoding: EncodingKey,
        keys: Vec<Jwk>,
    ) -> Result<Self, KeyError> {
        let mut decoding = HashMap::new();
        for jwk in &keys {
            let key =
                DecodingKey::from_ec_components(&jwk.x, &jwk.y).map_err(|_| KeyError::Generate)?;
            decoding.insert(jwk.kid.clone(), key);
        }
        let jwks = Jwks { keys };
        let jwks_json = serde_json::to_string(&jwks).map_err(|_| KeyError::Generate)?;
        Ok(Self {
            signing_kid,
            encoding,
            decoding,
            jwks,
            jwks_json,
        })
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

    /// Signs an RFC 9068 access token.
    pub fn sign_access_token(
        &self,
        claims: &AccessTokenClaims,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(self.signing_kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }

    /// Verifies signature and type of one of our own access tokens, without time or audience
    /// checks: revocation and token exchange decide those themselves.
    pub fn verify_access_token(&self, token: &str) -> Result<AccessTokenClaims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid)?;
        if header.alg != Algorithm::ES256 {
            return Err(VerifyError::Invalid);
        }
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return Err(VerifyError::WrongType);
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let key = self.decoding.get(&kid).ok_or(VerifyError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<AccessTokenClaims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|_| VerifyError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_shared::ScopeSet;

    fn pem_of(keys: &[&SigningKeysPem]) -> String {
        keys.iter()
            .map(|k| k.0.clone())
            .collect::<Vec<_>>()
            .join("\n")
    }

    struct SigningKeysPem(String);

    fn new_private_pem() -> SigningKeysPem {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        SigningKeysPem(format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        ))
    }

    fn public_pem_of(private: &SigningKeysPem) -> SigningKeysPem {
        let blocks = parse_pem_bundle(&private.0).unwrap();
        let Block::Private(der) = &blocks[0] else {
            panic!()
        };
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
                .unwrap();
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(pair.public_key().as_ref());
        SigningKeysPem(format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(spki)
        ))
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

    #[test]
    fn signs_at_jwt_with_kid_and_verifies() {
        let keys = SigningKeys::ephemeral().unwrap();
        let token = keys.sign_access_token(&claims()).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some(keys.signing_kid()));
        assert_eq!(keys.verify_access_token(&token).unwrap(), claims());
    }

    #[test]
    fn every_key_is_published_and_the_first_signs() {
        let new = new_private_pem();
        let old = new_private_pem();
        let retired = new_private_pem();
        let bundle = pem_of(&[&new, &old, &public_pem_of(&retired)]);
        let keys = SigningKeys::from_pem_bundle(&bundle).unwrap();
        assert_eq!(keys.jwks().keys.len(), 3);
        assert_eq!(keys.jwks().keys[0].kid, keys.signing_kid());

        // Tokens of the old and of the retired key still verify after rotation.
        let old_keys = SigningKeys::from_pem_bundle(&old.0).unwrap();
        let retired_keys = SigningKeys::from_pem_bundle(&retired.0).unwrap();
        for signer in [&old_keys, &retired_keys] {
            let token = signer.sign_access_token(&claims()).unwrap();
            assert!(keys.verify_access_token(&token).is_ok());
        }
        // A key not in the bundle does not.
        let stranger = SigningKeys::ephemeral().unwrap();
        let token = stranger.sign_access_token(&claims()).unwrap();
        assert!(matches!(
            keys.verify_access_token(&token),
            Err(VerifyError::UnknownKey)
        ));
    }

    #[test]
    fn kid_is_the_rfc7638_thumbprint_and_stable() {
        let pem = new_private_pem();
        let a = SigningKeys::from_pem_bundle(&pem.0).unwrap();
        let b = SigningKeys::from_pem_bundle(&pem.0).unwrap();
        assert_eq!(a.signing_kid(), b.signing_kid());
        assert_eq!(a.signing_kid().len(), 43);
        let jwk = &a.jwks().keys[0];
        let input = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk.x, jwk.y
        );
        assert_eq!(jwk.kid, sha256_b64url(input.as_bytes()));
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
        let public_first = public_pem_of(&new_private_pem());
        assert!(matches!(
            SigningKeys::from_pem_bundle(&public_first.0),
            Err(KeyError::FirstNotPrivate)
        ));
    }

    #[test]
    fn wrong_type_and_tampering_are_refused() {
        let keys = SigningKeys::ephemeral().unwrap();
        let mut header = Header::new(Algorithm::ES256);
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
