//! `POST /token`: `authorization_code`, `refresh_token` and (for the mcp-server's own client)
//! RFC 8693 token exchange, in [`super::exchange`]. Every response carries
//! `Cache-Control: no-store`. Codes and refresh tokens are `<grant id>.<secret>`; the store sees
//! only the grant id and a hash.

use actix_web::{web, HttpRequest, HttpResponse};
use mcp_shared::{AccessTokenClaims, ScopeSet};
use serde::Serialize;

use super::{
    authenticate_client, no_store_json, param, parse_form, require_form_content_type,
    split_grant_token, ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT,
};
use crate::clients::{ClientRecord, GrantType};
use crate::crypto::{random_token, sha256_hex};
use crate::error::OAuthError;
use crate::pkce::CodeVerifier;
use crate::state::{AppState, Limited};
use crate::store::{CodeTake, GrantRecord, RefreshOutcome, RefreshRecord};

/// How long a redeemed code is remembered, so that a replay is recognised and punished.
const CODE_REPLAY_WINDOW: std::time::Duration = std::time::Duration::from_secs(600);

/// One variant per grant type, each with its own fields (parse, don't validate).
enum TokenRequest<'a> {
    AuthorizationCode {
        code: &'a str,
        redirect_uri: Option<&'a str>,
        code_verifier: &'a str,
        resource: Option<&'a str>,
    },
    RefreshToken {
        refresh_token: &'a str,
        scope: Option<&'a str>,
        resource: Option<&'a str>,
    },
    TokenExchange {
        subject_token: &'a str,
    },
}

impl<'a> TokenRequest<'a> {
    fn parse(form: &'a [(String, String)]) -> Result<Self, OAuthError> {
        let required = |name: &'static str| {
            param(form, name)
                .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
        };
        match param(form, "grant_type") {
            Some("authorization_code") => Ok(Self::AuthorizationCode {
                code: required("code")?,
                redirect_uri: param(form, "redirect_uri"),
                code_verifier: required("code_verifier")?,
                resource: param(form, "resource"),
            }),
            Some("refresh_token") => Ok(Self::RefreshToken {
                refresh_token: required("refresh_token")?,
                scope: param(form, "scope"),
                resource: param(form, "resource"),
            }),
            Some(TOKEN_EXCHANGE_GRANT) => {
                let subject_token = required("subject_token")?;
                if required("subject_token_type")? != ACCESS_TOKEN_TYPE {
                    return Err(OAuthError::invalid_request(
                        "subject_token_type must be urn:ietf:params:oauth:token-type:access_token",
                    ));
                }
                if param(form, "requested_token_type").is_some_and(|t| t != ACCESS_TOKEN_TYPE) {
                    return Err(OAuthError::invalid_request(
                        "only access tokens can be requested",
                    ));
                }
                if param(form, "actor_token").is_some() || param(form, "actor_token_type").is_some()
                {
                    return Err(OAuthError::invalid_request(
                        "delegation (actor_token) is not supported",
                    ));
                }
                if param(form, "resource").is_some() || param(form, "audience").is_some() {
                    return Err(OAuthError::invalid_target(
                        "the exchanged token is always the user's token for Nextcloud: leave \
                         resource and audience out",
                    ));
                }
                if param(form, "scope").is_some() {
                    return Err(OAuthError::invalid_scope(
                        "scope cannot be chosen in a token exchange",
                    ));
                }
                Ok(Self::TokenExchange { subject_token })
            }
            Some(_) => Err(OAuthError::unsupported_grant_type(
                "supported grant types: authorization_code, refresh_token, and token exchange \
                 for the MCP server's own client",
            )),
            None => Err(OAuthError::invalid_request("grant_type is required")),
        }
    }

    fn grant_type(&self) -> GrantType {
        match self {
            Self::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Self::RefreshToken { .. } => GrantType::RefreshToken,
            Self::TokenExchange { .. } => GrantType::TokenExchange,
        }
    }
}

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
        .take_code(grant_id, &code_hash, CODE_REPLAY_WINDOW)
        .await
        .map_err(|e| state.store_error(e))?
    {
        CodeTake::Redeemed(record) => record,
        CodeTake::Unknown => return Err(invalid()),
        CodeTake::Replayed => {
            // RFC 6749 §4.1.2 / OAuth 2.1: revoke everything issued from a replayed code.
            state.metrics.code_replay_detected.inc();
            tracing::warn!(target: "audit", client_id = %client.client_id, grant_id, "authorization code replayed: grant revoked");
            state
                .store
                .revoke_grant(grant_id)
                .await
                .map_err(|e| state.store_error(e))?;
            return Err(invalid());
        }
    };
    // From here the code is spent: any failure below leaves it unusable.
    if record.client_id != client.client_id {
        tracing::warn!(target: "audit", client_id = %client.client_id, grant_id, "code presented by another client: grant revoked");
        state
            .store
            .revoke_grant(grant_id)
            .await
            .map_err(|e| state.store_error(e))?;
        return Err(invalid());
    }
    match redirect_uri {
        Some(r) if r != record.redirect_uri => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ))
        }
        None if record.redirect_uri_given => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri is required: the authorization request included it",
            ))
        }
        _ => {}
    }
    let verifier =
        CodeVerifier::parse(code_verifier).map_err(|e| OAuthError::invalid_grant(e.to_string()))?;
    if !verifier.matches(&record.code_challenge) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    if resource.is_some_and(|r| r != record.resource) {
        return Err(OAuthError::invalid_target(
            "resource does not match the authorization request",
        ));
    }
    let grant = state
        .store
        .get_grant(grant_id)
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
            grant_id,
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
    tracing::info!(target: "audit", client_id = %client.client_id, grant_id, "tokens issued for authorization code");
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
    let requested_scope = scope
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
    // Check the request against the grant before rotating, so a bad request does not spend
    // the token.
    let grant = state
        .store
        .get_grant(grant_id)
        .await
        .map_err(|e| state.store_error(e))?
        .ok_or_else(invalid)?;
    if let Some(requested) = &requested_scope {
        if !requested.is_subset(&grant.scope) {
            return Err(OAuthError::invalid_scope(
                "the requested scope exceeds the original grant",
            ));
        }
    }
    if resource.is_some_and(|r| r != grant.resource) {
        return Err(OAuthError::invalid_target(
            "resource does not match the original grant",
        ));
    }

    let new_token = format!("{grant_id}.{}", random_token(32));
    let outcome = state
        .store
        .rotate_refresh_token(
            grant_id,
            &presented_hash,
            &client.client_id,
            &sha256_hex(&new_token),
            state.clock.now_millis(),
            state.config.refresh_grace,
            state.config.refresh_token_ttl,
        )
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
            tracing::warn!(target: "audit", client_id = %client.client_id, grant_id, "refresh token reuse detected: family revoked");
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
    let now = state.clock.now();
    let ttl = state.config.access_token_ttl.as_secs();
    let claims = AccessTokenClaims {
        iss: state.config.issuer.clone(),
        sub: grant.subject.clone(),
        aud: grant.resource.clone(),
        client_id: grant.client_id.clone(),
        scope: scope.clone(),
        iat: now,
        nbf: now,
        exp: now + i64::try_from(ttl).unwrap_or(i64::MAX),
        jti: random_token(16),
        gid: grant.grant_id.clone(),
    };
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
