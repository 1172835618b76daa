//! Key sets behind the `jwks_uri` of `private_key_jwt` documents: fetched by the document
//! fetcher (URL rules, public pinned addresses, no redirects, `AUTH_PROXY_CIMD_MAX_BYTES`, the
//! per-host and global budgets), one fetch per URI at a time, cached per `Cache-Control` within
//! the document cache bounds. A `kid` the cached set does not know may mean the client rotated
//! its keys: the set is fetched again, once per URI per [`REFETCH_COOLDOWN`], so assertions
//! naming made-up kids cannot turn into a fetch each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use moka::future::Cache;

use super::address::check_url;
use super::{cache_lifetime, document_key, CimdError, CimdResolver, DocumentKey, Inner};
use crate::jose::Jwks;

/// Shortest time between two fetches of one key set for an unknown `kid`.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(60);
/// What the key-set cache holds at most, in (estimated) bytes.
const MAX_KEY_SET_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Clone)]
struct CachedSet {
    keys: Arc<Jwks>,
    ttl: Duration,
    /// The fetched body's size, which bounds what the parsed set holds.
    bytes: usize,
}

struct PerSetLifetime;

impl moka::Expiry<DocumentKey, CachedSet> for PerSetLifetime {
    fn expire_after_create(
        &self,
        _key: &DocumentKey,
        value: &CachedSet,
        _at: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

type InFlightSet = Shared<BoxFuture<'static, Result<Arc<Jwks>, CimdError>>>;

pub(super) struct KeySets {
    sets: Cache<DocumentKey, CachedSet>,
    /// Key sets fetched again for an unknown kid, within the cooldown.
    refetched: Cache<DocumentKey, ()>,
    in_flight: Mutex<HashMap<DocumentKey, InFlightSet>>,
}

impl KeySets {
    pub(super) fn new() -> Self {
        Self {
            sets: Cache::builder()
                .max_capacity(MAX_KEY_SET_BYTES)
                .weigher(|_k: &DocumentKey, v: &CachedSet| {
                    u32::try_from(v.bytes + 64).unwrap_or(u32::MAX)
                })
                .expire_after(PerSetLifetime)
                .build(),
            refetched: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(REFETCH_COOLDOWN)
                .build(),
            in_flight: Mutex::new(HashMap::new()),
        }
    }
}

/// Whether a key set was fetched, for the caller's "one refetch" rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySetFreshness {
    /// Served from the cache (or a fetch another request started).
    Cached,
    /// Fetched anew for this request.
    Refetched,
    /// A refetch was asked for but the URI was refetched within the cooldown.
    CoolingDown,
}

impl CimdResolver {
    /// The key set at `uri` (a `jwks_uri` the document parser accepted). With `refetch`, the
    /// cached set is replaced by a fresh one, unless that was done within the cooldown.
    pub async fn key_set(
        &self,
        uri: &str,
        refetch: bool,
    ) -> Result<(Arc<Jwks>, KeySetFreshness), CimdError> {
        let inner = &self.inner;
        let key = document_key(uri);
        let mut freshness = KeySetFreshness::Cached;
        if refetch {
            if inner.key_sets.refetched.contains_key(&key) {
                freshness = KeySetFreshness::CoolingDown;
            } else {
                inner.key_sets.refetched.insert(key, ()).await;
                inner.key_sets.sets.invalidate(&key).await;
                freshness = KeySetFreshness::Refetched;
            }
        }
        let fetch = loop {
            if let Some(hit) = inner.key_sets.sets.get(&key).await {
                return Ok((hit.keys, freshness));
            }
            match inner.join_or_start_key_set(key, uri) {
                Some(fetch) => break fetch,
                None => continue,
            }
        };
        let keys = tokio::time::timeout(inner.settings.fetch_timeout, fetch)
            .await
            .unwrap_or(Err(CimdError::Timeout))?;
        Ok((keys, freshness))
    }
}

impl Inner {
    #[cfg(test)]
    pub(super) async fn key_sets_cooling_down(&self, uri: &str) -> bool {
        self.key_sets.refetched.contains_key(&document_key(uri))
    }

    fn join_or_start_key_set(self: &Arc<Self>, key: DocumentKey, uri: &str) -> Option<InFlightSet> {
        let Ok(mut in_flight) = self.key_sets.in_flight.lock() else {
            return Some(
                futures_util::future::ready(Err(CimdError::Unavailable))
                    .boxed()
                    .shared(),
            );
        };
        if let Some(fetch) = in_flight.get(&key) {
            return Some(fetch.clone());
        }
        if self.key_sets.sets.contains_key(&key) {
            return None;
        }
        let this = Arc::clone(self);
        let uri = uri.to_owned();
        // Spawned, as document fetches are: a request that gives up cannot cancel it.
        let task = tokio::spawn(async move {
            let outcome =
                tokio::time::timeout(this.settings.fetch_timeout, this.load_key_set(&uri))
                    .await
                    .unwrap_or(Err(CimdError::Timeout));
            let answer = match outcome {
                Ok(cached) => {
                    let keys = Arc::clone(&cached.keys);
                    this.key_sets.sets.insert(key, cached).await;
                    Ok(keys)
                }
                // Failures are not cached: the per-host budget bounds how often they are retried.
                Err(e) => {
                    let error = e.to_string();
                    crate::audit::event("client.document.refused", "refused")
                        .reason("jwks_uri")
                        .detail(&error)
                        .info("client jwks_uri refused");
                    Err(e)
                }
            };
            if let Ok(mut in_flight) = this.key_sets.in_flight.lock() {
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

    async fn load_key_set(&self, uri: &str) -> Result<CachedSet, CimdError> {
        let url = check_url(uri, &self.settings)?;
        let outcome = self.fetch_body(&url).await;
        self.count(&outcome);
        let (body, cache_control) = outcome?;
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|_| CimdError::InvalidDocument("the jwks_uri answer is not JSON".into()))?;
        let keys = Jwks::parse(&value)
            .map_err(|e| CimdError::InvalidDocument(format!("jwks_uri: {e}")))?;
        Ok(CachedSet {
            keys: Arc::new(keys),
            ttl: cache_lifetime(
                cache_control.as_deref(),
                self.settings.cache_min,
                self.settings.cache_max,
            ),
            bytes: body.len(),
        })
    }
}
