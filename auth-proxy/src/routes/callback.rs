//! `GET /callback`: the upstream IdP sends the browser back here. The flow is taken by upstream
//! state (single use) and must belong to this browser; the upstream code is exchanged with the
//! proxy's verifier and the identity validated; the upstream token set is sealed into a grant;
//! the client gets its own authorization code with `state` and `iss`. The decisions are in
//! [`crate::oauth::callback`], the grant and its code are stored by
//! [`crate::grants::Grants::issue_code`]. Pages are
//! [`PageError`]s, turned into responses here because every other outcome is a redirect.

use actix_web::{web, HttpRequest, HttpResponse};
use mcp_shared::OAuthErrorCode;

use super::{binding_cookie_value, hash_matches, redirect_error};
use crate::audit;
use crate::ids::{ClientState, GrantId};
use crate::metrics::Denied;
use crate::oauth::callback::{issuer_acceptable, upstream_error_code};
use crate::pages::PageError;
use crate::policy;
use crate::state::{AppState, Keyed};
use crate::upstream::UpstreamError;

pub async fn callback(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let get = |name: &str| super::param(&pairs, name);
    let Some(upstream_state) = get("state") else {
        return PageError::CallbackWithoutState.response();
    };
    // A sign-in to the connections page, not an authorization.
    if upstream_state.starts_with(super::connections::STATE_PREFIX) {
        return super::connections::signed_in(&state, &req, upstream_state, &pairs)
            .await
            .unwrap_or_else(|page| page.response());
    }
    let flow = match state.store.take_upstream_flow(upstream_state).await {
        Ok(Some(f)) => f,
        Ok(None) => return PageError::CallbackExpired.response(),
        Err(e) => return super::store_unavailable(&state, e).response(),
    };
    let auth = &flow.authorization;
    // The flow must finish in the browser that consented: otherwise an attacker could have a
    // victim's browser complete the attacker's login (login CSRF) or vice versa.
    let bound = binding_cookie_value(&req, state.config.cookie_mode)
        .is_some_and(|b| hash_matches(&b, &auth.browser_hash));
    if !bound {
        audit::event("grant.refused", "refused")
            .reason("browser_binding")
            .client(auth.client_id.as_str())
            .warn("callback rejected: browser binding mismatch");
        return PageError::CallbackInOtherBrowser.response();
    }
    let fail = |code: OAuthErrorCode, desc: &str| {
        redirect_error(
            &state,
            &auth.redirect_uri,
            code,
            desc,
            auth.state.as_ref().map(ClientState::as_str),
            false,
        )
    };
    // RFC 9207: when the IdP names itself, it must be the IdP we sent the user to.
    if !issuer_acceptable(get("iss"), state.config.upstream.issuer.as_str()) {
        return fail(
            OAuthErrorCode::AccessDenied,
            "the sign-in response came from an unexpected issuer",
        );
    }
    if let Some(error) = get("error") {
        let detail = mcp_shared::ops::telemetry::untrusted(error, 64).to_string();
        audit::event("grant.refused", "refused")
            .reason("upstream_error")
            .client(auth.client_id.as_str())
            .detail(&detail)
            .info("upstream returned an error");
        let code = upstream_error_code(error);
        return fail(code, "the identity provider did not complete the sign-in");
    }
    let Some(upstream_code) = get("code") else {
        return fail(
            OAuthErrorCode::ServerError,
            "the identity provider returned no code",
        );
    };

    let started = mcp_shared::ops::clock::monotonic();
    let exchanged = state
        .upstream
        .exchange_code(
            upstream_code,
            flow.pkce_verifier.expose(),
            flow.nonce.expose(),
        )
        .await;
    state
        .metrics
        .upstream_duration
        .with_label_values(&["token"])
        .observe(started.elapsed().as_secs_f64());
    let (tokens, identity) = match exchanged {
        Ok(ok) => {
            state
                .metrics
                .upstream_requests
                .with_label_values(&["token", "ok"])
                .inc();
            ok
        }
        Err(e) => {
            let outcome = match e {
                UpstreamError::Unavailable(_) => "unavailable",
                UpstreamError::Rejected(_) => "rejected",
                UpstreamError::Invalid(_) => "invalid",
            };
            state
                .metrics
                .upstream_requests
                .with_label_values(&["token", outcome])
                .inc();
            // The IdP's answer may be in the message: one escaped line, bounded.
            tracing::warn!(error = %mcp_shared::ops::telemetry::untrusted(&e.to_string(), 300), client_id = %auth.client_id, "upstream code exchange failed");
            return match e {
                UpstreamError::Unavailable(_) => fail(
                    OAuthErrorCode::TemporarilyUnavailable,
                    "the identity provider is unavailable",
                ),
                _ => fail(
                    OAuthErrorCode::AccessDenied,
                    "the sign-in could not be verified",
                ),
            };
        }
    };

    // Sign-ins per person, whichever client or IP they come through.
    if state
        .check_keyed_rate_limit(Keyed::UserSignIn, &identity.subject)
        .await
        .is_err()
    {
        return fail(
            OAuthErrorCode::TemporarilyUnavailable,
            "too many sign-ins for this account; try again later",
        );
    }
    // The access policy (ADR 0021): who may hold a grant here at all.
    let groups = identity.list_claim(&state.config.policy.groups_claim);
    let who = policy::Identity {
        subject: &identity.subject,
        email: identity.email.as_deref(),
        email_verified: identity.email_verified,
        groups: &groups,
    };
    if let Err(denial) = policy::check(&state.config.policy, &who) {
        state.metrics.denied(Denied::Policy(denial));
        audit::event("policy.denied", "refused")
            .reason(denial.label())
            .subject(&identity.subject)
            .client(auth.client_id.as_str())
            .warn("sign-in refused by the access policy");
        return fail(
            OAuthErrorCode::AccessDenied,
            "your account is not allowed to use this service",
        );
    }

    let grant_id = GrantId::generate();
    let Ok(plain) = serde_json::to_vec(&tokens) else {
        return fail(OAuthErrorCode::ServerError, "internal error");
    };
    let upstream_sealed = state.cipher.seal(grant_id.as_str(), &plain);
    if let Some(nextcloud) = &state.nextcloud {
        // The app-password strategy: the code goes out once Nextcloud access is in place.
        return super::connect::after_sign_in(
            &state,
            nextcloud,
            auth,
            grant_id,
            &identity,
            upstream_sealed,
        )
        .await;
    }
    match super::connect::issue_code_location(
        &state,
        auth,
        &grant_id,
        &identity.subject,
        upstream_sealed,
    )
    .await
    {
        Ok(location) => super::redirect_to(&location, false),
        Err(page) => page.response(),
    }
}
