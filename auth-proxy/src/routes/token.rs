//! `POST /token`: `authorization_code`, `refresh_token` and (for the mcp-server's own client)
//! RFC 8693 token exchange, in [`super::exchange`]. The decisions are in
//! [`crate::oauth::token`]; this handler does the store and signing around them. Every response carries
//! `Cache-Control: no-store`. Codes and refresh tokens are `<grant id>.<secret>`; the store sees
//! only the grant id and a hash.

use actix_web::{web, HttpRequest, HttpResponse};
use mcp_shared::ScopeSet;
use serde::Serialize;

use super::{
    authenticate_client, no_store_json, parse_form, require_form_content_type, split_grant_token,
};
use crate::clients::ClientRecord;
use crate::crypto::{random_token, sha256_hex};
use crate::error::OAuthError;
use crate::oauth::token::{
    access_token_claims, check_redemption, check_refresh, requested_scope, TokenRequest,
};
use crate::state::{AppState, Limited};
use crate::store::{CodeTake, GrantRecord, RefreshOutcome, RefreshRecord, RefreshRotation};

/// How long a redeemed code is remembered, so that a replay is recognised and punished.
const CODE_REPLAY_WINDOW: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: String,
    scope: String,
}

pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    state.check_rate_limit(Limited::Token, &req).await?;
    require_form_content_type(&req)?;
    let form = parse_form(&body)?;
    let request = TokenRequest::parse(&form)?;
    let client = authenticate_client(&state, &req, &form).await?;
    if !client.allows_grant(request.grant_type()) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client is not registered for the {} grant",
            request.grant_type().as_str()
        )));
    }
    let response = match request {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            resource,
        } => redeem_code(&state, &client, code, redirect_uri, code_verifier, resource).await?,
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
            resource,
        } => refresh(&state, &client, refresh_token, scope, resource).await?,
        TokenRequest::TokenExchange { subject_token } => {
            let response = super::exchange::exchange(&state, &client, subject_token).await?;
            return Ok(no_store_json(&response));
        }
    };
    // Tokens were issued: a dynamically registered client is in use, so it does not expire.
    state.clients.keep_alive(&client.client_id).await;
    Ok(no_store_json(&response))
}

async fn redeem_code(
    state: &AppState,
    client: &ClientRecord,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: &str,
    resource: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let invalid =
        || OAuthError::invalid_grant("the authorization code is invalid, expired or already used");
    let (grant_id, code_hash) = split_grant_token(code).ok_or_else(invalid)?;
    let record = match state
        .store
        .take_code(&grant_id, &code_hash, CODE_REPLAY_WINDOW)
        .await
        .map_err(|e| state.store_error(e))?
    {
        CodeTake::Redeemed(record) => record,
        CodeTake::Unknown => return Err(invalid()),
        CodeTake::Replayed => {
            // RFC 6749 §4.1.2 / OAuth 2.1: revoke everything issued from a replayed code.
            state.metrics.code_replay_detected.inc();
            tracing::warn!(target: "audit", client_id = %client.client_id, grant_id = %grant_id, "authorization code replayed: grant revoked");
            state
                .store
                .revoke_grant(&grant_id)
                .await
                .map_err(|e| state.store_error(e))?;
            return Err(invalid());
        }
    };
    // From here the code is spent: any failure below leaves it unusable.
    if record.client_id != client.client_id {
        tracing::warn!(target: "audit", client_id = %client.client_id, grant_id = %grant_id, "code presented by another client: grant revoked");
        state
            .store
            .revoke_grant(&grant_id)
            .await
            .map_err(|e| state.store_error(e))?;
        return Err(invalid());
    }
    check_redemption(&record, redirect_uri, code_verifier, resource)?;
    let grant = state
        .store
        .get_grant(&grant_id)
        .await
        .map_err(|e| state.store_error(e))?
        .ok_or_else(invalid)?;

    let refresh_token = format!("{grant_id}.{}", random_token(32));
    let record = RefreshRecord {
        client_id: client.client_id.clone(),
        issued_at: state.clock.now(),
    };
    state
        .store
        .put_refresh_token(
            &grant_id,
            &sha256_hex(&refresh_token),
            &record,
            state.config.refresh_token_ttl,
        )
        .await
        .map_err(|e| state.store_error(e))?;
    let response = issue(state, &grant, &grant.scope, refresh_token)?;
    state
        .metrics
        .tokens_issued
        .with_label_values(&["authorization_code"])
        .inc();
    tracing::info!(target: "audit", client_id = %client.client_id, grant_id = %grant_id, "tokens issued for authorization code");
    Ok(response)
}

async fn refresh(
    state: &AppState,
    client: &ClientRecord,
    presented: &str,
    scope: Option<&str>,
    resource: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let (grant_id, presented_hash) = split_grant_token(presented).ok_or_else(invalid)?;
    let requested_scope = requested_scope(scope)?;
    // Check the request against the grant before rotating, so a bad request does not spend
    // the token.
    let grant = state
        .store
        .get_grant(&grant_id)
        .await
        .map_err(|e| state.store_error(e))?
        .ok_or_else(invalid)?;
    check_refresh(&grant, requested_scope.as_ref(), resource)?;

    let new_token = format!("{grant_id}.{}", random_token(32));
    let outcome = state
        .store
        .rotate_refresh_token(&RefreshRotation {
            grant_id: &grant_id,
            presented_hash: &presented_hash,
            client_id: &client.client_id,
            new_hash: &sha256_hex(&new_token),
            now_ms: state.clock.now_millis(),
            grace: state.config.refresh_grace,
            ttl: state.config.refresh_token_ttl,
        })
        .await
        .map_err(|e| state.store_error(e))?;
    let grant = match outcome {
        RefreshOutcome::Rotated(grant) => grant,
        RefreshOutcome::Unknown | RefreshOutcome::Revoked | RefreshOutcome::WrongClient => {
            return Err(invalid())
        }
        RefreshOutcome::ReuseDetected => {
            state.metrics.refresh_reuse_detected.inc();
            state
                .metrics
                .tokens_revoked
                .with_label_values(&["grant"])
                .inc();
            tracing::warn!(target: "audit", client_id = %client.client_id, grant_id = %grant_id, "refresh token reuse detected: family revoked");
            return Err(invalid());
        }
    };
    let scope = requested_scope.unwrap_or_else(|| grant.scope.clone());
    let response = issue(state, &grant, &scope, new_token)?;
    state
        .metrics
        .tokens_issued
        .with_label_values(&["refresh_token"])
        .inc();
    Ok(response)
}

fn issue(
    state: &AppState,
    grant: &GrantRecord,
    scope: &ScopeSet,
    refresh_token: String,
) -> Result<TokenResponse, OAuthError> {
    let ttl = state.config.access_token_ttl.as_secs();
    let claims = access_token_claims(
        &state.config.issuer,
        grant,
        scope,
        state.clock.now(),
        ttl,
        random_token(16),
    );
    let access_token = state
        .keys
        .sign_access_token(&claims)
        .map_err(|e| OAuthError::server_error(&e))?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ttl,
        refresh_token,
        scope: scope.to_string(),
    })
}
