//! The reading tools: boards (a page of them), one board with a page of its cards, one card.

use rmcp::model::JsonObject;

use super::answers::{
    card_detail, card_summary, comment_out, label, person, summary, BoardList, BoardView, CardPage,
    CardSummary, StackView,
};
use super::args::{cursor_arg, invalid, limit_arg, BoardArgs, CardArgs, ListArgs};
use super::DEFAULT_COMMENTS;
use crate::nextcloud::deck::{Board, Card, Stack, MAX_COMMENTS};
use crate::nextcloud::NcError;
use crate::tools::{answer, parse_args, ToolContext, ToolError, ToolResult};

/// One page of boards (by id), after the board `after`.
pub(super) fn board_page(
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

pub(super) async fn list_boards(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: ListArgs = parse_args(args)?;
    let limit = limit_arg(a.limit)?;
    let after = cursor_arg(a.cursor.as_deref(), 'b', "deck_list_boards")?;
    let boards = ctx.nextcloud.deck_boards(&ctx.auth).await?;
    answer(&board_page(boards, a.include_archived, limit, after))
}

/// The board's view with one page of cards: `stacks` (with their live cards) and `archived`
/// (stacks with archived cards) merged, cards ordered stack by stack; `skip` cards before the
/// page (from the cursor).
pub(super) fn board_view(
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

pub(super) async fn get_board(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
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
pub(super) async fn locate(
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

pub(super) async fn get_card(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
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
