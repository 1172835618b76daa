//! One module per endpoint. Handlers extract, call the protocol logic and the store, and map
//! errors; the helpers here are what several of them share.

pub mod authorize;
pub mod callback;
pub mod connect;
pub mod connections;
pub mod consent;
pub mod exchange;
pub mod health;
pub mod metadata;
pub mod register;
pub mod revoke;
pub mod token;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use mcp_shared::{paths, OAuthErrorCode, Secret};
use url::Url;

use crate::clients::auth::{AssertionRules, PresentedAssertion};
use crate::clients::{ClientRecord, PresentedCredentials};
use crate::config::CookieMode;
use crate::error::OAuthError;
use crate::ids::RedirectUri;
use crate::pages::PageError;
use crate::state::AppState;

/// Name of the cookie that binds a browser to its authorization flows.
pub fn binding_cookie_name(mode: CookieMode) -> &'static str {
    match mode {
        CookieMode::HostPrefixed => "__Host-mcp-auth-flow",
        CookieMode::LoopbackDevelopment => "mcp-auth-flow",
    }
}

pub fn binding_cookie(mode: CookieMode, value: String) -> Cookie<'static> {
    let mut c = Cookie::build(binding_cookie_name(mode), value)
        .path("/")
        .http_only(true)
        // Lax: the cookie must come back on the top-level redirect from the IdP to /callback.
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::minutes(15))
        .finish();
    if mode == CookieMode::HostPrefixed {
        c.set_secure(true);
    }
    c
}

/// The browser-binding value from the request, if well-formed.
pub fn binding_cookie_value(req: &HttpRequest, mode: CookieMode) -> Option<String> {
    req.cookie(binding_cookie_name(mode))
        .map(|c| c.value().to_owned())
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The request body, within the app's `PayloadConfig` limit. An oversized or broken body is
/// answered by actix (413, 400) as `web::Bytes` would be, but with `Cache-Control: no-store`:
/// every answer of `/token`, `/revoke` and `/consent` carries it, refusals included.
pub struct Body(pub web::Bytes);

impl std::ops::Deref for Body {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl FromRequest for Body {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            bytes.await.map(Body).map_err(|e| {
                let mut resp = e.error_response();
                resp.headers_mut().insert(
                    header::CACHE_CONTROL,
                    header::HeaderValue::from_static("no-store"),
                );
                actix_web::error::InternalError::from_response(e, resp).into()
            })
        })
    }
}

pub use crate::crypto::hash_matches;
pub use crate::oauth::token::{ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT};
pub use crate::oauth::{param, reject_repeats};

/// A 302/303 to the client's redirect URI carrying the authorization response (or error),
/// always with `iss` (RFC 9207). Built with query pairs, appended to any query the registered
/// URI already has.
pub fn redirect_to_client(
    redirect_uri: &RedirectUri,
    params: &[(&str, &str)],
    status_303: bool,
) -> HttpResponse {
    // A RedirectUri is an absolute URL; the error is unreachable.
    let Some(location) = client_location(redirect_uri, params) else {
        return PageError::InvalidRedirectAddress.response();
    };
    redirect_to(&location, status_303)
}

/// The client's redirect URI with `params` appended to its query.
pub fn client_location(redirect_uri: &RedirectUri, params: &[(&str, &str)]) -> Option<String> {
    let mut url = Url::parse(redirect_uri.as_str()).ok()?;
    {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in params {
            pairs.append_pair(k, v);
        }
    }
    Some(url.to_string())
}

/// The authorization error response's URL (`error`, `error_description`, `state`, `iss`).
pub fn client_error_location(
    state: &AppState,
    redirect_uri: &RedirectUri,
    code: OAuthErrorCode,
    description: &str,
    client_state: Option<&str>,
) -> Option<String> {
    let mut params = vec![("error", code.as_str()), ("error_description", description)];
    if let Some(s) = client_state {
        params.push(("state", s));
    }
    params.push(("iss", state.config.issuer.as_str()));
    client_location(redirect_uri, &params)
}

/// A 302/303 to `location`, never cached, never leaking our URL as a referrer.
pub fn redirect_to(location: &str, status_303: bool) -> HttpResponse {
    let mut b = if status_303 {
        HttpResponse::SeeOther()
    } else {
        HttpResponse::Found()
    };
    b.insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish()
}

pub fn redirect_error(
    state: &AppState,
    redirect_uri: &RedirectUri,
    code: OAuthErrorCode,
    description: &str,
    client_state: Option<&str>,
    status_303: bool,
) -> HttpResponse {
    match client_error_location(state, redirect_uri, code, description, client_state) {
        Some(location) => redirect_to(&location, status_303),
        None => PageError::InvalidRedirectAddress.response(),
    }
}

/// A store failure on a browser-facing endpoint: counted, logged, and shown as a page (503).
pub fn store_unavailable(state: &AppState, e: crate::store::StoreError) -> PageError {
    PageError::Unavailable(state.store_error(e).status())
}

/// Parses an `application/x-www-form-urlencoded` body into pairs, refusing repeated
/// parameters (RFC 6749 §3.1/§3.2: parameters must not be included more than once).
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::invalid_request("the request body is not valid form data"))?;
    reject_repeats(&pairs)?;
    Ok(pairs)
}

pub fn require_form_content_type(req: &HttpRequest) -> Result<(), OAuthError> {
    let ok = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        ))
    }
}

/// Authenticates the client at the token and revocation endpoints (RFC 6749 §2.3); the rules
/// are in [`crate::clients::auth`].
pub async fn authenticate_client(
    state: &AppState,
    req: &HttpRequest,
    form: &[(String, String)],
) -> Result<ClientRecord, OAuthError> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| Secret::new(v.to_str().unwrap_or("")));
    let config = &state.config;
    // RFC 7523 §3: the assertion's audience is this server; the endpoint it was sent to
    // (RFC 8414 names both endpoints' auth methods alike) identifies it as well.
    let mut audiences = vec![config.issuer.clone(), config.endpoint(paths::TOKEN)];
    if req.path() == paths::REVOKE {
        audiences.push(config.endpoint(paths::REVOKE));
    }
    let max_lifetime_secs =
        i64::try_from(config.client_assertion.max_lifetime.as_secs()).unwrap_or(i64::MAX);
    let rules = AssertionRules {
        audiences: &audiences,
        algs: &config.client_assertion.algs,
        max_lifetime_secs,
        now: state.clock.now(),
        store: state.store.as_ref(),
    };
    state
        .clients
        .authenticate_with(
            PresentedCredentials {
                authorization,
                client_id: param(form, "client_id"),
                client_secret: param(form, "client_secret").map(Secret::new),
            },
            PresentedAssertion {
                assertion_type: param(form, "client_assertion_type"),
                assertion: param(form, "client_assertion").map(Secret::new),
            },
            Some(rules),
        )
        .await
}

/// JSON with the no-store headers token responses require.
pub fn no_store_json(body: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(parse_form(b"a=1&b=2").is_ok());
        let err = parse_form(b"code=1&code=2").unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidRequest);
    }

    #[test]
    fn client_redirect_appends_to_existing_query_and_encodes() {
        let resp = redirect_to_client(
            &RedirectUri::parse("https://app.example/cb?x=1").unwrap(),
            &[("code", "a b&c"), ("state", "s")],
            false,
        );
        assert_eq!(resp.status(), 302);
        let loc = resp.headers().get("location").unwrap().to_str().unwrap();
        assert_eq!(loc, "https://app.example/cb?x=1&code=a+b%26c&state=s");
    }
}
