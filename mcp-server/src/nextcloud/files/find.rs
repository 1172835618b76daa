//! files_find: what it filters on (name, kind of file, modification time, favourite, tag)
//! and the SEARCH request (RFC 5323 basicsearch as Nextcloud implements it).

use reqwest::StatusCode;

use super::{FileEntry, API};
use crate::nextcloud::dav::unexpected;
use crate::nextcloud::paths::normalize_path;
use crate::nextcloud::xml::xml_escape;
use crate::nextcloud::{NcError, Session};

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
    pub(super) fn condition(&self) -> String {
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

impl Session<'_> {
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
