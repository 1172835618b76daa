//! `GET /authorize`: extract, decide ([`crate::oauth::authorize`]), store, show. Until the
//! client and its redirect URI are validated, every error is a page and never a redirect (an
//! open redirector otherwise). After that, errors go back to the client with `state` and `iss`.
//! A valid request is stored as a pending flow and the consent page is shown; the upstream IdP
//! is not contacted until the user approves.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use url::Url;

use super::{binding_cookie, binding_cookie_value, redirect_error};
use crate::clients::cimd::is_cimd_client_id;
use crate::clients::{ClientLookupError, ClientRecord, GrantType};
use crate::crypto::{random_token, sha256_hex};
use crate::error::OAuthError;
use crate::ids::RedirectUri;
use crate::oauth::authorize::{self as decide, AuthorizationRequest, Rejection};
use crate::pages::{self, ConsentView, PageError, RedirectTarget};
use crate::state::{AppState, Keyed, Limited};
use crate::store::PendingAuthorization;

/// How long a user has to decide on the consent page and log in upstream.
pub const FLOW_TTL: Duration = Duration::from_secs(600);

/// A refusal before the redirect URI is verified: always a page.
fn page(rejection: Rejection) -> PageError {
    match rejection {
        Rejection::Page(detail) => PageError::InvalidRequest(detail),
        // Not produced before the redirect URI is verified; shown, never redirected.
        Rejection::Redirect(code, detail) => PageError::InvalidRequest(format!("{code}: {detail}")),
    }
}

pub async fn authorize(
    state: actix_web::web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let pairs: Result<Vec<(String, String)>, _> = serde_urlencoded::from_str(req.query_string());
    let client_id = pairs.as_ref().ok().and_then(|p| decide::client_id(p).ok());
    // The per-IP limit, the per-client limit and the client lookup in one store round trip:
    // the client's count is taken before it is known to exist (so an unknown id costs a
    // bucket, as an unknown address does; both are bounded by the per-IP limit) and only
    // decides once it does.
    let (per_ip, per_client, lookup) = futures_util::join!(
        state.check_rate_limit(Limited::Authorize, &req),
        async {
            match client_id {
                Some(id) => {
                    state
                        .check_keyed_rate_limit(Keyed::AuthorizeClient, id)
                        .await
                }
                None => Ok(()),
            }
        },
        async {
            match client_id {
                Some(id) => Some(state.clients.lookup(id).await),
                None => None,
            }
        },
    );
    let limited = |e: OAuthError| PageError::RateLimited {
        status: e.status(),
        retry_after: e.retry_after,
    };
    per_ip.map_err(limited)?;
    let pairs = pairs.map_err(|_| {
        PageError::InvalidRequest("The request parameters could not be read.".into())
    })?;

    // 1. Client and redirect URI: until both hold, only pages.
    decide::client_id(&pairs).map_err(page)?;
    let client = match lookup.unwrap_or(Ok(None)) {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(PageError::InvalidRequest(
                "The application is not registered here (unknown client_id).".into(),
            ))
        }
        Err(ClientLookupError::Store(e)) => return Err(super::store_unavailable(&state, e)),
        Err(ClientLookupError::Cimd(e)) => {
            return Err(PageError::InvalidRequest(format!(
                "The application's client metadata document cannot be used: {e}."
            )))
        }
    };
    per_client.map_err(limited)?;
    let requested_redirect = super::param(&pairs, "redirect_uri");
    let patterns = state.clients.redirect_patterns(client.client_id.as_str());
    let redirect_uri =
        decide::resolve_redirect_uri(&client, patterns, requested_redirect).map_err(page)?;

    // 2. Everything else: errors go back to the client.
    match decide::validate(&client, &pairs, &state.config.resources) {
        Err(Rejection::Redirect(code, desc)) => {
            let client_state = super::param(&pairs, "state");
            Ok(redirect_error(
                &state,
                &redirect_uri,
                code,
                &desc,
                client_state,
                false,
            ))
        }
        Err(rejection) => Err(page(rejection)),
        Ok(request) => {
            show_consent(
                &state,
                &req,
                &client,
                redirect_uri,
                requested_redirect.is_some(),
                request,
            )
            .await
        }
    }
}

async fn show_consent(
    state: &AppState,
    req: &HttpRequest,
    client: &ClientRecord,
    redirect_uri: RedirectUri,
    redirect_uri_given: bool,
    request: AuthorizationRequest,
) -> Result<HttpResponse, PageError> {
    let mode = state.config.cookie_mode;
    // One binding value per browser, reused across parallel flows in the same browser.
    let browser = binding_cookie_value(req, mode).unwrap_or_else(|| random_token(32));
    let flow_id = random_token(32);
    let csrf = random_token(32);
    let pending = PendingAuthorization {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        redirect_uri_given,
        state: request.state,
        scope: request.scope,
        resource: request.resource,
        code_challenge: request.code_challenge.into_string(),
        csrf_hash: sha256_hex(&csrf),
        browser_hash: sha256_hex(&browser),
        created_at: state.clock.now(),
    };
    if let Err(e) = state
        .store
        .put_pending_authorization(&flow_id, &pending, FLOW_TTL)
        .await
    {
        return Err(super::store_unavailable(state, e));
    }
    // Registered and matched redirect URIs are absolute URLs (see `resolve_redirect_uri`).
    let redirect =
        Url::parse(redirect_uri.as_str()).map_err(|_| PageError::InvalidRedirectAddress)?;
    // A client described by a metadata document: name the host that vouches for it.
    let document_host = is_cimd_client_id(client.client_id.as_str())
        .then(|| url::Url::parse(client.client_id.as_str()).ok())
        .flatten()
        .and_then(|u| u.host_str().map(str::to_owned));
    let html = pages::consent(&ConsentView {
        client_name: client.client_name.as_deref(),
        document_host: document_host.as_deref(),
        client_id: client.client_id.as_str(),
        redirect: RedirectTarget::of(&redirect),
        stays_connected: client.allows_grant(GrantType::RefreshToken),
        resource: &pending.resource,
        scopes: &pending.scope,
        flow_id: &flow_id,
        csrf_token: &csrf,
    });
    Ok(pages::html_response(StatusCode::OK)
        .cookie(binding_cookie(mode, browser))
        .body(html))
}
