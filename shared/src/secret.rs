//! One type for every secret string (client secrets, keys, app passwords, tokens): built on
//! `secrecy`, so the value is wiped from memory when dropped and never shows in `Debug` output
//! or logs. Reading it takes an explicit [`Secret::expose`].

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Constant-time in the contents (the length may show), so comparing a presented secret with
/// an expected one leaks no prefix.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose()
            .as_bytes()
            .ct_eq(other.expose().as_bytes())
            .into()
    }
}

impl Eq for Secret {}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_and_expose_reads() {
        let s = Secret::new("s3cr3t");
        assert_eq!(s.expose(), "s3cr3t");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert!(!format!("{:?}", Some(s.clone())).contains("s3cr3t"));
        assert_eq!(s, Secret::new("s3cr3t"));
        assert_ne!(s, Secret::new("s3cr3T"));
        assert_ne!(s, Secret::new("s3cr3t-longer"));
    }
}
