//! `POST /consent`: the user's decision. The flow is taken (single use), the browser-binding
//! cookie and the CSRF token are checked, then either the client gets `access_denied` or the
//! browser is sent to the upstream IdP with the proxy's own client id, state, nonce and PKCE.

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use mcp_shared::{OAuthErrorCode, ScopeSet};

use super::{binding_cookie_value, hash_matches, param, parse_form, redirect_error};
use crate::crypto::random_token;
use crate::pages;
use crate::pkce::CodeVerifier;
use crate::state::AppState;
use crate::store::UpstreamFlow;
use crate::upstream::UpstreamError;

/// How long the upstream login may take.
const UPSTREAM_FLOW_TTL: Duration = Duration::from_secs(600);

fn expired() -> HttpResponse {
    pages::error(
        StatusCode::BAD_REQUEST,
        "This sign-in request has expired",
        "It was already used or took too long. Start again from the application.",
    )
}

fn unverified() -> HttpResponse {
    pages::error(
        StatusCode::FORBIDDEN,
        "This browser could not be verified",
        "The approval did not come from the browser that started the sign-in.",
    )
}

pub async fn decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    // Defence in depth on top of the CSRF token: a cross-site form post carries a foreign Origin.
    if let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        if origin != state.config.issuer {
            return unverified();
        }
    }
    let Ok(form) = parse_form(&body) else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "This form is not valid",
            "Start again from the application.",
        );
    };
    let (Some(flow_id), Some(csrf), Some(decision)) = (
        param(&form, "flow"),
        param(&form, "csrf"),
        param(&form, "decision"),
    ) else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "This form is not valid",
            "Start again from the application.",
        );
    };
    let pending = match state.store.take_pending_authorization(flow_id).await {
        Ok(Some(p)) => p,
        Ok(None) => return expired(),
        Err(e) => {
            return super::store_unavailable_page(&state, e);
        }
    };
    let browser_ok = binding_cookie_value(&req, state.config.cookie_mode)
        .is_some_and(|b| hash_matches(&b, &pending.browser_hash));
    if !browser_ok || !hash_matches(csrf, &pending.csrf_hash) {
        tracing::warn!(target: "audit", client_id = %pending.client_id, "consent rejected: browser binding or CSRF token mismatch");
        return unverified();
    }

    match decision {
        "approve" => {}
        "deny" => {
            state.metrics.consent.with_label_values(&["denied"]).inc();
            tracing::info!(target: "audit", client_id = %pending.client_id, "consent denied");
            return redirect_error(
                &state,
                &pending.redirect_uri,
                OAuthErrorCode::AccessDenied,
                "the user denied the request",
                Some(&pending.state),
                true,
            );
        }
        _ => {
            return pages::error(
                StatusCode::BAD_REQUEST,
                "This form is not valid",
                "Start again from the application.",
            )
        }
    }

    // The page offers each data scope as a checkbox: grant what stayed ticked (never more
    // than was requested; identity scopes are not optional).
    let mut pending = pending;
    if param(&form, "scope_choice") == Some("1") {
        // One checkbox per scope, named `grant.<scope>` (form parameters never repeat).
        let ticked: Vec<&str> = form
            .iter()
            .filter(|(_, v)| v == "on")
            .filter_map(|(k, _)| k.strip_prefix("grant."))
            .collect();
        let mut granted = ScopeSet::new();
        for scope in pending.scope.iter() {
            if scope.is_identity() || ticked.contains(&scope.as_str()) {
                granted.insert(scope);
            }
        }
        if !granted.iter().any(|s| !s.is_identity())
            && pending.scope.iter().any(|s| !s.is_identity())
        {
            state.metrics.consent.with_label_values(&["denied"]).inc();
            tracing::info!(target: "audit", client_id = %pending.client_id, "consent denied: every permission unticked");
            return redirect_error(
                &state,
                &pending.redirect_uri,
                OAuthErrorCode::AccessDenied,
                "the user allowed none of the requested permissions",
                Some(&pending.state),
                true,
            );
        }
        pending.scope = granted;
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
        Err(e) => return upstream_unavailable(&state, e),
    };
    state.metrics.consent.with_label_values(&["approved"]).inc();
    tracing::info!(target: "audit", client_id = %pending.client_id, scope = %pending.scope, "consent approved");
    let flow = UpstreamFlow {
        authorization: pending,
        pkce_verifier: verifier.as_str().to_owned(),
        nonce,
        created_at: state.clock.now(),
    };
    if let Err(e) = state
        .store
        .put_upstream_flow(&upstream_state, &flow, UPSTREAM_FLOW_TTL)
        .await
    {
        return super::store_unavailable_page(&state, e);
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish()
}

pub fn upstream_unavailable(state: &AppState, e: UpstreamError) -> HttpResponse {
    tracing::warn!(error = %e, "upstream identity provider unavailable");
    state
        .metrics
        .upstream_requests
        .with_label_values(&["authorize", "error"])
        .inc();
    pages::error(
        StatusCode::BAD_GATEWAY,
        "The sign-in service cannot be reached",
        "The identity provider did not answer. Please try again in a few minutes.",
    )
}
