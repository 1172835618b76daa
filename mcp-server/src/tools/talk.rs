//! Talk tools (spreed OCS API; scopes `talk:read`, `talk:write`; they need
//! [`App::Talk`](crate::nextcloud::capabilities::App::Talk)). Reading marks nothing as read and
//! leaves the user's online status alone; sending reaches other people, and says so.

use mcp_shared::Scope;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{answer, parse_args, ToolContext, ToolError, ToolResult, ToolSpec};
use crate::nextcloud::capabilities::App;
use crate::nextcloud::talk::{check_token, Message, Post, Room};

const MAX_CONVERSATIONS: u32 = 100;
const DEFAULT_CONVERSATIONS: u32 = 50;
const DEFAULT_MESSAGES: u32 = 50;
/// spreed's `ChatManager::MAX_CHAT_LENGTH`, in characters.
const MAX_MESSAGE_CHARS: usize = 32_000;
/// A message's text in a history page (a page of 200 long messages stays readable).
const MAX_TEXT_CHARS: usize = 4_000;
const EXCERPT_CHARS: usize = 200;
const MAX_PARTICIPANTS: usize = 20;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Only conversations whose name contains this text (case-insensitive).
    #[serde(default)]
    pub query: Option<String>,
    /// Only conversations with unread messages.
    #[serde(default)]
    pub unread_only: bool,
    /// At most this many conversations (1–100, default 50), most recently active first.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page, for the next one.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    /// The conversation's token (from talk_list_conversations).
    pub token: String,
    /// At most this many messages (1–200, default 50), the newest ones before
    /// `before_message_id`.
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
    /// Only messages older than this one: `next_before_message_id` of the previous page.
    /// Left out: the newest messages.
    #[serde(default)]
    pub before_message_id: Option<i64>,
    /// Also return system messages (who joined, who created the conversation…).
    #[serde(default)]
    pub include_system: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendArgs {
    /// The conversation's token (from talk_list_conversations).
    pub token: String,
    /// The text (Markdown; up to 32000 characters). `@userid` mentions the user.
    pub message: String,
    /// Id of a message in this conversation to reply to.
    #[serde(default)]
    pub reply_to: Option<i64>,
    /// Post without notifying the participants.
    #[serde(default)]
    pub silent: bool,
}

/// What kind of conversation to create.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A private conversation with one other user (`with_user`).
    OneToOne,
    /// A conversation for invited participants only (`name` required).
    Group,
    /// A conversation anyone with its link can join (`name` required).
    Public,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    #[serde(rename = "type")]
    pub kind: Kind,
    /// For one_to_one: the other user's id (login name, not display name).
    #[serde(default)]
    pub with_user: Option<String>,
    /// For group and public: the conversation's name (1–255 characters).
    #[serde(default)]
    pub name: Option<String>,
    /// For group and public: user ids to add (at most 20); each is notified.
    #[serde(default)]
    pub participants: Vec<String>,
}

/// talk_list_conversations' answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConversationList {
    pub conversations: Vec<Conversation>,
    /// Pass as `cursor` for the next page; null when this is the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Conversation {
    /// Identifies the conversation in the other Talk tools.
    pub token: String,
    /// one_to_one, group, public, note_to_self, changelog, former_one_to_one or other.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub description: String,
    pub unread_messages: i64,
    /// An unread message mentions the user.
    pub unread_mention: bool,
    /// Last activity, RFC 3339 (UTC).
    pub last_activity: Option<String>,
    pub favorite: bool,
    pub archived: bool,
    /// Locked: nobody can post.
    pub read_only: bool,
    /// The newest message, shortened: "Author: text".
    pub last_message: Option<String>,
}

/// talk_read_messages' answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MessagePage {
    pub token: String,
    /// Oldest first.
    pub messages: Vec<ChatMessage>,
    /// Pass as `before_message_id` for older messages; null when there are none.
    pub next_before_message_id: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ChatMessage {
    pub id: i64,
    /// The author's display name.
    pub author: String,
    /// The author's user id (or guest/bot id).
    pub author_id: String,
    /// RFC 3339 (UTC).
    pub time: Option<String>,
    /// Mentions and files shown by name.
    pub text: String,
    /// A system event rather than something a person wrote.
    pub system: bool,
    /// Posted without notifying.
    pub silent: bool,
    /// The message this one replies to, shortened.
    pub reply_to: Option<Reply>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Reply {
    pub id: i64,
    pub author: String,
    pub text: String,
}

/// talk_send_message's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Sent {
    pub token: String,
    pub message: ChatMessage,
    /// The same message had just been posted (a retry): it was not posted again.
    pub already_sent: bool,
}

/// talk_create_conversation's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Created {
    pub conversation: Conversation,
    /// false: the one-to-one conversation existed already and is returned.
    pub created: bool,
    /// Participants added besides the user.
    pub added: Vec<String>,
    /// Participants that could not be added, with the reason.
    pub not_added: Vec<NotAdded>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NotAdded {
    pub user: String,
    pub reason: String,
}

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "talk_list_conversations",
        title: "List Talk conversations",
        description: "Lists the Talk conversations the user takes part in, most recently active \
                      first: token (needed by the other Talk tools), type, name, unread count, \
                      whether an unread message mentions the user, and the last message. \
                      Filters by name and unread; paginated with cursor. Marks nothing as read.",
        scopes: &[Scope::TalkRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<ConversationList>),
        requires: Some(App::Talk),
        schema: schema_for_type::<ListArgs>,
        handler: |args, ctx| Box::pin(list_conversations(args, ctx)),
    },
    ToolSpec {
        name: "talk_read_messages",
        title: "Read Talk messages",
        description: "Returns the newest messages of a conversation (by token), oldest first, \
                      with author, time and text (mentions and files shown by name); for older \
                      ones pass next_before_message_id as before_message_id. System messages \
                      only when include_system. Does not mark the conversation as read.",
        scopes: &[Scope::TalkRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<MessagePage>),
        requires: Some(App::Talk),
        schema: schema_for_type::<ReadArgs>,
        handler: |args, ctx| Box::pin(read_messages(args, ctx)),
    },
    ToolSpec {
        name: "talk_send_message",
        title: "Send a Talk message",
        description: "Posts a message to other people in a conversation, as the user: every \
                      participant sees it and may be notified (unless silent); it cannot be taken back here. \
                      Optionally a reply to a message id. Returns the posted message. Sending \
                      the same text again right after it was posted is recognised as a retry \
                      and not posted twice. Fails if the conversation is read-only.",
        scopes: &[Scope::TalkWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
        output: Some(schema_for_output::<Sent>),
        requires: Some(App::Talk),
        schema: schema_for_type::<SendArgs>,
        handler: |args, ctx| Box::pin(send_message(args, ctx)),
    },
    ToolSpec {
        name: "talk_create_conversation",
        title: "Create a Talk conversation",
        description: "Creates a conversation: one_to_one with a user (with_user; an existing \
                      one is returned instead), or a group or public one with a name and \
                      optional participants. It reaches other people: every invited participant \
                      is notified. Returns \
                      the conversation with its token.",
        scopes: &[Scope::TalkWrite],
        any_of: &[],
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: true,
        output: Some(schema_for_output::<Created>),
        requires: Some(App::Talk),
        schema: schema_for_type::<CreateArgs>,
        handler: |args, ctx| Box::pin(create_conversation(args, ctx)),
    },
];

fn rfc3339(unix: i64) -> Option<String> {
    (unix > 0)
        .then(|| chrono::DateTime::from_timestamp(unix, 0))
        .flatten()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max).collect();
    s.push('…');
    s
}

impl From<&Room> for Conversation {
    fn from(room: &Room) -> Self {
        Self {
            token: room.token.clone(),
            kind: room.kind_name().to_owned(),
            name: room.display_name.clone(),
            description: room.description.clone(),
            unread_messages: room.unread_messages,
            unread_mention: room.unread_mention,
            last_activity: rfc3339(room.last_activity),
            favorite: room.is_favorite,
            archived: room.is_archived,
            read_only: room.read_only == 1,
            last_message: room.last_message.as_ref().map(|m| {
                shorten(
                    &format!("{}: {}", m.actor_display_name, m.text().replace('\n', " ")),
                    EXCERPT_CHARS,
                )
            }),
        }
    }
}

impl From<&Message> for ChatMessage {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id,
            author: m.actor_display_name.clone(),
            author_id: m.actor_id.clone(),
            time: rfc3339(m.timestamp),
            text: shorten(&m.text(), MAX_TEXT_CHARS),
            system: m.is_system(),
            silent: m.silent,
            reply_to: m.parent.as_ref().map(|p| Reply {
                id: p.id,
                author: p.actor_display_name.clone(),
                text: shorten(&p.text(), EXCERPT_CHARS),
            }),
        }
    }
}

/// The order of the list (most recently active first) and its cursor: the position after the
/// last conversation given, so a page stays right when conversations come or go.
fn position(room: &Room) -> (i64, &str) {
    (room.last_activity, room.token.as_str())
}

fn parse_cursor(cursor: &str) -> Result<(i64, String), ToolError> {
    cursor
        .split_once(':')
        .and_then(|(at, token)| Some((at.parse().ok()?, token.to_owned())))
        .filter(|(_, token)| check_token(token).is_ok())
        .ok_or_else(|| {
            ToolError::InvalidArguments(
                "cursor is not one talk_list_conversations gave; leave it out to start over".into(),
            )
        })
}

/// One page of conversations, filtered and ordered.
fn page(mut rooms: Vec<Room>, a: &ListArgs) -> Result<ConversationList, ToolError> {
    let limit = a
        .limit
        .unwrap_or(DEFAULT_CONVERSATIONS)
        .clamp(1, MAX_CONVERSATIONS) as usize;
    let after = a.cursor.as_deref().map(parse_cursor).transpose()?;
    let query = a
        .query
        .as_deref()
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    rooms.retain(|r| {
        (!a.unread_only || r.unread_messages > 0)
            && query
                .as_deref()
                .is_none_or(|q| r.display_name.to_lowercase().contains(q))
            && after
                .as_ref()
                .is_none_or(|(at, token)| position(r) < (*at, token.as_str()))
    });
    rooms.sort_by(|x, y| position(y).cmp(&position(x)));
    let more = rooms.len() > limit;
    rooms.truncate(limit);
    Ok(ConversationList {
        next_cursor: more
            .then(|| {
                rooms
                    .last()
                    .map(|r| format!("{}:{}", r.last_activity, r.token))
            })
            .flatten(),
        conversations: rooms.iter().map(Conversation::from).collect(),
    })
}

async fn list_conversations(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: ListArgs = parse_args(args)?;
    if let Some(cursor) = a.cursor.as_deref() {
        parse_cursor(cursor)?;
    }
    let rooms = ctx.nextcloud.talk_rooms(&ctx.auth).await?;
    answer(&page(rooms, &a)?)
}

async fn read_messages(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: ReadArgs = parse_args(args)?;
    check_token(&a.token)?;
    let limit = a.limit.unwrap_or(DEFAULT_MESSAGES);
    if !(1..=crate::nextcloud::talk::MAX_HISTORY).contains(&limit) {
        return Err(ToolError::InvalidArguments("limit is 1 to 200".into()));
    }
    if a.before_message_id.is_some_and(|id| id <= 0) {
        return Err(ToolError::InvalidArguments(
            "before_message_id is a message id (> 0)".into(),
        ));
    }
    let history = ctx
        .nextcloud
        .talk_history(&ctx.auth, &a.token, limit, a.before_message_id)
        .await?;
    // Fewer than asked: spreed has nothing older.
    let more = history.messages.len() >= limit as usize;
    let mut messages: Vec<ChatMessage> = history
        .messages
        .iter()
        .filter(|m| a.include_system || !m.is_system())
        .map(ChatMessage::from)
        .collect();
    messages.reverse();
    answer(&MessagePage {
        token: a.token,
        messages,
        next_before_message_id: history.last_given.filter(|_| more),
    })
}

/// The reference id of a post: the same call gives the same id, so a retry is recognisable
/// (spreed stores it with the message; at most 64 characters).
fn reference_id(user: &str, a: &SendArgs) -> String {
    let input = serde_json::json!([
        "talk_send_message",
        user,
        a.token,
        a.message,
        a.reply_to,
        a.silent
    ]);
    let digest = ring::digest::digest(&ring::digest::SHA256, input.to_string().as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

async fn send_message(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: SendArgs = parse_args(args)?;
    check_token(&a.token)?;
    if a.message.trim().is_empty() {
        return Err(ToolError::InvalidArguments("message is empty".into()));
    }
    if a.message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ToolError::InvalidArguments(format!(
            "message is longer than {MAX_MESSAGE_CHARS} characters; split it"
        )));
    }
    let user = ctx.user_id().await?;
    let reference = reference_id(&user, &a);
    let nc = ctx.nextcloud;
    // A retry of a post that went through (its answer lost): the newest message is ours.
    let newest = nc.talk_history(&ctx.auth, &a.token, 1, None).await?;
    if let Some(m) = newest
        .messages
        .first()
        .filter(|m| m.reference_id == reference && m.actor_id == user)
    {
        return answer(&Sent {
            token: a.token,
            message: ChatMessage::from(m),
            already_sent: true,
        });
    }
    let post = Post {
        message: &a.message,
        reply_to: a.reply_to,
        silent: a.silent,
        reference_id: &reference,
    };
    let message = nc.talk_post(&ctx.auth, &a.token, &post).await?;
    answer(&Sent {
        token: a.token,
        message: ChatMessage::from(&message),
        already_sent: false,
    })
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

async fn create_conversation(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: CreateArgs = parse_args(args)?;
    let nc = ctx.nextcloud;
    let with_user = non_blank(a.with_user);
    let name = non_blank(a.name);
    let (room, created) = match a.kind {
        Kind::OneToOne => {
            let Some(user) = with_user else {
                return Err(ToolError::InvalidArguments(
                    "a one_to_one conversation needs with_user".into(),
                ));
            };
            if name.is_some() || !a.participants.is_empty() {
                return Err(ToolError::InvalidArguments(
                    "a one_to_one conversation takes with_user only (no name or participants)"
                        .into(),
                ));
            }
            nc.talk_create_room(&ctx.auth, 1, Some(&user), None).await?
        }
        Kind::Group | Kind::Public => {
            let Some(name) = name else {
                return Err(ToolError::InvalidArguments(
                    "a group or public conversation needs a name".into(),
                ));
            };
            if with_user.is_some() {
                return Err(ToolError::InvalidArguments(
                    "with_user is for one_to_one; use participants".into(),
                ));
            }
            if name.chars().count() > 255 {
                return Err(ToolError::InvalidArguments(
                    "name is longer than 255 characters".into(),
                ));
            }
            if a.participants.len() > MAX_PARTICIPANTS {
                return Err(ToolError::InvalidArguments(format!(
                    "at most {MAX_PARTICIPANTS} participants; add more in Talk"
                )));
            }
            let kind = if matches!(a.kind, Kind::Group) { 2 } else { 3 };
            nc.talk_create_room(&ctx.auth, kind, None, Some(&name))
                .await?
        }
    };
    let mut added = Vec::new();
    let mut not_added = Vec::new();
    for user in a
        .participants
        .iter()
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
    {
        match nc.talk_add_user(&ctx.auth, &room.token, user).await {
            Ok(()) => added.push(user.to_owned()),
            Err(e) => not_added.push(NotAdded {
                user: user.to_owned(),
                reason: e.to_string(),
            }),
        }
    }
    answer(&Created {
        conversation: Conversation::from(&room),
        created,
        added,
        not_added,
    })
}

#[cfg(test)]
mod tests;
