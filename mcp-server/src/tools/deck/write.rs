//! The tools that change a board: create a stack, card or label, update a card, delete.

use rmcp::model::JsonObject;

use super::answers::{card_detail, rfc3339, Created, Deleted, Updated};
use super::args::{
    color_arg, due_arg, invalid, title_arg, CreateArgs, DeleteArgs, Kind, UpdateArgs,
};
use super::read::locate;
use super::{MAX_CARD_TITLE, MAX_CHANGES, MAX_TITLE};
use crate::nextcloud::deck::{Board, Card, CardAction, CardBody, NewCard, Target};
use crate::nextcloud::NcError;
use crate::tools::{answer, parse_args, ToolContext, ToolError, ToolResult};

/// The board a stack, card or label goes on; refuses what does not belong to `kind`.
pub(super) fn create_checks(a: &CreateArgs) -> Result<(), ToolError> {
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

pub(super) async fn create(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
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

pub(super) fn check_labels(board: &Board, labels: &[i64]) -> Result<(), ToolError> {
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
pub(super) fn after(changes: &[String]) -> impl Fn(NcError) -> ToolError + '_ {
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
pub(super) fn changed_body(
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

pub(super) fn update_checks(a: &UpdateArgs) -> Result<(), ToolError> {
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

pub(super) async fn update_card(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
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

pub(super) async fn delete(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
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
