//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as the MCP
//! authorization spec uses them): a `client_id` that is an `https://` URL names a JSON document,
//! published by the client, that describes it. The proxy fetches it — carefully, because the URL
//! comes from anyone on the internet:
//!
//! - strict URL rules: https, a host (optionally from an allow-list), a path, no userinfo, query
//!   or fragment, and the canonical form only;
//! - every address the host resolves to must be public (no loopback, private, link-local,
//!   shared, metadata-service, documentation, multicast or reserved range), and the connection
//!   goes to the address that was checked (DNS rebinding cannot swap it);
//! - no proxies, no redirects, one deadline for DNS + connect + body, a small body cap;
//! - the document must be a JSON object whose `client_id` equals the URL exactly, for a public
//!   client (`token_endpoint_auth_method` `none`, no secret), with valid redirect URIs;
//! - results are cached per the response's `Cache-Control` within configured bounds; failures
//!   are cached briefly; concurrent requests for one document share one fetch (and different
//!   documents do not wait for each other); fetches are rate limited per host and globally
//!   (shared by replicas).
//!
//! `address` holds where a document may come from, `document` what it must say.

mod address;
mod document;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::future::Cache;
use url::{Host, Url};

use self::address::{check_url, DocumentUrl};
pub use self::address::{host_matches, is_public, DnsResolver, SystemResolver};
pub use self::document::{cache_lifetime, parse_document};
use super::record::ClientRecord;
use crate::clock::Clock;
use crate::config::CimdSettings;
use crate::metrics::Metrics;
use crate::store::Store;

/// Whether `client_id` is a URL, i.e. names a metadata document rather than a registration.
pub fn is_cimd_client_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CimdError {
    #[error("the client_id is not an acceptable document URL: {0}")]
    InvalidUrl(&'static str),
    #[error("client metadata documents from this host are not accepted here")]
    HostNotAllowed,
    #[error("the client_id host resolves to an address that is not public")]
    ForbiddenAddress,
    #[error("the client_id host could not be resolved")]
    Dns,
    #[error("the client metadata document could not be fetched")]
    Unreachable,
    #[error("fetching the client metadata document took too long")]
    Timeout,
    #[error("the client metadata document URL redirects; redirects are not followed")]
    Redirect,
    #[error("the client metadata document URL answered HTTP {0}")]
    Status(u16),
    #[error("the client metadata document is larger than allowed")]
    TooLarge,
    #[error("the client metadata document is not valid: {0}")]
    InvalidDocument(String),
    #[error("the client metadata document names a different client_id")]
    ClientIdMismatch,
    #[error("too many client metadata document fetches; try again later")]
    RateLimited,
    #[error("client metadata documents cannot be checked right now")]
    Unavailable,
}

/// A document's outcome as cached: a client, or why there is none. Each entry carries its own
/// lifetime (the document's `Cache-Control`, or the failure lifetime).
#[derive(Clone)]
struct Cached {
    result: Result<ClientRecord, CimdError>,
    ttl: Duration,
}

struct PerEntryLifetime;

impl moka::Expiry<String, Cached> for PerEntryLifetime {
    fn expire_after_create(&self, _key: &String, value: &Cached, _at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Bound on cached documents; moka evicts the least useful entries beyond it, one by one.
const MAX_CACHED_DOCUMENTS: u64 = 10_000;

pub struct CimdResolver {
    settings: CimdSettings,
    dns: Arc<dyn DnsResolver>,
    /// Counts fetches per host and globally, shared by replicas.
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    /// Documents and failures by client id. `try_get_with` runs one fetch per document at a
    /// time; concurrent requests for the same document wait for its result.
    cache: Cache<String, Cached>,
}

impl std::fmt::Debug for CimdResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the cache: client records are no business of the logs.
        f.debug_struct("CimdResolver")
            .field("settings", &self.settings)
            .field("cached_documents", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl CimdResolver {
    pub fn new(
        settings: CimdSettings,
        dns: Arc<dyn DnsResolver>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        metrics: Metrics,
    ) -> Self {
        Self {
            settings,
            dns,
            store,
            clock,
            metrics,
            cache: Cache::builder()
                .max_capacity(MAX_CACHED_DOCUMENTS)
                .expire_after(PerEntryLifetime)
                .build(),
        }
    }

    /// The client described by the document at `client_id`.
    pub async fn resolve(&self, client_id: &str) -> Result<ClientRecord, CimdError> {
        // A refusal by the rate limit (or an unavailable store) is not cached: the next
        // request may try again. Every other outcome is.
        match self
            .cache
            .try_get_with(client_id.to_owned(), self.load(client_id))
            .await
        {
            Ok(cached) => cached.result,
            Err(not_cached) => Err(CimdError::clone(&not_cached)),
        }
    }

    async fn load(&self, client_id: &str) -> Result<Cached, CimdError> {
        let result = match check_url(client_id, &self.settings) {
            Err(e) => Err(e),
            Ok(doc_url) => {
                self.rate_limit(&doc_url.host).await?;
                match tokio::time::timeout(
                    self.settings.fetch_timeout,
                    self.fetch(&doc_url, client_id, self.clock.now()),
                )
                .await
                {
                    Ok(r) => r,
                    Err(_) => Err(CimdError::Timeout),
                }
            }
        };
        self.metrics
            .cimd_fetches
            .with_label_values(&[match &result {
                Ok(_) => "ok",
                Err(
                    CimdError::ForbiddenAddress
                    | CimdError::HostNotAllowed
                    | CimdError::InvalidUrl(_),
                ) => "refused",
                Err(_) => "error",
            }])
            .inc();
        Ok(match result {
            Ok((record, ttl)) => Cached {
                result: Ok(record),
                ttl,
            },
            Err(e) => {
                tracing::info!(target: "audit", host = %Url::parse(client_id).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default(), error = %e, "client metadata document refused");
                Cached {
                    result: Err(e),
                    ttl: self.settings.failure_cache,
                }
            }
        })
    }

    async fn rate_limit(&self, host: &str) -> Result<(), CimdError> {
        let buckets = [
            (
                format!("cimd:host:{host}"),
                self.settings.rate_limit_per_host,
            ),
            ("cimd:global".to_owned(), self.settings.rate_limit_global),
        ];
        for (bucket, limit) in buckets {
            let Some(limit) = limit else { continue };
            let decision = self
                .store
                .hit_rate_limit(&bucket, limit.limit, limit.window)
                .await
                .map_err(|_| CimdError::Unavailable)?;
            if !decision.allowed {
                self.metrics.rate_limited.with_label_values(&["cimd"]).inc();
                return Err(CimdError::RateLimited);
            }
        }
        Ok(())
    }

    async fn fetch(
        &self,
        doc: &DocumentUrl,
        client_id: &str,
        now: i64,
    ) -> Result<(ClientRecord, Duration), CimdError> {
        let addresses: Vec<SocketAddr> = match doc.url.host() {
            Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), doc.port)],
            Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), doc.port)],
            _ => self
                .dns
                .lookup(&doc.host, doc.port)
                .await
                .map_err(|_| CimdError::Dns)?,
        };
        if addresses.is_empty() {
            return Err(CimdError::Dns);
        }
        let allowed = |a: &SocketAddr| {
            is_public(a.ip()) || (self.settings.test_allow_loopback && a.ip().is_loopback())
        };
        // Every address must pass: a name that mixes public and internal addresses is refused.
        if !addresses.iter().all(allowed) {
            return Err(CimdError::ForbiddenAddress);
        }
        let target = addresses[0];
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(self.settings.fetch_timeout)
            .connect_timeout(self.settings.fetch_timeout)
            .user_agent(concat!(
                "nextcloud-mcp-auth-proxy/",
                env!("CARGO_PKG_VERSION")
            ));
        if let Some(Host::Domain(domain)) = doc.url.host() {
            // Connect to the address that was checked, whatever DNS says next.
            builder = builder.resolve(domain, target);
        }
        let http = builder.build().map_err(|_| CimdError::Unavailable)?;
        let mut response = http
            .get(doc.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    CimdError::Timeout
                } else {
                    CimdError::Unreachable
                }
            })?;
        let status = response.status();
        if status.is_redirection() {
            return Err(CimdError::Redirect);
        }
        if status != reqwest::StatusCode::OK {
            return Err(CimdError::Status(status.as_u16()));
        }
        let cap = self.settings.max_bytes;
        if response.content_length().is_some_and(|l| l > cap as u64) {
            return Err(CimdError::TooLarge);
        }
        let cache_control = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|_| CimdError::Unreachable)? {
            if body.len() + chunk.len() > cap {
                return Err(CimdError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let record = parse_document(&body, client_id, now)?;
        let ttl = cache_lifetime(
            cache_control.as_deref(),
            self.settings.cache_min,
            self.settings.cache_max,
        );
        Ok((record, ttl))
    }
}
