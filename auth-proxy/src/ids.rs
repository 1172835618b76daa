//! Identifiers that travel into the store, typed so that "absent" and "malformed" cannot hide
//! in a `String` and a raw token cannot take a hash's place.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `state` an MCP client sent to `/authorize`: opaque, non-empty, at most
/// [`ClientState::MAX_LEN`] bytes. A client that sent none has `Option::None`, never `""`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientState(String);

impl ClientState {
    pub const MAX_LEN: usize = 2048;

    /// `None` for an empty value (the client sent none).
    pub fn parse(value: &str) -> Result<Option<Self>, ClientStateTooLong> {
        match value.len() {
            0 => Ok(None),
            n if n > Self::MAX_LEN => Err(ClientStateTooLong),
            _ => Ok(Some(Self(value.to_owned()))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("state is too long")]
pub struct ClientStateTooLong;

/// Serde for `Option<ClientState>` in stored records: written as the string, `""` for none,
/// exactly as records were written when `state` was a `String` (so replicas of either
/// version read each other's flows).
pub mod optional_state {
    use super::*;

    pub fn serialize<S: Serializer>(
        value: &Option<ClientState>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value
            .as_ref()
            .map_or("", ClientState::as_str)
            .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<ClientState>, D::Error> {
        let raw = String::deserialize(deserializer)?;
        ClientState::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The id of a grant (one user's authorization of one client), the first part of every code
/// and refresh token issued from it (`<grant id>.<secret>`): 1 to 64 characters of
/// `A-Z a-z 0-9 - _`, so it is safe in a Redis key and a hash tag. Stored as the plain string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GrantId(String);

impl GrantId {
    /// A new random id (128 bits).
    pub fn generate() -> Self {
        Self(crate::crypto::random_token(16))
    }

    /// `None` unless `value` is well-formed.
    pub fn parse(value: &str) -> Option<Self> {
        is_token_part(value).then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `s` can be one part of a `<grant id>.<secret>` token.
pub fn is_token_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl std::fmt::Display for GrantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for GrantId {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if is_token_part(&value) {
            Ok(Self(value))
        } else {
            Err("a grant id must be 1 to 64 characters of A-Z a-z 0-9 - _".into())
        }
    }
}

impl From<GrantId> for String {
    fn from(id: GrantId) -> Self {
        id.0
    }
}

/// A client's `client_id`, as records and the store hold it: never empty (an empty parameter
/// is an absent one). Whether a client by that id exists is the registry's question. Stored as
/// the plain string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    /// A new id for a dynamically registered client (144 bits).
    pub fn generate() -> Self {
        Self(crate::crypto::random_token(24))
    }

    /// `None` for an empty value.
    pub fn parse(value: &str) -> Option<Self> {
        (!value.is_empty()).then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for ClientId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ClientId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl TryFrom<String> for ClientId {
    type Error = &'static str;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.is_empty() {
            Err("a client_id is never empty")
        } else {
            Ok(Self(value))
        }
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> Self {
        id.0
    }
}

/// The redirect URI an authorization answers on, as the pending authorization and the code
/// record hold it: an absolute URL, kept exactly as the client wrote it (the token request
/// must repeat it byte for byte). That it is one the client registered is
/// `oauth::authorize::resolve_redirect_uri`'s to decide. Stored as the plain string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(String);

impl RedirectUri {
    /// `None` unless `value` is an absolute URL.
    pub fn parse(value: &str) -> Option<Self> {
        url::Url::parse(value)
            .is_ok()
            .then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = &'static str;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if url::Url::parse(&value).is_ok() {
            Ok(Self(value))
        } else {
            Err("a redirect URI is an absolute URL")
        }
    }
}

impl From<RedirectUri> for String {
    fn from(uri: RedirectUri) -> Self {
        uri.0
    }
}

/// The SHA-256 (hex) of a whole code or refresh token (`<grant id>.<secret>`): all the store
/// ever sees of one. Made only by hashing, so a raw token cannot reach a key or a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        Self(crate::crypto::sha256_hex(token))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `jti` of one of our access tokens (signature already verified), as the deny-list keys
/// on it: 1 to 64 characters of `A-Z a-z 0-9 - _`, as the proxy issues them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Jti(String);

impl Jti {
    /// `None` unless `value` is well-formed.
    pub fn parse(value: &str) -> Option<Self> {
        is_token_part(value).then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Record {
        #[serde(with = "optional_state")]
        state: Option<ClientState>,
    }

    #[test]
    fn grant_ids_are_well_formed_and_stored_as_strings() {
        assert!(GrantId::parse("abc_DEF-1").is_some());
        for bad in ["", "a.b", "a b", "é", &"x".repeat(65)] {
            assert!(GrantId::parse(bad).is_none(), "{bad}");
        }
        let id = GrantId::generate();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            format!("\"{}\"", id.as_str())
        );
        assert!(serde_json::from_str::<GrantId>("\"a.b\"").is_err());
    }

    #[test]
    fn client_ids_are_never_empty_and_stored_as_strings() {
        assert!(ClientId::parse("").is_none());
        let id = ClientId::parse("https://app.example/client.json").unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            r#""https://app.example/client.json""#
        );
        assert!(serde_json::from_str::<ClientId>(r#""""#).is_err());
        assert_eq!(ClientId::generate().as_str().len(), 32);
    }

    #[test]
    fn redirect_uris_are_absolute_and_kept_as_written() {
        assert!(RedirectUri::parse("/cb").is_none());
        assert!(RedirectUri::parse("").is_none());
        let uri = RedirectUri::parse("http://127.0.0.1:9/cb?x=1").unwrap();
        assert_eq!(uri.as_str(), "http://127.0.0.1:9/cb?x=1");
        // A missing root path is not added, as the URL parser would.
        assert_eq!(
            RedirectUri::parse("https://a.example").unwrap().as_str(),
            "https://a.example"
        );
        assert_eq!(
            serde_json::to_string(&uri).unwrap(),
            r#""http://127.0.0.1:9/cb?x=1""#
        );
        assert!(serde_json::from_str::<RedirectUri>(r#""cb""#).is_err());
    }

    #[test]
    fn token_hashes_are_hashes_and_jtis_are_well_formed() {
        let h = TokenHash::of("g.secret");
        assert_eq!(h.as_str(), crate::crypto::sha256_hex("g.secret"));
        assert!(!format!("{h:?}").contains("secret"));
        assert!(Jti::parse("abc_DEF-1").is_some());
        for bad in ["", "a:b", "a b", &"x".repeat(65)] {
            assert!(Jti::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn empty_is_none_and_the_stored_form_is_unchanged() {
        assert_eq!(ClientState::parse(""), Ok(None));
        assert_eq!(ClientState::parse("s").unwrap().unwrap().as_str(), "s");
        assert_eq!(
            ClientState::parse(&"s".repeat(2049)),
            Err(ClientStateTooLong)
        );
        let none: Record = serde_json::from_str(r#"{"state":""}"#).unwrap();
        assert_eq!(none.state, None);
        assert_eq!(serde_json::to_string(&none).unwrap(), r#"{"state":""}"#);
        let some: Record = serde_json::from_str(r#"{"state":"abc"}"#).unwrap();
        assert_eq!(serde_json::to_string(&some).unwrap(), r#"{"state":"abc"}"#);
    }
}
