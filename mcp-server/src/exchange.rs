//! RFC 8693 token exchange at the auth-proxy: trades a validated proxy access token for the
//! credential this user's requests to Nextcloud carry. The auth-proxy decides its kind: the
//! user's upstream access token (Bearer), or a login name and app password (Basic, from
//! Nextcloud's Login Flow v2). Results are cached per grant until shortly before they expire,
//! and concurrent calls for one grant share one exchange, so a burst of tool calls costs one
//! exchange.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use mcp_shared::token_exchange::{ACCESS_TOKEN_TYPE, GRANT_TYPE, NEXTCLOUD_BASIC_TOKEN_TYPE};
use mcp_shared::Secret;
use moka::future::Cache;
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

/// Standard alphabet; padding is not insisted on, as HTTP Basic decoders do not either.
const BASIC_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, Clone, thiserror::Error)]
pub enum ExchangeError {
    /// The auth-proxy answered `invalid_grant`: the grant was revoked, or the app password it
    /// held for it is gone. Only signing in again helps.
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
}

/// An entry lives until its credential's `reuse_until` (expiry minus the safety margin,
/// bounded by the MCP client's own token).
struct UntilReuseEnds;

impl moka::Expiry<String, ExchangedCredential> for UntilReuseEnds {
    fn expire_after_create(
        &self,
        _grant_id: &String,
        exchanged: &ExchangedCredential,
        _at: Instant,
    ) -> Option<Duration> {
        let left = exchanged.reuse_until.saturating_sub(crate::clock::now());
        Some(Duration::from_secs(u64::try_from(left).unwrap_or(0)))
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
    /// By grant id.
    cache: Cache<String, ExchangedCredential>,
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

    /// Drops the cached credential for a grant (Nextcloud refused it), so that the next call
    /// exchanges again.
    pub async fn forget(&self, grant_id: &str) {
        self.cache.invalidate(grant_id).await;
    }

    /// The Nextcloud credential for this grant, from cache or by exchanging `subject`.
    /// `subject_expires_at` bounds the cache lifetime: once the MCP client's token has
    /// expired, its exchanged credential is not reused either.
    pub async fn credential(
        &self,
        grant_id: &str,
        subject: &BearerToken,
        subject_expires_at: i64,
        now: i64,
    ) -> Result<ExchangedCredential, ExchangeError> {
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

    /// The cached credential, or the one this call (or a concurrent one) exchanged; `true` when
    /// this call did the exchange.
    async fn exchange_once(
        &self,
        grant_id: &str,
        subject: &BearerToken,
        subject_expires_at: i64,
        now: i64,
    ) -> Result<(ExchangedCredential, bool), ExchangeError> {
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
            let lifetime = body.expires_in.unwrap_or(DEFAULT_LIFETIME_SECS);
            let credential = nextcloud_credential(body)?;
            let reuse_until = (now + lifetime - EXPIRY_MARGIN_SECS).min(subject_expires_at);
            return Ok(ExchangedCredential {
                credential,
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
    /// body, answers slowly enough for calls to overlap.
    pub(crate) async fn token_endpoint(
        reply: Reply,
    ) -> (String, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let forms = Arc::new(Mutex::new(Vec::new()));
        let (counter, seen) = (hits.clone(), forms.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            let (counter, seen) = (counter.clone(), seen.clone());
            App::new().route(
                mcp_shared::paths::TOKEN,
                web::post().to(move |body: String| {
                    let (counter, seen) = (counter.clone(), seen.clone());
                    async move {
                        seen.lock().unwrap().push(body);
                        let n = counter.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let (status, json) = reply(n);
                        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
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
        (format!("http://127.0.0.1:{port}"), hits, forms)
    }

    pub(crate) fn client(base: &str, metrics: &Metrics) -> ExchangeClient {
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

    fn bearer(credential: &NcAuth) -> &str {
        match credential {
            NcAuth::Bearer(token) => token.expose(),
            other => panic!("not a bearer credential: {other:?}"),
        }
    }

    #[actix_web::test]
    async fn concurrent_calls_for_one_grant_share_one_exchange() {
        let (base, hits, _) = token_endpoint(bearer_reply).await;
        let metrics = Metrics::new().unwrap();
        let exchange = client(&base, &metrics);
        let subject = BearerToken::new("proxy-token");
        let now = crate::clock::now();
        let calls = (0..8).map(|_| exchange.credential("grant-1", &subject, now + 600, now));
        let results = futures_util::future::join_all(calls).await;
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        for exchanged in results {
            let exchanged = exchanged.unwrap();
            assert_eq!(bearer(&exchanged.credential), "upstream-0");
            // Bounded by the MCP client's own token, not the upstream lifetime.
            assert_eq!(exchanged.reuse_until, now + 600);
            assert!(!format!("{exchanged:?}").contains("upstream-0"));
        }
        assert_eq!(
            (outcomes(&metrics, "ok"), outcomes(&metrics, "cached")),
            (1, 7)
        );

        // Another grant is another exchange.
        exchange
            .credential("grant-2", &subject, now + 600, now)
            .await
            .unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[actix_web::test]
    async fn the_request_leaves_the_token_type_to_the_authorization_server() {
        let (base, _, forms) = token_endpoint(bearer_reply).await;
        let exchange = client(&base, &Metrics::new().unwrap());
        let now = crate::clock::now();
        exchange
            .credential("grant", &BearerToken::new("proxy-token"), now + 600, now)
            .await
            .unwrap();
        let forms = forms.lock().unwrap().clone();
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
        let (base, _, _) = token_endpoint(basic_reply).await;
        let exchange = client(&base, &Metrics::new().unwrap());
        let now = crate::clock::now();
        let exchanged = exchange
            .credential("grant", &BearerToken::new("proxy-token"), now + 3600, now)
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
        let (base, hits, _) = token_endpoint(bearer_reply).await;
        let metrics = Metrics::new().unwrap();
        let exchange = client(&base, &metrics);
        let subject = BearerToken::new("proxy-token");
        let now = crate::clock::now();
        let first = exchange
            .credential("grant", &subject, now + 7200, now)
            .await
            .unwrap();
        // Lifetime minus the margin.
        assert_eq!(first.reuse_until, now + 3600 - EXPIRY_MARGIN_SECS);
        // The caller's clock decides as well as the cache's timer.
        let later = exchange
            .credential("grant", &subject, now + 7200, first.reuse_until)
            .await
            .unwrap();
        assert_eq!(bearer(&later.credential), "upstream-1");
        exchange.forget("grant").await;
        exchange
            .credential("grant", &subject, now + 7200, now)
            .await
            .unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 3);
    }

    #[actix_web::test]
    async fn refusals_are_not_cached() {
        let (base, hits, _) = token_endpoint(invalid_grant_reply).await;
        let metrics = Metrics::new().unwrap();
        let exchange = client(&base, &metrics);
        let subject = BearerToken::new("proxy-token");
        let now = crate::clock::now();
        for _ in 0..2 {
            let err = exchange
                .credential("grant", &subject, now + 600, now)
                .await
                .unwrap_err();
            assert!(matches!(err, ExchangeError::Refused), "{err:?}");
        }
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        assert_eq!(outcomes(&metrics, "error"), 2);
    }
}
