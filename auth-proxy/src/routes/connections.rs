//! The connections page (ADR 0019): `GET /connections` lists the clients connected to the
//! signed-in person's account; `POST /connections/revoke` revokes every grant of one of them;
//! `POST /connections/sign-out` ends the session.
//!
//! Signing in goes through the same upstream IdP as an authorization, with its own flow: an
//! upstream `state` prefixed `c.` (which `/callback` dispatches on), PKCE, a nonce and the
//! browser-binding cookie, exactly as consent does. Only the identity is kept: the upstream
//! tokens are dropped. The session is a random id in an HttpOnly cookie, stored by its hash;
//! the forms carry a CSRF token derived from it and the Origin is checked as on consent.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use mcp_shared::{ScopeSet, Secret};

use super::{binding_cookie, binding_cookie_value, hash_matches, param, parse_form};
use crate::clients::cimd::is_cimd_client_id;
use crate::config::CookieMode;
use crate::crypto::{random_token, sha256_b64url, sha256_hex};
use crate::ids::GrantId;
use crate::oauth::callback::issuer_acceptable;
use crate::pages::{self, ConnectionRow, ConnectionsView, PageError};
use crate::pkce::CodeVerifier;
use crate::state::{AppState, Limited};
use crate::store::{ConnectionsSession, GrantRecord, SessionFlow, UserGrant};
use crate::upstream::UpstreamError;

/// Upstream `state` of a connections sign-in starts with this; consent's states are base64url
/// (no `.`), so the two can never be confused.
pub const STATE_PREFIX: &str = "c.";

/// How long the IdP sign-in may take.
const SIGN_IN_TTL: Duration = Duration::from_secs(600);

pub fn session_cookie_name(mode: CookieMode) -> &'static str {
    match mode {
        CookieMode::HostPrefixed => "__Host-mcp-connections",
        CookieMode::LoopbackDevelopment => "mcp-connections",
    }
}

/// The flags of the browser-binding cookie: Lax, since the first request carrying it is the
/// top-level redirect back from the IdP (Strict would drop it there).
fn session_cookie(mode: CookieMode, value: String, ttl: Duration) -> Cookie<'static> {
    let mut c = Cookie::build(session_cookie_name(mode), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(
            i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
        ))
        .finish();
    if mode == CookieMode::HostPrefixed {
        c.set_secure(true);
    }
    c
}

fn session_id(req: &HttpRequest, mode: CookieMode) -> Option<String> {
    req.cookie(session_cookie_name(mode))
        .map(|c| c.value().to_owned())
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The forms' CSRF token: derived from the session id (which only the HttpOnly cookie holds),
/// so the page can show it again without storing it; the session keeps its hash.
fn csrf_token(session_id: &str) -> String {
    sha256_b64url(format!("mcp-connections-csrf:{session_id}").as_bytes())
}

/// As on consent: a cross-site form post carries a foreign Origin.
fn foreign_origin(state: &AppState, req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| origin != state.config.issuer)
}

fn enabled(state: &AppState) -> Result<(), PageError> {
    if state.config.connections.enabled {
        Ok(())
    } else {
        Err(PageError::ConnectionsDisabled)
    }
}

async fn current_session(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<(String, ConnectionsSession)>, PageError> {
    let Some(id) = session_id(req, state.config.cookie_mode) else {
        return Ok(None);
    };
    match state.store.get_session(&id).await {
        Ok(session) => Ok(session.map(|s| (id, s))),
        Err(e) => Err(super::store_unavailable(state, e)),
    }
}

fn see_other(location: &str) -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::SeeOther();
    b.insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    b
}

/// `GET /connections`: the list, or, without a session, the sign-in.
pub async fn page(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    enabled(&state)?;
    let Some((id, session)) = current_session(&state, &req).await? else {
        return sign_in(&state, &req).await;
    };
    let rows = rows(&state, &session.subject).await?;
    let html = pages::connections(&ConnectionsView {
        signed_in_as: session.email.as_deref().unwrap_or(&session.subject),
        rows: &rows,
        csrf_token: &csrf_token(&id),
    });
    Ok(pages::html_response(StatusCode::OK).body(html))
}

async fn sign_in(state: &AppState, req: &HttpRequest) -> Result<HttpResponse, PageError> {
    if let Err(e) = state.check_rate_limit(Limited::Authorize, req).await {
        return Err(PageError::RateLimited {
            status: e.status(),
            retry_after: e.retry_after,
        });
    }
    let mode = state.config.cookie_mode;
    let browser = binding_cookie_value(req, mode).unwrap_or_else(|| random_token(32));
    let upstream_state = format!("{STATE_PREFIX}{}", random_token(32));
    let nonce = random_token(32);
    let verifier = CodeVerifier::generate();
    let url = state
        .upstream
        .identity_url(&upstream_state, &nonce, verifier.as_str())
        .await
        .map_err(|e| super::consent::upstream_unavailable(state, e))?;
    let flow = SessionFlow {
        pkce_verifier: Secret::new(verifier.as_str()),
        nonce: Secret::new(nonce),
        browser_hash: sha256_hex(&browser),
        created_at: state.clock.now(),
    };
    if let Err(e) = state
        .store
        .put_session_flow(&upstream_state, &flow, SIGN_IN_TTL)
        .await
    {
        return Err(super::store_unavailable(state, e));
    }
    Ok(see_other(url.as_str())
        .cookie(binding_cookie(mode, browser))
        .finish())
}

/// `/callback` with a `c.` state: the IdP confirmed (or not) who is signing in to the page.
pub async fn signed_in(
    state: &AppState,
    req: &HttpRequest,
    upstream_state: &str,
    pairs: &[(String, String)],
) -> Result<HttpResponse, PageError> {
    enabled(state)?;
    let get = |name: &str| param(pairs, name);
    let flow = match state.store.take_session_flow(upstream_state).await {
        Ok(Some(f)) => f,
        Ok(None) => return Err(PageError::CallbackExpired),
        Err(e) => return Err(super::store_unavailable(state, e)),
    };
    let bound = binding_cookie_value(req, state.config.cookie_mode)
        .is_some_and(|b| hash_matches(&b, &flow.browser_hash));
    if !bound {
        crate::audit::event("connections.sign_in", "refused")
            .reason("browser_binding")
            .warn("connections sign-in rejected: browser binding mismatch");
        return Err(PageError::CallbackInOtherBrowser);
    }
    if !issuer_acceptable(get("iss"), state.config.upstream.issuer.as_str()) {
        return Err(PageError::ConnectionsSignInFailed);
    }
    if let Some(error) = get("error") {
        let detail = mcp_shared::ops::telemetry::untrusted(error, 64).to_string();
        crate::audit::event("connections.sign_in", "refused")
            .reason("upstream_error")
            .detail(&detail)
            .info("connections sign-in: upstream returned an error");
        return Err(PageError::ConnectionsSignInFailed);
    }
    let code = get("code").ok_or(PageError::ConnectionsSignInFailed)?;
    let identity = match state
        .upstream
        .exchange_code(code, flow.pkce_verifier.expose(), flow.nonce.expose())
        .await
    {
        // Only who signed in is wanted: the upstream tokens are dropped here.
        Ok((_tokens, identity)) => identity,
        Err(UpstreamError::Unavailable(e)) => {
            tracing::warn!(error = %mcp_shared::ops::telemetry::untrusted(&e, 300), "connections sign-in: upstream unavailable");
            return Err(PageError::UpstreamUnavailable);
        }
        Err(e) => {
            tracing::warn!(error = %mcp_shared::ops::telemetry::untrusted(&e.to_string(), 300), "connections sign-in: upstream code exchange failed");
            return Err(PageError::ConnectionsSignInFailed);
        }
    };
    let id = random_token(32);
    let session = ConnectionsSession {
        subject: identity.subject,
        email: identity.email,
        csrf_hash: sha256_hex(&csrf_token(&id)),
        created_at: state.clock.now(),
    };
    let ttl = state.config.connections.session_ttl;
    if let Err(e) = state.store.put_session(&id, &session, ttl).await {
        return Err(super::store_unavailable(state, e));
    }
    crate::audit::event("connections.sign_in", "ok")
        .subject(&session.subject)
        .info("connections page: signed in");
    Ok(
        see_other(&state.config.endpoint(mcp_shared::paths::CONNECTIONS))
            .cookie(session_cookie(state.config.cookie_mode, id, ttl))
            .finish(),
    )
}

/// The user's indexed grants that still exist and are theirs; the others are dropped from the
/// index (revoked elsewhere, expired, or a lagging write).
async fn live_grants(
    state: &AppState,
    subject: &str,
) -> Result<Vec<(UserGrant, GrantRecord)>, PageError> {
    let indexed = state
        .store
        .list_user_grants(subject)
        .await
        .map_err(|e| super::store_unavailable(state, e))?;
    let reads = indexed.iter().map(|(gid, _)| state.store.get_grant(gid));
    let grants = futures_util::future::join_all(reads).await;
    let mut live = Vec::new();
    let mut gone: Vec<GrantId> = Vec::new();
    for ((gid, entry), grant) in indexed.into_iter().zip(grants) {
        match grant.map_err(|e| super::store_unavailable(state, e))? {
            Some(g) if g.subject == subject && g.client_id == entry.client_id => {
                live.push((entry, g))
            }
            _ => gone.push(gid),
        }
    }
    if !gone.is_empty() {
        if let Err(e) = state.store.remove_user_grants(subject, &gone).await {
            state.metrics.store_errors.inc();
            tracing::warn!(error = %e, "gone grants could not be dropped from the connections index");
        }
    }
    Ok(live)
}

/// One row per client, oldest first.
async fn rows(state: &AppState, subject: &str) -> Result<Vec<ConnectionRow>, PageError> {
    let mut by_client: BTreeMap<String, ConnectionRow> = BTreeMap::new();
    for (entry, grant) in live_grants(state, subject).await? {
        let client_id = grant.client_id.to_string();
        let row = by_client
            .entry(client_id.clone())
            .or_insert_with(|| ConnectionRow {
                document_host: is_cimd_client_id(&client_id)
                    .then(|| url::Url::parse(&client_id).ok())
                    .flatten()
                    .and_then(|u| u.host_str().map(str::to_owned)),
                client_id,
                client_name: None,
                scopes: ScopeSet::new(),
                resources: Vec::new(),
                granted_at: grant.created_at,
                last_used: None,
            });
        if entry.client_name.is_some() {
            row.client_name.clone_from(&entry.client_name);
        }
        row.scopes = row.scopes.iter().chain(grant.scope.iter()).collect();
        if !row.resources.contains(&grant.resource) {
            row.resources.push(grant.resource.clone());
        }
        row.granted_at = row.granted_at.min(grant.created_at);
        row.last_used = row.last_used.max(entry.last_used);
    }
    let mut rows: Vec<ConnectionRow> = by_client.into_values().collect();
    rows.sort_by_key(|r| r.granted_at);
    Ok(rows)
}

/// The session and form of a POST from the page, checked: Origin, session, CSRF token.
async fn checked_form(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(String, ConnectionsSession, Vec<(String, String)>), PageError> {
    enabled(state)?;
    if foreign_origin(state, req) {
        crate::audit::event("connections.form", "refused")
            .reason("foreign_origin")
            .warn("connections form refused: foreign Origin");
        return Err(PageError::ConnectionsForbidden);
    }
    let form = parse_form(body).map_err(|_| PageError::InvalidForm)?;
    let Some((id, session)) = current_session(state, req).await? else {
        return Err(PageError::ConnectionsSignedOut);
    };
    let csrf_ok = param(&form, "csrf").is_some_and(|t| hash_matches(t, &session.csrf_hash));
    if !csrf_ok {
        crate::audit::event("connections.form", "refused")
            .reason("csrf")
            .subject(&session.subject)
            .warn("connections form refused: CSRF token mismatch");
        return Err(PageError::ConnectionsForbidden);
    }
    Ok((id, session, form))
}

/// `POST /connections/revoke`: every grant of one client of the signed-in person, through the
/// grants service (refresh family, token exchange, Nextcloud app password).
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::Body,
) -> Result<HttpResponse, PageError> {
    let (_, session, form) = checked_form(&state, &req, &body).await?;
    let client_id = param(&form, "client_id").ok_or(PageError::InvalidForm)?;
    let indexed = state
        .store
        .list_user_grants(&session.subject)
        .await
        .map_err(|e| super::store_unavailable(&state, e))?;
    let of_client: Vec<GrantId> = indexed
        .into_iter()
        .filter(|(_, e)| e.client_id.as_str() == client_id)
        .map(|(gid, _)| gid)
        .collect();
    let grants = state.grants();
    let mut revoked = 0u64;
    for gid in &of_client {
        let grant = state
            .store
            .get_grant(gid)
            .await
            .map_err(|e| super::store_unavailable(&state, e))?;
        // The index is the user's own, but the grant is the authority on whose it is.
        let Some(grant) = grant.filter(|g| g.subject == session.subject) else {
            continue;
        };
        grants
            .revoke_grant(gid, Some(&grant), "revoked on the connections page")
            .await
            .map_err(|e| super::store_unavailable(&state, e))?;
        revoked += 1;
        crate::audit::event("grant.revoked", "revoked")
            .reason("connections_page")
            .subject(&session.subject)
            .client(grant.client_id.as_str())
            .grant(gid.as_str())
            .info("grant revoked on the connections page");
    }
    if let Err(e) = state
        .store
        .remove_user_grants(&session.subject, &of_client)
        .await
    {
        state.metrics.store_errors.inc();
        tracing::warn!(error = %e, "revoked grants could not be dropped from the connections index");
    }
    state
        .metrics
        .tokens_revoked
        .with_label_values(&["connection"])
        .inc_by(revoked);
    Ok(see_other(&state.config.endpoint(mcp_shared::paths::CONNECTIONS)).finish())
}

/// `POST /connections/sign-out`.
pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::Body,
) -> Result<HttpResponse, PageError> {
    let (id, _, _) = checked_form(&state, &req, &body).await?;
    if let Err(e) = state.store.delete_session(&id).await {
        return Err(super::store_unavailable(&state, e));
    }
    let mut gone = session_cookie(state.config.cookie_mode, String::new(), Duration::ZERO);
    gone.make_removal();
    Ok(pages::html_response(StatusCode::OK)
        .cookie(gone)
        .body(pages::signed_out()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_per_session_and_never_the_session_id() {
        let a = csrf_token("session-a");
        assert_eq!(a, csrf_token("session-a"));
        assert_ne!(a, csrf_token("session-b"));
        assert!(!a.contains("session-a"));
    }

    #[test]
    fn consent_states_never_look_like_connections_states() {
        assert!(!random_token(32).contains('.'));
    }
}
