//! What a client is once it has been validated, whatever its source: the record every endpoint
//! sees and the store keeps for registered clients. The vocabulary is typed so that a grant
//! type, response type, authentication method or application type we do not support cannot be
//! held at all. This module depends on nothing else in the crate but `ids` (the client id), so
//! the store can keep records without knowing how clients are found.
//!
//! Every type serialises to the RFC 7591 string it stands for, so records stored before the
//! types existed read back unchanged.

use mcp_shared::ScopeSet;
use serde::{Deserialize, Serialize};

use crate::ids::ClientId;

/// How a client authenticates at the token and revocation endpoints (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    None,
    ClientSecretPost,
    ClientSecretBasic,
    /// RFC 7523 client assertion signed with a key the client publishes (metadata documents
    /// only: the keys come with the document, which is never stored).
    PrivateKeyJwt,
}

impl TokenEndpointAuthMethod {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::None,
            Self::ClientSecretPost,
            Self::ClientSecretBasic,
            Self::PrivateKeyJwt,
        ]
        .into_iter()
        .find(|m| m.as_str() == value)
    }
}

/// The grant types this server implements (RFC 6749, RFC 8693).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GrantType {
    #[serde(rename = "authorization_code")]
    AuthorizationCode,
    #[serde(rename = "refresh_token")]
    RefreshToken,
    /// Only the mcp-server's confidential client (from configuration) holds it.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
    /// RFC 7523 §2.1 with the ID-JAG profile (Enterprise-Managed Authorization, ADR 0020).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:jwt-bearer")]
    JwtBearer,
}

impl GrantType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::TokenExchange => mcp_shared::token_exchange::GRANT_TYPE,
            Self::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::AuthorizationCode,
            Self::RefreshToken,
            Self::TokenExchange,
            Self::JwtBearer,
        ]
        .into_iter()
        .find(|g| g.as_str() == value)
    }
}

/// The response types of `/authorize`: the authorization code flow only (OAuth 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseType {
    Code,
}

impl ResponseType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
        }
    }
}

/// OpenID Connect Dynamic Registration's `application_type`, which RFC 7591 clients may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationType {
    /// https redirect URIs only.
    Web,
    /// Loopback http, private-use schemes or https (what registration allows anyway).
    Native,
}

impl ApplicationType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }
}

/// A client (RFC 7591), as every endpoint sees it and as the store keeps registered ones.
/// Absent members are left out of the stored form (an anonymous registration is stored for
/// anyone who asks, so every byte counts) and read back as absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    pub client_id: ClientId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// SHA-256 hex of the client secret, for confidential clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_hash: Option<String>,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<ResponseType>,
    /// The ceiling on what the client may request, if it named one. Typed so that a stored
    /// value that no longer parses (an unknown or malformed scope) fails the whole record as
    /// corrupt instead of reading as "no ceiling": a client's scope can only ever narrow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopeSet>,
    /// The next four are used nowhere; dynamic registration does not keep them (documents and
    /// the clients file may still carry them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    pub created_at: i64,
    /// `web` or `native` (as registered, or inferred from the redirect URIs); `None` for the
    /// token-exchange client and for records stored before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<ApplicationType>,
}

impl ClientRecord {
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(scope: serde_json::Value) -> serde_json::Value {
        json!({
            "client_id": "c",
            "client_name": null,
            "redirect_uris": ["http://127.0.0.1/cb"],
            "token_endpoint_auth_method": "none",
            "client_secret_hash": null,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": scope,
            "client_uri": null,
            "logo_uri": null,
            "software_id": null,
            "software_version": null,
            "created_at": 1,
        })
    }

    #[test]
    fn records_stored_as_strings_read_back_typed() {
        let record: ClientRecord = serde_json::from_value(stored(json!("notes:read"))).unwrap();
        assert_eq!(
            record.grant_types,
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(record.response_types, [ResponseType::Code]);
        assert_eq!(record.scope.unwrap().to_string(), "notes:read");
        assert_eq!(record.application_type, None);
        let none: ClientRecord = serde_json::from_value(stored(json!(null))).unwrap();
        assert_eq!(none.scope, None);
        // Written back without the absent members, and read again unchanged.
        let round_trip = serde_json::to_value(&none).unwrap();
        assert_eq!(
            round_trip,
            json!({
                "client_id": "c",
                "redirect_uris": ["http://127.0.0.1/cb"],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "created_at": 1,
            })
        );
        assert_eq!(
            serde_json::from_value::<ClientRecord>(round_trip).unwrap(),
            none
        );
    }

    #[test]
    fn a_stored_scope_that_does_not_parse_is_corrupt_not_unlimited() {
        for bad in ["notes:read admin", "notes:read\u{7f}"] {
            assert!(
                serde_json::from_value::<ClientRecord>(stored(json!(bad))).is_err(),
                "{bad}"
            );
        }
        let mut unknown_grant = stored(json!(null));
        unknown_grant["grant_types"] = json!(["client_credentials"]);
        assert!(serde_json::from_value::<ClientRecord>(unknown_grant).is_err());
    }

    #[test]
    fn vocabulary_parses_what_it_prints() {
        for g in [
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::TokenExchange,
            GrantType::JwtBearer,
        ] {
            assert_eq!(GrantType::parse(g.as_str()), Some(g));
            assert_eq!(serde_json::to_value(g).unwrap(), json!(g.as_str()));
        }
        for m in [
            TokenEndpointAuthMethod::None,
            TokenEndpointAuthMethod::ClientSecretPost,
            TokenEndpointAuthMethod::ClientSecretBasic,
            TokenEndpointAuthMethod::PrivateKeyJwt,
        ] {
            assert_eq!(TokenEndpointAuthMethod::parse(m.as_str()), Some(m));
            assert_eq!(serde_json::to_value(m).unwrap(), json!(m.as_str()));
        }
        assert_eq!(GrantType::parse("client_credentials"), None);
        assert_eq!(TokenEndpointAuthMethod::parse("client_secret_jwt"), None);
    }
}
