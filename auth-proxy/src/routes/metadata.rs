//! RFC 8414 authorization-server metadata (also served at the OpenID discovery path, where some
//! clients look first) and the JWKS.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use mcp_shared::{paths, Scope};
use serde_json::json;

use crate::config::Config;
use crate::state::AppState;

/// Built once at start-up: it depends only on configuration.
pub fn metadata_document(config: &Config) -> serde_json::Value {
    let scopes: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    let mut auth_methods = vec!["none", "client_secret_post", "client_secret_basic"];
    // Only metadata documents can hold the keys private_key_jwt needs.
    let private_key_jwt = config.cimd.enabled && config.cimd.private_key_jwt;
    if private_key_jwt {
        auth_methods.push("private_key_jwt");
    }
    let signing_algs: Vec<&str> = config
        .client_assertion
        .algs
        .iter()
        .map(|a| crate::jose::alg_name(*a))
        .collect();
    let mut grant_types = vec!["authorization_code", "refresh_token"];
    if config.exchange_client.is_some() {
        grant_types.push(super::TOKEN_EXCHANGE_GRANT);
    }
    // ID-JAG §6: the profile is listed only with the grant type; the issuers never are.
    let idjag = config.idjag.issuers_file.is_some();
    if idjag {
        grant_types.push(crate::oauth::token::JWT_BEARER_GRANT);
    }
    let mut document = json!({
        "issuer": config.issuer,
        "authorization_endpoint": config.endpoint(paths::AUTHORIZE),
        "token_endpoint": config.endpoint(paths::TOKEN),
        "registration_endpoint": config.endpoint(paths::REGISTER),
        "revocation_endpoint": config.endpoint(paths::REVOKE),
        "jwks_uri": config.endpoint(paths::JWKS),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grant_types,
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": config.cimd.enabled,
    });
    // RFC 8414 §2: required whenever private_key_jwt is advertised.
    if private_key_jwt {
        for name in [
            "token_endpoint_auth_signing_alg_values_supported",
            "revocation_endpoint_auth_signing_alg_values_supported",
        ] {
            document[name] = json!(signing_algs);
        }
    }
    if idjag {
        document["authorization_grant_profiles_supported"] = json!([crate::oauth::idjag::PROFILE]);
    }
    document
}

pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(state.metadata_json.to_string())
}

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(state.keys.jwks_json().to_owned())
}
