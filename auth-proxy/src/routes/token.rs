//! `POST /token`: `authorization_code`, `refresh_token` and (for the mcp-server's own client)
//! RFC 8693 token exchange, in [`super::exchange`]. Extract, call, map: the request is parsed
//! by [`crate::oauth::token`], the store sequences run in [`crate::grants::Grants`], and the
//! outcome is counted, logged and answered here. Every response carries
//! `Cache-Control: no-store`. Codes and refresh tokens are `<grant id>.<secret>`; the store sees
//! only the grant id and a hash.

use actix_web::{web, HttpRequest, HttpResponse};
use mcp_shared::OAuthErrorCode;
use serde::Serialize;

use super::{authenticate_client, no_store_json, parse_form, require_form_content_type};
use std::time::Duration;

use crate::audit;
use crate::clients::{ClientRecord, GrantType, TokenEndpointAuthMethod};
use crate::crypto::sha256_hex;
use crate::error::OAuthError;
use crate::grants::{GrantError, Issued};
use crate::metrics::Denied;
use crate::oauth::idjag::{check_claims, ClaimRules, Refusal};
use crate::oauth::token::{requested_resource, requested_scope, TokenRequest};
use crate::state::{AppState, Keyed, Limited};
use crate::store::JtiKind;

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
    let answer = grant(state.clone(), req, body).await;
    // Client authentication and resource refusals from wherever they arose (the grant
    // refusals are counted by their own reasons in `refused_grant`).
    if let Err(e) = &answer {
        match e.code {
            OAuthErrorCode::InvalidClient => state.metrics.denied(Denied::InvalidClient),
            OAuthErrorCode::InvalidTarget => state.metrics.denied(Denied::InvalidTarget),
            _ => {}
        }
    }
    answer
}

async fn grant(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::Body,
) -> Result<HttpResponse, OAuthError> {
    state.check_rate_limit(Limited::Token, &req).await?;
    require_form_content_type(&req)?;
    let form = parse_form(&body)?;
    let request = TokenRequest::parse(&form)?;
    let grant_type = request.grant_type();
    if grant_type == GrantType::JwtBearer && state.idjag.is_empty() {
        return Err(OAuthError::unsupported_grant_type(
            "no identity assertion issuer is trusted here: the jwt-bearer grant is off",
        ));
    }
    let client = authenticate_client(&state, &req, &form).await?;
    let vouched =
        grant_type == GrantType::JwtBearer && state.idjag.vouches_for(client.client_id.as_str());
    if !client.allows_grant(grant_type) && !vouched {
        return Err(OAuthError::unauthorized_client(format!(
            "this client is not registered for the {} grant",
            grant_type.as_str()
        )));
    }
    // Per client: code redemptions and assertions only. A refresh keeps its two store round
    // trips (the per-IP limit and the rotation); token exchange is the mcp-server's own client.
    if matches!(
        grant_type,
        GrantType::AuthorizationCode | GrantType::JwtBearer
    ) {
        state
            .check_keyed_rate_limit(Keyed::TokenClient, client.client_id.as_str())
            .await?;
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
        TokenRequest::JwtBearer {
            assertion,
            scope,
            resource,
        } => return jwt_bearer(&state, &client, assertion, scope, resource).await,
    };
    let issued = issued.map_err(|e| refused_grant(&state, &client, e))?;
    // The label is the grant type's name: authorization_code or refresh_token.
    state
        .metrics
        .tokens_issued
        .with_label_values(&[grant_type.as_str()])
        .inc();
    if grant_type == GrantType::RefreshToken {
        // "Last used" on the connections page: a store write only when due (throttled).
        let subject = || {
            state
                .keys
                .verify_access_token(&issued.access_token)
                .ok()
                .map(|claims| claims.sub)
        };
        state.grant_index.used(&issued.grant_id, subject).await;
    }
    audit::event("token.issued", "ok")
        .client(client.client_id.as_str())
        .grant(issued.grant_id.as_str())
        .detail(grant_type.as_str())
        .info("tokens issued");
    // Tokens were issued: a dynamically registered client is in use, so it does not expire.
    state
        .clients
        .keep_alive(&client.client_id, state.clock.now())
        .await;
    Ok(no_store_json(&TokenResponse::new(issued, &client)))
}

#[derive(Serialize)]
struct AssertionTokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
    /// The draft: the response MUST include the granted resource.
    resource: String,
}

/// The jwt-bearer grant with an ID-JAG (ADR 0020): the signature against the issuer's keys,
/// the claim rules, then the `jti` claimed in the store, last, so a refused request does not
/// spend it; then a grant and one access token. Every refusal is `invalid_grant`, counted
/// under its reason; the assertion itself is never logged.
async fn jwt_bearer(
    state: &AppState,
    client: &ClientRecord,
    assertion: &str,
    scope: Option<&str>,
    resource: Option<&str>,
) -> Result<HttpResponse, OAuthError> {
    // The draft: confidential clients only, unless the operator chose otherwise (EMA §5 lets
    // a metadata-document client send its bare client_id).
    if client.token_endpoint_auth_method == TokenEndpointAuthMethod::None
        && !state.config.idjag.public_clients
    {
        return Err(OAuthError::unauthorized_client(
            "the jwt-bearer grant needs an authenticated (confidential) client",
        ));
    }
    let config = &state.config;
    let requested_resource = requested_resource(&config.resources, resource)?;
    let requested_scope = requested_scope(scope)?;
    let refused = |r: Refusal, issuer: Option<&str>| {
        state.metrics.idjag.with_label_values(&[r.label()]).inc();
        let mut event = audit::event("idjag.refused", "refused")
            .reason(r.label())
            .client(client.client_id.as_str());
        if let Some(issuer) = issuer {
            event = event.detail(issuer);
        }
        event.info("identity assertion refused");
        OAuthError::from(&r)
    };
    let verified = state
        .idjag
        .verify(assertion)
        .await
        .map_err(|r| refused(r, None))?;
    let issuer = verified.issuer.issuer.as_str();
    let rules = ClaimRules {
        issuer: &config.issuer,
        client_id: client.client_id.as_str(),
        resources: &config.resources,
        requested_resource,
        requested_scope: requested_scope.as_ref(),
        client_scope: client.scope.as_ref(),
        now: state.clock.now(),
        max_lifetime_secs: i64::try_from(config.idjag.max_lifetime.as_secs()).unwrap_or(i64::MAX),
    };
    let accepted = check_claims(&verified.claims, &rules).map_err(|r| refused(r, Some(issuer)))?;
    state
        .check_keyed_rate_limit(Keyed::UserAssertion, &accepted.subject)
        .await?;
    // The access policy applies to the assertion's subject as to a sign-in (ADR 0021); checked
    // before the `jti` is claimed, so a refusal does not spend it.
    if let Err(denial) = assertion_policy(&config.policy, &verified.claims, &accepted.subject) {
        state.metrics.denied(Denied::Policy(denial));
        audit::event("policy.denied", "refused")
            .reason(denial.label())
            .subject(&accepted.subject)
            .client(client.client_id.as_str())
            .detail(issuer)
            .warn("identity assertion refused by the access policy");
        return Err(OAuthError::invalid_grant(
            "the user is not allowed to use this service",
        ));
    }
    let fresh = state
        .store
        .claim_jti(
            JtiKind::IdJag,
            issuer,
            &accepted.jti,
            Duration::from_secs(accepted.jti_ttl_secs.max(1)),
        )
        .await
        .map_err(|e| state.store_error(e))?;
    if !fresh {
        return Err(refused(Refusal::Replayed, Some(issuer)));
    }
    let issued = state
        .grants()
        .issue_from_assertion(client, issuer, &accepted)
        .await
        .map_err(|e| refused_grant(state, client, e))?;
    state.metrics.idjag.with_label_values(&["ok"]).inc();
    state
        .metrics
        .tokens_issued
        .with_label_values(&["jwt_bearer"])
        .inc();
    let detail = format!("issuer={issuer} jti_sha256={}", sha256_hex(&accepted.jti));
    audit::event("grant.issued", "ok")
        .subject(&accepted.subject)
        .client(client.client_id.as_str())
        .grant(issued.grant_id.as_str())
        .detail(&detail)
        .info("access token issued for an identity assertion");
    state
        .clients
        .keep_alive(&client.client_id, state.clock.now())
        .await;
    Ok(no_store_json(&AssertionTokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: issued.scope.to_string(),
        resource: issued.resource,
    }))
}

/// The access policy over an ID-JAG's claims: `email`, a boolean `email_verified` and the
/// configured groups claim (an array of strings or one string).
fn assertion_policy(
    settings: &crate::config::PolicySettings,
    claims: &serde_json::Map<String, serde_json::Value>,
    subject: &str,
) -> Result<(), crate::policy::Denial> {
    let groups: Vec<&str> = match claims.get(&settings.groups_claim) {
        Some(serde_json::Value::Array(items)) => {
            items.iter().filter_map(serde_json::Value::as_str).collect()
        }
        Some(serde_json::Value::String(one)) => vec![one.as_str()],
        _ => Vec::new(),
    };
    let identity = crate::policy::Identity {
        subject,
        email: claims.get("email").and_then(serde_json::Value::as_str),
        email_verified: claims
            .get("email_verified")
            .and_then(serde_json::Value::as_bool),
        groups: &groups,
    };
    crate::policy::check(settings, &identity)
}

/// Counts and logs what the grants service refused, and answers with the OAuth error. Unknown,
/// replayed and reused tokens all look the same to the client.
fn refused_grant(state: &AppState, client: &ClientRecord, e: GrantError) -> OAuthError {
    let invalid_code =
        || OAuthError::invalid_grant("the authorization code is invalid, expired or already used");
    let invalid_refresh =
        || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    match e {
        GrantError::InvalidCode => {
            state.metrics.denied(Denied::CodeInvalid);
            audit::event("grant.refused", "refused")
                .reason("code_invalid")
                .client(client.client_id.as_str())
                .info("authorization code refused");
            invalid_code()
        }
        GrantError::CodeReplayed { grant_id, revoked } => {
            state.metrics.denied(Denied::CodeReplayed);
            state.metrics.code_replay_detected.inc();
            audit::event("grant.revoked", "revoked")
                .reason("code_replayed")
                .client(client.client_id.as_str())
                .grant(grant_id.as_str())
                .warn("authorization code replayed: grant revoked");
            revoked.map_or_else(|e| state.store_error(e), |()| invalid_code())
        }
        GrantError::CodeOfOtherClient { grant_id, revoked } => {
            state.metrics.denied(Denied::CodeInvalid);
            audit::event("grant.revoked", "revoked")
                .reason("code_of_other_client")
                .client(client.client_id.as_str())
                .grant(grant_id.as_str())
                .warn("code presented by another client: grant revoked");
            revoked.map_or_else(|e| state.store_error(e), |()| invalid_code())
        }
        GrantError::InvalidRefreshToken => {
            state.metrics.denied(Denied::RefreshInvalid);
            audit::event("grant.refused", "refused")
                .reason("refresh_invalid")
                .client(client.client_id.as_str())
                .info("refresh token refused");
            invalid_refresh()
        }
        GrantError::RefreshReuse { grant_id } => {
            state.metrics.denied(Denied::RefreshReuse);
            state.metrics.refresh_reuse_detected.inc();
            state
                .metrics
                .tokens_revoked
                .with_label_values(&["grant"])
                .inc();
            audit::event("grant.revoked", "revoked")
                .reason("refresh_reuse")
                .client(client.client_id.as_str())
                .grant(grant_id.as_str())
                .warn("refresh token reuse detected: family revoked");
            invalid_refresh()
        }
        GrantError::Refused(e) => e,
        GrantError::Store(e) => state.store_error(e),
        GrantError::Signing(e) => OAuthError::server_error(&e),
    }
}
