//! Identifiers that travel into the store, typed so that "absent" and "malformed" cannot hide
//! in a `String`. Depends on nothing else in the crate.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Record {
        #[serde(with = "optional_state")]
        state: Option<ClientState>,
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
