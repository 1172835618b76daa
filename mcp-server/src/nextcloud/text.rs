//! File contents as text: which media types are never text, and bytes decoded in the encoding
//! they are in (a declared charset, a byte-order mark, UTF-8, else Windows-1252 for the Latin-1
//! files editors still write), and text encoded back into such an encoding on write.

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

use super::NcError;

/// The media types that are never text, whatever their bytes look like.
pub fn is_binary_content_type(content_type: &str) -> bool {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if ct.starts_with("text/") || ct.ends_with("+xml") || ct.ends_with("+json") {
        return false;
    }
    const BINARY_PREFIXES: &[&str] = &[
        "image/",
        "audio/",
        "video/",
        "font/",
        "model/",
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-7z",
        "application/x-rar",
        "application/vnd.rar",
        "application/x-bzip",
        "application/x-xz",
        "application/msword",
        "application/vnd.ms-",
        "application/vnd.openxmlformats",
        "application/vnd.oasis.opendocument",
        "application/x-iso9660",
        "application/wasm",
        "application/x-executable",
        "application/x-sharedlib",
        "application/java-archive",
        "application/x-sqlite",
        "application/epub",
        "application/x-msdownload",
        "application/vnd.android",
    ];
    BINARY_PREFIXES.iter().any(|p| ct.starts_with(p))
}

/// The `charset` parameter of a content type, if any.
fn charset_of(content_type: Option<&str>) -> Option<&str> {
    content_type?
        .split(';')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"'))
}

/// Whether single-byte text decoded from legacy bytes looks like text: no NUL, and control
/// characters other than tab, line breaks and form feed are rare.
fn looks_like_text(text: &str) -> bool {
    let mut controls = 0usize;
    let mut total = 0usize;
    for c in text.chars() {
        total += 1;
        if c == '\0' {
            return false;
        }
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}') {
            controls += 1;
        }
    }
    controls * 100 <= total
}

/// Bytes as text, and the encoding they were read in: the content type's `charset` when it
/// names one; else a byte-order mark; else UTF-8; else, for bytes that are not UTF-8 but look
/// like text (Latin-1 and Windows-1252 files are common), windows-1252 (a superset of
/// ISO-8859-1's printable characters). `None`: binary data.
pub fn bytes_as_text(bytes: &[u8], content_type: Option<&str>) -> Option<(String, &'static str)> {
    if let Some(encoding) = charset_of(content_type).and_then(|c| Encoding::for_label(c.as_bytes()))
    {
        let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
        if !had_errors && looks_like_text(&text) {
            return Some((text.into_owned(), encoding.name()));
        }
    }
    if let Some((encoding, bom_length)) = Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_length..]);
        return (!had_errors && looks_like_text(&text))
            .then(|| (text.into_owned(), encoding.name()));
    }
    if bytes.contains(&0) {
        return None;
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return looks_like_text(text).then(|| (text.to_owned(), UTF_8.name()));
    }
    let (text, _, _) = WINDOWS_1252.decode(bytes);
    looks_like_text(&text).then(|| (text.into_owned(), WINDOWS_1252.name()))
}

/// The encoding a text file is written in: UTF-8 unless the caller names another one that can
/// be written (single-byte legacy encodings such as windows-1252 or ISO-8859-15).
pub fn output_encoding(label: Option<&str>) -> Result<&'static Encoding, NcError> {
    let Some(label) = label.map(str::trim).filter(|l| !l.is_empty()) else {
        return Ok(UTF_8);
    };
    let encoding = Encoding::for_label(label.as_bytes()).ok_or_else(|| {
        NcError::InvalidInput(format!(
            "unknown encoding \"{label}\" (use \"utf-8\", or the encoding files_read reported, \
             e.g. \"windows-1252\")"
        ))
    })?;
    if encoding.output_encoding() != encoding {
        return Err(NcError::InvalidInput(format!(
            "files cannot be written in {}; use \"utf-8\"",
            encoding.name()
        )));
    }
    Ok(encoding)
}

/// `text` encoded in `encoding`; refuses characters the encoding cannot hold instead of
/// replacing them.
pub fn encode_text(text: &str, encoding: &'static Encoding) -> Result<Vec<u8>, NcError> {
    let (bytes, _, had_unmappable) = encoding.encode(text);
    if had_unmappable {
        let bad = text
            .chars()
            .find(|c| {
                let mut buf = [0u8; 4];
                encoding.encode(c.encode_utf8(&mut buf)).2
            })
            .unwrap_or('?');
        return Err(NcError::InvalidInput(format!(
            "the content has a character ({bad:?}) that {} cannot hold; write the file as \
             \"utf-8\" or leave the character out",
            encoding.name()
        )));
    }
    Ok(bytes.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn text_detection() {
        assert!(is_binary_content_type("image/png"));
        assert!(is_binary_content_type("application/pdf"));
        assert!(is_binary_content_type(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        ));
        assert!(!is_binary_content_type("image/svg+xml"));
        assert!(!is_binary_content_type("text/plain; charset=utf-8"));
        assert!(!is_binary_content_type("application/json"));
        assert!(!is_binary_content_type("application/octet-stream"));
        assert_eq!(
            bytes_as_text(b"\xef\xbb\xbfhi", None),
            Some(("hi".to_owned(), "UTF-8"))
        );
        assert_eq!(bytes_as_text(b"a\0b", None), None);
        assert_eq!(
            bytes_as_text(
                &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0],
                None
            ),
            None
        );
        // Latin-1 / Windows-1252 text is text.
        assert_eq!(
            bytes_as_text(b"Gr\xfc\xdfe aus K\xf6ln \x80 5\r\n", Some("text/plain")),
            Some(("Grüße aus Köln € 5\r\n".to_owned(), "windows-1252"))
        );
        // A declared charset wins; UTF-16 with a byte-order mark is read too.
        assert_eq!(
            bytes_as_text(b"caf\xe9", Some("text/plain; charset=\"ISO-8859-15\"")),
            Some(("café".to_owned(), "ISO-8859-15"))
        );
        assert_eq!(
            bytes_as_text(b"\xff\xfeh\0i\0", None),
            Some(("hi".to_owned(), "UTF-16LE"))
        );
        // Mostly control bytes: binary.
        assert_eq!(bytes_as_text(&[1, 2, 3, 4, 5, 6, 0x80, 0x81], None), None);
    }

    #[test]
    fn legacy_encodings_are_written_back_and_unmappable_text_refused() {
        let cp1252 = output_encoding(Some("windows-1252")).unwrap();
        assert_eq!(
            encode_text("Köln – 5 €", cp1252).unwrap(),
            b"K\xf6ln \x96 5 \x80"
        );
        assert!(matches!(
            encode_text("🚆", cp1252),
            Err(NcError::InvalidInput(_))
        ));
        assert_eq!(output_encoding(None).unwrap(), UTF_8);
        assert!(output_encoding(Some("no-such-encoding")).is_err());
        // UTF-16 can be read but not written (encoding_rs writes UTF-8 for it).
        assert!(output_encoding(Some("utf-16le")).is_err());
    }
}
