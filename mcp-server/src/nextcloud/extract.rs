//! The text of PDF, OOXML (docx, xlsx, pptx) and ODF (odt, ods, odp) documents, for files_read
//! (ADR 0023). Documents come from the user's files, so they are hostile input: every step is
//! bounded (download size, decompressed bytes, zip entries, XML depth, PDF pages, output size,
//! wall-clock time) and nothing in them is ever run or followed — macros, scripts, embedded
//! objects and external references are not even read; only the parts that hold the text are.
//!
//! The format is told by the bytes, never by the file name alone: `%PDF-`, or a zip package
//! whose `mimetype` (ODF) or parts (OOXML) say what it is.

mod odf;
mod ooxml;
mod package;
mod pdf;
mod xml;

#[cfg(test)]
mod tests;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use mcp_shared::ops::clock::monotonic;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};

use super::dav::{self, read_body_limited, unexpected};
use super::paths::normalize_path;
use super::{NcError, Session};

/// Largest document files_read downloads to extract its text.
pub const MAX_DOCUMENT_BYTES: usize = 20 * 1024 * 1024;
/// How long extracting one document's text may take.
pub const EXTRACT_TIMEOUT: Duration = Duration::from_secs(10);

/// The bounds of one extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes of UTF-8 text returned; the rest is cut (`truncated`).
    pub max_text_bytes: usize,
    /// Most bytes all the zip entries read may decompress to together; a PDF stream (object
    /// stream, page content, font map) may decompress to at most this much each, and all the
    /// pages' content together too.
    pub max_inflated: usize,
    /// Most entries a zip package may have.
    pub max_entries: usize,
    /// Deepest XML element nesting read.
    pub max_xml_depth: usize,
    /// Most PDF pages read.
    pub max_pages: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_text_bytes: 1024 * 1024,
        max_inflated: 64 * 1024 * 1024,
        max_entries: 10_000,
        max_xml_depth: 256,
        max_pages: 5_000,
    };
}

/// A document format whose text can be extracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pdf,
    Docx,
    Xlsx,
    Pptx,
    Odt,
    Ods,
    Odp,
}

impl Format {
    /// The short name the answer gives (`"pdf"`, `"docx"`…).
    pub fn name(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Docx => "docx",
            Self::Xlsx => "xlsx",
            Self::Pptx => "pptx",
            Self::Odt => "odt",
            Self::Ods => "ods",
            Self::Odp => "odp",
        }
    }

    /// The format a file name or content type suggests (the bytes decide later).
    pub fn guess(path: &str, content_type: Option<&str>) -> Option<Format> {
        let by_type = content_type.and_then(|ct| {
            let ct = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            Some(match ct.as_str() {
                "application/pdf" => Self::Pdf,
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                | "application/vnd.ms-word.document.macroenabled.12" => Self::Docx,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                | "application/vnd.ms-excel.sheet.macroenabled.12" => Self::Xlsx,
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
                | "application/vnd.ms-powerpoint.presentation.macroenabled.12" => Self::Pptx,
                "application/vnd.oasis.opendocument.text" => Self::Odt,
                "application/vnd.oasis.opendocument.spreadsheet" => Self::Ods,
                "application/vnd.oasis.opendocument.presentation" => Self::Odp,
                _ => return None,
            })
        });
        by_type.or_else(|| {
            let name = path.rsplit('/').next().unwrap_or(path);
            let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
            Some(match ext.as_str() {
                "pdf" => Self::Pdf,
                "docx" | "docm" => Self::Docx,
                "xlsx" | "xlsm" => Self::Xlsx,
                "pptx" | "pptm" => Self::Pptx,
                "odt" => Self::Odt,
                "ods" => Self::Ods,
                "odp" => Self::Odp,
                _ => return None,
            })
        })
    }
}

/// A document's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub format: Format,
    pub text: String,
    /// The text was cut at [`Limits::max_text_bytes`].
    pub truncated: bool,
}

/// Why a document's text could not be had. The messages complete "the text of … could not be
/// read: …" and never quote the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("it is not a PDF, Word/Excel/PowerPoint (OOXML) or OpenDocument file")]
    NotADocument,
    #[error("it is password-protected (encrypted)")]
    Encrypted,
    #[error("it is too large: {0}")]
    TooLarge(String),
    #[error("it is damaged or not a valid {format} file ({detail})")]
    Damaged {
        format: &'static str,
        detail: String,
    },
    #[error("reading its text took longer than {} seconds", EXTRACT_TIMEOUT.as_secs())]
    TimedOut,
    #[error("its content could not be read")]
    Failed,
}

impl ExtractError {
    fn damaged(format: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::Damaged {
            format,
            detail: detail.to_string(),
        }
    }
}

/// When an extraction has to stop. Checked in every loop of the parsers that the crates do not
/// run themselves, so a timed-out extraction stops soon instead of holding a blocking thread.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Instant);

impl Deadline {
    pub fn check(self) -> Result<(), ExtractError> {
        if monotonic() >= self.0 {
            Err(ExtractError::TimedOut)
        } else {
            Ok(())
        }
    }
}

/// The text being written, cut at a byte limit on a character boundary, with runs of blank
/// lines and spaces kept short.
#[derive(Debug)]
pub(crate) struct Sink {
    text: String,
    max: usize,
    truncated: bool,
}

impl Sink {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            text: String::new(),
            max,
            truncated: false,
        }
    }

    /// No more text fits: the caller may stop reading.
    pub(crate) fn full(&self) -> bool {
        self.truncated
    }

    pub(crate) fn push(&mut self, s: &str) {
        if self.truncated || s.is_empty() {
            return;
        }
        let room = self.max - self.text.len();
        if s.len() <= room {
            self.text.push_str(s);
            return;
        }
        let mut cut = room;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.text.push_str(&s[..cut]);
        self.truncated = true;
    }

    /// Marks the text as cut although it did not reach the limit (a bound elsewhere was hit).
    pub(crate) fn cut(&mut self) {
        self.truncated = true;
    }

    pub(crate) fn push_char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.push(c.encode_utf8(&mut buf));
    }

    /// One space between words, none at a line start.
    pub(crate) fn space(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with(char::is_whitespace) {
            self.push(" ");
        }
    }

    /// Ends a table cell with a tab (trailing spaces dropped).
    pub(crate) fn end_cell(&mut self) {
        if self.truncated {
            return;
        }
        let kept = self.text.trim_end_matches(' ').len();
        self.text.truncate(kept);
        self.push("\t");
    }

    /// Ends the line, if one was begun (trailing spaces and tabs dropped).
    pub(crate) fn end_line(&mut self) {
        if self.truncated {
            return;
        }
        let kept = self.text.trim_end_matches([' ', '\t']).len();
        self.text.truncate(kept);
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.push("\n");
        }
    }

    /// Ends a block (table, page, sheet, slide) with a blank line.
    pub(crate) fn end_block(&mut self) {
        self.end_line();
        if !self.text.is_empty() && !self.text.ends_with("\n\n") {
            self.push("\n");
        }
    }

    pub(crate) fn finish(mut self) -> (String, bool) {
        let kept = self.text.trim_end().len();
        self.text.truncate(kept);
        (self.text, self.truncated)
    }
}

/// The format the bytes are in, if one of those handled here.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    // A PDF header may follow some junk (the spec reader tolerance of 1024 bytes).
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Some(Format::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return package::sniff(bytes);
    }
    None
}

/// Extracts the text of a document, synchronously (run it on a blocking thread).
pub fn extract(
    bytes: &[u8],
    limits: &Limits,
    deadline: Deadline,
) -> Result<Extracted, ExtractError> {
    let format = sniff(bytes).ok_or_else(|| {
        if bytes.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
            // OLE2: legacy .doc/.xls/.ppt, or an encrypted OOXML file (which Office stores so).
            ExtractError::Damaged {
                format: "document",
                detail: "a legacy Office (.doc/.xls/.ppt) or password-protected file, which \
                         is not read here"
                    .into(),
            }
        } else if bytes.starts_with(b"PK\x03\x04") {
            ExtractError::damaged(
                "office",
                "its zip package cannot be read, or it is a zip file of something else",
            )
        } else {
            ExtractError::NotADocument
        }
    })?;
    let mut sink = Sink::new(limits.max_text_bytes);
    match format {
        Format::Pdf => pdf::extract(bytes, limits, deadline, &mut sink)?,
        _ => package::extract(format, bytes, limits, deadline, &mut sink)?,
    }
    let (text, truncated) = sink.finish();
    Ok(Extracted {
        format,
        text,
        truncated,
    })
}

/// [`extract`] on a blocking thread, within `timeout`. The parsers check the same deadline, so
/// a document that takes too long stops its thread too. A panic in a parser crate (a bug that
/// hostile input may find) is caught and answered as an error, never taking the server down.
pub async fn extract_bounded(
    bytes: Vec<u8>,
    limits: Limits,
    timeout: Duration,
) -> Result<Extracted, ExtractError> {
    let deadline = Deadline(monotonic() + timeout);
    let task = tokio::task::spawn_blocking(move || {
        catch_unwind(AssertUnwindSafe(|| extract(&bytes, &limits, deadline)))
    });
    // A little slack so that the thread's own deadline check answers first.
    match tokio::time::timeout(timeout + Duration::from_millis(500), task).await {
        Ok(Ok(Ok(result))) => result,
        Ok(Ok(Err(_))) | Ok(Err(_)) => {
            tracing::warn!("a document parser panicked; its text is not returned");
            Err(ExtractError::Failed)
        }
        Err(_) => {
            tracing::warn!("a document parser overran its deadline");
            Err(ExtractError::TimedOut)
        }
    }
}

/// A file's bytes for extraction.
#[derive(Debug, Clone, PartialEq)]
pub enum DocumentOutcome {
    Bytes {
        bytes: Vec<u8>,
        etag: Option<String>,
        content_type: Option<String>,
    },
    /// Larger than the limit.
    TooLarge,
}

impl Session<'_> {
    /// A file's bytes if there are at most `max_bytes` of them (for [`extract_bounded`]).
    pub async fn files_read_document(
        &self,
        path: &str,
        max_bytes: usize,
    ) -> Result<DocumentOutcome, NcError> {
        let normalized = normalize_path(path)?;
        let entry = self.files_stat(&normalized).await?;
        if entry.is_folder() {
            return Err(NcError::InvalidInput(format!(
                "\"{normalized}\" is a folder; list it with files_list"
            )));
        }
        if entry.size.is_some_and(|s| s > max_bytes as u64) {
            return Ok(DocumentOutcome::TooLarge);
        }
        let url = self.files_url(&normalized)?;
        let response = self.send("files", self.request(Method::GET, url)).await?;
        match response.status() {
            s if s.is_success() => {}
            StatusCode::NOT_FOUND => {
                return Err(NcError::NotFound(format!(
                    "there is no file at \"{normalized}\" any more"
                )))
            }
            StatusCode::LOCKED => {
                return Err(NcError::Conflict(format!(
                    "\"{normalized}\" is locked (open in an editor or being synced); try again \
                     later"
                )))
            }
            s => return Err(unexpected(s)),
        }
        let etag = dav::etag_header(response.headers()).or(entry.etag);
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or(entry.content_type);
        Ok(match read_body_limited(response, max_bytes).await? {
            Some(bytes) => DocumentOutcome::Bytes {
                bytes,
                etag,
                content_type,
            },
            None => DocumentOutcome::TooLarge,
        })
    }
}
