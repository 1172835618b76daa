//! `POST /revoke` (RFC 7009). A refresh token revokes its whole grant (the family, and with it
//! token exchange); an access token goes on the `jti` deny-list until it would expire. Unknown
//! tokens and tokens of other clients get the same 200, so the endpoint reveals nothing. The
//! store steps are [`crate::grants::Grants::revoke`]'s.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{authenticate_client, param, parse_form, require_form_content_type};
use crate::error::OAuthError;
use crate::grants::Revoked;
use crate::state::{AppState, Limited};

pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::Body,
) -> Result<HttpResponse, OAuthError> {
    state.check_rate_limit(Limited::Token, &req).await?;
    require_form_content_type(&req)?;
    let form = parse_form(&body)?;
    let client = authenticate_client(&state, &req, &form)
        .await
        .inspect_err(|e| {
            if e.code == mcp_shared::OAuthErrorCode::InvalidClient {
                state.metrics.denied(crate::metrics::Denied::InvalidClient);
            }
        })?;
    let token =
        param(&form, "token").ok_or_else(|| OAuthError::invalid_request("token is required"))?;

    let revoked = state
        .grants()
        .revoke(&client.client_id, token)
        .await
        .map_err(|e| state.store_error(e))?;
    match revoked {
        Revoked::Grant(grant_id) => {
            state
                .metrics
                .tokens_revoked
                .with_label_values(&["refresh_token"])
                .inc();
            crate::audit::event("grant.revoked", "revoked")
                .reason("refresh_token_revoked")
                .client(client.client_id.as_str())
                .grant(grant_id.as_str())
                .info("refresh token revoked: grant revoked");
        }
        Revoked::AccessToken { grant } => {
            state
                .metrics
                .tokens_revoked
                .with_label_values(&["access_token"])
                .inc();
            crate::audit::event("token.revoked", "revoked")
                .reason("access_token_revoked")
                .client(client.client_id.as_str())
                .grant(grant.as_str())
                .info("access token revoked");
        }
        Revoked::Nothing => {}
    }
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .finish())
}
