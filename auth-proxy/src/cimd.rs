//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as the MCP
//! authorization spec uses them): a `client_id` that is an `https://` URL names a JSON document,
//! published by the client, that describes it. The proxy fetches it — carefully, because the URL
//! comes from anyone on the internet:
//!
//! - strict URL rules: https, a host (optionally from an allow-list), a path, no userinfo, query
//!   or fragment, and the canonical form only;
//! - every address the host resolves to must be public (no loopback, private, link-local,
//!   shared, metadata-service, documentation, multicast or reserved range), and the connection
//!   goes to the address that was checked (DNS rebinding cannot swap it);
//! - no proxies, no redirects, one deadline for DNS + connect + body, a small body cap;
//! - the document must be a JSON object whose `client_id` equals the URL exactly, for a public
//!   client (`token_endpoint_auth_method` `none`, no secret), with valid redirect URIs;
//! - results are cached per the response's `Cache-Control` within configured bounds; failures
//!   are cached briefly; fetches are rate limited per host and globally (shared by replicas).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use url::{Host, Url};

use crate::config::CimdSettings;
use crate::redirect::validate_for_registration;
use crate::state::AppState;
use crate::store::{ClientRecord, TokenEndpointAuthMethod};

/// Whether `client_id` is a URL, i.e. names a metadata document rather than a registration.
pub fn is_cimd_client_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CimdError {
    #[error("the client_id is not an acceptable document URL: {0}")]
    InvalidUrl(&'static str),
    #[error("client metadata documents from this host are not accepted here")]
    HostNotAllowed,
    #[error("the client_id host resolves to an address that is not public")]
    ForbiddenAddress,
    #[error("the client_id host could not be resolved")]
    Dns,
    #[error("the client metadata document could not be fetched")]
    Unreachable,
    #[error("fetching the client metadata document took too long")]
    Timeout,
    #[error("the client metadata document URL redirects; redirects are not followed")]
    Redirect,
    #[error("the client metadata document URL answered HTTP {0}")]
    Status(u16),
    #[error("the client metadata document is larger than allowed")]
    TooLarge,
    #[error("the client metadata document is not valid: {0}")]
    InvalidDocument(String),
    #[error("the client metadata document names a different client_id")]
    ClientIdMismatch,
    #[error("too many client metadata document fetches; try again later")]
    RateLimited,
    #[error("client metadata documents cannot be checked right now")]
    Unavailable,
}

// ---------------------------------------------------------------------------------------------
// Address policy

/// Whether `ip` is a public unicast address a server may fetch from.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved, incl. broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let seg = ip.segments();
    // NAT64 (64:ff9b::/96 and 64:ff9b:1::/48) embeds an IPv4 address: judge that one.
    if seg[0] == 0x64 && seg[1] == 0xff9b {
        let v4 = Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        );
        return seg[2..6].iter().all(|s| *s == 0) && is_public_v4(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || (seg[0] == 0x2001 && seg[1] < 0x0200) // IETF protocol assignments (Teredo, ORCHID, …)
        || seg[0] == 0x2002 // 6to4 embeds IPv4 of any kind
        || (seg[0] == 0x0100 && seg[1..4].iter().all(|s| *s == 0)) // discard-only
        || seg[0] == 0 // ::/16 holds the unspecified, loopback, IPv4-compatible and mapped forms
        || seg[0] & 0xe000 != 0x2000) // outside global unicast 2000::/3
}

// ---------------------------------------------------------------------------------------------
// DNS, injectable so tests never need a real resolver (and never send traffic off loopback)

#[async_trait]
pub trait DnsResolver: Send + Sync + std::fmt::Debug {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>>;
}

#[derive(Debug, Default)]
pub struct SystemResolver;

#[async_trait]
impl DnsResolver for SystemResolver {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

// ---------------------------------------------------------------------------------------------
// URL rules

/// A checked document URL: the URL, its host as a string for the allow-list and rate limits.
struct DocumentUrl {
    url: Url,
    host: String,
    port: u16,
}

fn check_url(client_id: &str, settings: &CimdSettings) -> Result<DocumentUrl, CimdError> {
    if client_id.len() > 2048 {
        return Err(CimdError::InvalidUrl("it is longer than 2048 characters"));
    }
    let url = Url::parse(client_id).map_err(|_| CimdError::InvalidUrl("it is not a URL"))?;
    // Only the canonical spelling: no case games, dot segments, default ports or encodings
    // that would make two strings name one document (the document must repeat it exactly).
    if url.as_str() != client_id {
        return Err(CimdError::InvalidUrl("it is not in canonical form"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CimdError::InvalidUrl("it contains user information"));
    }
    if url.fragment().is_some() {
        return Err(CimdError::InvalidUrl("it contains a fragment"));
    }
    if url.query().is_some() {
        return Err(CimdError::InvalidUrl("it contains a query"));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(CimdError::InvalidUrl("it has no path"));
    }
    let host = match url.host() {
        Some(Host::Domain(d)) => d.to_owned(),
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => format!("[{ip}]"),
        None => return Err(CimdError::InvalidUrl("it has no host")),
    };
    let loopback_test = settings.test_allow_loopback && is_loopback_url(&url);
    match url.scheme() {
        "https" => {}
        "http" if loopback_test => {}
        _ => return Err(CimdError::InvalidUrl("it must be https")),
    }
    if !settings.allowed_hosts.is_empty()
        && !settings
            .allowed_hosts
            .iter()
            .any(|pattern| host_matches(pattern, &host))
    {
        return Err(CimdError::HostNotAllowed);
    }
    let port = url
        .port_or_known_default()
        .ok_or(CimdError::InvalidUrl("it has no port"))?;
    Ok(DocumentUrl { url, host, port })
}

fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// Allow-list entries: `example.com` (exactly that host) or `*.example.com` (any subdomain,
/// not the apex). Compared case-insensitively on whole labels.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim().to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        None => host == pattern,
    }
}

// ---------------------------------------------------------------------------------------------
// The document

#[derive(Deserialize)]
struct Document {
    client_id: String,
    redirect_uris: Vec<String>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    client_uri: Option<String>,
    #[serde(default)]
    logo_uri: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    response_types: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    software_id: Option<String>,
    #[serde(default)]
    software_version: Option<String>,
    #[serde(default)]
    client_secret: Option<serde_json::Value>,
    #[serde(default)]
    client_secret_expires_at: Option<serde_json::Value>,
}

fn invalid(msg: impl Into<String>) -> CimdError {
    CimdError::InvalidDocument(msg.into())
}

fn optional_https(value: Option<String>, field: &str) -> Result<Option<String>, CimdError> {
    match value {
        None => Ok(None),
        Some(v) => match Url::parse(&v) {
            Ok(u) if u.scheme() == "https" => Ok(Some(v)),
            _ => Err(invalid(format!("{field} must be an https URL"))),
        },
    }
}

/// Validates a fetched document for `client_id` and turns it into a client record.
pub fn parse_document(body: &[u8], client_id: &str, now: i64) -> Result<ClientRecord, CimdError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| invalid("it is not JSON"))?;
    if !value.is_object() {
        return Err(invalid("it is not a JSON object"));
    }
    let doc: Document = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    if doc.client_id != client_id {
        return Err(CimdError::ClientIdMismatch);
    }
    if doc.client_secret.is_some() || doc.client_secret_expires_at.is_some() {
        return Err(invalid(
            "a metadata document must not carry a client secret",
        ));
    }
    match doc.token_endpoint_auth_method.as_deref() {
        None | Some("none") => {}
        Some(other) => {
            return Err(invalid(format!(
            "token_endpoint_auth_method `{}` is not supported for metadata documents (only none)",
            other.chars().take(40).collect::<String>()
        )))
        }
    }
    if doc.redirect_uris.is_empty() || doc.redirect_uris.len() > 20 {
        return Err(invalid("redirect_uris must list 1 to 20 URIs"));
    }
    for uri in &doc.redirect_uris {
        validate_for_registration(uri).map_err(|e| {
            invalid(format!(
                "redirect URI `{}`: {e}",
                uri.chars().take(100).collect::<String>()
            ))
        })?;
    }
    let grant_types = doc
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".into()]);
    if grant_types
        .iter()
        .any(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
        || !grant_types.iter().any(|g| g == "authorization_code")
    {
        return Err(invalid(
            "grant_types must include authorization_code and may add refresh_token only",
        ));
    }
    let response_types = doc.response_types.unwrap_or_else(|| vec!["code".into()]);
    if response_types != ["code"] {
        return Err(invalid("response_types must be [\"code\"]"));
    }
    if let Some(scope) = &doc.scope {
        mcp_shared::ScopeSet::parse(scope).map_err(|e| invalid(format!("scope: {e}")))?;
    }
    let client_name = doc
        .client_name
        .map(|n| n.trim().chars().take(100).collect::<String>())
        .filter(|n| !n.is_empty());
    Ok(ClientRecord {
        client_id: client_id.to_owned(),
        client_name,
        redirect_uris: doc.redirect_uris,
        token_endpoint_auth_method: TokenEndpointAuthMethod::None,
        client_secret_hash: None,
        grant_types,
        response_types,
        scope: doc.scope,
        client_uri: optional_https(doc.client_uri, "client_uri")?,
        logo_uri: optional_https(doc.logo_uri, "logo_uri")?,
        software_id: doc.software_id.map(|s| s.chars().take(200).collect()),
        software_version: doc.software_version.map(|s| s.chars().take(100).collect()),
        created_at: now,
        application_type: None,
    })
}

/// Cache lifetime from `Cache-Control` (`max-age`, `s-maxage`; `no-store`/`no-cache` mean the
/// minimum), clamped to the configured bounds.
pub fn cache_lifetime(cache_control: Option<&str>, min: Duration, max: Duration) -> Duration {
    let mut lifetime: Option<u64> = None;
    if let Some(value) = cache_control {
        for directive in value.split(',').map(|d| d.trim().to_ascii_lowercase()) {
            if directive == "no-store" || directive == "no-cache" {
                return min;
            }
            for name in ["s-maxage=", "max-age="] {
                if let Some(secs) = directive
                    .strip_prefix(name)
                    .and_then(|v| v.trim_matches('"').parse::<u64>().ok())
                {
                    if name == "s-maxage=" || lifetime.is_none() {
                        lifetime = Some(secs);
                    }
                }
            }
        }
    }
    Duration::from_secs(lifetime.unwrap_or(0)).clamp(min, max)
}

// ---------------------------------------------------------------------------------------------
// Resolver with cache

#[derive(Clone)]
struct CacheEntry {
    result: Result<ClientRecord, CimdError>,
    until: Instant,
}

#[derive(Debug)]
pub struct CimdResolver {
    settings: CimdSettings,
    dns: Arc<dyn DnsResolver>,
    cache: Mutex<HashMap<String, CacheEntryDebug>>,
    /// One fetch per document at a time; concurrent requests wait for its result.
    inflight: tokio::sync::Mutex<()>,
}

/// Wrapper so the cache can derive Debug without printing client records.
struct CacheEntryDebug(CacheEntry);

impl std::fmt::Debug for CacheEntryDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<cached client metadata>")
    }
}

const MAX_CACHED_DOCUMENTS: usize = 10_000;

impl CimdResolver {
    pub fn new(settings: CimdSettings, dns: Arc<dyn DnsResolver>) -> Self {
        Self {
            settings,
            dns,
            cache: Mutex::new(HashMap::new()),
            inflight: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self, client_id: &str) -> Option<Result<ClientRecord, CimdError>> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(client_id)
            .filter(|e| e.0.until > Instant::now())
            .map(|e| e.0.result.clone())
    }

    fn remember(&self, client_id: &str, result: Result<ClientRecord, CimdError>, ttl: Duration) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= MAX_CACHED_DOCUMENTS {
            let now = Instant::now();
            cache.retain(|_, e| e.0.until > now);
            if cache.len() >= MAX_CACHED_DOCUMENTS {
                cache.clear();
            }
        }
        cache.insert(
            client_id.to_owned(),
            CacheEntryDebug(CacheEntry {
                result,
                until: Instant::now() + ttl,
            }),
        );
    }

    /// The client described by the document at `client_id`.
    pub async fn resolve(
        &self,
        state: &AppState,
        client_id: &str,
    ) -> Result<ClientRecord, CimdError> {
        if let Some(hit) = self.cached(client_id) {
            return hit;
        }
        let _single = self.inflight.lock().await;
        if let Some(hit) = self.cached(client_id) {
            return hit;
        }
        let checked = check_url(client_id, &self.settings);
        let result = match checked {
            Err(e) => Err(e),
            Ok(doc_url) => {
                self.rate_limit(state, &doc_url.host).await?;
                match tokio::time::timeout(
                    self.settings.fetch_timeout,
                    self.fetch(&doc_url, client_id, state.clock.now()),
                )
                .await
                {
                    Ok(r) => r,
                    Err(_) => Err(CimdError::Timeout),
                }
            }
        };
        state
            .metrics
            .cimd_fetches
            .with_label_values(&[match &result {
                Ok(_) => "ok",
                Err(
                    CimdError::ForbiddenAddress
                    | CimdError::HostNotAllowed
                    | CimdError::InvalidUrl(_),
                ) => "refused",
                Err(_) => "error",
            }])
            .inc();
        match &result {
            Ok((record, ttl)) => {
                self.remember(client_id, Ok(record.clone()), *ttl);
                Ok(record.clone())
            }
            Err(e) => {
                tracing::info!(target: "audit", host = %Url::parse(client_id).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default(), error = %e, "client metadata document refused");
                self.remember(client_id, Err(e.clone()), self.settings.failure_cache);
                Err(e.clone())
            }
        }
    }

    async fn rate_limit(&self, state: &AppState, host: &str) -> Result<(), CimdError> {
        let buckets = [
            (
                format!("cimd:host:{host}"),
                self.settings.rate_limit_per_host,
            ),
            ("cimd:global".to_owned(), self.settings.rate_limit_global),
        ];
        for (bucket, limit) in buckets {
            let Some(limit) = limit else { continue };
            let decision = state
                .store
                .hit_rate_limit(&bucket, limit.limit, limit.window)
                .await
                .map_err(|_| CimdError::Unavailable)?;
            if !decision.allowed {
                state
                    .metrics
                    .rate_limited
                    .with_label_values(&["cimd"])
                    .inc();
                return Err(CimdError::RateLimited);
            }
        }
        Ok(())
    }

    async fn fetch(
        &self,
        doc: &DocumentUrl,
        client_id: &str,
        now: i64,
    ) -> Result<(ClientRecord, Duration), CimdError> {
        let addresses: Vec<SocketAddr> = match doc.url.host() {
            Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), doc.port)],
            Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), doc.port)],
            _ => self
                .dns
                .lookup(&doc.host, doc.port)
                .await
                .map_err(|_| CimdError::Dns)?,
        };
        if addresses.is_empty() {
            return Err(CimdError::Dns);
        }
        let allowed = |a: &SocketAddr| {
            is_public(a.ip()) || (self.settings.test_allow_loopback && a.ip().is_loopback())
        };
        // Every address must pass: a name that mixes public and internal addresses is refused.
        if !addresses.iter().all(allowed) {
            return Err(CimdError::ForbiddenAddress);
        }
        let target = addresses[0];
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(self.settings.fetch_timeout)
            .connect_timeout(self.settings.fetch_timeout)
            .user_agent(concat!(
                "nextcloud-mcp-auth-proxy/",
                env!("CARGO_PKG_VERSION")
            ));
        if let Some(Host::Domain(domain)) = doc.url.host() {
            // Connect to the address that was checked, whatever DNS says next.
            builder = builder.resolve(domain, target);
        }
        let http = builder.build().map_err(|_| CimdError::Unavailable)?;
        let mut response = http
            .get(doc.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    CimdError::Timeout
                } else {
                    CimdError::Unreachable
                }
            })?;
        let status = response.status();
        if status.is_redirection() {
            return Err(CimdError::Redirect);
        }
        if status != reqwest::StatusCode::OK {
            return Err(CimdError::Status(status.as_u16()));
        }
        let cap = self.settings.max_bytes;
        if response.content_length().is_some_and(|l| l > cap as u64) {
            return Err(CimdError::TooLarge);
        }
        let cache_control = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|_| CimdError::Unreachable)? {
            if body.len() + chunk.len() > cap {
                return Err(CimdError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let record = parse_document(&body, client_id, now)?;
        let ttl = cache_lifetime(
            cache_control.as_deref(),
            self.settings.cache_min,
            self.settings.cache_max,
        );
        Ok((record, ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CimdSettings {
        CimdSettings::default()
    }

    #[test]
    fn only_public_addresses_pass() {
        for ip in [
            "127.0.0.1",
            "127.8.9.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "192.0.0.8",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2001::1",
            "fec0::1",
            "::127.0.0.1",
            "100::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} must be refused");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[test]
    fn url_rules() {
        let s = settings();
        assert!(check_url("https://client.example.com/oauth/metadata.json", &s).is_ok());
        for (bad, why) in [
            ("http://client.example.com/meta.json", "https"),
            ("https://client.example.com", "path"),
            ("https://client.example.com/", "path"),
            ("https://user:pw@client.example.com/m.json", "user"),
            ("https://client.example.com/m.json#x", "fragment"),
            ("https://client.example.com/m.json?x=1", "query"),
            ("https://CLIENT.example.com/m.json", "canonical"),
            ("https://client.example.com/a/../m.json", "canonical"),
            ("https://client.example.com:443/m.json", "canonical"),
            ("https://client.example.com/a/%2e%2e/m.json", "canonical"),
            ("https:/client.example.com/m.json", "canonical"),
            ("ftp://client.example.com/m.json", "https"),
        ] {
            let e = check_url(bad, &s)
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(
                matches!(e, CimdError::InvalidUrl(_)),
                "{bad}: {e:?} ({why})"
            );
        }
        // Loopback http only with the explicit test switch.
        assert!(check_url("http://127.0.0.1:9999/m.json", &s).is_err());
        let test = CimdSettings {
            test_allow_loopback: true,
            ..settings()
        };
        assert!(check_url("http://127.0.0.1:9999/m.json", &test).is_ok());
        assert!(check_url("http://client.example.com/m.json", &test).is_err());
    }

    #[test]
    fn allow_list_matches_whole_labels() {
        assert!(host_matches("example.com", "example.com"));
        assert!(host_matches("example.com", "EXAMPLE.com"));
        assert!(!host_matches("example.com", "a.example.com"));
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(host_matches("*.example.com", "a.b.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("*.example.com", "evilexample.com"));
        assert!(!host_matches("*.example.com", "example.com.evil.net"));
        let s = CimdSettings {
            allowed_hosts: vec!["*.example.com".into()],
            ..settings()
        };
        assert_eq!(
            check_url("https://evil.net/m.json", &s).err(),
            Some(CimdError::HostNotAllowed)
        );
        assert!(check_url("https://app.example.com/m.json", &s).is_ok());
    }

    const ID: &str = "https://app.example.com/client.json";

    fn doc(extra: serde_json::Value) -> Vec<u8> {
        let mut base = serde_json::json!({
            "client_id": ID,
            "client_name": "Example",
            "redirect_uris": ["http://127.0.0.1/callback", "https://app.example.com/cb"],
        });
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        serde_json::to_vec(&base).unwrap()
    }

    #[test]
    fn documents_are_validated() {
        let record = parse_document(&doc(serde_json::json!({})), ID, 7).unwrap();
        assert_eq!(record.client_id, ID);
        assert_eq!(
            record.token_endpoint_auth_method,
            TokenEndpointAuthMethod::None
        );
        assert!(record.client_secret_hash.is_none());
        assert_eq!(record.grant_types, vec!["authorization_code"]);

        let cases = [
            (
                serde_json::json!({"client_id": "https://app.example.com/other.json"}),
                "mismatch",
            ),
            (
                serde_json::json!({"client_id": "https://app.example.com/client.json/"}),
                "mismatch",
            ),
            (serde_json::json!({"client_secret": "s3cret"}), "secret"),
            (
                serde_json::json!({"token_endpoint_auth_method": "client_secret_basic"}),
                "auth",
            ),
            (
                serde_json::json!({"token_endpoint_auth_method": "private_key_jwt"}),
                "auth",
            ),
            (serde_json::json!({"redirect_uris": []}), "no redirects"),
            (
                serde_json::json!({"redirect_uris": ["javascript:alert(1)"]}),
                "scheme",
            ),
            (
                serde_json::json!({"redirect_uris": ["http://evil.example/cb"]}),
                "http",
            ),
            (
                serde_json::json!({"redirect_uris": "https://app.example.com/cb"}),
                "type",
            ),
            (
                serde_json::json!({"grant_types": ["client_credentials"]}),
                "grant",
            ),
            (serde_json::json!({"response_types": ["token"]}), "response"),
            (serde_json::json!({"scope": "notes:read admin"}), "scope"),
            (
                serde_json::json!({"client_uri": "javascript:x"}),
                "client_uri",
            ),
        ];
        for (extra, why) in cases {
            assert!(
                parse_document(&doc(extra.clone()), ID, 7).is_err(),
                "{why}: {extra}"
            );
        }
        assert_eq!(
            parse_document(
                &doc(serde_json::json!({"client_id": "https://x.example/c.json"})),
                ID,
                7
            )
            .err(),
            Some(CimdError::ClientIdMismatch)
        );
        for garbage in [&b"<html>"[..], b"[]", b"\"x\"", b"{\"client_id\": 1}", b""] {
            assert!(parse_document(garbage, ID, 7).is_err());
        }
    }

    #[test]
    fn cache_lifetime_follows_headers_within_bounds() {
        let (min, max) = (Duration::from_secs(60), Duration::from_secs(3600));
        assert_eq!(cache_lifetime(None, min, max), min);
        assert_eq!(
            cache_lifetime(Some("max-age=600"), min, max),
            Duration::from_secs(600)
        );
        assert_eq!(cache_lifetime(Some("public, max-age=5"), min, max), min);
        assert_eq!(cache_lifetime(Some("max-age=999999"), min, max), max);
        assert_eq!(cache_lifetime(Some("no-store, max-age=600"), min, max), min);
        assert_eq!(
            cache_lifetime(Some("max-age=600, s-maxage=1200"), min, max),
            Duration::from_secs(1200)
        );
        assert_eq!(cache_lifetime(Some("max-age=junk"), min, max), min);
    }
}
