//! The tools that reach other people (Deck notifies them): assigning people to a card and
//! commenting on it.

use rmcp::model::JsonObject;

use super::answers::{card_detail, comment_out, Commented, Updated};
use super::args::{invalid, AssignArgs, CommentArgs};
use super::read::locate;
use super::write::after;
use super::{MAX_CHANGES, MAX_COMMENT_CHARS, RETRY_WINDOW_SECS};
use crate::nextcloud::deck::{CardAction, Comment};
use crate::tools::{answer, parse_args, ToolContext, ToolError, ToolResult};

/// Trimmed, non-empty user ids, at most [`MAX_CHANGES`] in all, none both added and removed.
pub(super) fn people_arg(a: &AssignArgs) -> Result<(Vec<String>, Vec<String>), ToolError> {
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

pub(super) async fn assign(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
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

/// Whether `newest` is this very comment, posted moments ago by the user (a retry whose answer
/// was lost).
pub(super) fn is_retry(
    newest: &Comment,
    user: &str,
    message: &str,
    reply_to: Option<i64>,
    now: i64,
) -> bool {
    let recent = chrono::DateTime::parse_from_rfc3339(newest.creation_date_time.trim())
        .is_ok_and(|t| (now - t.timestamp()).abs() <= RETRY_WINDOW_SECS);
    recent
        && newest.actor_id == user
        && newest.message == message
        && newest.reply_to.as_ref().map(|r| r.id) == reply_to
}

pub(super) async fn comment(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
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
