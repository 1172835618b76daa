//! The decisions of RFC 8693 token exchange (`POST /token` with the token-exchange grant, for
//! the mcp-server's own client): who may exchange, which subject tokens are acceptable, when
//! the upstream token must be refreshed first, and what the answer carries. The grants service
//! (`crate::grants`) checks the subject token against the store; the handler
//! (`routes/exchange.rs`) does the cipher and the upstream refresh around them.

use mcp_shared::claims::CLOCK_SKEW_LEEWAY_SECS;
use mcp_shared::{AccessTokenClaims, Secret};
use serde::Serialize;

use super::token::ACCESS_TOKEN_TYPE;
use crate::error::OAuthError;
use crate::store::GrantRecord;
use crate::upstream::UpstreamTokens;
use mcp_shared::token_exchange::NEXTCLOUD_BASIC_TOKEN_TYPE;

/// The answer: the user's upstream access token, never the proxy's.
#[derive(Debug, Serialize)]
pub struct ExchangeResponse {
    #[serde(with = "mcp_shared::secret::exposed")]
    access_token: Secret,
    issued_token_type: &'static str,
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<i64>,
}

impl ExchangeResponse {
    /// Nextcloud HTTP Basic credentials (the app-password strategy): `access_token` is the
    /// base64 of `login:app-password`, usable for `expires_in` seconds before it is asked for
    /// again (revocation deletes it in Nextcloud, which stops it at once anyway).
    pub fn basic(login_name: &str, app_password: &Secret, expires_in: i64) -> Self {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(format!("{login_name}:{}", app_password.expose()));
        Self {
            access_token: Secret::new(encoded),
            issued_token_type: NEXTCLOUD_BASIC_TOKEN_TYPE,
            token_type: "N_A",
            expires_in: Some(expires_in),
        }
    }

    /// The upstream access token, with the seconds it has left at `now` (if the IdP said).
    pub fn new(tokens: UpstreamTokens, now: i64) -> Self {
        Self {
            expires_in: tokens.expires_at.map(|exp| (exp - now).max(0)),
            access_token: tokens.access_token,
            issued_token_type: ACCESS_TOKEN_TYPE,
            token_type: "Bearer",
        }
    }
}

/// Only the configured exchange client may exchange, and only when one is configured.
pub fn check_client(exchange_client_id: Option<&str>, client_id: &str) -> Result<(), OAuthError> {
    match exchange_client_id {
        None => Err(OAuthError::unsupported_grant_type(
            "token exchange is not enabled",
        )),
        Some(id) if id != client_id => Err(OAuthError::unauthorized_client(
            "only the MCP server's client may exchange tokens",
        )),
        Some(_) => Ok(()),
    }
}

/// `requested_token_type` must be what the strategy hands out (`app_password`: Nextcloud
/// Basic credentials; otherwise the upstream access token), or absent.
pub fn check_requested_type(requested: Option<&str>, app_password: bool) -> Result<(), OAuthError> {
    let issued = if app_password {
        NEXTCLOUD_BASIC_TOKEN_TYPE
    } else {
        ACCESS_TOKEN_TYPE
    };
    match requested {
        None => Ok(()),
        Some(t) if t == issued => Ok(()),
        Some(_) => Err(OAuthError::invalid_request(format!(
            "this server hands out {issued}: leave requested_token_type out or request that"
        ))),
    }
}

pub fn invalid_subject() -> OAuthError {
    OAuthError::invalid_grant("subject_token is invalid")
}

pub fn grant_revoked() -> OAuthError {
    OAuthError::invalid_grant("the grant behind subject_token was revoked or has expired")
}

/// A subject token (signature already verified) must be for one of our MCP `resources`,
/// from us, and current at `now`, with the clock-skew leeway the mcp-server allows: a token
/// it has just accepted is not refused here because another replica's clock runs ahead.
pub fn check_subject(
    claims: &AccessTokenClaims,
    issuer: &str,
    resources: &[String],
    now: i64,
) -> Result<(), OAuthError> {
    if !resources.contains(&claims.aud) {
        return Err(invalid_subject());
    }
    claims
        .validate(issuer, &claims.aud, now, CLOCK_SKEW_LEEWAY_SECS)
        .map_err(|e| OAuthError::invalid_grant(format!("subject_token: {e}")))
}

/// Whether the grant the token names is the grant it was issued from: same user, same
/// resource.
pub fn grant_matches(grant: &GrantRecord, claims: &AccessTokenClaims) -> bool {
    grant.subject == claims.sub && grant.resource == claims.aud
}

/// Whether the upstream access token expires within `margin_secs` of `now` (and so is
/// refreshed before it is handed out).
pub fn needs_refresh(tokens: &UpstreamTokens, margin_secs: i64, now: i64) -> bool {
    tokens
        .expires_at
        .is_some_and(|exp| exp - margin_secs <= now)
}

/// What to do when the upstream token is stale and there is no refresh token: hand it out
/// while it still lives, refuse once it has expired.
pub fn without_refresh_token(
    current: UpstreamTokens,
    now: i64,
) -> Result<UpstreamTokens, OAuthError> {
    if current.expires_at.is_some_and(|exp| exp <= now) {
        return Err(OAuthError::invalid_grant(
            "the upstream access token expired and there is no refresh token: the user must \
             sign in again",
        ));
    }
    Ok(current)
}

/// The token set after a refresh: the IdP may leave out the refresh token (keep using the old
/// one) and the ID token (keep the old one).
pub fn merge_refreshed(
    mut fresh: UpstreamTokens,
    refresh_token: Secret,
    previous_id_token: Option<Secret>,
) -> UpstreamTokens {
    if fresh.refresh_token.is_none() {
        fresh.refresh_token = Some(refresh_token);
    }
    if fresh.id_token.is_none() {
        fresh.id_token = previous_id_token;
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_shared::{OAuthErrorCode, ScopeSet};

    fn tokens(expires_at: Option<i64>) -> UpstreamTokens {
        UpstreamTokens {
            access_token: "up".into(),
            token_type: "Bearer".into(),
            refresh_token: None,
            id_token: None,
            expires_at,
            scope: None,
        }
    }

    fn claims(aud: &str, exp: i64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://as.example".into(),
            sub: "alice".into(),
            aud: aud.into(),
            client_id: "c".into(),
            scope: ScopeSet::new(),
            iat: 100,
            nbf: 100,
            exp,
            jti: "j".into(),
            gid: "g".into(),
        }
    }

    #[test]
    fn only_the_configured_client_exchanges() {
        assert_eq!(
            check_client(None, "mcp").err().map(|e| e.code),
            Some(OAuthErrorCode::UnsupportedGrantType)
        );
        assert_eq!(
            check_client(Some("mcp"), "other").err().map(|e| e.code),
            Some(OAuthErrorCode::UnauthorizedClient)
        );
        assert!(check_client(Some("mcp"), "mcp").is_ok());
    }

    #[test]
    fn subject_tokens_are_ours_for_our_resources_and_current() {
        let resources = ["https://mcp.example/mcp".to_owned()];
        let issuer = "https://as.example";
        assert!(check_subject(&claims(&resources[0], 400), issuer, &resources, 200).is_ok());
        for (c, now) in [
            (claims("https://other.example/mcp", 400), 200),
            (claims(&resources[0], 400), 400 + CLOCK_SKEW_LEEWAY_SECS),
        ] {
            assert_eq!(
                check_subject(&c, issuer, &resources, now)
                    .err()
                    .map(|e| e.code),
                Some(OAuthErrorCode::InvalidGrant)
            );
        }
        assert!(check_subject(
            &claims(&resources[0], 400),
            "https://evil.example",
            &resources,
            200
        )
        .is_err());
    }

    #[test]
    fn subject_tokens_get_the_mcp_servers_clock_skew_leeway() {
        let resources = ["https://mcp.example/mcp".to_owned()];
        let issuer = "https://as.example";
        let check = |c: &AccessTokenClaims, now| check_subject(c, issuer, &resources, now);
        // Expired a moment ago by this clock, still valid by the mcp-server's (30 s behind).
        assert!(check(&claims(&resources[0], 400), 400).is_ok());
        assert!(check(
            &claims(&resources[0], 400),
            400 + CLOCK_SKEW_LEEWAY_SECS - 1
        )
        .is_ok());
        assert!(check(&claims(&resources[0], 400), 400 + CLOCK_SKEW_LEEWAY_SECS).is_err());
        // Issued by a replica whose clock runs ahead: not valid yet here, within the leeway.
        assert!(check(&claims(&resources[0], 400), 100 - CLOCK_SKEW_LEEWAY_SECS).is_ok());
        assert!(check(&claims(&resources[0], 400), 99 - CLOCK_SKEW_LEEWAY_SECS).is_err());
    }

    #[test]
    fn stale_tokens_are_refreshed_and_refreshes_keep_what_the_idp_left_out() {
        assert!(needs_refresh(&tokens(Some(1060)), 60, 1000));
        assert!(!needs_refresh(&tokens(Some(1061)), 60, 1000));
        assert!(!needs_refresh(&tokens(None), 60, 1000));
        assert!(without_refresh_token(tokens(Some(1001)), 1000).is_ok());
        assert!(without_refresh_token(tokens(Some(1000)), 1000).is_err());
        let mut old = tokens(None);
        old.id_token = Some("id".into());
        let merged = merge_refreshed(tokens(Some(2000)), "rt".into(), old.id_token);
        assert_eq!(
            merged.refresh_token.as_ref().map(Secret::expose),
            Some("rt")
        );
        assert_eq!(merged.id_token.as_ref().map(Secret::expose), Some("id"));
        let response = ExchangeResponse::new(tokens(Some(990)), 1000);
        assert!(!format!("{response:?}").contains("\"up\""));
        let answer = serde_json::to_value(response).unwrap();
        assert_eq!(answer["access_token"], "up");
        assert_eq!(answer["expires_in"], 0);
        assert_eq!(answer["issued_token_type"], ACCESS_TOKEN_TYPE);
    }
}
