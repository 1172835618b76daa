//! Which configured resource (`AUTH_PROXY_RESOURCES`) a `resource` parameter names (RFC 8707).
//!
//! Clients do not all spell the resource the way it was configured: Claude sends the MCP URL
//! with a trailing slash, others copy a host in upper case or an explicit default port. Each
//! side is reduced to a canonical form ([`canonical`]) and compared; the answer is always the
//! *configured* string, so a token's `aud` is the one mcp-server expects whatever the client
//! sent. Nothing looser than that: no query, fragment or user information is ever accepted,
//! and the path is otherwise compared byte for byte (no decoding, no case folding).

use url::Url;

/// The canonical form of a resource URI: an absolute http(s) URL without user information,
/// query or fragment; scheme and host in lower case and a default port dropped (the URL
/// parser does both); one trailing `/` removed from a path other than the root (a path
/// ending in `//` is refused). `None` for anything else.
pub fn canonical(raw: &str) -> Option<String> {
    // The parser would silently drop tabs and line breaks, and fix up backslashes.
    if raw
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return None;
    }
    let url = Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "https" | "http")
        || url.host().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
        || raw.contains('?')
        || raw.contains('#')
        // Only one trailing slash is forgiven, so the canonical form is canonical itself.
        || url.path().ends_with("//")
    {
        return None;
    }
    let mut out = url.as_str().to_owned();
    if url.path() != "/" && out.ends_with('/') {
        out.pop();
    }
    Some(out)
}

/// The configured resource that `requested` names after canonicalisation, if any.
pub fn find<'a>(configured: &'a [String], requested: &str) -> Option<&'a str> {
    let wanted = canonical(requested)?;
    configured
        .iter()
        .find(|known| known.as_str() == requested || canonical(known).as_deref() == Some(&wanted))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn configured() -> Vec<String> {
        vec![
            "https://mcp.example/mcp".to_owned(),
            "http://127.0.0.1:8000/mcp".to_owned(),
            "https://root.example".to_owned(),
        ]
    }

    #[test]
    fn spellings_of_the_same_resource_find_the_configured_string() {
        let c = configured();
        for (requested, expected) in [
            ("https://mcp.example/mcp", "https://mcp.example/mcp"),
            ("https://mcp.example/mcp/", "https://mcp.example/mcp"),
            ("https://MCP.Example/mcp", "https://mcp.example/mcp"),
            ("HTTPS://mcp.example:443/mcp", "https://mcp.example/mcp"),
            ("https://mcp.example:443/mcp/", "https://mcp.example/mcp"),
            ("http://127.0.0.1:8000/mcp/", "http://127.0.0.1:8000/mcp"),
            ("https://root.example/", "https://root.example"),
            ("https://root.example", "https://root.example"),
        ] {
            assert_eq!(find(&c, requested), Some(expected), "{requested}");
        }
    }

    #[test]
    fn other_resources_and_loose_forms_find_nothing() {
        let c = configured();
        for requested in [
            "https://mcp.example/mcp//",
            "https://mcp.example/MCP",
            "https://mcp.example/mcp?x=1",
            "https://mcp.example/mcp?",
            "https://mcp.example/mcp#",
            "https://mcp.example/mcp#f",
            "https://user@mcp.example/mcp",
            "https://mcp.example:8443/mcp",
            "http://mcp.example/mcp",
            "https://mcp.example/mcp/x",
            "https://mcp.example/%6dcp",
            "https://mcp.example/mcp\t",
            "https:\\\\mcp.example\\mcp",
            "http://127.0.0.1/mcp",
            "/mcp",
            "",
        ] {
            assert_eq!(find(&c, requested), None, "{requested:?}");
        }
    }

    proptest! {
        #[test]
        fn canonical_is_idempotent_and_never_keeps_query_or_fragment(
            scheme in "(https?|HTTPS?)",
            host in "[a-zA-Z0-9]{1,8}(\\.[a-zA-Z0-9]{1,8}){0,2}",
            port in proptest::option::of(1u16..),
            path in "(/[a-zA-Z0-9._~-]{0,6}){0,3}/?",
            tail in "(\\?[a-z=]{0,4})?(#[a-z]{0,4})?",
        ) {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let raw = format!("{scheme}://{host}{port}{path}{tail}");
            match canonical(&raw) {
                Some(c) => {
                    prop_assert!(tail.is_empty());
                    prop_assert!(!c.contains('?') && !c.contains('#'));
                    prop_assert_eq!(canonical(&c), Some(c.clone()));
                }
                None => prop_assert!(
                    !tail.is_empty() || Url::parse(&raw).ok().is_none_or(|u| u.path().ends_with("//"))
                ),
            }
        }
    }
}
