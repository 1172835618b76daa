//! `search` and `fetch` (the shape ChatGPT connectors and deep research call): Nextcloud's
//! unified search over the providers of the families this token may read, and one result's
//! full content by its id, read through the family's own API (see
//! [`crate::nextcloud::search`]). Both need no single scope: each handler checks the scope of
//! every family it touches (`files:read` for files, `notes:read` for notes, …), so a token
//! without `notes:read` neither finds notes nor reads one by id.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::join_all;
use mcp_shared::Scope;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{answer, parse_args, ToolContext, ToolError, ToolResult, ToolSpec};
use crate::nextcloud::search::{Family, ItemId, Page, Provider, MAX_PER_PROVIDER};
use crate::nextcloud::NcError;

/// Results per provider when `limit` is left out.
const DEFAULT_PER_PROVIDER: u32 = 10;
/// Most results of one search answer, over all providers.
const MAX_TOTAL: u32 = 100;
/// Longest query (characters).
const MAX_QUERY_CHARS: usize = 500;
/// How long one provider may take before the search answers without it.
const PROVIDER_DEADLINE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// What to look for (words in names, titles and text, as Nextcloud's search bar).
    pub query: String,
    /// Only these kinds: files, notes, calendar, tasks, contacts, deck, talk. Left out: every
    /// kind this connection may read.
    #[serde(default)]
    pub providers: Option<Vec<String>>,
    /// Results per provider (1–25, default 10); at most 100 in all.
    #[serde(default)]
    #[schemars(range(min = 1, max = 25))]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous answer (same query), for more results.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchArgs {
    /// A result's id from search (e.g. "files:4711", "notes:42", "deck:card/12").
    pub id: String,
}

/// search's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchAnswer {
    /// Grouped by provider in Nextcloud's order, each provider's best first.
    pub results: Vec<Hit>,
    /// Pass as `cursor` (with the same query) for more; null when no provider has more.
    pub next_cursor: Option<String>,
    /// Providers that failed or did not answer in time; the others' results are complete.
    pub failed: Vec<Failed>,
    /// Kinds present on this Nextcloud that were not searched because this connection was not
    /// granted their read scope.
    pub not_permitted: Vec<NotPermitted>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Hit {
    /// Pass to fetch for the full content.
    pub id: String,
    pub title: String,
    /// Where the item opens in Nextcloud.
    pub url: String,
    /// What Nextcloud shows under the title (folder, excerpt, date, board » stack…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    /// files, notes, calendar, tasks, contacts, deck or talk.
    pub provider: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Failed {
    /// Nextcloud's provider id (e.g. "files", "talk-message").
    pub provider: String,
    pub reason: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NotPermitted {
    pub provider: String,
    /// The scope that would let it be searched.
    pub needs_scope: String,
}

/// fetch's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FetchAnswer {
    pub id: String,
    pub title: String,
    /// The full content: a text file, a note (Markdown), an event, task or contact as stored
    /// (iCalendar, vCard), a Deck card's description, Talk messages with their authors.
    pub text: String,
    /// Where the item opens in Nextcloud.
    pub url: Option<String>,
    /// Details of the item by kind (path, content_type, category, board, stack, labels, due,
    /// conversation, author…); `truncated` true when text was cut.
    pub metadata: BTreeMap<String, Value>,
}

/// The read scopes of the families search covers: a token needs one of them to see `search`
/// and `fetch` (and then reaches only those families).
const SEARCHABLE: &[Scope] = &[
    Scope::FilesRead,
    Scope::NotesRead,
    Scope::CalendarRead,
    Scope::TasksRead,
    Scope::ContactsRead,
    Scope::DeckRead,
    Scope::TalkRead,
];

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "search",
        title: "Search Nextcloud",
        description: "Searches the user's Nextcloud (its unified search) across the kinds this \
                      connection may read: files (by name), notes, calendar events, tasks, \
                      contacts, Deck cards and boards, Talk messages and conversations. Returns \
                      results with an id for fetch, a title, a link and a snippet; \
                      providers narrows the kinds; paginated with cursor. Kinds not permitted \
                      and providers that failed are named, the rest still answer.",
        scopes: &[],
        any_of: SEARCHABLE,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<SearchAnswer>),
        requires: None,
        schema: schema_for_type::<SearchArgs>,
        handler: |args, ctx| Box::pin(search(args, ctx)),
    },
    ToolSpec {
        name: "fetch",
        title: "Fetch a search result",
        description: "Returns the full content of one search result by its id: a text file's \
                      content (up to 1 MiB) or a folder's entries, a note, an event, task or \
                      contact as stored (iCalendar/vCard), a Deck card or board, a Talk message \
                      with the messages before it. Needs the read scope of the id's kind.",
        scopes: &[],
        any_of: SEARCHABLE,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<FetchAnswer>),
        requires: None,
        schema: schema_for_type::<FetchArgs>,
        handler: |args, ctx| Box::pin(fetch(args, ctx)),
    },
];

/// Each tool's pinned hints (see `Hints`): one row per tool of this file.
#[cfg(test)]
pub(super) const HINTS: &[super::Hints] = &[
    ("search", true, false, true, false, None),
    ("fetch", true, false, true, false, None),
];

/// The scope refusal for a family (as the HTTP guard's 403 `insufficient_scope` would say it).
fn not_permitted(family: Family, what: &str) -> ToolError {
    ToolError::Unavailable(format!(
        "insufficient scope: {what} needs the `{}` scope, which this connection was not \
         granted; do not retry; the user can reconnect granting it",
        family.scope()
    ))
}

/// What search's cursor carries: the query and each provider's Nextcloud cursor.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct CursorState {
    q: String,
    p: Vec<(String, String)>,
}

fn encode_cursor(state: &CursorState) -> String {
    super::paging::encode_cursor(state)
}

fn decode_cursor(cursor: &str) -> Result<CursorState, ToolError> {
    super::paging::decode_cursor(cursor, "cursor is not a next_cursor from search")
}

fn shorten(text: &str, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((at, _)) => (format!("{}…", &text[..at]), true),
        None => (text.to_owned(), false),
    }
}

/// The families asked for (all when left out).
fn families(asked: Option<&[String]>) -> Result<Vec<Family>, ToolError> {
    let asked: Vec<Family> = match asked {
        None => Family::ALL.to_vec(),
        Some(names) => names
            .iter()
            .map(|n| {
                Family::from_name(n.trim()).ok_or_else(|| {
                    ToolError::InvalidArguments(format!(
                        "unknown provider \"{}\": use files, notes, calendar, tasks, contacts, \
                         deck or talk",
                        n.chars().take(40).collect::<String>()
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(asked)
}

/// One provider's outcome.
enum Outcome {
    Page(Page),
    Failed(NcError),
    TimedOut,
}

async fn search(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    search_within(parse_args(args)?, ctx, PROVIDER_DEADLINE).await
}

/// search, each provider given `deadline` to answer.
async fn search_within(a: SearchArgs, ctx: &ToolContext<'_>, deadline: Duration) -> ToolResult {
    let query = a.query.trim().to_owned();
    if query.is_empty() {
        return Err(ToolError::InvalidArguments(
            "query must not be empty".into(),
        ));
    }
    if query.chars().count() > MAX_QUERY_CHARS || query.chars().any(char::is_control) {
        return Err(ToolError::InvalidArguments(format!(
            "query must be one line of at most {MAX_QUERY_CHARS} characters"
        )));
    }
    let limit = a.limit.unwrap_or(DEFAULT_PER_PROVIDER);
    if !(1..=MAX_PER_PROVIDER).contains(&limit) {
        return Err(ToolError::InvalidArguments(format!(
            "limit must be 1 to {MAX_PER_PROVIDER} (results per provider)"
        )));
    }
    let wanted = families(a.providers.as_deref())?;
    let permitted: Vec<Family> = wanted
        .iter()
        .copied()
        .filter(|f| ctx.principal.has(&[f.scope()]))
        .collect();
    if permitted.is_empty() {
        let scopes: Vec<String> = wanted.iter().map(|f| format!("`{}`", f.scope())).collect();
        return Err(ToolError::Unavailable(format!(
            "insufficient scope: searching needs at least one of {} (the kinds asked for), \
             none of which this connection was granted; do not retry",
            scopes.join(", ")
        )));
    }
    let cursor = a.cursor.as_deref().map(decode_cursor).transpose()?;
    if cursor.as_ref().is_some_and(|c| c.q != query) {
        return Err(ToolError::InvalidArguments(
            "this cursor belongs to another query: search again without cursor".into(),
        ));
    }

    let providers = ctx.nextcloud.search_providers(&ctx.auth).await?;
    let mut targets: Vec<(Provider, Family, Option<String>)> = Vec::new();
    let mut denied = Vec::new();
    for provider in providers {
        let Some(family) = Family::of_provider(&provider.id) else {
            continue;
        };
        if !wanted.contains(&family) {
            continue;
        }
        if !permitted.contains(&family) {
            denied.push(NotPermitted {
                provider: provider.id,
                needs_scope: family.scope().to_string(),
            });
            continue;
        }
        let next = match &cursor {
            None => None,
            Some(state) => match state.p.iter().find(|(id, _)| *id == provider.id) {
                Some((_, c)) => Some(c.clone()),
                // That provider had given everything.
                None => continue,
            },
        };
        targets.push((provider, family, next));
    }
    let per_provider = if targets.is_empty() {
        limit
    } else {
        limit.min((MAX_TOTAL / targets.len() as u32).max(1))
    };

    let outcomes = join_all(targets.iter().map(|(provider, _, next)| {
        let id = provider.id.as_str();
        let query = query.as_str();
        async move {
            let call =
                ctx.nextcloud
                    .search_provider(&ctx.auth, id, query, per_provider, next.as_deref());
            match tokio::time::timeout(deadline, call).await {
                Ok(Ok(page)) => Outcome::Page(page),
                Ok(Err(e)) => Outcome::Failed(e),
                Err(_) => Outcome::TimedOut,
            }
        }
    }))
    .await;

    let mut results = Vec::new();
    let mut failed = Vec::new();
    let mut more = Vec::new();
    for ((provider, family, _), outcome) in targets.iter().zip(outcomes) {
        let page = match outcome {
            Outcome::Page(page) => page,
            // The credential itself is refused: the whole call fails (and is retried once
            // with a fresh one by the service).
            Outcome::Failed(NcError::Unauthorized) => {
                return Err(ToolError::Nextcloud(NcError::Unauthorized))
            }
            Outcome::Failed(e) => {
                failed.push(Failed {
                    provider: provider.id.clone(),
                    reason: shorten(&e.to_string(), 300).0,
                });
                continue;
            }
            Outcome::TimedOut => {
                failed.push(Failed {
                    provider: provider.id.clone(),
                    reason: format!("no answer within {} seconds", deadline.as_secs_f32()),
                });
                continue;
            }
        };
        let full = page.entries.len() >= per_provider as usize;
        for entry in page.entries.iter().take(per_provider as usize) {
            let Some(id) = ItemId::of_entry(&provider.id, entry) else {
                continue;
            };
            let url = absolute_url(ctx, &entry.resource_url)
                .or_else(|| item_url(ctx, &id, None))
                .unwrap_or_default();
            let snippet = entry.subline.trim();
            results.push(Hit {
                id: id.to_string(),
                title: entry.title.clone(),
                url,
                snippet: (!snippet.is_empty()).then(|| shorten(snippet, 500).0),
                provider: family.name().to_owned(),
            });
        }
        if let (true, true, Some(c)) = (page.is_paginated, full, page.cursor) {
            more.push((provider.id.clone(), c));
        }
    }
    let next_cursor = (!more.is_empty()).then(|| encode_cursor(&CursorState { q: query, p: more }));
    answer(&SearchAnswer {
        results,
        next_cursor,
        failed,
        not_permitted: denied,
    })
}

/// A result's link as Nextcloud gave it (made absolute on the Nextcloud URL if it was not).
fn absolute_url(ctx: &ToolContext<'_>, url: &str) -> Option<String> {
    let url = url.trim();
    if url.starts_with("https://") || url.starts_with("http://") {
        return Some(url.to_owned());
    }
    if url.starts_with('/') {
        return ctx.nextcloud.url(url).ok().map(String::from);
    }
    None
}

mod fetch;
#[cfg(test)]
mod tests;

use fetch::{fetch, item_url};
