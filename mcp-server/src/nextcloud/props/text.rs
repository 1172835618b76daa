//! File contents (text.rs): reading is lossless where the file can be written back.

use proptest::prelude::*;

use crate::nextcloud::text::{bytes_as_text, encode_text, output_encoding};
use crate::nextcloud::NcError;

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("text/plain".to_owned()),
        Just("text/plain; charset=windows-1252".to_owned()),
        Just("text/plain; charset=\"ISO-8859-15\"".to_owned()),
        Just("text/plain; charset=utf-16le".to_owned()),
        Just("text/plain; charset=shift_jis".to_owned()),
        Just("application/octet-stream; charset=".to_owned()),
        any::<String>(),
    ])
}

proptest! {
    /// Reading never panics on any bytes and content type, never returns text with a NUL, and
    /// is lossless where the file can be written back: writing the text in the encoding it was
    /// read in gives bytes that read as the same text, and for UTF-8 and the single-byte
    /// encodings (windows-1252, ISO-8859-x) exactly the bytes read (after a byte-order mark).
    /// (Multi-byte legacy encodings have several byte forms for some characters, e.g. Shift_JIS
    /// `ED 80`; the encoder writes the standard one.) UTF-8 text that looks like text is read as
    /// itself.
    #[test]
    fn text_is_read_and_written_back_losslessly(
        bytes in prop_oneof![
            any::<Vec<u8>>(),
            "[a-zäöü€ \n\t]{0,40}".prop_map(String::into_bytes),
            prop::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\n')], 0..40),
        ],
        content_type in content_type(),
    ) {
        let Some((text, encoding)) = bytes_as_text(&bytes, content_type.as_deref()) else {
            return Ok(());
        };
        prop_assert!(!text.contains('\0'));
        let Ok(output) = output_encoding(Some(encoding)) else {
            return Ok(());
        };
        let exact = output == encoding_rs::UTF_8 || output.is_single_byte();
        let written = match encode_text(&text, output) {
            Ok(written) => written,
            // Some legacy multi-byte characters (Shift_JIS user-defined ones) decode to
            // private-use characters the encoder does not map back: refused, never replaced.
            Err(NcError::InvalidInput(_)) if !exact => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(format!("{encoding}: {e}"))),
        };
        prop_assert_eq!(output.decode_without_bom_handling(&written).0, text.as_str());
        prop_assert!(
            !exact || bytes.ends_with(&written),
            "{encoding}: {bytes:?} read as {text:?} written as {written:?}"
        );
        if content_type.is_none() && !bytes.starts_with(b"\xef\xbb\xbf") {
            if let Ok(utf8) = std::str::from_utf8(&bytes) {
                prop_assert_eq!(text.as_str(), utf8);
            }
        }
    }

    /// Encoding any text in any label never panics; what is written reads back as the text.
    #[test]
    fn encoded_text_reads_back(text in any::<String>(), label in prop_oneof![
        Just("utf-8".to_owned()), Just("windows-1252".to_owned()), Just("iso-8859-15".to_owned()),
        Just("utf-16le".to_owned()), any::<String>(),
    ]) {
        let Ok(encoding) = output_encoding(Some(&label)) else { return Ok(()) };
        if let Ok(bytes) = encode_text(&text, encoding) {
            let (decoded, _) = encoding.decode_without_bom_handling(&bytes);
            prop_assert_eq!(decoded, text.as_str());
        }
    }
}
