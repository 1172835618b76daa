//! Where a metadata document may be fetched from: the URL rules, the address policy (public
//! unicast only) and the DNS seam tests replace.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use async_trait::async_trait;
use url::{Host, Url};

use super::CimdError;
use crate::config::CimdSettings;

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
#[derive(Clone)]
pub(super) struct DocumentUrl {
    pub(super) url: Url,
    pub(super) host: String,
    pub(super) port: u16,
}

pub(super) fn check_url(
    client_id: &str,
    settings: &CimdSettings,
) -> Result<DocumentUrl, CimdError> {
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
}
