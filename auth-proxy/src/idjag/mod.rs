//! Enterprise-Managed Authorization (ADR 0020): the trusted ID-JAG issuers ([`issuers`]) and
//! their keys, and the signature side of checking an ID-JAG. The claim rules are the pure
//! [`crate::oauth::idjag`]; the `jti` claim and the grant are the token handler's.
//!
//! A `jwks_uri` is fetched with its own small client: no redirects, the upstream timeout, at
//! most [`MAX_JWKS_BYTES`]. The set is cached for [`KEYS_TTL`]; a `kid` it does not know
//! may mean the IdP rotated its keys, so the set is fetched again, at most once per issuer per
//! [`REFETCH_COOLDOWN`] (assertions naming made-up kids cannot turn into a fetch each). A
//! failed fetch keeps the keys already held: an unreachable IdP does not stop assertions
//! signed with a key we know, and never brings back a key the IdP has dropped.

pub mod issuers;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::clock::Clock;
use crate::jose::{self, JoseError, Jwks};
use crate::oauth::idjag::{Refusal, TYP};
pub use issuers::{load, IssuersError, KeySource, TrustedIssuer};

/// Largest key set accepted from a `jwks_uri`.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// How long a fetched key set is used before it is fetched again.
pub const KEYS_TTL: Duration = Duration::from_secs(3600);
/// Shortest time between two fetches of one issuer's keys for an unknown `kid`.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(60);

#[derive(Default)]
struct KeyCache {
    keys: Option<Arc<Jwks>>,
    /// Unix milliseconds, from the service's clock.
    fetched_at: Option<i64>,
    refetched_at: Option<i64>,
}

struct Issuer {
    trusted: TrustedIssuer,
    /// Held across a fetch: one fetch per issuer at a time, the others wait for its answer.
    cache: Mutex<KeyCache>,
}

/// The trusted issuers with their key caches; empty when the grant is off.
pub struct IdJagIssuers {
    issuers: Vec<Issuer>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for IdJagIssuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdJagIssuers")
            .field("issuers", &self.issuers.len())
            .finish()
    }
}

/// A signature-checked ID-JAG: its issuer and claims, for the claim rules.
#[derive(Debug)]
pub struct VerifiedAssertion<'a> {
    pub issuer: &'a TrustedIssuer,
    pub claims: Map<String, Value>,
}

impl IdJagIssuers {
    pub fn new(
        issuers: Vec<TrustedIssuer>,
        timeout: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()?;
        Ok(Self {
            issuers: issuers
                .into_iter()
                .map(|trusted| Issuer {
                    trusted,
                    cache: Mutex::new(KeyCache::default()),
                })
                .collect(),
            http,
            clock,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    pub fn len(&self) -> usize {
        self.issuers.len()
    }

    /// Whether some issuer's entry vouches for `client_id` using the grant.
    pub fn vouches_for(&self, client_id: &str) -> bool {
        self.issuers
            .iter()
            .any(|i| i.trusted.clients.iter().any(|c| c == client_id))
    }

    /// Checks the JWS of `assertion`: shape and header rules (`typ`, algorithm allowed for
    /// any issuer), `iss` trusted (an unknown one costs nothing), the algorithm allowed for
    /// that issuer, the signature by one of its keys (an unknown `kid` refetches once).
    pub async fn verify(&self, assertion: &str) -> Result<VerifiedAssertion<'_>, Refusal> {
        let all_algs: Vec<_> = self
            .issuers
            .iter()
            .flat_map(|i| i.trusted.algs.iter().copied())
            .collect();
        jose::read_header(assertion, &all_algs, Some(TYP))?;
        let unverified = jose::unverified_claims(assertion)?;
        let iss = unverified.get("iss").and_then(Value::as_str);
        let issuer = self
            .issuers
            .iter()
            .find(|i| Some(i.trusted.issuer.as_str()) == iss)
            .ok_or(Refusal::UntrustedIssuer)?;
        let algs = &issuer.trusted.algs;
        let keys = match &issuer.trusted.keys {
            KeySource::Inline(keys) => Arc::clone(keys),
            KeySource::Remote(_) => self.keys(issuer, false).await?,
        };
        let verified = match jose::verify(assertion, &keys, algs, Some(TYP)) {
            Err(JoseError::UnknownKey) if matches!(issuer.trusted.keys, KeySource::Remote(_)) => {
                let keys = self.keys(issuer, true).await?;
                jose::verify(assertion, &keys, algs, Some(TYP))?
            }
            other => other?,
        };
        // Signed by this issuer's key: the claims are now the issuer's word.
        Ok(VerifiedAssertion {
            issuer: &issuer.trusted,
            claims: verified.claims,
        })
    }

    async fn keys(&self, issuer: &Issuer, unknown_kid: bool) -> Result<Arc<Jwks>, Refusal> {
        let KeySource::Remote(uri) = &issuer.trusted.keys else {
            return Err(Refusal::KeysUnavailable);
        };
        let mut cache = issuer.cache.lock().await;
        let now = self.clock.now_millis();
        let older_than = |at: Option<i64>, age: Duration| {
            at.is_none_or(|at| {
                now.saturating_sub(at) >= i64::try_from(age.as_millis()).unwrap_or(i64::MAX)
            })
        };
        let stale = older_than(cache.fetched_at, KEYS_TTL);
        let refetch = unknown_kid && older_than(cache.refetched_at, REFETCH_COOLDOWN);
        if !stale && !refetch {
            if let Some(keys) = &cache.keys {
                return Ok(Arc::clone(keys));
            }
        }
        if refetch {
            cache.refetched_at = Some(now);
        }
        match self.fetch(uri).await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                cache.keys = Some(Arc::clone(&keys));
                cache.fetched_at = Some(now);
                Ok(keys)
            }
            Err(e) => {
                tracing::warn!(issuer = %issuer.trusted.issuer, error = %e, "ID-JAG issuer keys could not be fetched");
                // Try again soon, not at every request.
                cache.fetched_at = cache.keys.as_ref().map(|_| now);
                cache.keys.clone().ok_or(Refusal::KeysUnavailable)
            }
        }
    }

    async fn fetch(&self, uri: &url::Url) -> Result<Jwks, String> {
        let mut response = self
            .http
            .get(uri.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading failed: {e}"))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err("the key set is larger than 64 KiB".into());
            }
            body.extend_from_slice(&chunk);
        }
        let value: Value =
            serde_json::from_slice(&body).map_err(|_| "the answer is not JSON".to_owned())?;
        Jwks::parse(&value).map_err(|e| e.to_string())
    }
}
