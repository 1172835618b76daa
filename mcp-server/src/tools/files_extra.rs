//! More `files_*` tools (scopes `files:*`): the trash bin ([`App::Trash`]), file versions
//! ([`App::Versions`]), collaborative tags and favourites (core, no app needed). See
//! [`crate::nextcloud::trash`], [`crate::nextcloud::versions`], [`crate::nextcloud::tags`].

use mcp_shared::Scope;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{answer, parse_args, ToolContext, ToolError, ToolResult, ToolSpec};
use crate::nextcloud::capabilities::App;
use crate::nextcloud::paths::normalize_path;
use crate::nextcloud::tags::{find_tag, SystemTag};
use crate::nextcloud::trash::TrashItem;
use crate::nextcloud::versions::FileVersion;
use crate::nextcloud::NcError;

use super::paging::{DEFAULT_LIMIT, MAX_LIMIT};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrashListArgs {
    /// Most items to return (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<usize>,
    /// The next_cursor of the previous answer, to get the next page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrashRestoreArgs {
    /// The item's trash_id from files_trash_list (e.g. "report.md.d1764950000").
    pub trash_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrashDeleteArgs {
    /// The item's trash_id from files_trash_list, to delete that one item for good.
    #[serde(default)]
    pub trash_id: Option<String>,
    /// true (and no trash_id): empty the whole trash bin for good.
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionsListArgs {
    /// Path of the file, relative to the root of the user's files (e.g. "Documents/plan.md").
    pub path: String,
    /// Most versions to return (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<usize>,
    /// The next_cursor of the previous answer, to get the next page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionRestoreArgs {
    /// Path of the file, relative to the root of the user's files.
    pub path: String,
    /// The version_id from files_versions_list.
    pub version_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsListArgs {
    /// A file or folder, relative to the root of the user's files: list its tags. Left out:
    /// every tag the user can see.
    #[serde(default)]
    pub path: Option<String>,
    /// Most tags to return (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<usize>,
    /// The next_cursor of the previous answer, to get the next page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagArgs {
    /// The file or folder, relative to the root of the user's files.
    pub path: String,
    /// The tag's name (e.g. "Invoice"); matched exactly, else ignoring case.
    pub tag: String,
    /// true: take the tag off instead of putting it on.
    #[serde(default)]
    pub remove: bool,
    /// When no tag has that name: true (the default) creates it (visible to everyone on this
    /// Nextcloud, like tags made in the web interface); false refuses.
    #[serde(default = "yes")]
    pub create_missing: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FavoriteArgs {
    /// The file or folder, relative to the root of the user's files.
    pub path: String,
    /// true (the default): mark it as a favourite; false: unmark it.
    #[serde(default = "yes")]
    pub favorite: bool,
}

/// files_trash_list's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TrashList {
    /// Most recently deleted first.
    pub items: Vec<TrashItem>,
    /// Pass as cursor for the next page; null when this is the last.
    pub next_cursor: Option<String>,
}

/// files_trash_restore's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TrashRestored {
    pub trash_id: String,
    /// Where it was before it was deleted.
    pub original_path: String,
    /// Where it is now (the original place, else with " (restored)" added to the name or in
    /// the root folder); null if Nextcloud did not tell.
    pub path: Option<String>,
}

/// files_versions_list's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct VersionList {
    pub path: String,
    /// Newest first; the one with current=true is the file's content now.
    pub items: Vec<FileVersion>,
    /// Pass as cursor for the next page; null when this is the last.
    pub next_cursor: Option<String>,
}

/// files_tags_list's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TagList {
    /// The file or folder whose tags these are; null: all tags.
    pub path: Option<String>,
    /// By name.
    pub items: Vec<SystemTag>,
    /// Pass as cursor for the next page; null when this is the last.
    pub next_cursor: Option<String>,
}

/// files_tag's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Tagged {
    pub path: String,
    pub tag: SystemTag,
    /// Whether the file carries the tag now.
    pub assigned: bool,
    /// false: it already was that way.
    pub changed: bool,
    /// The tag did not exist and was created.
    pub created: bool,
}

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "files_trash_list",
        title: "List the trash bin",
        description: "Lists the files and folders in the user's Nextcloud trash bin, most \
                      recently deleted first: trash_id (for files_trash_restore and \
                      files_trash_delete), name, original path, deletion time, size, whether it \
                      is a folder. Paginated (limit, cursor).",
        scopes: &[Scope::FilesRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<TrashList>),
        requires: Some(App::Trash),
        schema: schema_for_type::<TrashListArgs>,
        handler: |args, ctx| Box::pin(files_trash_list(args, ctx)),
    },
    ToolSpec {
        name: "files_trash_restore",
        title: "Restore from the trash bin",
        description: "Puts a deleted file or folder back where it was, given its trash_id from \
                      files_trash_list. If its folder is gone it goes to the root folder; if \
                      the name is taken, Nextcloud adds \" (restored)\". Returns where it is \
                      now.",
        scopes: &[Scope::FilesWrite],
        any_of: &[],
        read_only: false,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<TrashRestored>),
        requires: Some(App::Trash),
        schema: schema_for_type::<TrashRestoreArgs>,
        handler: |args, ctx| Box::pin(files_trash_restore(args, ctx)),
    },
    ToolSpec {
        name: "files_trash_delete",
        title: "Delete from the trash bin permanently",
        description: "PERMANENTLY deletes one item of the trash bin (trash_id from \
                      files_trash_list), or with all=true empties the whole trash bin. This \
                      cannot be undone: ask the user first.",
        scopes: &[Scope::FilesWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: None,
        requires: Some(App::Trash),
        schema: schema_for_type::<TrashDeleteArgs>,
        handler: |args, ctx| Box::pin(files_trash_delete(args, ctx)),
    },
    ToolSpec {
        name: "files_versions_list",
        title: "List a file's versions",
        description: "Lists the saved versions of a file, newest first: version_id (for \
                      files_version_restore), when it was saved, size, label and author; the \
                      one marked current is the content now. Paginated (limit, cursor).",
        scopes: &[Scope::FilesRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<VersionList>),
        requires: Some(App::Versions),
        schema: schema_for_type::<VersionsListArgs>,
        handler: |args, ctx| Box::pin(files_versions_list(args, ctx)),
    },
    ToolSpec {
        name: "files_version_restore",
        title: "Restore a file version",
        description: "Makes an older version (version_id from files_versions_list) the file's \
                      content again. The content it replaces is kept as a version, so this can \
                      be undone the same way.",
        scopes: &[Scope::FilesWrite],
        any_of: &[],
        read_only: false,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: None,
        requires: Some(App::Versions),
        schema: schema_for_type::<VersionRestoreArgs>,
        handler: |args, ctx| Box::pin(files_version_restore(args, ctx)),
    },
    ToolSpec {
        name: "files_tags_list",
        title: "List tags",
        description: "Lists Nextcloud's collaborative tags the user can see (id, name, whether \
                      the user may assign it), or with path only the tags on that file or \
                      folder. Find tagged files with files_find's tag filter. Paginated \
                      (limit, cursor).",
        scopes: &[Scope::FilesRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<TagList>),
        requires: None,
        schema: schema_for_type::<TagsListArgs>,
        handler: |args, ctx| Box::pin(files_tags_list(args, ctx)),
    },
    ToolSpec {
        name: "files_tag",
        title: "Tag or untag a file",
        description: "Puts a collaborative tag on a file or folder (remove=true takes it off). \
                      A tag that does not exist yet is created (create_missing, default true); \
                      tags are shared by everyone on the Nextcloud and seen by all who can see \
                      the file.",
        scopes: &[Scope::FilesWrite],
        any_of: &[],
        read_only: false,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<Tagged>),
        requires: None,
        schema: schema_for_type::<TagArgs>,
        handler: |args, ctx| Box::pin(files_tag(args, ctx)),
    },
    ToolSpec {
        name: "files_favorite",
        title: "Mark as favourite",
        description: "Marks a file or folder as one of the user's favourites \
                      (favorite=false unmarks it). Find favourites with files_find's \
                      favorites_only filter.",
        scopes: &[Scope::FilesWrite],
        any_of: &[],
        read_only: false,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<FavoriteArgs>,
        handler: |args, ctx| Box::pin(files_favorite(args, ctx)),
    },
];

/// Each tool's pinned hints (see `Hints`): one row per tool of this file.
#[cfg(test)]
pub(super) const HINTS: &[super::Hints] = &[
    (
        "files_trash_list",
        true,
        false,
        true,
        false,
        Some(App::Trash),
    ),
    (
        "files_trash_restore",
        false,
        false,
        true,
        false,
        Some(App::Trash),
    ),
    (
        "files_trash_delete",
        false,
        true,
        true,
        false,
        Some(App::Trash),
    ),
    (
        "files_versions_list",
        true,
        false,
        true,
        false,
        Some(App::Versions),
    ),
    (
        "files_version_restore",
        false,
        false,
        true,
        false,
        Some(App::Versions),
    ),
    ("files_tags_list", true, false, true, false, None),
    ("files_tag", false, false, true, false, None),
    ("files_favorite", false, false, true, false, None),
];

fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::InvalidArguments(message.into())
}

fn limit_of(limit: Option<usize>) -> Result<usize, ToolError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(0) => Err(invalid("limit must be at least 1")),
        Some(n) => Ok(n.min(MAX_LIMIT)),
    }
}

/// One page of `items` (already in order): those after the item whose key is `cursor`, with
/// the last one's key as the next cursor when more follow. `after(item, cursor)` tells whether
/// an item comes after the cursor in that order.
fn page<T>(
    items: Vec<T>,
    limit: Option<usize>,
    cursor: Option<&str>,
    key: impl Fn(&T) -> String,
    after: impl Fn(&T, &str) -> bool,
    tool: &str,
) -> Result<(Vec<T>, Option<String>), ToolError> {
    let limit = limit_of(limit)?;
    let rest: Vec<T> = match cursor {
        None => items,
        Some(c) if c.trim().is_empty() || c.len() > 1000 => {
            return Err(invalid(format!("cursor is not one {tool} returned")))
        }
        Some(c) => items.into_iter().filter(|i| after(i, c)).collect(),
    };
    let more = rest.len() > limit;
    let page: Vec<T> = rest.into_iter().take(limit).collect();
    let next = if more { page.last().map(&key) } else { None };
    Ok((page, next))
}

/// Order of trash items: most recently deleted first, then by trash id.
fn trash_key(trash_id: &str) -> (std::cmp::Reverse<i64>, String) {
    (
        std::cmp::Reverse(TrashItem::deletion_time(trash_id).unwrap_or(0)),
        trash_id.to_owned(),
    )
}

/// Order of tags: by name (ignoring case), then id.
fn tag_key(tag: &SystemTag) -> (String, u64) {
    (tag.name.to_lowercase(), tag.id.parse().unwrap_or(u64::MAX))
}

fn path_arg(path: &str, what: &str) -> Result<String, ToolError> {
    let normalized = normalize_path(path).map_err(|e| match e {
        NcError::InvalidInput(message) => invalid(format!("{what}: {message}")),
        other => other.into(),
    })?;
    if normalized.is_empty() {
        return Err(invalid(format!(
            "{what} must name a file or folder, not the root of the user's files"
        )));
    }
    Ok(normalized)
}

fn trash_page(
    mut items: Vec<TrashItem>,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<TrashList, ToolError> {
    items.sort_by_key(|i| trash_key(&i.trash_id));
    let (items, next_cursor) = page(
        items,
        limit,
        cursor,
        |i| i.trash_id.clone(),
        |i, c| trash_key(&i.trash_id) > trash_key(c),
        "files_trash_list",
    )?;
    Ok(TrashList { items, next_cursor })
}

async fn files_trash_list(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: TrashListArgs = parse_args(args)?;
    let dav = ctx.session().await?;
    let items = dav.trash_list().await?;
    answer(&trash_page(items, a.limit, a.cursor.as_deref())?)
}

async fn files_trash_restore(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: TrashRestoreArgs = parse_args(args)?;
    let trash_id = a.trash_id.trim().to_owned();
    let dav = ctx.session().await?;
    // Listed first: a clear "not in the trash bin", and the file id to find it afterwards.
    let item = dav
        .trash_list()
        .await?
        .into_iter()
        .find(|i| i.trash_id == trash_id)
        .ok_or_else(|| {
            NcError::NotFound(format!(
                "there is no item \"{trash_id}\" in the trash bin (list it with \
                 files_trash_list)"
            ))
        })?;
    dav.trash_restore(&trash_id).await?;
    let path = match item.file_id {
        Some(id) => dav.files_by_id(id).await.ok().flatten().map(|e| e.path),
        None => None,
    };
    answer(&TrashRestored {
        trash_id,
        original_path: item.original_path,
        path,
    })
}

async fn files_trash_delete(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: TrashDeleteArgs = parse_args(args)?;
    let trash_id = a
        .trash_id
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let dav = ctx.session().await?;
    match (trash_id, a.all) {
        (Some(_), true) => Err(invalid(
            "give either trash_id (one item) or all=true (everything), not both",
        )),
        (None, false) => Err(invalid(
            "give the trash_id of the item to delete for good, or all=true to empty the trash \
             bin",
        )),
        (Some(id), false) => {
            dav.trash_delete(Some(&id)).await?;
            Ok(serde_json::json!({"deleted_permanently": id}))
        }
        (None, true) => {
            dav.trash_delete(None).await?;
            Ok(serde_json::json!({"emptied": true}))
        }
    }
}

/// The file id and modification time (unix) of a file (not a folder).
async fn file_of(
    dav: &crate::nextcloud::Session<'_>,
    path: &str,
) -> Result<(u64, Option<i64>), ToolError> {
    let (entry, id) = dav.files_id(path).await?;
    if entry.is_folder() {
        return Err(invalid(format!(
            "\"{path}\" is a folder; only files have versions"
        )));
    }
    let mtime = entry
        .last_modified
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp());
    Ok((id, mtime))
}

fn version_number(id: &str) -> u64 {
    id.parse().unwrap_or(0)
}

async fn files_versions_list(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: VersionsListArgs = parse_args(args)?;
    let path = path_arg(&a.path, "path")?;
    let dav = ctx.session().await?;
    let (id, mtime) = file_of(&dav, &path).await?;
    let versions = dav.versions_list(id, mtime).await?;
    let (items, next_cursor) = page(
        versions,
        a.limit,
        a.cursor.as_deref(),
        |v| v.version_id.clone(),
        |v, c| version_number(&v.version_id) < version_number(c),
        "files_versions_list",
    )?;
    answer(&VersionList {
        path,
        items,
        next_cursor,
    })
}

async fn files_version_restore(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: VersionRestoreArgs = parse_args(args)?;
    let path = path_arg(&a.path, "path")?;
    let version_id = a.version_id.trim().to_owned();
    let dav = ctx.session().await?;
    let (id, mtime) = file_of(&dav, &path).await?;
    let versions = dav.versions_list(id, mtime).await?;
    let Some(version) = versions.iter().find(|v| v.version_id == version_id) else {
        return Err(NcError::NotFound(format!(
            "\"{path}\" has no version \"{version_id}\" (list them with files_versions_list)"
        ))
        .into());
    };
    if version.current {
        return Ok(serde_json::json!({
            "path": path,
            "version_id": version_id,
            "restored": false,
            "note": "this version is already the file's current content",
        }));
    }
    dav.version_restore(id, &version_id).await?;
    Ok(serde_json::json!({"path": path, "version_id": version_id, "restored": true}))
}

async fn files_tags_list(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: TagsListArgs = parse_args(args)?;
    let path = a.path.as_deref().map(|p| path_arg(p, "path")).transpose()?;
    let dav = ctx.session().await?;
    let mut tags = match &path {
        Some(p) => dav.tags_of(dav.files_id(p).await?.1).await?,
        None => dav.tags_all().await?,
    };
    tags.sort_by_key(tag_key);
    let (items, next_cursor) = offset_page(tags, a.limit, a.cursor.as_deref(), "files_tags_list")?;
    answer(&TagList {
        path,
        items,
        next_cursor,
    })
}

/// One page of a small list in a fixed order; the cursor is the offset of the next page.
fn offset_page<T>(
    items: Vec<T>,
    limit: Option<usize>,
    cursor: Option<&str>,
    tool: &str,
) -> Result<(Vec<T>, Option<String>), ToolError> {
    let limit = limit_of(limit)?;
    let start = match cursor {
        None => 0,
        Some(c) => c
            .trim()
            .parse::<usize>()
            .map_err(|_| invalid(format!("cursor is not one {tool} returned")))?,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start.saturating_add(limit) < total).then(|| (start + limit).to_string());
    Ok((page, next))
}

async fn files_tag(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: TagArgs = parse_args(args)?;
    let path = path_arg(&a.path, "path")?;
    let name = a.tag.trim().to_owned();
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(invalid("tag must be a tag's name"));
    }
    if name.chars().count() > 64 {
        return Err(invalid("a tag name has at most 64 characters"));
    }
    let dav = ctx.session().await?;
    let (_, id) = dav.files_id(&path).await?;
    let tags = dav.tags_all().await?;
    let existing = find_tag(&tags, &name)?.cloned();
    let (tag, created) = match (existing, a.remove, a.create_missing) {
        (Some(tag), _, _) => (tag, false),
        (None, true, _) => {
            return Err(NcError::NotFound(format!(
                "there is no tag \"{name}\" (list them with files_tags_list)"
            ))
            .into())
        }
        (None, false, false) => {
            return Err(NcError::NotFound(format!(
                "there is no tag \"{name}\"; pass create_missing=true to create it"
            ))
            .into())
        }
        (None, false, true) => {
            let id = dav.tag_create(&name).await?;
            (
                SystemTag {
                    id,
                    name: name.clone(),
                    can_assign: true,
                    user_visible: true,
                },
                true,
            )
        }
    };
    if !tag.can_assign {
        return Err(NcError::Forbidden(format!(
            "the tag \"{}\" is restricted: the user may not {} it",
            tag.name,
            if a.remove { "remove" } else { "assign" }
        ))
        .into());
    }
    let changed = if a.remove {
        dav.tag_unassign(id, &tag).await?
    } else {
        dav.tag_assign(id, &tag).await?
    };
    answer(&Tagged {
        path,
        tag,
        assigned: !a.remove,
        changed,
        created,
    })
}

async fn files_favorite(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: FavoriteArgs = parse_args(args)?;
    let path = path_arg(&a.path, "path")?;
    let dav = ctx.session().await?;
    dav.favorite_set(&path, a.favorite).await?;
    Ok(serde_json::json!({"path": path, "favorite": a.favorite}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str) -> TrashItem {
        TrashItem {
            trash_id: id.into(),
            name: id.rsplit_once(".d").unwrap().0.into(),
            original_path: id.into(),
            deleted_at: None,
            size: None,
            is_folder: false,
            content_type: None,
            deleted_by: None,
            file_id: None,
        }
    }

    #[test]
    fn the_trash_is_paged_newest_first() {
        let all = vec![item("a.d10"), item("b.d30"), item("c.d20"), item("d.d20")];
        let first = trash_page(all.clone(), Some(2), None).unwrap();
        let ids = |l: &TrashList| {
            l.items
                .iter()
                .map(|i| i.trash_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&first), ["b.d30", "c.d20"]);
        assert_eq!(first.next_cursor.as_deref(), Some("c.d20"));
        let second = trash_page(all.clone(), Some(2), first.next_cursor.as_deref()).unwrap();
        assert_eq!(ids(&second), ["d.d20", "a.d10"]);
        assert_eq!(second.next_cursor, None);
        assert!(trash_page(all.clone(), Some(0), None).is_err());
        assert!(trash_page(all, None, Some(" ")).is_err());
    }

    #[test]
    fn tag_arguments_default_to_assigning_and_creating() {
        let mut args = JsonObject::new();
        args.insert("path".into(), "a.txt".into());
        args.insert("tag".into(), "Rechnung".into());
        let a: TagArgs = parse_args(Some(args.clone())).unwrap();
        assert!(!a.remove && a.create_missing);
        args.insert("colour".into(), "red".into());
        assert!(parse_args::<TagArgs>(Some(args)).is_err());
    }
}
