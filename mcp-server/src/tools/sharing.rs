//! Sharing tools (files_sharing OCS API, see [`crate::nextcloud::shares`]; scopes
//! `sharing:read`, `sharing:write`; they need
//! [`App::Sharing`](crate::nextcloud::capabilities::App::Sharing)). Creating or changing a share
//! reaches other people (a public link anyone with the URL can open; a user, group or address
//! Nextcloud notifies), so those tools are destructive and open-world.

use mcp_shared::{Scope, Secret};
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use super::{answer, parse_args, ToolContext, ToolError, ToolResult, ToolSpec};
use crate::nextcloud::capabilities::App;
use crate::nextcloud::paths::normalize_path;
use crate::nextcloud::shares::{
    permission_bits, permission_names, NewShare, Permission, Share, ShareChanges, ShareType,
};
use crate::nextcloud::NcError;

use super::paging::{DEFAULT_LIMIT, MAX_LIMIT};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Only the shares of this file or folder, relative to the root of the user's files (e.g.
    /// "Documents/report.pdf"). Left out: all shares.
    #[serde(default)]
    pub path: Option<String>,
    /// true: the shares other people made with the user (path is then where they appear in
    /// the user's files); false or left out: the shares the user made.
    #[serde(default)]
    pub shared_with_me: bool,
    /// Most shares to return (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<usize>,
    /// The next_cursor of the previous answer, to get the next page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Who to share with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TypeArg {
    /// A public link: anyone with the URL can open it.
    Link,
    /// A Nextcloud user (`with`: their user id).
    User,
    /// A Nextcloud group (`with`: the group id).
    Group,
    /// An e-mail address (`with`), which gets a link by mail.
    Email,
}

impl From<TypeArg> for ShareType {
    fn from(arg: TypeArg) -> Self {
        match arg {
            TypeArg::Link => ShareType::Link,
            TypeArg::User => ShareType::User,
            TypeArg::Group => ShareType::Group,
            TypeArg::Email => ShareType::Email,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    /// The file or folder to share, relative to the root of the user's files (e.g.
    /// "Documents/report.pdf"). It must exist.
    pub path: String,
    /// link, user, group or email.
    #[serde(rename = "type")]
    pub share_type: TypeArg,
    /// The user id, group id or e-mail address to share with (not for a link).
    #[serde(default)]
    pub with: Option<String>,
    /// What recipients may do. Left out: read (plus share) for a link or e-mail, everything
    /// for a user or group. Files cannot get create or delete; a link with only create is an
    /// upload-only ("file drop") folder.
    #[serde(default)]
    pub permissions: Option<Vec<Permission>>,
    /// Password needed to open a link or e-mail share (Nextcloud's password policy applies).
    #[serde(default)]
    pub password: Option<String>,
    /// Last day the share works, YYYY-MM-DD (after today).
    #[serde(default)]
    pub expires: Option<String>,
    /// A name for a link, shown in the user's share list.
    #[serde(default)]
    pub label: Option<String>,
    /// A note shown to the recipients.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    /// The share id (from sharing_list or sharing_create).
    pub id: String,
    /// New password for a link or e-mail share; "" removes the password.
    #[serde(default)]
    pub password: Option<String>,
    /// New last day, YYYY-MM-DD; null removes the expiry date; left out: unchanged.
    #[serde(default, deserialize_with = "present")]
    pub expires: Option<Option<String>>,
    /// New permissions (replacing the old ones).
    #[serde(default)]
    pub permissions: Option<Vec<Permission>>,
    /// New label of a link.
    #[serde(default)]
    pub label: Option<String>,
    /// New note for the recipients.
    #[serde(default)]
    pub note: Option<String>,
    /// true: people opening a link can view but not download.
    #[serde(default)]
    pub hide_download: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    /// The share id (from sharing_list).
    pub id: String,
}

/// A field that is there (even as null) is `Some`: `expires: null` removes the date.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// One share.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ShareItem {
    /// The share id (for sharing_update and sharing_delete).
    pub id: String,
    /// The shared file or folder, relative to the root of the user's files.
    pub path: String,
    /// file or folder.
    pub item_type: String,
    /// link, user, group, email, or another kind Nextcloud has (federated, team, talk_room,
    /// deck…).
    #[serde(rename = "type")]
    pub share_type: String,
    /// Who it is shared with (user or group id, e-mail address); null for a link.
    pub with: Option<String>,
    /// Their display name.
    pub with_name: Option<String>,
    /// Who made the share.
    pub owner: String,
    pub permissions: Vec<Permission>,
    /// The public link's URL (links only).
    pub url: Option<String>,
    /// Last day the share works (YYYY-MM-DD), or null.
    pub expires: Option<String>,
    pub has_password: bool,
    pub label: String,
    pub note: String,
    /// A link whose visitors can view but not download.
    pub hide_download: bool,
}

impl From<Share> for ShareItem {
    fn from(share: Share) -> Self {
        Self {
            id: share.id,
            path: share.path,
            item_type: share.item_type,
            share_type: share.share_type.name().to_owned(),
            with: share.with,
            with_name: share.with_name,
            owner: share.owner,
            permissions: permission_names(share.permissions),
            url: share.url,
            expires: share.expires,
            has_password: share.has_password,
            label: share.label,
            note: share.note,
            hide_download: share.hide_download,
        }
    }
}

/// sharing_list's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ShareList {
    pub items: Vec<ShareItem>,
    /// Pass as cursor for the next page; null when this is the last.
    pub next_cursor: Option<String>,
}

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "sharing_list",
        title: "List shares",
        description: "Lists the shares the user made (or, with shared_with_me, the shares \
                      others made with the user), optionally of one file or folder: id, path, \
                      type (link/user/group/email), who it is with, permissions, the URL of a \
                      public link, expiry date, whether a password is set, label and note. \
                      Paginated (limit, cursor).",
        scopes: &[Scope::SharingRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<ShareList>),
        requires: Some(App::Sharing),
        schema: schema_for_type::<ListArgs>,
        handler: |args, ctx| Box::pin(sharing_list(args, ctx)),
    },
    ToolSpec {
        name: "sharing_create",
        title: "Share a file or folder",
        description: "Shares an existing file or folder with other people and returns the \
                      share (with its URL for a link). type link creates a public link: \
                      ANYONE with the URL can open the file, so ask the user first and consider \
                      a password and an expiry date. type user or group shares with Nextcloud \
                      accounts, type email with an address; the people shared with are \
                      notified. Permissions by name: read, edit, create, delete, share.",
        scopes: &[Scope::SharingWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
        output: Some(schema_for_output::<ShareItem>),
        requires: Some(App::Sharing),
        schema: schema_for_type::<CreateArgs>,
        handler: |args, ctx| Box::pin(sharing_create(args, ctx)),
    },
    ToolSpec {
        name: "sharing_update",
        title: "Change a share",
        description: "Changes a share the user made (id from sharing_list): password (\"\" \
                      removes it), expiry date (null removes it), permissions, label, note, \
                      hide_download. Changes what other people can open or do with the file; \
                      returns the share as it is now.",
        scopes: &[Scope::SharingWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: true,
        output: Some(schema_for_output::<ShareItem>),
        requires: Some(App::Sharing),
        schema: schema_for_type::<UpdateArgs>,
        handler: |args, ctx| Box::pin(sharing_update(args, ctx)),
    },
    ToolSpec {
        name: "sharing_delete",
        title: "Remove a share",
        description: "Removes a share (id from sharing_list): its link stops working, or the \
                      person or group loses access. The file itself stays. A share made with \
                      the user is left (removed from their files) instead.",
        scopes: &[Scope::SharingWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: None,
        requires: Some(App::Sharing),
        schema: schema_for_type::<DeleteArgs>,
        handler: |args, ctx| Box::pin(sharing_delete(args, ctx)),
    },
];

fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::InvalidArguments(message.into())
}

/// A path argument in the files tools' form; `None` for the root.
fn path_arg(path: &str) -> Result<Option<String>, ToolError> {
    let normalized = normalize_path(path).map_err(|e| match e {
        NcError::InvalidInput(message) => invalid(format!("path: {message}")),
        other => other.into(),
    })?;
    Ok(Some(normalized).filter(|p| !p.is_empty()))
}

/// A date argument: YYYY-MM-DD, a real day.
fn date_arg(date: &str) -> Result<String, ToolError> {
    let date = date.trim();
    match chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(_) if date.len() == 10 => Ok(date.to_owned()),
        _ => Err(invalid(format!(
            "expires must be a date as YYYY-MM-DD (e.g. 2031-01-31), not {date:?}"
        ))),
    }
}

fn permissions_arg(permissions: Option<Vec<Permission>>) -> Result<Option<i64>, ToolError> {
    match permissions {
        Some(p) if p.is_empty() => Err(invalid(
            "permissions must name at least read (or create, for an upload-only link)",
        )),
        Some(p) => Ok(Some(permission_bits(&p))),
        None => Ok(None),
    }
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Sort key of a share id: numbers in numeric order, anything else after them.
fn id_key(id: &str) -> (bool, u64, &str) {
    match id.parse::<u64>() {
        Ok(n) => (false, n, id),
        Err(_) => (true, 0, id),
    }
}

/// One page of `shares` (sorted by id), after the share whose id is `cursor`.
fn page(
    mut shares: Vec<Share>,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<ShareList, ToolError> {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(0) => return Err(invalid("limit must be at least 1")),
        Some(n) => n.min(MAX_LIMIT),
    };
    shares.sort_by(|a, b| id_key(&a.id).cmp(&id_key(&b.id)));
    let start = match cursor {
        None => 0,
        Some(c) if c.is_empty() || c.len() > 64 => {
            return Err(invalid("cursor is not one sharing_list returned"))
        }
        Some(c) => shares.partition_point(|s| id_key(&s.id) <= id_key(c)),
    };
    let rest = shares.split_off(start.min(shares.len()));
    let more = rest.len() > limit;
    let items: Vec<ShareItem> = rest.into_iter().take(limit).map(ShareItem::from).collect();
    let next_cursor = if more {
        items.last().map(|s| s.id.clone())
    } else {
        None
    };
    Ok(ShareList { items, next_cursor })
}

async fn sharing_list(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: ListArgs = parse_args(args)?;
    let path = match &a.path {
        Some(p) => path_arg(p)?,
        None => None,
    };
    let shares = ctx
        .nextcloud
        .shares_list(&ctx.auth, path.as_deref(), a.shared_with_me)
        .await?;
    answer(&page(shares, a.limit, a.cursor.as_deref())?)
}

fn new_share(a: CreateArgs) -> Result<NewShare, ToolError> {
    let path = path_arg(&a.path)?.ok_or_else(|| {
        invalid("path must name a file or folder, not the root of the user's files")
    })?;
    let share_type = ShareType::from(a.share_type);
    let with = non_blank(a.with);
    match (a.share_type, &with) {
        (TypeArg::Link, Some(_)) => {
            return Err(invalid(
                "with is for user, group and email shares; a link has no recipient",
            ))
        }
        (TypeArg::User | TypeArg::Group | TypeArg::Email, None) => {
            return Err(invalid(
                "with is needed: the user id, group id or e-mail address to share with",
            ))
        }
        _ => {}
    }
    if a.password.is_some() && !matches!(a.share_type, TypeArg::Link | TypeArg::Email) {
        return Err(invalid("a password can only protect a link or email share"));
    }
    Ok(NewShare {
        path,
        share_type,
        with,
        permissions: permissions_arg(a.permissions)?,
        password: a.password.filter(|p| !p.is_empty()).map(Secret::new),
        expires: a.expires.as_deref().map(date_arg).transpose()?,
        label: non_blank(a.label),
        note: non_blank(a.note),
    })
}

async fn sharing_create(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let new = new_share(parse_args(args)?)?;
    let share = ctx.nextcloud.share_create(&ctx.auth, &new).await?;
    answer(&ShareItem::from(share))
}

fn share_changes(a: UpdateArgs) -> Result<(String, ShareChanges), ToolError> {
    let changes = ShareChanges {
        permissions: permissions_arg(a.permissions)?,
        password: a.password.map(Secret::new),
        expires: match a.expires {
            Some(Some(date)) => Some(Some(date_arg(&date)?)),
            other => other,
        },
        label: a.label,
        note: a.note,
        hide_download: a.hide_download,
    };
    if changes.is_empty() {
        return Err(invalid(
            "nothing to change: give password, expires, permissions, label, note or \
             hide_download",
        ));
    }
    Ok((a.id.trim().to_owned(), changes))
}

async fn sharing_update(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let (id, changes) = share_changes(parse_args(args)?)?;
    let share = ctx.nextcloud.share_update(&ctx.auth, &id, &changes).await?;
    answer(&ShareItem::from(share))
}

async fn sharing_delete(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: DeleteArgs = parse_args(args)?;
    let id = a.id.trim();
    ctx.nextcloud.share_delete(&ctx.auth, id).await?;
    Ok(serde_json::json!({ "deleted": id }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn args(value: Value) -> Option<JsonObject> {
        value.as_object().cloned()
    }

    fn share(id: &str) -> Share {
        Share::from_ocs(&json!({"id": id, "share_type": 3, "path": "/a.txt", "permissions": 17}))
            .unwrap()
    }

    #[test]
    fn a_link_with_password_and_expiry_becomes_the_controllers_request() {
        let new = new_share(
            parse_args(args(
                json!({"path": "/Documents//report.pdf", "type": "link",
                "permissions": ["read"], "password": "correct horse", "expires": "2031-01-31"}),
            ))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(new.path, "Documents/report.pdf");
        assert_eq!(new.share_type, ShareType::Link);
        assert_eq!(new.permissions, Some(1));
        assert_eq!(new.expires.as_deref(), Some("2031-01-31"));
        assert_eq!(
            new.password.as_ref().map(Secret::expose),
            Some("correct horse")
        );
    }

    #[test]
    fn create_arguments_are_checked_before_anything_is_sent() {
        let refused = |value: Value| match parse_args::<CreateArgs>(args(value)) {
            Ok(a) => new_share(a).err().map(|e| e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        for (value, says) in [
            (json!({"path": "/", "type": "link"}), "root"),
            (json!({"path": "a/../b", "type": "link"}), ".."),
            (json!({"path": "a", "type": "user"}), "with is needed"),
            (
                json!({"path": "a", "type": "link", "with": "bob"}),
                "no recipient",
            ),
            (
                json!({"path": "a", "type": "user", "with": "bob", "password": "x"}),
                "password",
            ),
            (
                json!({"path": "a", "type": "link", "expires": "31.01.2031"}),
                "YYYY-MM-DD",
            ),
            (
                json!({"path": "a", "type": "link", "expires": "2031-02-30"}),
                "YYYY-MM-DD",
            ),
            (
                json!({"path": "a", "type": "link", "permissions": []}),
                "at least read",
            ),
            (
                json!({"path": "a", "type": "link", "permissions": ["write"]}),
                "unknown variant",
            ),
            (
                json!({"path": "a", "type": "federated", "with": "x@y"}),
                "unknown variant",
            ),
            (
                json!({"path": "a", "type": "link", "public": true}),
                "unknown field",
            ),
        ] {
            let message = refused(value.clone()).unwrap_or_else(|| panic!("accepted {value}"));
            assert!(message.contains(says), "{value}: {message}");
        }
    }

    #[test]
    fn update_tells_removal_from_leaving_alone() {
        let (id, changes) = share_changes(
            parse_args(args(json!({"id": "17", "expires": null, "password": ""}))).unwrap(),
        )
        .unwrap();
        assert_eq!(id, "17");
        assert_eq!(changes.expires, Some(None));
        assert_eq!(changes.password.as_ref().map(Secret::expose), Some(""));
        let (_, changes) =
            share_changes(parse_args(args(json!({"id": "17", "label": "x"}))).unwrap()).unwrap();
        assert_eq!(changes.expires, None);
        assert!(changes.password.is_none());
        let (_, changes) = share_changes(
            parse_args(args(
                json!({"id": "17", "permissions": ["read", "edit", "create"]}),
            ))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(changes.permissions, Some(7));
        let nothing = share_changes(parse_args(args(json!({"id": "17"}))).unwrap());
        assert!(matches!(nothing, Err(ToolError::InvalidArguments(m)) if m.contains("nothing")));
    }

    #[test]
    fn lists_are_paged_by_id() {
        let all: Vec<Share> = ["10", "2", "33", "4", "5"].into_iter().map(share).collect();
        let first = page(all.clone(), Some(2), None).unwrap();
        let ids = |l: &ShareList| l.items.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&first), ["2", "4"]);
        assert_eq!(first.next_cursor.as_deref(), Some("4"));
        let second = page(all.clone(), Some(2), Some("4")).unwrap();
        assert_eq!(ids(&second), ["5", "10"]);
        let last = page(all.clone(), Some(2), second.next_cursor.as_deref()).unwrap();
        assert_eq!(
            (ids(&last), last.next_cursor),
            (vec!["33".to_owned()], None)
        );
        // A share removed between pages does not shift the next one.
        let fewer: Vec<Share> = ["10", "2", "33", "5"].into_iter().map(share).collect();
        assert_eq!(ids(&page(fewer, Some(2), Some("4")).unwrap()), ["5", "10"]);
        assert_eq!(page(all.clone(), None, None).unwrap().items.len(), 5);
        assert!(page(all, Some(0), None).is_err());
    }

    #[test]
    fn the_answer_shows_names_and_never_a_password() {
        let item = ShareItem::from(
            Share::from_ocs(&json!({"id": "7", "share_type": 3, "path": "/a.txt",
                "permissions": 17, "password": "3|$argon2id$hash", "share_with": "3|$argon2id$hash",
                "url": "https://cloud.example/s/abc", "expiration": "2031-01-31 00:00:00"}))
            .unwrap(),
        );
        let value = serde_json::to_value(&item).unwrap();
        assert_eq!(value["type"], "link");
        assert_eq!(value["permissions"], json!(["read", "share"]));
        assert_eq!(value["expires"], "2031-01-31");
        assert_eq!(value["has_password"], true);
        assert_eq!(value["with"], Value::Null);
        assert!(!value.to_string().contains("argon2"), "{value}");
    }
}
