//! What calendars (CalDAV) and address books (CardDAV) have in common: a collection of
//! groupware objects below the user's home, each object named `<uid>.<ext>` by most clients,
//! found by UID (by that name, else by a UID REPORT), written and deleted conditionally on its
//! ETag. One implementation, described for each protocol by a [`Collections`] value.

use reqwest::StatusCode;
use url::Url;

use super::dav::{unexpected, DavObject, ObjectKind};
use super::paths::{encode_segment, last_segment, validate_name};
use super::xml::DavResponse;
use super::{NcError, Session};

/// How an object is read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// As the server sends it (iCalendar: sabre sends what is stored).
    AsSent,
    /// As it is stored, not as the server converts it (vCards: see `Session::card_stored`).
    Stored,
}

/// One kind of collection.
pub struct Collections {
    pub object: ObjectKind,
    /// The user's collections below `remote.php/dav/`: `calendars`, `addressbooks/users`.
    pub home: &'static str,
    /// The extension of object names (`ics`, `vcf`).
    pub extension: &'static str,
    /// The collection's id as messages name it (`the calendar id`).
    pub id_label: &'static str,
    /// An object's file name as messages name it (`the event file name`).
    pub name_label: &'static str,
    /// The collection in messages (`calendar`, `address book`).
    pub noun: &'static str,
    /// Where a model lists the collections (`list them with calendar_list_calendars`).
    pub list_hint: &'static str,
    /// Where a model finds objects (`find events with calendar_list_events`).
    pub find_hint: &'static str,
    /// The REPORT body finding objects by UID.
    pub uid_query: fn(&str) -> String,
    /// The object in one REPORT answer.
    pub object_of: fn(&DavResponse) -> Option<DavObject>,
    /// Whether an object's text holds the object with this UID.
    pub holds_uid: fn(&str, &str) -> bool,
    pub read: Read,
}

impl Collections {
    pub fn not_found(&self, id: &str) -> NcError {
        NcError::NotFound(format!(
            "there is no {} with id \"{id}\" ({})",
            self.noun, self.list_hint
        ))
    }

    pub fn object_not_found(&self, id: &str, uid: &str) -> NcError {
        NcError::NotFound(format!(
            "there is no {} with uid \"{uid}\" in {} \"{id}\" ({})",
            self.object.noun, self.noun, self.find_hint
        ))
    }
}

impl Session<'_> {
    /// The URL of the user's collections of this kind.
    pub fn collections_home(&self, kind: &Collections) -> Result<Url, NcError> {
        self.url(&format!(
            "remote.php/dav/{}/{}/",
            kind.home,
            self.user_segment()?
        ))
    }

    pub fn collection_url(&self, kind: &Collections, id: &str) -> Result<Url, NcError> {
        validate_name(id, kind.id_label)?;
        self.url(&format!(
            "remote.php/dav/{}/{}/{}/",
            kind.home,
            self.user_segment()?,
            encode_segment(id)
        ))
    }

    pub fn object_url(&self, kind: &Collections, id: &str, name: &str) -> Result<Url, NcError> {
        // Both are single segments: an id of `.` or `..` would otherwise be resolved away by
        // the URL parser and leave the user's collection.
        validate_name(id, kind.id_label)?;
        validate_name(name, kind.name_label)?;
        self.url(&format!(
            "remote.php/dav/{}/{}/{}/{}",
            kind.home,
            self.user_segment()?,
            encode_segment(id),
            encode_segment(name)
        ))
    }

    /// One object by name, read as the kind says; `None` if there is none.
    pub async fn get_object(
        &self,
        kind: &Collections,
        id: &str,
        name: &str,
    ) -> Result<Option<DavObject>, NcError> {
        match kind.read {
            Read::AsSent => {
                let url = self.object_url(kind, id, name)?;
                self.dav_get_object(&kind.object, url, name).await
            }
            Read::Stored => self.card_stored(kind, id, name).await,
        }
    }

    /// The object holding `uid`: `<uid>.<ext>` (as this server and most clients name them),
    /// else found by a UID REPORT and then read by its name (its bytes as stored).
    pub async fn find_object(
        &self,
        kind: &Collections,
        id: &str,
        uid: &str,
    ) -> Result<DavObject, NcError> {
        let direct = format!("{uid}.{}", kind.extension);
        if validate_name(&direct, "uid").is_ok() {
            if let Some(object) = self.get_object(kind, id, &direct).await? {
                if (kind.holds_uid)(&object.data, uid) {
                    return Ok(object);
                }
            }
        }
        let url = self.collection_url(kind, id)?;
        let request = self.dav_xml_request("REPORT", url, Some("1"), (kind.uid_query)(uid))?;
        let responses = self
            .dav_multistatus(kind.object.api, request, |status| match status {
                StatusCode::NOT_FOUND => kind.not_found(id),
                s => unexpected(s),
            })
            .await?;
        let found = responses
            .iter()
            .filter_map(kind.object_of)
            .find(|o| (kind.holds_uid)(&o.data, uid))
            .ok_or_else(|| kind.object_not_found(id, uid))?;
        // Read by name even for `Read::AsSent`: the REPORT carries the data inside XML, whose
        // parser turns every CRLF into LF (XML 1.0 §2.11), so an edit written back from it would
        // change every line end of the object.
        self.get_object(kind, id, &found.name)
            .await?
            .ok_or_else(|| kind.object_not_found(id, uid))
    }

    /// Stores an object; `if_match` `None` means create only. Returns the new ETag if known.
    pub async fn put_object(
        &self,
        kind: &Collections,
        id: &str,
        name: &str,
        data: String,
        if_match: Option<&str>,
    ) -> Result<Option<String>, NcError> {
        let url = self.object_url(kind, id, name)?;
        self.dav_put_object(&kind.object, url, name, data, if_match, || {
            kind.not_found(id)
        })
        .await
    }

    /// Deletes the object `name`; `etag` makes it conditional. `false` if it was gone.
    pub async fn delete_object(
        &self,
        kind: &Collections,
        id: &str,
        name: &str,
        etag: Option<&str>,
    ) -> Result<bool, NcError> {
        let url = self.object_url(kind, id, name)?;
        self.dav_delete_object(&kind.object, url, etag).await
    }
}

impl Session<'_> {
    /// Deletes the object holding `uid` (tried as `<uid>.<ext>` first, as most clients name
    /// it, else found by UID); `etag` makes it conditional.
    pub async fn delete_by_uid(
        &self,
        kind: &Collections,
        id: &str,
        uid: &str,
        etag: Option<&str>,
    ) -> Result<(), NcError> {
        let direct = format!("{uid}.{}", kind.extension);
        if !uid.contains('/') && self.delete_object(kind, id, &direct, etag).await? {
            return Ok(());
        }
        let object = self.find_object(kind, id, uid).await?;
        if !self.delete_object(kind, id, &object.name, etag).await? {
            return Err(NcError::NotFound(format!(
                "{} {uid} was deleted in the meantime",
                kind.object.noun
            )));
        }
        Ok(())
    }
}

/// The object in a REPORT answer whose data is in property `{ns}name`.
pub fn object_in(response: &DavResponse, ns: &str, name: &str) -> Option<DavObject> {
    Some(DavObject {
        name: last_segment(&response.href),
        etag: response.etag(),
        data: response.prop(ns, name)?.text.clone(),
    })
}
