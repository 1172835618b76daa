//! What every handler can reach: configuration and the seams (store, upstream IdP, keys,
//! cipher, clock, metrics, client registry).

use std::sync::Arc;

use actix_web::HttpRequest;

use crate::client_ip;
use crate::clients::ClientRegistry;
use crate::clock::Clock;
use crate::config::{Config, RateLimit};
use crate::connections::GrantIndex;
use crate::crypto::TokenCipher;
use crate::error::OAuthError;
use crate::grants::Grants;
use crate::idjag::IdJagIssuers;
use crate::keys::SigningKeys;
use crate::metrics::{Denied, Metrics};
use crate::nextcloud::Credentials;
use crate::store::{Store, StoreError};
use crate::upstream::UpstreamIdp;

#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub upstream: Arc<dyn UpstreamIdp>,
    pub keys: Arc<SigningKeys>,
    pub cipher: Arc<TokenCipher>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    /// RFC 8414 metadata, serialised once.
    pub metadata_json: Arc<str>,
    /// Finds clients wherever they are defined (configuration, metadata documents, store).
    pub clients: Arc<ClientRegistry>,
    /// The app-password strategy's vault and Nextcloud client; `None` with `bearer` or
    /// without token exchange.
    pub nextcloud: Option<Arc<Credentials>>,
    /// The per-user grant index behind the connections page.
    pub grant_index: Arc<GrantIndex>,
    /// Trusted ID-JAG issuers and their keys (empty: the jwt-bearer grant is off).
    pub idjag: Arc<IdJagIssuers>,
}

/// A per-client or per-user bucket (a fixed set: bounded metric labels). Its key holds a hash
/// of the client id or subject, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyed {
    /// `/authorize`, by `client_id`.
    AuthorizeClient,
    /// Code redemption and jwt-bearer grants at `/token`, by `client_id`.
    TokenClient,
    /// Sign-ins at `/callback`, by upstream subject.
    UserSignIn,
    /// jwt-bearer grants, by the assertion's subject.
    UserAssertion,
}

impl Keyed {
    fn name(self) -> &'static str {
        match self {
            Keyed::AuthorizeClient => "authorize_client",
            Keyed::TokenClient => "token_client",
            Keyed::UserSignIn => "user_signin",
            Keyed::UserAssertion => "user_jwt_bearer",
        }
    }

    fn bucket(self) -> &'static str {
        match self {
            Keyed::AuthorizeClient => "authorize-client",
            Keyed::TokenClient => "token-client",
            Keyed::UserSignIn => "user:signin",
            Keyed::UserAssertion => "user:jwt-bearer",
        }
    }
}

/// Which endpoint a rate-limit bucket belongs to (a fixed set: bounded metric labels).
#[derive(Debug, Clone, Copy)]
pub enum Limited {
    Register,
    Authorize,
    Token,
}

impl Limited {
    fn name(self) -> &'static str {
        match self {
            Limited::Register => "register",
            Limited::Authorize => "authorize",
            Limited::Token => "token",
        }
    }
}

impl AppState {
    /// The grants service over this state's store, clock and signing keys.
    pub fn grants(&self) -> Grants<'_> {
        Grants::new(&*self.store, &*self.clock, &self.keys, &self.config)
            .with_nextcloud(self.nextcloud.as_deref())
    }

    fn limit_for(&self, endpoint: Limited) -> Option<RateLimit> {
        let limits = &self.config.rate_limits;
        match endpoint {
            Limited::Register => limits.register,
            Limited::Authorize => limits.authorize,
            Limited::Token => limits.token,
        }
    }

    /// Counts this request against the per-IP limit of `endpoint`, shared by all replicas
    /// through the store. `Err` carries 429 + `Retry-After`.
    pub async fn check_rate_limit(
        &self,
        endpoint: Limited,
        req: &HttpRequest,
    ) -> Result<(), OAuthError> {
        let Some(limit) = self.limit_for(endpoint) else {
            return Ok(());
        };
        // Every header line, in order; a line that is not text stops the walk like any
        // other entry that is not an address.
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .map(|v| v.to_str().unwrap_or("?"))
            .collect();
        let peer = req.peer_addr().map(|a| a.ip());
        let ip = client_ip::resolve(peer, &forwarded, &self.config.trusted_proxies)
            .map(client_ip::rate_limit_key)
            .unwrap_or_else(|| "unknown".into());
        let bucket = format!("{}:{ip}", endpoint.name());
        let decision = self
            .store
            .hit_rate_limit(&bucket, limit.limit, limit.window)
            .await
            .map_err(|e| self.store_error(e))?;
        if decision.allowed {
            Ok(())
        } else {
            self.metrics
                .rate_limited
                .with_label_values(&[endpoint.name()])
                .inc();
            self.metrics.denied(Denied::RateLimitedIp);
            Err(OAuthError::rate_limited(decision.retry_after_secs))
        }
    }

    /// Counts this request against the per-client or per-user limit `which` for `key` (the
    /// client id or the subject; only its hash reaches the store), shared by all replicas.
    /// One store round trip when the limit is on. `Err` carries 429 + `Retry-After`.
    pub async fn check_keyed_rate_limit(&self, which: Keyed, key: &str) -> Result<(), OAuthError> {
        let limits = &self.config.rate_limits;
        let limit = match which {
            Keyed::AuthorizeClient => limits.authorize_per_client,
            Keyed::TokenClient => limits.token_per_client,
            Keyed::UserSignIn | Keyed::UserAssertion => limits.per_user,
        };
        let Some(limit) = limit else {
            return Ok(());
        };
        let bucket = format!("{}:{}", which.bucket(), crate::crypto::sha256_hex(key));
        let decision = self
            .store
            .hit_rate_limit(&bucket, limit.limit, limit.window)
            .await
            .map_err(|e| self.store_error(e))?;
        if decision.allowed {
            return Ok(());
        }
        self.metrics
            .rate_limited
            .with_label_values(&[which.name()])
            .inc();
        self.metrics.denied(match which {
            Keyed::AuthorizeClient | Keyed::TokenClient => Denied::RateLimitedClient,
            Keyed::UserSignIn | Keyed::UserAssertion => Denied::RateLimitedUser,
        });
        Err(OAuthError::rate_limited(decision.retry_after_secs))
    }

    /// Counts a store failure and maps it to the client-facing error.
    pub fn store_error(&self, e: StoreError) -> OAuthError {
        self.metrics.store_errors.inc();
        e.into()
    }

    /// Counts a new registration against the quota shared by all clients and replicas
    /// (`AUTH_PROXY_RATE_LIMIT_REGISTER_GLOBAL`). `Err` carries 429 + `Retry-After`.
    pub async fn check_registration_quota(&self) -> Result<(), OAuthError> {
        let Some(limit) = self.config.rate_limits.register_global else {
            return Ok(());
        };
        let decision = self
            .store
            .hit_rate_limit("register-global", limit.limit, limit.window)
            .await
            .map_err(|e| self.store_error(e))?;
        if decision.allowed {
            return Ok(());
        }
        self.metrics
            .rate_limited
            .with_label_values(&["register_global"])
            .inc();
        Err(OAuthError::rate_limited(decision.retry_after_secs))
    }
}
