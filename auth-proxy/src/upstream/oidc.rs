//! The upstream OpenID Provider client, on `openidconnect`. Discovery (with the IdP's JWKS) is
//! cached and refreshed after `discovery_ttl`; an ID token signed by a key we have not seen
//! triggers at most one re-discovery per minute. Every HTTP call has a timeout and follows no
//! redirects. Errors never carry token, code or secret values.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, SignatureVerificationError, TokenResponse,
};
use tokio::sync::RwLock;
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
/// against a shared secret, and never be unsigned.
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

const JWKS_REFRESH_COOLDOWN_MS: i64 = 60_000;

#[derive(Clone)]
pub struct OidcUpstreamConfig {
    pub issuer: Url,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uri: Url,
    pub scopes: Vec<String>,
    pub timeout: Duration,
    pub discovery_ttl: Duration,
}

impl std::fmt::Debug for OidcUpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcUpstreamConfig")
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("scopes", &self.scopes)
            .finish()
    }
}

struct Discovered {
    client: Client,
    loaded_at_ms: i64,
}

pub struct OidcUpstream {
    config: OidcUpstreamConfig,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    discovered: RwLock<Option<Arc<Discovered>>>,
    last_forced_refresh_ms: Mutex<i64>,
}

impl std::fmt::Debug for OidcUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcUpstream")
            .field("config", &self.config)
            .finish()
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> UpstreamError {
    UpstreamError::Unavailable(format!("{what}: {e}"))
}

/// Maps a token-endpoint failure: an OAuth error from the IdP is a refusal, anything else
/// (network, timeout, 5xx, unparseable body) means the IdP is unavailable. Only the error code
/// is kept, never the request or response body.
fn token_error<RE, T>(what: &str, e: RequestTokenError<RE, T>) -> UpstreamError
where
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
{
    match e {
        RequestTokenError::ServerResponse(resp) => {
            let code = serde_json::to_value(&resp)
                .ok()
                .and_then(|v| v.get("error").and_then(|c| c.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "error".into());
            UpstreamError::Rejected(format!("{what}: {code}"))
        }
        RequestTokenError::Request(_) => unavailable(what, "request failed or timed out"),
        RequestTokenError::Parse(_, _) => unavailable(what, "unparseable response"),
        RequestTokenError::Other(msg) => unavailable(what, msg),
    }
}

impl OidcUpstream {
    pub fn new(config: OidcUpstreamConfig, clock: Arc<dyn Clock>) -> Result<Self, UpstreamError> {
        let issuer = IssuerUrl::new(config.issuer.as_str().trim_end_matches('/').to_owned())
            .map_err(|_| UpstreamError::Invalid("issuer URL".into()))?;
        let redirect = RedirectUrl::new(config.redirect_uri.to_string())
            .map_err(|_| UpstreamError::Invalid("redirect URI".into()))?;
        let http = reqwest::Client::builder()
            // Never follow redirects on token/JWKS/userinfo calls (SSRF and token leakage).
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.timeout)
            .timeout(config.timeout)
            .build()
            .map_err(|e| unavailable("HTTP client", e))?;
        Ok(Self {
            config,
            issuer,
            redirect,
            http,
            clock,
            discovered: RwLock::new(None),
            last_forced_refresh_ms: Mutex::new(i64::MIN / 2),
        })
    }

    async fn load(&self) -> Result<Arc<Discovered>, UpstreamError> {
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| unavailable("discovery", e))?;
        let secret_post_only = metadata
            .token_endpoint_auth_methods_supported()
            .is_some_and(|methods| {
                methods.contains(&CoreClientAuthMethod::ClientSecretPost)
                    && !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
            });
        let mut client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect.clone());
        if secret_post_only {
            client = client.set_auth_type(AuthType::RequestBody);
        }
        let discovered = Arc::new(Discovered {
            client,
            loaded_at_ms: self.clock.now_millis(),
        });
        *self.discovered.write().await = Some(discovered.clone());
        Ok(discovered)
    }

    /// The cached discovery, loading or refreshing it when absent or stale.
    async fn current(&self) -> Result<Arc<Discovered>, UpstreamError> {
        let ttl = i64::try_from(self.config.discovery_ttl.as_millis()).unwrap_or(i64::MAX);
        let cached = self.discovered.read().await.clone();
        match cached {
            Some(d) if self.clock.now_millis() - d.loaded_at_ms < ttl => Ok(d),
            // Stale: try to refresh, but keep serving the old metadata if the IdP is down.
            Some(d) => Ok(self.load().await.unwrap_or(d)),
            None => self.load().await,
        }
    }

    /// Re-discovers (fetching the JWKS again) unless that was done within the cooldown.
    async fn force_refresh(&self) -> Option<Arc<Discovered>> {
        let now = self.clock.now_millis();
        {
            let mut last = self
                .last_forced_refresh_ms
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if now - *last < JWKS_REFRESH_COOLDOWN_MS {
                return None;
            }
            *last = now;
        }
        self.load().await.ok()
    }

    fn identity_from_id_token(
        &self,
        client: &Client,
        response: &CoreTokenResponse,
        nonce: &str,
    ) -> Result<Option<UpstreamIdentity>, UpstreamError> {
        let Some(id_token) = response.id_token() else {
            return Ok(None);
        };
        let clock = self.clock.clone();
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(ALLOWED_ALGS)
            .set_time_fn(move || {
                chrono::DateTime::from_timestamp_millis(clock.now_millis()).unwrap_or_default()
            });
        let claims = id_token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .map_err(|e| match e {
                ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                ) => UpstreamError::Unavailable("ID token signed by an unknown key".into()),
                other => UpstreamError::Invalid(format!("ID token: {other}")),
            })?;
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(|e| UpstreamError::Invalid(format!("ID token: {e}")))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| UpstreamError::Invalid(format!("ID token: {e}")))?;
            let actual = AccessTokenHash::from_token(response.access_token(), alg, key)
                .map_err(|e| UpstreamError::Invalid(format!("at_hash: {e}")))?;
            if &actual != expected {
                return Err(UpstreamError::Invalid(
                    "at_hash does not match the access token".into(),
                ));
            }
        }
        Ok(Some(UpstreamIdentity {
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
            preferred_username: claims.preferred_username().map(|u| u.to_string()),
        }))
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
            .map_err(|e| unavailable("userinfo", e))?;
        Ok(UpstreamIdentity {
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
            preferred_username: claims.preferred_username().map(|u| u.to_string()),
        })
    }

    fn tokens(&self, response: &CoreTokenResponse) -> UpstreamTokens {
        UpstreamTokens {
            access_token: response.access_token().secret().clone(),
            token_type: "Bearer".into(),
            refresh_token: response.refresh_token().map(|t| t.secret().clone()),
            id_token: response.id_token().map(|t| t.to_string()),
            expires_at: response
                .expires_in()
                .map(|d| self.clock.now() + i64::try_from(d.as_secs()).unwrap_or(0)),
            scope: response
                .scopes()
                .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
        }
    }
}

#[async_trait]
impl UpstreamIdp for OidcUpstream {
    async fn is_ready(&self) -> bool {
        self.discovered.read().await.is_some()
    }

    async fn discover(&self) -> Result<(), UpstreamError> {
        self.load().await.map(|_| ())
    }

    async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
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
        for scope in self.config.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        // Most IdPs (oidc-provider, Keycloak) issue a refresh token for offline_access only
        // after an explicit consent prompt.
        if self.config.scopes.iter().any(|s| s == "offline_access") {
            request = request.add_extra_param("prompt", "consent");
        }
        let (url, _, _) = request.url();
        Ok(url)
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
        let identity = match self.identity_from_id_token(&discovered.client, &response, nonce) {
            // A key we do not know yet: the IdP may have rotated; re-fetch once and retry.
            Err(UpstreamError::Unavailable(_)) => match self.force_refresh().await {
                Some(fresh) => self.identity_from_id_token(&fresh.client, &response, nonce)?,
                None => {
                    return Err(UpstreamError::Invalid(
                        "ID token signed by an unknown key".into(),
                    ))
                }
            },
            other => other?,
        };
        let identity = match identity {
            Some(identity) => identity,
            None => {
                self.identity_from_userinfo(&discovered.client, &response)
                    .await?
            }
        };
        Ok((self.tokens(&response), identity))
    }

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
