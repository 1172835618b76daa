//! What every handler can reach: configuration and the seams (store, upstream IdP, keys,
//! cipher, clock, metrics).

use std::sync::Arc;

use actix_web::HttpRequest;

use crate::client_ip;
use crate::clock::Clock;
use crate::config::{Config, RateLimit};
use crate::crypto::TokenCipher;
use crate::error::OAuthError;
use crate::keys::SigningKeys;
use crate::metrics::Metrics;
use crate::store::{ClientRecord, Store, StoreError};
use crate::upstream::UpstreamIdp;

#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub upstream: Arc<dyn UpstreamIdp>,
    pub keys: Arc<SigningKeys>,
    pub cipher: Arc<TokenCipher>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    /// RFC 8414 metadata, serialised once.
    pub metadata_json: Arc<str>,
    /// Clients defined in configuration (`AUTH_PROXY_CLIENTS_FILE`), by client id.
    pub preregistered: Arc<std::collections::HashMap<String, crate::clients::PreregisteredClient>>,
    /// Client ID Metadata Document resolver; `None` when CIMD is switched off.
    pub cimd: Option<Arc<crate::cimd::CimdResolver>>,
}

/// Which endpoint a rate-limit bucket belongs to (a fixed set: bounded metric labels).
#[derive(Debug, Clone, Copy)]
pub enum Limited {
    Register,
    Authorize,
    Token,
}

impl Limited {
    fn name(self) -> &'static str {
        match self {
            Limited::Register => "register",
            Limited::Authorize => "authorize",
            Limited::Token => "token",
        }
    }
}

impl AppState {
    fn limit_for(&self, endpoint: Limited) -> Option<RateLimit> {
        let limits = &self.config.rate_limits;
        match endpoint {
            Limited::Register => limits.register,
            Limited::Authorize => limits.authorize,
            Limited::Token => limits.token,
        }
    }

    /// Counts this request against the per-IP limit of `endpoint`, shared by all replicas
    /// through the store. `Err` carries 429 + `Retry-After`.
    pub async fn check_rate_limit(
        &self,
        endpoint: Limited,
        req: &HttpRequest,
    ) -> Result<(), OAuthError> {
        let Some(limit) = self.limit_for(endpoint) else {
            return Ok(());
        };
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let peer = req.peer_addr().map(|a| a.ip());
        let ip = client_ip::resolve(peer, forwarded, &self.config.trusted_proxies)
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".into());
        let bucket = format!("{}:{ip}", endpoint.name());
        let decision = self
            .store
            .hit_rate_limit(&bucket, limit.limit, limit.window)
            .await
            .map_err(|e| self.store_error(e))?;
        if decision.allowed {
            Ok(())
        } else {
            self.metrics
                .rate_limited
                .with_label_values(&[endpoint.name()])
                .inc();
            Err(OAuthError::rate_limited(decision.retry_after_secs))
        }
    }

    /// Counts a store failure and maps it to the client-facing error.
    pub fn store_error(&self, e: StoreError) -> OAuthError {
        self.metrics.store_errors.inc();
        e.into()
    }

    /// The one place a `client_id` becomes a client, wherever it is defined, in this order:
    /// the mcp-server's token-exchange client (configuration), pre-registered clients
    /// (configuration), a Client ID Metadata Document (an `https://` client id, fetched and
    /// cached), then dynamically registered clients (the store). Earlier sources shadow later
    /// ones.
    pub async fn lookup_client(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, ClientLookupError> {
        if let Some(exchange) = &self.config.exchange_client {
            if exchange.client_id == client_id {
                return Ok(Some(crate::routes::exchange_client_record(
                    exchange,
                    self.clock.now(),
                )));
            }
        }
        // (pre-registered clients: see `crate::clients`)
        if let Some(client) = self.preregistered.get(client_id) {
            return Ok(Some(client.record.clone()));
        }
        if crate::cimd::is_cimd_client_id(client_id) {
            return match &self.cimd {
                Some(resolver) => resolver
                    .resolve(self, client_id)
                    .await
                    .map(Some)
                    .map_err(ClientLookupError::Cimd),
                None => Ok(None),
            };
        }
        self.store
            .get_client(client_id)
            .await
            .map_err(|e| ClientLookupError::Store(self.store_error_kind(e)))
    }

    /// Redirect patterns of a pre-registered client (none for every other client). Sound
    /// because no other source can answer for a pre-registered id: the exchange client's id is
    /// refused in the clients file, and a pre-registered id never looks like a CIMD URL.
    pub fn redirect_patterns(&self, client_id: &str) -> &[crate::redirect::RedirectPattern] {
        self.preregistered
            .get(client_id)
            .map_or(&[], |c| c.redirect_patterns.as_slice())
    }

    /// Counts a new registration against the quota shared by all clients and replicas
    /// (`AUTH_PROXY_RATE_LIMIT_REGISTER_GLOBAL`). `Err` carries 429 + `Retry-After`.
    pub async fn check_registration_quota(&self) -> Result<(), OAuthError> {
        let Some(limit) = self.config.rate_limits.register_global else {
            return Ok(());
        };
        let decision = self
            .store
            .hit_rate_limit("register-global", limit.limit, limit.window)
            .await
            .map_err(|e| self.store_error(e))?;
        if decision.allowed {
            return Ok(());
        }
        self.metrics
            .rate_limited
            .with_label_values(&["register_global"])
            .inc();
        Err(OAuthError::rate_limited(decision.retry_after_secs))
    }

    /// Slides the idle expiry of a dynamically registered client that was just used. Clients
    /// from configuration or metadata documents are not stored and never expire. A store
    /// failure is counted and logged, not returned: the caller has already issued tokens.
    pub async fn keep_client_alive(&self, client_id: &str) {
        let configured = self
            .config
            .exchange_client
            .as_ref()
            .is_some_and(|e| e.client_id == client_id)
            || self.preregistered.contains_key(client_id)
            || crate::cimd::is_cimd_client_id(client_id);
        if configured {
            return;
        }
        if let Err(e) = self
            .store
            .touch_client(client_id, self.config.client_idle_ttl)
            .await
        {
            self.metrics.store_errors.inc();
            tracing::warn!(error = %e, client_id, "could not extend the client registration");
        }
    }

    fn store_error_kind(&self, e: StoreError) -> StoreError {
        self.metrics.store_errors.inc();
        e
    }
}

/// Why a client could not be looked up (as opposed to "there is no such client").
#[derive(Debug, thiserror::Error)]
pub enum ClientLookupError {
    #[error(transparent)]
    Store(StoreError),
    #[error("client metadata document: {0}")]
    Cimd(crate::cimd::CimdError),
}
