//! `search` and `fetch` (the shape ChatGPT connectors and deep research call): Nextcloud's
//! unified search over the providers of the families this token may read, and one result's
//! full content by its id, read through the family's own API (see
//! [`crate::nextcloud::search`]). Both need no single scope: each handler checks the scope of
//! every family it touches (`files:read` for files, `notes:read` for notes, …), so a token
//! without `notes:read` neither finds notes nor reads one by id.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use futures_util::future::join_all;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{answer, parse_args, ToolContext, ToolError, ToolResult, ToolSpec};
use crate::nextcloud::caldav::CALENDARS;
use crate::nextcloud::carddav::ADDRESS_BOOKS;
use crate::nextcloud::files::ReadOutcome;
use crate::nextcloud::paths::encode_segment;
use crate::nextcloud::search::{Family, ItemId, Page, Provider, MAX_PER_PROVIDER};
use crate::nextcloud::tasks::TASKS;
use crate::nextcloud::NcError;

/// Results per provider when `limit` is left out.
const DEFAULT_PER_PROVIDER: u32 = 10;
/// Most results of one search answer, over all providers.
const MAX_TOTAL: u32 = 100;
/// Longest query (characters).
const MAX_QUERY_CHARS: usize = 500;
/// How long one provider may take before the search answers without it.
const PROVIDER_DEADLINE: Duration = Duration::from_secs(15);
/// Largest file `fetch` reads (as files_read).
const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Longest `text` of a fetch answer (characters); the rest is cut and `truncated` set.
const MAX_TEXT_CHARS: usize = 200_000;
/// Most Deck boards looked through for a card.
const MAX_DECK_BOARDS: usize = 100;
/// Messages before a Talk message that come with it.
const TALK_CONTEXT: u32 = 10;
/// Messages of a conversation fetched by its token.
const TALK_RECENT: u32 = 30;
/// Most entries of a folder's listing.
const MAX_FOLDER_ENTRIES: usize = 500;

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
    let json = serde_json::to_vec(state).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(cursor: &str) -> Result<CursorState, ToolError> {
    let bad = || ToolError::InvalidArguments("cursor is not a next_cursor from search".into());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
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

/// Where an item opens in Nextcloud's web UI (the links the providers give).
fn item_url(ctx: &ToolContext<'_>, id: &ItemId, user: Option<&str>) -> Option<String> {
    let path = match id {
        ItemId::File(n) => format!("index.php/f/{n}"),
        ItemId::Note(n) => format!("index.php/apps/notes/note/{n}"),
        ItemId::Event { calendar, object } => {
            let dav = format!("/remote.php/dav/calendars/{}/{calendar}/{object}", user?);
            format!(
                "index.php/apps/calendar/edit/{}",
                encode_segment(&base64::engine::general_purpose::STANDARD.encode(dav))
            )
        }
        ItemId::Task { calendar, object } => format!(
            "index.php/apps/tasks/#/calendars/{}/tasks/{}",
            encode_segment(calendar),
            encode_segment(object)
        ),
        ItemId::Contact { book, uid } => format!(
            "index.php/apps/contacts/direct/contact/{}",
            encode_segment(&format!("{uid}~{book}"))
        ),
        ItemId::DeckCard(n) => format!("index.php/apps/deck/card/{n}"),
        ItemId::DeckBoard(n) => format!("index.php/apps/deck/board/{n}"),
        ItemId::TalkMessage { token, message } => {
            format!("index.php/call/{token}#message_{message}")
        }
        ItemId::TalkConversation(token) => format!("index.php/call/{token}"),
    };
    ctx.nextcloud.url(&path).ok().map(String::from)
}

/// The value of an iCalendar/vCard property (first occurrence, unfolded, unescaped).
fn property(data: &str, name: &str) -> Option<String> {
    let unfolded = data
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
        .replace("\n ", "")
        .replace("\n\t", "");
    unfolded.lines().find_map(|line| {
        let (head, value) = line.split_once(':')?;
        let key = head.split(';').next()?;
        key.eq_ignore_ascii_case(name).then(|| {
            value
                .trim_end_matches('\r')
                .replace("\\n", "\n")
                .replace("\\N", "\n")
                .replace("\\,", ",")
                .replace("\\;", ";")
                .replace("\\\\", "\\")
        })
    })
}

async fn fetch(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: FetchArgs = parse_args(args)?;
    let id = ItemId::parse(a.id.trim()).map_err(|e| match e {
        NcError::InvalidInput(m) => ToolError::InvalidArguments(m),
        e => ToolError::Nextcloud(e),
    })?;
    let family = id.family();
    if !ctx.principal.has(&[family.scope()]) {
        return Err(not_permitted(
            family,
            &format!("reading {} items", family.name()),
        ));
    }
    let mut metadata: BTreeMap<String, Value> = BTreeMap::new();
    let (title, text, user) = match &id {
        ItemId::File(n) => {
            let session = ctx.session().await?;
            let entry = session.files_by_id(*n).await?.ok_or_else(|| {
                NcError::NotFound(format!(
                    "there is no file with id {n} (deleted, or no longer shared with the user)"
                ))
            })?;
            metadata.insert("path".into(), json!(entry.path));
            metadata.insert("type".into(), json!(entry.kind));
            if let Some(m) = &entry.last_modified {
                metadata.insert("last_modified".into(), json!(m));
            }
            let text = if entry.is_folder() {
                let entries = session.files_list(&entry.path).await?;
                metadata.insert("entries".into(), json!(entries.len()));
                entries
                    .iter()
                    .take(MAX_FOLDER_ENTRIES)
                    .map(|e| {
                        if e.is_folder() {
                            format!("{}/", e.name)
                        } else {
                            e.name.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                match session.files_read_text(&entry.path, MAX_FILE_BYTES).await? {
                    ReadOutcome::Text(file) => {
                        metadata.insert("content_type".into(), json!(file.content_type));
                        metadata.insert("encoding".into(), json!(file.encoding));
                        metadata.insert("etag".into(), json!(file.etag));
                        file.content
                    }
                    ReadOutcome::TooLarge => {
                        return Err(ToolError::InvalidArguments(format!(
                            "\"{}\" is larger than {} KiB, too large to fetch; open it in \
                             Nextcloud",
                            entry.path,
                            MAX_FILE_BYTES / 1024
                        )))
                    }
                    ReadOutcome::Binary(ct) => {
                        return Err(ToolError::InvalidArguments(format!(
                            "\"{}\" is not a text file ({ct}); only text files can be fetched",
                            entry.path
                        )))
                    }
                }
            };
            (entry.name.clone(), text, None)
        }
        ItemId::Note(n) => {
            let note = ctx.nextcloud.notes_get(&ctx.auth, *n).await?;
            metadata.insert("category".into(), json!(note.category));
            metadata.insert("favorite".into(), json!(note.favorite));
            metadata.insert("modified".into(), json!(rfc3339(note.modified)));
            (note.title, note.content, None)
        }
        ItemId::Event { calendar, object } | ItemId::Task { calendar, object } => {
            let session = ctx.session().await?;
            let kind = if family == Family::Tasks {
                &TASKS
            } else {
                &CALENDARS
            };
            let found = session
                .get_object(kind, calendar, object)
                .await?
                .ok_or_else(|| kind.object_not_found(calendar, object))?;
            metadata.insert("calendar".into(), json!(calendar));
            metadata.insert("content_type".into(), json!("text/calendar"));
            for (key, prop) in [
                ("start", "DTSTART"),
                ("end", "DTEND"),
                ("due", "DUE"),
                ("status", "STATUS"),
                ("location", "LOCATION"),
            ] {
                if let Some(v) = property(&found.data, prop) {
                    metadata.insert(key.into(), json!(v));
                }
            }
            let title = property(&found.data, "SUMMARY").unwrap_or_else(|| object.clone());
            (title, found.data, Some(session.user().to_owned()))
        }
        ItemId::Contact { book, uid } => {
            let session = ctx.session().await?;
            let found = session.find_object(&ADDRESS_BOOKS, book, uid).await?;
            metadata.insert("address_book".into(), json!(book));
            metadata.insert("content_type".into(), json!("text/vcard"));
            let title = property(&found.data, "FN").unwrap_or_else(|| uid.clone());
            (title, found.data, None)
        }
        ItemId::DeckCard(n) => fetch_card(ctx, *n, &mut metadata).await?,
        ItemId::DeckBoard(n) => {
            let board = ctx.nextcloud.deck_board(&ctx.auth, *n).await?;
            let stacks = ctx.nextcloud.deck_stacks(&ctx.auth, *n, false).await?;
            metadata.insert("owner".into(), json!(board.owner.name));
            metadata.insert("archived".into(), json!(board.archived));
            let mut text = String::new();
            let mut stacks: Vec<_> = stacks.into_iter().filter(|s| s.deleted_at == 0).collect();
            stacks.sort_by_key(|s| s.order);
            for stack in &stacks {
                text.push_str(&format!("## {}\n", stack.title));
                let mut cards: Vec<_> = stack.cards.iter().filter(|c| c.deleted_at == 0).collect();
                cards.sort_by_key(|c| c.order);
                for card in cards {
                    text.push_str(&format!("- {} (deck:card/{})\n", card.title, card.id));
                }
                text.push('\n');
            }
            (board.title, text, None)
        }
        ItemId::TalkMessage { token, message } => {
            let history = ctx
                .nextcloud
                .talk_history(&ctx.auth, token, TALK_CONTEXT + 1, Some(message + 1))
                .await?;
            let found = history
                .messages
                .iter()
                .find(|m| m.id == *message)
                .ok_or_else(|| {
                    NcError::NotFound(format!(
                        "there is no message {message} in conversation {token} (deleted or \
                         expired)"
                    ))
                })?;
            metadata.insert("conversation".into(), json!(token));
            metadata.insert("author".into(), json!(found.actor_display_name));
            metadata.insert("author_id".into(), json!(found.actor_id));
            metadata.insert("time".into(), json!(rfc3339(found.timestamp)));
            let room = conversation_name(ctx, token).await;
            let mut lines: Vec<String> = history
                .messages
                .iter()
                .filter(|m| m.id <= *message && !m.is_system())
                .map(talk_line)
                .collect();
            lines.reverse();
            let title = format!(
                "{} in {}",
                found.actor_display_name,
                room.as_deref().unwrap_or(token)
            );
            (title, lines.join("\n"), None)
        }
        ItemId::TalkConversation(token) => {
            let history = ctx
                .nextcloud
                .talk_history(&ctx.auth, token, TALK_RECENT, None)
                .await?;
            metadata.insert("conversation".into(), json!(token));
            let room = conversation_name(ctx, token).await;
            let mut lines: Vec<String> = history
                .messages
                .iter()
                .filter(|m| !m.is_system())
                .map(talk_line)
                .collect();
            lines.reverse();
            (
                room.unwrap_or_else(|| token.clone()),
                lines.join("\n"),
                None,
            )
        }
    };
    let (text, truncated) = shorten(&text, MAX_TEXT_CHARS);
    metadata.insert("truncated".into(), json!(truncated));
    metadata.insert("provider".into(), json!(family.name()));
    answer(&FetchAnswer {
        id: id.to_string(),
        title,
        text,
        url: item_url(ctx, &id, user.as_deref()),
        metadata,
    })
}

fn rfc3339(unix: i64) -> Option<String> {
    (unix > 0)
        .then(|| chrono::DateTime::from_timestamp(unix, 0))
        .flatten()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn talk_line(m: &crate::nextcloud::talk::Message) -> String {
    format!(
        "[{}] {} ({}): {}",
        m.id,
        m.actor_display_name,
        rfc3339(m.timestamp).unwrap_or_default(),
        m.text()
    )
}

/// The conversation's name, if the list of conversations says it (not needed for the answer).
async fn conversation_name(ctx: &ToolContext<'_>, token: &str) -> Option<String> {
    let rooms = ctx.nextcloud.talk_rooms(&ctx.auth).await.ok()?;
    rooms
        .into_iter()
        .find(|r| r.token == token)
        .map(|r| r.display_name)
}

/// A Deck card by id alone (Deck 1.16's REST API reads a card only under its board and
/// stack): looked for in the user's boards, archived cards last.
async fn fetch_card(
    ctx: &ToolContext<'_>,
    id: i64,
    metadata: &mut BTreeMap<String, Value>,
) -> Result<(String, String, Option<String>), ToolError> {
    let boards = ctx.nextcloud.deck_boards(&ctx.auth).await?;
    for archived in [false, true] {
        for board in boards
            .iter()
            .filter(|b| b.deleted_at == 0)
            .take(MAX_DECK_BOARDS)
        {
            let stacks = ctx
                .nextcloud
                .deck_stacks(&ctx.auth, board.id, archived)
                .await?;
            for stack in &stacks {
                if !stack.cards.iter().any(|c| c.id == id && c.deleted_at == 0) {
                    continue;
                }
                let card = ctx
                    .nextcloud
                    .deck_card(&ctx.auth, board.id, stack.id, id)
                    .await?;
                metadata.insert("board".into(), json!(board.title));
                metadata.insert("board_id".into(), json!(board.id));
                metadata.insert("stack".into(), json!(stack.title));
                metadata.insert("stack_id".into(), json!(stack.id));
                metadata.insert(
                    "labels".into(),
                    json!(card.labels.iter().map(|l| &l.title).collect::<Vec<_>>()),
                );
                metadata.insert(
                    "assigned".into(),
                    json!(card
                        .assigned_users
                        .iter()
                        .map(|a| &a.participant.id)
                        .collect::<Vec<_>>()),
                );
                metadata.insert("due".into(), json!(card.duedate));
                metadata.insert("done".into(), json!(card.done));
                metadata.insert("archived".into(), json!(card.archived));
                metadata.insert("last_modified".into(), json!(rfc3339(card.last_modified)));
                return Ok((card.title, card.description.unwrap_or_default(), None));
            }
        }
    }
    Err(NcError::NotFound(format!(
        "there is no Deck card {id} on the user's boards (deleted, or the board is no longer \
         shared with the user)"
    ))
    .into())
}

#[cfg(test)]
mod tests;
