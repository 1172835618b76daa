//! `POST /token`: `authorization_code`, `refresh_token` and (for the mcp-server's own client)
//! RFC 8693 token exchange, in [`super::exchange`]. Extract, call, map: the request is parsed
//! by [`crate::oauth::token`], the store sequences run in [`crate::grants::Grants`], and the
//! outcome is counted, logged and answered here. Every response carries
//! `Cache-Control: no-store`. Codes and refresh tokens are `<grant id>.<secret>`; the store sees
//! only the grant id and a hash.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::{authenticate_client, no_store_json, parse_form, require_form_content_type};
use crate::clients::{ClientRecord, GrantType};
use crate::error::OAuthError;
use crate::grants::{GrantError, Issued};
use crate::oauth::token::TokenRequest;
use crate::state::{AppState, Limited};

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: String,
}

impl TokenResponse {
    /// Refresh tokens follow the client's registered grant types, not `offline_access` (ADR
    /// 0015): a client that may not use the refresh grant is not handed a refresh token. The
    /// token is stored all the same: the grant lives as long as its refresh family, and token
    /// exchange needs the grant for as long as the access token lives.
    fn new(issued: Issued, client: &ClientRecord) -> Self {
        Self {
            access_token: issued.access_token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            refresh_token: client
                .allows_grant(GrantType::RefreshToken)
                .then_some(issued.refresh_token),
            scope: issued.scope.to_string(),
        }
    }
}

pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::Body,
) -> Result<HttpResponse, OAuthError> {
    state.check_rate_limit(Limited::Token, &req).await?;
    require_form_content_type(&req)?;
    let form = parse_form(&body)?;
    let request = TokenRequest::parse(&form)?;
    let client = authenticate_client(&state, &req, &form).await?;
    let grant_type = request.grant_type();
    if !client.allows_grant(grant_type) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client is not registered for the {} grant",
            grant_type.as_str()
        )));
    }
    let grants = state.grants();
    let issued = match request {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            resource,
        } => {
            grants
                .redeem_code(
                    &client.client_id,
                    code,
                    redirect_uri,
                    code_verifier,
                    resource,
                )
                .await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
            resource,
        } => {
            grants
                .refresh(&client.client_id, refresh_token, scope, resource)
                .await
        }
        TokenRequest::TokenExchange {
            subject_token,
            requested_token_type,
        } => {
            let response =
                super::exchange::exchange(&state, &client, subject_token, requested_token_type)
                    .await?;
            return Ok(no_store_json(&response));
        }
    };
    let issued = issued.map_err(|e| refused(&state, &client, e))?;
    // The label is the grant type's name: authorization_code or refresh_token.
    state
        .metrics
        .tokens_issued
        .with_label_values(&[grant_type.as_str()])
        .inc();
    if grant_type == GrantType::AuthorizationCode {
        tracing::info!(target: "audit", client_id = %client.client_id, grant_id = %issued.grant_id, "tokens issued for authorization code");
    }
    // Tokens were issued: a dynamically registered client is in use, so it does not expire.
    state
        .clients
        .keep_alive(&client.client_id, state.clock.now())
        .await;
    Ok(no_store_json(&TokenResponse::new(issued, &client)))
}

/// Counts and logs what the grants service refused, and answers with the OAuth error. Unknown,
/// replayed and reused tokens all look the same to the client.
fn refused(state: &AppState, client: &ClientRecord, e: GrantError) -> OAuthError {
    let invalid_code =
        || OAuthError::invalid_grant("the authorization code is invalid, expired or already used");
    let invalid_refresh =
        || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    match e {
        GrantError::InvalidCode => invalid_code(),
        GrantError::CodeReplayed { grant_id, revoked } => {
            state.metrics.code_replay_detected.inc();
            tracing::warn!(target: "audit", client_id = %client.client_id, grant_id = %grant_id, "authorization code replayed: grant revoked");
            revoked.map_or_else(|e| state.store_error(e), |()| invalid_code())
        }
        GrantError::CodeOfOtherClient { grant_id, revoked } => {
            tracing::warn!(target: "audit", client_id = %client.client_id, grant_id = %grant_id, "code presented by another client: grant revoked");
            revoked.map_or_else(|e| state.store_error(e), |()| invalid_code())
        }
        GrantError::InvalidRefreshToken => invalid_refresh(),
        GrantError::RefreshReuse { grant_id } => {
            state.metrics.refresh_reuse_detected.inc();
            state
                .metrics
                .tokens_revoked
                .with_label_values(&["grant"])
                .inc();
            tracing::warn!(target: "audit", client_id = %client.client_id, grant_id = %grant_id, "refresh token reuse detected: family revoked");
            invalid_refresh()
        }
        GrantError::Refused(e) => e,
        GrantError::Store(e) => state.store_error(e),
        GrantError::Signing(e) => OAuthError::server_error(&e),
    }
}
