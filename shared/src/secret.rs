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

/// Serde for a `Secret` field whose value must be written out as is (a token set before it is
/// sealed, a stored flow, a token response): `#[serde(with = "mcp_shared::secret::exposed")]`.
/// `Secret` has no `Serialize` of its own, so writing one out is always a choice made per
/// field, in the open. The form is the plain string, as for a `String` field.
pub mod exposed {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Secret;

    pub fn serialize<S: Serializer>(value: &Secret, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

/// [`exposed`] for `Option<Secret>`: `null` for none, as for an `Option<String>` field. Use
/// with `#[serde(default, with = "mcp_shared::secret::exposed_option")]` so that a missing
/// member still reads as none.
pub mod exposed_option {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Secret;

    pub fn serialize<S: Serializer>(
        value: &Option<Secret>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(secret) => serializer.serialize_some(secret.expose()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Secret>, D::Error> {
        Option::<String>::deserialize(deserializer).map(|v| v.map(Secret::new))
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

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Stored {
        #[serde(with = "exposed")]
        token: Secret,
        #[serde(default, with = "exposed_option")]
        refresh: Option<Secret>,
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Plain {
        token: String,
        refresh: Option<String>,
    }

    #[test]
    fn serialised_secrets_read_and_write_as_plain_strings() {
        for json in [
            r#"{"token":"t","refresh":"r"}"#,
            r#"{"token":"t","refresh":null}"#,
        ] {
            let stored: Stored = serde_json::from_str(json).unwrap();
            let plain: Plain = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&stored).unwrap(), json);
            assert_eq!(serde_json::to_string(&plain).unwrap(), json);
        }
        let missing: Stored = serde_json::from_str(r#"{"token":"t"}"#).unwrap();
        assert!(missing.refresh.is_none());
        let debug = format!(
            "{:?}",
            Stored {
                token: "s3cr3t".into(),
                refresh: Some("r3fr3sh".into())
            }
        );
        assert!(
            !debug.contains("s3cr3t") && !debug.contains("r3fr3sh"),
            "{debug}"
        );
    }
}
