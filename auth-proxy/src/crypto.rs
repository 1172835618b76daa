//! Random identifiers, hashing of secrets, constant-time comparison and sealing of upstream
//! token sets with AES-256-GCM.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

/// `n` bytes of OS randomness.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // The OS RNG failing is unrecoverable and must not yield a predictable value.
    #[allow(clippy::expect_used)]
    SystemRandom::new()
        .fill(&mut buf)
        .expect("operating-system random number generator failed");
    buf
}

/// `bytes` of OS randomness, base64url without padding. 32 bytes gives 256 bits for codes,
/// refresh tokens, CSRF tokens and state values.
pub fn random_token(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// Hex SHA-256 of a secret: how codes, refresh tokens, client secrets, CSRF and browser-binding
/// values are stored, so a store dump yields nothing usable.
pub fn sha256_hex(secret: &str) -> String {
    let d = digest(&SHA256, secret.as_bytes());
    let mut out = String::with_capacity(64);
    for b in d.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// base64url (no padding) SHA-256, as PKCE S256 and JWK thumbprints use.
pub fn sha256_b64url(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, input).as_ref())
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Whether `secret` hashes to `expected_hash` (from [`sha256_hex`]), compared in constant time.
pub fn hash_matches(secret: &str, expected_hash: &str) -> bool {
    constant_time_eq(sha256_hex(secret).as_bytes(), expected_hash.as_bytes())
}

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error("encryption key must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("sealed value is malformed or was encrypted with an unknown key")]
    Open,
}

/// AES-256-GCM over upstream token sets. The first key seals; every key can open, so the key
/// can be rotated by prepending a new one. Each sealed value names its key by a short id and
/// binds the caller's context (the grant id) as associated data, so a ciphertext moved to
/// another grant does not open.
pub struct TokenCipher {
    keys: Vec<(String, LessSafeKey)>,
    rng: SystemRandom,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCipher")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl TokenCipher {
    /// Keys as raw 32-byte values; the first one seals.
    pub fn new(raw_keys: &[Vec<u8>]) -> Result<Self, CipherError> {
        if raw_keys.is_empty() {
            return Err(CipherError::BadKey);
        }
        let keys = raw_keys
            .iter()
            .map(|raw| {
                let unbound =
                    UnboundKey::new(&AES_256_GCM, raw).map_err(|_| CipherError::BadKey)?;
                let id = sha256_hex(&URL_SAFE_NO_PAD.encode(raw))[..8].to_owned();
                Ok((id, LessSafeKey::new(unbound)))
            })
            .collect::<Result<Vec<_>, CipherError>>()?;
        Ok(Self {
            keys,
            rng: SystemRandom::new(),
        })
    }

    /// Decodes a standard-base64 key as configured.
    pub fn decode_key(b64: &str) -> Result<Vec<u8>, CipherError> {
        let raw = STANDARD
            .decode(b64.trim())
            .or_else(|_| URL_SAFE_NO_PAD.decode(b64.trim()))
            .map_err(|_| CipherError::BadKey)?;
        if raw.len() != 32 {
            return Err(CipherError::BadKey);
        }
        Ok(raw)
    }

    /// Returns `<key id>.<base64url(nonce || ciphertext || tag)>`.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let (id, key) = &self.keys[0];
        let mut nonce_bytes = [0u8; NONCE_LEN];
        #[allow(clippy::expect_used)]
        self.rng
            .fill(&mut nonce_bytes)
            .expect("operating-system random number generator failed");
        let mut in_out = plaintext.to_vec();
        #[allow(clippy::expect_used)]
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(context.as_bytes()),
            &mut in_out,
        )
        .expect("AES-GCM sealing cannot fail for in-memory buffers below 64 GiB");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&in_out);
        format!("{id}.{}", URL_SAFE_NO_PAD.encode(out))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, CipherError> {
        let (id, body) = sealed.split_once('.').ok_or(CipherError::Open)?;
        let (_, key) = self
            .keys
            .iter()
            .find(|(kid, _)| kid == id)
            .ok_or(CipherError::Open)?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CipherError::Open)?;
        if raw.len() < NONCE_LEN {
            return Err(CipherError::Open);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CipherError::Open)?;
        let mut in_out = ciphertext.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out)
            .map_err(|_| CipherError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn sha256_hex_matches_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sealed_values_open_only_with_same_context_and_key() {
        let k1 = vec![7u8; 32];
        let k2 = vec![9u8; 32];
        let cipher = TokenCipher::new(std::slice::from_ref(&k1)).unwrap();
        let sealed = cipher.seal("grant-1", b"secret tokens");
        assert!(!sealed.contains("secret"));
        assert_eq!(cipher.open("grant-1", &sealed).unwrap(), b"secret tokens");
        assert!(cipher.open("grant-2", &sealed).is_err());

        // Rotation: a new key first still opens what the old key sealed.
        let rotated = TokenCipher::new(&[k2.clone(), k1]).unwrap();
        assert_eq!(rotated.open("grant-1", &sealed).unwrap(), b"secret tokens");
        // Without the old key it does not.
        let only_new = TokenCipher::new(&[k2]).unwrap();
        assert!(only_new.open("grant-1", &sealed).is_err());
    }

    #[test]
    fn tampered_ciphertext_is_refused() {
        let cipher = TokenCipher::new(&[vec![1u8; 32]]).unwrap();
        let sealed = cipher.seal("g", b"x");
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert!(cipher
            .open("g", &String::from_utf8(bytes).unwrap())
            .is_err());
    }

    #[test]
    fn key_must_be_32_bytes() {
        assert!(TokenCipher::decode_key(&STANDARD.encode([0u8; 16])).is_err());
        assert!(TokenCipher::decode_key(&STANDARD.encode([0u8; 32])).is_ok());
        assert!(TokenCipher::decode_key("not base64!").is_err());
    }
}
