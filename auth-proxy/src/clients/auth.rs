//! Client authentication at the token and revocation endpoints (RFC 6749 §2.3):
//! `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523, metadata-document
//! clients only), or `none` for public clients. Free of HTTP types: the handler passes the
//! `Authorization` header and the form's members.
//!
//! A client assertion (RFC 7523 §3) is accepted when: it comes alone (no Basic header, no
//! `client_secret`: else `invalid_request`) with the jwt-bearer assertion type (else
//! `invalid_client`); its `iss` names a document client whose document says `private_key_jwt`
//! (and the form's `client_id`, if any, is the same); its signature verifies with the
//! document's keys under the configured algorithms (narrowed to the document's
//! `token_endpoint_auth_signing_alg`); `sub` = `iss`; `aud` names our issuer or the endpoint
//! it was sent to; `exp` is present, not past and at most the configured lifetime away;
//! `nbf`/`iat` are not in the future (30 s leeway each way); and its `jti` was never used
//! before at any replica (the store remembers it until the assertion has expired). Every
//! refusal is `invalid_client` (401), whose reason never quotes the assertion.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use mcp_shared::claims::CLOCK_SKEW_LEEWAY_SECS;
use mcp_shared::Secret;
use serde_json::Value;

use super::cimd::{AssertionAuth, ClientKeys, KeySetFreshness};
use super::record::{ClientRecord, TokenEndpointAuthMethod};
use super::registry::{ClientLookupError, ClientRegistry};
use crate::crypto::hash_matches;
use crate::error::OAuthError;
use crate::jose::{self, JoseError, TimeRules};
use crate::store::{JtiKind, Store};

/// RFC 7523 §2.2.
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Longest `jti` accepted (it is hashed before it is stored; this only bounds the work).
const MAX_JTI: usize = 256;

/// The client assertion the request presented, if any.
#[derive(Debug, Clone, Default)]
pub struct PresentedAssertion<'a> {
    /// The form's `client_assertion_type`, if non-empty.
    pub assertion_type: Option<&'a str>,
    /// The form's `client_assertion`, if non-empty (a bearer credential: redacted).
    pub assertion: Option<Secret>,
}

/// What an assertion must meet at this endpoint, now.
#[derive(Clone, Copy)]
pub struct AssertionRules<'a> {
    /// Accepted `aud` values: our issuer, the token endpoint, and at `/revoke` the revocation
    /// endpoint.
    pub audiences: &'a [String],
    /// The configured algorithms (`AUTH_PROXY_CLIENT_ASSERTION_ALGS`).
    pub algs: &'a [Algorithm],
    pub max_lifetime_secs: i64,
    /// Unix seconds.
    pub now: i64,
    /// Remembers used `jti`s across replicas.
    pub store: &'a dyn Store,
}

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
    /// the client tried Basic). Without client assertions (see [`Self::authenticate_with`]).
    pub async fn authenticate(
        &self,
        presented: PresentedCredentials<'_>,
    ) -> Result<ClientRecord, OAuthError> {
        self.authenticate_with(presented, PresentedAssertion::default(), None)
            .await
    }

    /// [`Self::authenticate`], with a client assertion checked under `rules` (none accepted
    /// without rules).
    pub async fn authenticate_with(
        &self,
        presented: PresentedCredentials<'_>,
        assertion: PresentedAssertion<'_>,
        rules: Option<AssertionRules<'_>>,
    ) -> Result<ClientRecord, OAuthError> {
        if assertion.assertion.is_some() || assertion.assertion_type.is_some() {
            if presented.authorization.is_some() || presented.client_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method, not two",
                ));
            }
            return self
                .authenticate_assertion(presented.client_id, assertion, rules)
                .await;
        }
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
            // A document offering both (RP Metadata Choices) may come as a public client.
            (TokenEndpointAuthMethod::PrivateKeyJwt, _, None)
                if self
                    .document_auth(client.client_id.as_str())
                    .await?
                    .is_some_and(|a| a.accepts_none) =>
            {
                Ok(client)
            }
            (TokenEndpointAuthMethod::PrivateKeyJwt, _, _) => Err(OAuthError::invalid_client(
                "this client authenticates with private_key_jwt: send client_assertion",
            )
            .with_basic_challenge(used_basic)),
            (_, Some(hash), Some(secret)) if hash_matches(secret.expose(), hash) => Ok(client),
            _ => Err(unknown()),
        }
    }

    /// How the document client `client_id` authenticates (`None`: not a document client, or
    /// a `none` one).
    async fn document_auth(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<AssertionAuth>>, OAuthError> {
        let Some(resolver) = self.cimd() else {
            return Ok(None);
        };
        if !super::cimd::is_cimd_client_id(client_id) {
            return Ok(None);
        }
        match resolver.resolve_client(client_id).await {
            Ok(client) => Ok(client.assertion),
            Err(e) => Err(OAuthError::invalid_client(format!(
                "the client metadata document cannot be used: {e}"
            ))),
        }
    }

    async fn authenticate_assertion(
        &self,
        form_id: Option<&str>,
        presented: PresentedAssertion<'_>,
        rules: Option<AssertionRules<'_>>,
    ) -> Result<ClientRecord, OAuthError> {
        let refused = |why: &'static str| OAuthError::invalid_client(why);
        match presented.assertion_type {
            Some(JWT_BEARER_ASSERTION_TYPE) => {}
            Some(_) => return Err(refused("unsupported client_assertion_type")),
            None => {
                return Err(OAuthError::invalid_request(
                    "client_assertion_type is required with client_assertion",
                ))
            }
        }
        let Some(token) = presented.assertion else {
            return Err(OAuthError::invalid_request(
                "client_assertion is required with client_assertion_type",
            ));
        };
        let token = token.expose();
        let Some(rules) = rules else {
            return Err(refused("client assertions are not accepted here"));
        };
        // Who claims to have signed decides whose keys to try; nothing else is trusted yet.
        let unverified = jose::unverified_claims(token).map_err(|e| assertion_error(&e))?;
        let Some(client_id) = unverified.get("iss").and_then(Value::as_str) else {
            return Err(refused("the client assertion has no iss"));
        };
        if form_id.is_some_and(|f| f != client_id) {
            return Err(refused(
                "client_id does not match the client assertion's iss",
            ));
        }
        let client = match self.lookup(client_id).await {
            Ok(Some(client)) => client,
            Ok(None) => return Err(refused("client authentication failed")),
            Err(ClientLookupError::Store(e)) => return Err(e.into()),
            Err(ClientLookupError::Cimd(e)) => {
                return Err(OAuthError::invalid_client(format!(
                    "the client metadata document cannot be used: {e}"
                )))
            }
        };
        let auth = match client.token_endpoint_auth_method {
            TokenEndpointAuthMethod::PrivateKeyJwt => self.document_auth(client_id).await?,
            _ => None,
        }
        .ok_or_else(|| refused("this client does not authenticate with private_key_jwt"))?;
        let algs: Vec<Algorithm> = rules
            .algs
            .iter()
            .copied()
            .filter(|a| auth.signing_alg.is_none_or(|only| only == *a))
            .collect();
        let verified = self.verify_assertion(token, &auth, &algs).await?;
        let claims = verified.claims;
        if claims.get("sub").and_then(Value::as_str) != Some(client_id) {
            return Err(refused("the client assertion's sub must be the client_id"));
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(aud)) => rules.audiences.contains(aud),
            Some(Value::Array(auds)) => auds
                .iter()
                .filter_map(Value::as_str)
                .any(|a| rules.audiences.iter().any(|ours| ours == a)),
            _ => false,
        };
        if !aud_ok {
            return Err(refused(
                "the client assertion's aud must name this issuer or endpoint",
            ));
        }
        let remaining = jose::check_times(
            &claims,
            TimeRules {
                now: rules.now,
                leeway_secs: CLOCK_SKEW_LEEWAY_SECS,
                max_lifetime_secs: rules.max_lifetime_secs,
            },
        )
        .map_err(|e| OAuthError::invalid_client(format!("client assertion: {e}")))?;
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .filter(|j| !j.is_empty() && j.len() <= MAX_JTI)
            .ok_or_else(|| refused("the client assertion needs a jti"))?;
        // Remembered until the assertion could no longer be accepted anyway.
        let ttl_secs = u64::try_from(remaining + CLOCK_SKEW_LEEWAY_SECS).unwrap_or(1);
        let first = rules
            .store
            .claim_jti(
                JtiKind::ClientAssertion,
                client_id,
                jti,
                std::time::Duration::from_secs(ttl_secs.max(1)),
            )
            .await?;
        if !first {
            crate::audit::event("client_assertion.refused", "refused")
                .reason("replayed")
                .client(client_id)
                .info("client assertion replayed");
            return Err(refused("the client assertion was already used"));
        }
        Ok(client)
    }

    /// Verifies with the client's keys; a `kid` its cached `jwks_uri` set lacks fetches the
    /// set again, once (the client may have rotated).
    async fn verify_assertion(
        &self,
        token: &str,
        auth: &AssertionAuth,
        algs: &[Algorithm],
    ) -> Result<jose::VerifiedJwt, OAuthError> {
        let uri = match &auth.keys {
            ClientKeys::Inline(keys) => {
                return jose::verify(token, keys, algs, None).map_err(|e| assertion_error(&e))
            }
            ClientKeys::Uri(uri) => uri,
        };
        let resolver = self
            .cimd()
            .ok_or_else(|| OAuthError::invalid_client("client authentication failed"))?;
        let mut refetch = false;
        loop {
            let (keys, freshness) = resolver.key_set(uri, refetch).await.map_err(|e| {
                tracing::debug!(detail = ?e, "client jwks_uri unusable");
                OAuthError::invalid_client("the client's jwks_uri cannot be used")
            })?;
            match jose::verify(token, &keys, algs, None) {
                Err(JoseError::UnknownKey) if !refetch && freshness == KeySetFreshness::Cached => {
                    refetch = true;
                }
                outcome => return outcome.map_err(|e| assertion_error(&e)),
            }
        }
    }
}

fn assertion_error(e: &JoseError) -> OAuthError {
    OAuthError::invalid_client(format!("client assertion: {e}"))
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
        let assertion = PresentedAssertion {
            assertion_type: Some(JWT_BEARER_ASSERTION_TYPE),
            assertion: Some(Secret::new("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJjIn0.c2ln")),
        };
        let text = format!("{assertion:?}");
        assert!(!text.contains("eyJ"), "{text}");
    }
}
