//! The Deck tools' answers (their output schemas) and how Deck's entities become them: ids,
//! titles and dates (RFC 3339, UTC) a model can use in the next call, people as id and name.

use schemars::JsonSchema;
use serde::Serialize;

use super::Kind;
use crate::nextcloud::deck::{Board, Card, Comment, Label, Person};

/// A card's description in a board view.
pub(super) const EXCERPT_CHARS: usize = 200;
/// A card's description in deck_get_card.
const MAX_DESCRIPTION_CHARS: usize = 20_000;

#[derive(Debug, Serialize, JsonSchema)]
pub struct PersonOut {
    /// User id (login name).
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LabelOut {
    pub id: i64,
    pub title: String,
    /// Six hex digits.
    pub color: String,
}

/// deck_list_boards' answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BoardList {
    pub boards: Vec<BoardSummary>,
    /// Pass as cursor for the next page; null when this is the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BoardSummary {
    pub id: i64,
    pub title: String,
    pub color: String,
    pub archived: bool,
    pub owner: PersonOut,
    /// What the user may do: read, edit (cards), manage (stacks, labels, the board), share.
    pub permissions: Vec<String>,
    /// RFC 3339 (UTC).
    pub last_modified: Option<String>,
}

/// deck_get_board's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BoardView {
    #[serde(flatten)]
    pub board: BoardSummary,
    pub labels: Vec<LabelOut>,
    /// Who the board is shared with (and its owner): who can be assigned.
    pub members: Vec<PersonOut>,
    /// In board order; each with this page's cards.
    pub stacks: Vec<StackView>,
    /// Pass as cursor for the next cards; null when there are no more.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StackView {
    pub id: i64,
    pub title: String,
    pub order: i64,
    /// Cards in the stack (all pages).
    pub card_count: usize,
    pub cards: Vec<CardSummary>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CardSummary {
    pub id: i64,
    pub title: String,
    pub stack_id: i64,
    pub order: i64,
    /// The start of the description.
    pub description: String,
    /// Due, RFC 3339 (UTC); null when none.
    pub due: Option<String>,
    /// When it was marked done, RFC 3339; null when not done.
    pub done: Option<String>,
    pub archived: bool,
    pub labels: Vec<LabelOut>,
    /// User ids.
    pub assignees: Vec<String>,
    pub comments: i64,
}

/// deck_get_card's answer (also deck_update_card's and deck_assign's `card`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct CardDetail {
    pub id: i64,
    pub title: String,
    pub board_id: i64,
    pub stack_id: i64,
    pub order: i64,
    /// Markdown.
    pub description: String,
    pub due: Option<String>,
    pub done: Option<String>,
    pub archived: bool,
    pub labels: Vec<LabelOut>,
    pub assignees: Vec<PersonOut>,
    pub owner: PersonOut,
    pub created: Option<String>,
    pub last_modified: Option<String>,
    pub comments_count: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CardPage {
    pub card: CardDetail,
    /// Newest first.
    pub comments: Vec<CommentOut>,
    /// Pass as comments_cursor for older comments; null when there are none.
    pub next_comments_cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CommentOut {
    pub id: i64,
    pub author_id: String,
    pub author: String,
    /// RFC 3339 (UTC).
    pub time: Option<String>,
    pub message: String,
    /// User ids mentioned.
    pub mentions: Vec<String>,
    /// The comment this one answers: its id, author and text.
    pub reply_to: Option<ReplyOut>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReplyOut {
    pub id: i64,
    pub author: String,
    pub message: String,
}

/// deck_create's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Created {
    pub kind: Kind,
    pub id: i64,
    pub title: String,
    pub board_id: i64,
    /// For a card.
    pub stack_id: Option<i64>,
    /// For a board or label.
    pub color: Option<String>,
}

/// deck_update_card's and deck_assign's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Updated {
    pub card: CardDetail,
    /// What was changed, in order; empty when nothing needed changing.
    pub changes: Vec<String>,
}

/// deck_delete's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Deleted {
    pub kind: Kind,
    pub id: i64,
    /// Deck keeps deleted boards, stacks and cards for a while, restorable in its web
    /// interface; a deleted label is gone.
    pub restorable: bool,
}

/// deck_comment's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Commented {
    pub card_id: i64,
    pub comment: CommentOut,
    /// The same comment had just been posted (a retry): it was not posted again.
    pub already_posted: bool,
}

/// A date Deck gave (ISO 8601) as RFC 3339 in UTC; kept as given if it cannot be read.
pub(super) fn rfc3339(date: Option<&str>) -> Option<String> {
    let date = date?.trim();
    if date.is_empty() {
        return None;
    }
    Some(
        chrono::DateTime::parse_from_rfc3339(date)
            .map(|t| {
                t.with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            })
            .unwrap_or_else(|_| date.to_owned()),
    )
}

pub(super) fn unix(seconds: i64) -> Option<String> {
    (seconds > 0)
        .then(|| chrono::DateTime::from_timestamp(seconds, 0))
        .flatten()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

pub(super) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max).collect();
    s.push('…');
    s
}

pub(super) fn person(p: &Person) -> PersonOut {
    PersonOut {
        id: p.id.clone(),
        name: p.name.clone(),
    }
}

pub(super) fn label(l: &Label) -> LabelOut {
    LabelOut {
        id: l.id,
        title: l.title.clone(),
        color: l.color.clone(),
    }
}

pub(super) fn summary(board: &Board) -> BoardSummary {
    let p = board.permissions;
    BoardSummary {
        id: board.id,
        title: board.title.clone(),
        color: board.color.clone(),
        archived: board.archived,
        owner: person(&board.owner),
        permissions: [
            (p.read, "read"),
            (p.edit, "edit"),
            (p.manage, "manage"),
            (p.share, "share"),
        ]
        .into_iter()
        .filter(|(has, _)| *has)
        .map(|(_, name)| name.to_owned())
        .collect(),
        last_modified: unix(board.last_modified),
    }
}

pub(super) fn card_summary(card: &Card) -> CardSummary {
    CardSummary {
        id: card.id,
        title: card.title.clone(),
        stack_id: card.stack_id,
        order: card.order,
        description: shorten(
            card.description.as_deref().unwrap_or_default().trim(),
            EXCERPT_CHARS,
        ),
        due: rfc3339(card.duedate.as_deref()),
        done: rfc3339(card.done.as_deref()),
        archived: card.archived,
        labels: card.labels.iter().map(label).collect(),
        assignees: card
            .assigned_users
            .iter()
            .map(|a| a.participant.id.clone())
            .collect(),
        comments: card.comments_count,
    }
}

pub(super) fn card_detail(card: &Card, board: i64) -> CardDetail {
    CardDetail {
        id: card.id,
        title: card.title.clone(),
        board_id: board,
        stack_id: card.stack_id,
        order: card.order,
        description: shorten(
            card.description.as_deref().unwrap_or_default(),
            MAX_DESCRIPTION_CHARS,
        ),
        due: rfc3339(card.duedate.as_deref()),
        done: rfc3339(card.done.as_deref()),
        archived: card.archived,
        labels: card.labels.iter().map(label).collect(),
        assignees: card
            .assigned_users
            .iter()
            .map(|a| person(&a.participant))
            .collect(),
        owner: person(&card.owner),
        created: unix(card.created_at),
        last_modified: unix(card.last_modified),
        comments_count: card.comments_count,
    }
}

pub(super) fn comment_out(c: &Comment) -> CommentOut {
    CommentOut {
        id: c.id,
        author_id: c.actor_id.clone(),
        author: c.actor_display_name.clone(),
        time: rfc3339(Some(&c.creation_date_time)),
        message: c.message.clone(),
        mentions: c.mentions.iter().map(|m| m.mention_id.clone()).collect(),
        reply_to: c.reply_to.as_ref().map(|r| ReplyOut {
            id: r.id,
            author: r.actor_display_name.clone(),
            message: shorten(&r.message, EXCERPT_CHARS),
        }),
    }
}
