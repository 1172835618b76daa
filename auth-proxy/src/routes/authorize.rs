//! `GET /authorize`. Until the client and its redirect URI are validated, every error is a page
//! and never a redirect (an open redirector otherwise). After that, errors go back to the client
//! with `state` and `iss`. A valid request is stored as a pending flow and the consent page is
//! shown; the upstream IdP is not contacted until the user approves.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use mcp_shared::{OAuthErrorCode, ScopeSet};
use url::Url;

use super::{binding_cookie, binding_cookie_value, redirect_error, reject_repeats};
use crate::clients::cimd::is_cimd_client_id;
use crate::clients::{ClientLookupError, ClientRecord};
use crate::crypto::{random_token, sha256_hex};
use crate::pages::{self, ConsentView};
use crate::pkce::{CodeChallenge, CodeChallengeMethod};
use crate::redirect::{is_loopback_host, matches_registered, RedirectPattern};
use crate::state::{AppState, Limited};
use crate::store::PendingAuthorization;

/// How long a user has to decide on the consent page and log in upstream.
pub const FLOW_TTL: Duration = Duration::from_secs(600);

/// What was wrong with the request, in the order it is checked.
enum Rejection {
    /// Shown to the person; nothing is sent to the (unverified) redirect URI.
    Page(StatusCode, &'static str, String),
    /// Sent back to the verified redirect URI.
    Redirect(OAuthErrorCode, String),
}

fn page(detail: impl Into<String>) -> Rejection {
    Rejection::Page(
        StatusCode::BAD_REQUEST,
        "This sign-in request is not valid",
        detail.into(),
    )
}

pub async fn authorize(state: actix_web::web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if let Err(e) = state.check_rate_limit(Limited::Authorize, &req).await {
        let mut resp = pages::error(
            e.status(),
            "Too many sign-in attempts",
            "Please wait a moment and try again.",
        );
        if let Some(secs) = e.retry_after {
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, v);
            }
        }
        return resp;
    }
    let pairs: Vec<(String, String)> = match serde_urlencoded::from_str(req.query_string()) {
        Ok(p) => p,
        Err(_) => return render(page("The request parameters could not be read.")),
    };
    let get = |name: &str| super::param(&pairs, name);

    // 1. Client and redirect URI: until both hold, only pages.
    for name in ["client_id", "redirect_uri"] {
        if pairs.iter().filter(|(k, _)| k == name).count() > 1 {
            return render(page(format!("The parameter {name} is repeated.")));
        }
    }
    let Some(client_id) = get("client_id") else {
        return render(page(
            "The request does not name an application (client_id is missing).",
        ));
    };
    let client = match state.clients.lookup(client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return render(page(
                "The application is not registered here (unknown client_id).",
            ))
        }
        Err(ClientLookupError::Store(e)) => {
            return super::store_unavailable_page(&state, e);
        }
        Err(ClientLookupError::Cimd(e)) => {
            return render(page(format!(
                "The application's client metadata document cannot be used: {e}."
            )));
        }
    };
    let patterns = state.clients.redirect_patterns(&client.client_id);
    let redirect_uri = match resolve_redirect_uri(&client, patterns, get("redirect_uri")) {
        Ok(r) => r,
        Err(rejection) => return render(rejection),
    };
    let redirect_uri_given = get("redirect_uri").is_some();
    let client_state = get("state");

    // 2. Everything else: errors go back to the client.
    match validate(&state, &client, &pairs, client_state) {
        Err(Rejection::Redirect(code, desc)) => {
            redirect_error(&state, &redirect_uri, code, &desc, client_state, false)
        }
        Err(rejection) => render(rejection),
        Ok(request) => {
            show_consent(
                &state,
                &req,
                &client,
                redirect_uri,
                redirect_uri_given,
                request,
            )
            .await
        }
    }
}

struct ValidRequest {
    state: String,
    scope: ScopeSet,
    resource: String,
    code_challenge: CodeChallenge,
}

fn resolve_redirect_uri(
    client: &ClientRecord,
    patterns: &[RedirectPattern],
    requested: Option<&str>,
) -> Result<String, Rejection> {
    match requested {
        Some(uri) if matches_registered(uri, &client.redirect_uris, patterns) => Ok(uri.to_owned()),
        Some(_) => Err(page(
            "The redirect address does not match any address registered for this application.",
        )),
        // Omitting it is allowed only when there is exactly one candidate (RFC 6749 §3.1.2.3);
        // a pattern is never a candidate.
        None => match client.redirect_uris.as_slice() {
            [only] if patterns.is_empty() => Ok(only.clone()),
            _ => Err(page(
                "The request must name its redirect address (redirect_uri).",
            )),
        },
    }
}

fn validate(
    state: &AppState,
    client: &ClientRecord,
    pairs: &[(String, String)],
    client_state: Option<&str>,
) -> Result<ValidRequest, Rejection> {
    let get = |name: &str| super::param(pairs, name);
    let invalid = |d: &str| Rejection::Redirect(OAuthErrorCode::InvalidRequest, d.to_owned());
    if let Err(e) = reject_repeats(pairs) {
        return Err(Rejection::Redirect(
            e.code,
            e.description.map(|d| d.into_owned()).unwrap_or_default(),
        ));
    }
    match get("response_type") {
        Some("code") => {}
        None => return Err(invalid("response_type is required")),
        Some(_) => {
            return Err(Rejection::Redirect(
                OAuthErrorCode::UnsupportedResponseType,
                "only response_type=code is supported".into(),
            ))
        }
    }
    // `state` is optional: PKCE, which is required here, already binds the response to the
    // request (OAuth 2.1 §7.6), and the official MCP SDKs send none by default (ADR 0007).
    // Without it, the redirect carries no `state` either.
    let client_state = client_state.unwrap_or("");
    if client_state.len() > 2048 {
        return Err(invalid("state is too long"));
    }
    let challenge =
        get("code_challenge").ok_or_else(|| invalid("code_challenge is required (PKCE)"))?;
    match get("code_challenge_method") {
        None => return Err(invalid("code_challenge_method=S256 is required")),
        Some(m) => m
            .parse::<CodeChallengeMethod>()
            .map_err(|e| invalid(&e.to_string()))?,
    };
    let code_challenge = CodeChallenge::parse(challenge).map_err(|e| invalid(&e.to_string()))?;

    let resource = match get("resource") {
        None => state.config.resources[0].clone(),
        Some(r) if state.config.resources.iter().any(|known| known == r) => r.to_owned(),
        Some(_) => {
            return Err(Rejection::Redirect(
                OAuthErrorCode::InvalidTarget,
                "the requested resource is not served by this authorization server".into(),
            ))
        }
    };

    // The client's own ceiling. A stored scope that no longer parses never reaches here: the
    // record reads as corrupt (fail closed), not as "no ceiling".
    let registered = client.scope.clone();
    let scope = match get("scope") {
        Some(raw) => ScopeSet::parse(raw)
            .map_err(|e| Rejection::Redirect(OAuthErrorCode::InvalidScope, e.to_string()))?,
        None => registered.clone().unwrap_or_else(ScopeSet::all),
    };
    if let Some(registered) = &registered {
        if !scope.is_subset(registered) {
            return Err(Rejection::Redirect(
                OAuthErrorCode::InvalidScope,
                "the requested scope exceeds what the client registered".into(),
            ));
        }
    }
    Ok(ValidRequest {
        state: client_state.to_owned(),
        scope,
        resource,
        code_challenge,
    })
}

async fn show_consent(
    state: &AppState,
    req: &HttpRequest,
    client: &ClientRecord,
    redirect_uri: String,
    redirect_uri_given: bool,
    request: ValidRequest,
) -> HttpResponse {
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
        return super::store_unavailable_page(state, e);
    }
    let redirect = Url::parse(&redirect_uri).ok();
    let redirect_host = redirect
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| redirect_uri.split(':').next().unwrap_or("").to_owned() + ": (app)");
    // A client described by a metadata document: name the host that vouches for it.
    let document_host = is_cimd_client_id(&client.client_id)
        .then(|| url::Url::parse(&client.client_id).ok())
        .flatten()
        .and_then(|u| u.host_str().map(str::to_owned));
    let html = pages::consent(&ConsentView {
        client_name: client.client_name.as_deref(),
        document_host: document_host.as_deref(),
        client_id: &client.client_id,
        redirect_host: &redirect_host,
        redirect_is_loopback: redirect.as_ref().is_some_and(is_loopback_host),
        resource: &pending.resource,
        scopes: &pending.scope,
        flow_id: &flow_id,
        csrf_token: &csrf,
    });
    pages::html_response(StatusCode::OK)
        .cookie(binding_cookie(mode, browser))
        .body(html)
}

fn render(rejection: Rejection) -> HttpResponse {
    match rejection {
        Rejection::Page(status, title, detail) => pages::error(status, title, &detail),
        // Never reached with an unverified redirect URI: callers handle redirects themselves.
        Rejection::Redirect(code, detail) => pages::error(
            StatusCode::BAD_REQUEST,
            "This sign-in request is not valid",
            &format!("{code}: {detail}"),
        ),
    }
}
