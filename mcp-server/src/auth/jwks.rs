//! The auth-proxy's signing keys, fetched from its JWKS and cached. An unknown `kid` triggers
//! at most one refetch per cooldown, shared by all concurrent requests, so a flood of tokens
//! with random `kid`s costs at most one JWKS request per cooldown.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use url::Url;

use crate::metrics::Metrics;

/// Algorithms this server accepts on access tokens. Never `none`, never HMAC.
pub const ALLOWED_ALGORITHMS: [Algorithm; 2] = [Algorithm::ES256, Algorithm::EdDSA];

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("JWKS request failed: {0}")]
    Http(String),
    #[error("JWKS answer is not usable: {0}")]
    Invalid(String),
}

#[derive(Clone)]
pub struct VerifyingKey {
    pub algorithm: Algorithm,
    pub key: Arc<DecodingKey>,
}

/// The set, each key still raw: one unreadable key must not spoil the others.
#[derive(Deserialize)]
struct RawJwkSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Parses a JWK Set, keeping the signature keys this server can use (EC P-256 for ES256,
/// OKP Ed25519 for EdDSA) that carry a `kid`; anything else is skipped, not an error.
pub fn parse_jwks(body: &[u8]) -> Result<HashMap<String, VerifyingKey>, JwksError> {
    let set: RawJwkSet =
        serde_json::from_slice(body).map_err(|e| JwksError::Invalid(e.to_string()))?;
    let mut keys = HashMap::new();
    // A key this service cannot read (no `kty`, a member of the wrong type, an unknown kind)
    // is skipped like an unusable one; it does not make the whole set unreadable.
    for jwk in set
        .keys
        .into_iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
    {
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        let Some(kid) = jwk.kid else { continue };
        let parsed = match (jwk.kty.as_str(), jwk.crv.as_deref(), jwk.alg.as_deref()) {
            ("EC", Some("P-256"), None | Some("ES256")) => match (&jwk.x, &jwk.y) {
                (Some(x), Some(y)) => DecodingKey::from_ec_components(x, y)
                    .ok()
                    .map(|k| (Algorithm::ES256, k)),
                _ => None,
            },
            ("OKP", Some("Ed25519"), None | Some("EdDSA")) => jwk
                .x
                .as_deref()
                .and_then(|x| DecodingKey::from_ed_components(x).ok())
                .map(|k| (Algorithm::EdDSA, k)),
            _ => None,
        };
        if let Some((algorithm, key)) = parsed {
            keys.insert(
                kid,
                VerifyingKey {
                    algorithm,
                    key: Arc::new(key),
                },
            );
        }
    }
    Ok(keys)
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, VerifyingKey>,
    loaded: bool,
    /// When the key set was last fetched successfully.
    fetched_at: Option<Instant>,
}

pub struct JwksCache {
    http: reqwest::Client,
    authorization_server: String,
    /// Base URL to reach the authorization server at, when not its public issuer URL.
    internal_url: Option<Url>,
    configured_uri: Option<Url>,
    cooldown: Duration,
    cached: RwLock<Cached>,
    /// Single flight for fetches; holds when the last unknown-`kid` refetch was attempted.
    fetch: tokio::sync::Mutex<Option<Instant>>,
    discovered_uri: tokio::sync::Mutex<Option<Url>>,
    metrics: Metrics,
}

#[derive(Deserialize)]
struct AuthorizationServerMetadata {
    issuer: String,
    jwks_uri: Url,
}

impl JwksCache {
    pub fn new(
        http: reqwest::Client,
        authorization_server: String,
        internal_url: Option<Url>,
        configured_uri: Option<Url>,
        cooldown: Duration,
        metrics: Metrics,
    ) -> Self {
        Self {
            http,
            authorization_server,
            internal_url,
            configured_uri,
            cooldown,
            cached: RwLock::new(Cached::default()),
            fetch: tokio::sync::Mutex::new(None),
            discovered_uri: tokio::sync::Mutex::new(None),
            metrics,
        }
    }

    /// A cache holding `keys` from the start and never fetching (benchmarks, embedding).
    pub fn with_keys(keys: HashMap<String, VerifyingKey>, metrics: Metrics) -> Self {
        let cache = Self::new(
            reqwest::Client::new(),
            String::new(),
            None,
            None,
            Duration::from_secs(3600),
            metrics,
        );
        cache.install(keys);
        cache
    }

    /// Makes `keys` the current key set (a successful fetch).
    fn install(&self, keys: HashMap<String, VerifyingKey>) {
        if let Ok(mut cached) = self.cached.write() {
            cached.keys = keys;
            cached.loaded = true;
            cached.fetched_at = Some(mcp_shared::ops::clock::monotonic());
        }
    }

    /// Whether a key set has been loaded at least once.
    pub fn is_loaded(&self) -> bool {
        self.cached.read().map(|c| c.loaded).unwrap_or(false)
    }

    /// Readiness: a key set was fetched successfully within `max_staleness`. Tokens keep being
    /// validated with the cached keys meanwhile; readiness only tells the load balancer that
    /// this replica has lost its authorization server for longer than that.
    pub fn is_fresh(&self, max_staleness: Duration) -> bool {
        self.cached
            .read()
            .ok()
            .and_then(|c| c.fetched_at)
            .is_some_and(|t| t.elapsed() <= max_staleness)
    }

    fn lookup(&self, kid: &str) -> Option<VerifyingKey> {
        self.cached.read().ok()?.keys.get(kid).cloned()
    }

    /// Whether `key` is still the current key for `kid`, without fetching. A refresh builds a
    /// new key object even for an unchanged key, so after a refresh this is false until the
    /// token is verified again: cheap, and it never keeps a key that left the set.
    pub fn is_current(&self, kid: &str, key: &Arc<DecodingKey>) -> bool {
        self.cached
            .read()
            .ok()
            .and_then(|c| c.keys.get(kid).map(|k| Arc::ptr_eq(&k.key, key)))
            .unwrap_or(false)
    }

    /// The key for `kid`; an unknown `kid` refetches the set unless a fetch happened within the
    /// cooldown.
    pub async fn key(&self, kid: &str) -> Option<VerifyingKey> {
        if let Some(k) = self.lookup(kid) {
            return Some(k);
        }
        let mut last = self.fetch.lock().await;
        // Another request may have refetched while this one waited.
        if let Some(k) = self.lookup(kid) {
            return Some(k);
        }
        if last.is_some_and(|t| t.elapsed() < self.cooldown) {
            self.metrics
                .jwks_refreshes
                .with_label_values(&["cooldown"])
                .inc();
            return None;
        }
        *last = Some(mcp_shared::ops::clock::monotonic());
        if let Err(e) = self.fetch_now().await {
            tracing::warn!(error = %e, "JWKS refetch for an unknown key id failed");
        }
        drop(last);
        self.lookup(kid)
    }

    /// Fetches the key set now, whatever the cooldown (startup and periodic refresh).
    /// Does not start the unknown-`kid` cooldown: a key rotated in right after a scheduled
    /// refresh is still found on its first use.
    pub async fn refresh(&self) -> Result<(), JwksError> {
        let _single_flight = self.fetch.lock().await;
        self.fetch_now().await
    }

    async fn jwks_uri(&self) -> Result<Url, JwksError> {
        if let Some(u) = &self.configured_uri {
            return Ok(u.clone());
        }
        let mut discovered = self.discovered_uri.lock().await;
        if let Some(u) = discovered.as_ref() {
            return Ok(u.clone());
        }
        let base = self
            .internal_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .unwrap_or_else(|| self.authorization_server.clone());
        let url = format!("{base}{}", mcp_shared::paths::AUTHORIZATION_SERVER_METADATA);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| JwksError::Http(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(JwksError::Http(format!(
                "authorization server metadata answered {}",
                response.status()
            )));
        }
        let metadata: AuthorizationServerMetadata = response
            .json()
            .await
            .map_err(|e| JwksError::Invalid(e.without_url().to_string()))?;
        if metadata.issuer.trim_end_matches('/') != self.authorization_server {
            return Err(JwksError::Invalid(format!(
                "metadata issuer {} is not the configured authorization server",
                metadata.issuer
            )));
        }
        // The metadata names public URLs; reached internally, keep the path on the internal base.
        let jwks_uri = match &self.internal_url {
            Some(internal) => {
                let mut u = internal.clone();
                u.set_path(metadata.jwks_uri.path());
                u
            }
            None => metadata.jwks_uri,
        };
        *discovered = Some(jwks_uri.clone());
        Ok(jwks_uri)
    }

    async fn fetch_now(&self) -> Result<(), JwksError> {
        let result = async {
            let uri = self.jwks_uri().await?;
            let response = self
                .http
                .get(uri)
                .send()
                .await
                .map_err(|e| JwksError::Http(e.without_url().to_string()))?;
            if !response.status().is_success() {
                return Err(JwksError::Http(format!(
                    "JWKS answered {}",
                    response.status()
                )));
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| JwksError::Http(e.without_url().to_string()))?;
            let keys = parse_jwks(&body)?;
            if keys.is_empty() {
                return Err(JwksError::Invalid("no usable signing key".into()));
            }
            Ok(keys)
        }
        .await;
        match result {
            Ok(keys) => {
                self.install(keys);
                self.metrics.jwks_refreshes.with_label_values(&["ok"]).inc();
                Ok(())
            }
            Err(e) => {
                self.metrics
                    .jwks_refreshes
                    .with_label_values(&["error"])
                    .inc();
                Err(e)
            }
        }
    }
}

#[cfg(test)]
impl JwksCache {
    /// Replaces the key set as a refresh would (key rotation in tests).
    pub(crate) fn replace_keys(&self, keys: HashMap<String, VerifyingKey>) {
        self.install(keys);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_usable_signature_keys() {
        let body = br#"{"keys":[
            {"kty":"EC","crv":"P-256","kid":"a","use":"sig","alg":"ES256",
             "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty":"EC","crv":"P-256","kid":"enc","use":"enc",
             "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty":"oct","kid":"h","k":"c2VjcmV0"},
            {"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"},
            {"kty":"EC","crv":"P-256","use":"sig",
             "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]}"#;
        let keys = parse_jwks(body).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys["a"].algorithm, Algorithm::ES256);
    }

    #[test]
    fn rejects_a_document_that_is_not_a_key_set() {
        assert!(parse_jwks(b"{\"nokeys\":1}").is_err());
        assert!(parse_jwks(b"<html>").is_err());
    }

    #[test]
    fn an_unreadable_key_does_not_spoil_the_set() {
        // Found by the property tests: `{"keys":[{}]}` used to make the whole set unreadable,
        // so one odd key at the authorization server locked every token out.
        assert!(parse_jwks(br#"{"keys":[{}]}"#).unwrap().is_empty());
        let good = r#"{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        let set = format!(r#"{{"keys":[{{"kid":7}},{{"kty":1}},{good}]}}"#);
        let keys = parse_jwks(set.as_bytes()).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["ed"]);
    }
}
