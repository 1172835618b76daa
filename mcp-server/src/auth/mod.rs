//! Bearer authentication of MCP requests (RFC 6750, RFC 9068, RFC 9728 challenges).
//!
//! The access token is validated offline against the auth-proxy's JWKS: algorithm allow-list,
//! signature, `typ`, `iss`, `aud` (this server's canonical resource URI), `exp` and `nbf` with
//! a small leeway. The token itself is kept only to be exchanged at the auth-proxy (RFC 8693);
//! it is never forwarded to Nextcloud or anywhere else.

pub mod cache;
pub mod guard;
pub mod jwks;

use std::sync::Arc;

use jsonwebtoken::Validation;
use mcp_shared::{AccessTokenClaims, Scope, ScopeSet, Secret, ACCESS_TOKEN_TYP};

pub use jwks::JwksCache;

/// The raw access token, kept for token exchange. Never printed (a [`Secret`]).
#[derive(Debug, Clone)]
pub struct BearerToken(Secret);

impl BearerToken {
    pub fn new(token: &str) -> Self {
        Self(Secret::new(token))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// Who is calling, and what they may do.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user (upstream subject; the Nextcloud user in single-user mode).
    pub subject: String,
    /// The MCP client the token was issued to (`None` in single-user mode).
    pub client_id: Option<String>,
    pub scopes: ScopeSet,
    pub credential: Credential,
}

#[derive(Debug, Clone)]
pub enum Credential {
    /// A validated proxy access token: the grant id and expiry decide exchange caching.
    AccessToken {
        token: BearerToken,
        grant_id: String,
        expires_at: i64,
    },
    /// Single-user mode: the configured app password is used for Nextcloud.
    SingleUser,
}

impl Principal {
    pub fn single_user(user: &str) -> Self {
        Self {
            subject: user.to_owned(),
            client_id: None,
            scopes: ScopeSet::all(),
            credential: Credential::SingleUser,
        }
    }

    pub fn has(&self, required: &[Scope]) -> bool {
        let granted = self.scopes.expanded();
        required.iter().all(|s| granted.contains(*s))
    }
}

/// Why a token was refused. The description goes into `error_description`; it names the
/// failed check, never the token or its contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token is malformed")]
    Malformed,
    #[error("the token's signing algorithm is not accepted")]
    Algorithm,
    #[error("the token is not an access token (typ must be at+jwt)")]
    Type,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    #[error("the token signature is invalid")]
    Signature,
    #[error("the token was issued by another authorization server")]
    Issuer,
    #[error("the token is meant for another resource")]
    Audience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    /// Valid, but the authorization server no longer exchanges it: the token was revoked,
    /// or its grant (at the auth-proxy, or by revoking its app password in Nextcloud).
    #[error("the token or the grant behind it was revoked; sign in again")]
    Revoked,
}

pub struct Verifier {
    pub issuer: String,
    pub audience: String,
    pub leeway: i64,
    pub jwks: Arc<JwksCache>,
}

/// A token that passed every check, with the key that signed it.
pub(crate) struct Verified {
    pub claims: AccessTokenClaims,
    pub kid: String,
    pub key: Arc<jsonwebtoken::DecodingKey>,
}

/// A refused token. `settled_by` names the key the refusal was decided against when nothing
/// but a change of that key could ever turn it into an acceptance: a signature that does not
/// verify with it, or signed claims that can never become valid (another issuer or audience,
/// expired, malformed). `None` for refusals decided before any signature check (cheap to
/// repeat) and for a token that is not valid yet (time will change that).
pub(crate) struct Refused {
    pub error: TokenError,
    pub settled_by: Option<(String, Arc<jsonwebtoken::DecodingKey>)>,
}

impl From<TokenError> for Refused {
    fn from(error: TokenError) -> Self {
        Self {
            error,
            settled_by: None,
        }
    }
}

impl Verifier {
    /// Validates `token` at time `now` (Unix seconds): every check, every time. The guard goes
    /// through [`cache::CachedVerifier`], which calls this for tokens it has not seen.
    pub async fn verify(&self, token: &str, now: i64) -> Result<Principal, TokenError> {
        let verified = self.verify_fully(token, now).await.map_err(|r| r.error)?;
        Ok(principal(token, &verified.claims))
    }

    pub(crate) async fn verify_fully(&self, token: &str, now: i64) -> Result<Verified, Refused> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if !jwks::ALLOWED_ALGORITHMS.contains(&header.alg) {
            return Err(TokenError::Algorithm.into());
        }
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP)
            && header.typ.as_deref() != Some("application/at+jwt")
        {
            return Err(TokenError::Type.into());
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.jwks.key(&kid).await.ok_or(TokenError::UnknownKey)?;
        if key.algorithm != header.alg {
            return Err(TokenError::Algorithm.into());
        }
        let mut validation = Validation::new(key.algorithm);
        // Time and audience are checked below against an injectable clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let settled = |error: TokenError| Refused {
            settled_by: (error != TokenError::NotYetValid).then(|| (kid.clone(), key.key.clone())),
            error,
        };
        let claims = jsonwebtoken::decode::<AccessTokenClaims>(token, &key.key, &validation)
            .map_err(|e| {
                settled(match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::Signature,
                    _ => TokenError::Malformed,
                })
            })?
            .claims;
        claims
            .validate(&self.issuer, &self.audience, now, self.leeway)
            .map_err(|e| settled(claim_error(e)))?;
        Ok(Verified {
            claims,
            kid,
            key: key.key,
        })
    }
}

fn claim_error(e: mcp_shared::ClaimError) -> TokenError {
    match e {
        mcp_shared::ClaimError::Issuer => TokenError::Issuer,
        mcp_shared::ClaimError::Audience => TokenError::Audience,
        mcp_shared::ClaimError::Expired => TokenError::Expired,
        mcp_shared::ClaimError::NotYetValid => TokenError::NotYetValid,
        mcp_shared::ClaimError::Inconsistent => TokenError::Malformed,
    }
}

/// The caller a verified token names.
fn principal(token: &str, claims: &AccessTokenClaims) -> Principal {
    Principal {
        subject: claims.sub.clone(),
        client_id: Some(claims.client_id.clone()),
        scopes: claims.scope.clone(),
        credential: Credential::AccessToken {
            token: BearerToken::new(token),
            grant_id: claims.gid.clone(),
            expires_at: claims.exp,
        },
    }
}

/// Quotes a value for an auth-param (RFC 9110 §11.2 quoted-string).
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `WWW-Authenticate` for a request without a usable token (401).
pub fn unauthorized_challenge(
    resource_metadata: &str,
    scopes: &str,
    error: Option<&TokenError>,
) -> String {
    let mut value = format!(
        "Bearer resource_metadata={}, scope={}",
        quoted(resource_metadata),
        quoted(scopes)
    );
    if let Some(e) = error {
        value.push_str(", error=\"invalid_token\", error_description=");
        value.push_str(&quoted(&e.to_string()));
    }
    value
}

/// `WWW-Authenticate` for a token that lacks scopes (403): names every scope the operation
/// needs, in one challenge.
pub fn insufficient_scope_challenge(resource_metadata: &str, needed: &ScopeSet) -> String {
    format!(
        "Bearer error=\"insufficient_scope\", scope={}, resource_metadata={}, error_description={}",
        quoted(&needed.to_string()),
        quoted(resource_metadata),
        quoted("the access token does not grant the scopes this operation needs")
    )
}

/// The scopes a client should ask for to use every tool (all data scopes).
pub fn all_data_scopes() -> ScopeSet {
    let mut set = ScopeSet::new();
    for s in Scope::ALL.iter().filter(|s| !s.is_identity()) {
        set.insert(*s);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_never_printed() {
        let token = BearerToken::new("eyJ-s3cr3t");
        assert_eq!(token.expose(), "eyJ-s3cr3t");
        let credential = Credential::AccessToken {
            token,
            grant_id: "g".into(),
            expires_at: 1,
        };
        let text = format!("{credential:?}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn challenges_are_exact() {
        assert_eq!(
            unauthorized_challenge("https://m.example/.well-known/oauth-protected-resource/mcp", "notes:read", None),
            "Bearer resource_metadata=\"https://m.example/.well-known/oauth-protected-resource/mcp\", scope=\"notes:read\""
        );
        assert_eq!(
            unauthorized_challenge("u", "s", Some(&TokenError::Expired)),
            "Bearer resource_metadata=\"u\", scope=\"s\", error=\"invalid_token\", error_description=\"the token has expired\""
        );
        let needed = ScopeSet::parse("notes:write files:read").unwrap();
        assert_eq!(
            insufficient_scope_challenge("u", &needed),
            format!("Bearer error=\"insufficient_scope\", scope=\"{needed}\", resource_metadata=\"u\", error_description=\"the access token does not grant the scopes this operation needs\"")
        );
    }

    #[test]
    fn quoting_escapes() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn write_implies_read_for_tool_checks() {
        let p = Principal {
            subject: "u".into(),
            client_id: None,
            scopes: ScopeSet::parse("notes:write").unwrap(),
            credential: Credential::SingleUser,
        };
        assert!(p.has(&[Scope::NotesRead]));
        assert!(!p.has(&[Scope::FilesRead]));
    }
}
