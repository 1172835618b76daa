//! `POST /consent`: the user's decision. The flow is taken (single use), the browser-binding
//! cookie and the CSRF token are checked, then either the client gets `access_denied` or the
//! browser is sent to the upstream IdP with the proxy's own client id, state, nonce and PKCE.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use mcp_shared::{OAuthErrorCode, Secret};

use super::{binding_cookie_value, hash_matches, param, parse_form, redirect_error};
use crate::crypto::random_token;
use crate::ids::ClientState;
use crate::oauth::consent::{self, Decision, Denial};
use crate::pages::PageError;
use crate::pkce::CodeVerifier;
use crate::state::AppState;
use crate::store::UpstreamFlow;
use crate::upstream::UpstreamError;

/// How long the upstream login may take.
const UPSTREAM_FLOW_TTL: Duration = Duration::from_secs(600);

pub async fn decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::Body,
) -> Result<HttpResponse, PageError> {
    // Defence in depth on top of the CSRF token: a cross-site form post carries a foreign Origin.
    if let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        if origin != state.config.issuer {
            return Err(PageError::ConsentFromOtherBrowser);
        }
    }
    let form = parse_form(&body).map_err(|_| PageError::InvalidForm)?;
    let (Some(flow_id), Some(csrf), Some(decision)) = (
        param(&form, "flow"),
        param(&form, "csrf"),
        param(&form, "decision"),
    ) else {
        return Err(PageError::InvalidForm);
    };
    let pending = match state.store.take_pending_authorization(flow_id).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(PageError::FlowExpired),
        Err(e) => return Err(super::store_unavailable(&state, e)),
    };
    let browser_ok = binding_cookie_value(&req, state.config.cookie_mode)
        .is_some_and(|b| hash_matches(&b, &pending.browser_hash));
    if !browser_ok || !hash_matches(csrf, &pending.csrf_hash) {
        crate::audit::event("consent.refused", "refused")
            .reason("browser_binding_or_csrf")
            .client(pending.client_id.as_str())
            .warn("consent rejected: browser binding or CSRF token mismatch");
        return Err(PageError::ConsentFromOtherBrowser);
    }

    // The page offers each data scope as a checkbox, named `grant.<scope>` (form parameters
    // never repeat): what stayed ticked is granted.
    let ticked: Vec<&str> = form
        .iter()
        .filter(|(_, v)| v == "on")
        .filter_map(|(k, _)| k.strip_prefix("grant."))
        .collect();
    let offered_choice = param(&form, "scope_choice") == Some("1");
    let outcome = consent::decide(
        decision,
        &pending.scope,
        offered_choice.then_some(ticked.as_slice()),
    )
    .map_err(|_| PageError::InvalidForm)?;
    let mut pending = pending;
    match outcome {
        Decision::Approved(granted) => pending.scope = granted,
        Decision::Denied(denial) => {
            state.metrics.consent.with_label_values(&["denied"]).inc();
            match denial {
                Denial::Denied => crate::audit::event("consent.denied", "refused")
                    .reason("denied")
                    .client(pending.client_id.as_str())
                    .info("consent denied"),
                Denial::NothingAllowed => crate::audit::event("consent.denied", "refused")
                    .reason("nothing_allowed")
                    .client(pending.client_id.as_str())
                    .info("consent denied: every permission unticked"),
            }
            return Ok(redirect_error(
                &state,
                &pending.redirect_uri,
                OAuthErrorCode::AccessDenied,
                denial.description(),
                pending.state.as_ref().map(ClientState::as_str),
                true,
            ));
        }
    }

    let upstream_state = random_token(32);
    let nonce = random_token(32);
    let verifier = CodeVerifier::generate();
    let url = match state
        .upstream
        .authorization_url(&upstream_state, &nonce, verifier.as_str())
        .await
    {
        Ok(url) => url,
        Err(e) => return Err(upstream_unavailable(&state, e)),
    };
    state.metrics.consent.with_label_values(&["approved"]).inc();
    let scope = pending.scope.to_string();
    crate::audit::event("consent.approved", "ok")
        .client(pending.client_id.as_str())
        .detail(&scope)
        .info("consent approved");
    let flow = UpstreamFlow {
        authorization: pending,
        pkce_verifier: Secret::new(verifier.as_str()),
        nonce: Secret::new(nonce),
        created_at: state.clock.now(),
    };
    if let Err(e) = state
        .store
        .put_upstream_flow(&upstream_state, &flow, UPSTREAM_FLOW_TTL)
        .await
    {
        return Err(super::store_unavailable(&state, e));
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish())
}

pub fn upstream_unavailable(state: &AppState, e: UpstreamError) -> PageError {
    tracing::warn!(error = %e, "upstream identity provider unavailable");
    state
        .metrics
        .upstream_requests
        .with_label_values(&["authorize", "error"])
        .inc();
    PageError::UpstreamUnavailable
}
