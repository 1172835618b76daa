//! RFC 8693 token exchange at the auth-proxy: trades a validated proxy access token for the
//! user's upstream (Nextcloud-accepted) access token. Results are cached per grant until
//! shortly before they expire, and concurrent calls for one grant share one exchange, so a
//! burst of tool calls costs one exchange.

use std::time::{Duration, Instant};

use mcp_shared::token_exchange::{ACCESS_TOKEN_TYPE, GRANT_TYPE};
use mcp_shared::Secret;
use moka::future::Cache;
use serde::Deserialize;

use crate::auth::BearerToken;
use crate::metrics::Metrics;

/// Exchanged tokens are dropped this long before they expire.
const EXPIRY_MARGIN_SECS: i64 = 30;
/// Without `expires_in`, an exchanged token is reused for at most this long.
const DEFAULT_LIFETIME_SECS: i64 = 60;
/// Upper bound on cached entries (least recently used go first).
const MAX_ENTRIES: u64 = 10_000;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ExchangeError {
    /// The auth-proxy refused: the grant was revoked or the user must sign in again.
    #[error("the authorization server refused the token exchange ({0})")]
    Refused(String),
    /// The auth-proxy could not be reached or failed.
    #[error("the authorization server is unavailable")]
    Unavailable,
    /// Misconfiguration (no client secret, wrong client credentials).
    #[error("token exchange is not configured correctly: {0}")]
    Misconfigured(String),
}

#[derive(Debug, Clone)]
pub struct UpstreamToken {
    pub access_token: Secret,
    /// Unix seconds after which the cache must not hand it out.
    pub reuse_until: i64,
}

/// An entry lives until its token's `reuse_until` (expiry minus the safety margin, bounded by
/// the MCP client's own token).
struct UntilReuseEnds;

impl moka::Expiry<String, UpstreamToken> for UntilReuseEnds {
    fn expire_after_create(
        &self,
        _grant_id: &String,
        token: &UpstreamToken,
        _at: Instant,
    ) -> Option<Duration> {
        let left = token.reuse_until.saturating_sub(crate::clock::now());
        Some(Duration::from_secs(u64::try_from(left).unwrap_or(0)))
    }
}

#[derive(Deserialize)]
struct ExchangeResponse {
    access_token: String,
    issued_token_type: Option<String>,
    token_type: Option<String>,
    expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
}

pub struct ExchangeClient {
    http: reqwest::Client,
    token_endpoint: String,
    client_id: String,
    client_secret: Option<Secret>,
    /// By grant id.
    cache: Cache<String, UpstreamToken>,
    metrics: Metrics,
}

impl ExchangeClient {
    pub fn new(
        http: reqwest::Client,
        authorization_server: &str,
        client_id: String,
        client_secret: Option<Secret>,
        metrics: Metrics,
    ) -> Self {
        Self {
            http,
            token_endpoint: format!("{authorization_server}{}", mcp_shared::paths::TOKEN),
            client_id,
            client_secret,
            cache: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .expire_after(UntilReuseEnds)
                .build(),
            metrics,
        }
    }

    /// Drops the cached token for a grant (Nextcloud refused it).
    pub async fn forget(&self, grant_id: &str) {
        self.cache.invalidate(grant_id).await;
    }

    /// The upstream token for this grant, from cache or by exchanging `subject`.
    /// `subject_expires_at` bounds the cache lifetime: once the MCP client's token has
    /// expired, its exchanged token is not reused either.
    pub async fn upstream_token(
        &self,
        grant_id: &str,
        subject: &BearerToken,
        subject_expires_at: i64,
        now: i64,
    ) -> Result<UpstreamToken, ExchangeError> {
        // One exchange per grant at a time: concurrent callers wait for it and share its
        // answer (an error included; errors are not cached).
        let mut result = self
            .exchange_once(grant_id, subject, subject_expires_at, now)
            .await;
        if let Ok((token, false)) = &result {
            // Expiry runs on the cache's own timer; `now` (the caller's clock) decides too.
            if token.reuse_until <= now {
                self.cache.invalidate(grant_id).await;
                result = self
                    .exchange_once(grant_id, subject, subject_expires_at, now)
                    .await;
            }
        }
        let outcome = match &result {
            Ok((_, true)) => "ok",
            Ok((_, false)) => "cached",
            Err(_) => "error",
        };
        self.metrics
            .token_exchanges
            .with_label_values(&[outcome])
            .inc();
        result.map(|(token, _)| token)
    }

    /// The cached token, or the one this call (or a concurrent one) exchanged; `true` when
    /// this call did the exchange.
    async fn exchange_once(
        &self,
        grant_id: &str,
        subject: &BearerToken,
        subject_expires_at: i64,
        now: i64,
    ) -> Result<(UpstreamToken, bool), ExchangeError> {
        let entry = self
            .cache
            .entry_by_ref(grant_id)
            .or_try_insert_with(self.exchange(subject, subject_expires_at, now))
            .await
            .map_err(|e| (*e).clone())?;
        let fresh = entry.is_fresh();
        Ok((entry.into_value(), fresh))
    }

    async fn exchange(
        &self,
        subject: &BearerToken,
        subject_expires_at: i64,
        now: i64,
    ) -> Result<UpstreamToken, ExchangeError> {
        let secret = self.client_secret.as_ref().ok_or_else(|| {
            ExchangeError::Misconfigured("MCP_SERVER_CLIENT_SECRET is not set".into())
        })?;
        let form = [
            ("grant_type", GRANT_TYPE),
            ("subject_token", subject.expose()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
        ];
        let response = self
            .http
            .post(&self.token_endpoint)
            .basic_auth(
                form_urlencode(&self.client_id),
                Some(form_urlencode(secret.expose())),
            )
            .form(&form)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e.without_url(), "token exchange request failed");
                ExchangeError::Unavailable
            })?;
        let status = response.status();
        if status.is_success() {
            let body: ExchangeResponse = response.json().await.map_err(|_| {
                tracing::warn!("token exchange answered with an unreadable body");
                ExchangeError::Unavailable
            })?;
            if body
                .issued_token_type
                .as_deref()
                .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
                || body
                    .token_type
                    .as_deref()
                    .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
            {
                return Err(ExchangeError::Misconfigured(
                    "the exchange returned a token that is not a bearer access token".into(),
                ));
            }
            let lifetime = body.expires_in.unwrap_or(DEFAULT_LIFETIME_SECS);
            let reuse_until = (now + lifetime - EXPIRY_MARGIN_SECS).min(subject_expires_at);
            return Ok(UpstreamToken {
                access_token: Secret::new(body.access_token),
                reuse_until,
            });
        }
        let error = response
            .json::<ErrorResponse>()
            .await
            .map(|e| e.error)
            .unwrap_or_else(|_| status.to_string());
        match (status.as_u16(), error.as_str()) {
            (401, _) | (_, "invalid_client" | "unauthorized_client") => {
                tracing::error!(%error, "the auth-proxy refused this server's client credentials");
                Err(ExchangeError::Misconfigured(format!(
                    "the authorization server refused the client credentials ({error})"
                )))
            }
            (400, _) => Err(ExchangeError::Refused(error)),
            _ => {
                tracing::warn!(status = status.as_u16(), "token exchange failed");
                Err(ExchangeError::Unavailable)
            }
        }
    }
}

/// RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding.
fn form_urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use actix_web::{web, App, HttpResponse, HttpServer};

    use super::*;

    /// A stand-in token endpoint: counts exchanges, answers slowly enough for calls to
    /// overlap, with `status` and an `expires_in` of 3600 s.
    async fn token_endpoint(status: u16) -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            let counter = counter.clone();
            App::new().route(
                mcp_shared::paths::TOKEN,
                web::post().to(move || {
                    let counter = counter.clone();
                    async move {
                        let n = counter.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        if status != 200 {
                            return HttpResponse::BadRequest()
                                .json(serde_json::json!({"error": "invalid_grant"}));
                        }
                        HttpResponse::Ok().json(serde_json::json!({
                            "access_token": format!("upstream-{n}"),
                            "issued_token_type": ACCESS_TOKEN_TYPE,
                            "token_type": "Bearer",
                            "expires_in": 3600,
                        }))
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        (format!("http://127.0.0.1:{port}"), hits)
    }

    fn client(base: &str, metrics: &Metrics) -> ExchangeClient {
        ExchangeClient::new(
            reqwest::Client::new(),
            base,
            "mcp-server".into(),
            Some(Secret::new("exchange-secret-0123456789")),
            metrics.clone(),
        )
    }

    fn outcomes(metrics: &Metrics, outcome: &str) -> u64 {
        metrics.token_exchanges.with_label_values(&[outcome]).get()
    }

    #[actix_web::test]
    async fn concurrent_calls_for_one_grant_share_one_exchange() {
        let (base, hits) = token_endpoint(200).await;
        let metrics = Metrics::new().unwrap();
        let exchange = client(&base, &metrics);
        let subject = BearerToken::new("proxy-token");
        let now = crate::clock::now();
        let calls = (0..8).map(|_| exchange.upstream_token("grant-1", &subject, now + 600, now));
        let tokens = futures_util::future::join_all(calls).await;
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        for token in tokens {
            let token = token.unwrap();
            assert_eq!(token.access_token.expose(), "upstream-0");
            // Bounded by the MCP client's own token, not the upstream lifetime.
            assert_eq!(token.reuse_until, now + 600);
            assert!(!format!("{token:?}").contains("upstream-0"));
        }
        assert_eq!(
            (outcomes(&metrics, "ok"), outcomes(&metrics, "cached")),
            (1, 7)
        );

        // Another grant is another exchange.
        exchange
            .upstream_token("grant-2", &subject, now + 600, now)
            .await
            .unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[actix_web::test]
    async fn expired_or_forgotten_tokens_are_exchanged_again() {
        let (base, hits) = token_endpoint(200).await;
        let metrics = Metrics::new().unwrap();
        let exchange = client(&base, &metrics);
        let subject = BearerToken::new("proxy-token");
        let now = crate::clock::now();
        let first = exchange
            .upstream_token("grant", &subject, now + 7200, now)
            .await
            .unwrap();
        // Lifetime minus the margin.
        assert_eq!(first.reuse_until, now + 3600 - EXPIRY_MARGIN_SECS);
        // The caller's clock decides as well as the cache's timer.
        let later = exchange
            .upstream_token("grant", &subject, now + 7200, first.reuse_until)
            .await
            .unwrap();
        assert_eq!(later.access_token.expose(), "upstream-1");
        exchange.forget("grant").await;
        exchange
            .upstream_token("grant", &subject, now + 7200, now)
            .await
            .unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 3);
    }

    #[actix_web::test]
    async fn refusals_are_not_cached() {
        let (base, hits) = token_endpoint(400).await;
        let metrics = Metrics::new().unwrap();
        let exchange = client(&base, &metrics);
        let subject = BearerToken::new("proxy-token");
        let now = crate::clock::now();
        for _ in 0..2 {
            let err = exchange
                .upstream_token("grant", &subject, now + 600, now)
                .await
                .unwrap_err();
            assert!(matches!(err, ExchangeError::Refused(ref e) if e == "invalid_grant"));
        }
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        assert_eq!(outcomes(&metrics, "error"), 2);
    }
}
