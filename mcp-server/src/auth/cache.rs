//! The verified-token cache: an access token that passed every check once is not checked
//! again on each request (the signature check alone is most of the cost of an authenticated
//! request), until its time runs out.
//!
//! - Key: SHA-256 of the whole token; the token itself is not stored. Only a token that passed
//!   full verification is ever inserted, so this cache cannot be grown by sending it garbage:
//!   each entry costs the sender a valid signed token.
//! - Refusals have a cache of their own, fixed in size ([`MAX_REFUSALS`] entries, each kept
//!   [`REFUSAL_TTL`] at most): a token refused after its signature check for a reason only a
//!   change of that key could undo (a bad signature, an expired token, another audience) is
//!   refused again from it while that key is still the JWKS's key for the `kid`. A client
//!   retrying a stale token, or a flood of one forged token, then costs a hash instead of a
//!   signature check. Sending many different forgeries costs what it did (each still gets a
//!   full check) and cannot grow memory past the fixed bound; moka's admission policy keeps
//!   the tokens seen often over one-off ones. Refusals decided before the signature check
//!   (malformed, unknown key, wrong algorithm) are cheap and are not remembered, nor is "not
//!   valid yet" (time undoes it).
//! - A hit re-applies the verifier's time rule ([`AccessTokenClaims::validate_time`], with the
//!   same leeway) at the request's time, so the cache never accepts a token the verifier would
//!   refuse at that moment. Entries are evicted once that rule would fail.
//! - A hit also requires the key that signed the token to still be the JWKS's key for its
//!   `kid`: a key rotated out stops being honoured from the cache at the next JWKS refresh,
//!   as it stops being honoured by the verifier.
//! - Revocation is not decided here: since issue 12 a revoked token or grant is refused by the
//!   token exchange the guard runs before every tool call, cached token or not.
//! - Bounded in memory by a weigher ([`MAX_WEIGHT`] bytes, each entry weighing at least
//!   [`MIN_ENTRY_WEIGHT`]), which bounds the number of entries too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use mcp_shared::AccessTokenClaims;
use moka::future::Cache;
use moka::Expiry;
use ring::digest::{digest, SHA256};

use super::{principal, Principal, TokenError, Verifier};
use crate::metrics::Metrics;

/// Memory the cache may hold, as weighed below (about 10,000 typical tokens).
pub const MAX_WEIGHT: u64 = 16 * 1024 * 1024;
/// The least an entry weighs, whatever its size: at most `MAX_WEIGHT / MIN_ENTRY_WEIGHT`
/// (32,768) entries.
pub const MIN_ENTRY_WEIGHT: u32 = 512;
/// Refusals remembered at most (each a hash, a `kid` and a shared key handle: well under 1 MiB).
pub const MAX_REFUSALS: u64 = 4096;
/// How long a refusal is remembered at most.
pub const REFUSAL_TTL: Duration = Duration::from_secs(300);

type TokenHash = [u8; 32];

struct Entry {
    claims: AccessTokenClaims,
    kid: String,
    key: Arc<DecodingKey>,
    /// From insertion to the end of the token's validity (exp + leeway), for eviction.
    lifetime: Duration,
}

impl Entry {
    /// Approximate heap and inline size, in bytes.
    fn weight(&self) -> u32 {
        let c = &self.claims;
        let strings = c.iss.len()
            + c.sub.len()
            + c.aud.len()
            + c.client_id.len()
            + c.jti.len()
            + c.gid.len()
            + self.kid.len();
        // Scopes are a small set of enum values; 256 covers the entry, its map slot and them.
        let weight = u32::try_from(strings + 256).unwrap_or(u32::MAX);
        weight.max(MIN_ENTRY_WEIGHT)
    }
}

struct UntilTokenEnds;

impl Expiry<TokenHash, Arc<Entry>> for UntilTokenEnds {
    fn expire_after_create(
        &self,
        _key: &TokenHash,
        value: &Arc<Entry>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.lifetime)
    }
}

/// A remembered refusal: the answer, and the key it was decided against.
struct Refusal {
    error: TokenError,
    kid: String,
    key: Arc<DecodingKey>,
}

/// The [`Verifier`] in front of the verified-token cache: what the bearer guard calls.
pub struct CachedVerifier {
    pub verifier: Verifier,
    entries: Cache<TokenHash, Arc<Entry>>,
    refusals: Cache<TokenHash, Arc<Refusal>>,
    metrics: Metrics,
}

impl CachedVerifier {
    pub fn new(verifier: Verifier, metrics: Metrics) -> Self {
        Self::with_capacity(verifier, metrics, MAX_WEIGHT, MAX_REFUSALS)
    }

    /// A cache holding at most `max_weight` bytes of verified tokens (as weighed by
    /// [`Entry::weight`]) and at most `max_refusals` refusals.
    pub fn with_capacity(
        verifier: Verifier,
        metrics: Metrics,
        max_weight: u64,
        max_refusals: u64,
    ) -> Self {
        let entries = Cache::builder()
            .max_capacity(max_weight)
            .weigher(|_: &TokenHash, entry: &Arc<Entry>| entry.weight())
            .expire_after(UntilTokenEnds)
            .build();
        let refusals = Cache::builder()
            .max_capacity(max_refusals)
            .time_to_live(REFUSAL_TTL)
            .build();
        Self {
            verifier,
            entries,
            refusals,
            metrics,
        }
    }

    fn count(&self, outcome: &str) {
        self.metrics.token_cache.with_label_values(&[outcome]).inc();
    }

    /// Validates `token` at time `now` (Unix seconds): from the cache when this token was fully
    /// verified before and every reason it was accepted still holds, else by full verification.
    pub async fn verify(&self, token: &str, now: i64) -> Result<Principal, TokenError> {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
        if let Some(entry) = self.entries.get(&hash).await {
            let usable = entry
                .claims
                .validate_time(now, self.verifier.leeway)
                .is_ok()
                && self.verifier.jwks.is_current(&entry.kid, &entry.key);
            if usable {
                self.count("hit");
                return Ok(principal(token, &entry.claims));
            }
            // Expired, or its key rotated out (or refreshed): verify again from scratch.
            self.entries.invalidate(&hash).await;
            self.count("stale");
        } else if let Some(refusal) = self.refusals.get(&hash).await {
            if self.verifier.jwks.is_current(&refusal.kid, &refusal.key) {
                self.count("refusal_hit");
                return Err(refusal.error.clone());
            }
            // Decided against a key that is gone or replaced: decide again.
            self.refusals.invalidate(&hash).await;
            self.count("stale");
        } else {
            self.count("miss");
        }
        let verified = match self.verifier.verify_fully(token, now).await {
            Ok(verified) => verified,
            Err(refused) => {
                if let Some((kid, key)) = refused.settled_by {
                    let refusal = Refusal {
                        error: refused.error.clone(),
                        kid,
                        key,
                    };
                    self.refusals.insert(hash, Arc::new(refusal)).await;
                }
                return Err(refused.error);
            }
        };
        let principal = principal(token, &verified.claims);
        let ends = verified.claims.exp.saturating_add(self.verifier.leeway);
        // Verified above, so `ends > now`; a non-positive remainder is not cached all the same.
        if let Some(lifetime) = ends
            .checked_sub(now)
            .and_then(|s| u64::try_from(s).ok())
            .filter(|&s| s > 0)
        {
            let entry = Entry {
                claims: verified.claims,
                kid: verified.kid,
                key: verified.key,
                lifetime: Duration::from_secs(lifetime),
            };
            self.entries.insert(hash, Arc::new(entry)).await;
        }
        Ok(principal)
    }

    /// Entries now held (after pending evictions ran); for tests and diagnostics.
    pub async fn entry_count(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.entry_count()
    }

    /// The weighed size now held (after pending evictions ran).
    pub async fn weighted_size(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.weighted_size()
    }

    /// Refusals now remembered (after pending evictions ran).
    pub async fn refusal_count(&self) -> u64 {
        self.refusals.run_pending_tasks().await;
        self.refusals.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair};
    use serde_json::json;

    use super::*;
    use crate::auth::jwks::{parse_jwks, JwksCache, VerifyingKey};

    const ISSUER: &str = "https://auth.example";
    const AUDIENCE: &str = "https://mcp.example/mcp";
    const NOW: i64 = 1_700_000_000;
    const LEEWAY: i64 = 30;

    struct SigningKey {
        kid: String,
        encoding: EncodingKey,
        jwk: serde_json::Value,
    }

    fn signing_key(kid: &str) -> SigningKey {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        SigningKey {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "OKP", "crv": "Ed25519", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            }),
        }
    }

    fn key_set(keys: &[&SigningKey]) -> HashMap<String, VerifyingKey> {
        let jwks = json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
        parse_jwks(jwks.to_string().as_bytes()).unwrap()
    }

    fn token(key: &SigningKey, jti: &str, exp: i64) -> String {
        let claims = json!({
            "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "client_id": "client-1",
            "scope": "notes:read", "iat": NOW, "nbf": NOW, "exp": exp, "jti": jti, "gid": "g",
        });
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
    }

    fn cached_verifier(keys: &[&SigningKey], max_weight: u64) -> (CachedVerifier, Metrics) {
        let metrics = Metrics::new().unwrap();
        let jwks = Arc::new(JwksCache::with_keys(key_set(keys), metrics.clone()));
        let verifier = Verifier {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            leeway: LEEWAY,
            jwks,
        };
        (
            CachedVerifier::with_capacity(verifier, metrics.clone(), max_weight, MAX_REFUSALS),
            metrics,
        )
    }

    /// Full verifications so far: every lookup that was not a hit.
    fn full_verifications(metrics: &Metrics) -> u64 {
        ["miss", "stale"]
            .iter()
            .map(|o| metrics.token_cache.with_label_values(&[o]).get())
            .sum()
    }

    fn hits(metrics: &Metrics) -> u64 {
        metrics.token_cache.with_label_values(&["hit"]).get()
    }

    #[tokio::test]
    async fn a_second_use_of_a_verified_token_skips_verification() {
        let key = signing_key("k1");
        let (cache, metrics) = cached_verifier(&[&key], MAX_WEIGHT);
        let t = token(&key, "j1", NOW + 300);
        let first = cache.verify(&t, NOW).await.unwrap();
        for _ in 0..5 {
            let again = cache.verify(&t, NOW + 10).await.unwrap();
            assert_eq!(again.subject, first.subject);
            assert_eq!(again.scopes, first.scopes);
            match &again.credential {
                crate::auth::Credential::AccessToken {
                    token, expires_at, ..
                } => {
                    assert_eq!(token.expose(), t);
                    assert_eq!(*expires_at, NOW + 300);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(full_verifications(&metrics), 1);
        assert_eq!(hits(&metrics), 5);
    }

    #[tokio::test]
    async fn an_expired_entry_is_not_served() {
        let key = signing_key("k1");
        let (cache, metrics) = cached_verifier(&[&key], MAX_WEIGHT);
        let t = token(&key, "j1", NOW + 300);
        cache.verify(&t, NOW).await.unwrap();
        // The verifier's rule: valid while now < exp + leeway.
        cache.verify(&t, NOW + 300 + LEEWAY - 1).await.unwrap();
        assert_eq!(hits(&metrics), 1);
        assert_eq!(
            cache.verify(&t, NOW + 300 + LEEWAY).await.unwrap_err(),
            TokenError::Expired
        );
        assert_eq!(hits(&metrics), 1, "served from the cache after its end");
        assert_eq!(
            cache.verify(&t, NOW + 300 + LEEWAY).await.unwrap_err(),
            TokenError::Expired
        );
        assert_eq!(cache.entry_count().await, 0);
    }

    #[tokio::test]
    async fn a_token_whose_key_was_rotated_out_is_refused() {
        let old = signing_key("old");
        let new = signing_key("new");
        let (cache, metrics) = cached_verifier(&[&old, &new], MAX_WEIGHT);
        let by_old = token(&old, "j1", NOW + 300);
        let by_new = token(&new, "j2", NOW + 300);
        cache.verify(&by_old, NOW).await.unwrap();
        cache.verify(&by_new, NOW).await.unwrap();
        cache.verify(&by_old, NOW).await.unwrap();
        assert_eq!(hits(&metrics), 1);

        cache.verifier.jwks.replace_keys(key_set(&[&new]));
        assert_eq!(
            cache.verify(&by_old, NOW).await.unwrap_err(),
            TokenError::UnknownKey
        );
        // The key still in the set: verified once more against the refreshed set, then cached.
        cache.verify(&by_new, NOW).await.unwrap();
        cache.verify(&by_new, NOW).await.unwrap();
        assert_eq!(hits(&metrics), 2);
    }

    fn refusal_hits(metrics: &Metrics) -> u64 {
        metrics
            .token_cache
            .with_label_values(&["refusal_hit"])
            .get()
    }

    fn token_with(key: &SigningKey, claims: serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
    }

    #[tokio::test]
    async fn a_settled_refusal_is_answered_again_without_a_signature_check() {
        let key = signing_key("k1");
        let forger = signing_key("k1");
        let (cache, metrics) = cached_verifier(&[&key], MAX_WEIGHT);
        let forged = token(&forger, "j1", NOW + 300);
        let expired = token(&key, "j2", NOW + 300);
        let elsewhere = token_with(
            &key,
            json!({
                "iss": ISSUER, "sub": "alice", "aud": "https://other.example/mcp", "client_id": "c",
                "scope": "notes:read", "iat": NOW, "exp": NOW + 300, "jti": "j3", "gid": "g",
            }),
        );
        for _ in 0..3 {
            assert_eq!(
                cache.verify(&forged, NOW).await.unwrap_err(),
                TokenError::Signature
            );
            assert_eq!(
                cache
                    .verify(&expired, NOW + 300 + LEEWAY)
                    .await
                    .unwrap_err(),
                TokenError::Expired
            );
            assert_eq!(
                cache.verify(&elsewhere, NOW).await.unwrap_err(),
                TokenError::Audience
            );
        }
        assert_eq!(full_verifications(&metrics), 3, "one full check per token");
        assert_eq!(refusal_hits(&metrics), 6);
        assert_eq!(hits(&metrics), 0);
        assert_eq!(
            cache.entry_count().await,
            0,
            "no refused token is in the verified cache"
        );
        assert_eq!(cache.refusal_count().await, 3);
    }

    #[tokio::test]
    async fn refusals_decided_before_the_signature_or_by_time_are_not_remembered() {
        let key = signing_key("k1");
        let unknown = signing_key("k9");
        let (cache, metrics) = cached_verifier(&[&key], MAX_WEIGHT);
        let early = token_with(
            &key,
            json!({
                "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "client_id": "c",
                "scope": "notes:read", "iat": NOW, "nbf": NOW + 600, "exp": NOW + 900,
                "jti": "j1", "gid": "g",
            }),
        );
        let by_unknown = token(&unknown, "j2", NOW + 300);
        for _ in 0..2 {
            assert!(cache.verify("garbage", NOW).await.is_err());
            assert_eq!(
                cache.verify(&by_unknown, NOW).await.unwrap_err(),
                TokenError::UnknownKey
            );
            assert_eq!(
                cache.verify(&early, NOW).await.unwrap_err(),
                TokenError::NotYetValid
            );
        }
        assert_eq!(refusal_hits(&metrics), 0);
        assert_eq!(cache.refusal_count().await, 0);
        // Not yet valid is not a settled answer: the same token is accepted once its time comes.
        cache.verify(&early, NOW + 600).await.unwrap();
    }

    #[tokio::test]
    async fn a_refusal_ends_with_the_key_it_was_decided_against() {
        // The forger's key arrives under the same kid (a key replaced in the JWKS): the token
        // it signed is now valid and must not be refused from memory.
        let old = signing_key("k1");
        let replacement = signing_key("k1");
        let (cache, metrics) = cached_verifier(&[&old], MAX_WEIGHT);
        let t = token(&replacement, "j1", NOW + 300);
        assert_eq!(
            cache.verify(&t, NOW).await.unwrap_err(),
            TokenError::Signature
        );
        assert_eq!(
            cache.verify(&t, NOW).await.unwrap_err(),
            TokenError::Signature
        );
        assert_eq!(refusal_hits(&metrics), 1);

        cache.verifier.jwks.replace_keys(key_set(&[&replacement]));
        let accepted = cache.verify(&t, NOW).await.unwrap();
        assert_eq!(accepted.subject, "alice");
        assert_eq!(refusal_hits(&metrics), 1);
        assert_eq!(cache.refusal_count().await, 0);
    }

    #[tokio::test]
    async fn many_different_forgeries_stay_within_the_refusal_bound() {
        let key = signing_key("k1");
        let forger = signing_key("k1");
        let metrics = Metrics::new().unwrap();
        let jwks = Arc::new(JwksCache::with_keys(key_set(&[&key]), metrics.clone()));
        let verifier = Verifier {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            leeway: LEEWAY,
            jwks,
        };
        let cache = CachedVerifier::with_capacity(verifier, metrics.clone(), MAX_WEIGHT, 16);
        for i in 0..500 {
            let forged = token(&forger, &format!("jti-{i}"), NOW + 300);
            assert_eq!(
                cache.verify(&forged, NOW).await.unwrap_err(),
                TokenError::Signature
            );
        }
        let held = cache.refusal_count().await;
        assert!((1..=16).contains(&held), "{held} refusals");
        assert_eq!(
            full_verifications(&metrics),
            500,
            "each new forgery gets a full check"
        );
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_weight() {
        let key = signing_key("k1");
        let max_weight = u64::from(MIN_ENTRY_WEIGHT) * 20;
        let (cache, _) = cached_verifier(&[&key], max_weight);
        for i in 0..200 {
            let t = token(&key, &format!("jti-{i}"), NOW + 300);
            cache.verify(&t, NOW).await.unwrap();
        }
        assert!(cache.weighted_size().await <= max_weight);
        let held = cache.entry_count().await;
        assert!((1..=20).contains(&held), "{held} entries");
    }
}
