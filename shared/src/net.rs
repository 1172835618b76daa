//! Host classification both services apply to configured and client-supplied URLs.

use url::{Host, Url};

/// The three loopback forms RFC 8252 names: `localhost`, `127.0.0.1`, `[::1]`. Plain http is
/// acceptable only on these (development set-ups, native-app redirect URIs).
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_three_rfc_8252_forms_are_loopback() {
        for yes in [
            "http://localhost:1/",
            "http://127.0.0.1/",
            "http://[::1]:8/x",
        ] {
            assert!(is_loopback_host(&Url::parse(yes).unwrap()), "{yes}");
        }
        for no in [
            "http://127.0.0.2/",
            "http://localhost.example/",
            "http://[::2]/",
            "file:///etc/passwd",
        ] {
            assert!(!is_loopback_host(&Url::parse(no).unwrap()), "{no}");
        }
    }
}
