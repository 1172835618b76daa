//! Files tools (Nextcloud Files over WebDAV). Paths are relative to the root of the user's
//! files, e.g. "Documents/report.md"; "" or "/" is the root.

use mcp_shared::Scope;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{parse_args, ToolContext, ToolError, ToolResult, ToolSpec};
use crate::nextcloud::files::{FileEntry, FileKind, FindFilter, WriteCondition};
use crate::nextcloud::paths::normalize_path;
use crate::nextcloud::tags::find_tag;
use crate::nextcloud::text::{encode_text, output_encoding};
use crate::nextcloud::NcError;

mod read;
use read::files_read;
pub use read::{FileContent, ReadArgs};

/// Largest file files_read returns.
const MAX_READ_BYTES: usize = 1024 * 1024;
/// Largest content files_write sends.
const MAX_WRITE_BYTES: usize = 10 * 1024 * 1024;
/// Most entries files_list returns.
const MAX_LIST_ENTRIES: usize = 1000;
/// Most results files_find returns.
const MAX_FIND_RESULTS: usize = 100;
/// Most favourites or tagged files files_find fetches to filter further.
const MAX_FILTERED: usize = 1000;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Folder to list, relative to the root of the user's files (e.g. "Documents/Projects").
    /// Left out, "" or "/": the root folder.
    #[serde(default)]
    pub path: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteArgs {
    /// Path of the file to create or replace, relative to the root of the user's files (e.g.
    /// "Documents/summary.md"). The folder it is in must already exist.
    pub path: String,
    /// The complete new text content. It replaces the whole file.
    pub content: String,
    /// The file's etag from files_read or files_list. When given, the file is only replaced if
    /// nobody changed it since; otherwise the write is refused as a conflict. Recommended
    /// whenever an existing file is overwritten.
    #[serde(default)]
    pub etag: Option<String>,
    /// true: only create a new file; refuse if something already exists at the path.
    #[serde(default)]
    pub create_only: bool,
    /// Character encoding to store the text in: "utf-8" (the default), or the encoding
    /// files_read reported for the file (e.g. "windows-1252") to keep a legacy file's encoding.
    #[serde(default)]
    pub encoding: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MkdirArgs {
    /// Path of the folder to create (e.g. "Documents/2025"). Its parent folder must exist.
    pub path: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferArgs {
    /// Path of the file or folder to move or copy (e.g. "Documents/draft.md").
    pub source: String,
    /// Full new path including the name (e.g. "Archive/draft.md"), not just the target
    /// folder. The folder it goes into must exist.
    pub destination: String,
    /// true: replace whatever already exists at the destination. Default false: refuse if the
    /// destination exists.
    #[serde(default)]
    pub overwrite: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    /// Path of the file or folder to delete. A folder is deleted with everything in it.
    pub path: String,
    /// The etag from files_list or files_read: when given, delete only if it did not change
    /// since.
    #[serde(default)]
    pub etag: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindArgs {
    /// Part of the file or folder name to look for (case-insensitive, e.g. "invoice" or
    /// ".pdf"). Matches names only, not file contents. May be left out when another filter is
    /// given.
    #[serde(default)]
    pub query: Option<String>,
    /// Folder to search in, including all its subfolders. Left out: all of the user's files.
    #[serde(default)]
    pub folder: String,
    /// Only this kind: image, pdf, document, spreadsheet, presentation, audio, video, folder,
    /// or a content type ("text/markdown") or its first part ("text/").
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Only what was modified after this time: RFC 3339 ("2025-03-01T12:00:00Z") or a date
    /// ("2025-03-01", midnight UTC).
    #[serde(default)]
    pub modified_after: Option<String>,
    /// Only what was modified before this time: RFC 3339 or a date (midnight UTC).
    #[serde(default)]
    pub modified_before: Option<String>,
    /// true: only the user's favourites.
    #[serde(default)]
    pub favorites_only: bool,
    /// Only what carries this collaborative tag (its name; see files_tags_list).
    #[serde(default)]
    pub tag: Option<String>,
}

/// files_list's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FileList {
    /// The folder listed, relative to the root of the user's files ("" is the root).
    pub path: String,
    /// Entries in the folder (more than listed when truncated).
    pub count: usize,
    pub truncated: bool,
    /// Folders first, then by name.
    pub entries: Vec<FileEntry>,
}

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "files_list",
        title: "List a folder",
        description: "Lists the files and folders directly inside a folder of the user's \
                      Nextcloud files: name, path, type (file/folder), size in bytes, content \
                      type, last modified (RFC 3339) and etag. Folders come first.",
        scopes: &[Scope::FilesRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<FileList>),
        requires: None,
        schema: schema_for_type::<ListArgs>,
        handler: |args, ctx| Box::pin(files_list(args, ctx)),
    },
    ToolSpec {
        name: "files_read",
        title: "Read a text file or the text of a document",
        description: "Returns the content of a text file (up to 1 MiB) with its etag (needed \
                      to overwrite it safely with files_write) and the character encoding it is \
                      stored in (UTF-8, or a legacy one such as windows-1252, converted for \
                      reading). PDFs and office documents (Word .docx, Excel .xlsx, PowerPoint \
                      .pptx, OpenDocument .odt/.ods/.odp; up to 20 MiB) give their text instead, \
                      with extracted=true, the format, and truncated=true when the text was cut \
                      at 1 MiB; sheets, slides and PDF pages are marked [Sheet: name], [Slide n], \
                      [Page n]. That text cannot be written back with files_write. Other binary \
                      files (images, legacy .doc/.xls, password-protected documents…) are \
                      refused.",
        scopes: &[Scope::FilesRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<FileContent>),
        requires: None,
        schema: schema_for_type::<ReadArgs>,
        handler: |args, ctx| Box::pin(files_read(args, ctx)),
    },
    ToolSpec {
        name: "files_write",
        title: "Write a text file",
        description: "Creates a text file or replaces its whole content. Pass the etag from \
                      files_read to make sure nobody changed the file in the meantime (else the \
                      write is refused as a conflict: read it again and retry), or \
                      create_only=true to never overwrite. Returns the new etag.",
        scopes: &[Scope::FilesWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<WriteArgs>,
        handler: |args, ctx| Box::pin(files_write(args, ctx)),
    },
    ToolSpec {
        name: "files_mkdir",
        title: "Create a folder",
        description: "Creates a folder. Its parent folder must already exist (create parents \
                      first, one level at a time).",
        scopes: &[Scope::FilesWrite],
        any_of: &[],
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<MkdirArgs>,
        handler: |args, ctx| Box::pin(files_mkdir(args, ctx)),
    },
    ToolSpec {
        name: "files_move",
        title: "Move or rename",
        description: "Moves or renames a file or folder. The destination is the full new path. \
                      Refuses to replace an existing destination unless overwrite=true.",
        scopes: &[Scope::FilesWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<TransferArgs>,
        handler: |args, ctx| Box::pin(files_move(args, ctx)),
    },
    ToolSpec {
        name: "files_copy",
        title: "Copy",
        description: "Copies a file or folder (with its contents) to a new full path. Refuses \
                      to replace an existing destination unless overwrite=true.",
        scopes: &[Scope::FilesWrite],
        any_of: &[],
        read_only: false,
        // overwrite=true replaces what is at the destination.
        destructive: true,
        idempotent: false,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<TransferArgs>,
        handler: |args, ctx| Box::pin(files_copy(args, ctx)),
    },
    ToolSpec {
        name: "files_delete",
        title: "Delete a file or folder",
        description: "Deletes a file, or a folder with everything in it (Nextcloud moves it to \
                      the trash bin when that app is enabled).",
        scopes: &[Scope::FilesWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<DeleteArgs>,
        handler: |args, ctx| Box::pin(files_delete(args, ctx)),
    },
    ToolSpec {
        name: "files_find",
        title: "Find files",
        description: "Finds files and folders in a folder and all its subfolders by name \
                      (query: part of the name, case-insensitive), type (image, pdf, document, \
                      spreadsheet, presentation, audio, video, folder or a content type), \
                      modification time (modified_after, modified_before), favourites \
                      (favorites_only) and collaborative tag (tag); every filter given must \
                      match, at least one is needed. Most recently modified first, at most 100 \
                      results. Does not search inside file contents.",
        scopes: &[Scope::FilesRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<FindArgs>,
        handler: |args, ctx| Box::pin(files_find(args, ctx)),
    },
];

fn entry_json(entry: &FileEntry) -> Value {
    serde_json::to_value(entry).unwrap_or(Value::Null)
}

/// Validates and normalizes a path argument (`what` names it in messages).
fn path_arg(path: &str, what: &str, allow_root: bool) -> Result<String, ToolError> {
    let normalized = normalize_path(path).map_err(|e| match e {
        NcError::InvalidInput(message) => ToolError::InvalidArguments(format!("{what}: {message}")),
        other => other.into(),
    })?;
    if !allow_root && normalized.is_empty() {
        return Err(ToolError::InvalidArguments(format!(
            "{what} must name a file or folder, not the root of the user's files"
        )));
    }
    Ok(normalized)
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

async fn files_list(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: ListArgs = parse_args(args)?;
    let path = path_arg(&a.path, "path", true)?;
    let dav = ctx.session().await?;
    let mut entries = dav.files_list(&path).await?;
    entries.sort_by(|x, y| {
        y.is_folder()
            .cmp(&x.is_folder())
            .then_with(|| x.name.to_lowercase().cmp(&y.name.to_lowercase()))
    });
    let total = entries.len();
    entries.truncate(MAX_LIST_ENTRIES);
    super::answer(&FileList {
        path,
        count: total,
        truncated: total > MAX_LIST_ENTRIES,
        entries,
    })
}

async fn files_write(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: WriteArgs = parse_args(args)?;
    let path = path_arg(&a.path, "path", false)?;
    if a.content.len() > MAX_WRITE_BYTES {
        return Err(ToolError::InvalidArguments(format!(
            "content is larger than {} MiB",
            MAX_WRITE_BYTES / 1024 / 1024
        )));
    }
    let etag = non_blank(a.etag);
    let condition = match (&etag, a.create_only) {
        (Some(_), true) => {
            return Err(ToolError::InvalidArguments(
                "give either etag (to replace a file you read) or create_only (to \
                 create a new one), not both"
                    .into(),
            ))
        }
        (Some(etag), false) => WriteCondition::IfMatch(etag),
        (None, true) => WriteCondition::CreateOnly,
        (None, false) => WriteCondition::Any,
    };
    let encoding = output_encoding(a.encoding.as_deref())?;
    let content = encode_text(&a.content, encoding)?;
    let dav = ctx.session().await?;
    let written = dav.files_put(&path, content, encoding, condition).await?;
    Ok(json!({"path": path, "created": written.created, "etag": written.etag}))
}

async fn files_mkdir(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: MkdirArgs = parse_args(args)?;
    let path = path_arg(&a.path, "path", false)?;
    let dav = ctx.session().await?;
    dav.files_mkdir(&path).await?;
    Ok(json!({"path": path, "created": true}))
}

async fn files_transfer(args: Option<JsonObject>, ctx: &ToolContext<'_>, copy: bool) -> ToolResult {
    let a: TransferArgs = parse_args(args)?;
    let source = path_arg(&a.source, "source", false)?;
    let destination = path_arg(&a.destination, "destination", false)?;
    let dav = ctx.session().await?;
    let overwritten = dav
        .files_transfer(copy, &source, &destination, a.overwrite)
        .await?;
    Ok(json!({
        "source": source,
        "destination": destination,
        "overwritten": overwritten,
    }))
}

async fn files_move(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    files_transfer(args, ctx, false).await
}

async fn files_copy(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    files_transfer(args, ctx, true).await
}

async fn files_delete(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: DeleteArgs = parse_args(args)?;
    let path = path_arg(&a.path, "path", false)?;
    let dav = ctx.session().await?;
    dav.files_delete(&path, non_blank(a.etag).as_deref())
        .await?;
    Ok(json!({"deleted": path}))
}

/// A time argument: RFC 3339, or a date meaning its midnight UTC; unix seconds.
fn time_arg(value: &str, what: &str) -> Result<i64, ToolError> {
    let v = value.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp());
    }
    Err(ToolError::InvalidArguments(format!(
        "{what} must be an RFC 3339 time (\"2025-03-01T12:00:00Z\") or a date (\"2025-03-01\")"
    )))
}

/// The name, type and time conditions of files_find (favourites and tags aside).
fn find_filter(a: &FindArgs) -> Result<FindFilter, ToolError> {
    let query = non_blank(a.query.clone());
    if let Some(q) = &query {
        if q.chars().any(char::is_control) || q.contains('/') {
            return Err(ToolError::InvalidArguments(
                "query is matched against names only: it cannot contain `/` or control \
                 characters"
                    .into(),
            ));
        }
    }
    let kind = non_blank(a.kind.clone())
        .map(|k| FileKind::parse(&k))
        .transpose()
        .map_err(|e| match e {
            NcError::InvalidInput(m) => ToolError::InvalidArguments(m),
            other => other.into(),
        })?;
    let after = non_blank(a.modified_after.clone())
        .map(|t| time_arg(&t, "modified_after"))
        .transpose()?;
    let before = non_blank(a.modified_before.clone())
        .map(|t| time_arg(&t, "modified_before"))
        .transpose()?;
    if let (Some(after), Some(before)) = (after, before) {
        if after >= before {
            return Err(ToolError::InvalidArguments(
                "modified_after must be earlier than modified_before".into(),
            ));
        }
    }
    Ok(FindFilter {
        name: query,
        kind,
        modified_after: after,
        modified_before: before,
    })
}

async fn files_find(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: FindArgs = parse_args(args)?;
    let filter = find_filter(&a)?;
    let tag = non_blank(a.tag.clone());
    if filter == FindFilter::default() && !a.favorites_only && tag.is_none() {
        return Err(ToolError::InvalidArguments(
            "give a query (part of a name) or another filter: type, modified_after, \
             modified_before, favorites_only, tag"
                .into(),
        ));
    }
    let folder = path_arg(&a.folder, "folder", true)?;
    let dav = ctx.session().await?;
    let (entries, truncated) = if a.favorites_only || tag.is_some() {
        // Favourites and tags are found with REPORT oc:filter-files (one rule; favourites are
        // then told by oc:favorite), the other conditions checked here.
        let tag_id = match &tag {
            Some(name) => {
                let tags = dav.tags_all().await?;
                let found = find_tag(&tags, name)?.ok_or_else(|| {
                    NcError::NotFound(format!(
                        "there is no tag \"{name}\" (list them with files_tags_list)"
                    ))
                })?;
                Some(found.id.clone())
            }
            None => None,
        };
        let files = dav
            .files_filter(
                &folder,
                tag_id.is_none(),
                tag_id.as_deref(),
                MAX_FILTERED + 1,
            )
            .await?;
        let fetched = files.len();
        let mut entries: Vec<FileEntry> = files
            .into_iter()
            .filter(|f| !a.favorites_only || f.favorite)
            .map(|f| f.entry)
            .filter(|e| filter.matches(e))
            .collect();
        entries.sort_by(|x, y| {
            y.last_modified
                .cmp(&x.last_modified)
                .then(x.path.cmp(&y.path))
        });
        let truncated = fetched > MAX_FILTERED || entries.len() > MAX_FIND_RESULTS;
        entries.truncate(MAX_FIND_RESULTS);
        (entries, truncated)
    } else {
        dav.files_find(&folder, &filter, MAX_FIND_RESULTS).await?
    };
    Ok(json!({
        "query": filter.name,
        "folder": folder,
        "count": entries.len(),
        "truncated": truncated,
        "results": entries.iter().map(entry_json).collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_arguments_are_validated() {
        assert_eq!(
            path_arg("/Documents//a.md", "path", false).unwrap(),
            "Documents/a.md"
        );
        assert_eq!(path_arg("/", "path", true).unwrap(), "");
        assert!(matches!(
            path_arg("/", "path", false),
            Err(ToolError::InvalidArguments(_))
        ));
        let err = path_arg("a/../../etc", "path", true).unwrap_err();
        assert!(err.to_string().contains(".."), "{err}");
    }

    fn find_args(pairs: &[(&str, Value)]) -> FindArgs {
        let args: JsonObject = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        parse_args(Some(args)).unwrap()
    }

    #[test]
    fn find_filters_are_read() {
        let f = find_filter(&find_args(&[
            ("type", json!("Spreadsheet")),
            ("modified_after", json!("2025-03-01")),
            ("modified_before", json!("2025-03-02T12:00:00+01:00")),
        ]))
        .unwrap();
        assert_eq!(f.name, None);
        assert!(matches!(f.kind, Some(FileKind::Types(t)) if t.contains(&"text/csv")));
        assert_eq!(f.modified_after, Some(1_740_787_200));
        assert_eq!(f.modified_before, Some(1_740_913_200));
        let q = find_filter(&find_args(&[
            ("query", json!(" rep ")),
            ("type", json!("image/")),
        ]))
        .unwrap();
        assert_eq!(q.name.as_deref(), Some("rep"));
        assert_eq!(q.kind, Some(FileKind::Major("image".into())));
        for bad in [
            vec![("type", json!("pictures"))],
            vec![("modified_after", json!("yesterday"))],
            vec![
                ("modified_after", json!("2025-03-02")),
                ("modified_before", json!("2025-03-01")),
            ],
            vec![("query", json!("a/b"))],
        ] {
            assert!(
                matches!(
                    find_filter(&find_args(&bad)),
                    Err(ToolError::InvalidArguments(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(find_filter(&find_args(&[])).unwrap(), FindFilter::default());
    }

    #[test]
    fn write_args_refuse_unknown_fields() {
        let mut args = JsonObject::new();
        args.insert("path".into(), json!("a.txt"));
        args.insert("content".into(), json!("x"));
        args.insert("mode".into(), json!("append"));
        assert!(parse_args::<WriteArgs>(Some(args)).is_err());
    }
}
