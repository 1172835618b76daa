//! Client authentication at the token and revocation endpoints (RFC 6749 §2.3):
//! `client_secret_basic`, `client_secret_post`, or `none` for public clients. Free of HTTP
//! types: the handler passes the `Authorization` header and the form's members.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mcp_shared::Secret;

use super::record::{ClientRecord, TokenEndpointAuthMethod};
use super::registry::{ClientLookupError, ClientRegistry};
use crate::crypto::hash_matches;
use crate::error::OAuthError;

/// What the request presented to authenticate the client.
#[derive(Debug, Clone)]
pub struct PresentedCredentials<'a> {
    /// The `Authorization` header, if any (`Some("")` when it is not valid text).
    pub authorization: Option<Secret>,
    /// The form's `client_id`, if non-empty.
    pub client_id: Option<&'a str>,
    /// The form's `client_secret`, if non-empty.
    pub client_secret: Option<Secret>,
}

impl ClientRegistry {
    /// The client the credentials prove, or `invalid_client` (401 with a Basic challenge when
    /// the client tried Basic).
    pub async fn authenticate(
        &self,
        presented: PresentedCredentials<'_>,
    ) -> Result<ClientRecord, OAuthError> {
        let basic = match &presented.authorization {
            Some(value) => Some(parse_basic(value.expose())?),
            None => None,
        };
        let used_basic = basic.is_some();
        let form_id = presented.client_id;
        let (client_id, secret) = match (basic, presented.client_secret) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method, not two",
                ))
            }
            (Some((id, secret)), None) => {
                if form_id.is_some_and(|f| f != id) {
                    return Err(OAuthError::invalid_client(
                        "client_id does not match the credentials",
                    )
                    .with_basic_challenge(true));
                }
                (id, Some(secret))
            }
            (None, secret) => {
                let id = form_id.ok_or_else(|| {
                    OAuthError::invalid_client("client authentication is required")
                })?;
                (id.to_owned(), secret)
            }
        };
        let unknown = || {
            OAuthError::invalid_client("client authentication failed")
                .with_basic_challenge(used_basic)
        };
        let client = match self.lookup(&client_id).await {
            Ok(Some(client)) => client,
            Ok(None) => return Err(unknown()),
            Err(ClientLookupError::Store(e)) => return Err(e.into()),
            Err(ClientLookupError::Cimd(e)) => {
                return Err(OAuthError::invalid_client(format!(
                    "the client metadata document cannot be used: {e}"
                ))
                .with_basic_challenge(used_basic))
            }
        };
        match (
            client.token_endpoint_auth_method,
            &client.client_secret_hash,
            secret,
        ) {
            (TokenEndpointAuthMethod::None, _, None) => Ok(client),
            (TokenEndpointAuthMethod::None, _, Some(_)) => Err(unknown()),
            (_, Some(hash), Some(secret)) if hash_matches(secret.expose(), hash) => Ok(client),
            _ => Err(unknown()),
        }
    }
}

fn parse_basic(value: &str) -> Result<(String, Secret), OAuthError> {
    let bad = || {
        OAuthError::invalid_client("malformed HTTP Basic credentials").with_basic_challenge(true)
    };
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .ok_or_else(bad)?;
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before Base64.
    let unescape = |s: &str| -> Result<String, OAuthError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(&format!("v={s}")).map_err(|_| bad())?;
        pairs.into_iter().next().map(|(_, v)| v).ok_or_else(bad)
    };
    Ok((unescape(id)?, Secret::new(unescape(secret)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20client:p%40ss%3Aword"));
        assert_eq!(
            parse_basic(&header).unwrap(),
            ("my client".into(), "p@ss:word".into())
        );
        assert!(parse_basic("Bearer abc").is_err());
        assert!(parse_basic("Basic !!!").is_err());
        assert!(parse_basic(&format!("Basic {}", STANDARD.encode("nocolon"))).is_err());
    }

    #[test]
    fn presented_credentials_debug_redacts_the_secrets() {
        let header = format!("Basic {}", STANDARD.encode("c:hunter2-basic"));
        let presented = PresentedCredentials {
            authorization: Some(Secret::new(header.as_str())),
            client_id: Some("c"),
            client_secret: Some(Secret::new("hunter2-post")),
        };
        let text = format!("{presented:?}");
        assert!(
            !text.contains(&header) && !text.contains("hunter2"),
            "{text}"
        );
        assert!(text.contains("\"c\""), "{text}");
    }
}
