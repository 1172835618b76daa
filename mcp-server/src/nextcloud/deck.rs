//! Deck (nextcloud/deck; Deck 1.16.7 on Nextcloud 32): boards, stacks, cards and labels over its
//! REST API (`index.php/apps/deck/api/v1.0`, plain JSON, `docs/API.md`, `appinfo/routes.php`), and
//! card comments over OCS (`ocs/v2.php/apps/deck/api/v1.0/cards/{id}/comments`,
//! `lib/Controller/CommentsApiController.php`).
//!
//! Shapes follow `lib/Db/Board.php`, `Stack.php`, `Card.php`, `Label.php`, `Assignment.php`
//! (`RelationalEntity::jsonSerialize`: a person is `{primaryKey, uid, displayname, type}` where it
//! was resolved, a bare user id where not; `labels`, `assignedUsers` may be `null`) and
//! `lib/Service/CommentService.php` (`formatComment`).
//!
//! Errors are Deck's `lib/Middleware/ExceptionMiddleware.php`: `{"status","message"}` with the
//! status; an unknown id is **403 "Permission denied"** (never 404, so as not to tell what exists),
//! an archived board or card a **500** "Operation not allowed. …" (`StatusException`), other
//! failures a 500 with a request id. Every REST method is `@CORS`: on a stock Nextcloud a request
//! with a Bearer token is refused before Deck sees it with 401 "CORS requires basic auth" (server
//! `CORSMiddleware`), which is [`NEEDS_APP_PASSWORD`] here, not a credential to renew.

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::ocs::read_envelope;
use super::{NcAuth, NcError, Nextcloud};

const API: &str = "index.php/apps/deck/api/v1.0";
const COMMENTS: &str = "apps/deck/api/v1.0/cards";
/// Longest part of a Deck message passed on.
const MAX_MESSAGE_CHARS: usize = 300;
/// Most comments Deck gives per request (`CommentService::list` caps `limit` at 200).
pub const MAX_COMMENTS: u32 = 200;

/// The [`NcError::Forbidden`] message for a Bearer token that Deck's `@CORS` REST API refused;
/// the tool layer tells it apart from a token that is no longer valid (which OCS refuses too).
pub const NEEDS_APP_PASSWORD: &str = "Deck's board, stack and card API on this Nextcloud accepts \
only app passwords: it answered \"CORS requires basic auth\" to this connection's access token. \
Signing in again does not help. The administrator of this MCP server must use the auth-proxy's \
app-password credential strategy (AUTH_PROXY_NEXTCLOUD_CREDENTIALS=app-password), or give \
Nextcloud the CORS fix for bearer tokens (docs/nextcloud-setup.md). Deck comments still work.";

/// A person as Deck shows one: resolved (`{primaryKey, uid, displayname, type}`) or a bare id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: String,
    pub name: String,
}

impl<'de> Deserialize<'de> for Person {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(id) => Person {
                name: id.clone(),
                id,
            },
            Value::Object(o) => {
                let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
                let id = text("uid")
                    .or_else(|| text("primaryKey"))
                    .unwrap_or_default();
                let name = text("displayname")
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| id.clone());
                Person { id, name }
            }
            _ => Person::default(),
        })
    }
}

/// `null` (a relation not loaded) or a missing key read as an empty list.
fn list<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        v => serde_json::from_value(v).map_err(serde::de::Error::custom),
    }
}

/// A number as Deck sends one: usually JSON numbers, but entities read without their declared
/// types carry strings (`"boardId": "10"` in docs/API.md); `null` is 0.
fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(0),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| serde::de::Error::custom("not an integer")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("not an integer: {s:?}"))),
        other => Err(serde::de::Error::custom(format!("not an integer: {other}"))),
    }
}

/// An object, or anything else (PHP's empty array `[]`) read as the default.
fn object_or_default<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(
    d: D,
) -> Result<T, D::Error> {
    match Value::deserialize(d)? {
        v @ Value::Object(_) => serde_json::from_value(v).map_err(serde::de::Error::custom),
        _ => Ok(T::default()),
    }
}

/// The user's rights on a board (`PermissionService::matchPermissions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Permissions {
    #[serde(rename = "PERMISSION_READ", default)]
    pub read: bool,
    #[serde(rename = "PERMISSION_EDIT", default)]
    pub edit: bool,
    #[serde(rename = "PERMISSION_MANAGE", default)]
    pub manage: bool,
    #[serde(rename = "PERMISSION_SHARE", default)]
    pub share: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Board {
    #[serde(deserialize_with = "int")]
    pub id: i64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub owner: Person,
    #[serde(default)]
    pub color: String,
    #[serde(default)]
    pub archived: bool,
    #[serde(default, deserialize_with = "list")]
    pub labels: Vec<Label>,
    #[serde(default, deserialize_with = "object_or_default")]
    pub permissions: Permissions,
    /// The owner and the users the board is shared with (board details only).
    #[serde(default, deserialize_with = "list")]
    pub users: Vec<Person>,
    #[serde(default, deserialize_with = "list")]
    pub stacks: Vec<Stack>,
    /// Unix seconds; 0 unless the board was deleted (it can still be restored in Deck).
    #[serde(default, deserialize_with = "int")]
    pub deleted_at: i64,
    #[serde(default, deserialize_with = "int")]
    pub last_modified: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stack {
    #[serde(deserialize_with = "int")]
    pub id: i64,
    #[serde(default)]
    pub title: String,
    #[serde(default, deserialize_with = "int")]
    pub board_id: i64,
    /// Absent when the stack has none (`Stack::jsonSerialize`).
    #[serde(default, deserialize_with = "list")]
    pub cards: Vec<Card>,
    #[serde(default, deserialize_with = "int")]
    pub order: i64,
    #[serde(default, deserialize_with = "int")]
    pub deleted_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    #[serde(deserialize_with = "int")]
    pub id: i64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub color: String,
    #[serde(default, deserialize_with = "int")]
    pub board_id: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    #[serde(default)]
    pub participant: Person,
    /// 0 user, 1 group, 7 team.
    #[serde(rename = "type", default)]
    #[serde(deserialize_with = "int")]
    pub kind: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    #[serde(deserialize_with = "int")]
    pub id: i64,
    #[serde(default)]
    pub title: String,
    /// Markdown; `null` for some cards made by old clients.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "int")]
    pub stack_id: i64,
    #[serde(rename = "type", default = "plain")]
    pub kind: String,
    /// Unix seconds.
    #[serde(default, deserialize_with = "int")]
    pub last_modified: i64,
    #[serde(default, deserialize_with = "int")]
    pub created_at: i64,
    #[serde(default, deserialize_with = "list")]
    pub labels: Vec<Label>,
    #[serde(default, deserialize_with = "list")]
    pub assigned_users: Vec<Assignment>,
    #[serde(default)]
    pub owner: Person,
    #[serde(default, deserialize_with = "int")]
    pub order: i64,
    #[serde(default)]
    pub archived: bool,
    /// When it was marked done (ISO 8601), or null.
    #[serde(default)]
    pub done: Option<String>,
    /// ISO 8601 or null.
    #[serde(default)]
    pub duedate: Option<String>,
    #[serde(default, deserialize_with = "int")]
    pub deleted_at: i64,
    #[serde(default, deserialize_with = "int")]
    pub comments_count: i64,
}

fn plain() -> String {
    "plain".into()
}

/// A card comment (`CommentService::formatComment`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    #[serde(deserialize_with = "int")]
    pub id: i64,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub actor_id: String,
    #[serde(default)]
    pub actor_display_name: String,
    /// ISO 8601 (`DateTime::ATOM`).
    #[serde(default)]
    pub creation_date_time: String,
    #[serde(default, deserialize_with = "list")]
    pub mentions: Vec<Mention>,
    #[serde(default)]
    pub reply_to: Option<Box<Comment>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mention {
    #[serde(default)]
    pub mention_id: String,
    #[serde(default)]
    pub mention_display_name: String,
}

/// A card as `PUT …/cards/{id}` takes it: the whole card (`CardApiController::update`: title,
/// type and owner are required, a missing description, order or duedate resets them, a missing
/// `done` clears it; `archived` null leaves it).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CardBody {
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub owner: String,
    pub description: String,
    pub order: i64,
    pub duedate: Option<String>,
    pub done: Option<String>,
}

impl CardBody {
    /// The card as it is: the body of an update that changes nothing yet.
    pub fn of(card: &Card) -> Self {
        Self {
            title: card.title.clone(),
            kind: card.kind.clone(),
            owner: card.owner.id.clone(),
            description: card.description.clone().unwrap_or_default(),
            order: card.order,
            duedate: card.duedate.clone(),
            done: card.done.clone(),
        }
    }
}

/// A new card (`CardApiController::create`).
#[derive(Debug, Clone, Serialize)]
pub struct NewCard<'a> {
    pub title: &'a str,
    pub description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duedate: Option<&'a str>,
    pub order: i64,
    pub labels: &'a [i64],
}

/// A card action with its own route (`PUT …/cards/{id}/<action>`).
#[derive(Debug, Clone)]
pub enum CardAction<'a> {
    AssignLabel(i64),
    RemoveLabel(i64),
    AssignUser(&'a str),
    UnassignUser(&'a str),
    /// Into `stack` (of the same board) at `order` (0 = top).
    Reorder {
        stack: i64,
        order: i64,
    },
    Archive,
    Unarchive,
}

impl CardAction<'_> {
    fn route(&self) -> (&'static str, Value) {
        use serde_json::json;
        match self {
            Self::AssignLabel(id) => ("assignLabel", json!({ "labelId": id })),
            Self::RemoveLabel(id) => ("removeLabel", json!({ "labelId": id })),
            Self::AssignUser(user) => ("assignUser", json!({ "userId": user, "type": 0 })),
            Self::UnassignUser(user) => ("unassignUser", json!({ "userId": user, "type": 0 })),
            Self::Reorder { stack, order } => {
                ("reorder", json!({ "stackId": stack, "order": order }))
            }
            Self::Archive => ("archive", json!({})),
            Self::Unarchive => ("unarchive", json!({})),
        }
    }
}

/// What a request was about, for the message when Deck says it does not exist.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    Boards,
    Board(i64),
    Stack(i64),
    Card(i64),
    Label(i64),
}

impl Target {
    fn not_found(self) -> NcError {
        let what = match self {
            Target::Boards => return NcError::Forbidden("Deck refused the board list".into()),
            Target::Board(id) => format!("board {id}"),
            Target::Stack(id) => format!("stack {id}"),
            Target::Card(id) => format!("card {id}"),
            Target::Label(id) => format!("label {id}"),
        };
        NcError::NotFound(format!(
            "{what} does not exist in Deck, or the user may not see or change it (Deck answers \
             both alike; deck_list_boards and deck_get_board show the ids)"
        ))
    }
}

/// Deck's error body.
#[derive(Deserialize)]
struct Failure {
    #[serde(default)]
    message: String,
    #[serde(rename = "requestId", default)]
    request_id: Option<String>,
}

fn shorten(message: &str) -> String {
    message.trim().chars().take(MAX_MESSAGE_CHARS).collect()
}

/// The error a non-success Deck REST answer stands for.
pub fn rest_error(auth: &NcAuth, target: Target, status: StatusCode, body: &[u8]) -> NcError {
    let failure = serde_json::from_slice::<Failure>(body).ok();
    let message = failure
        .as_ref()
        .map(|f| shorten(&f.message))
        .filter(|m| !m.is_empty());
    match status.as_u16() {
        // CORSMiddleware: Basic credentials it could not log in with, or none (a Bearer token).
        401 => match auth {
            NcAuth::Bearer(_) => NcError::Forbidden(NEEDS_APP_PASSWORD.into()),
            NcAuth::Basic { .. } => NcError::Unauthorized,
        },
        403 => match message {
            Some(m) if m != "Permission denied" => NcError::Forbidden(m),
            _ => target.not_found(),
        },
        // Not Deck's JSON: the route is unknown, Deck is not enabled for this user.
        404 if failure.is_none() => NcError::NotFound(
            "Nextcloud does not know Deck's API (is the Deck app installed and enabled?)".into(),
        ),
        404 => NcError::NotFound(message.unwrap_or_else(|| "Deck found nothing".into())),
        400 => NcError::InvalidInput(message.unwrap_or_else(|| "Deck refused the request".into())),
        409 => NcError::Conflict(message.unwrap_or_else(|| "Deck reported a conflict".into())),
        // StatusException: an archived board or card, a label of another board.
        500 if message
            .as_deref()
            .is_some_and(|m| m.starts_with("Operation not allowed")) =>
        {
            NcError::InvalidInput(message.unwrap_or_default())
        }
        500 => NcError::Unavailable(match failure.and_then(|f| f.request_id) {
            Some(id) => format!(
                "Deck failed with an internal error, request id {}",
                shorten(&id)
            ),
            None => "Deck failed with an internal error".into(),
        }),
        s => NcError::BadResponse(format!("Deck answered HTTP {s}")),
    }
}

/// The statuses whose body says what went wrong.
const READ_BODY_OF: &[StatusCode] = &[
    StatusCode::UNAUTHORIZED,
    StatusCode::FORBIDDEN,
    StatusCode::INTERNAL_SERVER_ERROR,
];

impl Nextcloud {
    async fn deck_call<T: DeserializeOwned>(
        &self,
        auth: &NcAuth,
        method: Method,
        path: &str,
        body: Option<&Value>,
        target: Target,
    ) -> Result<T, NcError> {
        let url = self.url(&format!("{API}/{path}"))?;
        let mut request = self
            .request(auth, method, url)
            .header("OCS-APIRequest", "true")
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = self.send_allowing("deck", request, READ_BODY_OF).await?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|_| NcError::Unavailable("the response was cut off".into()))?;
        if !status.is_success() {
            return Err(rest_error(auth, target, status, &bytes));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| NcError::BadResponse(format!("Deck's answer is not as expected ({e})")))
    }

    /// Every board the user can read, deleted ones included (as Deck lists them).
    pub async fn deck_boards(&self, auth: &NcAuth) -> Result<Vec<Board>, NcError> {
        self.deck_call(auth, Method::GET, "boards", None, Target::Boards)
            .await
    }

    /// One board with its labels, users and stacks (without cards).
    pub async fn deck_board(&self, auth: &NcAuth, board: i64) -> Result<Board, NcError> {
        self.deck_call(
            auth,
            Method::GET,
            &format!("boards/{board}"),
            None,
            Target::Board(board),
        )
        .await
    }

    /// The board's stacks with their cards: `archived` false gives the cards not archived,
    /// true the archived ones.
    pub async fn deck_stacks(
        &self,
        auth: &NcAuth,
        board: i64,
        archived: bool,
    ) -> Result<Vec<Stack>, NcError> {
        let path = if archived {
            format!("boards/{board}/stacks/archived")
        } else {
            format!("boards/{board}/stacks")
        };
        self.deck_call(auth, Method::GET, &path, None, Target::Board(board))
            .await
    }

    pub async fn deck_card(
        &self,
        auth: &NcAuth,
        board: i64,
        stack: i64,
        card: i64,
    ) -> Result<Card, NcError> {
        self.deck_call(
            auth,
            Method::GET,
            &format!("boards/{board}/stacks/{stack}/cards/{card}"),
            None,
            Target::Card(card),
        )
        .await
    }

    pub async fn deck_create_board(
        &self,
        auth: &NcAuth,
        title: &str,
        color: &str,
    ) -> Result<Board, NcError> {
        let body = serde_json::json!({ "title": title, "color": color });
        self.deck_call(auth, Method::POST, "boards", Some(&body), Target::Boards)
            .await
    }

    pub async fn deck_create_stack(
        &self,
        auth: &NcAuth,
        board: i64,
        title: &str,
        order: i64,
    ) -> Result<Stack, NcError> {
        let body = serde_json::json!({ "title": title, "order": order });
        self.deck_call(
            auth,
            Method::POST,
            &format!("boards/{board}/stacks"),
            Some(&body),
            Target::Board(board),
        )
        .await
    }

    pub async fn deck_create_card(
        &self,
        auth: &NcAuth,
        board: i64,
        stack: i64,
        card: &NewCard<'_>,
    ) -> Result<Card, NcError> {
        let mut body = serde_json::to_value(card)
            .map_err(|e| NcError::InvalidInput(format!("the card cannot be sent ({e})")))?;
        body["type"] = "plain".into();
        self.deck_call(
            auth,
            Method::POST,
            &format!("boards/{board}/stacks/{stack}/cards"),
            Some(&body),
            Target::Stack(stack),
        )
        .await
    }

    pub async fn deck_create_label(
        &self,
        auth: &NcAuth,
        board: i64,
        title: &str,
        color: &str,
    ) -> Result<Label, NcError> {
        let body = serde_json::json!({ "title": title, "color": color });
        self.deck_call(
            auth,
            Method::POST,
            &format!("boards/{board}/labels"),
            Some(&body),
            Target::Board(board),
        )
        .await
    }

    /// Replaces the card's fields with `body` (it stays in `stack`).
    pub async fn deck_update_card(
        &self,
        auth: &NcAuth,
        board: i64,
        stack: i64,
        card: i64,
        body: &CardBody,
    ) -> Result<Card, NcError> {
        let body = serde_json::to_value(body)
            .map_err(|e| NcError::InvalidInput(format!("the card cannot be sent ({e})")))?;
        self.deck_call(
            auth,
            Method::PUT,
            &format!("boards/{board}/stacks/{stack}/cards/{card}"),
            Some(&body),
            Target::Card(card),
        )
        .await
    }

    pub async fn deck_card_action(
        &self,
        auth: &NcAuth,
        board: i64,
        stack: i64,
        card: i64,
        action: &CardAction<'_>,
    ) -> Result<(), NcError> {
        let (route, body) = action.route();
        let target = match action {
            CardAction::AssignLabel(l) | CardAction::RemoveLabel(l) => Target::Label(*l),
            CardAction::Reorder { stack, .. } => Target::Stack(*stack),
            _ => Target::Card(card),
        };
        // Each answers something different (a card, an assignment, a stack's cards, nothing).
        self.deck_call::<Value>(
            auth,
            Method::PUT,
            &format!("boards/{board}/stacks/{stack}/cards/{card}/{route}"),
            Some(&body),
            target,
        )
        .await
        .map(|_| ())
    }

    /// Deletes what `path` names (below the API base); boards, stacks and cards are soft
    /// deleted (Deck can restore them), labels are gone.
    pub async fn deck_delete(
        &self,
        auth: &NcAuth,
        path: &str,
        target: Target,
    ) -> Result<(), NcError> {
        self.deck_call::<Value>(auth, Method::DELETE, path, None, target)
            .await
            .map(|_| ())
    }

    /// The card's comments, newest first: `limit` of them after skipping `offset`.
    pub async fn deck_comments(
        &self,
        auth: &NcAuth,
        card: i64,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Comment>, NcError> {
        let request = self
            .ocs_request(auth, Method::GET, &format!("{COMMENTS}/{card}/comments"))?
            .query(&[
                ("limit", limit.clamp(1, MAX_COMMENTS).to_string()),
                ("offset", offset.to_string()),
                ("format", "json".into()),
            ]);
        self.deck_ocs(request, card).await
    }

    /// Posts a comment (mentions in it notify the people named).
    pub async fn deck_post_comment(
        &self,
        auth: &NcAuth,
        card: i64,
        message: &str,
        reply_to: Option<i64>,
    ) -> Result<Comment, NcError> {
        let mut body = serde_json::json!({ "message": message });
        if let Some(parent) = reply_to {
            body["parentId"] = parent.into();
        }
        let request = self
            .ocs_request(auth, Method::POST, &format!("{COMMENTS}/{card}/comments"))?
            .query(&[("format", "json")])
            .json(&body);
        self.deck_ocs(request, card).await
    }

    async fn deck_ocs<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        card: i64,
    ) -> Result<T, NcError> {
        let response = self
            .send_allowing("deck", request, &[StatusCode::FORBIDDEN])
            .await?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|_| NcError::Unavailable("the response was cut off".into()))?;
        read_comments_answer(status, &body, card)
    }
}

/// An OCS comments answer; Deck's "Permission denied" (an unknown card too) read as not found.
pub fn read_comments_answer<T: DeserializeOwned>(
    status: StatusCode,
    body: &[u8],
    card: i64,
) -> Result<T, NcError> {
    match read_envelope(status, body) {
        Err(NcError::Forbidden(m)) if m == "Permission denied" => {
            Err(Target::Card(card).not_found())
        }
        Err(NcError::NotFound(m)) if m.contains("installed and enabled") => Err(NcError::NotFound(
            "Nextcloud does not know Deck's API (is the Deck app installed and enabled?)".into(),
        )),
        other => other,
    }
}

#[cfg(test)]
mod tests;
