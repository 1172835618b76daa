//! The typed settings [`super::Config`] is made of: rate limits, the consent policy, cookies,
//! the upstream IdP, ID-JAG, connections, CIMD, client assertions, token exchange and the
//! Nextcloud credentials.

use std::str::FromStr;
use std::time::Duration;

use url::Url;

use super::Secret;
use crate::ids::ClientId;

/// `COUNT/SECONDS`, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub window: Duration,
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (count, secs) = s
            .split_once('/')
            .ok_or_else(|| "expected COUNT/SECONDS, e.g. 30/60, or `off`".to_owned())?;
        let limit: u32 = count
            .trim()
            .parse()
            .map_err(|_| "COUNT must be a positive integer".to_owned())?;
        let secs: u64 = secs
            .trim()
            .parse()
            .map_err(|_| "SECONDS must be a positive integer".to_owned())?;
        if limit == 0 || secs == 0 || secs > 86_400 {
            return Err("COUNT must be ≥ 1 and SECONDS between 1 and 86400".into());
        }
        Ok(Self {
            limit,
            window: Duration::from_secs(secs),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    pub register: Option<RateLimit>,
    /// One bucket for every new registration, whichever IP it comes from.
    pub register_global: Option<RateLimit>,
    pub authorize: Option<RateLimit>,
    pub token: Option<RateLimit>,
    /// `/authorize` per `client_id`, whatever IP the browsers come from.
    pub authorize_per_client: Option<RateLimit>,
    /// Authorization-code redemptions and jwt-bearer grants per `client_id` (not refreshes:
    /// they keep their two store round trips).
    pub token_per_client: Option<RateLimit>,
    /// Per user (upstream `sub`): sign-ins at `/callback` and jwt-bearer grants.
    pub per_user: Option<RateLimit>,
}

/// The access policy (`crate::policy`, ADR 0021): empty lists allow everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySettings {
    /// Upstream subjects (`sub`), compared exactly.
    pub allowed_users: Vec<String>,
    /// Group names, compared exactly, found in the claim `groups_claim`.
    pub allowed_groups: Vec<String>,
    pub groups_claim: String,
    /// Lower-case domain names; an e-mail address must be in one exactly and verified.
    pub allowed_email_domains: Vec<String>,
}

impl PolicySettings {
    /// No list configured: everyone may sign in.
    pub fn is_open(&self) -> bool {
        self.allowed_users.is_empty()
            && self.allowed_groups.is_empty()
            && self.allowed_email_domains.is_empty()
    }
}

/// How the browser-binding cookie is named and flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieMode {
    /// `__Host-` prefix, `Secure`: any https issuer.
    HostPrefixed,
    /// Plain-http loopback development only: no prefix, no `Secure` (browsers refuse both on
    /// http). Documented in docs/configuration.md.
    LoopbackDevelopment,
}

#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    pub issuer: Url,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub scopes: Vec<String>,
    pub timeout: Duration,
}

/// Enterprise-Managed Authorization: the jwt-bearer grant with identity assertions (ID-JAGs)
/// from trusted enterprise IdPs (`crate::idjag`, ADR 0020).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdJagSettings {
    /// The trusted issuers (JSON); `None` turns the grant off (and unadvertised).
    pub issuers_file: Option<std::path::PathBuf>,
    /// Accepted signature algorithms (asymmetric only); an issuer may narrow them.
    pub algs: Vec<jsonwebtoken::Algorithm>,
    /// Longest accepted `exp − iat`.
    pub max_lifetime: Duration,
    /// Whether public clients (`none`) may use the grant (the draft says confidential only).
    pub public_clients: bool,
    /// Test rigs only: issuers and `jwks_uri`s on loopback over plain http.
    pub test_allow_loopback: bool,
}

/// The connections page (`/connections`, ADR 0019).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionsSettings {
    /// Off: the page is not served and no grant index is written.
    pub enabled: bool,
    /// How long a sign-in to the page lasts.
    pub session_ttl: Duration,
}

/// Client ID Metadata Document fetching (see `crate::clients::cimd`).
#[derive(Debug, Clone)]
pub struct CimdSettings {
    pub enabled: bool,
    /// Empty: any public host. Entries `host` or `*.domain`.
    pub allowed_hosts: Vec<String>,
    pub cache_min: Duration,
    pub cache_max: Duration,
    pub failure_cache: Duration,
    pub fetch_timeout: Duration,
    pub max_bytes: usize,
    pub rate_limit_per_host: Option<RateLimit>,
    pub rate_limit_global: Option<RateLimit>,
    /// Test rigs only: documents may live on loopback (also over plain http).
    pub test_allow_loopback: bool,
    /// Whether documents may authenticate with `private_key_jwt` (RFC 7523); off, only
    /// `none` documents are accepted.
    pub private_key_jwt: bool,
}

impl Default for CimdSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_hosts: Vec::new(),
            cache_min: Duration::from_secs(60),
            cache_max: Duration::from_secs(86_400),
            failure_cache: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(5),
            max_bytes: 32 * 1024,
            rate_limit_per_host: Some(RateLimit {
                limit: 30,
                window: Duration::from_secs(60),
            }),
            rate_limit_global: Some(RateLimit {
                limit: 600,
                window: Duration::from_secs(60),
            }),
            test_allow_loopback: false,
            private_key_jwt: true,
        }
    }
}

/// RFC 7523 client assertions (`private_key_jwt`): what is accepted at `/token` and `/revoke`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAssertionSettings {
    /// Asymmetric JWS algorithms only (the config refuses `none` and `HS*`).
    pub algs: Vec<jsonwebtoken::Algorithm>,
    /// Longest accepted `exp − now`: also bounds how long a `jti` is remembered.
    pub max_lifetime: Duration,
}

impl Default for ClientAssertionSettings {
    fn default() -> Self {
        use jsonwebtoken::Algorithm;
        Self {
            algs: vec![
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
                Algorithm::PS256,
                Algorithm::RS256,
            ],
            max_lifetime: Duration::from_secs(300),
        }
    }
}

/// The mcp-server's confidential client, the only one allowed to use token exchange.
#[derive(Debug, Clone)]
pub struct ExchangeClientSettings {
    pub client_id: ClientId,
    pub client_secret: Secret,
    /// An upstream access token expiring within this margin is refreshed before it is handed
    /// out.
    pub refresh_margin: Duration,
}

/// How mcp-server reaches Nextcloud for a user: what a token exchange hands out (ADR 0012).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextcloudCredentials {
    /// The user's upstream access token (Nextcloud with user_oidc bearer validation and the
    /// CORS fix for app APIs such as Notes).
    Bearer,
    /// A per-user, per-client app password from Nextcloud Login Flow v2, obtained during
    /// sign-in and checked to belong to the signed-in user.
    AppPassword(Box<AppPasswordSettings>),
}

/// Where Nextcloud is and how its user ids relate to the IdP's identities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPasswordSettings {
    /// Nextcloud's base URL as the auth-proxy reaches it (no trailing slash).
    pub url: Url,
    /// Nextcloud's base URL as browsers reach it (no trailing slash).
    pub public_url: Url,
    /// The identity claim that names the Nextcloud user.
    pub user_claim: String,
    pub user_id: UserIdMapping,
    /// How long a person has to grant access in Nextcloud (at most Nextcloud's 20 minutes).
    pub login_flow_timeout: Duration,
}

/// How Nextcloud's user_oidc turns the identity claim into a user id
/// (nextcloud/user_oidc lib/Service/LocalIdService.php `getId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserIdMapping {
    /// The claim value is the user id ("unique user id" off).
    Plain,
    /// "Unique user id" on (user_oidc's default): SHA-256 hex of `<provider id>_0_<claim>`.
    UniqueUid { provider_id: u32 },
    /// "Provider-based id": `<provider identifier>-<claim>`.
    ProviderBased { identifier: String },
}

impl FromStr for UserIdMapping {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "plain" {
            return Ok(Self::Plain);
        }
        if let Some(id) = s.strip_prefix("unique-uid:") {
            return id
                .trim()
                .parse()
                .map(|provider_id| Self::UniqueUid { provider_id })
                .map_err(|_| {
                    "unique-uid: needs user_oidc's numeric provider id, e.g. unique-uid:1"
                        .to_owned()
                });
        }
        if let Some(identifier) = s.strip_prefix("provider-based:") {
            let identifier = identifier.trim();
            if identifier.is_empty() {
                return Err(
                    "provider-based: needs the provider identifier, e.g. provider-based:Keycloak"
                        .into(),
                );
            }
            return Ok(Self::ProviderBased {
                identifier: identifier.to_owned(),
            });
        }
        Err("must be `plain`, `unique-uid:<provider id>` or `provider-based:<identifier>`".into())
    }
}
