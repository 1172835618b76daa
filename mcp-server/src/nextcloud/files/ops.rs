//! Operations on one path: stat, list a folder, read as text, write, create a folder,
//! move or copy, delete.

use encoding_rs::Encoding;
use reqwest::header::{CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};

use super::{
    locked, not_found, parent_missing, FileEntry, ReadOutcome, TextFileParts, WriteCondition,
    Written, API,
};
use crate::nextcloud::dav::{self, read_body_limited, unexpected};
use crate::nextcloud::paths::normalize_path;
use crate::nextcloud::text::{bytes_as_text, is_binary_content_type};
use crate::nextcloud::{quote_etag, NcError, Session};

impl Session<'_> {
    /// One file or folder (PROPFIND Depth 0).
    pub async fn files_stat(&self, path: &str) -> Result<FileEntry, NcError> {
        let normalized = normalize_path(path)?;
        self.files_propfind(&normalized, "0")
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| NcError::BadResponse("the answer describes no file".into()))
    }

    /// The entries of a folder (PROPFIND Depth 1), without the folder itself.
    pub async fn files_list(&self, path: &str) -> Result<Vec<FileEntry>, NcError> {
        let normalized = normalize_path(path)?;
        let entries = self.files_propfind(&normalized, "1").await?;
        if let Some(own) = entries.iter().find(|e| e.path == normalized) {
            if !own.is_folder() {
                return Err(NcError::InvalidInput(format!(
                    "\"{normalized}\" is a file, not a folder; read it with files_read"
                )));
            }
        }
        Ok(entries
            .into_iter()
            .filter(|e| e.path != normalized)
            .collect())
    }

    /// A file's content if it is text of at most `max_bytes`.
    pub async fn files_read_text(
        &self,
        path: &str,
        max_bytes: usize,
    ) -> Result<ReadOutcome, NcError> {
        let normalized = normalize_path(path)?;
        if normalized.is_empty() {
            return Err(NcError::InvalidInput(
                "the root is a folder; list it with files_list".into(),
            ));
        }
        let entry = self.files_stat(&normalized).await?;
        if entry.is_folder() {
            return Err(NcError::InvalidInput(format!(
                "\"{normalized}\" is a folder; list it with files_list"
            )));
        }
        if entry.size.is_some_and(|s| s > max_bytes as u64) {
            return Ok(ReadOutcome::TooLarge);
        }
        if let Some(ct) = entry
            .content_type
            .as_deref()
            .filter(|ct| is_binary_content_type(ct))
        {
            return Ok(ReadOutcome::Binary(ct.to_owned()));
        }
        let url = self.files_url(&normalized)?;
        let response = self.send(API, self.request(Method::GET, url)).await?;
        match response.status() {
            s if s.is_success() => {}
            StatusCode::NOT_FOUND => return Err(not_found(&normalized)),
            StatusCode::LOCKED => return Err(locked(&normalized)),
            s => return Err(unexpected(s)),
        }
        let etag = dav::etag_header(response.headers()).or(entry.etag);
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or(entry.content_type);
        if let Some(ct) = content_type
            .as_deref()
            .filter(|ct| is_binary_content_type(ct))
        {
            return Ok(ReadOutcome::Binary(ct.to_owned()));
        }
        let Some(bytes) = read_body_limited(response, max_bytes).await? else {
            return Ok(ReadOutcome::TooLarge);
        };
        match bytes_as_text(&bytes, content_type.as_deref()) {
            Some((content, encoding)) => Ok(ReadOutcome::Text(Box::new(TextFileParts {
                content,
                etag,
                content_type,
                encoding,
            }))),
            None => Ok(ReadOutcome::Binary(
                content_type.unwrap_or_else(|| "application/octet-stream".into()),
            )),
        }
    }

    /// Creates or replaces a file.
    pub async fn files_put(
        &self,
        path: &str,
        content: Vec<u8>,
        encoding: &'static Encoding,
        condition: WriteCondition<'_>,
    ) -> Result<Written, NcError> {
        let normalized = normalize_path(path)?;
        if normalized.is_empty() {
            return Err(NcError::InvalidInput(
                "give a file path, not the root folder".into(),
            ));
        }
        let url = self.files_url(&normalized)?;
        let mut request = self
            .request(Method::PUT, url)
            .header(
                CONTENT_TYPE,
                format!(
                    "text/plain; charset={}",
                    encoding.name().to_ascii_lowercase()
                ),
            )
            .body(content);
        request = match condition {
            WriteCondition::Any => request,
            WriteCondition::IfMatch(etag) => request.header(IF_MATCH, quote_etag(etag)),
            WriteCondition::CreateOnly => request.header(IF_NONE_MATCH, "*"),
        };
        let response = self.send(API, request).await?;
        let status = response.status();
        match status {
            s if s.is_success() => {
                let mut etag = dav::etag_header(response.headers());
                if etag.is_none() {
                    etag = self.files_stat(&normalized).await.ok().and_then(|e| e.etag);
                }
                Ok(Written {
                    created: s == StatusCode::CREATED,
                    etag,
                })
            }
            StatusCode::PRECONDITION_FAILED => Err(match condition {
                WriteCondition::CreateOnly => NcError::AlreadyExists(format!(
                    "\"{normalized}\" already exists; read it with files_read and pass its etag \
                     to overwrite it"
                )),
                WriteCondition::IfMatch(etag) => NcError::Conflict(format!(
                    "\"{normalized}\" was changed or deleted since it was read (its ETag is no \
                     longer {etag}); read it again with files_read, merge, and retry with the \
                     new etag"
                )),
                WriteCondition::Any => unexpected(status),
            }),
            StatusCode::NOT_FOUND if matches!(condition, WriteCondition::IfMatch(_)) => {
                Err(not_found(&normalized))
            }
            StatusCode::CONFLICT | StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                // Sabre answers 409 both for a missing parent and for a PUT onto a folder.
                match self.files_stat(&normalized).await {
                    Ok(entry) if entry.is_folder() => Err(NcError::InvalidInput(format!(
                        "\"{normalized}\" is a folder; choose a file name inside it"
                    ))),
                    _ => Err(parent_missing(&normalized)),
                }
            }
            StatusCode::LOCKED => Err(locked(&normalized)),
            StatusCode::PAYLOAD_TOO_LARGE => Err(NcError::InvalidInput(
                "the file is larger than Nextcloud accepts".into(),
            )),
            StatusCode::BAD_REQUEST => Err(NcError::InvalidInput(format!(
                "Nextcloud refused the name \"{normalized}\" (it may contain characters or a \
                 name that Nextcloud forbids)"
            ))),
            s => Err(unexpected(s)),
        }
    }

    /// Creates a folder (MKCOL).
    pub async fn files_mkdir(&self, path: &str) -> Result<(), NcError> {
        let normalized = normalize_path(path)?;
        if normalized.is_empty() {
            return Err(NcError::AlreadyExists(
                "the root folder always exists".into(),
            ));
        }
        let url = self.files_url(&normalized)?;
        let response = self
            .send(API, self.request(dav::dav_method("MKCOL")?, url))
            .await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            StatusCode::METHOD_NOT_ALLOWED => Err(NcError::AlreadyExists(format!(
                "\"{normalized}\" already exists"
            ))),
            StatusCode::CONFLICT | StatusCode::NOT_FOUND => Err(parent_missing(&normalized)),
            StatusCode::LOCKED => Err(locked(&normalized)),
            StatusCode::BAD_REQUEST => Err(NcError::InvalidInput(format!(
                "Nextcloud refused the folder name \"{normalized}\""
            ))),
            s => Err(unexpected(s)),
        }
    }

    /// MOVE or COPY; returns true if an existing target was overwritten.
    pub async fn files_transfer(
        &self,
        copy: bool,
        source: &str,
        destination: &str,
        overwrite: bool,
    ) -> Result<bool, NcError> {
        let from = normalize_path(source)?;
        let to = normalize_path(destination)?;
        if from.is_empty() || to.is_empty() {
            return Err(NcError::InvalidInput(
                "the root folder can be neither source nor destination".into(),
            ));
        }
        if from == to {
            return Err(NcError::InvalidInput(
                "source and destination are the same".into(),
            ));
        }
        if to.starts_with(&format!("{from}/")) {
            return Err(NcError::InvalidInput(
                "a folder cannot be moved or copied into itself".into(),
            ));
        }
        let method = dav::dav_method(if copy { "COPY" } else { "MOVE" })?;
        let request = self
            .request(method, self.files_url(&from)?)
            .header("Destination", self.files_url(&to)?.as_str())
            .header("Overwrite", if overwrite { "T" } else { "F" });
        let response = self.send(API, request).await?;
        match response.status() {
            StatusCode::NO_CONTENT => Ok(true),
            s if s.is_success() => Ok(false),
            StatusCode::PRECONDITION_FAILED => Err(NcError::AlreadyExists(format!(
                "\"{to}\" already exists; pass overwrite=true to replace it"
            ))),
            StatusCode::NOT_FOUND => Err(not_found(&from)),
            StatusCode::CONFLICT => Err(parent_missing(&to)),
            StatusCode::LOCKED => Err(locked(&from)),
            StatusCode::BAD_REQUEST => Err(NcError::InvalidInput(format!(
                "Nextcloud refused the destination \"{to}\""
            ))),
            s => Err(unexpected(s)),
        }
    }

    /// Deletes a file or folder (folders with their contents; Nextcloud keeps them in the
    /// trash bin if the app is enabled). `etag` makes it conditional.
    pub async fn files_delete(&self, path: &str, etag: Option<&str>) -> Result<(), NcError> {
        let normalized = normalize_path(path)?;
        if normalized.is_empty() {
            return Err(NcError::InvalidInput(
                "the root folder cannot be deleted".into(),
            ));
        }
        let mut request = self.request(Method::DELETE, self.files_url(&normalized)?);
        if let Some(etag) = etag {
            request = request.header(IF_MATCH, quote_etag(etag));
        }
        let response = self.send(API, request).await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(not_found(&normalized)),
            StatusCode::PRECONDITION_FAILED => Err(NcError::Conflict(format!(
                "\"{normalized}\" was changed since it was read; list or read it again before \
                 deleting"
            ))),
            StatusCode::LOCKED => Err(locked(&normalized)),
            s => Err(unexpected(s)),
        }
    }
}
