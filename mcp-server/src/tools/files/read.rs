//! files_read: a text file's content, or the text of a PDF or office document (ADR 0023).

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{path_arg, MAX_READ_BYTES};
use crate::nextcloud::extract::{self, DocumentOutcome, ExtractError, Format};
use crate::nextcloud::files::{ReadOutcome, TextFileParts};
use crate::nextcloud::text::bytes_as_text;
use crate::nextcloud::Session;
use crate::tools::{answer, parse_args, ToolContext, ToolError, ToolResult};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    /// Path of the text file or document, relative to the root of the user's files (e.g.
    /// "Notes/todo.md", "Reports/Q3.pdf").
    pub path: String,
}

/// What files_read answers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FileContent {
    /// The file's path, relative to the root of the user's files.
    pub path: String,
    /// The file's etag (files_write's etag for a text file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Text files: the character encoding the file is stored in (e.g. "UTF-8",
    /// "windows-1252"); the content was converted from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Text files: bytes of the content; documents: bytes of the file.
    pub size: usize,
    /// The text: the file's content, or the text extracted from a document.
    pub content: String,
    /// true: `content` is the text of a PDF or office document (its layout, images and
    /// formatting are gone), which cannot be written back with files_write.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub extracted: bool,
    /// Documents: "pdf", "docx", "xlsx", "pptx", "odt", "ods" or "odp".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    /// Documents: true when the text was cut at 1 MiB (the rest is not returned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub(super) async fn files_read(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: ReadArgs = parse_args(args)?;
    let path = path_arg(&a.path, "path", false)?;
    let dav = ctx.session().await?;
    // A document by its name goes straight to extraction, one by its content type once the
    // text read says it is binary; the bytes decide in the end.
    if Format::guess(&path, None).is_some() {
        return read_document(&dav, path).await;
    }
    match dav.files_read_text(&path, MAX_READ_BYTES).await? {
        ReadOutcome::Text(file) => text_answer(path, *file),
        ReadOutcome::TooLarge => Err(ToolError::InvalidArguments(format!(
            "\"{path}\" is larger than {} KiB, too large to read here; open it in \
             Nextcloud instead",
            MAX_READ_BYTES / 1024
        ))),
        ReadOutcome::Binary(content_type) if Format::guess("", Some(&content_type)).is_some() => {
            read_document(&dav, path).await
        }
        ReadOutcome::Binary(content_type) => Err(ToolError::InvalidArguments(format!(
            "\"{path}\" is not a text file ({content_type}), nor a PDF or office document \
             whose text can be read"
        ))),
    }
}

fn text_answer(path: String, file: TextFileParts) -> ToolResult {
    let note = (file.encoding != "UTF-8").then(|| {
        format!(
            "the file is stored in {0}; to keep that encoding, pass encoding \"{0}\" to \
             files_write",
            file.encoding
        )
    });
    answer(&FileContent {
        path,
        etag: file.etag,
        content_type: file.content_type,
        encoding: Some(file.encoding.to_owned()),
        size: file.content.len(),
        content: file.content,
        extracted: false,
        format: None,
        truncated: None,
        note,
    })
}

/// The text of a document, bounded in size and time (ADR 0023). A file named or typed as a
/// document whose bytes are text after all (a ".pdf" holding notes) is answered as text.
async fn read_document(dav: &Session<'_>, path: String) -> ToolResult {
    let (bytes, etag, content_type) = match dav
        .files_read_document(&path, extract::MAX_DOCUMENT_BYTES)
        .await?
    {
        DocumentOutcome::Bytes {
            bytes,
            etag,
            content_type,
        } => (bytes, etag, content_type),
        DocumentOutcome::TooLarge => {
            return Err(ToolError::InvalidArguments(format!(
                "\"{path}\" is larger than {} MiB, too large to read its text here; open it in \
                 Nextcloud instead",
                extract::MAX_DOCUMENT_BYTES / (1024 * 1024)
            )))
        }
    };
    // Cheap checks only here (no zip index is parsed outside the blocking task).
    let maybe_text = bytes.len() <= MAX_READ_BYTES
        && !bytes.starts_with(b"PK\x03\x04")
        && extract::sniff(&bytes).is_none();
    if let Some((content, encoding)) = maybe_text.then(|| bytes_as_text(&bytes, None)).flatten() {
        return text_answer(
            path,
            TextFileParts {
                content,
                etag,
                content_type,
                encoding,
            },
        );
    }
    let size = bytes.len();
    let document =
        extract::extract_bounded(bytes, extract::Limits::DEFAULT, extract::EXTRACT_TIMEOUT)
            .await
            .map_err(|e| {
                let message = format!("the text of \"{path}\" could not be read: {e}");
                match e {
                    ExtractError::TimedOut | ExtractError::Failed => {
                        ToolError::Unavailable(message)
                    }
                    _ => ToolError::InvalidArguments(message),
                }
            })?;
    answer(&FileContent {
        path,
        etag,
        content_type,
        encoding: None,
        size,
        content: document.text,
        extracted: true,
        format: Some(document.format.name()),
        truncated: Some(document.truncated),
        note: None,
    })
}
