//! fetch: one search result's full content by its id, read through its family's own API
//! after the id's family scope is checked.

use std::collections::BTreeMap;

use base64::Engine;
use rmcp::model::JsonObject;
use serde_json::{json, Value};

use super::{not_permitted, shorten, FetchAnswer, FetchArgs};
use crate::nextcloud::caldav::CALENDARS;
use crate::nextcloud::carddav::ADDRESS_BOOKS;
use crate::nextcloud::files::ReadOutcome;
use crate::nextcloud::paths::encode_segment;
use crate::nextcloud::search::{Family, ItemId};
use crate::nextcloud::tasks::TASKS;
use crate::nextcloud::NcError;
use crate::tools::{answer, parse_args, ToolContext, ToolError, ToolResult};

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

/// Where an item opens in Nextcloud's web UI (the links the providers give).
pub(super) fn item_url(ctx: &ToolContext<'_>, id: &ItemId, user: Option<&str>) -> Option<String> {
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
pub(super) fn property(data: &str, name: &str) -> Option<String> {
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

pub(super) async fn fetch(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
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
