//! The Deck tools' arguments (their JSON schemas come from these types) and reading them:
//! limits, cursors, titles, colours, due dates.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use super::{DEFAULT_COLOR, DEFAULT_LIMIT, MAX_LIMIT};
use crate::tools::ToolError;

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

pub(super) fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::InvalidArguments(message.into())
}

pub(super) fn limit_arg(limit: Option<usize>) -> Result<usize, ToolError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(invalid(format!("limit is 1 to {MAX_LIMIT}"))),
    }
}

/// A cursor these tools gave: a number, after a letter naming the list it belongs to.
pub(super) fn cursor_arg(
    cursor: Option<&str>,
    tag: char,
    tool: &str,
) -> Result<Option<u64>, ToolError> {
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

pub(super) fn title_arg(title: &str, max: usize) -> Result<String, ToolError> {
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
pub(super) fn color_arg(color: Option<&str>) -> Result<String, ToolError> {
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
pub(super) fn due_arg(due: &str) -> Result<String, ToolError> {
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
