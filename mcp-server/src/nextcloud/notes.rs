//! Nextcloud Notes API v1 (`/index.php/apps/notes/api/v1/notes`). Updates carry the note's
//! ETag in `If-Match`: a note changed by someone else since it was read is a conflict the
//! model sees, never a silent overwrite.

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use super::{quote_etag, unquote_etag, NcAuth, NcError, Nextcloud};

const NOTES: &str = "index.php/apps/notes/api/v1/notes";

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Note {
    pub id: i64,
    #[serde(default)]
    pub etag: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub favorite: bool,
    #[serde(default)]
    pub modified: i64,
    #[serde(default)]
    pub readonly: bool,
}

/// Fields of a create or update; `None` leaves a field as it is.
#[derive(Debug, Default, Serialize)]
pub struct NoteChanges {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub favorite: Option<bool>,
}

fn not_found(id: i64) -> NcError {
    NcError::NotFound(format!(
        "there is no note with id {id} (list or search notes to find ids)"
    ))
}

async fn read_note(response: reqwest::Response) -> Result<Note, NcError> {
    let header_etag = response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(unquote_etag);
    let mut note: Note = response
        .json()
        .await
        .map_err(|_| NcError::BadResponse("the note is not JSON".into()))?;
    if note.etag.is_empty() {
        if let Some(e) = header_etag {
            note.etag = e;
        }
    }
    note.etag = unquote_etag(&note.etag);
    Ok(note)
}

impl Nextcloud {
    /// All notes; `category` filters, `with_content` false leaves content out (cheaper).
    pub async fn notes_list(
        &self,
        auth: &NcAuth,
        category: Option<&str>,
        with_content: bool,
    ) -> Result<Vec<Note>, NcError> {
        let mut url = self.url(NOTES)?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(c) = category {
                q.append_pair("category", c);
            }
            if !with_content {
                q.append_pair("exclude", "content");
            }
        }
        let response = self
            .send("notes", self.request(auth, Method::GET, url))
            .await?;
        match response.status() {
            s if s.is_success() => response
                .json()
                .await
                .map_err(|_| NcError::BadResponse("the note list is not JSON".into())),
            StatusCode::NOT_FOUND => Err(NcError::NotFound(
                "the Notes app is not installed or enabled on this Nextcloud".into(),
            )),
            s => Err(NcError::BadResponse(format!("HTTP {}", s.as_u16()))),
        }
    }

    pub async fn notes_get(&self, auth: &NcAuth, id: i64) -> Result<Note, NcError> {
        let url = self.url(&format!("{NOTES}/{id}"))?;
        let response = self
            .send("notes", self.request(auth, Method::GET, url))
            .await?;
        match response.status() {
            s if s.is_success() => read_note(response).await,
            StatusCode::NOT_FOUND => Err(not_found(id)),
            s => Err(NcError::BadResponse(format!("HTTP {}", s.as_u16()))),
        }
    }

    pub async fn notes_create(&self, auth: &NcAuth, note: &NoteChanges) -> Result<Note, NcError> {
        let url = self.url(NOTES)?;
        let response = self
            .send("notes", self.request(auth, Method::POST, url).json(note))
            .await?;
        match response.status() {
            s if s.is_success() => read_note(response).await,
            StatusCode::BAD_REQUEST => Err(NcError::InvalidInput(
                "Nextcloud refused the note (check title and category)".into(),
            )),
            s => Err(NcError::BadResponse(format!("HTTP {}", s.as_u16()))),
        }
    }

    /// Updates note `id` only if it still has `etag`.
    pub async fn notes_update(
        &self,
        auth: &NcAuth,
        id: i64,
        etag: &str,
        changes: &NoteChanges,
    ) -> Result<Note, NcError> {
        let url = self.url(&format!("{NOTES}/{id}"))?;
        let request = self
            .request(auth, Method::PUT, url)
            .header(reqwest::header::IF_MATCH, quote_etag(etag))
            .json(changes);
        let response = self.send("notes", request).await?;
        match response.status() {
            s if s.is_success() => read_note(response).await,
            StatusCode::PRECONDITION_FAILED => Err(NcError::Conflict(format!(
                "note {id} was changed since it was read (its ETag is no longer {etag}); \
                 get the note again, merge the changes and retry with the new ETag"
            ))),
            StatusCode::NOT_FOUND => Err(not_found(id)),
            StatusCode::BAD_REQUEST => {
                Err(NcError::InvalidInput("Nextcloud refused the change".into()))
            }
            s => Err(NcError::BadResponse(format!("HTTP {}", s.as_u16()))),
        }
    }

    pub async fn notes_delete(&self, auth: &NcAuth, id: i64) -> Result<(), NcError> {
        let url = self.url(&format!("{NOTES}/{id}"))?;
        let response = self
            .send("notes", self.request(auth, Method::DELETE, url))
            .await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(not_found(id)),
            s => Err(NcError::BadResponse(format!("HTTP {}", s.as_u16()))),
        }
    }
}
