//! OpenDocument (ISO/IEC 26300, as LibreOffice writes it): the text of `content.xml` — text
//! documents' paragraphs and tables, spreadsheets' sheets (under `[Sheet: name]`), and
//! presentations' pages (under `[Slide n]`). Deleted text of tracked changes, comments
//! (annotations), speaker notes, forms and scripts are left out, and no linked or embedded
//! object is opened.

use super::package::Package;
use super::xml::{attr, local, walk, Flow, Node};
use super::{Deadline, ExtractError, Format, Limits, Sink};

/// Most times a repeated cell (`table:number-columns-repeated`) is written out.
const MAX_REPEAT: usize = 64;
/// Most spaces one `text:s` gives.
const MAX_SPACES: usize = 64;

/// The format an ODF `mimetype` names (templates read as their documents).
pub(super) fn format_of(mimetype: &str) -> Option<Format> {
    let kind = mimetype.strip_prefix("application/vnd.oasis.opendocument.")?;
    Some(match kind.strip_suffix("-template").unwrap_or(kind) {
        "text" => Format::Odt,
        "spreadsheet" => Format::Ods,
        "presentation" => Format::Odp,
        _ => return None,
    })
}

/// Where text goes: the document, or the cell being read (so a repeated cell can be repeated).
struct Writer<'s> {
    sink: &'s mut Sink,
    cell: Option<String>,
    /// A cell never needs more than the whole output may hold.
    max_cell: usize,
}

impl Writer<'_> {
    fn push(&mut self, s: &str) {
        let max = self.max_cell;
        match &mut self.cell {
            Some(cell) => {
                if cell.len() < max {
                    cell.push_str(s)
                }
            }
            None => self.sink.push(s),
        }
    }

    fn space(&mut self) {
        match &mut self.cell {
            Some(cell) => {
                if !cell.is_empty() && !cell.ends_with(char::is_whitespace) {
                    cell.push(' ');
                }
            }
            None => self.sink.space(),
        }
    }

    fn end_line(&mut self) {
        match self.cell {
            Some(_) => self.space(),
            None => self.sink.end_line(),
        }
    }
}

pub(super) fn content(
    package: &mut Package<'_>,
    format: Format,
    limits: &Limits,
    deadline: Deadline,
    sink: &mut Sink,
) -> Result<(), ExtractError> {
    let xml = package.require("content.xml")?;
    let mut out = Writer {
        sink,
        cell: None,
        max_cell: limits.max_text_bytes,
    };
    let mut depth = 0usize;
    // The depth of an element whose content is left out (tracked changes, comments, notes).
    let mut skip_from: Option<usize> = None;
    let mut paragraphs = 0usize;
    let mut cell_depth: Option<usize> = None;
    let mut repeat = 1usize;
    let mut slides = 0usize;
    walk(&xml, format.name(), limits, deadline, |node| {
        match node {
            Node::Open(start) => {
                depth += 1;
                if skip_from.is_some() {
                    return Flow::Go;
                }
                match local(start) {
                    b"tracked-changes" | b"annotation" | b"notes" | b"forms" | b"scripts"
                    | b"event-listeners" => skip_from = Some(depth),
                    b"p" | b"h" => paragraphs += 1,
                    b"s" if paragraphs > 0 => {
                        let count = attr(start, b"c")
                            .and_then(|c| c.parse::<usize>().ok())
                            .unwrap_or(1)
                            .clamp(1, MAX_SPACES);
                        out.push(&" ".repeat(count));
                    }
                    b"tab" if paragraphs > 0 => out.push("\t"),
                    b"line-break" if paragraphs > 0 => out.end_line(),
                    b"table-cell" | b"covered-table-cell" if cell_depth.is_none() => {
                        cell_depth = Some(depth);
                        repeat = attr(start, b"number-columns-repeated")
                            .and_then(|n| n.parse::<usize>().ok())
                            .unwrap_or(1)
                            .clamp(1, MAX_REPEAT);
                        out.cell = Some(String::new());
                    }
                    b"table" if format == Format::Ods && cell_depth.is_none() => {
                        out.sink.end_block();
                        let name = attr(start, b"name").unwrap_or_default();
                        out.sink.push(&format!("[Sheet: {name}]"));
                        out.sink.end_line();
                    }
                    b"page" if format == Format::Odp => {
                        slides += 1;
                        out.sink.end_block();
                        out.sink.push(&format!("[Slide {slides}]"));
                        out.sink.end_line();
                    }
                    _ => {}
                }
            }
            Node::Close(name) => {
                let closing = depth;
                depth = depth.saturating_sub(1);
                if let Some(from) = skip_from {
                    if closing == from {
                        skip_from = None;
                    }
                    return Flow::Go;
                }
                match name {
                    b"p" | b"h" => {
                        paragraphs = paragraphs.saturating_sub(1);
                        if paragraphs == 0 {
                            out.end_line();
                        }
                    }
                    b"table-cell" | b"covered-table-cell" if cell_depth == Some(closing) => {
                        cell_depth = None;
                        let text = out.cell.take().unwrap_or_default();
                        let text = text.trim();
                        // Empty cells repeated across a whole sheet width are written once.
                        let times = if text.is_empty() { 1 } else { repeat };
                        for _ in 0..times {
                            out.sink.push(text);
                            out.sink.push("\t");
                        }
                    }
                    b"table-row" if cell_depth.is_none() => out.sink.end_line(),
                    b"table" if cell_depth.is_none() => out.sink.end_block(),
                    b"page" if format == Format::Odp => out.sink.end_block(),
                    _ => {}
                }
            }
            Node::Text(text) if paragraphs > 0 && skip_from.is_none() => {
                // Runs of white space in ODF text collapse to one space (text:s keeps more).
                let mut collapsed = String::with_capacity(text.len());
                let mut last_space = false;
                for c in text.chars() {
                    if c.is_whitespace() {
                        if !last_space {
                            collapsed.push(' ');
                        }
                        last_space = true;
                    } else {
                        collapsed.push(c);
                        last_space = false;
                    }
                }
                out.push(&collapsed);
            }
            Node::Text(_) => {}
        }
        if out.sink.full() {
            Flow::Stop
        } else {
            Flow::Go
        }
    })
}
