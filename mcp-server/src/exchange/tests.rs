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
                    let (counter, seen, refused) = (counter.clone(), seen.clone(), refused.clone());
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

fn answer(access_token: &str, issued: Option<&str>, token_type: Option<&str>) -> ExchangeResponse {
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
