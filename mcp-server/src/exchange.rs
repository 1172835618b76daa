//! RFC 8693 token exchange at the auth-proxy: trades a validated proxy access token for the
//! user's upstream (Nextcloud-accepted) access token. Results are cached per grant until
//! shortly before they expire, so a burst of tool calls costs one exchange.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

use crate::auth::BearerToken;
use crate::config::Secret;
use crate::metrics::Metrics;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Exchanged tokens are dropped this long before they expire.
const EXPIRY_MARGIN_SECS: i64 = 30;
/// Without `expires_in`, an exchanged token is reused for at most this long.
const DEFAULT_LIFETIME_SECS: i64 = 60;
/// Upper bound on cached entries; expired ones are swept first.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
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

#[derive(Clone)]
pub struct UpstreamToken {
    pub access_token: String,
    /// Unix seconds after which the cache must not hand it out.
    pub reuse_until: i64,
}

impl std::fmt::Debug for UpstreamToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamToken")
            .field("access_token", &"<redacted>")
            .field("reuse_until", &self.reuse_until)
            .finish()
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
    cache: Mutex<HashMap<String, UpstreamToken>>,
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
            cache: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    fn cached(&self, key: &str, now: i64) -> Option<UpstreamToken> {
        let cache = self.cache.lock().ok()?;
        cache.get(key).filter(|t| t.reuse_until > now).cloned()
    }

    fn remember(&self, key: &str, token: UpstreamToken, now: i64) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= MAX_ENTRIES {
            cache.retain(|_, t| t.reuse_until > now);
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key.to_owned(), token);
    }

    /// Drops the cached token for a grant (Nextcloud refused it).
    pub fn forget(&self, grant_id: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(grant_id);
        }
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
        if let Some(t) = self.cached(grant_id, now) {
            self.metrics
                .token_exchanges
                .with_label_values(&["cached"])
                .inc();
            return Ok(t);
        }
        let result = self.exchange(subject, subject_expires_at, now).await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.metrics
            .token_exchanges
            .with_label_values(&[outcome])
            .inc();
        let token = result?;
        self.remember(grant_id, token.clone(), now);
        Ok(token)
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
                access_token: body.access_token,
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
