//! Typed configuration from `MCP_SERVER_*` environment variables, validated at startup with a
//! message naming the bad variable. Secrets may come from `<NAME>_FILE` instead.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use mcp_shared::claims::CLOCK_SKEW_LEEWAY_SECS;
use mcp_shared::net::is_loopback_host;
use mcp_shared::ops::env::{split_list, vars_with_prefix, weak_generated_secret, Env};
use url::Url;

use crate::tools::Governance;

pub use mcp_shared::ops::env::{ConfigError, LogFormat};
pub use mcp_shared::Secret;

const PREFIX: &str = "MCP_SERVER_";

const KNOWN: &[&str] = &[
    "MODE",
    "BIND",
    "METRICS_BIND",
    "RESOURCE",
    "AUTHORIZATION_SERVER",
    "JWKS_URI",
    "AUTHORIZATION_SERVER_INTERNAL_URL",
    "JWKS_REFETCH_COOLDOWN_SECS",
    "JWKS_MAX_STALENESS_SECS",
    "LEEWAY_SECS",
    "EXCHANGE_REVALIDATE_SECS",
    "ALLOWED_HOSTS",
    "ALLOWED_ORIGINS",
    "MAX_BODY_BYTES",
    "NEXTCLOUD_URL",
    "NEXTCLOUD_TIMEOUT_SECS",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "NEXTCLOUD_USER",
    "NEXTCLOUD_APP_PASSWORD",
    "LOG_FORMAT",
    "SHUTDOWN_TIMEOUT_SECS",
    "ALLOW_INSECURE_HTTP",
    "DISABLED_TOOLS",
    "READ_ONLY",
];

/// Names that may be given as `<NAME>_FILE` (a path whose contents are the value).
const SECRETS: &[&str] = &["CLIENT_SECRET", "NEXTCLOUD_APP_PASSWORD"];

fn err(name: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: format!("{PREFIX}{name}"),
        message: message.into(),
    }
}

/// How MCP requests are authenticated and how Nextcloud is reached.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Bearer JWTs from the auth-proxy; Nextcloud reached with the user's credential (app
    /// password or upstream access token) obtained by RFC 8693 token exchange.
    OAuth(Box<OAuthSettings>),
    /// Local use without OAuth: no MCP authentication, one Nextcloud account (app password).
    SingleUser { user: String, app_password: Secret },
}

#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// The auth-proxy's issuer identifier.
    pub authorization_server: String,
    /// Where this server reaches the auth-proxy (metadata, JWKS, token exchange) when that
    /// differs from the public issuer, e.g. `http://auth-proxy:8080` inside a cluster. `None`:
    /// the issuer URL itself.
    pub internal_url: Option<Url>,
    /// Configured JWKS URI; `None` means "from the authorization server's metadata".
    pub jwks_uri: Option<Url>,
    pub jwks_refetch_cooldown: Duration,
    /// `/readyz` fails once the JWKS has not been fetched successfully for this long; the key
    /// set is refreshed every third of it (at most every 10 minutes).
    pub jwks_max_staleness: Duration,
    pub leeway: Duration,
    /// How long an answer of the token exchange (a credential, or a refusal) is relied on
    /// before the auth-proxy is asked again: revoking an access token or its grant stops tool
    /// calls within this time.
    pub exchange_revalidate: Duration,
    /// This server's confidential client at the auth-proxy (token exchange).
    pub client_id: String,
    pub client_secret: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub bind: SocketAddr,
    pub metrics_bind: Option<SocketAddr>,
    /// Canonical resource URI of this server (the `aud` of accepted tokens).
    pub resource: Url,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub nextcloud_url: Url,
    pub nextcloud_timeout: Duration,
    pub log_format: LogFormat,
    pub shutdown_timeout: Duration,
    /// The tools this instance serves (`DISABLED_TOOLS`, `READ_ONLY`).
    pub tools: Governance,
}

/// An absolute http(s) URL without credentials or fragment.
fn http_url(env: &Env<'_>, name: &str, default: &str) -> Result<Url, ConfigError> {
    let url = env.url(name, default)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err(name, "must be an http(s) URL"));
    }
    if url.username() != "" || url.password().is_some() || url.fragment().is_some() {
        return Err(err(name, "must not contain credentials or a fragment"));
    }
    Ok(url)
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&vars_with_prefix(PREFIX))
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let env = Env::new(PREFIX, vars);
        env.reject_unknown(KNOWN, SECRETS)?;
        let insecure_ok = env.bool("ALLOW_INSECURE_HTTP", false)?;
        let https_or_loopback = |name: &str, url: &Url| {
            if url.scheme() == "https" || is_loopback_host(url) || insecure_ok {
                Ok(())
            } else {
                Err(err(
                    name,
                    "must be https (plain http only on loopback, or with ALLOW_INSECURE_HTTP=true)",
                ))
            }
        };

        let resource = http_url(&env, "RESOURCE", "http://127.0.0.1:8000/mcp")?;
        if resource.query().is_some() {
            return Err(err("RESOURCE", "must not contain a query"));
        }
        https_or_loopback("RESOURCE", &resource)?;

        let mode = match env.string("MODE", "oauth").as_str() {
            "oauth" => {
                // Blank values carry nothing, so they are not refused here.
                let given = |name: &str| env.get(name).is_some_and(|v| !v.is_empty());
                for name in ["NEXTCLOUD_USER", "NEXTCLOUD_APP_PASSWORD"] {
                    if given(name) || given(&format!("{name}_FILE")) {
                        return Err(err(name, "only used with MCP_SERVER_MODE=single-user"));
                    }
                }
                let authorization_server =
                    http_url(&env, "AUTHORIZATION_SERVER", "http://127.0.0.1:8080")?;
                https_or_loopback("AUTHORIZATION_SERVER", &authorization_server)?;
                let internal_url = match env.get("AUTHORIZATION_SERVER_INTERNAL_URL") {
                    Some(_) => {
                        let u = http_url(&env, "AUTHORIZATION_SERVER_INTERNAL_URL", "")?;
                        if u.path() != "/" || u.query().is_some() {
                            return Err(err(
                                "AUTHORIZATION_SERVER_INTERNAL_URL",
                                "must be a base URL without path or query, e.g. http://auth-proxy:8080",
                            ));
                        }
                        Some(u)
                    }
                    None => None,
                };
                let jwks_uri = match env.get("JWKS_URI") {
                    Some(_) => {
                        let u = http_url(&env, "JWKS_URI", "")?;
                        https_or_loopback("JWKS_URI", &u)?;
                        Some(u)
                    }
                    None => None,
                };
                Mode::OAuth(Box::new(OAuthSettings {
                    authorization_server: authorization_server
                        .as_str()
                        .trim_end_matches('/')
                        .to_owned(),
                    internal_url,
                    jwks_uri,
                    jwks_refetch_cooldown: Duration::from_secs(env.number(
                        "JWKS_REFETCH_COOLDOWN_SECS",
                        30u64,
                        |n| (1..=3600).contains(n),
                        "seconds between 1 and 3600",
                    )?),
                    jwks_max_staleness: Duration::from_secs(env.number(
                        "JWKS_MAX_STALENESS_SECS",
                        1800u64,
                        |n| (3..=86_400).contains(n),
                        "seconds between 3 and 86400",
                    )?),
                    leeway: Duration::from_secs(env.number(
                        "LEEWAY_SECS",
                        // What the auth-proxy's token exchange allows too.
                        CLOCK_SKEW_LEEWAY_SECS.unsigned_abs(),
                        |n| *n <= 300,
                        "seconds between 0 and 300",
                    )?),
                    exchange_revalidate: Duration::from_secs(env.number(
                        "EXCHANGE_REVALIDATE_SECS",
                        crate::exchange::DEFAULT_REVALIDATE_SECS,
                        |n| (1..=300).contains(n),
                        "seconds between 1 and 300",
                    )?),
                    client_id: match env.string("CLIENT_ID", "mcp-server") {
                        id if id.is_empty() => return Err(err("CLIENT_ID", "must not be empty")),
                        id => id,
                    },
                    client_secret: match env.secret("CLIENT_SECRET")? {
                        // The example overlay's placeholder must not pass (issue 12, M6).
                        Some(s) if weak_generated_secret(s.expose()).is_some() => {
                            let why = weak_generated_secret(s.expose()).unwrap_or_default();
                            return Err(err("CLIENT_SECRET", why));
                        }
                        other => other,
                    },
                }))
            }
            "single-user" => {
                let user = env
                    .get("NEXTCLOUD_USER")
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| {
                        err(
                            "NEXTCLOUD_USER",
                            "required with MCP_SERVER_MODE=single-user",
                        )
                    })?;
                let app_password = env.secret("NEXTCLOUD_APP_PASSWORD")?.ok_or_else(|| {
                    err(
                        "NEXTCLOUD_APP_PASSWORD",
                        "required with MCP_SERVER_MODE=single-user (an app password from \
                         Nextcloud → Personal settings → Security)",
                    )
                })?;
                Mode::SingleUser {
                    user: user.to_owned(),
                    app_password,
                }
            }
            _ => return Err(err("MODE", "expected oauth or single-user")),
        };

        let bind = env.socket_addr("BIND", "127.0.0.1:8000")?;
        if matches!(mode, Mode::SingleUser { .. }) && !bind.ip().is_loopback() && !insecure_ok {
            return Err(err(
                "BIND",
                "single-user mode serves unauthenticated MCP: bind it to loopback (or set \
                 MCP_SERVER_ALLOW_INSECURE_HTTP=true if you really mean to expose it)",
            ));
        }
        let metrics_bind = match env.get("METRICS_BIND") {
            Some("off") => None,
            _ => Some(env.socket_addr("METRICS_BIND", "127.0.0.1:9001")?),
        };

        // The DNS-rebinding guard: by default the resource's own authority plus loopback.
        let allowed_hosts = match env.get("ALLOWED_HOSTS").map(split_list) {
            Some(list) if list.is_empty() => {
                return Err(err("ALLOWED_HOSTS", "must name at least one host"))
            }
            Some(list) => list,
            None => {
                let mut hosts = vec![
                    "localhost".to_owned(),
                    "127.0.0.1".to_owned(),
                    "[::1]".to_owned(),
                ];
                if let Some(host) = resource.host_str() {
                    if !hosts.iter().any(|h| h == host) {
                        hosts.push(host.to_owned());
                    }
                }
                hosts
            }
        };
        let allowed_origins = env.list("ALLOWED_ORIGINS", "");
        for origin in &allowed_origins {
            if !(origin.starts_with("https://") || origin.starts_with("http://")) {
                return Err(err("ALLOWED_ORIGINS", "entries must include a scheme"));
            }
        }

        let read_only = env.bool("READ_ONLY", false)?;
        let tools = Governance::new(&env.list("DISABLED_TOOLS", ""), read_only)
            .map_err(|message| err("DISABLED_TOOLS", message))?;

        let nextcloud_url = http_url(&env, "NEXTCLOUD_URL", "http://127.0.0.1:9500")?;
        https_or_loopback("NEXTCLOUD_URL", &nextcloud_url)?;

        Ok(Self {
            mode,
            bind,
            metrics_bind,
            resource,
            allowed_hosts,
            allowed_origins,
            max_body_bytes: env.number(
                "MAX_BODY_BYTES",
                4 * 1024 * 1024,
                |n| (1024..=64 * 1024 * 1024).contains(n),
                "bytes between 1024 and 67108864",
            )?,
            nextcloud_url,
            nextcloud_timeout: Duration::from_secs(env.number(
                "NEXTCLOUD_TIMEOUT_SECS",
                30u64,
                |n| (1..=600).contains(n),
                "seconds between 1 and 600",
            )?),
            log_format: env.log_format("LOG_FORMAT")?,
            shutdown_timeout: Duration::from_secs(env.number(
                "SHUTDOWN_TIMEOUT_SECS",
                25u64,
                |n| *n <= 600,
                "seconds between 0 and 600",
            )?),
            tools,
        })
    }

    /// The RFC 9728 metadata URL for this resource (path-suffixed form).
    pub fn resource_metadata_url(&self) -> String {
        let path = self.resource.path().trim_end_matches('/');
        format!(
            "{}{}{}",
            self.resource.origin().ascii_serialization(),
            mcp_shared::paths::PROTECTED_RESOURCE_METADATA,
            path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_a_loopback_oauth_server() {
        let c = Config::from_vars(&HashMap::new()).unwrap();
        assert!(matches!(c.mode, Mode::OAuth(_)));
        assert_eq!(c.resource.as_str(), "http://127.0.0.1:8000/mcp");
        assert_eq!(
            c.resource_metadata_url(),
            "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"
        );
        assert!(c.allowed_hosts.contains(&"127.0.0.1".to_owned()));
    }

    #[test]
    fn unknown_variables_are_named() {
        let e = Config::from_vars(&vars(&[("MCP_SERVER_RESOURCES", "x")])).unwrap_err();
        assert_eq!(e.variable, "MCP_SERVER_RESOURCES");
    }

    #[test]
    fn resource_host_is_allowed_by_default() {
        let c = Config::from_vars(&vars(&[
            ("MCP_SERVER_RESOURCE", "https://mcp.example.com/mcp"),
            (
                "MCP_SERVER_AUTHORIZATION_SERVER",
                "https://auth.example.com",
            ),
            ("MCP_SERVER_NEXTCLOUD_URL", "https://cloud.example.com"),
        ]))
        .unwrap();
        assert!(c.allowed_hosts.contains(&"mcp.example.com".to_owned()));
    }

    #[test]
    fn plain_http_off_loopback_is_refused() {
        let e = Config::from_vars(&vars(&[(
            "MCP_SERVER_NEXTCLOUD_URL",
            "http://cloud.example.com",
        )]))
        .unwrap_err();
        assert_eq!(e.variable, "MCP_SERVER_NEXTCLOUD_URL");
    }

    #[test]
    fn single_user_needs_credentials_and_loopback() {
        let e = Config::from_vars(&vars(&[("MCP_SERVER_MODE", "single-user")])).unwrap_err();
        assert_eq!(e.variable, "MCP_SERVER_NEXTCLOUD_USER");
        let ok = vars(&[
            ("MCP_SERVER_MODE", "single-user"),
            ("MCP_SERVER_NEXTCLOUD_USER", "alice"),
            ("MCP_SERVER_NEXTCLOUD_APP_PASSWORD", "app-pw"),
        ]);
        let c = Config::from_vars(&ok).unwrap();
        assert!(matches!(c.mode, Mode::SingleUser { ref user, .. } if user == "alice"));
        let mut exposed = ok.clone();
        exposed.insert("MCP_SERVER_BIND".into(), "0.0.0.0:8000".into());
        assert_eq!(
            Config::from_vars(&exposed).unwrap_err().variable,
            "MCP_SERVER_BIND"
        );
    }

    #[test]
    fn internal_url_is_a_bare_base() {
        let ok = Config::from_vars(&vars(&[(
            "MCP_SERVER_AUTHORIZATION_SERVER_INTERNAL_URL",
            "http://127.0.0.1:8080",
        )]))
        .unwrap();
        assert!(matches!(ok.mode, Mode::OAuth(ref o) if o.internal_url.is_some()));
        let e = Config::from_vars(&vars(&[(
            "MCP_SERVER_AUTHORIZATION_SERVER_INTERNAL_URL",
            "http://127.0.0.1:8080/token",
        )]))
        .unwrap_err();
        assert_eq!(e.variable, "MCP_SERVER_AUTHORIZATION_SERVER_INTERNAL_URL");
    }

    #[test]
    fn exchange_answers_are_revalidated_within_seconds() {
        let c = Config::from_vars(&HashMap::new()).unwrap();
        let Mode::OAuth(o) = c.mode else {
            panic!("not OAuth")
        };
        assert_eq!(o.exchange_revalidate, Duration::from_secs(10));
        for bad in ["0", "301", "ten"] {
            let e = Config::from_vars(&vars(&[("MCP_SERVER_EXCHANGE_REVALIDATE_SECS", bad)]))
                .unwrap_err();
            assert_eq!(e.variable, "MCP_SERVER_EXCHANGE_REVALIDATE_SECS");
        }
    }

    #[test]
    fn empty_allowed_hosts_is_an_error_not_an_open_door() {
        let e = Config::from_vars(&vars(&[("MCP_SERVER_ALLOWED_HOSTS", " , ")])).unwrap_err();
        assert_eq!(e.variable, "MCP_SERVER_ALLOWED_HOSTS");
    }

    #[test]
    fn secrets_do_not_print() {
        let c =
            Config::from_vars(&vars(&[("MCP_SERVER_CLIENT_SECRET", "s3cr3t-value-9xQ7")])).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t-value-9xQ7"));
    }

    #[test]
    fn the_example_placeholder_is_not_a_client_secret() {
        // k8s/overlays/example/secrets/exchange-client-secret.txt as shipped (issue 12, M6).
        let placeholder = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../k8s/overlays/example/secrets/exchange-client-secret.txt"
        ))
        .unwrap();
        for weak in [placeholder.trim(), "short", "aaaaaaaaaaaaaaaaaaaaaa"] {
            let e = Config::from_vars(&vars(&[("MCP_SERVER_CLIENT_SECRET", weak)])).unwrap_err();
            assert_eq!(e.variable, "MCP_SERVER_CLIENT_SECRET", "{weak}");
        }
    }

    #[test]
    fn tools_can_be_disabled_by_name_family_or_read_only_mode() {
        assert!(Config::from_vars(&HashMap::new())
            .unwrap()
            .tools
            .disabled()
            .is_empty());
        let c = Config::from_vars(&vars(&[(
            "MCP_SERVER_DISABLED_TOOLS",
            "files_*, notes_delete contacts_*",
        )]))
        .unwrap();
        let disabled = c.tools.disabled();
        assert!(disabled.contains(&"files_read") && disabled.contains(&"notes_delete"));
        assert!(disabled.contains(&"contacts_get") && !disabled.contains(&"notes_get"));
        let c = Config::from_vars(&vars(&[("MCP_SERVER_READ_ONLY", "true")])).unwrap();
        assert!(c.tools.disabled().contains(&"calendar_create_event"));
        assert!(!c.tools.disabled().contains(&"calendar_list_events"));
    }

    #[test]
    fn an_unknown_tool_or_family_to_disable_is_a_startup_error() {
        for bad in ["file_write", "mail_*", "notes"] {
            let e = Config::from_vars(&vars(&[("MCP_SERVER_DISABLED_TOOLS", bad)])).unwrap_err();
            assert_eq!(e.variable, "MCP_SERVER_DISABLED_TOOLS");
            assert!(e.message.contains(bad), "{}", e.message);
        }
        let e = Config::from_vars(&vars(&[("MCP_SERVER_READ_ONLY", "sometimes")])).unwrap_err();
        assert_eq!(e.variable, "MCP_SERVER_READ_ONLY");
    }
}
