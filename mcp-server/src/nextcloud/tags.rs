//! Collaborative (system) tags and favourites over WebDAV, as Nextcloud's web interface uses
//! them: `remote.php/dav/systemtags/` (all tags; POST JSON creates one,
//! `apps/dav/lib/SystemTag/SystemTagPlugin.php`), `systemtags-relations/files/{fileid}/{tagid}`
//! (PUT assigns, DELETE unassigns: `SystemTagsObjectMappingCollection.php`,
//! `SystemTagMappingNode.php`), and the `oc:favorite` property of files (PROPPATCH,
//! `apps/dav/lib/Connector/Sabre/TagsPlugin.php`).

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde::Serialize;

use super::dav::{read_text, unexpected};
use super::paths::{encode_path, last_segment, normalize_path};
use super::xml::{parse_multistatus, DavResponse, NS_OWNCLOUD};
use super::{NcError, Session};

const API: &str = "systemtags";

const TAGS_PROPFIND: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
  <d:prop>
    <oc:id/>
    <oc:display-name/>
    <oc:user-visible/>
    <oc:user-assignable/>
    <oc:can-assign/>
  </d:prop>
</d:propfind>"#;

/// A collaborative tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SystemTag {
    pub id: String,
    pub name: String,
    /// Whether the user may put it on files or take it off.
    pub can_assign: bool,
    /// false: only administrators see it (they alone get such tags listed).
    pub user_visible: bool,
}

/// A tag from one `DAV:response` (`None` for the collection itself).
pub fn system_tag(response: &DavResponse) -> Option<SystemTag> {
    let id = response
        .prop_text(NS_OWNCLOUD, "id")
        .map(str::to_owned)
        .unwrap_or_else(|| last_segment(&response.href));
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let flag = |name: &str| response.prop_text(NS_OWNCLOUD, name) == Some("true");
    Some(SystemTag {
        name: response
            .prop(NS_OWNCLOUD, "display-name")
            .map(|p| p.text.clone())
            .unwrap_or_default(),
        can_assign: flag("can-assign"),
        user_visible: response.prop_text(NS_OWNCLOUD, "user-visible") != Some("false"),
        id,
    })
}

/// The tag whose name is `name`: exactly, else the only one equal ignoring case.
pub fn find_tag<'a>(tags: &'a [SystemTag], name: &str) -> Result<Option<&'a SystemTag>, NcError> {
    let name = name.trim();
    if let Some(tag) = tags.iter().find(|t| t.name == name) {
        return Ok(Some(tag));
    }
    let lower = name.to_lowercase();
    let mut same = tags.iter().filter(|t| t.name.to_lowercase() == lower);
    match (same.next(), same.next()) {
        (Some(tag), None) => Ok(Some(tag)),
        (Some(_), Some(_)) => Err(NcError::InvalidInput(format!(
            "several tags are named \"{name}\" in different case; give the exact name"
        ))),
        _ => Ok(None),
    }
}

impl Session<'_> {
    async fn tags_propfind(&self, path: &str, missing: NcError) -> Result<Vec<SystemTag>, NcError> {
        let request =
            self.dav_xml_request("PROPFIND", self.url(path)?, Some("1"), TAGS_PROPFIND.into())?;
        let responses = self
            .dav_multistatus(API, request, |status| match status {
                StatusCode::NOT_FOUND => missing,
                s => unexpected(s),
            })
            .await?;
        let mut tags: Vec<SystemTag> = responses
            .iter()
            .filter(|r| !r.props.is_empty())
            .filter_map(system_tag)
            .collect();
        tags.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.id.cmp(&b.id))
        });
        Ok(tags)
    }

    /// Every tag the user can see.
    pub async fn tags_all(&self) -> Result<Vec<SystemTag>, NcError> {
        self.tags_propfind(
            "remote.php/dav/systemtags/",
            NcError::Unavailable("this Nextcloud has no collaborative tags".into()),
        )
        .await
    }

    /// The tags on the file or folder with this id.
    pub async fn tags_of(&self, file_id: u64) -> Result<Vec<SystemTag>, NcError> {
        self.tags_propfind(
            &format!("remote.php/dav/systemtags-relations/files/{file_id}/"),
            NcError::NotFound("the file is not available for tagging".into()),
        )
        .await
    }

    /// Creates a tag everybody sees and may assign; its id.
    pub async fn tag_create(&self, name: &str) -> Result<String, NcError> {
        let body = serde_json::json!({"name": name, "userVisible": true, "userAssignable": true});
        let request = self
            .request(Method::POST, self.url("remote.php/dav/systemtags/")?)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        let response = self
            .send_allowing(API, request, &[StatusCode::FORBIDDEN])
            .await?;
        match response.status() {
            StatusCode::CREATED => {
                let location = response
                    .headers()
                    .get("content-location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let id = last_segment(location);
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(NcError::BadResponse(
                        "the new tag's Content-Location names no id".into(),
                    ));
                }
                Ok(id)
            }
            StatusCode::CONFLICT => Err(NcError::AlreadyExists(format!(
                "a tag named \"{name}\" exists but is not visible to the user"
            ))),
            StatusCode::FORBIDDEN => Err(NcError::Forbidden(
                "only administrators may create tags on this Nextcloud".into(),
            )),
            StatusCode::BAD_REQUEST => Err(NcError::InvalidInput(format!(
                "Nextcloud refused the tag name \"{name}\""
            ))),
            s => Err(unexpected(s)),
        }
    }

    /// Puts a tag on a file or folder; false if it was already there.
    pub async fn tag_assign(&self, file_id: u64, tag: &SystemTag) -> Result<bool, NcError> {
        let url = self.url(&format!(
            "remote.php/dav/systemtags-relations/files/{file_id}/{}",
            tag.id
        ))?;
        let response = self
            .send_allowing(
                API,
                self.request(Method::PUT, url),
                &[StatusCode::FORBIDDEN],
            )
            .await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::CONFLICT => Ok(false),
            StatusCode::FORBIDDEN => Err(NcError::Forbidden(format!(
                "the tag \"{}\" is restricted: the user may not assign it",
                tag.name
            ))),
            StatusCode::PRECONDITION_FAILED | StatusCode::NOT_FOUND => Err(NcError::NotFound(
                format!("the tag \"{}\" or the file is gone", tag.name),
            )),
            s => Err(unexpected(s)),
        }
    }

    /// Takes a tag off a file or folder; false if it was not there.
    pub async fn tag_unassign(&self, file_id: u64, tag: &SystemTag) -> Result<bool, NcError> {
        let url = self.url(&format!(
            "remote.php/dav/systemtags-relations/files/{file_id}/{}",
            tag.id
        ))?;
        let response = self
            .send_allowing(
                API,
                self.request(Method::DELETE, url),
                &[StatusCode::FORBIDDEN],
            )
            .await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            StatusCode::FORBIDDEN => Err(NcError::Forbidden(format!(
                "the tag \"{}\" is restricted: the user may not remove it",
                tag.name
            ))),
            s => Err(unexpected(s)),
        }
    }

    /// Marks a file or folder as a favourite, or unmarks it (PROPPATCH `oc:favorite`).
    pub async fn favorite_set(&self, path: &str, favorite: bool) -> Result<(), NcError> {
        let normalized = normalize_path(path)?;
        let url = self.url(&format!(
            "remote.php/dav/files/{}/{}",
            self.user_segment()?,
            encode_path(&normalized)?
        ))?;
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<d:propertyupdate xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:set><d:prop><oc:favorite>{}</oc:favorite></d:prop></d:set></d:propertyupdate>"#,
            u8::from(favorite)
        );
        let request = self.dav_xml_request("PROPPATCH", url, None, body)?;
        let response = self.send("files", request).await?;
        match response.status() {
            StatusCode::MULTI_STATUS => {
                let text = read_text(response, "WebDAV answer").await?;
                let responses = parse_multistatus(&text)?;
                if responses
                    .iter()
                    .any(|r| r.prop(NS_OWNCLOUD, "favorite").is_some())
                {
                    Ok(())
                } else {
                    Err(NcError::BadResponse(
                        "Nextcloud did not accept the favourite mark".into(),
                    ))
                }
            }
            StatusCode::NOT_FOUND => Err(NcError::NotFound(format!(
                "there is no file or folder at \"{normalized}\" (list the parent folder with \
                 files_list or search with files_find)"
            ))),
            s => Err(unexpected(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = r#"<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
 <d:response><d:href>/remote.php/dav/systemtags/</d:href>
  <d:propstat><d:prop><oc:id/><oc:display-name/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
 </d:response>
 <d:response><d:href>/remote.php/dav/systemtags/3</d:href>
  <d:propstat><d:prop><oc:id>3</oc:id><oc:display-name>Rechnung 2025</oc:display-name><oc:user-visible>true</oc:user-visible><oc:user-assignable>false</oc:user-assignable><oc:can-assign>false</oc:can-assign></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
 </d:response>
 <d:response><d:href>/remote.php/dav/systemtags/12</d:href>
  <d:propstat><d:prop><oc:id>12</oc:id><oc:display-name>urgent</oc:display-name><oc:user-visible>true</oc:user-visible><oc:user-assignable>true</oc:user-assignable><oc:can-assign>true</oc:can-assign></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
 </d:response>
</d:multistatus>"#;

    fn tags() -> Vec<SystemTag> {
        parse_multistatus(LISTING)
            .unwrap()
            .iter()
            .filter(|r| !r.props.is_empty())
            .filter_map(system_tag)
            .collect()
    }

    #[test]
    fn tags_are_read_from_a_listing() {
        let tags = tags();
        assert_eq!(
            tags,
            vec![
                SystemTag {
                    id: "3".into(),
                    name: "Rechnung 2025".into(),
                    can_assign: false,
                    user_visible: true
                },
                SystemTag {
                    id: "12".into(),
                    name: "urgent".into(),
                    can_assign: true,
                    user_visible: true
                },
            ]
        );
    }

    #[test]
    fn tags_are_found_by_name() {
        let tags = tags();
        assert_eq!(find_tag(&tags, "urgent").unwrap().unwrap().id, "12");
        assert_eq!(find_tag(&tags, " URGENT ").unwrap().unwrap().id, "12");
        assert!(find_tag(&tags, "Rechnung").unwrap().is_none());
        let mut twice = tags.clone();
        twice.push(SystemTag {
            id: "13".into(),
            name: "Urgent".into(),
            can_assign: true,
            user_visible: true,
        });
        assert_eq!(find_tag(&twice, "Urgent").unwrap().unwrap().id, "13");
        assert!(find_tag(&twice, "URGENT").is_err());
    }
}
