//! Configuration from the environment, validated once at start-up into typed values. A bad
//! value fails naming the variable; an unknown `AUTH_PROXY_*` variable is refused too, so a
//! typo cannot silently fall back to a default. Secrets may come from `<NAME>_FILE` instead.
//! Every variable is documented in `docs/configuration.md`.
//!
//! This file holds the variables and [`Config`] with its reading; `settings` are the typed parts
//! it is made of, `sections` reads the parts that take more than one variable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use mcp_shared::net::is_loopback_host;
use mcp_shared::ops::env::{split_list, vars_with_prefix, weak_generated_secret, Env};
use url::Url;

use crate::crypto::TokenCipher;
use crate::ids::ClientId;

pub use mcp_shared::ops::env::{ConfigError, LogFormat};
pub use mcp_shared::Secret;

mod sections;
mod settings;

pub use settings::{
    AppPasswordSettings, CimdSettings, ClientAssertionSettings, ConnectionsSettings, CookieMode,
    ExchangeClientSettings, IdJagSettings, NextcloudCredentials, PolicySettings, RateLimit,
    RateLimits, UpstreamSettings, UserIdMapping,
};

use sections::{
    client_assertion_settings, idjag_settings, nextcloud_credentials, policy_settings, rate_limit,
};

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

#[cfg(test)]
mod tests;
