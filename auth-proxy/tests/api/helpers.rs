//! Spawns the real application on 127.0.0.1:0 with the in-memory store, a fake clock and a
//! scripted upstream IdP, and offers one method per endpoint. The real upstream (oidc-provider)
//! and real Redis are exercised by the end-to-end suite in `tests/`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use auth_proxy::clock::{Clock, FakeClock};
use auth_proxy::config::Config;
use auth_proxy::crypto::sha256_b64url;
use auth_proxy::startup::{Application, Dependencies};
use auth_proxy::store::MemoryStore;
use auth_proxy::upstream::{UpstreamError, UpstreamIdentity, UpstreamIdp, UpstreamTokens};
use reqwest::redirect::Policy;
use url::Url;

pub const ISSUER: &str = "http://127.0.0.1:8080";
pub const RESOURCE: &str = "http://127.0.0.1:8000/mcp";
pub const REDIRECT: &str = "http://127.0.0.1:7777/callback";
/// Never contacted: the fake upstream only builds URLs pointing here.
pub const FAKE_IDP: &str = "http://127.0.0.1:9/authorize";

/// Scripted upstream: `exchange_code` behaves according to the code it is given.
#[derive(Debug, Default)]
pub struct FakeUpstream {
    pub last_verifier: Mutex<Option<String>>,
    /// `expires_at` of the upstream access token handed out at code exchange.
    pub expires_at: Mutex<Option<i64>>,
    /// What `refresh` does: `Ok(expires_at)` issues a new token set, `Err` fails.
    pub refresh_outcome: Mutex<Option<Result<i64, UpstreamError>>>,
    pub refresh_calls: std::sync::atomic::AtomicUsize,
    /// How long `refresh` takes (ms): lets concurrent exchanges overlap, as with a real IdP.
    pub refresh_delay_ms: std::sync::atomic::AtomicU64,
    /// When set, who every successful code exchange signs in as (else alice or `user:<name>`).
    pub identity: Mutex<Option<UpstreamIdentity>>,
}

#[async_trait]
impl UpstreamIdp for FakeUpstream {
    async fn is_ready(&self) -> bool {
        true
    }

    async fn discover(&self) -> Result<(), UpstreamError> {
        Ok(())
    }

    async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        verifier: &str,
    ) -> Result<Url, UpstreamError> {
        let mut url = Url::parse(FAKE_IDP).unwrap();
        url.query_pairs_mut()
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &sha256_b64url(verifier.as_bytes()));
        Ok(url)
    }

    async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        _nonce: &str,
    ) -> Result<(UpstreamTokens, UpstreamIdentity), UpstreamError> {
        *self.last_verifier.lock().unwrap() = Some(verifier.to_owned());
        match code {
            "unavailable" => Err(UpstreamError::Unavailable("connect timeout".into())),
            "rejected" => Err(UpstreamError::Rejected("invalid_grant".into())),
            _ => Ok((
                UpstreamTokens {
                    access_token: "UPSTREAM-ACCESS-TOKEN".into(),
                    token_type: "Bearer".into(),
                    refresh_token: Some("UPSTREAM-REFRESH-TOKEN".into()),
                    id_token: None,
                    expires_at: *self.expires_at.lock().unwrap(),
                    scope: None,
                },
                // `user:<name>` signs in as someone else than alice.
                self.identity
                    .lock()
                    .unwrap()
                    .clone()
                    .unwrap_or(UpstreamIdentity {
                        subject: code.strip_prefix("user:").unwrap_or("alice").into(),
                        email: Some(format!(
                            "{}@example.com",
                            code.strip_prefix("user:").unwrap_or("alice")
                        )),
                        email_verified: None,
                        name: None,
                        preferred_username: None,
                        claims: Default::default(),
                        lists: Default::default(),
                    }),
            )),
        }
    }

    async fn refresh(&self, refresh_token: &str) -> Result<UpstreamTokens, UpstreamError> {
        let n = self
            .refresh_calls
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let delay = self
            .refresh_delay_ms
            .load(std::sync::atomic::Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        assert_eq!(refresh_token, "UPSTREAM-REFRESH-TOKEN");
        match self.refresh_outcome.lock().unwrap().clone() {
            Some(Ok(expires_at)) => Ok(UpstreamTokens {
                access_token: format!("UPSTREAM-ACCESS-TOKEN-{}", n + 1).into(),
                token_type: "Bearer".into(),
                refresh_token: None,
                id_token: None,
                expires_at: Some(expires_at),
                scope: None,
            }),
            Some(Err(e)) => Err(e),
            None => Err(UpstreamError::Unavailable("not scripted".into())),
        }
    }
}

/// DNS for client metadata documents: names map to addresses the test chose, so the address
/// policy is exercised without any lookup (and without traffic off loopback).
#[derive(Debug, Default)]
pub struct FakeDns {
    pub answers: Mutex<HashMap<String, Vec<std::net::IpAddr>>>,
}

#[async_trait]
impl auth_proxy::clients::cimd::DnsResolver for FakeDns {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
        match self.answers.lock().unwrap().get(host) {
            Some(ips) => Ok(ips
                .iter()
                .map(|ip| std::net::SocketAddr::new(*ip, port))
                .collect()),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such host",
            )),
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub metrics_address: String,
    pub clock: FakeClock,
    /// No redirects followed, cookies kept: the browser of these tests.
    pub http: reqwest::Client,
    pub app_state: auth_proxy::state::AppState,
    pub upstream: Arc<FakeUpstream>,
    pub dns: Arc<FakeDns>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let mut vars: HashMap<String, String> = [
        ("AUTH_PROXY_ISSUER", ISSUER),
        ("AUTH_PROXY_BIND", "127.0.0.1:0"),
        ("AUTH_PROXY_METRICS_BIND", "127.0.0.1:0"),
        ("AUTH_PROXY_RESOURCES", RESOURCE),
        ("AUTH_PROXY_UPSTREAM_ISSUER", "http://127.0.0.1:9"),
        ("AUTH_PROXY_UPSTREAM_CLIENT_ID", "proxy"),
        ("AUTH_PROXY_REFRESH_GRACE_SECS", "5"),
        ("AUTH_PROXY_SHUTDOWN_TIMEOUT_SECS", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = Config::from_vars(&vars).expect("test configuration is valid");
    let clock = FakeClock::at_secs(1_700_000_000);
    let clock_dyn: Arc<dyn Clock> = Arc::new(clock.clone());
    let upstream = Arc::new(FakeUpstream::default());
    let dns = Arc::new(FakeDns::default());
    let app = Application::build_with(
        config,
        Dependencies {
            store: Arc::new(MemoryStore::new(clock_dyn.clone())),
            upstream: upstream.clone(),
            clock: clock_dyn,
            dns: dns.clone(),
        },
    )
    .await
    .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = format!("http://127.0.0.1:{}", app.metrics_port());
    let app_state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        metrics_address,
        clock,
        http: browser(),
        app_state,
        upstream,
        dns,
    }
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = auth_proxy::crypto::random_token(32);
    let challenge = sha256_b64url(verifier.as_bytes());
    Pkce {
        verifier,
        challenge,
    }
}

pub fn location(resp: &reqwest::Response) -> Url {
    Url::parse(
        resp.headers()
            .get("location")
            .expect("Location header")
            .to_str()
            .unwrap(),
    )
    .unwrap()
}

pub fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// Value of a hidden input in the consent form.
pub fn hidden_input(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no input {name}"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

pub struct Registered {
    pub client_id: String,
}

pub struct Authorized {
    pub code: String,
    pub pkce: Pkce,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The RFC 8414 authorization-server metadata document.
    pub async fn metadata(&self) -> serde_json::Value {
        self.http
            .get(self.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn register(&self, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url("/register"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn register_public(&self) -> Registered {
        self.register_public_named("Test Client").await
    }

    /// A public client; identical registrations are one client, so a test that needs a second
    /// client gives it another name.
    pub async fn register_public_named(&self, name: &str) -> Registered {
        let resp = self
            .register(serde_json::json!({
                "client_name": name,
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
            }))
            .await;
        assert_eq!(resp.status(), 201);
        let body: serde_json::Value = resp.json().await.unwrap();
        Registered {
            client_id: body["client_id"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn authorize(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(self.url("/authorize"))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    /// Standard, valid authorization parameters for `client_id`, with overrides applied and
    /// `""` meaning "leave this parameter out".
    pub fn authorize_params<'a>(
        &self,
        client_id: &'a str,
        challenge: &'a str,
        overrides: &[(&'a str, &'a str)],
    ) -> Vec<(&'a str, &'a str)> {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("state", "client-state-1"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("scope", "notes:read notes:write"),
            ("resource", RESOURCE),
        ];
        for (k, v) in overrides {
            params.retain(|(pk, _)| pk != k);
            if !v.is_empty() {
                params.push((k, v));
            }
        }
        params
    }

    /// GET /authorize and return the consent page's flow id and CSRF token.
    pub async fn consent_page(&self, client_id: &str, challenge: &str) -> (String, String) {
        let resp = self
            .authorize(&self.authorize_params(client_id, challenge, &[]))
            .await;
        assert_eq!(resp.status(), 200, "consent page expected");
        let html = resp.text().await.unwrap();
        (hidden_input(&html, "flow"), hidden_input(&html, "csrf"))
    }

    pub async fn decide(&self, flow: &str, csrf: &str, decision: &str) -> reqwest::Response {
        self.http
            .post(self.url("/consent"))
            .form(&[("flow", flow), ("csrf", csrf), ("decision", decision)])
            .send()
            .await
            .unwrap()
    }

    pub async fn callback(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(self.url("/callback"))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    /// Registers nothing; runs authorize → approve → callback for `client_id` and returns the
    /// proxy's authorization code.
    pub async fn authorize_code(&self, client_id: &str) -> Authorized {
        let pkce = pkce();
        let (flow, csrf) = self.consent_page(client_id, &pkce.challenge).await;
        let resp = self.decide(&flow, &csrf, "approve").await;
        assert_eq!(resp.status(), 303);
        let upstream = query(&location(&resp));
        let resp = self
            .callback(&[("state", &upstream["state"]), ("code", "good")])
            .await;
        assert_eq!(resp.status(), 302);
        let back = query(&location(&resp));
        Authorized {
            code: back["code"].clone(),
            pkce,
        }
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn redeem(&self, client_id: &str, auth: &Authorized) -> reqwest::Response {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", &auth.code),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("code_verifier", &auth.pkce.verifier),
            ("resource", RESOURCE),
        ])
        .await
    }

    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> reqwest::Response {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ])
        .await
    }
}

pub async fn error_code(resp: reqwest::Response) -> String {
    let body: serde_json::Value = resp.json().await.unwrap();
    body["error"].as_str().unwrap_or("<none>").to_owned()
}
