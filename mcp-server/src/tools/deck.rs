//! Deck tools (Deck REST API and its OCS comments, see [`crate::nextcloud::deck`]; scopes
//! `deck:read`, `deck:write`; they need [`App::Deck`]). Assigning people and commenting reach
//! other people (Deck notifies them), so those are tools of their own, destructive and
//! open-world; plain card edits are not.
//!
//! Deck's REST API takes only app passwords on a stock Nextcloud: with the bearer credential
//! strategy every tool but deck_comment is answered with a message saying so (see
//! [`NEEDS_APP_PASSWORD`]).
//!
//! This file holds the tool table and the limits; `args` the arguments, `answers` the
//! answers, and the handlers are in `read` (boards, cards), `write` (create, update, delete)
//! and `people` (assign, comment: they reach other people).

use std::future::Future;

use mcp_shared::Scope;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};

mod answers;
mod args;
mod people;
mod read;
mod write;

pub use answers::{
    BoardList, BoardSummary, BoardView, CardDetail, CardPage, CardSummary, CommentOut, Commented,
    Created, Deleted, LabelOut, PersonOut, ReplyOut, StackView, Updated,
};
pub use args::{
    AssignArgs, BoardArgs, CardArgs, CommentArgs, CreateArgs, DeleteArgs, Kind, ListArgs,
    UpdateArgs,
};

use super::{ToolContext, ToolError, ToolResult, ToolSpec};
use crate::nextcloud::capabilities::App;
use crate::nextcloud::deck::NEEDS_APP_PASSWORD;
use crate::nextcloud::NcError;
use people::{assign, comment};
use read::{get_board, get_card, list_boards};
use write::{create, delete, update_card};

use super::paging::{DEFAULT_LIMIT, MAX_LIMIT};
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

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "deck_list_boards",
        title: "List Deck boards",
        description: "Lists the user's Deck boards (own and shared with them): id, title, \
                      colour, owner, whether archived, and what the user may do. Archived boards \
                      only with include_archived. Paginated (limit, cursor).",
        scopes: &[Scope::DeckRead],
        any_of: &[],
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
        any_of: &[],
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
        any_of: &[],
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
        any_of: &[],
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
        any_of: &[],
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
        any_of: &[],
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
        any_of: &[],
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
        any_of: &[],
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

#[cfg(test)]
mod tests;
