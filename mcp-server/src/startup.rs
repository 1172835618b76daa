//! Wiring: configuration → JWKS cache, exchange client, Nextcloud client → actix-web app with
//! `/mcp` (rmcp streamable HTTP, stateless, JSON responses) behind the bearer guard, RFC 9728
//! metadata, health endpoints, and a separate metrics listener.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpMessage, HttpRequest, HttpResponse, HttpServer};
use anyhow::Context;
use mcp_shared::claims::CLOCK_SKEW_LEEWAY_SECS;
use mcp_shared::ops::cli::serve_until_stopped;
use mcp_shared::ops::metrics;
use mcp_shared::ops::telemetry::observe;
use mcp_shared::paths;
use rmcp_actix_web::transport::{LocalSessionManager, StreamableHttpService};
use serde_json::json;

use crate::auth::cache::CachedVerifier;
use crate::auth::guard::{guard, Guard, GuardMode};
use crate::auth::{all_data_scopes, JwksCache, Principal, Verifier};
use crate::config::{Config, Mode};
use crate::exchange::ExchangeClient;
use crate::listing::{ListingSlot, Listings};
use crate::metrics::Metrics;
use crate::nextcloud::capabilities::CapabilityCache;
use crate::nextcloud::users::UserCache;
use crate::nextcloud::Nextcloud;
use crate::service::{Backend, McpService};
use mcp_shared::ops::drain::drain_unread_body;

/// Shared by the handlers of the main listener.
pub struct AppState {
    pub config: Config,
    pub jwks: Option<Arc<JwksCache>>,
    /// How stale the JWKS may get before `/readyz` fails.
    pub jwks_max_staleness: Duration,
    pub metrics: Metrics,
    pub metadata: serde_json::Value,
}

pub struct Application {
    port: u16,
    metrics_port: Option<u16>,
    server: Server,
    metrics_server: Option<Server>,
    state: Arc<AppState>,
}

fn protected_resource_metadata(config: &Config) -> serde_json::Value {
    let authorization_servers: Vec<String> = match &config.mode {
        Mode::OAuth(o) => vec![o.authorization_server.clone()],
        Mode::SingleUser { .. } => vec![],
    };
    json!({
        "resource": config.resource.as_str(),
        "authorization_servers": authorization_servers,
        "scopes_supported": all_data_scopes().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "bearer_methods_supported": ["header"],
        "resource_signing_alg_values_supported": ["ES256", "EdDSA"],
        "resource_name": "Nextcloud MCP server",
    })
}

async fn metadata(state: web::Data<Arc<AppState>>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .json(&state.metadata)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(state: web::Data<Arc<AppState>>) -> HttpResponse {
    match &state.jwks {
        Some(jwks) if !jwks.is_loaded() => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unavailable", "jwks": "not loaded"})),
        Some(jwks) if !jwks.is_fresh(state.jwks_max_staleness) => {
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "unavailable", "jwks": "stale"}))
        }
        _ => HttpResponse::Ok().json(json!({"status": "ok"})),
    }
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let metrics = Metrics::new()?;
        let http = reqwest::Client::builder()
            .timeout(config.nextcloud_timeout)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("nextcloud-mcp-server/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let nextcloud = Nextcloud::new(http.clone(), config.nextcloud_url.clone(), metrics.clone());

        let (guard_mode, jwks, backend) = match &config.mode {
            Mode::OAuth(o) => {
                let jwks = Arc::new(JwksCache::new(
                    http.clone(),
                    o.authorization_server.clone(),
                    o.internal_url.clone(),
                    o.jwks_uri.clone(),
                    o.jwks_refetch_cooldown,
                    metrics.clone(),
                ));
                let verifier = Verifier {
                    issuer: o.authorization_server.clone(),
                    audience: config.resource.as_str().to_owned(),
                    leeway: i64::try_from(o.leeway.as_secs()).unwrap_or(CLOCK_SKEW_LEEWAY_SECS),
                    jwks: jwks.clone(),
                };
                if o.client_secret.is_none() {
                    tracing::warn!(
                        "MCP_SERVER_CLIENT_SECRET is not set: tools that reach Nextcloud will fail"
                    );
                }
                let backend = Backend {
                    nextcloud,
                    exchange: Some(Arc::new(ExchangeClient::new(
                        http.clone(),
                        o.internal_url
                            .as_ref()
                            .map(|u| u.as_str().trim_end_matches('/'))
                            .unwrap_or(&o.authorization_server),
                        o.client_id.clone(),
                        o.client_secret.clone(),
                        o.exchange_revalidate,
                        metrics.clone(),
                    ))),
                    single_user: None,
                    users: UserCache::default(),
                    capabilities: CapabilityCache::default(),
                    metrics: metrics.clone(),
                    tools: config.tools.clone(),
                    listings: Listings::default(),
                };
                (
                    GuardMode::OAuth(Box::new(CachedVerifier::new(verifier, metrics.clone()))),
                    Some(jwks),
                    backend,
                )
            }
            Mode::SingleUser { user, app_password } => {
                tracing::warn!(
                    "single-user mode: MCP requests are not authenticated; every caller acts as \
                     Nextcloud user {user}. Not for shared deployments."
                );
                let backend = Backend {
                    nextcloud,
                    exchange: None,
                    single_user: Some((user.clone(), app_password.clone())),
                    users: UserCache::default(),
                    capabilities: CapabilityCache::default(),
                    metrics: metrics.clone(),
                    tools: config.tools.clone(),
                    listings: Listings::default(),
                };
                (
                    GuardMode::SingleUser(Principal::single_user(user)),
                    None,
                    backend,
                )
            }
        };

        let jwks_max_staleness = match &config.mode {
            Mode::OAuth(o) => o.jwks_max_staleness,
            Mode::SingleUser { .. } => Duration::from_secs(3600),
        };
        if let Some(jwks) = &jwks {
            let jwks = jwks.clone();
            let every = (jwks_max_staleness / 3).min(Duration::from_secs(600));
            tokio::spawn(async move { keep_jwks_fresh(jwks, every).await });
        }

        let guard_data = web::Data::new(Arc::new(
            Guard::new(
                guard_mode,
                config.tools.clone(),
                backend.exchange.clone(),
                config.resource_metadata_url(),
                config.max_body_bytes,
                metrics.clone(),
            )
            .context(
                "MCP_SERVER_RESOURCE: the resource metadata URL is not a valid header value",
            )?,
        ));
        let backend = Arc::new(backend);
        let mcp_service = {
            let backend = backend.clone();
            let builder = StreamableHttpService::builder()
                .service_factory(Arc::new(move || Ok(McpService::new(backend.clone()))))
                .session_manager(Arc::new(LocalSessionManager::default()))
                .stateful_mode(false)
                .json_response(true)
                .max_request_body_bytes(config.max_body_bytes)
                .allowed_hosts(config.allowed_hosts.clone())
                .on_request_fn(|req, ext| {
                    if let Some(p) = req.extensions().get::<Principal>() {
                        ext.insert(p.clone());
                    }
                    if let Some(slot) = req.extensions().get::<ListingSlot>() {
                        ext.insert(slot.clone());
                    }
                });
            if config.allowed_origins.is_empty() {
                builder.build()
            } else {
                builder
                    .allowed_origins(config.allowed_origins.clone())
                    .build()
            }
        };

        let state = Arc::new(AppState {
            metadata: protected_resource_metadata(&config),
            jwks,
            jwks_max_staleness,
            metrics: metrics.clone(),
            config,
        });
        let resource_path = state
            .config
            .resource
            .path()
            .trim_end_matches('/')
            .to_owned();
        let suffixed = format!("{}{}", paths::PROTECTED_RESOURCE_METADATA, resource_path);
        // Claude names the resource with a trailing slash and looks for its metadata there too
        // (RFC 9728 §3.1 inserts the path as given); the MCP scope below serves `<path>/`.
        let suffixed_slash = format!("{suffixed}/");
        let mcp_path = if resource_path.is_empty() {
            paths::MCP.to_owned()
        } else {
            resource_path
        };

        let listener = TcpListener::bind(state.config.bind)?;
        let port = listener.local_addr()?.port();
        let app_state = web::Data::new(state.clone());
        let http_metrics = web::Data::new(metrics.http.clone());
        let max_body_bytes = state.config.max_body_bytes;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(http_metrics.clone())
                .app_data(guard_data.clone())
                // Inside `observe`, so its latency includes the wait for an unread body.
                .wrap(from_fn(move |req, next| {
                    drain_unread_body(max_body_bytes, req, next)
                }))
                .wrap(from_fn(observe))
                .route(paths::PROTECTED_RESOURCE_METADATA, web::get().to(metadata))
                .route(&suffixed, web::get().to(metadata))
                .route(&suffixed_slash, web::get().to(metadata))
                .route(paths::HEALTHZ, web::get().to(healthz))
                .route(paths::READYZ, web::get().to(readyz))
                .service(
                    web::scope(&mcp_path)
                        .wrap(from_fn(guard))
                        .service(mcp_service.clone().scope()),
                )
                .default_service(web::to(|_: HttpRequest| async {
                    HttpResponse::NotFound().json(json!({"error": "not_found"}))
                }))
        })
        .on_connect(mcp_shared::ops::net::no_delay)
        .listen(listener)?
        .shutdown_timeout(state.config.shutdown_timeout.as_secs())
        .run();

        let (metrics_server, metrics_port) = match state.config.metrics_bind {
            Some(addr) => {
                let listener = TcpListener::bind(addr)?;
                let port = listener.local_addr()?.port();
                let server = metrics::serve(
                    listener,
                    metrics.registry.clone(),
                    state.config.shutdown_timeout,
                )?;
                (Some(server), Some(port))
            }
            None => (None, None),
        };

        Ok(Self {
            port,
            metrics_port,
            server,
            metrics_server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until SIGTERM/SIGINT, draining in-flight requests up to
    /// `MCP_SERVER_SHUTDOWN_TIMEOUT_SECS`.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        serve_until_stopped(self.server, self.metrics_server).await
    }
}

/// Loads the JWKS at startup (retrying until it works: readiness waits for it), then refreshes
/// it `every` (a third of the allowed staleness, at most 10 minutes) so removed keys stop being
/// accepted and readiness notices an authorization server that is gone.
async fn keep_jwks_fresh(jwks: Arc<JwksCache>, every: Duration) {
    let mut delay = Duration::from_millis(250);
    loop {
        match jwks.refresh().await {
            Ok(()) => {
                delay = every;
            }
            Err(e) => {
                tracing::warn!(error = %e, "JWKS refresh failed; retrying");
                delay = if jwks.is_loaded() {
                    every.min(Duration::from_secs(60))
                } else {
                    (delay * 2).min(Duration::from_secs(10))
                };
            }
        }
        tokio::time::sleep(delay).await;
    }
}
