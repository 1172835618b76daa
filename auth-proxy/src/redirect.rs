//! Redirect URI rules. Registration accepts https, loopback http and private-use schemes of
//! native apps; never fragments, userinfo or script-capable schemes. Matching is exact string
//! comparison, with two exceptions: a registered loopback http URI matches the same URI on any
//! port (RFC 8252 §7.3), because native clients bind an ephemeral port at run time; and a
//! pre-registered client may carry [`RedirectPattern`]s for hosted connectors whose callback
//! path ends in a per-connector segment. Both compare the parsed URI part by part, never
//! substrings, and require the requested URI in canonical form.

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

pub use mcp_shared::net::is_loopback_host;

/// Whether the `requested` redirect URI matches one of the `registered` ones or, for a
/// pre-registered client, one of its `patterns`.
pub fn matches_registered<'a>(
    requested: &str,
    registered: impl IntoIterator<Item = &'a String>,
    patterns: &[RedirectPattern],
) -> bool {
    registered
        .into_iter()
        .any(|reg| reg == requested || loopback_any_port_match(reg, requested))
        || patterns.iter().any(|p| p.matches(requested))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectPatternError {
    #[error("not an absolute URL")]
    NotAbsolute,
    #[error("a redirect pattern must be https")]
    NotHttps,
    #[error("a redirect pattern must not contain user information")]
    UserInfo,
    #[error("a redirect pattern must not contain a fragment")]
    Fragment,
    #[error("the host of a redirect pattern must be a DNS name of letters, digits, `-` and `.` without a trailing dot (no wildcard, no IP address)")]
    Host,
    #[error("path segment `{0}` of a redirect pattern must be `*` or non-empty [A-Za-z0-9._~-] and not `.` or `..`")]
    Segment(String),
    #[error("`*` may only stand for whole path segments at the end of the path")]
    WildcardPosition,
}

/// One path segment of a [`RedirectPattern`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// Exactly one non-empty segment of unreserved characters.
    Any,
}

/// A redirect URI of a pre-registered hosted client whose callback varies per connector, such
/// as `https://chatgpt.com/connector/oauth/*`: https only, one exact host, an optional explicit
/// port, and a path whose trailing segments may be `*`, each standing for exactly one non-empty
/// segment of `[A-Za-z0-9._~-]` (so no `%`, no `/`, no dot segment can hide in it). A query is
/// allowed in the pattern and must then be repeated identically. Matching compares the parsed
/// request part by part, never substrings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectPattern {
    /// Lower-case ASCII DNS name.
    host: String,
    /// `None`: the default port 443.
    port: Option<u16>,
    segments: Vec<Segment>,
    query: Option<String>,
    raw: String,
}

/// Characters allowed in a path segment of a pattern and in what a `*` stands for: RFC 3986
/// unreserved characters.
fn is_plain_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn is_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

impl RedirectPattern {
    pub fn parse(raw: &str) -> Result<Self, RedirectPatternError> {
        if raw.contains('#') {
            return Err(RedirectPatternError::Fragment);
        }
        if raw
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii())
        {
            return Err(RedirectPatternError::NotAbsolute);
        }
        let url = Url::parse(raw).map_err(|_| RedirectPatternError::NotAbsolute)?;
        if url.scheme() != "https" {
            return Err(RedirectPatternError::NotHttps);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectPatternError::UserInfo);
        }
        // The URL parser lower-cases the host; a trailing dot, `*`, an IP address or anything
        // but letters, digits and hyphens is refused.
        let host = match url.host() {
            Some(Host::Domain(d)) if is_dns_name(d) => d.to_owned(),
            _ => return Err(RedirectPatternError::Host),
        };
        let mut segments = Vec::new();
        let path = url.path();
        if path != "/" {
            for seg in path.trim_start_matches('/').split('/') {
                if seg == "*" {
                    segments.push(Segment::Any);
                } else if seg.contains('*') {
                    return Err(RedirectPatternError::WildcardPosition);
                } else if !is_plain_segment(seg) {
                    return Err(RedirectPatternError::Segment(
                        seg.chars().take(60).collect(),
                    ));
                } else if segments.contains(&Segment::Any) {
                    return Err(RedirectPatternError::WildcardPosition);
                } else {
                    segments.push(Segment::Literal(seg.to_owned()));
                }
            }
        }
        if url.query().is_some_and(|q| q.contains('*')) {
            return Err(RedirectPatternError::WildcardPosition);
        }
        Ok(Self {
            host,
            port: url.port(),
            segments,
            query: url.query().map(str::to_owned),
            raw: raw.to_owned(),
        })
    }

    /// Whether `requested` is an instance of this pattern.
    pub fn matches(&self, requested: &str) -> bool {
        let Ok(url) = Url::parse(requested) else {
            return false;
        };
        // Canonical form only: no case games in scheme or host, no default port spelled out,
        // no dot segments or backslashes the parser would have resolved.
        if url.as_str() != requested {
            return false;
        }
        let host_ok = matches!(url.host(), Some(Host::Domain(d)) if d == self.host);
        if url.scheme() != "https"
            || !host_ok
            || url.port() != self.port
            || !url.username().is_empty()
            || url.password().is_some()
            || url.fragment().is_some()
            || url.query() != self.query.as_deref()
        {
            return false;
        }
        let Some(requested_segments) = url.path_segments() else {
            return false;
        };
        let requested_segments: Vec<&str> = requested_segments.collect();
        if self.segments.is_empty() {
            return requested_segments == [""];
        }
        requested_segments.len() == self.segments.len()
            && self
                .segments
                .iter()
                .zip(&requested_segments)
                .all(|(pattern, seg)| match pattern {
                    Segment::Literal(lit) => lit == seg,
                    Segment::Any => is_plain_segment(seg),
                })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
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
        assert!(matches_registered("https://app.example.com/cb", &r, &[]));
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
            assert!(!matches_registered(bad, &r, &[]), "{bad}");
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
                matches_registered(requested, &reg(&[registered]), &[]),
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
            assert!(!matches_registered(bad, &r, &[]), "{bad}");
        }
        // A non-loopback registration never gets the any-port rule.
        assert!(!matches_registered(
            "http://localhost.evil.com:5000/callback",
            &reg(&["http://localhost.evil.com/callback"]),
            &[]
        ));
    }

    /// RFC 8252 §7.3 for each loopback form, registered with and without a port: the same URI
    /// on any port matches, and only that.
    #[test]
    fn loopback_any_port_covers_all_three_forms_with_and_without_port() {
        for host in ["localhost", "127.0.0.1", "[::1]"] {
            for registered_port in ["", ":3000"] {
                let registered = format!("http://{host}{registered_port}/callback");
                let r = reg(&[&registered]);
                assert!(matches_registered(&registered, &r, &[]), "{registered}");
                for port in ["", ":1", ":3000", ":3001", ":49152", ":65535"] {
                    let requested = format!("http://{host}{port}/callback");
                    assert!(
                        matches_registered(&requested, &r, &[]),
                        "{registered} should match {requested}"
                    );
                }
                for bad in [
                    // Other hosts that merely look like loopback.
                    format!("http://127.0.0.2{registered_port}/callback"),
                    "http://127.0.0.2:5000/callback".to_owned(),
                    "http://localhost.evil.com:5000/callback".to_owned(),
                    "http://localhost.:5000/callback".to_owned(),
                    "http://[::ffff:127.0.0.1]:5000/callback".to_owned(),
                    "http://[0:0:0:0:0:0:0:1]:5000/callback".to_owned(),
                    "http://0.0.0.0:5000/callback".to_owned(),
                    // Same host, anything but the port changed.
                    format!("http://{host}:5000/callback2"),
                    format!("http://{host}:5000/Callback"),
                    format!("http://{host}:5000/callback/"),
                    format!("http://{host}:5000/callback/x"),
                    format!("http://{host}:5000/"),
                    format!("http://{host}:5000/callback?x=1"),
                    format!("http://{host}:5000/callback?"),
                    format!("http://{host}:5000/callback#"),
                    format!("http://{host}:5000/callback#frag"),
                    format!("http://user@{host}:5000/callback"),
                    format!("http://user:pw@{host}:5000/callback"),
                    format!("http://{host}:5000/%63allback"),
                    format!("http://{host}:5000/callback%2F"),
                    format!("http://{host}:5000/x/../callback"),
                    format!("http://{host}:5000/./callback"),
                    format!("http://{host}:5000\\callback"),
                    format!("http://{host}:05000/callback"),
                    format!("http://{host}:99999/callback"),
                    format!("https://{host}:5000/callback"),
                    format!(" http://{host}:5000/callback"),
                    format!("http://{host}:5000/callback\n"),
                ] {
                    assert!(
                        !matches_registered(&bad, &r, &[]),
                        "{registered} must not match {bad}"
                    );
                }
            }
        }
        // Uppercase or other spellings of the loopback names are not the registered form.
        for bad in [
            "http://LOCALHOST:5000/callback",
            "http://LocalHost:5000/callback",
        ] {
            assert!(
                !matches_registered(bad, &reg(&["http://localhost/callback"]), &[]),
                "{bad}"
            );
        }
    }

    fn pattern(raw: &str) -> RedirectPattern {
        RedirectPattern::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn patterns_parse_only_https_exact_hosts_and_trailing_wildcards() {
        for ok in [
            "https://chatgpt.com/connector_platform_oauth_redirect",
            "https://chatgpt.com/connector/oauth/*",
            "https://chatgpt.com/connector/oauth/*/*",
            "https://ChatGPT.com/connector/oauth/*",
            "https://chatgpt.com:8443/connector/oauth/*",
            "https://app.example.com/cb?tenant=a",
            "https://xn--bcher-kva.example/cb/*",
        ] {
            assert!(RedirectPattern::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            pattern("https://ChatGPT.COM/connector/oauth/*").host,
            "chatgpt.com"
        );
        let cases = [
            (
                "http://chatgpt.com/connector/oauth/*",
                RedirectPatternError::NotHttps,
            ),
            ("cursor://chatgpt.com/*", RedirectPatternError::NotHttps),
            ("https://*.chatgpt.com/cb", RedirectPatternError::Host),
            ("https://*/cb", RedirectPatternError::Host),
            ("https://chatgpt.com./cb/*", RedirectPatternError::Host),
            ("https://127.0.0.1/cb/*", RedirectPatternError::Host),
            ("https://[::1]/cb/*", RedirectPatternError::Host),
            ("https://chat_gpt.com/cb/*", RedirectPatternError::Host),
            (
                "https://bücher.example/cb/*",
                RedirectPatternError::NotAbsolute,
            ),
            (
                "https://user@chatgpt.com/cb/*",
                RedirectPatternError::UserInfo,
            ),
            ("https://chatgpt.com/cb/*#x", RedirectPatternError::Fragment),
            (
                "https://chatgpt.com/*/oauth",
                RedirectPatternError::WildcardPosition,
            ),
            (
                "https://chatgpt.com/cb/a*",
                RedirectPatternError::WildcardPosition,
            ),
            (
                "https://chatgpt.com/cb/**",
                RedirectPatternError::WildcardPosition,
            ),
            (
                "https://chatgpt.com/cb/*?x=*",
                RedirectPatternError::WildcardPosition,
            ),
            (
                "https://chatgpt.com/cb//*",
                RedirectPatternError::Segment(String::new()),
            ),
            (
                "https://chatgpt.com/c%62/*",
                RedirectPatternError::Segment("c%62".into()),
            ),
            (
                "https://chatgpt.com/cb/",
                RedirectPatternError::Segment(String::new()),
            ),
            ("/connector/oauth/*", RedirectPatternError::NotAbsolute),
            (
                "https://chatgpt.com/c b/*",
                RedirectPatternError::NotAbsolute,
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(RedirectPattern::parse(raw), Err(expected), "{raw}");
        }
    }

    #[test]
    fn pattern_matches_one_plain_segment_per_wildcard() {
        let p = pattern("https://chatgpt.com/connector/oauth/*");
        for ok in [
            "https://chatgpt.com/connector/oauth/abc123",
            "https://chatgpt.com/connector/oauth/c-0123_abc.x~y",
            "https://chatgpt.com/connector/oauth/...",
        ] {
            assert!(p.matches(ok), "{ok}");
        }
        let exact = pattern("https://chatgpt.com/connector_platform_oauth_redirect");
        assert!(exact.matches("https://chatgpt.com/connector_platform_oauth_redirect"));
        let two = pattern("https://chatgpt.com/connector/oauth/*/*");
        assert!(two.matches("https://chatgpt.com/connector/oauth/a/b"));
        assert!(!two.matches("https://chatgpt.com/connector/oauth/a"));
        let with_port = pattern("https://chatgpt.com:8443/cb/*");
        assert!(with_port.matches("https://chatgpt.com:8443/cb/x"));
        let with_query = pattern("https://app.example.com/cb/*?tenant=a");
        assert!(with_query.matches("https://app.example.com/cb/x?tenant=a"));
        assert!(!with_query.matches("https://app.example.com/cb/x"));
        assert!(!with_query.matches("https://app.example.com/cb/x?tenant=b"));
        assert!(!with_query.matches("https://app.example.com/cb/x?tenant=a&x=1"));
        assert!(!with_port.matches("https://chatgpt.com/cb/x"));
        assert!(!with_port.matches("https://chatgpt.com:443/cb/x"));
        assert!(!with_port.matches("https://chatgpt.com:8444/cb/x"));
    }

    #[test]
    fn pattern_refuses_the_attack_list() {
        let p = pattern("https://chatgpt.com/connector/oauth/*");
        let r = reg(&[]);
        for bad in [
            // Host suffix and prefix tricks, userinfo.
            "https://chatgpt.com.evil.com/connector/oauth/abc",
            "https://evilchatgpt.com/connector/oauth/abc",
            "https://evil.chatgpt.com/connector/oauth/abc",
            "https://chatgpt.com@evil.com/connector/oauth/abc",
            "https://evil.com@chatgpt.com/connector/oauth/abc",
            "https://user:pw@chatgpt.com/connector/oauth/abc",
            "https://evil.com/chatgpt.com/connector/oauth/abc",
            "https://evil.com/?https://chatgpt.com/connector/oauth/abc",
            "https://chatgpt.com./connector/oauth/abc",
            // Path traversal and encodings.
            "https://chatgpt.com/connector/oauth/../../x",
            "https://chatgpt.com/connector/oauth/../x",
            "https://chatgpt.com/connector/oauth/%2e%2e",
            "https://chatgpt.com/connector/oauth/%2E%2E/x",
            "https://chatgpt.com/connector/oauth/.",
            "https://chatgpt.com/connector/oauth/..",
            "https://chatgpt.com/connector/oauth/a%2fb",
            "https://chatgpt.com/connector/oauth/a%2Fb",
            "https://chatgpt.com/connector/oauth/%61bc",
            "https://chatgpt.com/connector/oauth/a%20b",
            "https://chatgpt.com/connector/oauth/a%00",
            "https://chatgpt.com/connector/oauth/a\\b",
            "https://chatgpt.com/connector\\oauth/abc",
            "https://chatgpt.com/connector/oauth/a;b",
            "https://chatgpt.com/connector/oauth/a:b",
            "https://chatgpt.com/connector/oauth/a@b",
            "https://chatgpt.com/%63onnector/oauth/abc",
            // Empty, extra or missing segments, trailing slash.
            "https://chatgpt.com/connector/oauth/",
            "https://chatgpt.com/connector/oauth//",
            "https://chatgpt.com/connector/oauth",
            "https://chatgpt.com/connector/oauth/abc/",
            "https://chatgpt.com/connector/oauth/abc/def",
            "https://chatgpt.com/connector/oauth//abc",
            "https://chatgpt.com/connector//oauth/abc",
            "https://chatgpt.com/Connector/oauth/abc",
            // Query or fragment added.
            "https://chatgpt.com/connector/oauth/abc?x=1",
            "https://chatgpt.com/connector/oauth/abc?",
            "https://chatgpt.com/connector/oauth/abc#",
            "https://chatgpt.com/connector/oauth/abc#x",
            // Scheme, case, IDN and port changes.
            "http://chatgpt.com/connector/oauth/abc",
            "HTTPS://chatgpt.com/connector/oauth/abc",
            "wss://chatgpt.com/connector/oauth/abc",
            "https://CHATGPT.com/connector/oauth/abc",
            "https://ChatGPT.com/connector/oauth/abc",
            "https://chаtgpt.com/connector/oauth/abc", // Cyrillic а
            "https://xn--chtgpt-7ve.com/connector/oauth/abc",
            "https://chatgpt.com:443/connector/oauth/abc",
            "https://chatgpt.com:8443/connector/oauth/abc",
            "https://chatgpt.com:/connector/oauth/abc",
            // Whitespace and control characters the parser would strip.
            " https://chatgpt.com/connector/oauth/abc",
            "https://chatgpt.com/connector/oauth/ab\tc",
            "https://chatgpt.com/connector/oauth/abc\n",
            "https://chatgpt.com/connector/oauth/*",
            "javascript://chatgpt.com/connector/oauth/abc",
            "",
        ] {
            assert!(!p.matches(bad), "{bad}");
            assert!(
                !matches_registered(bad, &r, std::slice::from_ref(&p)),
                "{bad}"
            );
        }
        assert!(matches_registered(
            "https://chatgpt.com/connector/oauth/abc",
            &r,
            std::slice::from_ref(&p)
        ));
    }
}
