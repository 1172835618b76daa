//! Dynamic client registration (RFC 7591). Metadata is validated by the one client metadata
//! validator under the [`DCR`] policy (`crate::clients::metadata`); errors use the RFC 7591
//! codes `invalid_redirect_uri` and `invalid_client_metadata`.
//!
//! Public clients are deduplicated: the same normalized metadata yields the same `client_id`
//! (many MCP clients register again on every start), through a fingerprint the store maps to
//! the client atomically across replicas. That hands nobody anything new: a public client id
//! is no secret, and the redirect URIs, which decide where codes go, are part of the
//! fingerprint. Confidential clients always get a new client and secret. New ones count
//! against a quota shared by all IPs (`AUTH_PROXY_RATE_LIMIT_REGISTER_GLOBAL`).
//!
//! Anyone may register, so what a registration costs is bounded (ADR 0014): a client to which
//! no token was ever issued is forgotten after `AUTH_PROXY_CLIENT_UNUSED_TTL_SECS` (a day), one
//! in use after `AUTH_PROXY_CLIENT_IDLE_TTL_SECS` without tokens; only the members something
//! reads are stored, with duplicates dropped and the redirect URIs bounded together; and web
//! pages cannot register at all (browser-based clients from loopback origins, extensions and
//! desktop apps can).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use mcp_shared::OAuthErrorCode;
use serde::Serialize;
use serde_json::{json, Value};
use url::{Host, Url};

use crate::clients::metadata::{
    ClientMetadata, MetadataError, MetadataErrorKind, ValidMetadata, DCR,
};
#[cfg(test)]
use crate::clients::GrantType;
use crate::clients::{ApplicationType, ClientRecord, TokenEndpointAuthMethod};
use crate::crypto::{random_token, sha256_hex};
use crate::error::OAuthError;
use crate::ids::ClientId;
use crate::state::{AppState, Limited};
use crate::store::ClientPut;

/// The redirect URIs of one registration together, in bytes: every registered client is stored
/// for anyone who asks, so ten URIs of the 2000 bytes one may have would make it ten times the
/// size any real client needs.
const MAX_REDIRECT_URI_BYTES: usize = 2048;

fn metadata_error(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidClientMetadata, description)
}

/// The validator's verdict as RFC 7591 errors.
fn registration_error(e: MetadataError) -> OAuthError {
    let code = match e.kind {
        MetadataErrorKind::RedirectUri => OAuthErrorCode::InvalidRedirectUri,
        MetadataErrorKind::Other => OAuthErrorCode::InvalidClientMetadata,
    };
    OAuthError::new(code, e.message)
}

/// What defines a public client, in a fixed order with lists sorted and duplicates dropped:
/// two registrations with equal canonical forms are the same client. Versioned so a future
/// change of the form cannot collide with fingerprints already stored. Registration keeps no
/// `client_uri`, `logo_uri`, `software_id` or `software_version` (see [`kept`]), so they are
/// always null here; they stay in the form so that fingerprints stored before that still match.
#[derive(Serialize)]
struct Canonical<'a> {
    v: u8,
    redirect_uris: Vec<&'a str>,
    application_type: &'static str,
    token_endpoint_auth_method: &'static str,
    grant_types: Vec<&'static str>,
    response_types: Vec<&'static str>,
    client_name: Option<&'a str>,
    client_uri: Option<&'a str>,
    logo_uri: Option<&'a str>,
    scope: Option<String>,
    software_id: Option<&'a str>,
    software_version: Option<&'a str>,
}

fn sorted<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = items.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// SHA-256 hex of the canonical metadata.
fn fingerprint(m: &ValidMetadata) -> Result<String, OAuthError> {
    let canonical = Canonical {
        v: 1,
        redirect_uris: sorted(m.redirect_uris.iter().map(String::as_str)),
        application_type: m.application_type.as_str(),
        token_endpoint_auth_method: m.token_endpoint_auth_method.as_str(),
        grant_types: sorted(m.grant_types.iter().map(|g| g.as_str())),
        response_types: sorted(m.response_types.iter().map(|r| r.as_str())),
        client_name: m.client_name.as_deref(),
        client_uri: m.client_uri.as_deref(),
        logo_uri: m.logo_uri.as_deref(),
        scope: m.scope.as_ref().map(ToString::to_string),
        software_id: m.software_id.as_deref(),
        software_version: m.software_version.as_deref(),
    };
    let json = serde_json::to_string(&canonical).map_err(|e| OAuthError::server_error(&e))?;
    Ok(sha256_hex(&json))
}

fn validate(meta: ClientMetadata) -> Result<ValidMetadata, OAuthError> {
    meta.validate(&DCR)
        .map_err(registration_error)
        .and_then(kept)
}

/// Drops duplicates in order.
fn unique<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// What registration keeps of valid metadata: lists without duplicates, the redirect URIs
/// within [`MAX_REDIRECT_URI_BYTES`], and none of the members nothing reads (they are not
/// answered either: RFC 7591 §3.2.1 answers with what was registered).
fn kept(mut m: ValidMetadata) -> Result<ValidMetadata, OAuthError> {
    m.redirect_uris = unique(m.redirect_uris);
    let total: usize = m.redirect_uris.iter().map(String::len).sum();
    if total > MAX_REDIRECT_URI_BYTES {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRedirectUri,
            format!("redirect_uris must be at most {MAX_REDIRECT_URI_BYTES} bytes together"),
        ));
    }
    m.grant_types = unique(m.grant_types);
    m.response_types = unique(m.response_types);
    m.client_uri = None;
    m.logo_uri = None;
    m.software_id = None;
    m.software_version = None;
    Ok(m)
}

/// Whether a request with this `Origin` may register. Absent, it comes from no browser. Web
/// pages (an http(s) origin, or the opaque `null` of sandboxed frames and `data:` documents)
/// may not: any page could otherwise make every visitor's browser register clients, from as
/// many IPs as it has visitors. Loopback origins (a local browser-based client such as the
/// MCP Inspector, `*.localhost` included) and this server's own origin may; so may other
/// schemes, which only installed software has (browser extensions, desktop apps).
fn origin_may_register(origin: &str, issuer: &str) -> bool {
    let Ok(url) = Url::parse(origin) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") {
        return true;
    }
    let loopback = match url.host() {
        Some(Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    loopback || Url::parse(issuer).is_ok_and(|i| i.origin() == url.origin())
}

fn check_origin(state: &AppState, req: &HttpRequest) -> Result<(), OAuthError> {
    let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("");
    if origin_may_register(origin, &state.config.issuer) {
        return Ok(());
    }
    let shown: String = origin.chars().take(100).collect();
    tracing::info!(origin = %shown, "registration from a web page refused");
    Err(OAuthError::new(
        OAuthErrorCode::AccessDenied,
        "web pages cannot register clients here: use a Client ID Metadata Document or a client the operator pre-registered",
    ))
}

fn parse_metadata(req: &HttpRequest, body: &[u8]) -> Result<ClientMetadata, OAuthError> {
    let is_json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
    if !is_json {
        return Err(OAuthError::invalid_request(
            "Content-Type must be application/json",
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| metadata_error("the request body is not valid JSON"))?;
    if !value.is_object() {
        return Err(metadata_error("client metadata must be a JSON object"));
    }
    serde_json::from_value(value).map_err(|e| {
        metadata_error(format!(
            "client metadata has a member of the wrong type: {e}"
        ))
    })
}

pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::Body,
) -> Result<HttpResponse, OAuthError> {
    state.check_rate_limit(Limited::Register, &req).await?;
    check_origin(&state, &req)?;
    let registration = validate(parse_metadata(&req, &body)?)?;
    let application_type = registration.application_type;
    // Until a token is issued to it (`ClientRegistry::keep_alive` then gives it the idle TTL).
    let unused_ttl = state
        .config
        .client_unused_ttl
        .min(state.config.client_idle_ttl);
    let now = state.clock.now();

    if registration.token_endpoint_auth_method != TokenEndpointAuthMethod::None {
        // Confidential: never deduplicated, a new secret every time, stored only hashed.
        state.check_registration_quota().await?;
        let secret = random_token(32);
        let client = registration.into_record(ClientId::generate(), Some(sha256_hex(&secret)), now);
        state
            .store
            .put_client(&client, unused_ttl)
            .await
            .map_err(|e| state.store_error(e))?;
        registered(&state, &client);
        return Ok(response(&client, application_type, Some(secret)));
    }

    let fingerprint = fingerprint(&registration)?;
    // A repeat creates nothing, so it does not count against the global quota (the per-IP
    // limit above still counts it).
    let existing = state
        .store
        .find_client_by_fingerprint(&fingerprint)
        .await
        .map_err(|e| state.store_error(e))?;
    if let Some(existing) = existing {
        return Ok(repeated(&state, &existing, application_type, unused_ttl).await);
    }
    state.check_registration_quota().await?;
    let client = registration.into_record(ClientId::generate(), None, now);
    let put = state
        .store
        .put_client_deduplicated(&fingerprint, &client, unused_ttl)
        .await
        .map_err(|e| state.store_error(e))?;
    match put {
        ClientPut::Created => {
            registered(&state, &client);
            Ok(response(&client, application_type, None))
        }
        // Another request (perhaps on another replica) registered the same metadata first.
        ClientPut::Existing(existing) => {
            Ok(repeated(&state, &existing, application_type, unused_ttl).await)
        }
    }
}

fn registered(state: &AppState, client: &ClientRecord) {
    state.metrics.clients_registered.inc();
    crate::audit::event("client.registered", "ok")
        .client(client.client_id.as_str())
        .detail(client.token_endpoint_auth_method.as_str())
        .info("client registered");
}

/// The answer to a registration identical to an existing one: that client, kept for at least
/// `unused_ttl` from now (it may be about to be used) but never longer because of repeats
/// alone: only issued tokens earn a client the idle lifetime, or anyone could keep
/// registrations nobody uses for a month. A store failure is counted and logged: the client
/// exists.
async fn repeated(
    state: &AppState,
    existing: &ClientRecord,
    application_type: ApplicationType,
    unused_ttl: std::time::Duration,
) -> HttpResponse {
    if let Err(e) = state
        .store
        .extend_client(&existing.client_id, unused_ttl)
        .await
    {
        state.metrics.store_errors.inc();
        tracing::warn!(error = %e, client_id = %existing.client_id, "could not extend the client registration");
    }
    crate::audit::event("client.registered", "ok")
        .reason("repeated")
        .client(existing.client_id.as_str())
        .info("client registration repeated: existing client returned");
    response(existing, application_type, None)
}

fn response(
    client: &ClientRecord,
    application_type: ApplicationType,
    secret: Option<String>,
) -> HttpResponse {
    let mut body = serde_json::Map::new();
    body.insert("client_id".into(), json!(client.client_id));
    body.insert("client_id_issued_at".into(), json!(client.created_at));
    body.insert("redirect_uris".into(), json!(client.redirect_uris));
    body.insert("application_type".into(), json!(application_type.as_str()));
    body.insert(
        "token_endpoint_auth_method".into(),
        json!(client.token_endpoint_auth_method.as_str()),
    );
    body.insert("grant_types".into(), json!(client.grant_types));
    body.insert("response_types".into(), json!(client.response_types));
    let scope = client.scope.as_ref().map(ToString::to_string);
    let optional = [
        ("client_name", &client.client_name),
        ("client_uri", &client.client_uri),
        ("logo_uri", &client.logo_uri),
        ("scope", &scope),
        ("software_id", &client.software_id),
        ("software_version", &client.software_version),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            body.insert(k.into(), json!(v));
        }
    }
    if let Some(secret) = secret {
        body.insert("client_secret".into(), json!(secret));
        body.insert("client_secret_expires_at".into(), json!(0));
    }
    HttpResponse::build(StatusCode::CREATED)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((actix_web::http::header::PRAGMA, "no-cache"))
        .json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(meta: Value) -> Result<ValidMetadata, OAuthError> {
        validate(serde_json::from_value(meta).unwrap())
    }

    fn fingerprint(meta: Value) -> String {
        super::fingerprint(&registration(meta).unwrap()).unwrap()
    }

    #[test]
    fn fingerprint_ignores_order_and_defaults_but_not_content() {
        let base = json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X"});
        let same = [
            json!({"redirect_uris": ["http://127.0.0.1/b", "http://127.0.0.1/a"], "client_name": "X"}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X", "grant_types": ["authorization_code"], "response_types": ["code"], "token_endpoint_auth_method": "none"}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X", "application_type": "native"}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X", "scope": "bogus", "unknown_member": 1}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b", "http://127.0.0.1/a"], "client_name": "X"}),
            // Members registration does not keep.
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X", "software_id": "s", "software_version": "1"}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X", "client_uri": "https://x.example", "logo_uri": "https://x.example/l.png"}),
        ];
        for meta in same {
            assert_eq!(
                fingerprint(meta.clone()),
                fingerprint(base.clone()),
                "{meta}"
            );
        }
        let different = [
            json!({"redirect_uris": ["http://127.0.0.1/a"], "client_name": "X"}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "Y"}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"]}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X", "grant_types": ["authorization_code", "refresh_token"]}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X", "scope": "notes:read"}),
        ];
        for meta in different {
            assert_ne!(
                fingerprint(meta.clone()),
                fingerprint(base.clone()),
                "{meta}"
            );
        }
        assert_eq!(fingerprint(base).len(), 64);
    }

    #[test]
    fn fingerprints_of_registrations_without_dropped_members_are_unchanged() {
        // The v1 form as it was computed before registration stopped keeping members: the
        // clients behind such fingerprints are still found.
        let meta = json!({"redirect_uris": ["http://127.0.0.1/cb"], "client_name": "X", "grant_types": ["authorization_code", "refresh_token"]});
        let before = sha256_hex(
            r#"{"v":1,"redirect_uris":["http://127.0.0.1/cb"],"application_type":"native","token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"response_types":["code"],"client_name":"X","client_uri":null,"logo_uri":null,"scope":null,"software_id":null,"software_version":null}"#,
        );
        assert_eq!(fingerprint(meta), before);
    }

    #[test]
    fn registration_keeps_only_what_is_read() {
        let kept = registration(json!({
            "redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b", "http://127.0.0.1/a"],
            "grant_types": ["authorization_code", "refresh_token", "authorization_code"],
            "response_types": ["code", "code", "code"],
            "client_uri": "https://x.example", "logo_uri": "https://x.example/l.png",
            "software_id": "s", "software_version": "1",
        }))
        .unwrap();
        assert_eq!(
            kept.redirect_uris,
            ["http://127.0.0.1/a", "http://127.0.0.1/b"]
        );
        assert_eq!(
            kept.grant_types,
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(kept.response_types.len(), 1);
        assert_eq!(
            (
                kept.client_uri,
                kept.logo_uri,
                kept.software_id,
                kept.software_version
            ),
            (None, None, None, None)
        );
        // Two URIs (one may have 2000 bytes on its own) of `n` bytes together.
        let budget = |n: usize| {
            let uri =
                |i: usize, len: usize| format!("http://127.0.0.1/{i}{}", "p".repeat(len - 18));
            registration(json!({"redirect_uris": [uri(1, n / 2), uri(2, n - n / 2)]}))
        };
        assert!(budget(MAX_REDIRECT_URI_BYTES).is_ok());
        let err = budget(MAX_REDIRECT_URI_BYTES + 1).unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidRedirectUri);
    }

    #[test]
    fn only_web_pages_are_refused() {
        let issuer = "https://auth.example.com";
        for origin in [
            "https://evil.example",
            "http://evil.example:8080",
            "null",
            "",
            "not an origin",
            "https://localhost.evil.example",
            "http://127.0.0.1.nip.io",
            "https://auth.example.com:8443",
            "http://auth.example.com",
        ] {
            assert!(!origin_may_register(origin, issuer), "{origin}");
        }
        for origin in [
            "http://localhost:6274",
            "https://LOCALHOST",
            "http://tauri.localhost",
            "http://127.0.0.1:5173",
            "http://127.1.2.3",
            "http://[::1]:3000",
            "chrome-extension://abcdefghijklmnop",
            "moz-extension://0f1e2d3c",
            "vscode-file://vscode-app",
            "https://auth.example.com",
        ] {
            assert!(origin_may_register(origin, issuer), "{origin}");
        }
    }

    #[test]
    fn application_type_restricts_redirect_uris() {
        let effective = |meta: Value| registration(meta).map(|r| r.application_type);
        assert_eq!(
            effective(json!({"redirect_uris": ["https://app.example/cb"]})).unwrap(),
            ApplicationType::Web
        );
        assert_eq!(
            effective(json!({"redirect_uris": ["https://app.example/cb", "http://localhost/cb"]}))
                .unwrap(),
            ApplicationType::Native
        );
        assert_eq!(
            effective(json!({"redirect_uris": ["cursor://x/cb"]})).unwrap(),
            ApplicationType::Native
        );
        for uri in [
            "https://app.example/cb",
            "http://localhost:1234/cb",
            "http://127.0.0.1/cb",
            "http://[::1]/cb",
            "com.example.app:/oauth",
        ] {
            assert_eq!(
                effective(json!({"redirect_uris": [uri], "application_type": "native"})).unwrap(),
                ApplicationType::Native,
                "{uri}"
            );
        }
        for uri in [
            "http://localhost/cb",
            "http://127.0.0.1:9/cb",
            "cursor://x/cb",
        ] {
            let err = effective(
                json!({"redirect_uris": ["https://ok.example/cb", uri], "application_type": "web"}),
            )
            .unwrap_err();
            assert_eq!(err.code, OAuthErrorCode::InvalidRedirectUri, "{uri}");
            assert!(err.to_string().contains(": redirect_uris[1]"), "{err}");
        }
        for bad in [json!("Web"), json!("browser"), json!("")] {
            let err = effective(
                json!({"redirect_uris": ["https://a.example/cb"], "application_type": bad}),
            )
            .unwrap_err();
            assert_eq!(err.code, OAuthErrorCode::InvalidClientMetadata, "{bad}");
        }
    }
}
