//! RFC 8693 token exchange, for the mcp-server's confidential client only: the subject token is
//! one of our access tokens for a configured MCP resource; the answer is the user's *upstream*
//! access token from the grant behind it, refreshed at the IdP first when it is about to
//! expire. This is how the mcp-server reaches Nextcloud without passing the client's token
//! through.

use serde::Serialize;

use super::ACCESS_TOKEN_TYPE;
use crate::clients::ClientRecord;
use crate::error::OAuthError;
use crate::state::AppState;
use crate::store::GrantRecord;
use crate::upstream::{UpstreamError, UpstreamTokens};

#[derive(Serialize)]
pub struct ExchangeResponse {
    access_token: String,
    issued_token_type: &'static str,
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<i64>,
}

fn revoked() -> OAuthError {
    OAuthError::invalid_grant("the grant behind subject_token was revoked or has expired")
}

fn open(state: &AppState, grant: &GrantRecord) -> Result<UpstreamTokens, OAuthError> {
    let plain = state
        .cipher
        .open(&grant.grant_id, &grant.upstream_sealed)
        .map_err(|e| {
            tracing::error!(grant_id = %grant.grant_id, error = %e, "sealed upstream tokens cannot be opened (encryption key removed?)");
            OAuthError::invalid_grant("the grant's upstream tokens are no longer readable")
        })?;
    serde_json::from_slice(&plain).map_err(|e| OAuthError::server_error(&e))
}

pub async fn exchange(
    state: &AppState,
    client: &ClientRecord,
    subject_token: &str,
) -> Result<ExchangeResponse, OAuthError> {
    let Some(settings) = &state.config.exchange_client else {
        return Err(OAuthError::unsupported_grant_type(
            "token exchange is not enabled",
        ));
    };
    if client.client_id != settings.client_id {
        return Err(OAuthError::unauthorized_client(
            "only the MCP server's client may exchange tokens",
        ));
    }
    let invalid = || OAuthError::invalid_grant("subject_token is invalid");
    let claims = state
        .keys
        .verify_access_token(subject_token)
        .map_err(|_| invalid())?;
    let now = state.clock.now();
    if !state.config.resources.contains(&claims.aud) {
        return Err(invalid());
    }
    claims
        .validate(&state.config.issuer, &claims.aud, now, 0)
        .map_err(|e| OAuthError::invalid_grant(format!("subject_token: {e}")))?;
    if state
        .store
        .is_access_token_denied(&claims.jti)
        .await
        .map_err(|e| state.store_error(e))?
    {
        return Err(OAuthError::invalid_grant("subject_token was revoked"));
    }
    let grant = state
        .store
        .get_grant(&claims.gid)
        .await
        .map_err(|e| state.store_error(e))?
        .ok_or_else(revoked)?;
    if grant.subject != claims.sub || grant.resource != claims.aud {
        tracing::warn!(target: "audit", grant_id = %claims.gid, "subject_token does not match its grant");
        return Err(invalid());
    }

    let mut tokens = open(state, &grant)?;
    let margin = i64::try_from(settings.refresh_margin.as_secs()).unwrap_or(60);
    let stale = tokens.expires_at.is_some_and(|exp| exp - margin <= now);
    if stale {
        tokens = refresh_upstream(state, &grant, tokens, now).await?;
    }
    let expires_in = tokens.expires_at.map(|exp| (exp - now).max(0));
    state
        .metrics
        .tokens_issued
        .with_label_values(&["token_exchange"])
        .inc();
    tracing::info!(target: "audit", client_id = %client.client_id, grant_id = %grant.grant_id, refreshed = stale, "upstream token handed out by token exchange");
    Ok(ExchangeResponse {
        access_token: tokens.access_token,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: "Bearer",
        expires_in,
    })
}

/// Refreshes the grant's upstream tokens and stores the new set. If the IdP refuses because
/// another replica refreshed (and rotated) concurrently, the grant is read again and the newer
/// set used; a refusal that still stands revokes the grant (the user must sign in again).
async fn refresh_upstream(
    state: &AppState,
    grant: &GrantRecord,
    current: UpstreamTokens,
    now: i64,
) -> Result<UpstreamTokens, OAuthError> {
    let Some(refresh_token) = current.refresh_token.clone() else {
        if current.expires_at.is_some_and(|exp| exp <= now) {
            return Err(OAuthError::invalid_grant(
                "the upstream access token expired and there is no refresh token: the user \
                 must sign in again",
            ));
        }
        return Ok(current);
    };
    let started = std::time::Instant::now();
    let refreshed = state.upstream.refresh(&refresh_token).await;
    state
        .metrics
        .upstream_duration
        .with_label_values(&["refresh"])
        .observe(started.elapsed().as_secs_f64());
    state
        .metrics
        .upstream_requests
        .with_label_values(&[
            "refresh",
            match &refreshed {
                Ok(_) => "ok",
                Err(UpstreamError::Unavailable(_)) => "unavailable",
                Err(UpstreamError::Rejected(_)) => "rejected",
                Err(UpstreamError::Invalid(_)) => "invalid",
            },
        ])
        .inc();
    match refreshed {
        Ok(mut fresh) => {
            if fresh.refresh_token.is_none() {
                fresh.refresh_token = Some(refresh_token);
            }
            if fresh.id_token.is_none() {
                fresh.id_token = current.id_token;
            }
            let plain = serde_json::to_vec(&fresh).map_err(|e| OAuthError::server_error(&e))?;
            let sealed = state.cipher.seal(&grant.grant_id, &plain);
            let kept = state
                .store
                .update_grant_upstream(&grant.grant_id, &sealed)
                .await
                .map_err(|e| state.store_error(e))?;
            if !kept {
                return Err(revoked());
            }
            state
                .metrics
                .tokens_issued
                .with_label_values(&["upstream_refresh"])
                .inc();
            Ok(fresh)
        }
        Err(UpstreamError::Rejected(reason)) => {
            // A concurrent refresh elsewhere may have rotated the refresh token.
            if let Some(latest) = state
                .store
                .get_grant(&grant.grant_id)
                .await
                .map_err(|e| state.store_error(e))?
            {
                if latest.upstream_sealed != grant.upstream_sealed {
                    let tokens = open(state, &latest)?;
                    if tokens.expires_at.is_none_or(|exp| exp > now) {
                        return Ok(tokens);
                    }
                }
            }
            tracing::warn!(target: "audit", grant_id = %grant.grant_id, %reason, "upstream refused the refresh: grant revoked");
            state
                .store
                .revoke_grant(&grant.grant_id)
                .await
                .map_err(|e| state.store_error(e))?;
            Err(OAuthError::invalid_grant(
                "the identity provider no longer accepts this sign-in: the user must sign in again",
            ))
        }
        Err(e) => {
            tracing::warn!(grant_id = %grant.grant_id, error = %e, "upstream refresh failed");
            Err(OAuthError::temporarily_unavailable(
                "the identity provider is unavailable; try again shortly",
            ))
        }
    }
}
