//! The upstream OpenID Provider client, on `openidconnect`. Discovery (with the IdP's JWKS) is
//! cached and refreshed after `discovery_ttl`; an ID token signed by a key we have not seen
//! triggers at most one JWKS refetch per minute. One HTTP client serves every call, with
//! timeouts and no redirects. Errors never carry token, code or secret values.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mcp_shared::Secret;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreErrorResponseType,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreTokenResponse, CoreTokenType,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AsyncHttpClient, AuthType, AuthorizationCode, ClientId, ClientSecret,
    CsrfToken, DiscoveryError, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpClientError,
    HttpRequest, HttpResponse, IssuerUrl, JsonWebKeySet, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    StandardErrorResponse, TokenResponse, UserInfoError,
};
use openidconnect::{ClaimsVerificationError, SignatureVerificationError};
use tokio::sync::{Mutex, RwLock};
use url::Url;

use super::{UpstreamError, UpstreamIdentity, UpstreamIdp, UpstreamTokens};
use crate::clock::Clock;

/// The client once discovery has filled in its endpoints.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Asymmetric algorithms only: an ID token must verify against the IdP's published keys, never
/// against a shared secret (the client secret, which openidconnect would use for HS*), and never
/// be unsigned.
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// An unknown `kid` refetches the JWKS at most this often, so forged tokens cannot make us
/// hammer the IdP.
const JWKS_REFETCH_COOLDOWN_MS: i64 = 60_000;
/// When re-discovery fails, the stale metadata is served this long before the next attempt,
/// rather than every request waiting for a dead IdP's timeout.
const STALE_RETRY_MS: i64 = 30_000;

#[derive(Clone)]
pub struct OidcUpstreamConfig {
    /// Discovery is at `<issuer>/.well-known/openid-configuration`; the document's `issuer`
    /// must equal this (up to one trailing slash, which `Url` cannot preserve for a bare host).
    pub issuer: Url,
    pub client_id: String,
    /// `client_secret_basic`, or `client_secret_post` when discovery says basic is unsupported.
    pub client_secret: Option<Secret>,
    /// The proxy's own `/callback`.
    pub redirect_uri: Url,
    pub scopes: Vec<String>,
    /// Connect and total timeout of every HTTP call.
    pub timeout: Duration,
    pub discovery_ttl: Duration,
}

impl std::fmt::Debug for OidcUpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcUpstreamConfig")
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("scopes", &self.scopes)
            .field("timeout", &self.timeout)
            .field("discovery_ttl", &self.discovery_ttl)
            .finish()
    }
}

/// The one `reqwest::Client`, as openidconnect's HTTP client. A 5xx answer becomes a transport
/// error: oauth2 would otherwise read a JSON body such as `{"error":"server_error"}` on a 500 as
/// the IdP's verdict on the grant, and we would report a refusal instead of an outage.
#[derive(Debug, Clone)]
struct Http(reqwest::Client);

#[derive(Debug, thiserror::Error)]
enum HttpError {
    #[error("request failed")]
    Transport(#[source] HttpClientError<reqwest::Error>),
    #[error("HTTP status {0}")]
    Status(u16),
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.0.call(request).await.map_err(HttpError::Transport)?;
            if response.status().is_server_error() {
                return Err(HttpError::Status(response.status().as_u16()));
            }
            Ok(response)
        })
    }
}

/// An error and its causes on one line ("… : operation timed out"). Only for transport and
/// discovery errors, whose texts carry URLs and I/O reasons, never request bodies.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn discovery_error(what: &str, e: DiscoveryError<HttpError>) -> UpstreamError {
    match e {
        // The document names another issuer (openidconnect's check): misconfiguration or an
        // impostor, not an outage.
        DiscoveryError::Validation(msg) => UpstreamError::Invalid(format!("{what}: {msg}")),
        DiscoveryError::Response(_, _, msg) => UpstreamError::Unavailable(format!("{what}: {msg}")),
        other => UpstreamError::Unavailable(format!("{what}: {}", describe(&other))),
    }
}

/// Maps a token-endpoint failure: an OAuth error from the IdP is a refusal, anything else
/// (network, timeout, 5xx, unparseable body) means the IdP is unavailable. Of the IdP's answer
/// only the error code is kept: its description may quote what we sent.
fn token_error(
    what: &str,
    e: RequestTokenError<HttpError, StandardErrorResponse<CoreErrorResponseType>>,
) -> UpstreamError {
    match e {
        RequestTokenError::ServerResponse(resp) => {
            let code: String = resp
                .error()
                .as_ref()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                .take(64)
                .collect();
            UpstreamError::Rejected(format!("{what}: {code}"))
        }
        RequestTokenError::Request(e) => {
            UpstreamError::Unavailable(format!("{what}: {}", describe(&e)))
        }
        RequestTokenError::Parse(_, _) => {
            UpstreamError::Unavailable(format!("{what}: unparseable response"))
        }
        RequestTokenError::Other(msg) => UpstreamError::Unavailable(format!("{what}: {msg}")),
    }
}

fn userinfo_error(e: UserInfoError<HttpError>) -> UpstreamError {
    match e {
        UserInfoError::Response(status, _, _) if matches!(status.as_u16(), 401 | 403) => {
            UpstreamError::Rejected(format!("userinfo: HTTP {status}"))
        }
        UserInfoError::Response(status, _, msg) => {
            UpstreamError::Unavailable(format!("userinfo: HTTP {status}: {msg}"))
        }
        UserInfoError::ClaimsVerification(e) => UpstreamError::Invalid(format!("userinfo: {e}")),
        UserInfoError::Request(e) => {
            UpstreamError::Unavailable(format!("userinfo: {}", describe(&e)))
        }
        _ => UpstreamError::Unavailable("userinfo: unparseable response".into()),
    }
}

/// Why an ID token was not accepted: an unknown key deserves one JWKS refetch, the rest not.
enum IdTokenFailure {
    UnknownKey,
    Invalid(String),
}

struct Discovered {
    /// Kept so a JWKS refetch can rebuild the client without re-discovery.
    metadata: CoreProviderMetadata,
    client: Client,
    /// [`ALLOWED_ALGS`] that the IdP advertises for ID tokens.
    algs: Vec<CoreJwsSigningAlgorithm>,
    loaded_at_ms: i64,
}

#[derive(Default)]
struct Cache {
    current: Option<Arc<Discovered>>,
    /// After a failed re-discovery: serve `current` without retrying until then.
    retry_after_ms: Option<i64>,
}

pub struct OidcUpstream {
    config: OidcUpstreamConfig,
    /// The configured issuer without, then with, a trailing slash (see [`issuer_candidates`]).
    issuers: Vec<IssuerUrl>,
    redirect: RedirectUrl,
    http: Http,
    clock: Arc<dyn Clock>,
    cache: RwLock<Cache>,
    /// Single flight: one discovery or JWKS fetch at a time; waiters reuse its outcome.
    loading: Mutex<()>,
    /// Completed discovery attempts, so a waiter can tell that one finished while it waited.
    attempts: AtomicU64,
    last_jwks_refetch_ms: AtomicI64,
}

impl std::fmt::Debug for OidcUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcUpstream")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// `Url` writes `https://idp` as `https://idp/`, so the configured value cannot say whether the
/// IdP's issuer ends in a slash: most do not (Google, Keycloak, Entra), some do (Auth0). Both
/// spellings are tried, the usual one first; whichever discovery confirms is used verbatim.
fn issuer_candidates(issuer: &Url) -> Result<Vec<IssuerUrl>, UpstreamError> {
    let given = issuer.as_str();
    let parse = |s: &str| {
        IssuerUrl::new(s.to_owned()).map_err(|_| UpstreamError::Invalid("issuer URL".into()))
    };
    if issuer.query().is_some() || issuer.fragment().is_some() {
        return Ok(vec![parse(given)?]);
    }
    let bare = given.trim_end_matches('/');
    Ok(vec![parse(bare)?, parse(&format!("{bare}/"))?])
}

/// The payload of a compact JWS (call only once it is verified); `Null` if it cannot be read.
fn id_token_payload(compact: &str) -> serde_json::Value {
    use base64::Engine as _;
    compact
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .unwrap_or_default()
}

/// ID token claims and userinfo claims are different types with the same accessors.
macro_rules! identity {
    ($claims:expr) => {{
        let claims = $claims;
        UpstreamIdentity {
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified(),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
            preferred_username: claims.preferred_username().map(|u| u.to_string()),
            claims: Default::default(),
            lists: Default::default(),
        }
    }};
}

impl OidcUpstream {
    /// The authorization URL with the configured scopes; without `offline_access` (and so
    /// without the consent prompt it needs) unless `offline`.
    async fn sign_in_url(
        &self,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
        offline: bool,
    ) -> Result<Url, UpstreamError> {
        let discovered = self.current().await?;
        let (state, nonce) = (state.to_owned(), nonce.to_owned());
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            pkce_verifier.to_owned(),
        ));
        let mut request = discovered
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(challenge);
        let wanted =
            |s: &&String| s.as_str() != "openid" && (offline || s.as_str() != "offline_access");
        // openidconnect always sends `openid` itself.
        for scope in self.config.scopes.iter().filter(wanted) {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        // Most IdPs (oidc-provider, Keycloak) issue a refresh token for offline_access only
        // after an explicit consent prompt.
        if offline && self.config.scopes.iter().any(|s| s == "offline_access") {
            request = request.add_extra_param("prompt", "consent");
        }
        let (url, _, _) = request.url();
        Ok(url)
    }

    pub fn new(config: OidcUpstreamConfig, clock: Arc<dyn Clock>) -> Result<Self, UpstreamError> {
        let issuers = issuer_candidates(&config.issuer)?;
        let redirect = RedirectUrl::new(config.redirect_uri.to_string())
            .map_err(|_| UpstreamError::Invalid("redirect URI".into()))?;
        let http = reqwest::Client::builder()
            // Never follow redirects on token/JWKS/userinfo calls (SSRF and token leakage).
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.timeout)
            .timeout(config.timeout)
            .build()
            .map_err(|e| UpstreamError::Unavailable(format!("HTTP client: {}", describe(&e))))?;
        Ok(Self {
            config,
            issuers,
            redirect,
            http: Http(http),
            clock,
            cache: RwLock::new(Cache::default()),
            loading: Mutex::new(()),
            attempts: AtomicU64::new(0),
            last_jwks_refetch_ms: AtomicI64::new(i64::MIN),
        })
    }

    fn build(&self, metadata: CoreProviderMetadata, loaded_at_ms: i64) -> Discovered {
        let secret_post_only = metadata
            .token_endpoint_auth_methods_supported()
            .is_some_and(|methods| {
                methods.contains(&CoreClientAuthMethod::ClientSecretPost)
                    && !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
            });
        let advertised = metadata.id_token_signing_alg_values_supported();
        let algs: Vec<_> = ALLOWED_ALGS
            .into_iter()
            .filter(|alg| advertised.contains(alg))
            .collect();
        if algs.is_empty() {
            tracing::warn!(
                advertised = ?advertised,
                "the upstream IdP signs ID tokens with no algorithm we accept"
            );
        }
        let mut client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            self.config
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose().to_owned())),
        )
        .set_redirect_uri(self.redirect.clone());
        if secret_post_only {
            client = client.set_auth_type(AuthType::RequestBody);
        }
        Discovered {
            metadata,
            client,
            algs,
            loaded_at_ms,
        }
    }

    /// Fetches discovery and the JWKS. The caller holds `loading`.
    async fn load(&self) -> Result<Arc<Discovered>, UpstreamError> {
        let result = self.fetch_metadata().await;
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let discovered = Arc::new(self.build(result?, self.clock.now_millis()));
        *self.cache.write().await = Cache {
            current: Some(discovered.clone()),
            retry_after_ms: None,
        };
        Ok(discovered)
    }

    async fn fetch_metadata(&self) -> Result<CoreProviderMetadata, UpstreamError> {
        let mut mismatch = UpstreamError::Invalid("discovery: no issuer".into());
        for issuer in &self.issuers {
            match CoreProviderMetadata::discover_async(issuer.clone(), &self.http).await {
                Ok(metadata) => return Ok(metadata),
                Err(DiscoveryError::Validation(msg)) => {
                    mismatch = UpstreamError::Invalid(format!("discovery: {msg}"));
                }
                Err(e) => return Err(discovery_error("discovery", e)),
            }
        }
        Err(mismatch)
    }

    fn usable(&self, cache: &Cache, now: i64) -> Option<Arc<Discovered>> {
        let ttl = i64::try_from(self.config.discovery_ttl.as_millis()).unwrap_or(i64::MAX);
        let current = cache.current.as_ref()?;
        let fresh = now.saturating_sub(current.loaded_at_ms) < ttl;
        let backing_off = cache.retry_after_ms.is_some_and(|t| now < t);
        (fresh || backing_off).then(|| current.clone())
    }

    /// The cached discovery, loading it when absent or stale. A failed re-discovery keeps the
    /// stale metadata in service; with none at all, the IdP is unavailable.
    async fn current(&self) -> Result<Arc<Discovered>, UpstreamError> {
        let now = self.clock.now_millis();
        if let Some(d) = self.usable(&*self.cache.read().await, now) {
            return Ok(d);
        }
        let seen = self.attempts.load(Ordering::SeqCst);
        let _loading = self.loading.lock().await;
        let cache = self.cache.read().await;
        if let Some(d) = self.usable(&cache, now) {
            return Ok(d);
        }
        let stale = cache.current.clone();
        drop(cache);
        if self.attempts.load(Ordering::SeqCst) != seen {
            // An attempt failed while we waited for it: share its outcome, do not queue another.
            return stale.ok_or_else(|| UpstreamError::Unavailable("discovery failed".into()));
        }
        match (self.load().await, stale) {
            (Ok(d), _) => Ok(d),
            (Err(e), Some(stale)) => {
                tracing::warn!(error = %e, "upstream re-discovery failed; keeping the previous metadata");
                self.cache.write().await.retry_after_ms = Some(now.saturating_add(STALE_RETRY_MS));
                Ok(stale)
            }
            (Err(UpstreamError::Invalid(msg)), None) => Err(UpstreamError::Unavailable(msg)),
            (Err(e), None) => Err(e),
        }
    }

    /// Refetches the JWKS after an unknown `kid` (the IdP may have rotated), at most once per
    /// cooldown. `None` when rate limited.
    async fn refetch_jwks(
        &self,
        seen: &Arc<Discovered>,
    ) -> Result<Option<Arc<Discovered>>, UpstreamError> {
        let _loading = self.loading.lock().await;
        if let Some(current) = self.cache.read().await.current.clone() {
            if !Arc::ptr_eq(&current, seen) {
                // Replaced while we waited: try what is there now.
                return Ok(Some(current));
            }
        }
        let now = self.clock.now_millis();
        let last = self.last_jwks_refetch_ms.load(Ordering::SeqCst);
        if now.saturating_sub(last) < JWKS_REFETCH_COOLDOWN_MS {
            return Ok(None);
        }
        self.last_jwks_refetch_ms.store(now, Ordering::SeqCst);
        let jwks = JsonWebKeySet::fetch_async(seen.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| discovery_error("JWKS", e))?;
        let metadata = seen.metadata.clone().set_jwks(jwks);
        let discovered = Arc::new(self.build(metadata, seen.loaded_at_ms));
        self.cache.write().await.current = Some(discovered.clone());
        Ok(Some(discovered))
    }

    /// The identity in the token response's ID token, `None` when there is none.
    fn verify_id_token(
        &self,
        discovered: &Discovered,
        response: &CoreTokenResponse,
        nonce: &str,
    ) -> Result<Option<UpstreamIdentity>, IdTokenFailure> {
        let invalid = |e: &dyn std::fmt::Display| IdTokenFailure::Invalid(format!("ID token: {e}"));
        let Some(id_token) = response.id_token() else {
            return Ok(None);
        };
        let clock = self.clock.clone();
        let verifier = discovered
            .client
            .id_token_verifier()
            .set_allowed_algs(discovered.algs.iter().cloned())
            .set_time_fn(move || {
                chrono::DateTime::from_timestamp_millis(clock.now_millis()).unwrap_or_default()
            });
        let claims = id_token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .map_err(|e| match e {
                ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                ) => IdTokenFailure::UnknownKey,
                other => IdTokenFailure::Invalid(format!("ID token: {}", describe(&other))),
            })?;
        // openidconnect leaves `azp` to the caller (OIDC Core 3.1.3.7 step 5).
        if let Some(azp) = claims.authorized_party() {
            if azp.as_str() != self.config.client_id {
                return Err(IdTokenFailure::Invalid(
                    "ID token: azp is not this client".into(),
                ));
            }
        }
        // …and `at_hash` too (step 3.1.3.8): when present it must match the access token.
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token.signing_alg().map_err(|e| invalid(&e))?;
            let key = id_token.signing_key(&verifier).map_err(|e| invalid(&e))?;
            let actual = AccessTokenHash::from_token(response.access_token(), alg, key)
                .map_err(|e| invalid(&e))?;
            if &actual != expected {
                return Err(IdTokenFailure::Invalid(
                    "ID token: at_hash does not match the access token".into(),
                ));
            }
        }
        let mut identity = identity!(claims);
        // The signature is verified: the payload's own claims (custom ones included) are
        // trustworthy, for a configured Nextcloud user claim and the access policy's groups.
        let payload = id_token_payload(&id_token.to_string());
        identity.claims = super::scalar_claims(&payload);
        identity.lists = super::list_claims(&payload);
        Ok(Some(identity))
    }

    /// [`Self::verify_id_token`], refetching the JWKS once when the signing key is unknown.
    async fn identity_from_id_token(
        &self,
        discovered: &Arc<Discovered>,
        response: &CoreTokenResponse,
        nonce: &str,
    ) -> Result<Option<UpstreamIdentity>, UpstreamError> {
        let unknown_key = || UpstreamError::Invalid("ID token signed by an unknown key".into());
        match self.verify_id_token(discovered, response, nonce) {
            Ok(identity) => Ok(identity),
            Err(IdTokenFailure::Invalid(msg)) => Err(UpstreamError::Invalid(msg)),
            Err(IdTokenFailure::UnknownKey) => {
                let Some(fresh) = self.refetch_jwks(discovered).await? else {
                    return Err(unknown_key());
                };
                match self.verify_id_token(&fresh, response, nonce) {
                    Ok(identity) => Ok(identity),
                    Err(IdTokenFailure::Invalid(msg)) => Err(UpstreamError::Invalid(msg)),
                    Err(IdTokenFailure::UnknownKey) => Err(unknown_key()),
                }
            }
        }
    }

    async fn identity_from_userinfo(
        &self,
        client: &Client,
        response: &CoreTokenResponse,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        let request = client
            .user_info(response.access_token().clone(), None)
            .map_err(|_| UpstreamError::Invalid("no ID token and no userinfo endpoint".into()))?;
        let claims: CoreUserInfoClaims = request
            .request_async(&self.http)
            .await
            .map_err(userinfo_error)?;
        let mut identity = identity!(&claims);
        let value = serde_json::to_value(&claims).unwrap_or_default();
        identity.claims = super::scalar_claims(&value);
        identity.lists = super::list_claims(&value);
        Ok(identity)
    }

    fn tokens(&self, response: &CoreTokenResponse) -> UpstreamTokens {
        let token_type = match response.token_type() {
            CoreTokenType::Bearer => "Bearer".to_owned(),
            other => other.as_ref().to_owned(),
        };
        UpstreamTokens {
            access_token: Secret::new(response.access_token().secret().as_str()),
            token_type,
            refresh_token: response
                .refresh_token()
                .map(|t| Secret::new(t.secret().as_str())),
            id_token: response.id_token().map(|t| Secret::new(t.to_string())),
            expires_at: response.expires_in().map(|d| {
                self.clock
                    .now()
                    .saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            }),
            scope: response
                .scopes()
                .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
        }
    }
}

#[async_trait]
impl UpstreamIdp for OidcUpstream {
    async fn is_ready(&self) -> bool {
        self.cache.read().await.current.is_some()
    }

    /// Always asks the IdP (start-up and the background retry loop); on failure the previous
    /// metadata, if any, stays in service. An issuer mismatch is `Invalid`.
    async fn discover(&self) -> Result<(), UpstreamError> {
        let _loading = self.loading.lock().await;
        self.load().await.map(|_| ())
    }

    async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Url, UpstreamError> {
        self.sign_in_url(state, nonce, pkce_verifier, true).await
    }

    async fn identity_url(
        &self,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Url, UpstreamError> {
        self.sign_in_url(state, nonce, pkce_verifier, false).await
    }

    async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<(UpstreamTokens, UpstreamIdentity), UpstreamError> {
        let discovered = self.current().await?;
        let response = discovered
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| UpstreamError::Invalid("the IdP advertises no token endpoint".into()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| token_error("token", e))?;
        let identity = match self
            .identity_from_id_token(&discovered, &response, nonce)
            .await?
        {
            Some(identity) => identity,
            None => {
                self.identity_from_userinfo(&discovered.client, &response)
                    .await?
            }
        };
        Ok((self.tokens(&response), identity))
    }

    /// `refresh_token` is `None` when the IdP does not rotate: the caller keeps the old one.
    /// An ID token in the answer is passed through as is, not validated: identity comes only
    /// from the code exchange.
    async fn refresh(&self, refresh_token: &str) -> Result<UpstreamTokens, UpstreamError> {
        let discovered = self.current().await?;
        let response = discovered
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))
            .map_err(|_| UpstreamError::Invalid("the IdP advertises no token endpoint".into()))?
            .request_async(&self.http)
            .await
            .map_err(|e| token_error("refresh", e))?;
        Ok(self.tokens(&response))
    }
}

#[cfg(test)]
mod tests;
