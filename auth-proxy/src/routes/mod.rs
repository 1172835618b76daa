//! One module per endpoint. Handlers extract, call the protocol logic and the store, and map
//! errors; the helpers here are what several of them share.

pub mod authorize;
pub mod callback;
pub mod consent;
pub mod exchange;
pub mod health;
pub mod metadata;
pub mod register;
pub mod revoke;
pub mod token;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mcp_shared::OAuthErrorCode;
use url::Url;

use crate::config::CookieMode;
use crate::crypto::{constant_time_eq, sha256_hex};
use crate::error::OAuthError;
use crate::state::AppState;
use crate::store::{ClientRecord, TokenEndpointAuthMethod};

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

pub fn hash_matches(secret: &str, expected_hash: &str) -> bool {
    constant_time_eq(sha256_hex(secret).as_bytes(), expected_hash.as_bytes())
}

/// A 302/303 to the client's redirect URI carrying the authorization response (or error),
/// always with `iss` (RFC 9207). Built with query pairs, appended to any query the registered
/// URI already has.
pub fn redirect_to_client(
    redirect_uri: &str,
    params: &[(&str, &str)],
    status_303: bool,
) -> HttpResponse {
    let location = match Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut pairs = url.query_pairs_mut();
                for (k, v) in params {
                    // An empty `state` means the client sent none: echo none.
                    if *k == "state" && v.is_empty() {
                        continue;
                    }
                    pairs.append_pair(k, v);
                }
            }
            url.to_string()
        }
        // Redirect URIs were validated at registration; this is unreachable in practice.
        Err(_) => {
            return crate::pages::error(
                actix_web::http::StatusCode::BAD_REQUEST,
                "Invalid redirect address",
                "The application's redirect address is not valid.",
            )
        }
    };
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
    redirect_uri: &str,
    code: OAuthErrorCode,
    description: &str,
    client_state: Option<&str>,
    status_303: bool,
) -> HttpResponse {
    let mut params = vec![("error", code.as_str()), ("error_description", description)];
    if let Some(s) = client_state {
        params.push(("state", s));
    }
    params.push(("iss", state.config.issuer.as_str()));
    redirect_to_client(redirect_uri, &params, status_303)
}

/// A store failure on a browser-facing endpoint: counted, logged, and shown as a page (503).
pub fn store_unavailable_page(state: &AppState, e: crate::store::StoreError) -> HttpResponse {
    let e = state.store_error(e);
    crate::pages::error(
        e.status(),
        "Temporarily unavailable",
        "Please try again in a moment.",
    )
}

/// Parses an `application/x-www-form-urlencoded` body into pairs, refusing repeated
/// parameters (RFC 6749 §3.1/§3.2: parameters must not be included more than once).
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::invalid_request("the request body is not valid form data"))?;
    reject_repeats(&pairs)?;
    Ok(pairs)
}

pub fn reject_repeats(pairs: &[(String, String)]) -> Result<(), OAuthError> {
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(other, _)| other == k) {
            return Err(OAuthError::invalid_request(format!(
                "parameter `{k}` is repeated"
            )));
        }
    }
    Ok(())
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
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

/// Authenticates the client at the token and revocation endpoints (RFC 6749 §2.3):
/// `client_secret_basic`, `client_secret_post`, or `none` for public clients.
pub async fn authenticate_client(
    state: &AppState,
    req: &HttpRequest,
    form: &[(String, String)],
) -> Result<ClientRecord, OAuthError> {
    let basic = match req.headers().get(header::AUTHORIZATION) {
        Some(value) => Some(parse_basic(value.to_str().unwrap_or(""))?),
        None => None,
    };
    let used_basic = basic.is_some();
    let form_id = param(form, "client_id");
    let form_secret = param(form, "client_secret");
    let (client_id, secret) = match (basic, form_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ))
        }
        (Some((id, secret)), None) => {
            if form_id.is_some_and(|f| f != id) {
                return Err(
                    OAuthError::invalid_client("client_id does not match the credentials")
                        .with_basic_challenge(true),
                );
            }
            (id, Some(secret))
        }
        (None, secret) => {
            let id = form_id
                .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
            (id.to_owned(), secret.map(str::to_owned))
        }
    };
    let unknown = || {
        OAuthError::invalid_client("client authentication failed").with_basic_challenge(used_basic)
    };
    let client = match state.lookup_client(&client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(unknown()),
        Err(crate::state::ClientLookupError::Store(e)) => return Err(e.into()),
        Err(crate::state::ClientLookupError::Cimd(e)) => {
            return Err(OAuthError::invalid_client(format!(
                "the client metadata document cannot be used: {e}"
            ))
            .with_basic_challenge(used_basic))
        }
    };
    match (
        client.token_endpoint_auth_method,
        &client.client_secret_hash,
        secret,
    ) {
        (TokenEndpointAuthMethod::None, _, None) => Ok(client),
        (TokenEndpointAuthMethod::None, _, Some(_)) => Err(unknown()),
        (_, Some(hash), Some(secret)) if hash_matches(&secret, hash) => Ok(client),
        _ => Err(unknown()),
    }
}

/// The token-exchange client from configuration, as a client record: confidential, allowed
/// the token-exchange grant only, no redirect URIs (so it can never run an authorization).
pub fn exchange_client_record(
    exchange: &crate::config::ExchangeClientSettings,
    now: i64,
) -> ClientRecord {
    ClientRecord {
        client_id: exchange.client_id.clone(),
        client_name: Some("MCP server (token exchange)".into()),
        redirect_uris: Vec::new(),
        token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        client_secret_hash: Some(sha256_hex(exchange.client_secret.expose())),
        grant_types: vec![TOKEN_EXCHANGE_GRANT.to_owned()],
        response_types: Vec::new(),
        scope: None,
        client_uri: None,
        logo_uri: None,
        software_id: None,
        software_version: None,
        created_at: now,
        application_type: None,
    }
}

/// RFC 8693 grant type.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 8693 token type of access tokens.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

fn parse_basic(value: &str) -> Result<(String, String), OAuthError> {
    let bad = || {
        OAuthError::invalid_client("malformed HTTP Basic credentials").with_basic_challenge(true)
    };
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .ok_or_else(bad)?;
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before Base64.
    let unescape = |s: &str| -> Result<String, OAuthError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(&format!("v={s}")).map_err(|_| bad())?;
        pairs.into_iter().next().map(|(_, v)| v).ok_or_else(bad)
    };
    Ok((unescape(id)?, unescape(secret)?))
}

/// Splits a code or refresh token `<grant id>.<secret>` into the grant id and the hash the
/// store keys on. Anything else is not ours.
pub fn split_grant_token(token: &str) -> Option<(&str, String)> {
    let (grant_id, secret) = token.split_once('.')?;
    let well_formed = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (well_formed(grant_id) && well_formed(secret)).then(|| (grant_id, sha256_hex(token)))
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
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20client:p%40ss%3Aword"));
        assert_eq!(
            parse_basic(&header).unwrap(),
            ("my client".into(), "p@ss:word".into())
        );
        assert!(parse_basic("Bearer abc").is_err());
        assert!(parse_basic("Basic !!!").is_err());
        assert!(parse_basic(&format!("Basic {}", STANDARD.encode("nocolon"))).is_err());
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(parse_form(b"a=1&b=2").is_ok());
        let err = parse_form(b"code=1&code=2").unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidRequest);
    }

    #[test]
    fn grant_tokens_split_only_when_well_formed() {
        let (gid, hash) = split_grant_token("abc_DEF-1.s3cret").unwrap();
        assert_eq!(gid, "abc_DEF-1");
        assert_eq!(hash, sha256_hex("abc_DEF-1.s3cret"));
        for bad in ["", "nodot", ".x", "x.", "a.b.c", "a b.c", "eyJ.eyJ.sig"] {
            assert!(split_grant_token(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn client_redirect_appends_to_existing_query_and_encodes() {
        let resp = redirect_to_client(
            "https://app.example/cb?x=1",
            &[("code", "a b&c"), ("state", "s")],
            false,
        );
        assert_eq!(resp.status(), 302);
        let loc = resp.headers().get("location").unwrap().to_str().unwrap();
        assert_eq!(loc, "https://app.example/cb?x=1&code=a+b%26c&state=s");
    }
}
