//! Dynamic client registration (RFC 7591). Metadata is validated field by field; errors use
//! the RFC 7591 codes `invalid_redirect_uri` and `invalid_client_metadata`.
//!
//! Public clients are deduplicated: the same normalized metadata yields the same `client_id`
//! (many MCP clients register again on every start), through a fingerprint the store maps to
//! the client atomically across replicas. That hands nobody anything new: a public client id
//! is no secret, and the redirect URIs, which decide where codes go, are part of the
//! fingerprint. Confidential clients always get a new client and secret. Registrations expire
//! after `AUTH_PROXY_CLIENT_IDLE_TTL_SECS` without tokens being issued to them; new ones also
//! count against a quota shared by all IPs (`AUTH_PROXY_RATE_LIMIT_REGISTER_GLOBAL`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use mcp_shared::{OAuthErrorCode, Scope, ScopeSet};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::crypto::{random_token, sha256_hex};
use crate::error::OAuthError;
use crate::redirect::validate_for_registration;
use crate::state::{AppState, Limited};
use crate::store::{ClientPut, ClientRecord, TokenEndpointAuthMethod};

const MAX_REDIRECT_URIS: usize = 10;
const MAX_TEXT: usize = 200;
const MAX_URI: usize = 2000;

/// The members we understand. Unknown members are ignored (RFC 7591 §2), but the ones we do
/// read must have the right type.
#[derive(Debug, Deserialize)]
struct Metadata {
    redirect_uris: Option<Vec<String>>,
    application_type: Option<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    scope: Option<String>,
    software_id: Option<String>,
    software_version: Option<String>,
}

fn metadata_error(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidClientMetadata, description)
}

fn optional_text(name: &str, value: Option<String>) -> Result<Option<String>, OAuthError> {
    match value {
        Some(v) if v.chars().count() > MAX_TEXT || v.chars().any(char::is_control) => {
            Err(metadata_error(format!(
                "{name} must be at most {MAX_TEXT} printable characters"
            )))
        }
        Some(v) if v.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn optional_https_uri(name: &str, value: Option<String>) -> Result<Option<String>, OAuthError> {
    match value {
        None => Ok(None),
        Some(v) => {
            let ok = v.len() <= MAX_URI
                && url::Url::parse(&v)
                    .map(|u| {
                        u.scheme() == "https" && u.username().is_empty() && u.password().is_none()
                    })
                    .unwrap_or(false);
            if ok {
                Ok(Some(v))
            } else {
                Err(metadata_error(format!("{name} must be an https URL")))
            }
        }
    }
}

/// OpenID Connect Dynamic Registration's `application_type`, which RFC 7591 clients may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum ApplicationType {
    /// https redirect URIs only.
    Web,
    /// Loopback http, private-use schemes or https (what registration allows anyway).
    Native,
}

impl ApplicationType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }
}

/// Checks the redirect URIs against a given `application_type`. Absent (most MCP clients send
/// none), the registration rules alone apply and the effective type is `web` when every URI is
/// https, `native` otherwise.
fn application_type(
    given: Option<&str>,
    redirect_uris: &[url::Url],
) -> Result<ApplicationType, OAuthError> {
    let first_not_https = redirect_uris.iter().position(|u| u.scheme() != "https");
    match given {
        None if first_not_https.is_none() => Ok(ApplicationType::Web),
        None => Ok(ApplicationType::Native),
        Some("web") => match first_not_https {
            None => Ok(ApplicationType::Web),
            Some(i) => Err(OAuthError::new(
                OAuthErrorCode::InvalidRedirectUri,
                format!(
                    "redirect_uris[{i}]: application_type web allows https redirect URIs only \
                     (no loopback http, no custom schemes); register a desktop or CLI app as \
                     native"
                ),
            )),
        },
        // `validate_for_registration` admits exactly what RFC 8252 allows native apps.
        Some("native") => Ok(ApplicationType::Native),
        Some(other) => Err(metadata_error(format!(
            "application_type `{}` is not supported (web, native)",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

/// Client metadata after validation: what a new client record is made of.
#[derive(Debug)]
struct Registration {
    redirect_uris: Vec<String>,
    application_type: ApplicationType,
    method: TokenEndpointAuthMethod,
    grant_types: Vec<String>,
    response_types: Vec<String>,
    client_name: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    scope: Option<String>,
    software_id: Option<String>,
    software_version: Option<String>,
}

/// What defines a public client, in a fixed order with lists sorted and duplicates dropped:
/// two registrations with equal canonical forms are the same client. Versioned so a future change of the form cannot
/// collide with fingerprints already stored.
#[derive(Serialize)]
struct Canonical<'a> {
    v: u8,
    redirect_uris: Vec<&'a str>,
    application_type: ApplicationType,
    token_endpoint_auth_method: &'static str,
    grant_types: Vec<&'a str>,
    response_types: Vec<&'a str>,
    client_name: Option<&'a str>,
    client_uri: Option<&'a str>,
    logo_uri: Option<&'a str>,
    scope: Option<&'a str>,
    software_id: Option<&'a str>,
    software_version: Option<&'a str>,
}

fn sorted(items: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = items.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    v
}

impl Registration {
    fn validate(meta: Metadata) -> Result<Self, OAuthError> {
        let redirect_uris = meta.redirect_uris.ok_or_else(|| {
            OAuthError::new(
                OAuthErrorCode::InvalidRedirectUri,
                "redirect_uris is required",
            )
        })?;
        if redirect_uris.is_empty() || redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRedirectUri,
                format!("redirect_uris must list 1 to {MAX_REDIRECT_URIS} URIs"),
            ));
        }
        let mut parsed = Vec::with_capacity(redirect_uris.len());
        for (i, uri) in redirect_uris.iter().enumerate() {
            if uri.len() > MAX_URI {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidRedirectUri,
                    format!("redirect_uris[{i}] is longer than {MAX_URI} characters"),
                ));
            }
            parsed.push(validate_for_registration(uri).map_err(|e| {
                OAuthError::new(
                    OAuthErrorCode::InvalidRedirectUri,
                    format!("redirect_uris[{i}]: {e}"),
                )
            })?);
        }
        let application_type = application_type(meta.application_type.as_deref(), &parsed)?;

        let method = match meta.token_endpoint_auth_method.as_deref().unwrap_or("none") {
            "none" => TokenEndpointAuthMethod::None,
            "client_secret_post" => TokenEndpointAuthMethod::ClientSecretPost,
            "client_secret_basic" => TokenEndpointAuthMethod::ClientSecretBasic,
            other => {
                return Err(metadata_error(format!(
                    "token_endpoint_auth_method `{}` is not supported (none, client_secret_post, client_secret_basic)",
                    other.chars().take(40).collect::<String>()
                )))
            }
        };

        let grant_types = meta
            .grant_types
            .unwrap_or_else(|| vec!["authorization_code".into()]);
        if let Some(bad) = grant_types
            .iter()
            .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
        {
            return Err(metadata_error(format!(
                "grant type `{}` is not supported (authorization_code, refresh_token)",
                bad.chars().take(60).collect::<String>()
            )));
        }
        if !grant_types.iter().any(|g| g == "authorization_code") {
            return Err(metadata_error(
                "grant_types must include authorization_code",
            ));
        }
        let response_types = meta.response_types.unwrap_or_else(|| vec!["code".into()]);
        if response_types.iter().any(|r| r != "code") || response_types.is_empty() {
            return Err(metadata_error("response_types must be [\"code\"]"));
        }

        // RFC 7591 §2 lets the server restrict the registered scope: keep the ones we know.
        let scope = meta.scope.and_then(|s| {
            let known: ScopeSet = s
                .split(' ')
                .filter_map(|t| t.parse::<Scope>().ok())
                .collect();
            (!known.is_empty()).then(|| known.to_string())
        });

        Ok(Self {
            redirect_uris,
            application_type,
            method,
            grant_types,
            response_types,
            scope,
            client_name: optional_text("client_name", meta.client_name)?,
            client_uri: optional_https_uri("client_uri", meta.client_uri)?,
            logo_uri: optional_https_uri("logo_uri", meta.logo_uri)?,
            software_id: optional_text("software_id", meta.software_id)?,
            software_version: optional_text("software_version", meta.software_version)?,
        })
    }

    /// SHA-256 hex of the canonical metadata.
    fn fingerprint(&self) -> Result<String, OAuthError> {
        let canonical = Canonical {
            v: 1,
            redirect_uris: sorted(&self.redirect_uris),
            application_type: self.application_type,
            token_endpoint_auth_method: self.method.as_str(),
            grant_types: sorted(&self.grant_types),
            response_types: sorted(&self.response_types),
            client_name: self.client_name.as_deref(),
            client_uri: self.client_uri.as_deref(),
            logo_uri: self.logo_uri.as_deref(),
            scope: self.scope.as_deref(),
            software_id: self.software_id.as_deref(),
            software_version: self.software_version.as_deref(),
        };
        let json = serde_json::to_string(&canonical).map_err(|e| OAuthError::server_error(&e))?;
        Ok(sha256_hex(&json))
    }

    fn into_record(self, secret_hash: Option<String>, now: i64) -> ClientRecord {
        ClientRecord {
            client_id: random_token(24),
            client_name: self.client_name,
            redirect_uris: self.redirect_uris,
            token_endpoint_auth_method: self.method,
            client_secret_hash: secret_hash,
            grant_types: self.grant_types,
            response_types: self.response_types,
            scope: self.scope,
            client_uri: self.client_uri,
            logo_uri: self.logo_uri,
            software_id: self.software_id,
            software_version: self.software_version,
            created_at: now,
            application_type: Some(self.application_type.as_str().to_owned()),
        }
    }
}

fn parse_metadata(req: &HttpRequest, body: &[u8]) -> Result<Metadata, OAuthError> {
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
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    state.check_rate_limit(Limited::Register, &req).await?;
    let registration = Registration::validate(parse_metadata(&req, &body)?)?;
    let application_type = registration.application_type;
    let idle_ttl = state.config.client_idle_ttl;
    let now = state.clock.now();

    if registration.method != TokenEndpointAuthMethod::None {
        // Confidential: never deduplicated, a new secret every time, stored only hashed.
        state.check_registration_quota().await?;
        let secret = random_token(32);
        let client = registration.into_record(Some(sha256_hex(&secret)), now);
        state
            .store
            .put_client(&client, idle_ttl)
            .await
            .map_err(|e| state.store_error(e))?;
        registered(&state, &client);
        return Ok(response(&client, application_type, Some(secret)));
    }

    let fingerprint = registration.fingerprint()?;
    // A repeat creates nothing, so it does not count against the global quota (the per-IP
    // limit above still counts it).
    let existing = state
        .store
        .find_client_by_fingerprint(&fingerprint)
        .await
        .map_err(|e| state.store_error(e))?;
    if let Some(existing) = existing {
        return Ok(repeated(&state, &existing, application_type).await);
    }
    state.check_registration_quota().await?;
    let client = registration.into_record(None, now);
    let put = state
        .store
        .put_client_deduplicated(&fingerprint, &client, idle_ttl)
        .await
        .map_err(|e| state.store_error(e))?;
    match put {
        ClientPut::Created => {
            registered(&state, &client);
            Ok(response(&client, application_type, None))
        }
        // Another request (perhaps on another replica) registered the same metadata first.
        ClientPut::Existing(existing) => Ok(repeated(&state, &existing, application_type).await),
    }
}

fn registered(state: &AppState, client: &ClientRecord) {
    state.metrics.clients_registered.inc();
    tracing::info!(target: "audit", client_id = %client.client_id, auth_method = client.token_endpoint_auth_method.as_str(), "client registered");
}

/// The answer to a registration identical to an existing one: that client, whose idle
/// lifetime starts over (a client registering again is in use).
async fn repeated(
    state: &AppState,
    existing: &ClientRecord,
    application_type: ApplicationType,
) -> HttpResponse {
    state.keep_client_alive(&existing.client_id).await;
    tracing::info!(target: "audit", client_id = %existing.client_id, "client registration repeated: existing client returned");
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
    let optional = [
        ("client_name", &client.client_name),
        ("client_uri", &client.client_uri),
        ("logo_uri", &client.logo_uri),
        ("scope", &client.scope),
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

    fn registration(meta: Value) -> Result<Registration, OAuthError> {
        Registration::validate(serde_json::from_value(meta).unwrap())
    }

    fn fingerprint(meta: Value) -> String {
        registration(meta).unwrap().fingerprint().unwrap()
    }

    #[test]
    fn fingerprint_ignores_order_and_defaults_but_not_content() {
        let base = json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X"});
        let same = [
            json!({"redirect_uris": ["http://127.0.0.1/b", "http://127.0.0.1/a"], "client_name": "X"}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X", "grant_types": ["authorization_code"], "response_types": ["code"], "token_endpoint_auth_method": "none"}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X", "application_type": "native"}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X", "scope": "bogus", "unknown_member": 1}),
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
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X", "software_id": "s"}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X", "software_version": "1"}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X", "client_uri": "https://x.example"}),
            json!({"redirect_uris": ["http://127.0.0.1/a", "http://127.0.0.1/b"], "client_name": "X", "logo_uri": "https://x.example/l.png"}),
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
