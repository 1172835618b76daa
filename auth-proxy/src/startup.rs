//! Builds the application from configuration: the seams, the state, the main listener and the
//! metrics listener. Tests call [`Application::build_with`] with their own store, upstream and
//! clock, bind port 0 and talk to the real app over HTTP.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use mcp_shared::ops::cli::serve_until_stopped;
use mcp_shared::ops::clock::monotonic;
use mcp_shared::ops::metrics;
use mcp_shared::ops::telemetry::observe;
use mcp_shared::paths;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::cors;
use crate::crypto::TokenCipher;
use crate::keys::SigningKeys;
use crate::metrics::Metrics;
use crate::routes;
use crate::state::AppState;
use crate::store::{MemoryStore, RedisStore, Store};
use crate::upstream::{OidcUpstream, OidcUpstreamConfig, UpstreamIdp};

/// Bodies larger than this are refused before parsing (forms and registration JSON are small).
const MAX_BODY: usize = 64 * 1024;

pub struct Dependencies {
    pub store: Arc<dyn Store>,
    pub upstream: Arc<dyn UpstreamIdp>,
    pub clock: Arc<dyn Clock>,
    /// DNS for Client ID Metadata Documents (tests inject their own answers).
    pub dns: Arc<dyn crate::clients::cimd::DnsResolver>,
}

pub struct Application {
    port: u16,
    metrics_port: u16,
    server: Server,
    metrics_server: Server,
    state: AppState,
}

impl Application {
    /// Production wiring: Redis when configured, else the in-memory store; the real upstream
    /// OpenID Provider.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store: Arc<dyn Store> = match &config.redis_url {
            Some(url) => Arc::new(
                RedisStore::connect(url.expose(), &config.redis_prefix)
                    .await
                    .context("AUTH_PROXY_REDIS_URL: cannot connect to Redis")?,
            ),
            None => {
                tracing::warn!("no AUTH_PROXY_REDIS_URL: using the in-memory store (single process only; state is lost on restart)");
                Arc::new(MemoryStore::new(clock.clone()))
            }
        };
        let upstream: Arc<dyn UpstreamIdp> = Arc::new(
            OidcUpstream::new(
                OidcUpstreamConfig {
                    issuer: config.upstream.issuer.clone(),
                    client_id: config.upstream.client_id.clone(),
                    client_secret: config.upstream.client_secret.clone(),
                    redirect_uri: url::Url::parse(&config.callback_url())
                        .context("AUTH_PROXY_ISSUER")?,
                    scopes: config.upstream.scopes.clone(),
                    timeout: config.upstream.timeout,
                    discovery_ttl: Duration::from_secs(3600),
                },
                clock.clone(),
            )
            .context("upstream identity provider configuration")?,
        );
        Self::build_with(
            config,
            Dependencies {
                store,
                upstream,
                clock,
                dns: Arc::new(crate::clients::cimd::SystemResolver),
            },
        )
        .await
    }

    pub async fn build_with(config: Config, deps: Dependencies) -> anyhow::Result<Self> {
        let keys = match &config.signing_keys_pem {
            Some(pem) => {
                SigningKeys::from_pem_bundle(pem.expose()).context("AUTH_PROXY_SIGNING_KEYS")?
            }
            None => {
                tracing::warn!("no AUTH_PROXY_SIGNING_KEYS: signing with an ephemeral key (tokens become invalid on restart)");
                SigningKeys::ephemeral().context("generating an ephemeral signing key")?
            }
        };
        let cipher = if config.encryption_keys.is_empty() {
            tracing::warn!(
                "no AUTH_PROXY_ENCRYPTION_KEYS: sealing upstream tokens with an ephemeral key"
            );
            TokenCipher::new(&[crate::crypto::random_bytes(32)])?
        } else {
            TokenCipher::new(&config.encryption_keys)?
        };
        let metrics = Metrics::new().context("registering metrics")?;
        let metadata_json: Arc<str> = routes::metadata::metadata_document(&config)
            .to_string()
            .into();
        let config = Arc::new(config);
        let preregistered =
            crate::clients::load(&config, deps.clock.now()).context("AUTH_PROXY_CLIENTS_FILE")?;
        let idjag = Arc::new(
            crate::idjag::IdJagIssuers::new(
                crate::idjag::load(&config.idjag).context("AUTH_PROXY_IDJAG_ISSUERS_FILE")?,
                config.upstream.timeout,
                deps.clock.clone(),
            )
            .context("building the ID-JAG key fetcher")?,
        );
        if config.idjag.test_allow_loopback {
            tracing::warn!("AUTH_PROXY_IDJAG_TEST_ALLOW_LOOPBACK is on: ID-JAG issuers and their keys may live on loopback over plain http. Test rigs only.");
        }
        // Every store call is timed (auth_proxy_store_operation_duration_seconds).
        let store: Arc<dyn crate::store::Store> =
            Arc::new(crate::store::instrumented::InstrumentedStore::new(
                deps.store,
                metrics.store_duration.clone(),
            ));
        if config.cimd.test_allow_loopback {
            tracing::warn!("AUTH_PROXY_CIMD_TEST_ALLOW_LOOPBACK is on: client metadata documents may be fetched from loopback over plain http. Test rigs only.");
        }
        let cimd = config.cimd.enabled.then(|| {
            crate::clients::cimd::CimdResolver::new(
                config.cimd.clone(),
                deps.dns,
                store.clone(),
                deps.clock.clone(),
                metrics.clone(),
            )
        });
        let clients = Arc::new(
            crate::clients::ClientRegistry::new(
                config.exchange_client.as_ref(),
                preregistered,
                cimd,
                store.clone(),
                metrics.clone(),
                config.client_idle_ttl,
                deps.clock.now(),
            )
            .with_clock(deps.clock.clone()),
        );
        let cipher = Arc::new(cipher);
        let nextcloud = match &config.nextcloud {
            Some(crate::config::NextcloudCredentials::AppPassword(settings)) => Some(Arc::new(
                crate::nextcloud::Credentials::new(
                    store.clone(),
                    cipher.clone(),
                    (**settings).clone(),
                    config.refresh_token_ttl.saturating_mul(2),
                )
                .context("building the Nextcloud HTTP client")?,
            )),
            _ => None,
        };
        let grant_index = Arc::new(crate::connections::GrantIndex::new(
            &config,
            store.clone(),
            deps.clock.clone(),
            metrics.clone(),
        ));
        let state = AppState {
            grant_index,
            nextcloud,
            idjag,
            config: config.clone(),
            store,
            upstream: deps.upstream,
            keys: Arc::new(keys),
            cipher,
            clock: deps.clock,
            metrics,
            metadata_json,
            clients,
        };

        let listener = TcpListener::bind(config.bind)
            .with_context(|| format!("AUTH_PROXY_BIND: cannot bind {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let metrics_listener = TcpListener::bind(config.metrics_bind).with_context(|| {
            format!(
                "AUTH_PROXY_METRICS_BIND: cannot bind {}",
                config.metrics_bind
            )
        })?;
        let metrics_port = metrics_listener.local_addr()?.port();
        let shutdown = config.shutdown_timeout;

        let data = web::Data::new(state.clone());
        let http_metrics = web::Data::new(state.metrics.http.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(http_metrics.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY))
                // Inside `observe`, so its latency includes the wait for an unread body.
                .wrap(from_fn(|req, next| {
                    mcp_shared::ops::drain::drain_unread_body(MAX_BODY, req, next)
                }))
                .wrap(from_fn(observe))
                .configure(configure_routes)
        })
        .on_connect(mcp_shared::ops::net::no_delay)
        .listen(listener)?
        .shutdown_timeout(shutdown.as_secs())
        .run();

        let metrics_server =
            metrics::serve(metrics_listener, state.metrics.registry.clone(), shutdown)?;

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

    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM/SIGINT (actix stops accepting, drains in-flight requests up to
    /// `AUTH_PROXY_SHUTDOWN_TIMEOUT_SECS`, then returns).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let upstream = self.state.upstream.clone();
        let discovery_metrics = self.state.metrics.clone();
        let discovery =
            tokio::spawn(async move { keep_discovering(upstream, discovery_metrics).await });
        let result = serve_until_stopped(self.server, Some(self.metrics_server)).await;
        discovery.abort();
        result
    }
}

/// Loads upstream discovery at start-up and retries with back-off until it succeeds, so the
/// proxy becomes ready as soon as its IdP is (Kubernetes may start them in any order).
async fn keep_discovering(upstream: Arc<dyn UpstreamIdp>, metrics: crate::metrics::Metrics) {
    let mut delay = Duration::from_millis(250);
    loop {
        let started = monotonic();
        let discovered = upstream.discover().await;
        metrics
            .upstream_duration
            .with_label_values(&["discovery"])
            .observe(started.elapsed().as_secs_f64());
        metrics
            .upstream_requests
            .with_label_values(&[
                "discovery",
                if discovered.is_ok() {
                    "ok"
                } else {
                    "unavailable"
                },
            ])
            .inc();
        match discovered {
            Ok(()) => {
                tracing::info!("upstream identity provider discovered");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "upstream discovery failed")
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
}

pub fn configure_routes(cfg: &mut web::ServiceConfig) {
    use routes::*;
    // Called cross-origin by browser-based clients: CORS, and OPTIONS preflights.
    let api = |path: &str| {
        web::resource(path)
            .wrap(from_fn(cors::allow_any_origin))
            .route(web::method(Method::OPTIONS).to(cors::preflight))
    };
    cfg.service(api(paths::AUTHORIZATION_SERVER_METADATA).route(web::get().to(metadata::metadata)))
        .service(api(paths::OPENID_CONFIGURATION).route(web::get().to(metadata::metadata)))
        .service(api(paths::JWKS).route(web::get().to(metadata::jwks)))
        .service(api(paths::REGISTER).route(web::post().to(register::register)))
        .service(api(paths::TOKEN).route(web::post().to(token::token)))
        .service(api(paths::REVOKE).route(web::post().to(revoke::revoke)))
        // Browser-facing: no CORS.
        .service(web::resource(paths::AUTHORIZE).route(web::get().to(authorize::authorize)))
        .service(web::resource(paths::CONSENT).route(web::post().to(consent::decide)))
        .service(web::resource(paths::CALLBACK).route(web::get().to(callback::callback)))
        .service(web::resource(paths::NEXTCLOUD_CONNECT).route(web::get().to(connect::connect)))
        .service(web::resource(paths::CONNECTIONS).route(web::get().to(connections::page)))
        .service(
            web::resource(paths::CONNECTIONS_REVOKE).route(web::post().to(connections::revoke)),
        )
        .service(
            web::resource(paths::CONNECTIONS_SIGN_OUT).route(web::post().to(connections::sign_out)),
        )
        .service(web::resource(paths::HEALTHZ).route(web::get().to(health::healthz)))
        .service(web::resource(paths::READYZ).route(web::get().to(health::readyz)));
}
