//! User-supplied paths and names turned into URL paths: percent-encoded segment by segment,
//! `.`/`..`, control characters and overlong paths refused before anything is sent.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::NcError;

/// Longest path a model may pass (bytes).
const MAX_PATH_BYTES: usize = 4096;

/// Characters left as they are in a path segment: RFC 3986 unreserved. Everything else,
/// including `/`, `%`, `?` and `#`, is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Splits a user-supplied path (`/Documents/report.txt`, `Documents/`, `` for the root) into
/// its segments. Empty segments (doubled or surrounding slashes) are dropped; `.` and `..`
/// segments, control characters and overlong paths are refused.
pub fn path_segments(path: &str) -> Result<Vec<&str>, NcError> {
    if path.len() > MAX_PATH_BYTES {
        return Err(NcError::InvalidInput(format!(
            "the path is longer than {MAX_PATH_BYTES} bytes"
        )));
    }
    if path.chars().any(char::is_control) {
        return Err(NcError::InvalidInput(
            "the path contains control characters (such as a line break or tab)".into(),
        ));
    }
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" => {}
            "." | ".." => {
                return Err(NcError::InvalidInput(
                    "`.` and `..` are not allowed in paths: give the full path from the root \
                     of the user's files, e.g. \"Documents/report.txt\""
                        .into(),
                ))
            }
            s if s.trim().is_empty() => {
                return Err(NcError::InvalidInput(
                    "a path segment consists only of spaces".into(),
                ))
            }
            s => segments.push(s),
        }
    }
    Ok(segments)
}

/// The canonical form of a user path: segments joined by `/`, no leading or trailing slash
/// (`""` is the root of the user's files).
pub fn normalize_path(path: &str) -> Result<String, NcError> {
    Ok(path_segments(path)?.join("/"))
}

/// One percent-encoded path segment.
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// A user path percent-encoded segment by segment (`a b/c#d` → `a%20b/c%23d`).
pub fn encode_path(path: &str) -> Result<String, NcError> {
    Ok(path_segments(path)?
        .into_iter()
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/"))
}

/// A single name (calendar or address book id, object file name): non-empty, no slash, not
/// `.`/`..`, no control characters. `what` names it in the error message.
pub fn validate_name(name: &str, what: &str) -> Result<(), NcError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(NcError::InvalidInput(format!("{what} must not be empty")));
    }
    if name.contains('/') || name == "." || name == ".." || name.chars().any(char::is_control) {
        return Err(NcError::InvalidInput(format!(
            "{what} must be a single name without `/`, `..` or control characters"
        )));
    }
    if name.len() > 512 {
        return Err(NcError::InvalidInput(format!("{what} is too long")));
    }
    Ok(())
}

/// The part of a decoded href after `marker` (e.g. `/remote.php/dav/files/alice`), without
/// surrounding slashes; `None` if the href is not below the marker. The marker is looked for
/// anywhere so that a reverse-proxy prefix before `/remote.php` does not matter.
pub fn strip_marker(decoded_href: &str, marker: &str) -> Option<String> {
    let marker = marker.trim_end_matches('/');
    let at = decoded_href.find(marker)?;
    let rest = &decoded_href[at + marker.len()..];
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    Some(rest.trim_matches('/').to_owned())
}

/// The last non-empty segment of a decoded href (`/a/b/c/` → `c`).
pub fn last_segment(decoded_href: &str) -> String {
    decoded_href
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nextcloud::xml::decode_href;

    #[test]
    fn paths_are_encoded_per_segment_and_dot_dot_refused() {
        assert_eq!(
            encode_path("/Documents//My File #1.txt").unwrap(),
            "Documents/My%20File%20%231.txt"
        );
        assert_eq!(encode_path("").unwrap(), "");
        assert_eq!(encode_path("/").unwrap(), "");
        assert_eq!(encode_path("ä/100%?x").unwrap(), "%C3%A4/100%25%3Fx");
        assert_eq!(normalize_path("/a/b/").unwrap(), "a/b");
        assert!(encode_path("a/../b").is_err());
        assert!(encode_path("..").is_err());
        assert!(encode_path("./a").is_err());
        assert!(encode_path("a\nb").is_err());
        assert!(encode_path("a\u{0}b").is_err());
        assert!(encode_path("a/   /b").is_err());
        assert!(encode_path("a..b/c...").is_ok());
        assert!(validate_name("personal", "calendar id").is_ok());
        assert!(validate_name("a/b", "calendar id").is_err());
        assert!(validate_name("..", "calendar id").is_err());
        assert!(validate_name(" ", "calendar id").is_err());
    }

    #[test]
    fn hrefs_are_decoded_and_stripped() {
        let href = decode_href("/nc/remote.php/dav/files/bob%40example.com/a%2Fb/c");
        assert_eq!(href, "/nc/remote.php/dav/files/bob@example.com/a/b/c");
        assert_eq!(
            strip_marker(&href, "/remote.php/dav/files/bob@example.com").as_deref(),
            Some("a/b/c")
        );
        assert_eq!(
            strip_marker("/remote.php/dav/files/bob/", "/remote.php/dav/files/bob").as_deref(),
            Some("")
        );
        assert_eq!(
            strip_marker("/remote.php/dav/files/bobby/x", "/remote.php/dav/files/bob"),
            None
        );
        assert_eq!(last_segment("/a/b/personal/"), "personal");
    }
}
