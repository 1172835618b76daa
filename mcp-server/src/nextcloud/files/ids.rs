//! Files by id (`oc:fileid`): a path's id, where an id is now, and the `oc:filter-files`
//! REPORT (favourites, system tags), which answers with ids.

use reqwest::StatusCode;

use super::find::search_body_where;
use super::{not_found, FileEntry, API};
use crate::nextcloud::dav::unexpected;
use crate::nextcloud::paths::normalize_path;
use crate::nextcloud::xml::{xml_escape, DavResponse, NS_OWNCLOUD};
use crate::nextcloud::{NcError, Session};

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
