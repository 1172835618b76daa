//! `POST /revoke` (RFC 7009). A refresh token revokes its whole grant (the family, and with it
//! token exchange); an access token goes on the `jti` deny-list until it would expire. Unknown
//! tokens and tokens of other clients get the same 200, so the endpoint reveals nothing.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{authenticate_client, param, parse_form, require_form_content_type, split_grant_token};
use crate::error::OAuthError;
use crate::oauth::revoke::access_token_denial;
use crate::state::{AppState, Limited};

pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    state.check_rate_limit(Limited::Token, &req).await?;
    require_form_content_type(&req)?;
    let form = parse_form(&body)?;
    let client = authenticate_client(&state, &req, &form).await?;
    let token =
        param(&form, "token").ok_or_else(|| OAuthError::invalid_request("token is required"))?;

    // The hint only orders the lookups; both forms are recognisable on their own.
    if let Some((grant_id, hash)) = split_grant_token(token) {
        let record = state
            .store
            .get_refresh_token(&grant_id, &hash)
            .await
            .map_err(|e| state.store_error(e))?;
        if record.is_some_and(|r| r.client_id == client.client_id) {
            state
                .store
                .revoke_grant(&grant_id)
                .await
                .map_err(|e| state.store_error(e))?;
            state
                .metrics
                .tokens_revoked
                .with_label_values(&["refresh_token"])
                .inc();
            tracing::info!(target: "audit", client_id = %client.client_id, grant_id = %grant_id, "refresh token revoked: grant revoked");
        }
    } else if let Ok(claims) = state.keys.verify_access_token(token) {
        if let Some(ttl) = access_token_denial(&claims, &client.client_id, state.clock.now()) {
            state
                .store
                .deny_access_token(&claims.jti, ttl)
                .await
                .map_err(|e| state.store_error(e))?;
            state
                .metrics
                .tokens_revoked
                .with_label_values(&["access_token"])
                .inc();
            tracing::info!(target: "audit", client_id = %client.client_id, grant_id = %claims.gid, "access token revoked");
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .finish())
}
