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
    /// When the auth-proxy was asked (Unix seconds, the callers' clock).
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
                let answer = self.exchange(subject, subject_expires_at, now).await;
                let seq = self.next();
                Op::Put(Checked {
                    answer: answer.map(|exchanged| ExchangedCredential {
                        generation: seq,
                        ..exchanged
                    }),
                    at: now,
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
pub(crate) mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use actix_web::{web, App, HttpResponse, HttpServer};
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    /// What the stand-in token endpoint answers to its `n`th exchange: status and JSON body.
    type Reply = fn(usize) -> (u16, serde_json::Value);

    fn bearer_reply(n: usize) -> (u16, serde_json::Value) {
        (
            200,
            serde_json::json!({
                "access_token": format!("upstream-{n}"),
                "issued_token_type": ACCESS_TOKEN_TYPE,
                "token_type": "Bearer",
                "expires_in": 3600,
            }),
        )
    }

    fn invalid_grant_reply(_: usize) -> (u16, serde_json::Value) {
        (400, serde_json::json!({"error": "invalid_grant"}))
    }

    /// As the auth-proxy's `app-password` strategy answers: `alice` and app password `app-pw-n`.
    pub(crate) fn basic_reply(n: usize) -> (u16, serde_json::Value) {
        (
            200,
            serde_json::json!({
                "access_token": STANDARD.encode(format!("alice:app-pw-{n}")),
                "issued_token_type": NEXTCLOUD_BASIC_TOKEN_TYPE,
                "token_type": "N_A",
                "expires_in": 300,
            }),
        )
    }

    /// A stand-in token endpoint on loopback: counts exchanges, keeps every request's form
    /// body, answers slowly enough for calls to overlap, and answers `invalid_grant` to the
    /// subject tokens in `denied` (as the auth-proxy does once a token is deny-listed or its
    /// grant revoked).
    pub(crate) struct TokenEndpoint {
        pub(crate) base: String,
        pub(crate) hits: Arc<AtomicUsize>,
        pub(crate) forms: Arc<Mutex<Vec<String>>>,
        pub(crate) denied: Arc<Mutex<Vec<String>>>,
    }

    impl TokenEndpoint {
        pub(crate) async fn start(reply: Reply) -> Self {
            let hits = Arc::new(AtomicUsize::new(0));
            let forms = Arc::new(Mutex::new(Vec::new()));
            let denied = Arc::new(Mutex::new(Vec::<String>::new()));
            let (counter, seen, refused) = (hits.clone(), forms.clone(), denied.clone());
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let server = HttpServer::new(move || {
                let (counter, seen, refused) = (counter.clone(), seen.clone(), refused.clone());
                App::new().route(
                    mcp_shared::paths::TOKEN,
                    web::post().to(move |body: String| {
                        let (counter, seen, refused) =
                            (counter.clone(), seen.clone(), refused.clone());
                        async move {
                            let fields: std::collections::HashMap<String, String> =
                                serde_urlencoded::from_str(&body).unwrap();
                            seen.lock().unwrap().push(body);
                            let n = counter.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            let subject = fields.get("subject_token").cloned().unwrap_or_default();
                            let (status, json) = if refused.lock().unwrap().contains(&subject) {
                                invalid_grant_reply(n)
                            } else {
                                reply(n)
                            };
                            HttpResponse::build(
                                actix_web::http::StatusCode::from_u16(status).unwrap(),
                            )
                            .json(json)
                        }
                    }),
                )
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run();
            tokio::spawn(server);
            Self {
                base: format!("http://127.0.0.1:{port}"),
                hits,
                forms,
                denied,
            }
        }

        pub(crate) fn exchanges(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }

        /// From now on, `subject_token` is refused.
        pub(crate) fn deny(&self, subject_token: &str) {
            self.denied.lock().unwrap().push(subject_token.to_owned());
        }
    }

    pub(crate) async fn token_endpoint(
        reply: Reply,
    ) -> (String, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
        let endpoint = TokenEndpoint::start(reply).await;
        (endpoint.base, endpoint.hits, endpoint.forms)
    }

    /// The revalidation interval of [`client`].
    const REVALIDATE: i64 = 10;

    pub(crate) fn client(base: &str, metrics: &Metrics) -> ExchangeClient {
        ExchangeClient::new(
            reqwest::Client::new(),
            base,
            "mcp-server".into(),
            Some(Secret::new("exchange-secret-0123456789")),
            Duration::from_secs(REVALIDATE.unsigned_abs()),
            metrics.clone(),
        )
    }

    fn outcomes(metrics: &Metrics, outcome: &str) -> u64 {
        metrics.token_exchanges.with_label_values(&[outcome]).get()
    }

    fn bearer(credential: &NcAuth) -> &str {
        match credential {
            NcAuth::Bearer(token) => token.expose(),
            other => panic!("not a bearer credential: {other:?}"),
        }
    }

    /// `n` calls for `subject` at `now`, all at once.
    async fn burst(
        exchange: &ExchangeClient,
        subject: &BearerToken,
        n: usize,
        now: i64,
    ) -> Vec<Result<ExchangedCredential, ExchangeError>> {
        let calls = (0..n).map(|_| exchange.credential(subject, now + 600, now));
        futures_util::future::join_all(calls).await
    }

    #[actix_web::test]
    async fn concurrent_calls_for_one_token_share_one_exchange() {
        let endpoint = TokenEndpoint::start(bearer_reply).await;
        let metrics = Metrics::new().unwrap();
        let exchange = client(&endpoint.base, &metrics);
        let subject = BearerToken::new("proxy-token");
        let now = crate::clock::now();
        for exchanged in burst(&exchange, &subject, 8, now).await {
            let exchanged = exchanged.unwrap();
            assert_eq!(bearer(&exchanged.credential), "upstream-0");
            // Bounded by the MCP client's own token, not the upstream lifetime.
            assert_eq!(exchanged.reuse_until, now + 600);
            assert!(!format!("{exchanged:?}").contains("upstream-0"));
        }
        assert_eq!(endpoint.exchanges(), 1);
        assert_eq!(
            (outcomes(&metrics, "ok"), outcomes(&metrics, "cached")),
            (1, 7)
        );

        // Another access token (of the same grant or another) is checked on its own.
        exchange
            .credential(&BearerToken::new("other-token"), now + 600, now)
            .await
            .unwrap();
        assert_eq!(endpoint.exchanges(), 2);
    }

    #[actix_web::test]
    async fn a_burst_when_the_answer_is_due_again_costs_one_exchange() {
        let endpoint = TokenEndpoint::start(bearer_reply).await;
        let exchange = client(&endpoint.base, &Metrics::new().unwrap());
        let subject = BearerToken::new("proxy-token");
        let now = crate::clock::now();
        exchange.credential(&subject, now + 600, now).await.unwrap();
        // Every caller finds the answer stale at once; one asks, the others take its answer.
        for exchanged in burst(&exchange, &subject, 8, now + REVALIDATE).await {
            assert_eq!(bearer(&exchanged.unwrap().credential), "upstream-1");
        }
        assert_eq!(endpoint.exchanges(), 2);
    }

    #[actix_web::test]
    async fn answers_are_relied_on_for_the_revalidation_interval_only() {
        let endpoint = TokenEndpoint::start(bearer_reply).await;
        let exchange = client(&endpoint.base, &Metrics::new().unwrap());
        let subject = BearerToken::new("proxy-token");
        let now = crate::clock::now();
        let first = exchange
            .credential(&subject, now + 7200, now)
            .await
            .unwrap();
        // The credential itself would last an hour (minus the margin)...
        assert_eq!(first.reuse_until, now + 3600 - EXPIRY_MARGIN_SECS);
        let cached = exchange
            .credential(&subject, now + 7200, now + REVALIDATE - 1)
            .await
            .unwrap();
        assert_eq!(bearer(&cached.credential), "upstream-0");
        assert_eq!(endpoint.exchanges(), 1);
        // ...but the auth-proxy is asked again once the interval is over.
        let asked = exchange
            .credential(&subject, now + 7200, now + REVALIDATE)
            .await
            .unwrap();
        assert_eq!(bearer(&asked.credential), "upstream-1");
        assert_eq!(endpoint.exchanges(), 2);
    }

    #[actix_web::test]
    async fn a_revoked_token_is_refused_once_revalidation_is_due_and_its_sibling_still_works() {
        let endpoint = TokenEndpoint::start(bearer_reply).await;
        let exchange = client(&endpoint.base, &Metrics::new().unwrap());
        // Two access tokens of one grant (before and after a refresh).
        let (a, b) = (BearerToken::new("token-a"), BearerToken::new("token-b"));
        let now = crate::clock::now();
        exchange.credential(&a, now + 600, now).await.unwrap();
        exchange.credential(&b, now + 600, now).await.unwrap();
        assert_eq!(endpoint.exchanges(), 2, "each access token is checked");
        // `a` is revoked (its jti deny-listed at the auth-proxy). Within the interval the
        // earlier answer stands; at its end, `a` is refused and `b` goes on.
        endpoint.deny("token-a");
        let soon = now + REVALIDATE - 1;
        assert!(exchange.credential(&a, now + 600, soon).await.is_ok());
        let due = now + REVALIDATE;
        assert!(exchange.credential(&b, now + 600, due).await.is_ok());
        let refused = exchange.credential(&a, now + 600, due).await;
        assert!(
            matches!(refused, Err(ExchangeError::Refused)),
            "{refused:?}"
        );
        assert_eq!(endpoint.exchanges(), 4);
    }

    #[actix_web::test]
    async fn refusals_are_remembered_for_the_revalidation_interval() {
        let endpoint = TokenEndpoint::start(invalid_grant_reply).await;
        let metrics = Metrics::new().unwrap();
        let exchange = client(&endpoint.base, &metrics);
        let subject = BearerToken::new("proxy-token");
        let now = crate::clock::now();
        for refused in burst(&exchange, &subject, 4, now).await {
            assert!(
                matches!(refused, Err(ExchangeError::Refused)),
                "{refused:?}"
            );
        }
        let again = exchange.credential(&subject, now + 600, now + REVALIDATE - 1);
        assert!(matches!(again.await, Err(ExchangeError::Refused)));
        assert_eq!(endpoint.exchanges(), 1);
        let later = exchange.credential(&subject, now + 600, now + REVALIDATE);
        assert!(matches!(later.await, Err(ExchangeError::Refused)));
        assert_eq!(endpoint.exchanges(), 2);
        assert_eq!(outcomes(&metrics, "error"), 6);
    }

    #[actix_web::test]
    async fn failures_reach_the_callers_that_waited_and_are_not_remembered() {
        fn unavailable(_: usize) -> (u16, serde_json::Value) {
            (503, serde_json::json!({"error": "temporarily_unavailable"}))
        }
        let endpoint = TokenEndpoint::start(unavailable).await;
        let exchange = client(&endpoint.base, &Metrics::new().unwrap());
        let subject = BearerToken::new("proxy-token");
        let now = crate::clock::now();
        for failed in burst(&exchange, &subject, 4, now).await {
            assert!(
                matches!(failed, Err(ExchangeError::Unavailable)),
                "{failed:?}"
            );
        }
        assert_eq!(endpoint.exchanges(), 1);
        let next = exchange.credential(&subject, now + 600, now).await;
        assert!(matches!(next, Err(ExchangeError::Unavailable)));
        assert_eq!(endpoint.exchanges(), 2);
    }

    #[actix_web::test]
    async fn the_request_leaves_the_token_type_to_the_authorization_server() {
        let endpoint = TokenEndpoint::start(bearer_reply).await;
        let exchange = client(&endpoint.base, &Metrics::new().unwrap());
        let now = crate::clock::now();
        exchange
            .credential(&BearerToken::new("proxy-token"), now + 600, now)
            .await
            .unwrap();
        let forms = endpoint.forms.lock().unwrap().clone();
        assert_eq!(forms.len(), 1);
        let fields: std::collections::HashMap<String, String> =
            serde_urlencoded::from_str(&forms[0]).unwrap();
        assert_eq!(
            fields.get("grant_type").map(String::as_str),
            Some(GRANT_TYPE)
        );
        assert_eq!(
            fields.get("subject_token").map(String::as_str),
            Some("proxy-token")
        );
        assert_eq!(
            fields.get("subject_token_type").map(String::as_str),
            Some(ACCESS_TOKEN_TYPE)
        );
        assert!(!fields.contains_key("requested_token_type"), "{fields:?}");
    }

    #[actix_web::test]
    async fn a_basic_answer_is_a_login_and_app_password() {
        let endpoint = TokenEndpoint::start(basic_reply).await;
        let exchange = client(&endpoint.base, &Metrics::new().unwrap());
        let now = crate::clock::now();
        let exchanged = exchange
            .credential(&BearerToken::new("proxy-token"), now + 3600, now)
            .await
            .unwrap();
        let NcAuth::Basic { user, password } = &exchanged.credential else {
            panic!("not Basic: {exchanged:?}");
        };
        assert_eq!((user.as_str(), password.expose()), ("alice", "app-pw-0"));
        assert_eq!(exchanged.reuse_until, now + 300 - EXPIRY_MARGIN_SECS);
        let debug = format!("{exchanged:?}");
        assert!(!debug.contains("app-pw-0"), "{debug}");
        assert!(
            !debug.contains(&STANDARD.encode("alice:app-pw-0")),
            "{debug}"
        );
    }

    fn answer(
        access_token: &str,
        issued: Option<&str>,
        token_type: Option<&str>,
    ) -> ExchangeResponse {
        ExchangeResponse {
            access_token: access_token.to_owned(),
            issued_token_type: issued.map(str::to_owned),
            token_type: token_type.map(str::to_owned),
            expires_in: Some(300),
        }
    }

    #[test]
    fn basic_answers_decode_padded_or_not_and_keep_colons_in_the_password() {
        for encoded in [
            STANDARD.encode("bob:pass:word"),
            STANDARD
                .encode("bob:pass:word")
                .trim_end_matches('=')
                .to_owned(),
        ] {
            let credential = nextcloud_credential(answer(
                &encoded,
                Some(NEXTCLOUD_BASIC_TOKEN_TYPE),
                Some("N_A"),
            ))
            .unwrap();
            let NcAuth::Basic { user, password } = credential else {
                panic!("not Basic");
            };
            assert_eq!((user.as_str(), password.expose()), ("bob", "pass:word"));
        }
        // Bearer answers, with or without the token type named, stay bearer tokens.
        for issued in [None, Some(ACCESS_TOKEN_TYPE)] {
            let credential =
                nextcloud_credential(answer("tok-s3cr3t", issued, Some("Bearer"))).unwrap();
            assert_eq!(bearer(&credential), "tok-s3cr3t");
        }
    }

    #[test]
    fn unusable_answers_are_refused_without_quoting_them() {
        let basic = Some(NEXTCLOUD_BASIC_TOKEN_TYPE);
        let cases = [
            // Not base64.
            ("s3cr3t!not base64".to_owned(), basic, Some("N_A")),
            // Not UTF-8.
            (
                STANDARD.encode([0xff, b':', b's', b'3', b'c']),
                basic,
                Some("N_A"),
            ),
            // No colon.
            (STANDARD.encode("alice-s3cr3t"), basic, Some("N_A")),
            // Empty login or app password.
            (STANDARD.encode(":s3cr3t"), basic, Some("N_A")),
            (STANDARD.encode("s3cr3t:"), basic, Some("N_A")),
            (String::new(), basic, Some("N_A")),
            // The types contradict each other.
            (STANDARD.encode("alice:s3cr3t"), basic, Some("Bearer")),
            ("s3cr3t".to_owned(), Some(ACCESS_TOKEN_TYPE), Some("N_A")),
            ("s3cr3t".to_owned(), None, Some("N_A")),
            // A type this server does not know.
            (
                "s3cr3t".to_owned(),
                Some("urn:ietf:params:oauth:token-type:id_token"),
                Some("N_A"),
            ),
            // Nothing to send.
            (String::new(), Some(ACCESS_TOKEN_TYPE), Some("Bearer")),
        ];
        for (token, issued, token_type) in cases {
            let err = nextcloud_credential(answer(&token, issued, token_type)).unwrap_err();
            let ExchangeError::Misconfigured(message) = &err else {
                panic!("{token:?} {issued:?}: {err:?}");
            };
            assert!(!message.contains("s3cr3t"), "{message}");
            assert!(token.is_empty() || !message.contains(&token), "{message}");
        }
    }

    #[actix_web::test]
    async fn expired_or_forgotten_credentials_are_exchanged_again() {
        fn short_lived(n: usize) -> (u16, serde_json::Value) {
            let (status, mut body) = bearer_reply(n);
            body["expires_in"] = serde_json::json!(EXPIRY_MARGIN_SECS + 5);
            (status, body)
        }
        let endpoint = TokenEndpoint::start(short_lived).await;
        let exchange = client(&endpoint.base, &Metrics::new().unwrap());
        let subject = BearerToken::new("proxy-token");
        let now = crate::clock::now();
        let first = exchange.credential(&subject, now + 600, now).await.unwrap();
        // Lifetime minus the margin, sooner than the revalidation.
        assert_eq!(first.reuse_until, now + 5);
        let later = exchange
            .credential(&subject, now + 600, first.reuse_until)
            .await
            .unwrap();
        assert_eq!(bearer(&later.credential), "upstream-1");
        // Forgetting an answer that was already replaced keeps the newer one...
        exchange.forget(&subject, &first).await;
        let kept = exchange
            .credential(&subject, now + 600, first.reuse_until)
            .await
            .unwrap();
        assert_eq!(bearer(&kept.credential), "upstream-1");
        assert_eq!(endpoint.exchanges(), 2);
        // ...forgetting the current one asks again.
        exchange.forget(&subject, &later).await;
        let fresh = exchange
            .credential(&subject, now + 600, first.reuse_until)
            .await
            .unwrap();
        assert_eq!(bearer(&fresh.credential), "upstream-2");
        assert_eq!(endpoint.exchanges(), 3);
    }
}
