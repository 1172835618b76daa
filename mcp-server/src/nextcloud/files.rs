//! Nextcloud Files over WebDAV (`remote.php/dav/files/{user}/…`, RFC 4918) and file search
//! (`SEARCH` on `remote.php/dav/`, RFC 5323 as Nextcloud implements it). Paths given here are
//! user paths relative to the root of the user's files; [`super::dav`] validates and encodes
//! them.
//!
//! This file holds the model (entries, read and write outcomes), the errors and how a
//! PROPFIND answer becomes entries; `ops` the operations on one path, `find` files_find's
//! filters and the SEARCH request, `ids` file ids and the filter REPORT.

use reqwest::StatusCode;
use serde::Serialize;
use url::Url;

use super::dav::unexpected;
use super::paths::{encode_path, strip_marker};
use super::xml::{DavResponse, NS_DAV, NS_OWNCLOUD};
use super::{NcError, Session};

mod find;
mod ids;
mod ops;

pub use find::{escape_like, search_body, search_body_where, FileKind, FindFilter};
pub use ids::{filter_body, FilteredFile};

const API: &str = "files";

const PROPFIND_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
  <d:prop>
    <d:resourcetype/>
    <d:getcontentlength/>
    <d:getcontenttype/>
    <d:getlastmodified/>
    <d:getetag/>
    <oc:size/>
  </d:prop>
</d:propfind>"#;

/// One file or folder.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FileEntry {
    pub name: String,
    /// Path relative to the root of the user's files (`""` is the root).
    pub path: String,
    /// `"file"` or `"folder"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl FileEntry {
    pub fn is_folder(&self) -> bool {
        self.kind == "folder"
    }
}

/// What reading a file as text gave.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadOutcome {
    Text(Box<TextFileParts>),
    /// Larger than the limit.
    TooLarge,
    /// Not text; the content type.
    Binary(String),
}

/// A text file's content.
#[derive(Debug, Clone, PartialEq)]
pub struct TextFileParts {
    pub content: String,
    pub etag: Option<String>,
    pub content_type: Option<String>,
    /// The character encoding the bytes were decoded from (WHATWG name, e.g. `UTF-8`,
    /// `windows-1252`).
    pub encoding: &'static str,
}

/// Condition of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteCondition<'a> {
    /// Create or overwrite.
    Any,
    /// Only if the file still has this ETag (`If-Match`).
    IfMatch(&'a str),
    /// Only if nothing exists at the path (`If-None-Match: *`).
    CreateOnly,
}

/// Result of a PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub created: bool,
    pub etag: Option<String>,
}

/// HTTP-date (`Tue, 05 Mar 2024 10:00:00 GMT`) → RFC 3339; unparsable values are kept.
fn http_date_to_rfc3339(value: &str) -> String {
    chrono::DateTime::parse_from_rfc2822(value)
        .map(|d| {
            d.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_else(|_| value.to_owned())
}

fn not_found(path: &str) -> NcError {
    NcError::NotFound(format!(
        "there is no file or folder at \"{path}\" (list the parent folder with files_list or \
         search with files_find)"
    ))
}

fn parent_missing(path: &str) -> NcError {
    let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    NcError::NotFound(format!(
        "the folder \"{parent}\" that should contain \"{path}\" does not exist (create it first \
         with files_mkdir)"
    ))
}

fn locked(path: &str) -> NcError {
    NcError::Conflict(format!(
        "\"{path}\" is locked (open in an editor or being synced); try again later"
    ))
}

impl Session<'_> {
    /// The WebDAV root of the user's files, as a decoded path marker for hrefs.
    fn files_marker(user: &str) -> String {
        format!("/remote.php/dav/files/{user}")
    }

    /// Absolute URL of a user path.
    pub fn files_url(&self, path: &str) -> Result<Url, NcError> {
        self.url(&format!(
            "remote.php/dav/files/{}/{}",
            self.user_segment()?,
            encode_path(path)?
        ))
    }

    fn file_entry(user: &str, response: &DavResponse) -> Option<FileEntry> {
        let path = strip_marker(&response.href, &Self::files_marker(user))?;
        let is_folder = response.is_collection();
        let size = response
            .prop_text(NS_DAV, "getcontentlength")
            .or_else(|| response.prop_text(NS_OWNCLOUD, "size"))
            .and_then(|s| s.parse::<u64>().ok());
        Some(FileEntry {
            name: path.rsplit('/').next().unwrap_or_default().to_owned(),
            kind: if is_folder { "folder" } else { "file" },
            size,
            content_type: if is_folder {
                None
            } else {
                response
                    .prop_text(NS_DAV, "getcontenttype")
                    .map(str::to_owned)
            },
            last_modified: response
                .prop_text(NS_DAV, "getlastmodified")
                .map(http_date_to_rfc3339),
            etag: response.etag(),
            path,
        })
    }

    async fn files_propfind(
        &self,
        path: &str,
        depth: &'static str,
    ) -> Result<Vec<FileEntry>, NcError> {
        let url = self.files_url(path)?;
        let request = self.dav_xml_request("PROPFIND", url, Some(depth), PROPFIND_BODY.into())?;
        let responses = self
            .dav_multistatus(API, request, |status| match status {
                StatusCode::NOT_FOUND => not_found(path),
                s => unexpected(s),
            })
            .await?;
        Ok(responses
            .iter()
            .filter(|r| !r.props.is_empty())
            .filter_map(|r| Self::file_entry(&self.user, r))
            .collect())
    }
}

#[cfg(test)]
mod tests;
