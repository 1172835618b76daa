//! PDF text with lopdf (ADR 0023): the document is loaded with every stream's decompression
//! bounded (object streams, cross-reference streams, page contents, ToUnicode maps), and the
//! page content operators are walked here, not by lopdf's `extract_text`, so that lines and
//! word gaps come from the text positioning operators (Td, TD, Tm, T*, TJ offsets) and the
//! deadline is checked between operators. Nothing in a PDF is run: JavaScript, actions,
//! embedded files, forms and links are never looked at; only the page content streams and the
//! fonts' encodings are read. Text drawn inside form XObjects is not reached.

use lopdf::content::{Content, Operation};
use lopdf::{DecompressError, Document, Encoding, Error as PdfError, LoadOptions, Object};

use super::{Deadline, ExtractError, Limits, Sink};

/// How often (in operators) the deadline is checked.
const CHECK_EVERY: usize = 1024;
/// A TJ offset (thousandths of a text space unit) larger than this, moving right, is a word
/// gap; kerning is far smaller.
const WORD_GAP: f32 = 200.0;

fn error(e: PdfError, limits: &Limits) -> ExtractError {
    match e {
        PdfError::InvalidPassword | PdfError::UnsupportedSecurityHandler(_) => {
            ExtractError::Encrypted
        }
        PdfError::Decompress(DecompressError::MemoryLimitExceeded { .. }) => {
            ExtractError::TooLarge(format!(
                "a stream decompresses to more than {} MiB",
                limits.max_inflated / (1024 * 1024)
            ))
        }
        other => ExtractError::damaged("PDF", other),
    }
}

pub(super) fn extract(
    bytes: &[u8],
    limits: &Limits,
    deadline: Deadline,
    sink: &mut Sink,
) -> Result<(), ExtractError> {
    let options = LoadOptions {
        max_decompressed_size: Some(limits.max_inflated),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(bytes, options).map_err(|e| error(e, limits))?;
    if doc.is_encrypted() {
        // Encrypted with a user password (an empty one is opened by lopdf itself).
        return Err(ExtractError::Encrypted);
    }
    deadline.check()?;
    let pages = doc.get_pages();
    let many = pages.len() > 1;
    let mut content_left = limits.max_inflated;
    for (number, page_id) in pages.into_iter().take(limits.max_pages) {
        deadline.check()?;
        let content = match doc.get_page_content_with_limit(page_id, content_left) {
            Ok(content) => content,
            Err(PdfError::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
                // The pages so far are kept; the rest is cut as too much.
                sink.cut();
                break;
            }
            Err(_) => continue,
        };
        content_left = content_left.saturating_sub(content.len());
        let fonts: Vec<(Vec<u8>, Encoding<'_>)> = match doc.get_page_fonts(page_id) {
            Ok(fonts) => fonts
                .into_iter()
                .filter_map(|(name, font)| {
                    font.get_font_encoding_with_limit(&doc, limits.max_inflated)
                        .ok()
                        .map(|encoding| (name, encoding))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        sink.end_block();
        if many {
            sink.push(&format!("[Page {number}]"));
            sink.end_line();
        }
        page_text(&content, &fonts, deadline, sink)?;
        if sink.full() {
            break;
        }
    }
    Ok(())
}

/// Where the text being shown is, as far as line and word breaks need it.
#[derive(Default)]
struct Position {
    y: f32,
    shown_y: Option<f32>,
    moved: bool,
    new_line: bool,
}

impl Position {
    /// Called before text is shown: a line break or a space where the position moved.
    fn before_text(&mut self, sink: &mut Sink) {
        if let Some(last) = self.shown_y {
            if self.new_line || (self.y - last).abs() > 0.5 {
                sink.end_line();
            } else if self.moved {
                sink.space();
            }
        }
        self.shown_y = Some(self.y);
        self.moved = false;
        self.new_line = false;
    }
}

fn number(operands: &[Object], index: usize) -> f32 {
    match operands.get(index) {
        Some(Object::Integer(i)) => *i as f32,
        Some(Object::Real(r)) => *r,
        _ => 0.0,
    }
}

fn page_text(
    content: &[u8],
    fonts: &[(Vec<u8>, Encoding<'_>)],
    deadline: Deadline,
    sink: &mut Sink,
) -> Result<(), ExtractError> {
    let mut encoding: Option<&Encoding<'_>> = None;
    let mut at = Position::default();
    for (index, operation) in Content::decode_iter(content).enumerate() {
        if index.is_multiple_of(CHECK_EVERY) {
            deadline.check()?;
        }
        // A content stream that stops parsing keeps the text before the fault.
        let Ok(Operation { operator, operands }) = operation else {
            break;
        };
        match operator.as_str() {
            "BT" => {
                at.y = 0.0;
                at.moved = true;
            }
            "Tf" => {
                encoding = operands
                    .first()
                    .and_then(|name| name.as_name().ok())
                    .and_then(|name| fonts.iter().find(|(n, _)| n == name))
                    .map(|(_, e)| e);
            }
            "Td" | "TD" => {
                let ty = number(&operands, 1);
                at.y += ty;
                at.moved = true;
            }
            "Tm" => {
                at.y = number(&operands, 5);
                at.moved = true;
            }
            "T*" => at.new_line = true,
            "Tj" => show(operands.first(), encoding, &mut at, sink),
            "'" => {
                at.new_line = true;
                show(operands.first(), encoding, &mut at, sink);
            }
            "\"" => {
                at.new_line = true;
                show(operands.get(2), encoding, &mut at, sink);
            }
            "TJ" => {
                if let Some(Object::Array(parts)) = operands.first() {
                    for part in parts {
                        match part {
                            Object::String(..) => show(Some(part), encoding, &mut at, sink),
                            Object::Integer(_) | Object::Real(_)
                                if -number(std::slice::from_ref(part), 0) > WORD_GAP =>
                            {
                                at.moved = true
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
        if sink.full() {
            break;
        }
    }
    Ok(())
}

fn show(
    string: Option<&Object>,
    encoding: Option<&Encoding<'_>>,
    at: &mut Position,
    sink: &mut Sink,
) {
    let (Some(Object::String(bytes, _)), Some(encoding)) = (string, encoding) else {
        return;
    };
    let Ok(text) = encoding.bytes_to_string(bytes) else {
        return;
    };
    if text.is_empty() {
        return;
    }
    at.before_text(sink);
    // Control characters from broken maps are dropped; a shown space is a word gap.
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect();
    sink.push(&clean);
}
