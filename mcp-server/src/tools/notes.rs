//! Notes tools (Nextcloud Notes app, API v1).

use mcp_shared::Scope;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{parse_args, ToolContext, ToolError, ToolResult, ToolSpec};
use crate::nextcloud::capabilities::App;
use crate::nextcloud::notes::{Note, NoteChanges};
use crate::nextcloud::NcError;

const MAX_SEARCH_RESULTS: usize = 50;
const SNIPPET_CHARS: usize = 160;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Only notes in this category (exact match, e.g. "Work" or "Work/Projects").
    #[serde(default)]
    pub category: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// Words to look for in titles and contents (case-insensitive; every word must appear).
    pub query: String,
    /// Only notes in this category.
    #[serde(default)]
    pub category: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdArgs {
    /// The note id (from notes_list or notes_search).
    pub id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    /// Title of the note. If left out, the first line of the content becomes the title.
    #[serde(default)]
    pub title: Option<String>,
    /// The note text (Markdown).
    pub content: String,
    /// Category (folder), e.g. "Work". Empty or left out: no category.
    #[serde(default)]
    pub category: Option<String>,
    /// Mark the note as a favourite.
    #[serde(default)]
    pub favorite: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    /// The note id.
    pub id: i64,
    /// The note's ETag as returned by notes_get (or a previous update). If the note changed
    /// since, the update is refused as a conflict instead of overwriting the other change.
    pub etag: String,
    /// New title (left out: unchanged).
    #[serde(default)]
    pub title: Option<String>,
    /// New full content, replacing the old (left out: unchanged).
    #[serde(default)]
    pub content: Option<String>,
    /// New category (left out: unchanged).
    #[serde(default)]
    pub category: Option<String>,
    /// Favourite flag (left out: unchanged).
    #[serde(default)]
    pub favorite: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendArgs {
    /// The note id.
    pub id: i64,
    /// Text to add at the end of the note (on a new line).
    pub text: String,
}

/// notes_list's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NoteList {
    pub count: usize,
    pub notes: Vec<NoteSummary>,
}

/// A note without its content.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NoteSummary {
    pub id: i64,
    pub title: String,
    /// "" when the note has no category.
    pub category: String,
    pub favorite: bool,
    /// Last change, Unix time in seconds.
    pub modified: i64,
}

impl From<&Note> for NoteSummary {
    fn from(note: &Note) -> Self {
        Self {
            id: note.id,
            title: note.title.clone(),
            category: note.category.clone(),
            favorite: note.favorite,
            modified: note.modified,
        }
    }
}

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "notes_list",
        title: "List notes",
        description: "Lists the user's notes (id, title, category, favourite, last modified; \
                      no content). Optionally only one category.",
        scopes: &[Scope::NotesRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<NoteList>),
        requires: Some(App::Notes),
        schema: schema_for_type::<ListArgs>,
        handler: |args, ctx| Box::pin(notes_list(args, ctx)),
    },
    ToolSpec {
        name: "notes_search",
        title: "Search notes",
        description: "Finds notes whose title or content contains every word of the query \
                      (case-insensitive). Returns ids, titles and a snippet; use notes_get for \
                      the full text.",
        scopes: &[Scope::NotesRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: None,
        requires: Some(App::Notes),
        schema: schema_for_type::<SearchArgs>,
        handler: |args, ctx| Box::pin(notes_search(args, ctx)),
    },
    ToolSpec {
        name: "notes_get",
        title: "Read a note",
        description: "Returns one note with its full content and its ETag (needed by \
                      notes_update).",
        scopes: &[Scope::NotesRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: None,
        requires: Some(App::Notes),
        schema: schema_for_type::<IdArgs>,
        handler: |args, ctx| Box::pin(notes_get(args, ctx)),
    },
    ToolSpec {
        name: "notes_create",
        title: "Create a note",
        description: "Creates a note and returns it with its id and ETag.",
        scopes: &[Scope::NotesWrite],
        any_of: &[],
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: false,
        output: None,
        requires: Some(App::Notes),
        schema: schema_for_type::<CreateArgs>,
        handler: |args, ctx| Box::pin(notes_create(args, ctx)),
    },
    ToolSpec {
        name: "notes_update",
        title: "Update a note",
        description: "Changes a note's title, content, category or favourite flag. Requires \
                      the ETag from notes_get: if the note changed in the meantime the update \
                      is refused (conflict) and nothing is overwritten; read it again and retry.",
        scopes: &[Scope::NotesWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: None,
        requires: Some(App::Notes),
        schema: schema_for_type::<UpdateArgs>,
        handler: |args, ctx| Box::pin(notes_update(args, ctx)),
    },
    ToolSpec {
        name: "notes_append",
        title: "Append to a note",
        description: "Adds text at the end of a note, keeping what is there. Safe against \
                      concurrent edits (it retries once if the note changed while appending).",
        scopes: &[Scope::NotesWrite],
        any_of: &[],
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: false,
        output: None,
        requires: Some(App::Notes),
        schema: schema_for_type::<AppendArgs>,
        handler: |args, ctx| Box::pin(notes_append(args, ctx)),
    },
    ToolSpec {
        name: "notes_delete",
        title: "Delete a note",
        description: "Deletes a note permanently.",
        scopes: &[Scope::NotesWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: None,
        requires: Some(App::Notes),
        schema: schema_for_type::<IdArgs>,
        handler: |args, ctx| Box::pin(notes_delete(args, ctx)),
    },
];

fn summary(note: &Note) -> Value {
    serde_json::to_value(NoteSummary::from(note)).unwrap_or(Value::Null)
}

fn full(note: &Note) -> Value {
    json!({
        "id": note.id,
        "title": note.title,
        "category": note.category,
        "favorite": note.favorite,
        "modified": note.modified,
        "etag": note.etag,
        "readonly": note.readonly,
        "content": note.content,
    })
}

/// Up to `SNIPPET_CHARS` characters around the first match of `word`.
fn snippet(content: &str, word: &str) -> String {
    let lower = content.to_lowercase();
    // Work in characters: byte offsets of the lowercased text need not match the original's.
    let chars: Vec<char> = content.chars().collect();
    let at = lower
        .find(word)
        .map(|byte| lower[..byte].chars().count())
        .unwrap_or(0)
        .min(chars.len());
    let start = at.saturating_sub(SNIPPET_CHARS / 4);
    let end = (start + SNIPPET_CHARS).min(chars.len());
    let mut s: String = chars[start..end].iter().collect();
    s = s.replace('\n', " ");
    if start > 0 {
        s.insert(0, '…');
    }
    if end < chars.len() {
        s.push('…');
    }
    s
}

/// The first non-empty line of `content`, without Markdown heading marks, at most 100 chars.
fn title_from(content: &str) -> Option<String> {
    let line = content.lines().map(str::trim).find(|l| !l.is_empty())?;
    let title: String = line
        .trim_start_matches('#')
        .trim()
        .chars()
        .take(100)
        .collect();
    (!title.is_empty()).then_some(title)
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

async fn notes_list(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let nc = ctx.nextcloud;
    let auth = &ctx.auth;
    let a: ListArgs = parse_args(args)?;
    let notes = nc
        .notes_list(auth, non_blank(a.category).as_deref(), false)
        .await?;
    super::answer(&NoteList {
        count: notes.len(),
        notes: notes.iter().map(NoteSummary::from).collect(),
    })
}

async fn notes_search(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let nc = ctx.nextcloud;
    let auth = &ctx.auth;
    let a: SearchArgs = parse_args(args)?;
    let words: Vec<String> = a.query.split_whitespace().map(str::to_lowercase).collect();
    if words.is_empty() {
        return Err(ToolError::InvalidArguments(
            "query must contain a word".into(),
        ));
    }
    let notes = nc
        .notes_list(auth, non_blank(a.category).as_deref(), true)
        .await?;
    let mut hits: Vec<&Note> = notes
        .iter()
        .filter(|n| {
            let hay = format!("{}\n{}", n.title, n.content).to_lowercase();
            words.iter().all(|w| hay.contains(w.as_str()))
        })
        .collect();
    hits.sort_by_key(|n| std::cmp::Reverse(n.modified));
    let total = hits.len();
    let results: Vec<Value> = hits
        .into_iter()
        .take(MAX_SEARCH_RESULTS)
        .map(|n| {
            let mut v = summary(n);
            v["snippet"] = Value::String(snippet(&n.content, &words[0]));
            v
        })
        .collect();
    Ok(json!({"count": total, "truncated": total > MAX_SEARCH_RESULTS, "notes": results}))
}

async fn notes_get(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let nc = ctx.nextcloud;
    let auth = &ctx.auth;
    let a: IdArgs = parse_args(args)?;
    Ok(full(&nc.notes_get(auth, a.id).await?))
}

async fn notes_create(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let nc = ctx.nextcloud;
    let auth = &ctx.auth;
    let a: CreateArgs = parse_args(args)?;
    let note = nc
        .notes_create(
            auth,
            &NoteChanges {
                title: non_blank(a.title).or_else(|| title_from(&a.content)),
                content: Some(a.content),
                category: a.category,
                favorite: a.favorite,
            },
        )
        .await?;
    Ok(full(&note))
}

async fn notes_update(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let nc = ctx.nextcloud;
    let auth = &ctx.auth;
    let a: UpdateArgs = parse_args(args)?;
    if a.title.is_none() && a.content.is_none() && a.category.is_none() && a.favorite.is_none() {
        return Err(ToolError::InvalidArguments(
            "nothing to change: give title, content, category or favorite".into(),
        ));
    }
    let changes = NoteChanges {
        title: a.title,
        content: a.content,
        category: a.category,
        favorite: a.favorite,
    };
    Ok(full(&nc.notes_update(auth, a.id, &a.etag, &changes).await?))
}

async fn notes_append(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let nc = ctx.nextcloud;
    let auth = &ctx.auth;
    let a: AppendArgs = parse_args(args)?;
    let mut attempt = 0;
    loop {
        let note = nc.notes_get(auth, a.id).await?;
        let mut content = note.content.clone();
        if !content.is_empty() && !content.ends_with('\n') {
            content.push('\n');
        }
        content.push_str(&a.text);
        let changes = NoteChanges {
            content: Some(content),
            ..NoteChanges::default()
        };
        match nc.notes_update(auth, a.id, &note.etag, &changes).await {
            Ok(updated) => return Ok(full(&updated)),
            Err(NcError::Conflict(_)) if attempt == 0 => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

async fn notes_delete(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let nc = ctx.nextcloud;
    let auth = &ctx.auth;
    let a: IdArgs = parse_args(args)?;
    nc.notes_delete(auth, a.id).await?;
    Ok(json!({"deleted": a.id}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_handle_multibyte_text() {
        let s = snippet("Größe — ÜBER alles: Straße", "straße");
        assert!(s.contains("Straße"));
        let long = format!("{}needle{}", "ä".repeat(300), "ö".repeat(300));
        let s = snippet(&long, "needle");
        assert!(s.contains("needle") && s.starts_with('…') && s.ends_with('…'));
    }
}
