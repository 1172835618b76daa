//! Nextcloud's share API (files_sharing OCS, `/ocs/v2.php/apps/files_sharing/api/v1/shares`,
//! server `apps/files_sharing/lib/Controller/ShareAPIController.php`): list, create, update and
//! delete shares of the user's files. A share as `formatShare` sends it is read into [`Share`],
//! which keeps what a model needs and drops the rest — in particular the password hash, which
//! Nextcloud sends in `password` and, for public links, also in `share_with`.

use mcp_shared::Secret;
use reqwest::Method;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{NcAuth, NcError, Nextcloud};

const API: &str = "apps/files_sharing/api/v1/shares";

/// Who a share is with (`OCP\Share\IShare::TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareType {
    User,
    Group,
    Link,
    Email,
    Federated,
    Team,
    FederatedGroup,
    TalkRoom,
    Deck,
    ScienceMesh,
    Other(i64),
}

impl ShareType {
    pub fn from_code(code: i64) -> Self {
        match code {
            0 => Self::User,
            1 => Self::Group,
            3 => Self::Link,
            4 => Self::Email,
            6 => Self::Federated,
            7 => Self::Team,
            9 => Self::FederatedGroup,
            10 => Self::TalkRoom,
            12 => Self::Deck,
            15 => Self::ScienceMesh,
            other => Self::Other(other),
        }
    }

    pub fn code(self) -> i64 {
        match self {
            Self::User => 0,
            Self::Group => 1,
            Self::Link => 3,
            Self::Email => 4,
            Self::Federated => 6,
            Self::Team => 7,
            Self::FederatedGroup => 9,
            Self::TalkRoom => 10,
            Self::Deck => 12,
            Self::ScienceMesh => 15,
            Self::Other(code) => code,
        }
    }

    /// The name shown to the model.
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
            Self::Link => "link",
            Self::Email => "email",
            Self::Federated => "federated",
            Self::Team => "team",
            Self::FederatedGroup => "federated_group",
            Self::TalkRoom => "talk_room",
            Self::Deck => "deck",
            Self::ScienceMesh => "sciencemesh",
            Self::Other(_) => "other",
        }
    }

    /// Shares whose recipient is named by a user, group or address (not a link's token).
    fn has_recipient(self) -> bool {
        !matches!(self, Self::Link)
    }
}

/// One permission of a share, by name (`OCP\Constants::PERMISSION_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Open and download (1).
    Read,
    /// Change the content (2, "update").
    Edit,
    /// Add files to a shared folder (4; for a link: upload).
    Create,
    /// Delete files from a shared folder (8).
    Delete,
    /// Share it on (16).
    Share,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::Read,
        Permission::Edit,
        Permission::Create,
        Permission::Delete,
        Permission::Share,
    ];

    pub const fn bit(self) -> i64 {
        match self {
            Permission::Read => 1,
            Permission::Edit => 2,
            Permission::Create => 4,
            Permission::Delete => 8,
            Permission::Share => 16,
        }
    }
}

/// Nextcloud's permission bits for a set of names.
pub fn permission_bits(permissions: &[Permission]) -> i64 {
    permissions.iter().fold(0, |bits, p| bits | p.bit())
}

/// The names of the bits set (unknown bits are ignored).
pub fn permission_names(bits: i64) -> Vec<Permission> {
    Permission::ALL
        .into_iter()
        .filter(|p| bits & p.bit() != 0)
        .collect()
}

/// A share as the tools show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub id: String,
    pub share_type: ShareType,
    /// User-relative path without a leading slash (for a share with the user: where it
    /// appears in their files).
    pub path: String,
    /// `file` or `folder`.
    pub item_type: String,
    pub owner: String,
    /// User or group id, or e-mail address; `None` for a public link.
    pub with: Option<String>,
    pub with_name: Option<String>,
    pub permissions: i64,
    pub url: Option<String>,
    /// `YYYY-MM-DD`.
    pub expires: Option<String>,
    pub has_password: bool,
    pub label: String,
    pub note: String,
    pub hide_download: bool,
}

/// A string field, or `None` when absent, null or empty.
fn text(share: &Map<String, Value>, key: &str) -> Option<String> {
    match share.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer field that PHP may send as a number, a numeric string or a boolean.
fn int(share: &Map<String, Value>, key: &str) -> Option<i64> {
    match share.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

impl Share {
    /// Reads one share of `formatShare`'s answer.
    pub fn from_ocs(value: &Value) -> Result<Share, NcError> {
        let bad = |what: &str| NcError::BadResponse(format!("a share without {what}"));
        let share = value.as_object().ok_or_else(|| bad("an object"))?;
        let id = text(share, "id").ok_or_else(|| bad("an id"))?;
        let share_type =
            ShareType::from_code(int(share, "share_type").ok_or_else(|| bad("a type"))?);
        let with = if share_type.has_recipient() {
            text(share, "share_with")
        } else {
            None // a link's share_with is its password hash
        };
        let with_name = if share_type.has_recipient() {
            text(share, "share_with_displayname")
        } else {
            None // "(Shared link)"
        };
        let has_password = match share_type {
            ShareType::Link | ShareType::Email => text(share, "password").is_some(),
            _ => false,
        };
        Ok(Share {
            id,
            share_type,
            path: text(share, "path")
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            item_type: text(share, "item_type").unwrap_or_else(|| "file".into()),
            owner: text(share, "uid_owner").unwrap_or_default(),
            with,
            with_name,
            permissions: int(share, "permissions").unwrap_or(0),
            url: text(share, "url"),
            // "YYYY-MM-DD 00:00:00" → the date.
            expires: text(share, "expiration")
                .map(|e| e.split_whitespace().next().unwrap_or_default().to_owned()),
            has_password,
            label: text(share, "label").unwrap_or_default(),
            note: text(share, "note").unwrap_or_default(),
            hide_download: int(share, "hide_download").unwrap_or(0) != 0,
        })
    }
}

/// A share to create. `path` is normalised (no leading slash, see [`super::paths`]).
pub struct NewShare {
    pub path: String,
    pub share_type: ShareType,
    pub with: Option<String>,
    /// `None`: Nextcloud's default (read for links, all for users and groups).
    pub permissions: Option<i64>,
    pub password: Option<Secret>,
    /// `YYYY-MM-DD`; `None`: Nextcloud's default (none, unless the admin enforces one).
    pub expires: Option<String>,
    pub label: Option<String>,
    pub note: Option<String>,
}

/// Changes to a share; `None` leaves a field as it is.
#[derive(Default)]
pub struct ShareChanges {
    pub permissions: Option<i64>,
    /// `Some("")` removes the password.
    pub password: Option<Secret>,
    /// `Some(None)` removes the expiry date.
    pub expires: Option<Option<String>>,
    pub label: Option<String>,
    pub note: Option<String>,
    pub hide_download: Option<bool>,
}

impl ShareChanges {
    pub fn is_empty(&self) -> bool {
        self.permissions.is_none()
            && self.password.is_none()
            && self.expires.is_none()
            && self.label.is_none()
            && self.note.is_none()
            && self.hide_download.is_none()
    }
}

/// The request body of `createShare` (its parameter names; JSON, which Nextcloud's `Request`
/// reads like a form).
pub fn create_body(new: &NewShare) -> Value {
    let mut body = json!({
        "path": format!("/{}", new.path),
        "shareType": new.share_type.code(),
    });
    let fields = [
        ("shareWith", new.with.clone().map(Value::from)),
        ("permissions", new.permissions.map(Value::from)),
        (
            "password",
            new.password.as_ref().map(|p| Value::from(p.expose())),
        ),
        ("expireDate", new.expires.clone().map(Value::from)),
        ("label", new.label.clone().map(Value::from)),
        ("note", new.note.clone().map(Value::from)),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            body[key] = value;
        }
    }
    body
}

/// The request body of `updateShare`: `expireDate` `""` removes the date, `password` `""` the
/// password; booleans go as the strings `'true'`/`'false'` the controller compares with.
pub fn update_body(changes: &ShareChanges) -> Value {
    let mut body = json!({});
    if let Some(permissions) = changes.permissions {
        body["permissions"] = permissions.into();
    }
    if let Some(password) = &changes.password {
        body["password"] = password.expose().into();
    }
    if let Some(expires) = &changes.expires {
        body["expireDate"] = expires.clone().unwrap_or_default().into();
    }
    if let Some(label) = &changes.label {
        body["label"] = label.clone().into();
    }
    if let Some(note) = &changes.note {
        body["note"] = note.clone().into();
    }
    if let Some(hide) = changes.hide_download {
        body["hideDownload"] = if hide { "true" } else { "false" }.into();
    }
    body
}

/// A share id as a URL segment: the ids `formatShare` gives are decimal numbers.
fn id_segment(id: &str) -> Result<&str, NcError> {
    if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NcError::InvalidInput(
            "a share id is a number, as sharing_list shows it".into(),
        ));
    }
    Ok(id)
}

fn shares_from(data: &Value) -> Result<Vec<Share>, NcError> {
    match data {
        Value::Array(items) => items.iter().map(Share::from_ocs).collect(),
        // PHP sends an empty list as [] but a list with gaps in its keys as an object.
        Value::Object(items) => items.values().map(Share::from_ocs).collect(),
        Value::Null => Ok(Vec::new()),
        _ => Err(NcError::BadResponse("the share list is not a list".into())),
    }
}

impl Nextcloud {
    /// The user's own shares (of `path` only, when given), or the shares others made with
    /// the user.
    pub async fn shares_list(
        &self,
        auth: &NcAuth,
        path: Option<&str>,
        shared_with_me: bool,
    ) -> Result<Vec<Share>, NcError> {
        let mut query: Vec<(&str, String)> = vec![(
            "shared_with_me",
            if shared_with_me { "true" } else { "false" }.into(),
        )];
        if let Some(path) = path {
            query.push(("path", format!("/{path}")));
        }
        let request = self.ocs_request(auth, Method::GET, API)?.query(&query);
        let data: Value = self.ocs("sharing", request).await?;
        shares_from(&data)
    }

    pub async fn share_create(&self, auth: &NcAuth, new: &NewShare) -> Result<Share, NcError> {
        let request = self
            .ocs_request(auth, Method::POST, API)?
            .json(&create_body(new));
        let data: Value = self.ocs("sharing", request).await?;
        Share::from_ocs(&data)
    }

    pub async fn share_update(
        &self,
        auth: &NcAuth,
        id: &str,
        changes: &ShareChanges,
    ) -> Result<Share, NcError> {
        let path = format!("{API}/{}", id_segment(id)?);
        let request = self
            .ocs_request(auth, Method::PUT, &path)?
            .json(&update_body(changes));
        let data: Value = self.ocs("sharing", request).await?;
        Share::from_ocs(&data)
    }

    pub async fn share_delete(&self, auth: &NcAuth, id: &str) -> Result<(), NcError> {
        let path = format!("{API}/{}", id_segment(id)?);
        let request = self.ocs_request(auth, Method::DELETE, &path)?;
        let _: Value = self.ocs("sharing", request).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A public link with a password and an expiry date as ShareAPIController::formatShare
    /// sends it (Nextcloud 32): the hash in `password` and in `share_with`.
    const LINK: &str = r#"{"id":"17","share_type":3,"uid_owner":"alice",
      "displayname_owner":"Alice","permissions":17,"can_edit":true,"can_delete":true,
      "stime":1764930000,"parent":null,"expiration":"2031-01-31 00:00:00",
      "token":"Xk3pQm7ZrTe9bWc","uid_file_owner":"alice","note":"for the board",
      "label":"Board pack","displayname_file_owner":"Alice","path":"/Documents/report.pdf",
      "item_type":"file","item_permissions":27,"is-mount-root":false,"mount-type":"",
      "mimetype":"application/pdf","has_preview":true,"storage_id":"home::alice","storage":1,
      "item_source":123,"file_source":123,"file_parent":45,"file_target":"/report.pdf",
      "item_size":2048,"item_mtime":1764920000,
      "share_with":"3|$argon2id$v=19$m=65536,t=4,p=1$c2FsdA$aGFzaA",
      "share_with_displayname":"(Shared link)",
      "password":"3|$argon2id$v=19$m=65536,t=4,p=1$c2FsdA$aGFzaA",
      "send_password_by_talk":false,"url":"https://cloud.example.com/s/Xk3pQm7ZrTe9bWc",
      "mail_send":0,"hide_download":1,
      "attributes":"[{\"scope\":\"permissions\",\"key\":\"download\",\"value\":false}]"}"#;

    /// A share with another user, as its recipient sees it (shared_with_me=true).
    const USER: &str = r#"{"id":"18","share_type":0,"uid_owner":"bob",
      "displayname_owner":"Bob","permissions":19,"stime":1764930000,"parent":null,
      "expiration":null,"token":null,"uid_file_owner":"bob","note":"","label":"",
      "path":"/Plans","item_type":"folder","mimetype":"httpd/unix-directory",
      "item_source":"200","file_source":200,"file_target":"/Plans","share_with":"alice",
      "share_with_displayname":"Alice Liddell","share_with_displayname_unique":"alice@example.com",
      "mail_send":0,"hide_download":0,"attributes":null}"#;

    #[test]
    fn a_link_share_is_read_without_its_password_hash() {
        let share = Share::from_ocs(&serde_json::from_str(LINK).unwrap()).unwrap();
        assert_eq!(
            share,
            Share {
                id: "17".into(),
                share_type: ShareType::Link,
                path: "Documents/report.pdf".into(),
                item_type: "file".into(),
                owner: "alice".into(),
                with: None,
                with_name: None,
                permissions: 17,
                url: Some("https://cloud.example.com/s/Xk3pQm7ZrTe9bWc".into()),
                expires: Some("2031-01-31".into()),
                has_password: true,
                label: "Board pack".into(),
                note: "for the board".into(),
                hide_download: true,
            }
        );
        assert!(!format!("{share:?}").contains("argon2"));
    }

    #[test]
    fn a_user_share_names_its_recipient() {
        let share = Share::from_ocs(&serde_json::from_str(USER).unwrap()).unwrap();
        assert_eq!(share.share_type, ShareType::User);
        assert_eq!(share.with.as_deref(), Some("alice"));
        assert_eq!(share.with_name.as_deref(), Some("Alice Liddell"));
        assert_eq!((share.expires, share.has_password), (None, false));
        assert_eq!(share.path, "Plans");
        assert_eq!(share.item_type, "folder");
        assert_eq!(
            permission_names(share.permissions),
            [Permission::Read, Permission::Edit, Permission::Share]
        );
    }

    #[test]
    fn lists_come_as_arrays_or_objects_and_bad_shares_are_bad_responses() {
        let list: Value = serde_json::from_str(&format!("[{LINK},{USER}]")).unwrap();
        assert_eq!(shares_from(&list).unwrap().len(), 2);
        let gaps: Value = serde_json::from_str(&format!("{{\"0\":{LINK},\"2\":{USER}}}")).unwrap();
        assert_eq!(shares_from(&gaps).unwrap().len(), 2);
        assert!(shares_from(&json!([])).unwrap().is_empty());
        assert!(matches!(
            shares_from(&json!([{"share_type": 3}])),
            Err(NcError::BadResponse(_))
        ));
        assert!(matches!(
            shares_from(&json!("x")),
            Err(NcError::BadResponse(_))
        ));
    }

    #[test]
    fn permissions_map_to_bits_and_back() {
        assert_eq!(permission_bits(&[Permission::Read]), 1);
        assert_eq!(permission_bits(&Permission::ALL), 31);
        assert_eq!(
            permission_bits(&[Permission::Read, Permission::Create, Permission::Read]),
            5
        );
        assert_eq!(permission_bits(&[]), 0);
        for bits in 0..32 {
            assert_eq!(permission_bits(&permission_names(bits)), bits);
        }
        assert_eq!(
            permission_names(15),
            [
                Permission::Read,
                Permission::Edit,
                Permission::Create,
                Permission::Delete
            ]
        );
        assert_eq!(permission_names(64 | 1), [Permission::Read]);
        let names: Vec<Permission> = serde_json::from_value(json!(["read", "edit"])).unwrap();
        assert_eq!(permission_bits(&names), 3);
        assert!(serde_json::from_value::<Permission>(json!("write")).is_err());
    }

    #[test]
    fn share_types_round_trip() {
        for code in [0, 1, 3, 4, 6, 7, 9, 10, 12, 15, 42] {
            assert_eq!(ShareType::from_code(code).code(), code);
        }
        assert_eq!(ShareType::from_code(3).name(), "link");
        assert_eq!(ShareType::from_code(42).name(), "other");
    }

    #[test]
    fn request_bodies_use_the_controllers_parameter_names() {
        let new = NewShare {
            path: "Documents/report.pdf".into(),
            share_type: ShareType::Link,
            with: None,
            permissions: Some(1),
            password: Some(Secret::new("correct horse battery")),
            expires: Some("2031-01-31".into()),
            label: None,
            note: Some("hi".into()),
        };
        assert_eq!(
            create_body(&new),
            json!({"path": "/Documents/report.pdf", "shareType": 3, "permissions": 1,
                   "password": "correct horse battery", "expireDate": "2031-01-31", "note": "hi"})
        );
        let removal = ShareChanges {
            password: Some(Secret::new("")),
            expires: Some(None),
            hide_download: Some(false),
            ..ShareChanges::default()
        };
        assert_eq!(
            update_body(&removal),
            json!({"password": "", "expireDate": "", "hideDownload": "false"})
        );
        assert!(ShareChanges::default().is_empty() && !removal.is_empty());
    }

    #[test]
    fn share_ids_are_numbers() {
        assert_eq!(id_segment("17").unwrap(), "17");
        for bad in [
            "",
            "../17",
            "17/x",
            "ocinternal:17",
            "1".repeat(21).as_str(),
        ] {
            assert!(
                matches!(id_segment(bad), Err(NcError::InvalidInput(_))),
                "{bad}"
            );
        }
    }
}
