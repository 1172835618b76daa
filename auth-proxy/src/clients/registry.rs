//! The one place a `client_id` becomes a client, wherever it is defined, in this order:
//!
//! 1. the mcp-server's token-exchange client (configuration),
//! 2. pre-registered clients (the clients file),
//! 3. a Client ID Metadata Document (an `https://` client id, fetched and cached),
//! 4. dynamically registered clients (the store).
//!
//! Earlier sources shadow later ones. The registry also knows which clients have redirect
//! patterns (only pre-registered ones) and which expire when idle (only stored ones).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::cimd::{is_cimd_client_id, CimdError, CimdResolver};
use super::preregistered::PreregisteredClient;
use super::record::{ClientRecord, GrantType, TokenEndpointAuthMethod};
use crate::clock::Clock;
use crate::config::ExchangeClientSettings;
use crate::crypto::sha256_hex;
use crate::ids::ClientId;
use crate::metrics::Metrics;
use crate::redirect::RedirectPattern;
use crate::store::{Store, StoreError};

/// Why a client could not be looked up (as opposed to "there is no such client").
#[derive(Debug, thiserror::Error)]
pub enum ClientLookupError {
    #[error(transparent)]
    Store(StoreError),
    #[error("client metadata document: {0}")]
    Cimd(CimdError),
}

#[derive(Debug)]
pub struct ClientRegistry {
    /// The token-exchange client, built once from configuration.
    exchange: Option<ClientRecord>,
    /// Clients from `AUTH_PROXY_CLIENTS_FILE`, by client id.
    preregistered: HashMap<String, PreregisteredClient>,
    /// `None` when CIMD is switched off.
    cimd: Option<CimdResolver>,
    store: Arc<dyn Store>,
    metrics: Metrics,
    /// How long a registered client lives without being used.
    idle_ttl: Duration,
    /// Clients this replica extended recently, with when (Unix seconds, the app's clock):
    /// extending again within [`KEEP_ALIVE_EVERY`] is skipped, so a busy client costs one store
    /// round trip per interval, not one per token.
    kept_alive: moka::future::Cache<ClientId, i64>,
    /// Stored (registered) clients this replica read, with when: reused for
    /// [`STORED_CLIENT_REUSE_SECS`], so a busy client is not read from the store per request.
    /// Only with a clock ([`Self::with_clock`]); never caches "unknown".
    stored: moka::future::Cache<ClientId, (ClientRecord, i64)>,
    clock: Option<Arc<dyn Clock>>,
}

/// How long one replica reuses a registered client it read from the store. A registration
/// that expires or is replaced is noticed within this time; records never change otherwise.
const STORED_CLIENT_REUSE_SECS: i64 = 30;

/// How often one replica extends one client's registration at most (a 30-day idle lifetime
/// does not notice 10 minutes).
const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(600);

impl ClientRegistry {
    pub fn new(
        exchange: Option<&ExchangeClientSettings>,
        preregistered: HashMap<String, PreregisteredClient>,
        cimd: Option<CimdResolver>,
        store: Arc<dyn Store>,
        metrics: Metrics,
        idle_ttl: Duration,
        now: i64,
    ) -> Self {
        Self {
            exchange: exchange.map(|e| exchange_client_record(e, now)),
            preregistered,
            cimd,
            store,
            metrics,
            idle_ttl,
            kept_alive: moka::future::Cache::builder().max_capacity(100_000).build(),
            stored: moka::future::Cache::builder().max_capacity(10_000).build(),
            clock: None,
        }
    }

    /// Lets the registry reuse registered clients it read for a few seconds (on `clock`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The client `client_id` names, from the first source that knows it.
    pub async fn lookup(&self, client_id: &str) -> Result<Option<ClientRecord>, ClientLookupError> {
        if let Some(exchange) = self.exchange.as_ref().filter(|e| e.client_id == client_id) {
            return Ok(Some(exchange.clone()));
        }
        if let Some(client) = self.preregistered.get(client_id) {
            return Ok(Some(client.record.clone()));
        }
        if is_cimd_client_id(client_id) {
            return match &self.cimd {
                Some(resolver) => resolver
                    .resolve(client_id)
                    .await
                    .map(Some)
                    .map_err(ClientLookupError::Cimd),
                None => Ok(None),
            };
        }
        // An empty id names no client (the parameter readers never pass one).
        let Some(client_id) = ClientId::parse(client_id) else {
            return Ok(None);
        };
        let now = self.clock.as_ref().map(|c| c.now());
        if let (Some(now), Some((record, read_at))) = (now, self.stored.get(&client_id).await) {
            if (0..STORED_CLIENT_REUSE_SECS).contains(&now.saturating_sub(read_at)) {
                return Ok(Some(record));
            }
        }
        let found = self.store.get_client(&client_id).await.map_err(|e| {
            self.metrics.store_errors.inc();
            ClientLookupError::Store(e)
        })?;
        match (&found, now) {
            (Some(record), Some(now)) => {
                self.stored.insert(client_id, (record.clone(), now)).await;
            }
            (None, _) => self.stored.invalidate(&client_id).await,
            _ => {}
        }
        Ok(found)
    }

    /// The metadata-document resolver, `None` when documents are switched off: client
    /// authentication asks it how a `private_key_jwt` document proves itself.
    pub fn cimd(&self) -> Option<&CimdResolver> {
        self.cimd.as_ref()
    }

    /// Redirect patterns of a pre-registered client (none for every other client). Sound
    /// because no other source can answer for a pre-registered id: the exchange client's id is
    /// refused in the clients file, and a pre-registered id never looks like a CIMD URL.
    pub fn redirect_patterns(&self, client_id: &str) -> &[RedirectPattern] {
        self.preregistered
            .get(client_id)
            .map_or(&[], |c| c.redirect_patterns.as_slice())
    }

    /// Slides the idle expiry of a dynamically registered client that was just used. Clients
    /// from configuration or metadata documents are not stored and never expire. A store
    /// failure is counted and logged, not returned: the caller has already issued tokens.
    pub async fn keep_alive(&self, client_id: &ClientId, now: i64) {
        let configured = self
            .exchange
            .as_ref()
            .is_some_and(|e| e.client_id == *client_id)
            || self.preregistered.contains_key(client_id.as_str())
            || is_cimd_client_id(client_id.as_str());
        let every =
            i64::try_from(KEEP_ALIVE_EVERY.min(self.idle_ttl / 100).as_secs()).unwrap_or(i64::MAX);
        let recent = self
            .kept_alive
            .get(client_id)
            .await
            .is_some_and(|at| (0..every).contains(&now.saturating_sub(at)));
        if configured || recent {
            return;
        }
        match self.store.touch_client(client_id, self.idle_ttl).await {
            Ok(_) => self.kept_alive.insert(client_id.clone(), now).await,
            Err(e) => {
                self.metrics.store_errors.inc();
                tracing::warn!(error = %e, %client_id, "could not extend the client registration");
            }
        }
    }
}

/// The token-exchange client from configuration, as a client record: confidential, allowed
/// the token-exchange grant only, no redirect URIs (so it can never run an authorization).
fn exchange_client_record(exchange: &ExchangeClientSettings, now: i64) -> ClientRecord {
    ClientRecord {
        client_id: exchange.client_id.clone(),
        client_name: Some("MCP server (token exchange)".into()),
        redirect_uris: Vec::new(),
        token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        client_secret_hash: Some(sha256_hex(exchange.client_secret.expose())),
        grant_types: vec![GrantType::TokenExchange],
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
