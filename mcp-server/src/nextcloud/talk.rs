//! Talk (nextcloud/spreed) over OCS: conversations (`api/v4/room`) and chat (`api/v1/chat`).
//!
//! Shapes follow spreed's `docs/conversation.md` and `docs/chat.md` and its
//! `lib/Controller/ChatController.php` / `RoomController.php`; errors come from its
//! `InjectionMiddleware` (room or participant unknown → 404 with an empty message, read-only → 403)
//! and from the controllers (`{"error":"message"}` with 400 or 413, `{"error":"reply-to"}`), so they
//! are mapped here to messages that say what went wrong rather than "OCS status 404".
//!
//! Reading never changes anything the user would notice: the room list is fetched with
//! `noStatusUpdate=1` (else the user is set online) and history with `setReadMarker=0`,
//! `markNotificationsAsRead=0`, `noStatusUpdate=1`.

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::ocs::read_envelope;
use super::{NcAuth, NcError, Nextcloud};

/// Most messages spreed gives per history request (`ChatController::receiveMessages`).
pub const MAX_HISTORY: u32 = 200;

/// A conversation as `GET api/v4/room` lists it (`RoomFormatter::formatRoom`): the fields used.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Room {
    pub token: String,
    /// 1 one-to-one, 2 group, 3 public, 4 changelog, 5 former one-to-one, 6 note to self.
    #[serde(rename = "type")]
    pub kind: i64,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub unread_messages: i64,
    #[serde(default)]
    pub unread_mention: bool,
    /// Unix seconds.
    #[serde(default)]
    pub last_activity: i64,
    #[serde(default)]
    pub is_favorite: bool,
    #[serde(default)]
    pub is_archived: bool,
    /// 1 when the conversation is locked (read-only).
    #[serde(default)]
    pub read_only: i64,
    /// spreed sends `[]` when there is none.
    #[serde(default, deserialize_with = "object_or_none")]
    pub last_message: Option<Message>,
}

impl Room {
    /// The conversation type as a word.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            1 => "one_to_one",
            2 => "group",
            3 => "public",
            4 => "changelog",
            5 => "former_one_to_one",
            6 => "note_to_self",
            _ => "other",
        }
    }
}

/// A chat message (`Message::toArray`): the fields used.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: i64,
    #[serde(default)]
    pub actor_type: String,
    #[serde(default)]
    pub actor_id: String,
    #[serde(default)]
    pub actor_display_name: String,
    /// Unix seconds.
    #[serde(default)]
    pub timestamp: i64,
    /// The text with `{placeholders}` (see [`render`]).
    #[serde(default)]
    pub message: String,
    /// spreed sends `[]` for a message without parameters.
    #[serde(default, deserialize_with = "object_or_empty")]
    pub message_parameters: Map<String, Value>,
    /// `""` for what people wrote, else the system event (`conversation_created`, …).
    #[serde(default)]
    pub system_message: String,
    #[serde(default)]
    pub message_type: String,
    #[serde(default)]
    pub reference_id: String,
    #[serde(default)]
    pub silent: bool,
    /// The message replied to (a deleted one comes as `{id, deleted: true}`).
    #[serde(default, deserialize_with = "object_or_none")]
    pub parent: Option<Box<Message>>,
}

impl Message {
    /// A system event (someone joined, the conversation was created…) rather than what a
    /// person wrote.
    pub fn is_system(&self) -> bool {
        !self.system_message.is_empty() || self.message_type == "system"
    }

    /// The text as people read it: placeholders replaced from the parameters.
    pub fn text(&self) -> String {
        render(&self.message, &self.message_parameters)
    }
}

/// Replaces `{key}` placeholders with what Talk's clients show: a mention (`mention-user1`,
/// `mention-call1`, `mention-group1`, …) as `@` and the name, anything else (`{file}`,
/// `{actor}`, `{user}`) as its name. A placeholder without a parameter stays as written.
pub fn render(message: &str, parameters: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let replaced = after.find('}').and_then(|close| {
            let key = &after[..close];
            let name = parameters
                .get(key)?
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())?;
            let shown = if key.starts_with("mention-") {
                format!("@{name}")
            } else {
                name.to_owned()
            };
            Some((shown, close))
        });
        match replaced {
            Some((shown, close)) => {
                out.push_str(&shown);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn object_or_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Value::deserialize(d)? {
        v @ Value::Object(_) => serde_json::from_value(v)
            .map(Some)
            .map_err(serde::de::Error::custom),
        _ => Ok(None),
    }
}

fn object_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Object(map) => map,
        _ => Map::new(),
    })
}

/// One page of history, newest first as spreed gives it.
#[derive(Debug, Default)]
pub struct History {
    pub messages: Vec<Message>,
    /// `X-Chat-Last-Given`: the `lastKnownMessageId` for the next older page.
    pub last_given: Option<i64>,
}

/// What the call was, for its error messages.
#[derive(Debug, Clone, Copy)]
enum Call {
    List,
    Read,
    Send,
    Create,
    AddUser,
}

/// A Talk answer's data, or an error saying what went wrong for this call. spreed's 404 and 403
/// carry no message (InjectionMiddleware), and its 400/413 name only the field in
/// `data.error`.
fn read_answer<T: serde::de::DeserializeOwned>(
    call: Call,
    status: StatusCode,
    body: &[u8],
) -> Result<T, NcError> {
    let failure = match read_envelope::<T>(status, body) {
        Ok(data) => return Ok(data),
        Err(e) => e,
    };
    let field = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.pointer("/ocs/data/error")?.as_str().map(str::to_owned));
    let field = field.as_deref();
    // An unknown route (Talk switched off) is already explained by read_envelope.
    let is_ocs = serde_json::from_slice::<Value>(body)
        .ok()
        .is_some_and(|v| v.get("ocs").is_some());
    Err(match (call, status.as_u16(), field) {
        (_, 404, _) if !is_ocs => failure,
        (Call::Read | Call::Send, 404, _) => NcError::NotFound(
            "no conversation with this token in which the user takes part (list them with \
             talk_list_conversations)"
                .into(),
        ),
        (Call::Send, 403, _) => NcError::Forbidden(
            "the conversation is read-only, or the user may not post in it".into(),
        ),
        (Call::Read | Call::Send, 412, _) => NcError::Forbidden(
            "the conversation's lobby is closed to the user until a moderator opens it".into(),
        ),
        (Call::Send, 413, _) => NcError::InvalidInput(
            "the message is longer than this Talk allows; shorten or split it".into(),
        ),
        (Call::Send, 400, Some("reply-to")) => NcError::InvalidInput(
            "reply_to is not a message of this conversation that can be replied to".into(),
        ),
        (Call::Send, 400, _) => NcError::InvalidInput("Talk refused the message".into()),
        (Call::Create, 404, _) => NcError::NotFound(
            "Nextcloud knows no user (or group) by that id; ids are login names, not display \
             names"
                .into(),
        ),
        (Call::Create, 403, _) => NcError::Forbidden(
            "the user may not create this conversation (not allowed by the administrator, or a \
             conversation with oneself)"
                .into(),
        ),
        (Call::Create, 400, _) => NcError::InvalidInput(
            "Talk refused the conversation: a group or public one needs a name of 1 to 255 \
             characters"
                .into(),
        ),
        (Call::AddUser, 404, _) => NcError::NotFound("Nextcloud knows no user by that id".into()),
        (Call::AddUser, 403, _) => {
            NcError::Forbidden("only a moderator may add participants".into())
        }
        (Call::AddUser, 400, _) => NcError::InvalidInput(
            "participants cannot be added to this kind of conversation".into(),
        ),
        _ => failure,
    })
}

impl Nextcloud {
    /// The conversations the user takes part in.
    pub async fn talk_rooms(&self, auth: &NcAuth) -> Result<Vec<Room>, NcError> {
        let request = self
            .ocs_request(auth, Method::GET, "apps/spreed/api/v4/room")?
            .query(&[("noStatusUpdate", "1"), ("format", "json")]);
        let (status, body) = self.talk_send(request).await?;
        read_answer(Call::List, status, &body)
    }

    /// Up to `limit` messages older than `before` (the newest when `None`), newest first.
    pub async fn talk_history(
        &self,
        auth: &NcAuth,
        token: &str,
        limit: u32,
        before: Option<i64>,
    ) -> Result<History, NcError> {
        let limit = limit.clamp(1, MAX_HISTORY).to_string();
        let before = before.unwrap_or(0).max(0).to_string();
        let request = self
            .ocs_request(auth, Method::GET, &chat_path(token)?)?
            .query(&[
                ("lookIntoFuture", "0"),
                ("limit", limit.as_str()),
                ("lastKnownMessageId", before.as_str()),
                ("setReadMarker", "0"),
                ("markNotificationsAsRead", "0"),
                ("noStatusUpdate", "1"),
                ("format", "json"),
            ]);
        let response = self
            .send_allowing("talk", request, &[StatusCode::FORBIDDEN])
            .await?;
        // Nothing (more) to give: 304 without a body.
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(History::default());
        }
        let last_given = response
            .headers()
            .get("X-Chat-Last-Given")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let status = response.status();
        let body = read_body(response).await?;
        let messages = read_answer(Call::Read, status, &body)?;
        Ok(History {
            messages,
            last_given,
        })
    }

    /// Posts a message; the answer is the message as stored.
    pub async fn talk_post(
        &self,
        auth: &NcAuth,
        token: &str,
        post: &Post<'_>,
    ) -> Result<Message, NcError> {
        let mut body = serde_json::json!({
            "message": post.message,
            "referenceId": post.reference_id,
            "silent": post.silent,
        });
        if let Some(reply_to) = post.reply_to {
            body["replyTo"] = reply_to.into();
        }
        let request = self
            .ocs_request(auth, Method::POST, &chat_path(token)?)?
            .query(&[("format", "json")])
            .json(&body);
        let (status, body) = self.talk_send(request).await?;
        read_answer(Call::Send, status, &body)
    }

    /// Creates a conversation (`roomType` 1 with `invite` a user id; 2 or 3 with `roomName`).
    /// For a one-to-one conversation that exists already, that one (`created` false).
    pub async fn talk_create_room(
        &self,
        auth: &NcAuth,
        kind: i64,
        invite: Option<&str>,
        name: Option<&str>,
    ) -> Result<(Room, bool), NcError> {
        let mut body = serde_json::json!({ "roomType": kind });
        if let Some(invite) = invite {
            body["invite"] = invite.into();
        }
        if let Some(name) = name {
            body["roomName"] = name.into();
        }
        let request = self
            .ocs_request(auth, Method::POST, "apps/spreed/api/v4/room")?
            .query(&[("format", "json")])
            .json(&body);
        let (status, body) = self.talk_send(request).await?;
        let room = read_answer(Call::Create, status, &body)?;
        Ok((room, status == StatusCode::CREATED))
    }

    /// Adds a user to a group or public conversation (moderators only); they are notified.
    pub async fn talk_add_user(
        &self,
        auth: &NcAuth,
        token: &str,
        user: &str,
    ) -> Result<(), NcError> {
        check_token(token)?;
        let request = self
            .ocs_request(
                auth,
                Method::POST,
                &format!("apps/spreed/api/v4/room/{token}/participants"),
            )?
            .query(&[("format", "json")])
            .json(&serde_json::json!({ "newParticipant": user, "source": "users" }));
        let (status, body) = self.talk_send(request).await?;
        read_answer::<Value>(Call::AddUser, status, &body).map(|_| ())
    }

    async fn talk_send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, Vec<u8>), NcError> {
        let response = self
            .send_allowing("talk", request, &[StatusCode::FORBIDDEN])
            .await?;
        let status = response.status();
        Ok((status, read_body(response).await?))
    }
}

/// A message to post.
#[derive(Debug)]
pub struct Post<'a> {
    pub message: &'a str,
    pub reply_to: Option<i64>,
    pub silent: bool,
    /// At most 64 characters (server `Comment::setReferenceId`).
    pub reference_id: &'a str,
}

async fn read_body(response: reqwest::Response) -> Result<Vec<u8>, NcError> {
    response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|_| NcError::Unavailable("the response was cut off".into()))
}

/// `apps/spreed/api/v1/chat/<token>`; a token is `[a-z0-9]{4,30}` in spreed's routes, so
/// anything else is refused before it becomes part of a URL.
fn chat_path(token: &str) -> Result<String, NcError> {
    check_token(token)?;
    Ok(format!("apps/spreed/api/v1/chat/{token}"))
}

pub fn check_token(token: &str) -> Result<(), NcError> {
    let valid = (4..=30).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(NcError::InvalidInput(
            "a conversation token is 4 to 30 lowercase letters and digits, as \
             talk_list_conversations shows it"
                .into(),
        ))
    }
}

#[cfg(test)]
mod tests;
