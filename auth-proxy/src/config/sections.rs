//! Reading the settings of one part from the environment (client assertions, the consent
//! policy, ID-JAG, the Nextcloud URL and credentials, rate limits), each checked as it is read.

use mcp_shared::net::is_loopback_host;
use mcp_shared::ops::env::Env;
use url::Url;

use super::settings::{
    AppPasswordSettings, ClientAssertionSettings, IdJagSettings, NextcloudCredentials,
    PolicySettings, RateLimit,
};
use super::{err, ConfigError};

pub(super) fn client_assertion_settings(env: &Env) -> Result<ClientAssertionSettings, ConfigError> {
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

pub(super) fn policy_settings(env: &Env) -> Result<PolicySettings, ConfigError> {
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

pub(super) fn idjag_settings(env: &Env) -> Result<IdJagSettings, ConfigError> {
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
pub(super) fn nextcloud_url(name: &str, raw: &str, insecure_ok: bool) -> Result<Url, ConfigError> {
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

pub(super) fn nextcloud_credentials(env: &Env<'_>) -> Result<NextcloudCredentials, ConfigError> {
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
pub(super) fn rate_limit(
    env: &Env<'_>,
    name: &str,
    default: &str,
) -> Result<Option<RateLimit>, ConfigError> {
    let raw = env.string(name, default);
    if raw.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    raw.parse().map(Some).map_err(|m: String| err(name, m))
}
