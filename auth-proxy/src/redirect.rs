//! Redirect URI rules. Registration accepts https, loopback http and private-use schemes of
//! native apps; never fragments, userinfo or script-capable schemes. Matching is exact string
//! comparison, with one exception from RFC 8252 §7.3: a registered loopback http URI matches the
//! same URI on any port, because native clients bind an ephemeral port at run time.

use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("redirect URI is not an absolute URI")]
    NotAbsolute,
    #[error("redirect URI must not contain a fragment")]
    Fragment,
    #[error("redirect URI must not contain user information")]
    UserInfo,
    #[error("redirect URI scheme `{0}` is not allowed")]
    Scheme(String),
    #[error("plain http redirect URIs are allowed only for loopback hosts")]
    InsecureHttp,
    #[error("redirect URI has no host")]
    NoHost,
}

/// Schemes that can run script, read local data or otherwise never name a client endpoint.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "vbscript",
    "file",
    "about",
    "blob",
    "filesystem",
    "view-source",
    "ws",
    "wss",
    "ftp",
    "mailto",
    "tel",
    "chrome",
    "chrome-extension",
];

/// Validates a redirect URI offered at registration.
pub fn validate_for_registration(raw: &str) -> Result<Url, RedirectUriError> {
    if raw.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(RedirectUriError::NotAbsolute);
    }
    let url = Url::parse(raw).map_err(|_| RedirectUriError::NotAbsolute)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectUriError::UserInfo);
    }
    match url.scheme() {
        "https" if url.host().is_none() => return Err(RedirectUriError::NoHost),
        "https" => {}
        "http" if !is_loopback_host(&url) => return Err(RedirectUriError::InsecureHttp),
        "http" => {}
        scheme if FORBIDDEN_SCHEMES.contains(&scheme) => {
            return Err(RedirectUriError::Scheme(scheme.to_owned()));
        }
        // Private-use URI scheme of a native app (RFC 8252 §7.1), e.g. `cursor://…`.
        _ => {}
    }
    Ok(url)
}

/// The three loopback forms RFC 8252 names: `localhost`, `127.0.0.1`, `[::1]`.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d == "localhost",
        Some(Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        None => false,
    }
}

/// Whether the `requested` redirect URI matches one of the `registered` ones.
pub fn matches_registered<'a>(
    requested: &str,
    registered: impl IntoIterator<Item = &'a String>,
) -> bool {
    registered
        .into_iter()
        .any(|reg| reg == requested || loopback_any_port_match(reg, requested))
}

fn loopback_any_port_match(registered: &str, requested: &str) -> bool {
    let (Ok(reg), Ok(req)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    if reg.scheme() != "http" || req.scheme() != "http" || !is_loopback_host(&reg) {
        return false;
    }
    // The request must be in canonical form, so encodings, dot segments, case games or
    // alternative IP spellings (`127.1`, `0x7f.0.0.1`) cannot slip through the comparison
    // below. A missing root path is the one harmless difference tolerated.
    let canonical = req.as_str();
    let canonical_ok = canonical == requested
        || (req.path() == "/"
            && req.query().is_none()
            && canonical.strip_suffix('/') == Some(requested));
    canonical_ok
        && req.username().is_empty()
        && req.password().is_none()
        && req.fragment().is_none()
        && req.host() == reg.host()
        && req.path() == reg.path()
        && req.query() == reg.query()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(uris: &[&str]) -> Vec<String> {
        uris.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn registration_accepts_https_loopback_and_private_use() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "https://example.com/cb?x=1",
            "http://localhost/callback",
            "http://127.0.0.1:33418/callback",
            "http://[::1]/cb",
            "cursor://anysphere.cursor-retrieval/oauth/callback",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(validate_for_registration(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn registration_refuses_dangerous_or_insecure_uris() {
        let cases = [
            (
                "javascript:alert(1)",
                RedirectUriError::Scheme("javascript".into()),
            ),
            (
                "JavaScript:alert(1)",
                RedirectUriError::Scheme("javascript".into()),
            ),
            (
                "JAVASCRIPT://x/%0aalert(1)",
                RedirectUriError::Scheme("javascript".into()),
            ),
            (
                "data:text/html,<script>",
                RedirectUriError::Scheme("data".into()),
            ),
            ("DaTa:text/html,hi", RedirectUriError::Scheme("data".into())),
            (
                "vbscript:msgbox",
                RedirectUriError::Scheme("vbscript".into()),
            ),
            (
                "file:///etc/passwd",
                RedirectUriError::Scheme("file".into()),
            ),
            ("https://example.com/cb#frag", RedirectUriError::Fragment),
            ("https://example.com/cb#", RedirectUriError::Fragment),
            ("https://user:pw@example.com/cb", RedirectUriError::UserInfo),
            ("https://user@example.com/cb", RedirectUriError::UserInfo),
            ("http://example.com/cb", RedirectUriError::InsecureHttp),
            ("http://127.0.0.1.nip.io/cb", RedirectUriError::InsecureHttp),
            (
                "http://localhost.evil.com/cb",
                RedirectUriError::InsecureHttp,
            ),
            ("http://10.0.0.1/cb", RedirectUriError::InsecureHttp),
            ("/relative/cb", RedirectUriError::NotAbsolute),
            ("https://exa mple.com/cb", RedirectUriError::NotAbsolute),
        ];
        for (uri, expected) in cases {
            assert_eq!(validate_for_registration(uri), Err(expected), "{uri}");
        }
    }

    #[test]
    fn non_loopback_uris_match_exactly() {
        let r = reg(&["https://app.example.com/cb"]);
        assert!(matches_registered("https://app.example.com/cb", &r));
        for bad in [
            "https://app.example.com:8443/cb", // other port on a non-loopback host
            "https://app.example.com/cb/",     // trailing slash
            "https://app.example.com/cb?x=1",  // added query
            "https://app.example.com/CB",      // case in path
            "https://APP.example.com/cb",      // case in host: exact means exact
            "https://app.example.com/cb#x",    // fragment
            "https://app.example.com.evil.com/cb",
            "https://evil.com/app.example.com/cb",
            "https://app.example.com@evil.com/cb",
            "https://evil.com@app.example.com/cb",
            "https://app.example.com/cb/../cb",
            "https://app.example.com/%63b",
            "http://app.example.com/cb",
            "javascript:alert(1)//https://app.example.com/cb",
        ] {
            assert!(!matches_registered(bad, &r), "{bad}");
        }
    }

    #[test]
    fn loopback_matches_any_port_for_each_loopback_form() {
        for (registered, requested) in [
            (
                "http://localhost/callback",
                "http://localhost:53123/callback",
            ),
            (
                "http://localhost:3000/callback",
                "http://localhost:53123/callback",
            ),
            ("http://127.0.0.1/callback", "http://127.0.0.1:1/callback"),
            (
                "http://127.0.0.1:8080/callback",
                "http://127.0.0.1:65535/callback",
            ),
            ("http://[::1]/callback", "http://[::1]:40000/callback"),
            ("http://127.0.0.1/", "http://127.0.0.1:9000"),
            ("http://127.0.0.1/cb?a=1", "http://127.0.0.1:9000/cb?a=1"),
        ] {
            assert!(
                matches_registered(requested, &reg(&[registered])),
                "{registered} vs {requested}"
            );
        }
    }

    #[test]
    fn loopback_rule_does_not_loosen_anything_but_the_port() {
        let r = reg(&["http://127.0.0.1/callback"]);
        for bad in [
            "http://127.0.0.1:5000/other",
            "http://127.0.0.1:5000/callback/",
            "http://127.0.0.1:5000/callback?x=1",
            "http://127.0.0.1:5000/callback#x",
            "http://localhost:5000/callback", // a different loopback form
            "http://[::1]:5000/callback",
            "http://127.1:5000/callback", // alternative IPv4 spelling
            "http://0x7f.0.0.1:5000/callback",
            "http://2130706433:5000/callback",
            "http://127.0.0.1.evil.com:5000/callback",
            "http://evil.com:5000/callback",
            "http://user@127.0.0.1:5000/callback",
            "http://127.0.0.1:5000@evil.com/callback",
            "http://127.0.0.1:5000/callback/../callback",
            "http://127.0.0.1:5000/%63allback",
            "https://127.0.0.1:5000/callback",
            "HTTP://127.0.0.1:5000/callback",
            "javascript://127.0.0.1:5000/callback",
            "data:http://127.0.0.1:5000/callback",
        ] {
            assert!(!matches_registered(bad, &r), "{bad}");
        }
        // A non-loopback registration never gets the any-port rule.
        assert!(!matches_registered(
            "http://localhost.evil.com:5000/callback",
            &reg(&["http://localhost.evil.com/callback"])
        ));
    }
}
