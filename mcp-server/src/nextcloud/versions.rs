//! File versions over WebDAV (`remote.php/dav/versions/{user}/versions/{fileid}`, the
//! files_versions app: `apps/files_versions/lib/Sabre/`). Each version is named by its
//! revision id (a unix time); the list includes the current content (its revision id is the
//! file's modification time, `lib/Versions/LegacyVersionsBackend.php`). Restoring is a MOVE of
//! a version to `versions/{user}/restore/target`; the current content is kept as a version.

use reqwest::StatusCode;
use serde::Serialize;

use super::dav::unexpected;
use super::paths::last_segment;
use super::xml::{DavResponse, NS_DAV};
use super::{NcError, Session};

const API: &str = "versions";
const NS_NEXTCLOUD: &str = "http://nextcloud.org/ns";

const VERSIONS_PROPFIND: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:nc="http://nextcloud.org/ns">
  <d:prop>
    <d:getcontentlength/>
    <d:getcontenttype/>
    <d:getlastmodified/>
    <nc:version-label/>
    <nc:version-author/>
  </d:prop>
</d:propfind>"#;

/// One version of a file.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FileVersion {
    /// What files_version_restore takes.
    pub version_id: String,
    /// When this content was saved (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The name someone gave this version in Nextcloud, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The user who saved it (Nextcloud 28 and later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// true: this is the file's current content.
    pub current: bool,
}

/// A version from one `DAV:response` of a version listing (`None` for the collection).
/// `current_mtime`: the file's modification time (unix), which names the current version.
pub fn file_version(
    file_id: u64,
    response: &DavResponse,
    current_mtime: Option<i64>,
) -> Option<FileVersion> {
    let marker = format!("/versions/{file_id}/");
    let at = response.href.find(&marker)?;
    let rest = response.href[at + marker.len()..].trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') || response.is_collection() {
        return None;
    }
    let version_id = last_segment(&response.href);
    let revision = version_id.parse::<i64>().ok();
    let saved = response
        .prop_text(NS_DAV, "getlastmodified")
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
        .map(|d| d.timestamp())
        .or(revision);
    Some(FileVersion {
        saved_at: saved
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        size: response
            .prop_text(NS_DAV, "getcontentlength")
            .and_then(|s| s.parse().ok()),
        content_type: response
            .prop_text(NS_DAV, "getcontenttype")
            .map(str::to_owned),
        label: response
            .prop_text(NS_NEXTCLOUD, "version-label")
            .map(str::to_owned),
        author: response
            .prop_text(NS_NEXTCLOUD, "version-author")
            .map(str::to_owned),
        current: revision.is_some() && revision == current_mtime,
        version_id,
    })
}

/// A version id is a revision id: digits.
fn check_version(version_id: &str) -> Result<&str, NcError> {
    let id = version_id.trim();
    if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NcError::InvalidInput(
            "version_id must be one version's version_id from files_versions_list".into(),
        ));
    }
    Ok(id)
}

impl Session<'_> {
    fn versions_url(&self, rest: &str) -> Result<url::Url, NcError> {
        self.url(&format!(
            "remote.php/dav/versions/{}/{rest}",
            self.user_segment()?
        ))
    }

    /// The versions of the file with this id, newest first. `current_mtime` (unix) marks the
    /// current one.
    pub async fn versions_list(
        &self,
        file_id: u64,
        current_mtime: Option<i64>,
    ) -> Result<Vec<FileVersion>, NcError> {
        let request = self.dav_xml_request(
            "PROPFIND",
            self.versions_url(&format!("versions/{file_id}/"))?,
            Some("1"),
            VERSIONS_PROPFIND.into(),
        )?;
        let responses = self
            .dav_multistatus(API, request, |status| match status {
                StatusCode::NOT_FOUND => NcError::NotFound(
                    "Nextcloud keeps no versions of it (a folder has none; or the \
                     files_versions app is off)"
                        .into(),
                ),
                s => unexpected(s),
            })
            .await?;
        let mut versions: Vec<FileVersion> = responses
            .iter()
            .filter(|r| !r.props.is_empty())
            .filter_map(|r| file_version(file_id, r, current_mtime))
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.version_id.parse::<u64>().unwrap_or(0)));
        Ok(versions)
    }

    /// Makes a version the file's content again.
    pub async fn version_restore(&self, file_id: u64, version_id: &str) -> Result<(), NcError> {
        let id = check_version(version_id)?;
        let request = self
            .request(
                super::dav::dav_method("MOVE")?,
                self.versions_url(&format!("versions/{file_id}/{id}"))?,
            )
            .header("Destination", self.versions_url("restore/target")?.as_str());
        let response = self.send(API, request).await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(NcError::NotFound(format!(
                "the file has no version \"{id}\" (list them with files_versions_list)"
            ))),
            s => Err(unexpected(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nextcloud::xml::parse_multistatus;

    /// A Nextcloud 32 listing: the collection, the current content, an older labelled one.
    const LISTING: &str = r#"<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
 <d:response><d:href>/remote.php/dav/versions/alice/versions/42/</d:href>
  <d:propstat><d:prop><d:getcontentlength/><nc:version-label/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
 </d:response>
 <d:response><d:href>/remote.php/dav/versions/alice/versions/42/1764950100</d:href>
  <d:propstat><d:prop><d:getcontentlength>9</d:getcontentlength><d:getcontenttype>text/markdown</d:getcontenttype><d:getlastmodified>Fri, 05 Dec 2025 15:55:00 GMT</d:getlastmodified><nc:version-label></nc:version-label><nc:version-author>alice</nc:version-author></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
 </d:response>
 <d:response><d:href>/remote.php/dav/versions/alice/versions/42/1764950000</d:href>
  <d:propstat><d:prop><d:getcontentlength>2</d:getcontentlength><d:getcontenttype>text/markdown</d:getcontenttype><d:getlastmodified>Fri, 05 Dec 2025 15:53:20 GMT</d:getlastmodified><nc:version-label>Erster Entwurf</nc:version-label></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
  <d:propstat><d:prop><nc:version-author/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
 </d:response>
</d:multistatus>"#;

    #[test]
    fn versions_are_read_and_the_current_one_marked() {
        let responses = parse_multistatus(LISTING).unwrap();
        let versions: Vec<FileVersion> = responses
            .iter()
            .filter_map(|r| file_version(42, r, Some(1764950100)))
            .collect();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0].version_id, "1764950100");
        assert!(versions[0].current);
        assert_eq!(versions[0].label, None, "an empty label is no label");
        assert_eq!(versions[0].author.as_deref(), Some("alice"));
        assert_eq!(versions[1].version_id, "1764950000");
        assert!(!versions[1].current);
        assert_eq!(versions[1].label.as_deref(), Some("Erster Entwurf"));
        assert_eq!(
            versions[1].saved_at.as_deref(),
            Some("2025-12-05T15:53:20Z")
        );
        assert_eq!(versions[1].size, Some(2));
        assert_eq!(versions[1].author, None);
    }

    #[test]
    fn versions_of_another_file_are_ignored() {
        let responses = parse_multistatus(LISTING).unwrap();
        assert!(responses.iter().all(|r| file_version(4, r, None).is_none()));
    }

    #[test]
    fn version_ids_are_digits() {
        assert_eq!(check_version(" 1764950000 ").unwrap(), "1764950000");
        for bad in ["", "abc", "1/2", "../1", "123456789012345678901"] {
            assert!(check_version(bad).is_err(), "{bad:?}");
        }
    }
}
