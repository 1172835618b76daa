//! The upstream identity provider, as the auth-proxy sees it: an OpenID Provider of which the
//! proxy is a confidential client with its own credentials and its own PKCE pair.

pub mod oidc;

use async_trait::async_trait;
use mcp_shared::Secret;
use serde::{Deserialize, Serialize};
use url::Url;

pub use self::oidc::{OidcUpstream, OidcUpstreamConfig};

/// The upstream token set of one grant. Sealed before it is stored (as the JSON of plain
/// strings); never sent to MCP clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamTokens {
    #[serde(with = "mcp_shared::secret::exposed")]
    pub access_token: Secret,
    pub token_type: String,
    #[serde(default, with = "mcp_shared::secret::exposed_option")]
    pub refresh_token: Option<Secret>,
    #[serde(default, with = "mcp_shared::secret::exposed_option")]
    pub id_token: Option<Secret>,
    /// Unix seconds, when the IdP said how long the access token lives.
    pub expires_at: Option<i64>,
    pub scope: Option<String>,
}

/// Who logged in upstream, from the validated ID token or, for IdPs that return no ID token,
/// from the userinfo endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamIdentity {
    pub subject: String,
    pub email: Option<String>,
    /// The `email_verified` claim when it is a boolean; the access policy trusts `email` only
    /// when this is `Some(true)`.
    #[serde(default)]
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    /// Every top-level claim with a string or number value, from the verified ID token (or the
    /// userinfo answer): the configured Nextcloud user claim may be any of them.
    #[serde(default)]
    pub claims: std::collections::BTreeMap<String, String>,
    /// Every top-level claim whose value is an array of strings (`groups`, `roles`, …), for the
    /// access policy's groups claim.
    #[serde(default)]
    pub lists: std::collections::BTreeMap<String, Vec<String>>,
}

impl UpstreamIdentity {
    /// The value of claim `name` (`sub` is the subject).
    pub fn claim(&self, name: &str) -> Option<&str> {
        match name {
            "sub" => Some(&self.subject),
            _ => self.claims.get(name).map(String::as_str),
        }
    }

    /// The values of claim `name` as a list: an array of strings, or a single string or number.
    pub fn list_claim(&self, name: &str) -> Vec<&str> {
        match self.lists.get(name) {
            Some(values) => values.iter().map(String::as_str).collect(),
            None => self.claim(name).into_iter().collect(),
        }
    }
}

/// The claims of a JSON object that are arrays of strings (an array holding anything else is
/// left out whole).
pub fn list_claims(value: &serde_json::Value) -> std::collections::BTreeMap<String, Vec<String>> {
    value
        .as_object()
        .map(|object| {
            object
                .iter()
                .filter_map(|(k, v)| {
                    let items = v.as_array()?;
                    let strings = items
                        .iter()
                        .map(|i| i.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()?;
                    Some((k.clone(), strings))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The string and number claims of a JSON object (a verified ID token's payload, a userinfo
/// answer); others (objects, arrays, booleans) cannot name a user.
pub fn scalar_claims(value: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    value
        .as_object()
        .map(|object| {
            object
                .iter()
                .filter_map(|(k, v)| match v {
                    serde_json::Value::String(s) => Some((k.clone(), s.clone())),
                    serde_json::Value::Number(n) => Some((k.clone(), n.to_string())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The IdP could not be reached, timed out, or answered 5xx / garbage: a 502-class failure.
    #[error("upstream identity provider unavailable: {0}")]
    Unavailable(String),
    /// The IdP refused (e.g. `invalid_grant` for the code or the refresh token).
    #[error("upstream identity provider refused the request: {0}")]
    Rejected(String),
    /// What the IdP returned did not validate (ID token signature, `iss`, `aud`, `nonce`, …).
    #[error("upstream response failed validation: {0}")]
    Invalid(String),
}

#[async_trait]
pub trait UpstreamIdp: Send + Sync + std::fmt::Debug {
    /// Whether discovery metadata (and the JWKS) are loaded; feeds `/readyz`.
    async fn is_ready(&self) -> bool;

    /// Loads (or refreshes) discovery metadata and the JWKS. Cached; called at start-up,
    /// lazily on first use, and in the background until it succeeds.
    async fn discover(&self) -> Result<(), UpstreamError>;

    /// The URL to send the browser to: the proxy's client id, its redirect URI, `state`,
    /// `nonce`, the S256 challenge of the proxy's own verifier and the configured scopes.
    async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Url, UpstreamError>;

    /// The URL for a sign-in that only wants to know who the person is (the connections
    /// page): as [`Self::authorization_url`] but never asking for `offline_access`, so the IdP
    /// neither mints a refresh token that would be dropped nor prompts for offline consent.
    async fn identity_url(
        &self,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Url, UpstreamError> {
        self.authorization_url(state, nonce, pkce_verifier).await
    }

    /// Exchanges the upstream code, validates the ID token (signature via the IdP's JWKS,
    /// `iss`, `aud`, `nonce`, expiry) or falls back to userinfo when the IdP returned none.
    async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<(UpstreamTokens, UpstreamIdentity), UpstreamError>;

    /// Refreshes the upstream token set (used by token exchange).
    async fn refresh(&self, refresh_token: &str) -> Result<UpstreamTokens, UpstreamError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_arrays_are_kept_for_the_groups_claim() {
        let v =
            serde_json::json!({"sub": "a", "groups": ["x", "y"], "mixed": ["x", 1], "role": "r"});
        let lists = list_claims(&v);
        assert_eq!(lists["groups"], ["x", "y"]);
        assert!(!lists.contains_key("mixed") && !lists.contains_key("role"));
        let identity = UpstreamIdentity {
            subject: "a".into(),
            email: None,
            email_verified: Some(true),
            name: None,
            preferred_username: None,
            claims: scalar_claims(&v),
            lists,
        };
        assert_eq!(identity.list_claim("groups"), ["x", "y"]);
        assert_eq!(identity.list_claim("role"), ["r"]);
        assert!(identity.list_claim("mixed").is_empty());
        // Records written before these fields existed still read.
        let old: UpstreamIdentity = serde_json::from_str(
            r#"{"subject":"a","email":null,"name":null,"preferred_username":null}"#,
        )
        .unwrap();
        assert_eq!((old.email_verified, old.lists.len()), (None, 0));
    }

    #[test]
    fn tokens_are_redacted_in_debug_and_sealed_as_plain_json() {
        // The form sealed into every grant: replicas of any version must read each other's.
        let json = r#"{"access_token":"AT-s3cr3t","token_type":"Bearer","refresh_token":"RT-s3cr3t","id_token":null,"expires_at":5,"scope":"openid"}"#;
        let tokens: UpstreamTokens = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&tokens).unwrap(), json);
        assert_eq!(tokens.access_token.expose(), "AT-s3cr3t");
        let text = format!("{tokens:?}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("Bearer") && text.contains("openid"), "{text}");
        let minimal: UpstreamTokens = serde_json::from_str(
            r#"{"access_token":"a","token_type":"Bearer","expires_at":null,"scope":null}"#,
        )
        .unwrap();
        assert!(minimal.refresh_token.is_none() && minimal.id_token.is_none());
    }
}
