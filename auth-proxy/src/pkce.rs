//! PKCE (RFC 7636), S256 only: the method enum has no `plain` variant, so a plain challenge
//! cannot be represented past parsing.

use std::str::FromStr;

use mcp_shared::Secret;

use crate::crypto::{constant_time_eq, sha256_b64url};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeChallengeMethod {
    S256,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error("code_challenge_method must be S256")]
    UnsupportedMethod,
    #[error("code_challenge must be the 43-character base64url SHA-256 of the verifier")]
    MalformedChallenge,
    #[error("code_verifier must be 43-128 characters of [A-Za-z0-9-._~]")]
    MalformedVerifier,
}

impl FromStr for CodeChallengeMethod {
    type Err = PkceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Case-sensitive per RFC 7636 §4.3; `plain` is refused by design.
        match s {
            "S256" => Ok(Self::S256),
            _ => Err(PkceError::UnsupportedMethod),
        }
    }
}

/// An S256 code challenge: exactly 43 base64url characters (32 bytes, unpadded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    pub fn parse(value: &str) -> Result<Self, PkceError> {
        if value.len() == 43 && value.bytes().all(is_base64url) {
            Ok(Self(value.to_owned()))
        } else {
            Err(PkceError::MalformedChallenge)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A code verifier as received at the token endpoint. `Debug` redacts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeVerifier(Secret);

impl CodeVerifier {
    pub fn parse(value: &str) -> Result<Self, PkceError> {
        let ok_len = (43..=128).contains(&value.len());
        if ok_len && value.bytes().all(is_unreserved) {
            Ok(Self(Secret::new(value)))
        } else {
            Err(PkceError::MalformedVerifier)
        }
    }

    /// A fresh verifier for the proxy's own upstream request.
    pub fn generate() -> Self {
        Self(Secret::new(crate::crypto::random_token(32)))
    }

    pub fn as_str(&self) -> &str {
        self.0.expose()
    }

    pub fn challenge(&self) -> String {
        sha256_b64url(self.as_str().as_bytes())
    }

    /// Constant-time comparison of `BASE64URL(SHA256(verifier))` with the stored challenge.
    pub fn matches(&self, challenge: &str) -> bool {
        constant_time_eq(self.challenge().as_bytes(), challenge.as_bytes())
    }
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_vector() {
        let v = CodeVerifier::parse(VERIFIER).unwrap();
        assert_eq!(v.challenge(), CHALLENGE);
        assert!(v.matches(CHALLENGE));
    }

    #[test]
    fn wrong_verifier_does_not_match() {
        let other = CodeVerifier::parse(&"a".repeat(43)).unwrap();
        assert!(!other.matches(CHALLENGE));
        // A verifier equal to the challenge (the `plain` method) must not pass.
        let plain = CodeVerifier::parse(CHALLENGE).unwrap();
        assert!(!plain.matches(CHALLENGE));
    }

    #[test]
    fn only_s256_is_a_method() {
        assert_eq!("S256".parse(), Ok(CodeChallengeMethod::S256));
        for bad in ["plain", "s256", "S512", ""] {
            assert_eq!(
                bad.parse::<CodeChallengeMethod>(),
                Err(PkceError::UnsupportedMethod)
            );
        }
    }

    #[test]
    fn verifier_length_and_alphabet_are_enforced() {
        assert!(CodeVerifier::parse(&"a".repeat(42)).is_err());
        assert!(CodeVerifier::parse(&"a".repeat(43)).is_ok());
        assert!(CodeVerifier::parse(&"a".repeat(128)).is_ok());
        assert!(CodeVerifier::parse(&"a".repeat(129)).is_err());
        assert!(CodeVerifier::parse(&format!("{}+", "a".repeat(42))).is_err());
        assert!(CodeVerifier::parse(&format!("{}~._-", "a".repeat(40))).is_ok());
    }

    #[test]
    fn challenge_shape_is_enforced() {
        assert!(CodeChallenge::parse(CHALLENGE).is_ok());
        assert!(CodeChallenge::parse(&CHALLENGE[..42]).is_err());
        assert!(CodeChallenge::parse(&format!("{}=", &CHALLENGE[..42])).is_err());
        assert!(CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM").is_err());
    }

    #[test]
    fn generated_verifiers_are_valid_and_distinct() {
        let a = CodeVerifier::generate();
        let b = CodeVerifier::generate();
        assert!(CodeVerifier::parse(a.as_str()).is_ok());
        assert_ne!(a, b);
        assert!(!format!("{a:?}").contains(a.as_str()));
    }

    #[test]
    fn verifier_debug_is_redacted() {
        let v = CodeVerifier::parse(&"v".repeat(43)).unwrap();
        assert_eq!(format!("{v:?}"), "CodeVerifier(<redacted>)");
    }
}
