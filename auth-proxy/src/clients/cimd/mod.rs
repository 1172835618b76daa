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
//! - one fetch per document at a time, run apart from the requests that wait for it (a request
//!   that gives up does not cancel it) and never waited for longer than the fetch timeout;
//!   different documents never wait for each other;
//! - a fetch budget per host and a global one (shared by replicas); the global budget is spent
//!   only when a connection is about to be made, never by an id refused before that;
//! - two bounded caches keyed by a hash of the id, each entry with its own lifetime: documents
//!   (per the response's `Cache-Control`, within configured bounds) and failures (briefly). A
//!   flood of refused ids churns only the small failure cache; ids refused by the URL rules
//!   alone are not cached at all (checking them again costs less than remembering them).
//!
//! A document may authenticate with `private_key_jwt`; its `jwks_uri` is fetched by the same
//! fetcher, under the same rules and budgets (`jwks`).
//!
//! `address` holds where a document may come from, `document` what it must say.

mod address;
mod document;
mod jwks;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use moka::future::Cache;
use url::Host;

use self::address::{check_url, DocumentUrl};
pub use self::address::{host_matches, is_public, DnsResolver, SystemResolver};
pub use self::document::{
    cache_lifetime, parse_client_document, parse_document, AssertionAuth, ClientKeys,
    DocumentClient,
};
pub use self::jwks::{KeySetFreshness, REFETCH_COOLDOWN};
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
    // The same words as `Dns`: whoever sends a client_id must not learn which internal names
    // exist. Logs at debug level tell the two apart.
    #[error("the client_id host does not resolve to a public address")]
    ForbiddenAddress,
    #[error("the client_id host does not resolve to a public address")]
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
/// lifetime (the document's `Cache-Control`, or the failure lifetime) and its weight.
#[derive(Clone)]
struct Cached {
    result: Result<DocumentClient, CimdError>,
    ttl: Duration,
}

impl Cached {
    /// Roughly the bytes an entry holds: its key, the struct and every string it owns.
    fn weight(&self) -> u32 {
        let heap = match &self.result {
            Ok(DocumentClient {
                record: r,
                assertion,
            }) => {
                let keys = assertion.as_ref().map_or(0, |a| match &a.keys {
                    // A public key is at most a few hundred bytes of base64 (RSA 4096: 700).
                    ClientKeys::Inline(set) => set.len() * 1024,
                    ClientKeys::Uri(uri) => uri.len(),
                });
                let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
                r.client_id.as_str().len()
                    + r.redirect_uris.iter().map(|u| u.len() + 24).sum::<usize>()
                    + opt(&r.client_name)
                    + opt(&r.client_uri)
                    + opt(&r.logo_uri)
                    + opt(&r.software_id)
                    + opt(&r.software_version)
                    + r.scope.as_ref().map_or(0, |s| s.to_string().len() + 64)
                    + (r.grant_types.len() + r.response_types.len()) * 8
                    + keys
            }
            Err(CimdError::InvalidDocument(m)) => m.len(),
            Err(_) => 0,
        };
        let total = std::mem::size_of::<DocumentKey>() + std::mem::size_of::<Self>() + heap;
        u32::try_from(total).unwrap_or(u32::MAX)
    }
}

struct PerEntryLifetime;

impl moka::Expiry<DocumentKey, Cached> for PerEntryLifetime {
    fn expire_after_create(
        &self,
        _key: &DocumentKey,
        value: &Cached,
        _at: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// SHA-256 of the client id: what the caches are keyed by, so that an id costs 32 bytes
/// however long it is (and of a host, for its rate-limit bucket).
type DocumentKey = [u8; 32];

fn document_key(client_id: &str) -> DocumentKey {
    let digest = ring::digest::digest(&ring::digest::SHA256, client_id.as_bytes());
    let mut key = [0; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

/// Bounds on what the caches hold, in (estimated) bytes; moka evicts the least useful entries
/// beyond them, one by one. A document is at most `AUTH_PROXY_CIMD_MAX_BYTES` (1 MiB at most),
/// its record less; a failure is a few hundred bytes at most (its reason is cut short).
const MAX_DOCUMENT_BYTES: u64 = 16 * 1024 * 1024;
const MAX_FAILURE_BYTES: u64 = 2 * 1024 * 1024;

/// The outcome of one fetch, shared by everyone waiting for it.
type InFlight = Shared<BoxFuture<'static, Result<DocumentClient, CimdError>>>;

pub struct CimdResolver {
    inner: Arc<Inner>,
}

struct Inner {
    settings: CimdSettings,
    dns: Arc<dyn DnsResolver>,
    /// Counts fetches per host and globally, shared by replicas.
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    /// Good documents.
    documents: Cache<DocumentKey, Cached>,
    /// Refusals after a DNS lookup, and fetches that failed.
    failures: Cache<DocumentKey, Cached>,
    /// Fetches under way, at most one per document. An entry leaves when its fetch has stored
    /// its outcome in a cache (or decided not to).
    in_flight: Mutex<HashMap<DocumentKey, InFlight>>,
    /// Key sets of `private_key_jwt` documents that publish a `jwks_uri`.
    key_sets: jwks::KeySets,
}

impl std::fmt::Debug for CimdResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the caches: client records are no business of the logs.
        f.debug_struct("CimdResolver")
            .field("settings", &self.inner.settings)
            .field("cached_documents", &self.inner.documents.entry_count())
            .field("cached_failures", &self.inner.failures.entry_count())
            .finish_non_exhaustive()
    }
}

fn bounded_cache(max_bytes: u64) -> Cache<DocumentKey, Cached> {
    Cache::builder()
        .max_capacity(max_bytes)
        .weigher(|_key: &DocumentKey, value: &Cached| value.weight())
        .expire_after(PerEntryLifetime)
        .build()
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
            inner: Arc::new(Inner {
                settings,
                dns,
                store,
                clock,
                metrics,
                documents: bounded_cache(MAX_DOCUMENT_BYTES),
                failures: bounded_cache(MAX_FAILURE_BYTES),
                in_flight: Mutex::new(HashMap::new()),
                key_sets: jwks::KeySets::new(),
            }),
        }
    }

    /// The client described by the document at `client_id`. Answers within the fetch timeout,
    /// whatever other requests for the same document do.
    pub async fn resolve(&self, client_id: &str) -> Result<ClientRecord, CimdError> {
        self.resolve_client(client_id).await.map(|c| c.record)
    }

    /// [`Self::resolve`], with how the client authenticates.
    pub async fn resolve_client(&self, client_id: &str) -> Result<DocumentClient, CimdError> {
        // The URL rules need no I/O: an id they refuse is neither fetched nor remembered.
        let doc_url = check_url(client_id, &self.inner.settings).inspect_err(|e| {
            self.inner.count::<()>(&Err(e.clone()));
        })?;
        let key = document_key(client_id);
        let fetch = loop {
            if let Some(hit) = self.inner.cached(&key).await {
                return hit;
            }
            match self.inner.join_or_start(key, doc_url.clone(), client_id) {
                Some(fetch) => break fetch,
                // The fetch finished between the lookup and now: its outcome is cached.
                None => continue,
            }
        };
        tokio::time::timeout(self.inner.settings.fetch_timeout, fetch)
            .await
            .unwrap_or(Err(CimdError::Timeout))
    }
}

impl Inner {
    async fn cached(&self, key: &DocumentKey) -> Option<Result<DocumentClient, CimdError>> {
        if let Some(doc) = self.documents.get(key).await {
            return Some(doc.result);
        }
        self.failures.get(key).await.map(|f| f.result)
    }

    /// The fetch under way for `key`, or a new one; `None` if the outcome is already cached.
    fn join_or_start(
        self: &Arc<Self>,
        key: DocumentKey,
        doc_url: DocumentUrl,
        client_id: &str,
    ) -> Option<InFlight> {
        let Ok(mut in_flight) = self.in_flight.lock() else {
            return Some(
                futures_util::future::ready(Err(CimdError::Unavailable))
                    .boxed()
                    .shared(),
            );
        };
        if let Some(fetch) = in_flight.get(&key) {
            return Some(fetch.clone());
        }
        // A fetch stores its outcome before it leaves `in_flight` (under this lock), so a
        // miss above and no entry here means the cache has it now.
        if self.documents.contains_key(&key) || self.failures.contains_key(&key) {
            return None;
        }
        let this = Arc::clone(self);
        let client_id = client_id.to_owned();
        // Spawned: the fetch belongs to no request, so a request that gives up (its client
        // closed the connection) cannot cancel it and make the next waiter start over.
        let task = tokio::spawn(async move {
            let outcome = this.load(&doc_url, &client_id).await;
            let answer = match outcome {
                Ok(cached) => {
                    let answer = cached.result.clone();
                    let cache = if answer.is_ok() {
                        &this.documents
                    } else {
                        &this.failures
                    };
                    cache.insert(key, cached).await;
                    answer
                }
                // Not cached: the next request may try again.
                Err(e) => Err(e),
            };
            if let Ok(mut in_flight) = this.in_flight.lock() {
                in_flight.remove(&key);
            }
            answer
        });
        let fetch = task
            .map(|joined| joined.unwrap_or(Err(CimdError::Unavailable)))
            .boxed()
            .shared();
        in_flight.insert(key, fetch.clone());
        Some(fetch)
    }

    /// Fetches and checks one document within the fetch timeout. `Ok` is an outcome to cache
    /// (a client or a failure); `Err` is a refusal that is not (rate limit, store down).
    async fn load(&self, doc_url: &DocumentUrl, client_id: &str) -> Result<Cached, CimdError> {
        let outcome = tokio::time::timeout(
            self.settings.fetch_timeout,
            self.fetch(doc_url, client_id, self.clock.now()),
        )
        .await
        .unwrap_or(Err(CimdError::Timeout));
        if let Err(e @ (CimdError::RateLimited | CimdError::Unavailable)) = outcome {
            return Err(e);
        }
        self.count(&outcome);
        Ok(match outcome {
            Ok((client, ttl)) => Cached {
                result: Ok(client),
                ttl,
            },
            Err(e) => {
                // The client saw the same words for an unknown name as for an internal one;
                // the operator may see which it was.
                tracing::debug!(host = %doc_url.host, detail = ?e, "client metadata document refused");
                let detail = format!("{}: {e}", doc_url.host);
                crate::audit::event("client.document.refused", "refused")
                    .reason("document")
                    .detail(&detail)
                    .info("client metadata document refused");
                Cached {
                    result: Err(e),
                    ttl: self.settings.failure_cache,
                }
            }
        })
    }

    fn count<T>(&self, outcome: &Result<T, CimdError>) {
        self.metrics
            .cimd_fetches
            .with_label_values(&[match outcome {
                Ok(_) => "ok",
                Err(
                    CimdError::ForbiddenAddress
                    | CimdError::HostNotAllowed
                    | CimdError::InvalidUrl(_),
                ) => "refused",
                Err(_) => "error",
            }])
            .inc();
    }

    /// Spends one unit of `limit` in `bucket`.
    async fn spend(
        &self,
        bucket: &str,
        limit: Option<crate::config::RateLimit>,
    ) -> Result<(), CimdError> {
        let Some(limit) = limit else { return Ok(()) };
        let decision = self
            .store
            .hit_rate_limit(bucket, limit.limit, limit.window)
            .await
            .map_err(|_| CimdError::Unavailable)?;
        if !decision.allowed {
            self.metrics.rate_limited.with_label_values(&["cimd"]).inc();
            return Err(CimdError::RateLimited);
        }
        Ok(())
    }

    async fn fetch(
        &self,
        doc: &DocumentUrl,
        client_id: &str,
        now: i64,
    ) -> Result<(DocumentClient, Duration), CimdError> {
        let (body, cache_control) = self.fetch_body(doc).await?;
        let client = parse_client_document(&body, client_id, now, &self.settings)?;
        let ttl = cache_lifetime(
            cache_control.as_deref(),
            self.settings.cache_min,
            self.settings.cache_max,
        );
        Ok((client, ttl))
    }

    /// GETs `doc` (a document or a key set) with every rule of the module: the host's and the
    /// global budget, public addresses only and pinned, no redirects, the size cap. Returns the
    /// body and its `Cache-Control`.
    async fn fetch_body(&self, doc: &DocumentUrl) -> Result<(Vec<u8>, Option<String>), CimdError> {
        // The host's own budget covers its DNS lookups too; only ids naming that host spend it.
        // Its bucket is named by a hash: a host name may be as long as the id allows.
        let host_bucket = format!(
            "cimd:host:{}",
            URL_SAFE_NO_PAD.encode(document_key(&doc.host))
        );
        self.spend(&host_bucket, self.settings.rate_limit_per_host)
            .await?;
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
        // The budget every client shares is spent only now, when a connection will be made:
        // ids refused above (unknown or internal names) cannot lock the others out.
        self.spend("cimd:global", self.settings.rate_limit_global)
            .await?;
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
        Ok((body, cache_control))
    }
}

#[cfg(test)]
impl CimdResolver {
    async fn run_pending_cache_tasks(&self) {
        self.inner.documents.run_pending_tasks().await;
        self.inner.failures.run_pending_tasks().await;
    }

    /// What the caches hold, roughly (keys, entries and the strings they own).
    fn cached_bytes(&self) -> usize {
        [&self.inner.documents, &self.inner.failures]
            .iter()
            .flat_map(|cache| cache.iter())
            .map(|(_, v)| v.weight() as usize)
            .sum()
    }
}

#[cfg(test)]
mod tests;
