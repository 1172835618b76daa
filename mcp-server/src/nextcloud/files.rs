//! Nextcloud Files over WebDAV (`remote.php/dav/files/{user}/…`, RFC 4918) and file search
//! (`SEARCH` on `remote.php/dav/`, RFC 5323 as Nextcloud implements it). Paths given here are
//! user paths relative to the root of the user's files; [`super::dav`] validates and encodes
//! them.

use reqwest::header::{CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use url::Url;

use super::dav::{self, read_body_limited, unexpected};
use super::paths::{encode_path, normalize_path, strip_marker};
use super::text::{bytes_as_text, is_binary_content_type};
use super::xml::{xml_escape, DavResponse, NS_DAV, NS_OWNCLOUD};
use super::{quote_etag, NcError, Session};
use encoding_rs::Encoding;

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

/// What files_find can filter on besides the name (all optional; given ones must all match).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindFilter {
    /// Part of the name (case-insensitive).
    pub name: Option<String>,
    pub kind: Option<FileKind>,
    /// Modified strictly after / before (unix seconds).
    pub modified_after: Option<i64>,
    pub modified_before: Option<i64>,
}

/// A kind of file, as people name them, or a content type (prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    Folder,
    /// Any of these exact content types.
    Types(&'static [&'static str]),
    /// The content type's major part (`image` for `image/png`).
    Major(String),
    /// Exactly this content type.
    Exact(String),
}

/// Word-processing documents (Nextcloud's `x-office/document` group,
/// core/js/mimetypelist.js, plus plain RTF).
const DOCUMENT_TYPES: &[&str] = &[
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
    "application/vnd.ms-word.document.macroEnabled.12",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.text-template",
    "application/rtf",
    "text/rtf",
];
/// Spreadsheets (`x-office/spreadsheet`).
const SPREADSHEET_TYPES: &[&str] = &[
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template",
    "application/vnd.ms-excel.sheet.macroEnabled.12",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.spreadsheet-template",
    "text/csv",
];
/// Presentations (`x-office/presentation`).
const PRESENTATION_TYPES: &[&str] = &[
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.presentationml.template",
    "application/vnd.ms-powerpoint.presentation.macroEnabled.12",
    "application/vnd.oasis.opendocument.presentation",
    "application/vnd.oasis.opendocument.presentation-template",
];
const PDF_TYPES: &[&str] = &["application/pdf"];

impl FileKind {
    /// `image`, `pdf`, `document`, `spreadsheet`, `presentation`, `audio`, `video`, `folder`,
    /// a content type (`text/markdown`) or a content type's major part (`text/`, `text/*`).
    pub fn parse(value: &str) -> Result<Self, NcError> {
        let v = value.trim().to_ascii_lowercase();
        let kind = match v.as_str() {
            "folder" | "folders" | "directory" => FileKind::Folder,
            "image" | "images" => FileKind::Major("image".into()),
            "audio" => FileKind::Major("audio".into()),
            "video" | "videos" => FileKind::Major("video".into()),
            "pdf" => FileKind::Types(PDF_TYPES),
            "document" | "documents" => FileKind::Types(DOCUMENT_TYPES),
            "spreadsheet" | "spreadsheets" => FileKind::Types(SPREADSHEET_TYPES),
            "presentation" | "presentations" => FileKind::Types(PRESENTATION_TYPES),
            _ => {
                let token = |t: &str| {
                    !t.is_empty()
                        && t.len() <= 100
                        && t.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
                };
                match v.split_once('/') {
                    Some((major, "" | "*" | "%")) if token(major) => FileKind::Major(major.into()),
                    Some((major, minor)) if token(major) && token(minor) => {
                        FileKind::Exact(v.clone())
                    }
                    _ => {
                        return Err(NcError::InvalidInput(format!(
                            "type \"{value}\" is not one of image, pdf, document, spreadsheet, \
                             presentation, audio, video, folder, nor a content type such as \
                             \"text/markdown\" or \"text/\""
                        )))
                    }
                }
            }
        };
        Ok(kind)
    }

    /// Whether an entry is of this kind.
    pub fn matches(&self, entry: &FileEntry) -> bool {
        let content_type = entry.content_type.as_deref().map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        match (self, content_type) {
            (FileKind::Folder, _) => entry.is_folder(),
            (_, _) if entry.is_folder() => false,
            (_, None) => false,
            (FileKind::Types(types), Some(t)) => types.contains(&t.as_str()),
            (FileKind::Major(major), Some(t)) => t.split('/').next() == Some(major.as_str()),
            (FileKind::Exact(exact), Some(t)) => &t == exact,
        }
    }

    /// The SEARCH condition (FileSearchBackend: `getcontenttype` eq, or like `major/%`;
    /// folders by `is-collection`).
    fn condition(&self) -> String {
        let eq = |t: &str| {
            format!(
                "<d:eq><d:prop><d:getcontenttype/></d:prop><d:literal>{}</d:literal></d:eq>",
                xml_escape(t)
            )
        };
        match self {
            FileKind::Folder => "<d:is-collection/>".into(),
            FileKind::Types([one]) => eq(one),
            FileKind::Types(types) => format!(
                "<d:or>{}</d:or>",
                types.iter().map(|t| eq(t)).collect::<String>()
            ),
            FileKind::Major(major) => format!(
                "<d:like><d:prop><d:getcontenttype/></d:prop><d:literal>{}/%</d:literal></d:like>",
                xml_escape(major)
            ),
            FileKind::Exact(t) => eq(t),
        }
    }
}

impl FindFilter {
    /// Whether an entry passes the filter (for answers the server did not filter itself).
    pub fn matches(&self, entry: &FileEntry) -> bool {
        if let Some(name) = &self.name {
            if !entry.name.to_lowercase().contains(&name.to_lowercase()) {
                return false;
            }
        }
        if let Some(kind) = &self.kind {
            if !kind.matches(entry) {
                return false;
            }
        }
        if self.modified_after.is_some() || self.modified_before.is_some() {
            let Some(at) = entry
                .last_modified
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp())
            else {
                return false;
            };
            if self.modified_after.is_some_and(|after| at <= after)
                || self.modified_before.is_some_and(|before| at >= before)
            {
                return false;
            }
        }
        true
    }

    /// The `where` of a SEARCH for this filter (all conditions and-ed).
    fn condition(&self) -> String {
        let mut parts = Vec::new();
        if let Some(name) = &self.name {
            parts.push(name_condition(name));
        }
        if let Some(kind) = &self.kind {
            parts.push(kind.condition());
        }
        let time = |op: &str, at: i64| {
            format!(
                "<d:{op}><d:prop><d:getlastmodified/></d:prop><d:literal>{at}</d:literal></d:{op}>"
            )
        };
        if let Some(after) = self.modified_after {
            parts.push(time("gt", after));
        }
        if let Some(before) = self.modified_before {
            parts.push(time("lt", before));
        }
        match parts.len() {
            0 => String::new(),
            1 => parts.remove(0),
            _ => format!("<d:and>{}</d:and>", parts.concat()),
        }
    }
}

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

    /// Files and folders below `folder` whose name contains `term` (case-insensitive),
    /// most recently modified first; at most `limit` plus whether there were more.
    pub async fn files_search(
        &self,
        folder: &str,
        term: &str,
        limit: usize,
    ) -> Result<(Vec<FileEntry>, bool), NcError> {
        let filter = FindFilter {
            name: Some(term.to_owned()),
            ..FindFilter::default()
        };
        self.files_find(folder, &filter, limit).await
    }

    /// Files and folders below `folder` that pass `filter` (at least one condition), most
    /// recently modified first; at most `limit` plus whether there were more.
    pub async fn files_find(
        &self,
        folder: &str,
        filter: &FindFilter,
        limit: usize,
    ) -> Result<(Vec<FileEntry>, bool), NcError> {
        let folder = normalize_path(folder)?;
        let scope = if folder.is_empty() {
            format!("/files/{}", self.user)
        } else {
            format!("/files/{}/{folder}", self.user)
        };
        let body = search_body_where(&scope, &filter.condition(), limit + 1);
        let request = self.dav_xml_request("SEARCH", self.url("remote.php/dav/")?, None, body)?;
        let responses = self
            .dav_multistatus(API, request, |status| match status {
                StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST => NcError::NotFound(format!(
                    "cannot search in \"{folder}\": it is not an existing folder"
                )),
                StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED => {
                    NcError::Unavailable("this Nextcloud does not support file search".into())
                }
                s => unexpected(s),
            })
            .await?;
        let server_count = responses.len();
        // The server matched the escaped pattern (case-insensitively, as its database does):
        // its answer is the result, in its order, without filtering it again here.
        let mut entries: Vec<FileEntry> = responses
            .iter()
            .filter(|r| !r.props.is_empty())
            .filter_map(|r| Self::file_entry(&self.user, r))
            .filter(|e| !e.path.is_empty() && e.path != folder)
            .collect();
        let truncated = server_count > limit || entries.len() > limit;
        entries.truncate(limit);
        Ok((entries, truncated))
    }
}

impl Session<'_> {
    /// A file's or folder's numeric id (`oc:fileid`), with its entry (PROPFIND Depth 0).
    pub async fn files_id(&self, path: &str) -> Result<(FileEntry, u64), NcError> {
        let normalized = normalize_path(path)?;
        let url = self.files_url(&normalized)?;
        let request = self.dav_xml_request("PROPFIND", url, Some("0"), ID_PROPFIND_BODY.into())?;
        let responses = self
            .dav_multistatus(API, request, |status| match status {
                StatusCode::NOT_FOUND => not_found(&normalized),
                s => unexpected(s),
            })
            .await?;
        let response = responses
            .iter()
            .find(|r| !r.props.is_empty())
            .ok_or_else(|| NcError::BadResponse("the answer describes no file".into()))?;
        let entry = Self::file_entry(&self.user, response)
            .ok_or_else(|| NcError::BadResponse("the answer describes another file".into()))?;
        let id = file_id_of(response)
            .ok_or_else(|| NcError::BadResponse("the answer has no file id".into()))?;
        Ok((entry, id))
    }

    /// Where the file or folder with this id is now (SEARCH on `oc:fileid`), if anywhere.
    pub async fn files_by_id(&self, id: u64) -> Result<Option<FileEntry>, NcError> {
        let scope = format!("/files/{}", self.user);
        let condition =
            format!("<d:eq><d:prop><oc:fileid/></d:prop><d:literal>{id}</d:literal></d:eq>");
        let body = search_body_where(&scope, &condition, 2);
        let request = self.dav_xml_request("SEARCH", self.url("remote.php/dav/")?, None, body)?;
        let responses = self.dav_multistatus(API, request, unexpected).await?;
        Ok(responses
            .iter()
            .filter(|r| !r.props.is_empty() && file_id_of(r) == Some(id))
            .find_map(|r| Self::file_entry(&self.user, r)))
    }

    /// `REPORT oc:filter-files` below `folder`: the user's favourites (`favorites`) or the
    /// files carrying the system tag `tag_id` (the server answers one rule at a time here; see
    /// FilesReportPlugin), at most `nresults`.
    pub async fn files_filter(
        &self,
        folder: &str,
        favorites: bool,
        tag_id: Option<&str>,
        nresults: usize,
    ) -> Result<Vec<FilteredFile>, NcError> {
        let folder = normalize_path(folder)?;
        let mut url = self.files_url(&folder)?;
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        let body = filter_body(favorites, tag_id, nresults);
        let request = self.dav_xml_request("REPORT", url, None, body)?;
        let responses = self
            .dav_multistatus(API, request, |status| match status {
                StatusCode::NOT_FOUND => NcError::NotFound(format!(
                    "cannot search in \"{folder}\": it is not an existing folder"
                )),
                StatusCode::PRECONDITION_FAILED => NcError::NotFound(
                    "there is no such tag (list them with files_tags_list)".into(),
                ),
                s => unexpected(s),
            })
            .await?;
        Ok(responses
            .iter()
            .filter(|r| !r.props.is_empty())
            .filter_map(|r| {
                let entry = Self::file_entry(&self.user, r)?;
                (!entry.path.is_empty()).then(|| FilteredFile {
                    file_id: file_id_of(r),
                    favorite: r.prop_text(NS_OWNCLOUD, "favorite") == Some("1"),
                    entry,
                })
            })
            .collect())
    }
}

/// A file from a filter REPORT.
#[derive(Debug, Clone, PartialEq)]
pub struct FilteredFile {
    pub entry: FileEntry,
    pub file_id: Option<u64>,
    pub favorite: bool,
}

fn file_id_of(response: &DavResponse) -> Option<u64> {
    response
        .prop_text(NS_OWNCLOUD, "fileid")
        .and_then(|id| id.parse().ok())
}

const ID_PROPFIND_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
  <d:prop>
    <d:resourcetype/>
    <d:getcontentlength/>
    <d:getcontenttype/>
    <d:getlastmodified/>
    <d:getetag/>
    <oc:size/>
    <oc:fileid/>
    <oc:favorite/>
  </d:prop>
</d:propfind>"#;

/// The `oc:filter-files` REPORT body (FilesReportPlugin; the offset would be
/// `nc:firstresult`).
pub fn filter_body(favorites: bool, tag_id: Option<&str>, nresults: usize) -> String {
    let mut rules = String::new();
    if favorites {
        rules.push_str("<oc:favorite>1</oc:favorite>");
    }
    if let Some(tag) = tag_id {
        rules.push_str(&format!("<oc:systemtag>{}</oc:systemtag>", xml_escape(tag)));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<oc:filter-files xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
  <d:prop>
    <d:resourcetype/>
    <d:getcontentlength/>
    <d:getcontenttype/>
    <d:getlastmodified/>
    <d:getetag/>
    <oc:size/>
    <oc:fileid/>
    <oc:favorite/>
  </d:prop>
  <oc:filter-rules>{rules}</oc:filter-rules>
  <d:limit><d:nresults>{nresults}</d:nresults><nc:firstresult>0</nc:firstresult></d:limit>
</oc:filter-files>"#
    )
}

/// `term` as a literal inside a SEARCH `like` pattern. Nextcloud hands the pattern to its
/// database's LIKE with `\` as escape character (lib/private/Files/Cache/SearchBuilder.php →
/// `iLike`; `ESCAPE '\'` on SQLite, the default on MySQL and PostgreSQL), so `%`, `_` and `\`
/// in a name must be escaped the way `IDBConnection::escapeLikeParameter` does it.
pub fn escape_like(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 4);
    for c in term.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The basicsearch body: names containing `term` (matched literally) below `scope`, newest
/// first, `nresults` at most.
pub fn search_body(scope: &str, term: &str, nresults: usize) -> String {
    search_body_where(scope, &name_condition(term), nresults)
}

/// A basicsearch body with this `where` condition below `scope`, newest first.
pub fn search_body_where(scope: &str, condition: &str, nresults: usize) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<d:searchrequest xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
  <d:basicsearch>
    <d:select>
      <d:prop>
        <d:displayname/>
        <d:getcontenttype/>
        <d:getlastmodified/>
        <d:getcontentlength/>
        <d:resourcetype/>
        <d:getetag/>
        <oc:size/>
        <oc:fileid/>
      </d:prop>
    </d:select>
    <d:from>
      <d:scope>
        <d:href>{scope}</d:href>
        <d:depth>infinity</d:depth>
      </d:scope>
    </d:from>
    <d:where>{condition}
    </d:where>
    <d:orderby>
      <d:order>
        <d:prop>
          <d:getlastmodified/>
        </d:prop>
        <d:descending/>
      </d:order>
    </d:orderby>
    <d:limit>
      <d:nresults>{nresults}</d:nresults>
    </d:limit>
  </d:basicsearch>
</d:searchrequest>"#,
        scope = xml_escape(scope),
    )
}

/// The `where` of a name search: the name is like `%term%`. Nextcloud compares
/// `lower(name) LIKE lower(pattern)`, and on SQLite `lower()` folds ASCII letters only, so "CAFÉ"
/// would not find "Café": the term is also sent lower-cased (Unicode), which any database
/// matches, and the two are or-ed.
fn name_condition(term: &str) -> String {
    let like = |term: &str| {
        format!(
            r#"
      <d:like>
        <d:prop>
          <d:displayname/>
        </d:prop>
        <d:literal>%{}%</d:literal>
      </d:like>"#,
            xml_escape(&escape_like(term))
        )
    };
    let lower = term.to_lowercase();
    if lower == term {
        return like(term);
    }
    format!(
        "\n      <d:or>{}{}\n      </d:or>",
        like(term),
        like(&lower)
    )
}

#[cfg(test)]
mod tests;
