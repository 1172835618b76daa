//! RFC 8693 token exchange at the auth-proxy: trades a validated proxy access token for the
//! credential this user's requests to Nextcloud carry. The auth-proxy decides its kind: the
//! user's upstream access token (Bearer), or a login name and app password (Basic, from
//! Nextcloud's Login Flow v2).
//!
//! The auth-proxy's answer is remembered per access token (not per grant), and only for the
//! revalidation interval (`MCP_SERVER_EXCHANGE_REVALIDATE_SECS`), however long the credential
//! itself would last: revoking the access token (its `jti` on the deny-list), its grant, or the
//! grant of a replayed code stops tool calls within that interval (ADR 0006). Refusals are
//! remembered just as long, so a revoked client's retries do not reach the auth-proxy each
//! time. One caller per token asks at a time; callers that arrive meanwhile wait and take its
//! answer, so a burst of tool calls costs one exchange.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use mcp_shared::token_exchange::{ACCESS_TOKEN_TYPE, GRANT_TYPE, NEXTCLOUD_BASIC_TOKEN_TYPE};
use mcp_shared::Secret;
use moka::future::Cache;
use moka::ops::compute::{CompResult, Op};
use serde::Deserialize;

use crate::auth::BearerToken;
use crate::metrics::Metrics;
use crate::nextcloud::NcAuth;

/// Exchanged credentials are dropped this long before they expire.
const EXPIRY_MARGIN_SECS: i64 = 30;
/// Without `expires_in`, an exchanged credential is reused for at most this long.
const DEFAULT_LIFETIME_SECS: i64 = 60;
/// Upper bound on cached entries (least recently used go first).
const MAX_ENTRIES: u64 = 10_000;
/// How long one exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(15);
/// An answer stays in memory this long after it stops serving new callers, so that callers
/// queued behind the exchange that produced it still find it (longer than one exchange).
const SETTLE: Duration = Duration::from_secs(30);

/// Default of `MCP_SERVER_EXCHANGE_REVALIDATE_SECS`.
pub const DEFAULT_REVALIDATE_SECS: u64 = 10;

/// Standard alphabet; padding is not insisted on, as HTTP Basic decoders do not either.
const BASIC_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, Clone, thiserror::Error)]
pub enum ExchangeError {
    /// The auth-proxy answered `invalid_grant`: the access token was revoked, its grant was
    /// revoked, or the app password it held for it is gone. Only signing in again helps.
    #[error("the authorization server refused the token exchange (invalid_grant)")]
    Refused,
    /// The auth-proxy could not be reached or failed.
    #[error("the authorization server is unavailable")]
    Unavailable,
    /// Misconfiguration (no client secret, wrong client credentials, an answer this server
    /// cannot use).
    #[error("token exchange is not configured correctly: {0}")]
    Misconfigured(String),
}

/// An exchanged credential and how long it may be reused.
#[derive(Debug, Clone)]
pub struct ExchangedCredential {
    /// What requests to Nextcloud carry for this grant (its secret part never shows in `Debug`).
    pub credential: NcAuth,
    /// Unix seconds after which the cache must not hand it out.
    pub reuse_until: i64,
    /// Which answer of the auth-proxy this is (its `Checked::seq`, see
    /// [`ExchangeClient::forget`]).
    generation: u64,
}

/// The cache key: SHA-256 of the access token. Each token is checked on its own, so one
/// revoked token is refused while another token of its grant still works.
#[derive(Clone, PartialEq, Eq, Hash)]
struct TokenKey([u8; 32]);

impl TokenKey {
    fn of(token: &BearerToken) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, token.expose().as_bytes());
        let mut key = [0; 32];
        key.copy_from_slice(digest.as_ref());
        Self(key)
    }
}

/// The auth-proxy's last answer for one access token.
#[derive(Clone)]
struct Checked {
    answer: Result<ExchangedCredential, ExchangeError>,
    /// When the auth-proxy answered (Unix seconds, the callers' clock: the asking caller's
    /// `now` plus how long the exchange took).
    at: i64,
    /// When it answered, in the order of arrivals and answers (`ExchangeClient::order`).
    seq: u64,
}

impl Checked {
    /// Whether this answer serves a caller that arrived as `ticket` at `now`.
    fn serves(&self, ticket: u64, now: i64, revalidate: i64) -> bool {
        if self.seq > ticket {
            // Answered after the caller arrived: the answer it would have got itself.
            return true;
        }
        match &self.answer {
            Ok(exchanged) => {
                now < self.at.saturating_add(revalidate) && now < exchanged.reuse_until
            }
            Err(ExchangeError::Refused) => now < self.at.saturating_add(revalidate),
            // Failures only serve the callers that waited for them.
            Err(_) => false,
        }
    }

    /// Seconds after `at` during which this answer serves new callers.
    fn serving_secs(&self, revalidate: i64) -> i64 {
        match &self.answer {
            Ok(exchanged) => revalidate.min(exchanged.reuse_until - self.at),
            Err(ExchangeError::Refused) => revalidate,
            Err(_) => 0,
        }
    }
}

/// An entry lives while it serves new callers, plus [`SETTLE`].
struct WhileServing {
    revalidate: i64,
}

impl WhileServing {
    fn lifetime(&self, checked: &Checked) -> Duration {
        let secs = u64::try_from(checked.serving_secs(self.revalidate)).unwrap_or(0);
        Duration::from_secs(secs) + SETTLE
    }
}

impl moka::Expiry<TokenKey, Checked> for WhileServing {
    fn expire_after_create(&self, _: &TokenKey, checked: &Checked, _: Instant) -> Option<Duration> {
        Some(self.lifetime(checked))
    }

    fn expire_after_update(
        &self,
        _: &TokenKey,
        checked: &Checked,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.lifetime(checked))
    }
}

/// The successful answer. No `Debug`: `access_token` is the secret.
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

/// The Nextcloud credential in a successful answer, by its `issued_token_type`: an access
/// token (`token_type` Bearer; also when the type is absent, as older auth-proxies answered),
/// or base64 of `login:app-password` (`token_type` `N_A`). Messages never quote the token.
fn nextcloud_credential(body: ExchangeResponse) -> Result<NcAuth, ExchangeError> {
    let token_type = body.token_type.as_deref();
    match body.issued_token_type.as_deref() {
        None | Some(ACCESS_TOKEN_TYPE) => {
            if token_type.is_some_and(|t| !t.eq_ignore_ascii_case("bearer")) {
                return Err(ExchangeError::Misconfigured(
                    "the exchange returned an access token that is not a bearer token".into(),
                ));
            }
            if body.access_token.is_empty() {
                return Err(ExchangeError::Misconfigured(
                    "the exchange returned an empty access token".into(),
                ));
            }
            Ok(NcAuth::Bearer(Secret::new(body.access_token)))
        }
        Some(NEXTCLOUD_BASIC_TOKEN_TYPE) => {
            if token_type.is_some_and(|t| !t.eq_ignore_ascii_case("N_A")) {
                return Err(ExchangeError::Misconfigured(
                    "the exchange returned Nextcloud Basic credentials with a token_type other \
                     than N_A"
                        .into(),
                ));
            }
            basic_credential(&body.access_token).ok_or_else(|| {
                ExchangeError::Misconfigured(
                    "the exchange returned Nextcloud Basic credentials that are not base64 of \
                     a non-empty login, a colon and an app password"
                        .into(),
                )
            })
        }
        Some(other) => Err(ExchangeError::Misconfigured(format!(
            "the exchange returned an unsupported token type ({})",
            other.chars().take(100).collect::<String>()
        ))),
    }
}

/// `login:app-password` from its base64 (RFC 7617: the login ends at the first colon).
fn basic_credential(encoded: &str) -> Option<NcAuth> {
    let decoded = String::from_utf8(BASIC_BASE64.decode(encoded).ok()?).ok()?;
    let (login, password) = decoded.split_once(':')?;
    if login.is_empty() || password.is_empty() {
        return None;
    }
    Some(NcAuth::Basic {
        user: login.to_owned(),
        password: Secret::new(password),
    })
}

pub struct ExchangeClient {
    http: reqwest::Client,
    token_endpoint: String,
    client_id: String,
    client_secret: Option<Secret>,
    /// Seconds an answer of the auth-proxy is relied on before it is asked again.
    revalidate: i64,
    cache: Cache<TokenKey, Checked>,
    /// Numbers arrivals and answers: an answer numbered after a caller's arrival is one the
    /// caller waited for.
    order: AtomicU64,
    metrics: Metrics,
}

impl ExchangeClient {
    pub fn new(
        http: reqwest::Client,
        authorization_server: &str,
        client_id: String,
        client_secret: Option<Secret>,
        revalidate: Duration,
        metrics: Metrics,
    ) -> Self {
        let revalidate = i64::try_from(revalidate.as_secs()).unwrap_or(i64::MAX);
        Self {
            http,
            token_endpoint: format!("{authorization_server}{}", mcp_shared::paths::TOKEN),
            client_id,
            client_secret,
            revalidate,
            cache: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .expire_after(WhileServing { revalidate })
                .build(),
            order: AtomicU64::new(0),
            metrics,
        }
    }

    fn next(&self) -> u64 {
        self.order.fetch_add(1, Ordering::SeqCst)
    }

    /// Drops `used`, the credential exchanged for `subject`, once Nextcloud refused it, so that
    /// the next call exchanges again. A newer answer (another call already exchanged again)
    /// stays.
    pub async fn forget(&self, subject: &BearerToken, used: &ExchangedCredential) {
        self.cache
            .entry(TokenKey::of(subject))
            .and_compute_with(|current| async move {
                match current.as_ref().map(|entry| &entry.value().answer) {
                    Some(Ok(held)) if held.generation == used.generation => Op::Remove,
                    _ => Op::Nop,
                }
            })
            .await;
    }

    /// The Nextcloud credential for the access token `subject`, as the auth-proxy last
    /// answered within the revalidation interval, or asked now. `subject_expires_at` bounds
    /// the reuse: once the MCP client's token has expired, its exchanged credential is not
    /// reused either.
    pub async fn credential(
        &self,
        subject: &BearerToken,
        subject_expires_at: i64,
        now: i64,
    ) -> Result<ExchangedCredential, ExchangeError> {
        let key = TokenKey::of(subject);
        let ticket = self.next();
        let (checked, asked) = match self.cache.get(&key).await {
            Some(checked) if checked.serves(ticket, now, self.revalidate) => (checked, false),
            _ => {
                self.check(key, ticket, subject, subject_expires_at, now)
                    .await
            }
        };
        let outcome = match &checked.answer {
            Ok(_) if asked => "ok",
            Ok(_) => "cached",
            Err(_) => "error",
        };
        self.metrics
            .token_exchanges
            .with_label_values(&[outcome])
            .inc();
        checked.answer
    }

    /// Asks the auth-proxy, one caller per token at a time; a caller that queued behind
    /// another finds its answer and does not ask again. `true` when this call asked.
    async fn check(
        &self,
        key: TokenKey,
        ticket: u64,
        subject: &BearerToken,
        subject_expires_at: i64,
        now: i64,
    ) -> (Checked, bool) {
        let revalidate = self.revalidate;
        let result = self
            .cache
            .entry(key)
            .and_compute_with(|current| async move {
                if current
                    .as_ref()
                    .is_some_and(|entry| entry.value().serves(ticket, now, revalidate))
                {
                    return Op::Nop;
                }
                let asked = mcp_shared::ops::clock::monotonic();
                let answer = self.exchange(subject, subject_expires_at, now).await;
                // The answer is as fresh as its arrival: an exchange that took long (a slow
                // auth-proxy or Nextcloud) must not come back already due again, or the same
                // tool call would exchange twice.
                let took = i64::try_from(asked.elapsed().as_secs()).unwrap_or(i64::MAX);
                let answered_at = now.saturating_add(took);
                let seq = self.next();
                Op::Put(Checked {
                    answer: answer.map(|exchanged| ExchangedCredential {
                        generation: seq,
                        ..exchanged
                    }),
                    at: answered_at,
                    seq,
                })
            })
            .await;
        match result {
            CompResult::Inserted(entry) | CompResult::ReplacedWith(entry) => {
                (entry.into_value(), true)
            }
            CompResult::Unchanged(entry) => (entry.into_value(), false),
            // Not produced by the closure above (it puts, or keeps an entry it found).
            CompResult::StillNone(_) | CompResult::Removed(_) => (
                Checked {
                    answer: Err(ExchangeError::Unavailable),
                    at: now,
                    seq: 0,
                },
                false,
            ),
        }
    }

    async fn exchange(
        &self,
        subject: &BearerToken,
        subject_expires_at: i64,
        now: i64,
    ) -> Result<ExchangedCredential, ExchangeError> {
        let secret = self.client_secret.as_ref().ok_or_else(|| {
            ExchangeError::Misconfigured("MCP_SERVER_CLIENT_SECRET is not set".into())
        })?;
        let form = [
            ("grant_type", GRANT_TYPE),
            ("subject_token", subject.expose()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            // No `requested_token_type`: the auth-proxy decides which kind of Nextcloud
            // credential this deployment uses.
        ];
        let response = self
            .http
            .post(&self.token_endpoint)
            .basic_auth(
                form_urlencode(&self.client_id),
                Some(form_urlencode(secret.expose())),
            )
            .form(&form)
            .timeout(EXCHANGE_TIMEOUT)
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
            let lifetime = body.expires_in.unwrap_or(DEFAULT_LIFETIME_SECS);
            let credential = nextcloud_credential(body)?;
            let reuse_until = (now + lifetime - EXPIRY_MARGIN_SECS).min(subject_expires_at);
            return Ok(ExchangedCredential {
                credential,
                reuse_until,
                // Numbered when it is cached.
                generation: 0,
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
            (400, "invalid_grant") => Err(ExchangeError::Refused),
            (400, _) => Err(ExchangeError::Misconfigured(format!(
                "the authorization server refused the token exchange ({error})"
            ))),
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
pub(crate) mod tests;
