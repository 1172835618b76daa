//! Configuration from the environment, validated once at start-up into typed values. A bad
//! value fails naming the variable; an unknown `AUTH_PROXY_*` variable is refused too, so a
//! typo cannot silently fall back to a default. Secrets may come from `<NAME>_FILE` instead.
//! Every variable is documented in `docs/configuration.md`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use mcp_shared::net::is_loopback_host;
use mcp_shared::ops::env::{split_list, vars_with_prefix, weak_generated_secret, Env};
use url::Url;

use crate::crypto::TokenCipher;
use crate::ids::ClientId;

pub use mcp_shared::ops::env::{ConfigError, LogFormat};
pub use mcp_shared::Secret;

pub const PREFIX: &str = "AUTH_PROXY_";

/// Every variable this service reads (without `_FILE` forms), for the unknown-variable check.
const KNOWN: &[&str] = &[
    "ISSUER",
    "BIND",
    "METRICS_BIND",
    "RESOURCES",
    "REDIS_URL",
    "REDIS_PREFIX",
    "UPSTREAM_ISSUER",
    "UPSTREAM_CLIENT_ID",
    "UPSTREAM_CLIENT_SECRET",
    "UPSTREAM_SCOPES",
    "UPSTREAM_OFFLINE_ACCESS",
    "UPSTREAM_TIMEOUT_SECS",
    "SIGNING_KEYS",
    "ENCRYPTION_KEYS",
    "ACCESS_TOKEN_TTL_SECS",
    "REFRESH_TOKEN_TTL_SECS",
    "REFRESH_GRACE_SECS",
    "RATE_LIMIT_REGISTER",
    "RATE_LIMIT_REGISTER_GLOBAL",
    "CLIENT_IDLE_TTL_SECS",
    "CLIENT_UNUSED_TTL_SECS",
    "CLIENTS_FILE",
    "RATE_LIMIT_AUTHORIZE",
    "RATE_LIMIT_TOKEN",
    "RATE_LIMIT_AUTHORIZE_PER_CLIENT",
    "RATE_LIMIT_TOKEN_PER_CLIENT",
    "RATE_LIMIT_PER_USER",
    "TRUSTED_PROXIES",
    "LOG_FORMAT",
    "SHUTDOWN_TIMEOUT_SECS",
    "EXCHANGE_CLIENT_ID",
    "EXCHANGE_CLIENT_SECRET",
    "EXCHANGE_REFRESH_MARGIN_SECS",
    "CIMD_ENABLED",
    "CIMD_ALLOWED_HOSTS",
    "CIMD_CACHE_MIN_SECS",
    "CIMD_CACHE_MAX_SECS",
    "CIMD_FAILURE_CACHE_SECS",
    "CIMD_FETCH_TIMEOUT_SECS",
    "CIMD_MAX_BYTES",
    "RATE_LIMIT_CIMD_PER_HOST",
    "RATE_LIMIT_CIMD_GLOBAL",
    "CIMD_TEST_ALLOW_LOOPBACK",
    "CIMD_PRIVATE_KEY_JWT",
    "CLIENT_ASSERTION_ALGS",
    "CLIENT_ASSERTION_MAX_LIFETIME_SECS",
    "IDJAG_ISSUERS_FILE",
    "IDJAG_ALGS",
    "IDJAG_MAX_LIFETIME_SECS",
    "IDJAG_PUBLIC_CLIENTS",
    "IDJAG_TEST_ALLOW_LOOPBACK",
    "NEXTCLOUD_CREDENTIALS",
    "NEXTCLOUD_URL",
    "NEXTCLOUD_PUBLIC_URL",
    "NEXTCLOUD_USER_CLAIM",
    "NEXTCLOUD_USER_ID_MAPPING",
    "NEXTCLOUD_LOGIN_FLOW_TIMEOUT_SECS",
    "NEXTCLOUD_ALLOW_INSECURE_HTTP",
    "CONNECTIONS_ENABLED",
    "CONNECTIONS_SESSION_TTL_SECS",
    "POLICY_ALLOWED_USERS",
    "POLICY_ALLOWED_GROUPS",
    "POLICY_GROUPS_CLAIM",
    "POLICY_ALLOWED_EMAIL_DOMAINS",
];
const SECRET_FILES: &[&str] = &[
    "UPSTREAM_CLIENT_SECRET",
    "EXCHANGE_CLIENT_SECRET",
    "SIGNING_KEYS",
    "ENCRYPTION_KEYS",
    "REDIS_URL",
];

fn err(name: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: format!("{PREFIX}{name}"),
        message: message.into(),
    }
}

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

#[derive(Debug, Clone)]
pub struct Config {
    /// Issuer identifier, an origin without trailing slash (`https://auth.example.com`).
    pub issuer: String,
    pub bind: SocketAddr,
    pub metrics_bind: SocketAddr,
    /// Canonical resource URIs of the MCP server(s); the first is the default `resource`.
    pub resources: Vec<String>,
    pub redis_url: Option<Secret>,
    pub redis_prefix: String,
    pub upstream: UpstreamSettings,
    /// PEM bundle of P-256 and/or Ed25519 keys; `None` means an ephemeral ES256 key (memory
    /// store only).
    pub signing_keys_pem: Option<Secret>,
    /// Raw 32-byte keys; empty means an ephemeral key (memory store only).
    pub encryption_keys: Vec<Vec<u8>>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub refresh_grace: Duration,
    pub rate_limits: RateLimits,
    /// A dynamically registered client unused for this long is forgotten.
    pub client_idle_ttl: Duration,
    /// A dynamically registered client never issued a token is forgotten after this long
    /// (or after `client_idle_ttl`, if that is shorter).
    pub client_unused_ttl: Duration,
    /// JSON file of pre-registered clients (`crate::clients`).
    pub clients_file: Option<std::path::PathBuf>,
    pub trusted_proxies: Vec<IpNet>,
    pub log_format: LogFormat,
    pub cookie_mode: CookieMode,
    pub shutdown_timeout: Duration,
    /// `None`: token exchange is disabled (not advertised, refused).
    pub exchange_client: Option<ExchangeClientSettings>,
    /// What a token exchange hands out; `None` when token exchange is disabled.
    pub nextcloud: Option<NextcloudCredentials>,
    pub cimd: CimdSettings,
    pub client_assertion: ClientAssertionSettings,
    pub connections: ConnectionsSettings,
    pub idjag: IdJagSettings,
    pub policy: PolicySettings,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&vars_with_prefix(PREFIX))
    }

    /// `vars` holds full variable names (`AUTH_PROXY_…`).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let env = Env::new(PREFIX, vars);
        env.reject_unknown(KNOWN, SECRET_FILES)?;

        let issuer_url = env.url("ISSUER", "http://127.0.0.1:8080")?;
        if issuer_url.query().is_some()
            || issuer_url.fragment().is_some()
            || issuer_url.path() != "/"
        {
            return Err(err(
                "ISSUER",
                "must be an origin such as https://auth.example.com (no path, query or fragment)",
            ));
        }
        let cookie_mode = match issuer_url.scheme() {
            "https" => CookieMode::HostPrefixed,
            "http" if is_loopback_host(&issuer_url) => CookieMode::LoopbackDevelopment,
            _ => {
                return Err(err(
                    "ISSUER",
                    "must be https (plain http is allowed only for loopback development)",
                ))
            }
        };
        let issuer = issuer_url.as_str().trim_end_matches('/').to_owned();

        let resources = env
            .list("RESOURCES", "http://127.0.0.1:8000/mcp")
            .into_iter()
            .map(|r| {
                let url = Url::parse(&r)
                    .map_err(|_| err("RESOURCES", format!("`{r}` is not an absolute URL")))?;
                let secure =
                    url.scheme() == "https" || (url.scheme() == "http" && is_loopback_host(&url));
                if !secure || url.fragment().is_some() || url.query().is_some() {
                    return Err(err(
                        "RESOURCES",
                        format!("`{r}` must be https (or loopback http) without query or fragment"),
                    ));
                }
                Ok(r)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if resources.is_empty() {
            return Err(err("RESOURCES", "at least one resource URI is required"));
        }

        let redis_url = env.secret("REDIS_URL")?.filter(|s| !s.expose().is_empty());
        if let Some(url) = &redis_url {
            // One Redis, Redis Cluster or Sentinel (forms: `store::redis::Target`). The error
            // names the problem, never the URL, which may hold a password.
            crate::store::redis::Target::parse(url.expose())
                .map_err(|e| err("REDIS_URL", e.to_string()))?;
        }
        let redis_prefix = env.string("REDIS_PREFIX", "mcp-auth");
        if redis_prefix.is_empty()
            || !redis_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        {
            return Err(err("REDIS_PREFIX", "must be non-empty [A-Za-z0-9-_.:]"));
        }

        let upstream_issuer = env.get("UPSTREAM_ISSUER").ok_or_else(|| {
            err(
                "UPSTREAM_ISSUER",
                "required: the issuer URL of your identity provider (Nextcloud, Keycloak, …)",
            )
        })?;
        let upstream_issuer = Url::parse(upstream_issuer)
            .map_err(|_| err("UPSTREAM_ISSUER", "not an absolute URL"))?;
        if upstream_issuer.scheme() != "https" && !is_loopback_host(&upstream_issuer) {
            return Err(err(
                "UPSTREAM_ISSUER",
                "must be https (plain http only for a loopback development IdP)",
            ));
        }
        let client_id = env
            .get("UPSTREAM_CLIENT_ID")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                err(
                    "UPSTREAM_CLIENT_ID",
                    "required: the proxy's client id at the identity provider",
                )
            })?
            .to_owned();
        let client_secret = env
            .secret("UPSTREAM_CLIENT_SECRET")?
            .filter(|s| !s.expose().is_empty());
        let mut scopes = env.words("UPSTREAM_SCOPES", "openid profile email");
        if !scopes.iter().any(|s| s == "openid") {
            return Err(err("UPSTREAM_SCOPES", "must include `openid`"));
        }
        if env.bool("UPSTREAM_OFFLINE_ACCESS", true)?
            && !scopes.iter().any(|s| s == "offline_access")
        {
            scopes.push("offline_access".into());
        }
        let upstream = UpstreamSettings {
            issuer: upstream_issuer,
            client_id,
            client_secret,
            scopes,
            timeout: env.secs("UPSTREAM_TIMEOUT_SECS", 10, 1, 120)?,
        };

        let signing_keys_pem = env
            .secret("SIGNING_KEYS")?
            .filter(|s| !s.expose().trim().is_empty());
        if let Some(pem) = &signing_keys_pem {
            crate::keys::SigningKeys::from_pem_bundle(pem.expose())
                .map_err(|e| err("SIGNING_KEYS", e.to_string()))?;
        }
        let encryption_keys = match env.secret("ENCRYPTION_KEYS")? {
            None => Vec::new(),
            Some(raw) => split_list(raw.expose())
                .iter()
                .map(|k| {
                    TokenCipher::decode_key(k).map_err(|e| err("ENCRYPTION_KEYS", e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        if redis_url.is_some() {
            // Replicas sharing Redis must agree on keys, and a restart must not orphan grants.
            if signing_keys_pem.is_none() {
                return Err(err("SIGNING_KEYS", "required when AUTH_PROXY_REDIS_URL is set (every replica must sign with the same keys)"));
            }
            if encryption_keys.is_empty() {
                return Err(err("ENCRYPTION_KEYS", "required when AUTH_PROXY_REDIS_URL is set (generate with `openssl rand -base64 32`)"));
            }
        }

        let access_token_ttl = env.secs("ACCESS_TOKEN_TTL_SECS", 600, 60, 86_400)?;
        let refresh_token_ttl =
            env.secs("REFRESH_TOKEN_TTL_SECS", 30 * 86_400, 300, 365 * 86_400)?;
        let refresh_grace = env.secs("REFRESH_GRACE_SECS", 10, 0, 300)?;

        let rate_limits = RateLimits {
            register: rate_limit(&env, "RATE_LIMIT_REGISTER", "20/3600")?,
            register_global: rate_limit(&env, "RATE_LIMIT_REGISTER_GLOBAL", "1000/3600")?,
            authorize: rate_limit(&env, "RATE_LIMIT_AUTHORIZE", "60/60")?,
            token: rate_limit(&env, "RATE_LIMIT_TOKEN", "120/60")?,
            authorize_per_client: rate_limit(&env, "RATE_LIMIT_AUTHORIZE_PER_CLIENT", "300/60")?,
            token_per_client: rate_limit(&env, "RATE_LIMIT_TOKEN_PER_CLIENT", "1200/60")?,
            per_user: rate_limit(&env, "RATE_LIMIT_PER_USER", "120/60")?,
        };
        let client_idle_ttl = env.secs("CLIENT_IDLE_TTL_SECS", 30 * 86_400, 3600, 365 * 86_400)?;
        let client_unused_ttl = env.secs("CLIENT_UNUSED_TTL_SECS", 86_400, 3600, 86_400)?;
        let clients_file = match env.get("CLIENTS_FILE").map(str::trim) {
            None => None,
            Some("") => return Err(err("CLIENTS_FILE", "must name a file when set")),
            Some(path) => Some(std::path::PathBuf::from(path)),
        };
        let trusted_proxies = env
            .list("TRUSTED_PROXIES", "")
            .into_iter()
            .map(|c| {
                c.parse::<IpNet>()
                    .or_else(|_| c.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        err(
                            "TRUSTED_PROXIES",
                            format!("`{c}` is not a CIDR or IP address"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let log_format = match env.string("LOG_FORMAT", "text").as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => return Err(err("LOG_FORMAT", "must be `text` or `json`")),
        };

        let exchange_client = match env.secret("EXCHANGE_CLIENT_SECRET")? {
            None => None,
            Some(secret) if weak_generated_secret(secret.expose()).is_some() => {
                let why = weak_generated_secret(secret.expose()).unwrap_or_default();
                return Err(err("EXCHANGE_CLIENT_SECRET", why));
            }
            Some(client_secret) => Some(ExchangeClientSettings {
                client_id: ClientId::parse(&env.string("EXCHANGE_CLIENT_ID", "mcp-server"))
                    .ok_or_else(|| err("EXCHANGE_CLIENT_ID", "must not be empty"))?,
                client_secret,
                refresh_margin: env.secs("EXCHANGE_REFRESH_MARGIN_SECS", 60, 0, 3600)?,
            }),
        };

        // Validated even without token exchange (a typo must not wait until exchange is on),
        // but only used with it.
        let strategy_configured = KNOWN
            .iter()
            .any(|k| k.starts_with("NEXTCLOUD_") && env.get(k).is_some());
        let nextcloud = match &exchange_client {
            Some(_) => Some(nextcloud_credentials(&env)?),
            None if strategy_configured => {
                nextcloud_credentials(&env)?;
                None
            }
            None => None,
        };

        let cimd_min = env.secs("CIMD_CACHE_MIN_SECS", 60, 0, 86_400)?;
        let cimd_max = env.secs("CIMD_CACHE_MAX_SECS", 86_400, 0, 604_800)?;
        if cimd_max < cimd_min {
            return Err(err(
                "CIMD_CACHE_MAX_SECS",
                "must not be smaller than AUTH_PROXY_CIMD_CACHE_MIN_SECS",
            ));
        }
        let cimd_allowed_hosts = env.list("CIMD_ALLOWED_HOSTS", "");
        for h in &cimd_allowed_hosts {
            let bare = h.strip_prefix("*.").unwrap_or(h);
            if bare.is_empty()
                || bare.contains('*')
                || !bare
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return Err(err(
                    "CIMD_ALLOWED_HOSTS",
                    format!("`{h}` is not a host name or *.domain pattern"),
                ));
            }
        }
        let cimd = CimdSettings {
            enabled: env.bool("CIMD_ENABLED", true)?,
            allowed_hosts: cimd_allowed_hosts,
            cache_min: cimd_min,
            cache_max: cimd_max,
            failure_cache: env.secs("CIMD_FAILURE_CACHE_SECS", 30, 0, 3600)?,
            fetch_timeout: env.secs("CIMD_FETCH_TIMEOUT_SECS", 5, 1, 30)?,
            max_bytes: match env.get("CIMD_MAX_BYTES") {
                None => 32 * 1024,
                Some(raw) => raw
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1024..=1024 * 1024).contains(n))
                    .ok_or_else(|| {
                        err("CIMD_MAX_BYTES", "must be between 1024 and 1048576 bytes")
                    })?,
            },
            rate_limit_per_host: rate_limit(&env, "RATE_LIMIT_CIMD_PER_HOST", "30/60")?,
            rate_limit_global: rate_limit(&env, "RATE_LIMIT_CIMD_GLOBAL", "600/60")?,
            test_allow_loopback: env.bool("CIMD_TEST_ALLOW_LOOPBACK", false)?,
            private_key_jwt: env.bool("CIMD_PRIVATE_KEY_JWT", true)?,
        };
        let client_assertion = client_assertion_settings(&env)?;
        let connections = ConnectionsSettings {
            enabled: env.bool("CONNECTIONS_ENABLED", true)?,
            session_ttl: env.secs("CONNECTIONS_SESSION_TTL_SECS", 900, 60, 86_400)?,
        };
        let idjag = idjag_settings(&env)?;
        let policy = policy_settings(&env)?;

        Ok(Self {
            policy,
            cimd,
            client_assertion,
            connections,
            idjag,
            exchange_client,
            nextcloud,
            issuer,
            bind: env.socket_addr("BIND", "127.0.0.1:8080")?,
            metrics_bind: env.socket_addr("METRICS_BIND", "127.0.0.1:9464")?,
            resources,
            redis_url,
            redis_prefix,
            upstream,
            signing_keys_pem,
            encryption_keys,
            access_token_ttl,
            refresh_token_ttl,
            refresh_grace,
            rate_limits,
            client_idle_ttl,
            client_unused_ttl,
            clients_file,
            trusted_proxies,
            log_format,
            cookie_mode,
            shutdown_timeout: env.secs("SHUTDOWN_TIMEOUT_SECS", 20, 0, 600)?,
        })
    }

    /// The proxy's own redirect URI at the upstream IdP.
    pub fn callback_url(&self) -> String {
        format!("{}{}", self.issuer, mcp_shared::paths::CALLBACK)
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

fn client_assertion_settings(env: &Env) -> Result<ClientAssertionSettings, ConfigError> {
    let name = "CLIENT_ASSERTION_ALGS";
    let mut algs = Vec::new();
    for raw in env.list(name, "ES256 ES384 EdDSA PS256 RS256") {
        let alg = crate::jose::parse_asymmetric_alg(&raw).ok_or_else(|| {
            err(
                name,
                format!(
                    "`{raw}` is not an asymmetric JWS algorithm (RS256/384/512, PS256/384/512, ES256, ES384, EdDSA)"
                ),
            )
        })?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    if algs.is_empty() {
        return Err(err(name, "must name at least one algorithm"));
    }
    Ok(ClientAssertionSettings {
        algs,
        max_lifetime: env.secs("CLIENT_ASSERTION_MAX_LIFETIME_SECS", 300, 30, 3600)?,
    })
}

fn policy_settings(env: &Env) -> Result<PolicySettings, ConfigError> {
    let groups_claim = env
        .string("POLICY_GROUPS_CLAIM", "groups")
        .trim()
        .to_owned();
    if groups_claim.is_empty() {
        return Err(err("POLICY_GROUPS_CLAIM", "must name a claim"));
    }
    let mut allowed_email_domains = Vec::new();
    for raw in env.list("POLICY_ALLOWED_EMAIL_DOMAINS", "") {
        let domain = raw.strip_prefix('@').unwrap_or(&raw).to_ascii_lowercase();
        let host_like = !domain.is_empty()
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !host_like {
            return Err(err(
                "POLICY_ALLOWED_EMAIL_DOMAINS",
                format!("`{raw}` is not a domain name (e.g. example.org)"),
            ));
        }
        allowed_email_domains.push(domain);
    }
    Ok(PolicySettings {
        allowed_users: env.list("POLICY_ALLOWED_USERS", ""),
        allowed_groups: env.list("POLICY_ALLOWED_GROUPS", ""),
        groups_claim,
        allowed_email_domains,
    })
}

fn idjag_settings(env: &Env) -> Result<IdJagSettings, ConfigError> {
    let issuers_file = match env.get("IDJAG_ISSUERS_FILE").map(str::trim) {
        None => None,
        Some("") => return Err(err("IDJAG_ISSUERS_FILE", "must name a file when set")),
        Some(path) => Some(std::path::PathBuf::from(path)),
    };
    let name = "IDJAG_ALGS";
    let mut algs = Vec::new();
    for raw in env.list(name, "RS256 PS256 ES256 EdDSA") {
        let alg = crate::jose::parse_asymmetric_alg(&raw).ok_or_else(|| {
            err(
                name,
                format!(
                    "`{raw}` is not an asymmetric JWS algorithm (RS256/384/512, PS256/384/512, ES256, ES384, EdDSA)"
                ),
            )
        })?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    if algs.is_empty() {
        return Err(err(name, "must name at least one algorithm"));
    }
    Ok(IdJagSettings {
        issuers_file,
        algs,
        max_lifetime: env.secs("IDJAG_MAX_LIFETIME_SECS", 300, 30, 3600)?,
        public_clients: env.bool("IDJAG_PUBLIC_CLIENTS", false)?,
        test_allow_loopback: env.bool("IDJAG_TEST_ALLOW_LOOPBACK", false)?,
    })
}

/// A Nextcloud base URL: https, or http on loopback (or anywhere when `insecure_ok`); no query
/// or fragment; no trailing slash.
fn nextcloud_url(name: &str, raw: &str, insecure_ok: bool) -> Result<Url, ConfigError> {
    let url =
        Url::parse(raw.trim()).map_err(|_| err(name, format!("`{raw}` is not an absolute URL")))?;
    let secure = url.scheme() == "https"
        || (url.scheme() == "http" && (is_loopback_host(&url) || insecure_ok));
    if !secure || url.query().is_some() || url.fragment().is_some() || url.cannot_be_a_base() {
        return Err(err(
            name,
            "must be https (plain http only on loopback, or for AUTH_PROXY_NEXTCLOUD_URL with \
             AUTH_PROXY_NEXTCLOUD_ALLOW_INSECURE_HTTP=true), without query or fragment, e.g. \
             https://cloud.example.com",
        ));
    }
    let trimmed = url.as_str().trim_end_matches('/').to_owned();
    Url::parse(&trimmed).map_err(|_| err(name, "is not a valid URL"))
}

fn nextcloud_credentials(env: &Env<'_>) -> Result<NextcloudCredentials, ConfigError> {
    match env.string("NEXTCLOUD_CREDENTIALS", "app-password").as_str() {
        "bearer" => Ok(NextcloudCredentials::Bearer),
        "app-password" => {
            let raw = env.get("NEXTCLOUD_URL").ok_or_else(|| {
                err(
                    "NEXTCLOUD_URL",
                    "required with the app-password strategy (the default): Nextcloud's base URL, \
                     e.g. https://cloud.example.com (or set AUTH_PROXY_NEXTCLOUD_CREDENTIALS=bearer)",
                )
            })?;
            // An in-cluster Nextcloud may be plain http behind the ingress's TLS; browsers
            // always get an https (or loopback) public URL.
            let insecure_ok = env.bool("NEXTCLOUD_ALLOW_INSECURE_HTTP", false)?;
            let url = nextcloud_url("NEXTCLOUD_URL", raw, insecure_ok)?;
            let public_url = match env.get("NEXTCLOUD_PUBLIC_URL") {
                Some(raw) => nextcloud_url("NEXTCLOUD_PUBLIC_URL", raw, false)?,
                // Browsers open the grant page there: only https (or loopback) will do.
                None if url.scheme() == "https" || is_loopback_host(&url) => url.clone(),
                None => {
                    return Err(err(
                        "NEXTCLOUD_PUBLIC_URL",
                        "required when AUTH_PROXY_NEXTCLOUD_URL is plain http: the https URL \
                         people open Nextcloud at",
                    ))
                }
            };
            let user_claim = env.string("NEXTCLOUD_USER_CLAIM", "sub").trim().to_owned();
            if user_claim.is_empty() {
                return Err(err("NEXTCLOUD_USER_CLAIM", "must name a claim, e.g. sub"));
            }
            let user_id = env
                .string("NEXTCLOUD_USER_ID_MAPPING", "plain")
                .parse()
                .map_err(|m: String| err("NEXTCLOUD_USER_ID_MAPPING", m))?;
            Ok(NextcloudCredentials::AppPassword(Box::new(
                AppPasswordSettings {
                    url,
                    public_url,
                    user_claim,
                    user_id,
                    login_flow_timeout: env.secs(
                        "NEXTCLOUD_LOGIN_FLOW_TIMEOUT_SECS",
                        1200,
                        5,
                        1200,
                    )?,
                },
            )))
        }
        _ => Err(err(
            "NEXTCLOUD_CREDENTIALS",
            "must be `app-password` (the default) or `bearer`",
        )),
    }
}

/// `COUNT/SECONDS`, or `off`.
fn rate_limit(env: &Env<'_>, name: &str, default: &str) -> Result<Option<RateLimit>, ConfigError> {
    let raw = env.string(name, default);
    if raw.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    raw.parse().map(Some).map_err(|m: String| err(name, m))
}

#[cfg(test)]
mod tests;
