//! mcp-server placeholder. Until the MCP tools land (issue "mcp-server: stateless MCP resource
//! server…"), this serves what an MCP client needs to *find* the auth-proxy: the RFC 9728
//! protected-resource metadata and a spec-shaped 401 challenge on `/mcp`. It answers requests
//! that carry a token with a JSON-RPC error saying that tools are not available yet; it does not
//! validate tokens, so it must not front real data.

use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use mcp_shared::{paths, Scope};
use serde_json::json;

struct Settings {
    /// Canonical resource URI of this server (`…/mcp`).
    resource: String,
    /// The auth-proxy's issuer.
    authorization_server: String,
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn data_scopes() -> Vec<&'static str> {
    Scope::ALL
        .iter()
        .filter(|s| !s.is_identity())
        .map(|s| s.as_str())
        .collect()
}

async fn protected_resource_metadata(settings: web::Data<Settings>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(json!({
            "resource": settings.resource,
            "authorization_servers": [settings.authorization_server],
            "scopes_supported": data_scopes(),
            "bearer_methods_supported": ["header"],
            "resource_name": "Nextcloud MCP server",
        }))
}

async fn mcp(settings: web::Data<Settings>, req: HttpRequest) -> HttpResponse {
    if req.headers().get(header::AUTHORIZATION).is_none() {
        let metadata_url = match url::Url::parse(&settings.resource) {
            Ok(u) => format!(
                "{}{}{}",
                u.origin().ascii_serialization(),
                paths::PROTECTED_RESOURCE_METADATA,
                u.path()
            ),
            Err(_) => String::new(),
        };
        return HttpResponse::Unauthorized()
            .insert_header((
                header::WWW_AUTHENTICATE,
                format!(
                    "Bearer resource_metadata=\"{metadata_url}\", scope=\"{}\"",
                    data_scopes().join(" ")
                ),
            ))
            .finish();
    }
    HttpResponse::Ok().json(json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32601, "message": "this mcp-server build has no tools yet"}
    }))
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let bind = env("MCP_SERVER_BIND", "127.0.0.1:8000");
    let resource = env("MCP_SERVER_RESOURCE", "http://127.0.0.1:8000/mcp");
    let authorization_server = env("MCP_SERVER_AUTHORIZATION_SERVER", "http://127.0.0.1:8080");
    let path_suffixed = format!(
        "{}{}",
        paths::PROTECTED_RESOURCE_METADATA,
        url::Url::parse(&resource)
            .map(|u| u.path().to_owned())
            .unwrap_or_default()
    );
    let settings = web::Data::new(Settings {
        resource,
        authorization_server,
    });
    println!("mcp-server (placeholder) listening on {bind}");
    HttpServer::new(move || {
        App::new()
            .app_data(settings.clone())
            .route(
                paths::PROTECTED_RESOURCE_METADATA,
                web::get().to(protected_resource_metadata),
            )
            .route(&path_suffixed, web::get().to(protected_resource_metadata))
            .route(paths::MCP, web::route().to(mcp))
            .route(
                paths::HEALTHZ,
                web::get().to(|| async { HttpResponse::Ok().json(json!({"status": "ok"})) }),
            )
    })
    .bind(bind)?
    .run()
    .await?;
    Ok(())
}
