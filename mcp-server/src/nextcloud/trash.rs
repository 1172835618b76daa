//! The trash bin over WebDAV (`remote.php/dav/trashbin/{user}/trash`, the files_trashbin app:
//! `apps/files_trashbin/lib/Sabre/`). An item is named `<name>.d<deletion time>`; restoring is
//! a MOVE to `trashbin/{user}/restore/<item>`, deleting for good a DELETE (of the item, or of
//! `trash` itself to empty it).

use reqwest::{Method, StatusCode};
use serde::Serialize;

use super::dav::unexpected;
use super::paths::{encode_segment, last_segment};
use super::xml::{DavResponse, NS_DAV, NS_OWNCLOUD};
use super::{NcError, Session};

const API: &str = "trashbin";
const NS_NEXTCLOUD: &str = "http://nextcloud.org/ns";

const TRASH_PROPFIND: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
  <d:prop>
    <nc:trashbin-filename/>
    <nc:trashbin-original-location/>
    <nc:trashbin-deletion-time/>
    <nc:trashbin-deleted-by-id/>
    <d:resourcetype/>
    <d:getcontentlength/>
    <d:getcontenttype/>
    <oc:size/>
    <oc:fileid/>
  </d:prop>
</d:propfind>"#;

/// One item of the trash bin.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TrashItem {
    /// What files_trash_restore and files_trash_delete take (`<name>.d<deletion time>`).
    pub trash_id: String,
    /// The name it had.
    pub name: String,
    /// Where it was, relative to the root of the user's files.
    pub original_path: String,
    /// When it was deleted (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    /// Bytes (a folder: everything in it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    pub is_folder: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The user who deleted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<String>,
    /// Its file id (kept when it is restored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_id: Option<u64>,
}

impl TrashItem {
    /// The deletion time in the item's name (`….d1712345678`), for ordering.
    pub fn deletion_time(trash_id: &str) -> Option<i64> {
        trash_id.rsplit_once(".d")?.1.parse().ok()
    }
}

/// A trash item from one `DAV:response` of the trash listing (`None` for the `trash`
/// collection itself and for anything that is not an item).
pub fn trash_item(user: &str, response: &DavResponse) -> Option<TrashItem> {
    let marker = format!("/trashbin/{user}/trash/");
    let at = response.href.find(&marker)?;
    let rest = response.href[at + marker.len()..].trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') {
        return None;
    }
    let trash_id = last_segment(&response.href);
    let name = response
        .prop_text(NS_NEXTCLOUD, "trashbin-filename")
        .map(str::to_owned)
        .unwrap_or_else(|| {
            trash_id
                .rsplit_once(".d")
                .map_or(trash_id.clone(), |(n, _)| n.to_owned())
        });
    let deleted = response
        .prop_text(NS_NEXTCLOUD, "trashbin-deletion-time")
        .and_then(|t| t.parse::<i64>().ok())
        .or_else(|| TrashItem::deletion_time(&trash_id));
    let is_folder = response.is_collection();
    Some(TrashItem {
        original_path: response
            .prop_text(NS_NEXTCLOUD, "trashbin-original-location")
            .map(|p| p.trim_matches('/').to_owned())
            .unwrap_or_else(|| name.clone()),
        deleted_at: deleted
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        size: response
            .prop_text(NS_OWNCLOUD, "size")
            .or_else(|| response.prop_text(NS_DAV, "getcontentlength"))
            .and_then(|s| s.parse().ok()),
        content_type: if is_folder {
            None
        } else {
            response
                .prop_text(NS_DAV, "getcontenttype")
                .map(str::to_owned)
        },
        deleted_by: response
            .prop_text(NS_NEXTCLOUD, "trashbin-deleted-by-id")
            .map(str::to_owned),
        file_id: response
            .prop_text(NS_OWNCLOUD, "fileid")
            .and_then(|s| s.parse().ok()),
        is_folder,
        name,
        trash_id,
    })
}

/// A trash id must be one name (it becomes one URL segment).
fn check_id(trash_id: &str) -> Result<&str, NcError> {
    let id = trash_id.trim();
    if id.is_empty()
        || id == "."
        || id == ".."
        || id.contains('/')
        || id.chars().any(char::is_control)
        || id.len() > 1000
    {
        return Err(NcError::InvalidInput(
            "trash_id must be one item's trash_id from files_trash_list".into(),
        ));
    }
    Ok(id)
}

fn not_in_trash(trash_id: &str) -> NcError {
    NcError::NotFound(format!(
        "there is no item \"{trash_id}\" in the trash bin (list it with files_trash_list)"
    ))
}

impl Session<'_> {
    fn trash_url(&self, folder: &str, item: Option<&str>) -> Result<url::Url, NcError> {
        let mut path = format!("remote.php/dav/trashbin/{}/{folder}/", self.user_segment()?);
        if let Some(item) = item {
            path.push_str(&encode_segment(item));
        }
        self.url(&path)
    }

    /// Everything in the trash bin (PROPFIND Depth 1).
    pub async fn trash_list(&self) -> Result<Vec<TrashItem>, NcError> {
        let request = self.dav_xml_request(
            "PROPFIND",
            self.trash_url("trash", None)?,
            Some("1"),
            TRASH_PROPFIND.into(),
        )?;
        let responses = self
            .dav_multistatus(API, request, |status| match status {
                StatusCode::NOT_FOUND => NcError::NotFound(
                    "this Nextcloud has no trash bin for the user (the files_trashbin app is \
                     off)"
                        .into(),
                ),
                s => unexpected(s),
            })
            .await?;
        Ok(responses
            .iter()
            .filter(|r| !r.props.is_empty())
            .filter_map(|r| trash_item(&self.user, r))
            .collect())
    }

    /// Restores an item to where it was (Nextcloud picks the root folder when that folder is
    /// gone, and appends " (restored)" when the name is taken).
    pub async fn trash_restore(&self, trash_id: &str) -> Result<(), NcError> {
        let id = check_id(trash_id)?;
        let request = self
            .request(
                super::dav::dav_method("MOVE")?,
                self.trash_url("trash", Some(id))?,
            )
            .header("Destination", self.trash_url("restore", Some(id))?.as_str())
            .header("Overwrite", "F");
        let response = self.send(API, request).await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(not_in_trash(id)),
            s => Err(unexpected(s)),
        }
    }

    /// Deletes one item for good, or (`None`) empties the trash bin.
    pub async fn trash_delete(&self, trash_id: Option<&str>) -> Result<(), NcError> {
        let id = trash_id.map(check_id).transpose()?;
        let request = self.request(Method::DELETE, self.trash_url("trash", id)?);
        let response = self.send(API, request).await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(id.map_or_else(
                || NcError::NotFound("this Nextcloud has no trash bin for the user".into()),
                not_in_trash,
            )),
            s => Err(unexpected(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nextcloud::xml::parse_multistatus;

    /// A Nextcloud 32 answer (TrashbinPlugin): the collection, a folder and a file.
    const LISTING: &str = r#"<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
 <d:response><d:href>/remote.php/dav/trashbin/alice/trash/</d:href>
  <d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
  <d:propstat><d:prop><nc:trashbin-filename/><oc:fileid/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
 </d:response>
 <d:response><d:href>/remote.php/dav/trashbin/alice/trash/Projekte%20%C3%9Cbersicht.d1764950000/</d:href>
  <d:propstat><d:prop><nc:trashbin-filename>Projekte Übersicht</nc:trashbin-filename><nc:trashbin-original-location>Arbeit/Projekte Übersicht</nc:trashbin-original-location><nc:trashbin-deletion-time>1764950000</nc:trashbin-deletion-time><nc:trashbin-deleted-by-id>alice</nc:trashbin-deleted-by-id><d:resourcetype><d:collection/></d:resourcetype><oc:size>2048</oc:size><oc:fileid>17</oc:fileid></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
  <d:propstat><d:prop><d:getcontentlength/><d:getcontenttype/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
 </d:response>
 <d:response><d:href>/remote.php/dav/trashbin/alice/trash/a.d1.txt.d1764950100</d:href>
  <d:propstat><d:prop><nc:trashbin-filename>a.d1.txt</nc:trashbin-filename><nc:trashbin-original-location>a.d1.txt</nc:trashbin-original-location><nc:trashbin-deletion-time>1764950100</nc:trashbin-deletion-time><d:resourcetype/><d:getcontentlength>5</d:getcontentlength><d:getcontenttype>text/plain</d:getcontenttype><oc:size>5</oc:size><oc:fileid>9</oc:fileid></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
 </d:response>
</d:multistatus>"#;

    #[test]
    fn trash_items_are_read_from_a_listing() {
        let responses = parse_multistatus(LISTING).unwrap();
        let items: Vec<TrashItem> = responses
            .iter()
            .filter_map(|r| trash_item("alice", r))
            .collect();
        assert_eq!(items.len(), 2, "the trash collection itself is no item");
        let folder = &items[0];
        assert_eq!(folder.trash_id, "Projekte Übersicht.d1764950000");
        assert_eq!(folder.name, "Projekte Übersicht");
        assert_eq!(folder.original_path, "Arbeit/Projekte Übersicht");
        assert!(folder.is_folder);
        assert_eq!(folder.size, Some(2048));
        assert_eq!(folder.content_type, None);
        assert_eq!(folder.deleted_at.as_deref(), Some("2025-12-05T15:53:20Z"));
        assert_eq!(folder.deleted_by.as_deref(), Some("alice"));
        assert_eq!(folder.file_id, Some(17));
        let file = &items[1];
        assert_eq!(file.name, "a.d1.txt");
        assert!(!file.is_folder);
        assert_eq!(file.content_type.as_deref(), Some("text/plain"));
        assert_eq!(TrashItem::deletion_time(&file.trash_id), Some(1764950100));
    }

    #[test]
    fn items_of_another_user_or_inside_folders_are_not_items() {
        let body = LISTING.replace("/trashbin/alice/", "/trashbin/bob/");
        let responses = parse_multistatus(&body).unwrap();
        assert!(responses.iter().all(|r| trash_item("alice", r).is_none()));
        let nested = LISTING.replace(
            "trash/a.d1.txt.d1764950100",
            "trash/Projekte.d1/a.d1.txt.d1764950100",
        );
        let responses = parse_multistatus(&nested).unwrap();
        assert_eq!(
            responses
                .iter()
                .filter_map(|r| trash_item("alice", r))
                .count(),
            1
        );
    }

    #[test]
    fn trash_ids_are_one_segment() {
        assert!(check_id("a.txt.d1").is_ok());
        for bad in ["", " ", "..", "a/b.d1", "a\nb"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }
}
