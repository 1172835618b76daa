//! Dynamic client registration (RFC 7591). Metadata is validated field by field; errors use
//! the RFC 7591 codes `invalid_redirect_uri` and `invalid_client_metadata`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use mcp_shared::{OAuthErrorCode, Scope, ScopeSet};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::crypto::{random_token, sha256_hex};
use crate::error::OAuthError;
use crate::redirect::validate_for_registration;
use crate::state::{AppState, Limited};
use crate::store::{ClientRecord, TokenEndpointAuthMethod};

const MAX_REDIRECT_URIS: usize = 10;
const MAX_TEXT: usize = 200;
const MAX_URI: usize = 2000;

/// The members we understand. Unknown members are ignored (RFC 7591 §2), but the ones we do
/// read must have the right type.
#[derive(Debug, Deserialize)]
struct Metadata {
    redirect_uris: Option<Vec<String>>,
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

pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    state.check_rate_limit(Limited::Register, &req).await?;
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
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| metadata_error("the request body is not valid JSON"))?;
    if !value.is_object() {
        return Err(metadata_error("client metadata must be a JSON object"));
    }
    let meta: Metadata = serde_json::from_value(value).map_err(|e| {
        metadata_error(format!(
            "client metadata has a member of the wrong type: {e}"
        ))
    })?;

    let redirect_uris = meta.redirect_uris.unwrap_or_default();
    if redirect_uris.is_empty() {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRedirectUri,
            "redirect_uris is required",
        ));
    }
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRedirectUri,
            format!("at most {MAX_REDIRECT_URIS} redirect_uris"),
        ));
    }
    for uri in &redirect_uris {
        if uri.len() > MAX_URI {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRedirectUri,
                "redirect URI too long",
            ));
        }
        validate_for_registration(uri)
            .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidRedirectUri, e.to_string()))?;
    }

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

    let now = state.clock.now();
    let (secret, secret_hash) = if method == TokenEndpointAuthMethod::None {
        (None, None)
    } else {
        let secret = random_token(32);
        let hash = sha256_hex(&secret);
        (Some(secret), Some(hash))
    };
    let client = ClientRecord {
        client_id: random_token(24),
        client_name: optional_text("client_name", meta.client_name)?,
        redirect_uris,
        token_endpoint_auth_method: method,
        client_secret_hash: secret_hash,
        grant_types,
        response_types,
        scope,
        client_uri: optional_https_uri("client_uri", meta.client_uri)?,
        logo_uri: optional_https_uri("logo_uri", meta.logo_uri)?,
        software_id: optional_text("software_id", meta.software_id)?,
        software_version: optional_text("software_version", meta.software_version)?,
        created_at: now,
    };
    state
        .store
        .put_client(&client)
        .await
        .map_err(|e| state.store_error(e))?;
    state.metrics.clients_registered.inc();
    tracing::info!(target: "audit", client_id = %client.client_id, auth_method = method.as_str(), "client registered");

    let mut body = serde_json::Map::new();
    body.insert("client_id".into(), json!(client.client_id));
    body.insert("client_id_issued_at".into(), json!(now));
    body.insert("redirect_uris".into(), json!(client.redirect_uris));
    body.insert("token_endpoint_auth_method".into(), json!(method.as_str()));
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
    Ok(HttpResponse::build(StatusCode::CREATED)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((actix_web::http::header::PRAGMA, "no-cache"))
        .json(body))
}
