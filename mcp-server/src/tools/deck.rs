//! Deck tools (Deck REST API and its OCS comments, see [`crate::nextcloud::deck`]; scopes
//! `deck:read`, `deck:write`; they need [`App::Deck`]). Assigning people and commenting reach
//! other people (Deck notifies them), so those are tools of their own, destructive and
//! open-world; plain card edits are not.
//!
//! Deck's REST API takes only app passwords on a stock Nextcloud: with the bearer credential
//! strategy every tool but deck_comment is answered with a message saying so (see
//! [`NEEDS_APP_PASSWORD`]).

use std::future::Future;

use mcp_shared::Scope;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

mod answers;

pub use answers::*;

use super::{answer, parse_args, ToolContext, ToolError, ToolResult, ToolSpec};
use crate::nextcloud::capabilities::App;
use crate::nextcloud::deck::{
    Board, Card, CardAction, CardBody, Comment, NewCard, Stack, Target, MAX_COMMENTS,
    NEEDS_APP_PASSWORD,
};
use crate::nextcloud::NcError;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;
const DEFAULT_COMMENTS: u32 = 20;
/// Deck's limits (`lib/Validators/*ServiceValidator.php`, `IComment::MAX_MESSAGE_LENGTH`).
const MAX_CARD_TITLE: usize = 255;
const MAX_TITLE: usize = 100;
const MAX_COMMENT_CHARS: usize = 1000;
/// The same comment posted again within this many seconds is taken for a retry.
const RETRY_WINDOW_SECS: i64 = 300;
/// Nextcloud's blue, for a board made without a colour.
const DEFAULT_COLOR: &str = "0082c9";
/// Most label or assignment changes in one call.
const MAX_CHANGES: usize = 20;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Also list archived boards.
    #[serde(default)]
    pub include_archived: bool,
    /// Most boards to return (1–200, default 50).
    #[serde(default)]
    pub limit: Option<usize>,
    /// The next_cursor of the previous answer, for the next page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoardArgs {
    /// The board's id (from deck_list_boards).
    pub board_id: i64,
    /// Only the cards of this stack (column).
    #[serde(default)]
    pub stack_id: Option<i64>,
    /// Also the archived cards (after the others of their stack).
    #[serde(default)]
    pub include_archived_cards: bool,
    /// Most cards to return (1–200, default 50), stack by stack in board order.
    #[serde(default)]
    pub limit: Option<usize>,
    /// The next_cursor of the previous answer, for the next cards.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CardArgs {
    /// The board the card is on.
    pub board_id: i64,
    /// The card's id (deck_get_board lists them).
    pub card_id: i64,
    /// Most comments to return, newest first (0–200, default 20).
    #[serde(default)]
    pub comments_limit: Option<u32>,
    /// The next_comments_cursor of the previous answer, for older comments.
    #[serde(default)]
    pub comments_cursor: Option<String>,
}

/// What deck_create and deck_delete act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Board,
    Stack,
    Card,
    Label,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    /// What to create: board, stack (a column of a board), card, or label.
    pub kind: Kind,
    /// Title (a card up to 255 characters, anything else up to 100).
    pub title: String,
    /// The board to add a stack, card or label to.
    #[serde(default)]
    pub board_id: Option<i64>,
    /// For a card: the stack (column) it goes into, at the bottom.
    #[serde(default)]
    pub stack_id: Option<i64>,
    /// For a card: its description (Markdown).
    #[serde(default)]
    pub description: Option<String>,
    /// For a card: due date and time, RFC 3339 with an offset (2026-12-11T17:00:00+01:00).
    #[serde(default)]
    pub due: Option<String>,
    /// For a card: ids of labels of the board to put on it.
    #[serde(default)]
    pub labels: Vec<i64>,
    /// For a board or label: colour as six hex digits (e.g. "0082c9").
    #[serde(default)]
    pub color: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    /// The board the card is on.
    pub board_id: i64,
    /// The card's id (deck_get_board lists them).
    pub card_id: i64,
    /// New title (up to 255 characters).
    #[serde(default)]
    pub title: Option<String>,
    /// New description (Markdown), replacing the old one.
    #[serde(default)]
    pub description: Option<String>,
    /// New due date and time, RFC 3339 with an offset; null removes the due date.
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<String>")]
    pub due: Option<Option<String>>,
    /// true marks the card done (now), false not done.
    #[serde(default)]
    pub done: Option<bool>,
    /// true archives the card, false brings it back.
    #[serde(default)]
    pub archived: Option<bool>,
    /// Move the card to this stack (column) of the same board, at the bottom unless position.
    #[serde(default)]
    pub stack_id: Option<i64>,
    /// Position in its (new) stack: 0 is the top.
    #[serde(default)]
    pub position: Option<i64>,
    /// Ids of board labels to put on the card.
    #[serde(default)]
    pub add_labels: Vec<i64>,
    /// Ids of labels to take off the card.
    #[serde(default)]
    pub remove_labels: Vec<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignArgs {
    /// The board the card is on.
    pub board_id: i64,
    /// The card's id (deck_get_board lists them).
    pub card_id: i64,
    /// User ids (login names) to assign; each must be a member of the board and is notified.
    #[serde(default)]
    pub assign: Vec<String>,
    /// User ids to take off the card.
    #[serde(default)]
    pub unassign: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    /// What to delete: board, stack (with its cards), card, or label.
    pub kind: Kind,
    /// The board (the one to delete, or the one the stack, card or label is on).
    pub board_id: i64,
    /// The stack, card or label id (not for a board).
    #[serde(default)]
    pub id: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentArgs {
    /// The card's id (deck_get_board lists them).
    pub card_id: i64,
    /// The comment (up to 1000 characters). @userid mentions (and notifies) that user.
    pub message: String,
    /// Id of a comment on the same card to reply to.
    #[serde(default)]
    pub reply_to: Option<i64>,
}

/// A field that is there (even as null) is `Some`: `due: null` removes the date.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "deck_list_boards",
        title: "List Deck boards",
        description: "Lists the user's Deck boards (own and shared with them): id, title, \
                      colour, owner, whether archived, and what the user may do. Archived boards \
                      only with include_archived. Paginated (limit, cursor).",
        scopes: &[Scope::DeckRead],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<BoardList>),
        requires: Some(App::Deck),
        schema: schema_for_type::<ListArgs>,
        handler: |args, ctx| Box::pin(deck_errors(ctx, list_boards(args, ctx))),
    },
    ToolSpec {
        name: "deck_get_board",
        title: "Show a Deck board",
        description: "Shows a board: its labels, members (who can be assigned), and its stacks \
                      (columns) in order with their cards (title, start of the description, \
                      due, done, labels, assignees, comment count). Cards come in pages (limit, \
                      cursor); stack_id narrows to one stack; archived cards only with \
                      include_archived_cards.",
        scopes: &[Scope::DeckRead],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<BoardView>),
        requires: Some(App::Deck),
        schema: schema_for_type::<BoardArgs>,
        handler: |args, ctx| Box::pin(deck_errors(ctx, get_board(args, ctx))),
    },
    ToolSpec {
        name: "deck_get_card",
        title: "Show a Deck card",
        description: "Shows one card of a board in full (description, due, done, labels, \
                      assignees, owner) with its comments, newest first (comments_limit, \
                      comments_cursor for older ones).",
        scopes: &[Scope::DeckRead],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<CardPage>),
        requires: Some(App::Deck),
        schema: schema_for_type::<CardArgs>,
        handler: |args, ctx| Box::pin(deck_errors(ctx, get_card(args, ctx))),
    },
    ToolSpec {
        name: "deck_create",
        title: "Create in Deck",
        description: "Creates a board (title, color), a stack (column, at the end) on a board, a \
                      card in a stack (title, description, due, labels; at the bottom), or a \
                      label on a board. Returns the new id. To assign people use deck_assign.",
        scopes: &[Scope::DeckWrite],
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: false,
        output: Some(schema_for_output::<Created>),
        requires: Some(App::Deck),
        schema: schema_for_type::<CreateArgs>,
        handler: |args, ctx| Box::pin(deck_errors(ctx, create(args, ctx))),
    },
    ToolSpec {
        name: "deck_update_card",
        title: "Change a Deck card",
        description: "Changes a card: title, description (replaced), due (null removes it), \
                      done, archived, move to another stack of the board or to a position, \
                      labels added or removed. Only what is given changes. Returns the card as \
                      it is now and the changes made. To assign people use deck_assign.",
        scopes: &[Scope::DeckWrite],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<Updated>),
        requires: Some(App::Deck),
        schema: schema_for_type::<UpdateArgs>,
        handler: |args, ctx| Box::pin(deck_errors(ctx, update_card(args, ctx))),
    },
    ToolSpec {
        name: "deck_assign",
        title: "Assign people to a Deck card",
        description: "Assigns board members to a card or takes them off it (user ids). It \
                      reaches other people: Deck notifies each person assigned (other than the \
                      user). Returns the card as it is now and what changed.",
        scopes: &[Scope::DeckWrite],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: true,
        output: Some(schema_for_output::<Updated>),
        requires: Some(App::Deck),
        schema: schema_for_type::<AssignArgs>,
        handler: |args, ctx| Box::pin(deck_errors(ctx, assign(args, ctx))),
    },
    ToolSpec {
        name: "deck_delete",
        title: "Delete in Deck",
        description: "Deletes a board, a stack with its cards, a card, or a label (taken off \
                      every card). Boards, stacks and cards can be restored in Deck's web \
                      interface for a while; a label cannot.",
        scopes: &[Scope::DeckWrite],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<Deleted>),
        requires: Some(App::Deck),
        schema: schema_for_type::<DeleteArgs>,
        handler: |args, ctx| Box::pin(deck_errors(ctx, delete(args, ctx))),
    },
    ToolSpec {
        name: "deck_comment",
        title: "Comment on a Deck card",
        description: "Posts a comment on a card, as the user, optionally as a reply. It reaches \
                      other people: everyone on the board sees it, and @userid mentions notify \
                      those users. Posting the same text again right after is recognised as a \
                      retry and not posted twice. Returns the comment.",
        scopes: &[Scope::DeckWrite],
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
        output: Some(schema_for_output::<Commented>),
        requires: Some(App::Deck),
        schema: schema_for_type::<CommentArgs>,
        handler: |args, ctx| Box::pin(deck_errors(ctx, comment(args, ctx))),
    },
];

/// Each tool's pinned hints (see `Hints`): one row per tool of this file.
#[cfg(test)]
pub(super) const HINTS: &[super::Hints] = &[
    (
        "deck_list_boards",
        true,
        false,
        true,
        false,
        Some(App::Deck),
    ),
    ("deck_get_board", true, false, true, false, Some(App::Deck)),
    ("deck_get_card", true, false, true, false, Some(App::Deck)),
    ("deck_create", false, false, false, false, Some(App::Deck)),
    (
        "deck_update_card",
        false,
        true,
        true,
        false,
        Some(App::Deck),
    ),
    ("deck_assign", false, true, true, true, Some(App::Deck)),
    ("deck_delete", false, true, true, false, Some(App::Deck)),
    ("deck_comment", false, true, false, true, Some(App::Deck)),
];

/// Runs a tool; Deck's refusal of a Bearer token is told apart from a token that is no longer
/// valid by asking OCS (which has no CORS rule) who the user is.
async fn deck_errors(ctx: &ToolContext<'_>, run: impl Future<Output = ToolResult>) -> ToolResult {
    match run.await {
        Err(ToolError::Nextcloud(NcError::Forbidden(m))) if m == NEEDS_APP_PASSWORD => {
            match ctx.fresh_user().await {
                Err(NcError::Unauthorized) => Err(NcError::Unauthorized.into()),
                _ => Err(ToolError::Unavailable(NEEDS_APP_PASSWORD.into())),
            }
        }
        other => other,
    }
}

fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::InvalidArguments(message.into())
}

fn limit_arg(limit: Option<usize>) -> Result<usize, ToolError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(invalid(format!("limit is 1 to {MAX_LIMIT}"))),
    }
}

/// A cursor these tools gave: a number, after a letter naming the list it belongs to.
fn cursor_arg(cursor: Option<&str>, tag: char, tool: &str) -> Result<Option<u64>, ToolError> {
    cursor
        .map(|c| {
            c.strip_prefix(tag)
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| {
                    invalid(format!(
                        "the cursor is not one {tool} gave; leave it out to start over"
                    ))
                })
        })
        .transpose()
}

fn title_arg(title: &str, max: usize) -> Result<String, ToolError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(invalid("title is empty"));
    }
    if title.chars().count() > max {
        return Err(invalid(format!("title is longer than {max} characters")));
    }
    Ok(title.to_owned())
}

/// A colour as Deck stores it: six hex digits, without `#`.
fn color_arg(color: Option<&str>) -> Result<String, ToolError> {
    let color = color
        .unwrap_or(DEFAULT_COLOR)
        .trim()
        .trim_start_matches('#');
    if color.len() == 6 && color.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(color.to_ascii_lowercase())
    } else {
        Err(invalid("color is six hex digits, like 0082c9"))
    }
}

/// A due date: RFC 3339 with an offset, sent to Deck in UTC (ISO 8601, `new \DateTime`).
fn due_arg(due: &str) -> Result<String, ToolError> {
    chrono::DateTime::parse_from_rfc3339(due.trim())
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%S+00:00")
                .to_string()
        })
        .map_err(|_| {
            invalid(format!(
                "due must be a date and time with an offset, like 2026-12-11T17:00:00+01:00, not {due:?}"
            ))
        })
}

/// One page of boards (by id), after the board `after`.
fn board_page(
    mut boards: Vec<Board>,
    include_archived: bool,
    limit: usize,
    after: Option<u64>,
) -> BoardList {
    boards.retain(|b| {
        b.deleted_at == 0
            && (include_archived || !b.archived)
            && after.is_none_or(|a| b.id > a as i64)
    });
    boards.sort_by_key(|b| b.id);
    let more = boards.len() > limit;
    boards.truncate(limit);
    BoardList {
        next_cursor: more
            .then(|| boards.last().map(|b| format!("b{}", b.id)))
            .flatten(),
        boards: boards.iter().map(summary).collect(),
    }
}

async fn list_boards(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: ListArgs = parse_args(args)?;
    let limit = limit_arg(a.limit)?;
    let after = cursor_arg(a.cursor.as_deref(), 'b', "deck_list_boards")?;
    let boards = ctx.nextcloud.deck_boards(&ctx.auth).await?;
    answer(&board_page(boards, a.include_archived, limit, after))
}

/// The board's view with one page of cards: `stacks` (with their live cards) and `archived`
/// (stacks with archived cards) merged, cards ordered stack by stack; `skip` cards before the
/// page (from the cursor).
fn board_view(
    board: &Board,
    mut stacks: Vec<Stack>,
    archived: Vec<Stack>,
    only: Option<i64>,
    limit: usize,
    skip: u64,
) -> BoardView {
    for a in archived {
        if let Some(s) = stacks.iter_mut().find(|s| s.id == a.id) {
            s.cards.extend(a.cards);
        }
    }
    stacks.retain(|s| s.deleted_at == 0 && only.is_none_or(|o| o == s.id));
    stacks.sort_by_key(|s| (s.order, s.id));
    let mut to_skip = usize::try_from(skip).unwrap_or(usize::MAX);
    let mut room = limit;
    let mut more = false;
    let mut views = Vec::with_capacity(stacks.len());
    for s in &stacks {
        let cards: Vec<&Card> = s.cards.iter().filter(|c| c.deleted_at == 0).collect();
        let skipped = to_skip.min(cards.len());
        to_skip -= skipped;
        let page: Vec<CardSummary> = cards[skipped..]
            .iter()
            .take(room)
            .map(|c| card_summary(c))
            .collect();
        room -= page.len();
        more |= cards.len() - skipped > page.len();
        views.push(StackView {
            id: s.id,
            title: s.title.clone(),
            order: s.order,
            card_count: cards.len(),
            cards: page,
        });
    }
    BoardView {
        board: summary(board),
        labels: board.labels.iter().map(label).collect(),
        members: board.users.iter().map(person).collect(),
        stacks: views,
        next_cursor: more.then(|| format!("c{}", skip + (limit - room) as u64)),
    }
}

async fn get_board(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: BoardArgs = parse_args(args)?;
    let limit = limit_arg(a.limit)?;
    let skip = cursor_arg(a.cursor.as_deref(), 'c', "deck_get_board")?.unwrap_or(0);
    let nc = ctx.nextcloud;
    let board = nc.deck_board(&ctx.auth, a.board_id).await?;
    let stacks = nc.deck_stacks(&ctx.auth, a.board_id, false).await?;
    if let Some(only) = a.stack_id {
        if !stacks.iter().any(|s| s.id == only) {
            return Err(NcError::NotFound(format!(
                "board {} has no stack {only} (deck_get_board without stack_id lists them)",
                a.board_id
            ))
            .into());
        }
    }
    let archived = if a.include_archived_cards {
        nc.deck_stacks(&ctx.auth, a.board_id, true).await?
    } else {
        Vec::new()
    };
    answer(&board_view(
        &board, stacks, archived, a.stack_id, limit, skip,
    ))
}

/// The board's stacks (with their cards not archived) and the stack card `card` is in: Deck's
/// card routes need it, and this also checks the card is on this board.
async fn locate(
    ctx: &ToolContext<'_>,
    board: i64,
    card: i64,
) -> Result<(Vec<Stack>, i64), ToolError> {
    let nc = ctx.nextcloud;
    let stacks = nc.deck_stacks(&ctx.auth, board, false).await?;
    let holds = |s: &&Stack| s.cards.iter().any(|c| c.id == card);
    if let Some(stack) = stacks.iter().find(holds).map(|s| s.id) {
        return Ok((stacks, stack));
    }
    let archived = nc.deck_stacks(&ctx.auth, board, true).await?;
    match archived.iter().find(holds) {
        Some(s) => Ok((stacks, s.id)),
        None => Err(NcError::NotFound(format!(
            "board {board} has no card {card} (it may be on another board or deleted; \
             deck_get_board lists the cards)"
        ))
        .into()),
    }
}

async fn get_card(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: CardArgs = parse_args(args)?;
    let limit = a.comments_limit.unwrap_or(DEFAULT_COMMENTS);
    if limit > MAX_COMMENTS {
        return Err(invalid(format!("comments_limit is 0 to {MAX_COMMENTS}")));
    }
    let offset = cursor_arg(a.comments_cursor.as_deref(), 'm', "deck_get_card")?.unwrap_or(0);
    let (_, stack) = locate(ctx, a.board_id, a.card_id).await?;
    let nc = ctx.nextcloud;
    let card = nc
        .deck_card(&ctx.auth, a.board_id, stack, a.card_id)
        .await?;
    let (comments, next) = if limit == 0 {
        (Vec::new(), None)
    } else {
        // One more than asked tells whether there are older ones.
        let mut comments = nc
            .deck_comments(&ctx.auth, a.card_id, (limit + 1).min(MAX_COMMENTS), offset)
            .await?;
        let more = comments.len() > limit as usize || comments.len() == MAX_COMMENTS as usize;
        comments.truncate(limit as usize);
        let next = more.then(|| format!("m{}", offset + comments.len() as u64));
        (comments, next)
    };
    answer(&CardPage {
        card: card_detail(&card, a.board_id),
        comments: comments.iter().map(comment_out).collect(),
        next_comments_cursor: next,
    })
}

/// The board a stack, card or label goes on; refuses what does not belong to `kind`.
fn create_checks(a: &CreateArgs) -> Result<(), ToolError> {
    let card_only =
        a.stack_id.is_some() || a.description.is_some() || a.due.is_some() || !a.labels.is_empty();
    match a.kind {
        Kind::Card if a.color.is_some() => Err(invalid("a card has no color")),
        Kind::Card if a.board_id.is_none() || a.stack_id.is_none() => {
            Err(invalid("a card needs board_id and stack_id"))
        }
        Kind::Card => Ok(()),
        _ if card_only => Err(invalid(
            "stack_id, description, due and labels are for kind card",
        )),
        Kind::Board if a.board_id.is_some() => Err(invalid("a board takes no board_id")),
        Kind::Stack | Kind::Label if a.board_id.is_none() => {
            Err(invalid("a stack or label needs board_id"))
        }
        Kind::Stack if a.color.is_some() => Err(invalid("a stack has no color")),
        _ => Ok(()),
    }
}

async fn create(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: CreateArgs = parse_args(args)?;
    create_checks(&a)?;
    let nc = ctx.nextcloud;
    let auth = &ctx.auth;
    let created = match a.kind {
        Kind::Board => {
            let title = title_arg(&a.title, MAX_TITLE)?;
            let color = color_arg(a.color.as_deref())?;
            let board = nc.deck_create_board(auth, &title, &color).await?;
            Created {
                kind: a.kind,
                id: board.id,
                title: board.title,
                board_id: board.id,
                stack_id: None,
                color: Some(board.color),
            }
        }
        Kind::Label => {
            let board = a.board_id.unwrap_or_default();
            let title = title_arg(&a.title, MAX_TITLE)?;
            let color = color_arg(a.color.as_deref())?;
            let l = nc.deck_create_label(auth, board, &title, &color).await?;
            Created {
                kind: a.kind,
                id: l.id,
                title: l.title,
                board_id: board,
                stack_id: None,
                color: Some(l.color),
            }
        }
        Kind::Stack => {
            let board_id = a.board_id.unwrap_or_default();
            let title = title_arg(&a.title, MAX_TITLE)?;
            let board = nc.deck_board(auth, board_id).await?;
            let order = board.stacks.iter().map(|s| s.order + 1).max().unwrap_or(0);
            let stack = nc.deck_create_stack(auth, board_id, &title, order).await?;
            Created {
                kind: a.kind,
                id: stack.id,
                title: stack.title,
                board_id,
                stack_id: Some(stack.id),
                color: None,
            }
        }
        Kind::Card => {
            let (board_id, stack_id) = (
                a.board_id.unwrap_or_default(),
                a.stack_id.unwrap_or_default(),
            );
            let title = title_arg(&a.title, MAX_CARD_TITLE)?;
            let due = a.due.as_deref().map(due_arg).transpose()?;
            if a.labels.len() > MAX_CHANGES {
                return Err(invalid(format!("at most {MAX_CHANGES} labels")));
            }
            // Checked first: Deck makes the card before it puts the labels on, so a bad label
            // would leave a card behind and the call look failed.
            let board = nc.deck_board(auth, board_id).await?;
            if !board.stacks.iter().any(|s| s.id == stack_id) {
                return Err(NcError::NotFound(format!(
                    "board {board_id} has no stack {stack_id} (deck_get_board lists them)"
                ))
                .into());
            }
            check_labels(&board, &a.labels)?;
            let new = NewCard {
                title: &title,
                description: a.description.as_deref().unwrap_or_default(),
                duedate: due.as_deref(),
                order: 999,
                labels: &a.labels,
            };
            let card = nc.deck_create_card(auth, board_id, stack_id, &new).await?;
            Created {
                kind: a.kind,
                id: card.id,
                title: card.title,
                board_id,
                stack_id: Some(stack_id),
                color: None,
            }
        }
    };
    answer(&created)
}

fn check_labels(board: &Board, labels: &[i64]) -> Result<(), ToolError> {
    match labels
        .iter()
        .find(|id| !board.labels.iter().any(|l| l.id == **id))
    {
        Some(id) => Err(invalid(format!(
            "board {} has no label {id}; its labels: {}",
            board.id,
            board
                .labels
                .iter()
                .map(|l| format!("{} {}", l.id, l.title))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        None => Ok(()),
    }
}

/// A failure after some changes were made: the model must know they were.
fn after(changes: &[String]) -> impl Fn(NcError) -> ToolError + '_ {
    move |e| {
        if changes.is_empty() {
            e.into()
        } else {
            ToolError::Unavailable(format!(
                "{e}. Before that, these changes were made: {}",
                changes.join("; ")
            ))
        }
    }
}

/// The card's fields after `a` (done: now when newly marked done).
fn changed_body(
    card: &Card,
    a: &UpdateArgs,
    now: i64,
) -> Result<(CardBody, Vec<&'static str>), ToolError> {
    let before = CardBody::of(card);
    let mut body = before.clone();
    if let Some(title) = &a.title {
        body.title = title_arg(title, MAX_CARD_TITLE)?;
    }
    if let Some(description) = &a.description {
        body.description = description.clone();
    }
    match &a.due {
        Some(Some(due)) => body.duedate = Some(due_arg(due)?),
        Some(None) => body.duedate = None,
        None => {}
    }
    match a.done {
        Some(true) if before.done.is_none() => {
            body.done = chrono::DateTime::from_timestamp(now, 0)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string());
        }
        Some(false) => body.done = None,
        _ => {}
    }
    let mut fields = Vec::new();
    if body.title != before.title {
        fields.push("title");
    }
    if body.description != before.description {
        fields.push("description");
    }
    if rfc3339(body.duedate.as_deref()) != rfc3339(before.duedate.as_deref()) {
        fields.push("due");
    }
    if body.done.is_some() != before.done.is_some() {
        fields.push("done");
    }
    Ok((body, fields))
}

fn update_checks(a: &UpdateArgs) -> Result<(), ToolError> {
    if a.add_labels.len() + a.remove_labels.len() > MAX_CHANGES {
        return Err(invalid(format!(
            "at most {MAX_CHANGES} label changes at once"
        )));
    }
    if a.add_labels.iter().any(|l| a.remove_labels.contains(l)) {
        return Err(invalid("a label cannot be both added and removed"));
    }
    if a.position.is_some_and(|p| p < 0) {
        return Err(invalid("position is 0 (top) or more"));
    }
    Ok(())
}

async fn update_card(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: UpdateArgs = parse_args(args)?;
    update_checks(&a)?;
    let nc = ctx.nextcloud;
    let auth = &ctx.auth;
    let (b, c) = (a.board_id, a.card_id);
    let board = nc.deck_board(auth, b).await?;
    check_labels(&board, &a.add_labels)?;
    let (stacks, mut stack) = locate(ctx, b, c).await?;
    if let Some(target) = a.stack_id {
        if !stacks.iter().any(|s| s.id == target) {
            return Err(invalid(format!(
                "board {b} has no stack {target}; a card moves only within its board"
            )));
        }
    }
    let card = nc.deck_card(auth, b, stack, c).await?;
    let (body, fields) = changed_body(&card, &a, crate::clock::now())?;
    let has = |id: &i64| card.labels.iter().any(|l| l.id == *id);
    let add: Vec<i64> = a.add_labels.iter().copied().filter(|l| !has(l)).collect();
    let remove: Vec<i64> = a.remove_labels.iter().copied().filter(has).collect();
    let target = a.stack_id.unwrap_or(stack);
    let move_to = (a.stack_id.is_some_and(|t| t != stack) || a.position.is_some()).then(|| {
        let others = stacks
            .iter()
            .find(|s| s.id == target)
            .map(|s| s.cards.iter().filter(|x| x.id != c).count())
            .unwrap_or(0) as i64;
        a.position.unwrap_or(others).min(others)
    });
    let edits = !fields.is_empty() || !add.is_empty() || !remove.is_empty() || move_to.is_some();
    let unarchive = a.archived == Some(false) && card.archived;
    if card.archived && !unarchive && edits {
        return Err(invalid(
            "the card is archived and Deck refuses changes to it: pass archived: false as well",
        ));
    }
    let mut changes: Vec<String> = Vec::new();
    if unarchive {
        nc.deck_card_action(auth, b, stack, c, &CardAction::Unarchive)
            .await?;
        changes.push("unarchived".into());
    }
    if !fields.is_empty() {
        nc.deck_update_card(auth, b, stack, c, &body)
            .await
            .map_err(after(&changes))?;
        changes.push(format!("{} changed", fields.join(", ")));
    }
    for id in &add {
        nc.deck_card_action(auth, b, stack, c, &CardAction::AssignLabel(*id))
            .await
            .map_err(after(&changes))?;
        changes.push(format!("label {id} added"));
    }
    for id in &remove {
        nc.deck_card_action(auth, b, stack, c, &CardAction::RemoveLabel(*id))
            .await
            .map_err(after(&changes))?;
        changes.push(format!("label {id} removed"));
    }
    if let Some(order) = move_to {
        let reorder = CardAction::Reorder {
            stack: target,
            order,
        };
        nc.deck_card_action(auth, b, stack, c, &reorder)
            .await
            .map_err(after(&changes))?;
        changes.push(format!("moved to stack {target}, position {order}"));
        stack = target;
    }
    if a.archived == Some(true) && !card.archived {
        nc.deck_card_action(auth, b, stack, c, &CardAction::Archive)
            .await
            .map_err(after(&changes))?;
        changes.push("archived".into());
    }
    let now = nc
        .deck_card(auth, b, stack, c)
        .await
        .map_err(after(&changes))?;
    answer(&Updated {
        card: card_detail(&now, b),
        changes,
    })
}

/// Trimmed, non-empty user ids, at most [`MAX_CHANGES`] in all, none both added and removed.
fn people_arg(a: &AssignArgs) -> Result<(Vec<String>, Vec<String>), ToolError> {
    let clean = |ids: &[String]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for id in ids.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            if !out.iter().any(|o| o == id) {
                out.push(id.to_owned());
            }
        }
        out
    };
    let (assign, unassign) = (clean(&a.assign), clean(&a.unassign));
    if assign.is_empty() && unassign.is_empty() {
        return Err(invalid("name user ids to assign or unassign"));
    }
    if assign.len() + unassign.len() > MAX_CHANGES {
        return Err(invalid(format!("at most {MAX_CHANGES} people at once")));
    }
    if assign.iter().any(|u| unassign.contains(u)) {
        return Err(invalid("a user cannot be both assigned and unassigned"));
    }
    Ok((assign, unassign))
}

async fn assign(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: AssignArgs = parse_args(args)?;
    let (add, remove) = people_arg(&a)?;
    let nc = ctx.nextcloud;
    let auth = &ctx.auth;
    let (b, c) = (a.board_id, a.card_id);
    let board = nc.deck_board(auth, b).await?;
    if let Some(stranger) = add
        .iter()
        .find(|u| !board.users.iter().any(|m| &m.id == *u))
    {
        return Err(invalid(format!(
            "{stranger} is not a member of board {b} (user ids, not display names); members: {}",
            board
                .users
                .iter()
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let (_, stack) = locate(ctx, b, c).await?;
    let card = nc.deck_card(auth, b, stack, c).await?;
    let assigned = |u: &str| {
        card.assigned_users
            .iter()
            .any(|x| x.kind == 0 && x.participant.id == u)
    };
    let mut changes: Vec<String> = Vec::new();
    for u in add.iter().filter(|u| !assigned(u)) {
        nc.deck_card_action(auth, b, stack, c, &CardAction::AssignUser(u))
            .await
            .map_err(after(&changes))?;
        changes.push(format!("{u} assigned"));
    }
    for u in remove.iter().filter(|u| assigned(u)) {
        nc.deck_card_action(auth, b, stack, c, &CardAction::UnassignUser(u))
            .await
            .map_err(after(&changes))?;
        changes.push(format!("{u} unassigned"));
    }
    let now = nc
        .deck_card(auth, b, stack, c)
        .await
        .map_err(after(&changes))?;
    answer(&Updated {
        card: card_detail(&now, b),
        changes,
    })
}

async fn delete(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: DeleteArgs = parse_args(args)?;
    let b = a.board_id;
    let id = match (a.kind, a.id) {
        (Kind::Board, None) => b,
        (Kind::Board, Some(id)) if id == b => b,
        (Kind::Board, Some(_)) => return Err(invalid("for a board, give board_id only")),
        (_, None) => return Err(invalid("id of the stack, card or label is needed")),
        (_, Some(id)) => id,
    };
    let (path, target) = match a.kind {
        Kind::Board => (format!("boards/{b}"), Target::Board(b)),
        Kind::Stack => (format!("boards/{b}/stacks/{id}"), Target::Stack(id)),
        Kind::Label => (format!("boards/{b}/labels/{id}"), Target::Label(id)),
        Kind::Card => {
            let (_, stack) = locate(ctx, b, id).await?;
            (
                format!("boards/{b}/stacks/{stack}/cards/{id}"),
                Target::Card(id),
            )
        }
    };
    ctx.nextcloud.deck_delete(&ctx.auth, &path, target).await?;
    answer(&Deleted {
        kind: a.kind,
        id,
        restorable: a.kind != Kind::Label,
    })
}

/// Whether `newest` is this very comment, posted moments ago by the user (a retry whose answer
/// was lost).
fn is_retry(newest: &Comment, user: &str, message: &str, reply_to: Option<i64>, now: i64) -> bool {
    let recent = chrono::DateTime::parse_from_rfc3339(newest.creation_date_time.trim())
        .is_ok_and(|t| (now - t.timestamp()).abs() <= RETRY_WINDOW_SECS);
    recent
        && newest.actor_id == user
        && newest.message == message
        && newest.reply_to.as_ref().map(|r| r.id) == reply_to
}

async fn comment(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: CommentArgs = parse_args(args)?;
    let message = a.message.trim();
    if message.is_empty() {
        return Err(invalid("message is empty"));
    }
    if message.chars().count() > MAX_COMMENT_CHARS {
        return Err(invalid(format!(
            "message is longer than {MAX_COMMENT_CHARS} characters (Deck's limit); shorten it"
        )));
    }
    if a.reply_to.is_some_and(|id| id <= 0) {
        return Err(invalid("reply_to is a comment id"));
    }
    let nc = ctx.nextcloud;
    let user = ctx.user_id().await?;
    let newest = nc.deck_comments(&ctx.auth, a.card_id, 1, 0).await?;
    if let Some(c) = newest
        .first()
        .filter(|c| is_retry(c, &user, message, a.reply_to, crate::clock::now()))
    {
        return answer(&Commented {
            card_id: a.card_id,
            comment: comment_out(c),
            already_posted: true,
        });
    }
    let posted = nc
        .deck_post_comment(&ctx.auth, a.card_id, message, a.reply_to)
        .await?;
    answer(&Commented {
        card_id: a.card_id,
        comment: comment_out(&posted),
        already_posted: false,
    })
}

#[cfg(test)]
mod tests;
