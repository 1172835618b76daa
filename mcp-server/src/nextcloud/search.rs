//! Nextcloud's unified search (core `core/Controller/UnifiedSearchController.php`, OCS, no
//! CORS, so Bearer and Basic both work): the providers a user has
//! (`GET search/providers`, `lib/private/Search/SearchComposer.php::getProviders`) and one
//! provider's page of results (`GET search/providers/{id}/search?term&limit&cursor`, the shapes
//! of `lib/public/Search/SearchResult.php` and `SearchResultEntry.php`).
//!
//! Each result is given an [`ItemId`]: a self-describing, stable id naming the item in the
//! family's own API (`files:<fileid>`, `notes:<id>`, `calendar:<calendar>/<object>`,
//! `tasks:<calendar>/<object>`, `contacts:<book>/<uid>`, `deck:card/<id>`, `deck:board/<id>`,
//! `talk:<token>/<message>`, `talk:<token>`), read from what each provider puts in its entries:
//! - files (`apps/files/lib/Search/FilesSearchProvider.php`): attribute `fileId`;
//! - notes (`nextcloud/notes lib/AppInfo/SearchProvider.php`): resourceUrl `…/apps/notes/note/<id>`;
//! - calendar (`apps/dav/lib/Search/EventsSearchProvider.php`): resourceUrl
//!   `…/apps/calendar/edit/<base64 of /remote.php/dav/calendars/<user>/<calendar>/<object>>`;
//! - tasks (`apps/dav/lib/Search/TasksSearchProvider.php`): resourceUrl
//!   `…/apps/tasks/[#/]calendars/<calendar>/tasks/<object>`;
//! - contacts (`apps/dav/lib/Search/ContactsSearchProvider.php`): resourceUrl
//!   `…/apps/contacts/direct/contact/<uid>~<address book>`;
//! - Deck (deck stable32 `lib/Search/DeckProvider.php`, `CardSearchResultEntry.php`,
//!   `BoardSearchResultEntry.php`, `CardCommentProvider.php`): resourceUrl `…/apps/deck/card/<id>`,
//!   `…/apps/deck/board/<id>`, or `…/apps/deck/#/board/<b>/card/<id>/comments/<c>`;
//! - Talk (spreed `lib/Search/MessageSearch.php`, `ConversationSearch.php`): attributes
//!   `conversation` and `messageId`; conversations by resourceUrl `…/call/<token>`.

use std::fmt;

use base64::Engine;
use mcp_shared::Scope;
use reqwest::Method;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::paths::{encode_segment, validate_name};
use super::talk::check_token;
use super::{NcAuth, NcError, Nextcloud};

/// `SearchQuery::LIMIT_MAX_REQUEST` (unified-search.max-results-per-request default): the most
/// results one provider gives per request.
pub const MAX_PER_PROVIDER: u32 = 25;

/// One search provider the user has.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub id: String,
    #[serde(default)]
    pub app_id: String,
    #[serde(default)]
    pub name: String,
    /// Lower first (the web UI's order).
    #[serde(default)]
    pub order: i64,
}

/// One result (`SearchResultEntry::jsonSerialize`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub subline: String,
    #[serde(default)]
    pub resource_url: String,
    /// PHP's empty array comes as `[]`, a filled one as an object.
    #[serde(default, deserialize_with = "attributes")]
    pub attributes: Map<String, Value>,
}

/// One provider's page (`SearchResult::jsonSerialize`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub is_paginated: bool,
    #[serde(default)]
    pub entries: Vec<Entry>,
    /// An int offset (files, Talk), a string (Deck: `<board ts>|<card ts>`), or null.
    #[serde(default, deserialize_with = "cursor")]
    pub cursor: Option<String>,
}

fn attributes<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Object(map) => map,
        _ => Map::new(),
    })
}

fn cursor<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// The data families whose providers are searched, each behind its read scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    Files,
    Notes,
    Calendar,
    Tasks,
    Contacts,
    Deck,
    Talk,
}

impl Family {
    pub const ALL: [Family; 7] = [
        Self::Files,
        Self::Notes,
        Self::Calendar,
        Self::Tasks,
        Self::Contacts,
        Self::Deck,
        Self::Talk,
    ];

    /// Its name in ids and in the `providers` argument.
    pub fn name(self) -> &'static str {
        match self {
            Self::Files => "files",
            Self::Notes => "notes",
            Self::Calendar => "calendar",
            Self::Tasks => "tasks",
            Self::Contacts => "contacts",
            Self::Deck => "deck",
            Self::Talk => "talk",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The scope that lets a token read this family's data.
    pub fn scope(self) -> Scope {
        match self {
            Self::Files => Scope::FilesRead,
            Self::Notes => Scope::NotesRead,
            Self::Calendar => Scope::CalendarRead,
            Self::Tasks => Scope::TasksRead,
            Self::Contacts => Scope::ContactsRead,
            Self::Deck => Scope::DeckRead,
            Self::Talk => Scope::TalkRead,
        }
    }

    /// The family of a provider id; `None` for providers not searched here (settings, users,
    /// apps, comments, mail, fulltextsearch, Talk's "current conversation" twin…).
    pub fn of_provider(id: &str) -> Option<Self> {
        Some(match id {
            "files" => Self::Files,
            "notes" => Self::Notes,
            "calendar" => Self::Calendar,
            "tasks" => Self::Tasks,
            "contacts" => Self::Contacts,
            "search-deck-card-board" | "search-deck-comment" => Self::Deck,
            "talk-conversations" | "talk-message" => Self::Talk,
            _ => return None,
        })
    }
}

/// What a search result (or a `fetch` id) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemId {
    File(u64),
    Note(i64),
    Event { calendar: String, object: String },
    Task { calendar: String, object: String },
    Contact { book: String, uid: String },
    DeckCard(i64),
    DeckBoard(i64),
    TalkMessage { token: String, message: i64 },
    TalkConversation(String),
}

/// Longest id accepted (bytes).
const MAX_ID_BYTES: usize = 1200;

fn bad_id(id: &str) -> NcError {
    let shown: String = id.chars().take(80).collect();
    NcError::InvalidInput(format!(
        "\"{shown}\" is not an id from search: ids look like files:123, notes:7, \
         calendar:<calendar>/<object>, tasks:<calendar>/<object>, contacts:<book>/<uid>, \
         deck:card/12, deck:board/3, talk:<token>/<message id> or talk:<token>"
    ))
}

fn positive(s: &str) -> Option<i64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
        .filter(|n| *n > 0)
}

/// `<first>/<rest>`, both single names (the rest may hold a `/` only when `rest_may_slash`).
fn pair(s: &str, rest_may_slash: bool) -> Option<(String, String)> {
    let (a, b) = s.split_once('/')?;
    let ok = |n: &str| validate_name(n, "id").is_ok();
    let b_ok = if rest_may_slash {
        !b.trim().is_empty() && b.len() <= 512 && !b.chars().any(char::is_control)
    } else {
        ok(b)
    };
    (ok(a) && b_ok).then(|| (a.to_owned(), b.to_owned()))
}

impl ItemId {
    pub fn family(&self) -> Family {
        match self {
            Self::File(_) => Family::Files,
            Self::Note(_) => Family::Notes,
            Self::Event { .. } => Family::Calendar,
            Self::Task { .. } => Family::Tasks,
            Self::Contact { .. } => Family::Contacts,
            Self::DeckCard(_) | Self::DeckBoard(_) => Family::Deck,
            Self::TalkMessage { .. } | Self::TalkConversation(_) => Family::Talk,
        }
    }

    /// Parses an id as [`fmt::Display`] writes it; anything else is refused with the forms
    /// ids take. Names are checked to be single segments (no `/`, `.`, `..`).
    pub fn parse(id: &str) -> Result<Self, NcError> {
        if id.len() > MAX_ID_BYTES || id.chars().any(char::is_control) {
            return Err(bad_id(id));
        }
        let (family, rest) = id.split_once(':').ok_or_else(|| bad_id(id))?;
        let parsed = match Family::from_name(family).ok_or_else(|| bad_id(id))? {
            Family::Files => positive(rest)
                .and_then(|n| u64::try_from(n).ok())
                .map(Self::File),
            Family::Notes => positive(rest).map(Self::Note),
            Family::Calendar => {
                pair(rest, false).map(|(calendar, object)| Self::Event { calendar, object })
            }
            Family::Tasks => {
                pair(rest, false).map(|(calendar, object)| Self::Task { calendar, object })
            }
            Family::Contacts => pair(rest, true).map(|(book, uid)| Self::Contact { book, uid }),
            Family::Deck => match rest.split_once('/') {
                Some(("card", n)) => positive(n).map(Self::DeckCard),
                Some(("board", n)) => positive(n).map(Self::DeckBoard),
                _ => None,
            },
            Family::Talk => match rest.split_once('/') {
                Some((token, n)) => {
                    positive(n)
                        .filter(|_| check_token(token).is_ok())
                        .map(|message| Self::TalkMessage {
                            token: token.to_owned(),
                            message,
                        })
                }
                None => check_token(rest)
                    .ok()
                    .map(|()| Self::TalkConversation(rest.to_owned())),
            },
        };
        parsed.ok_or_else(|| bad_id(id))
    }

    /// The id of a provider's result, if it names something `fetch` can read.
    pub fn of_entry(provider: &str, entry: &Entry) -> Option<Self> {
        let url = entry.resource_url.as_str();
        let id = match Family::of_provider(provider)? {
            Family::Files => entry
                .attributes
                .get("fileId")
                .and_then(attr_string)
                .and_then(|s| positive(&s))
                .or_else(|| positive(segment_after(url, "/f/")?))
                .and_then(|n| u64::try_from(n).ok())
                .map(Self::File),
            Family::Notes => positive(segment_after(url, "/apps/notes/note/")?).map(Self::Note),
            Family::Calendar => {
                let encoded = segment_after(url, "/apps/calendar/edit/")?;
                let encoded = percent_decode(encoded);
                let dav = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .ok()?;
                let dav = String::from_utf8(dav).ok()?;
                let rest = &dav[dav.find("/dav/calendars/")? + "/dav/calendars/".len()..];
                let (_user, rest) = rest.split_once('/')?;
                pair(rest.trim_end_matches('/'), false)
                    .map(|(calendar, object)| Self::Event { calendar, object })
            }
            Family::Tasks => {
                let rest = &url[url.find("/apps/tasks")?..];
                let rest = &rest[rest.find("calendars/")? + "calendars/".len()..];
                let (calendar, rest) = rest.split_once("/tasks/")?;
                let object = rest.split(['?', '#']).next()?;
                let (calendar, object) = (percent_decode(calendar), percent_decode(object));
                (validate_name(&calendar, "id").is_ok() && validate_name(&object, "id").is_ok())
                    .then_some(Self::Task { calendar, object })
            }
            Family::Contacts => {
                let contact = percent_decode(segment_after(url, "/apps/contacts/direct/contact/")?);
                let (uid, book) = contact.rsplit_once('~')?;
                pair(&format!("{book}/{uid}"), true).map(|(book, uid)| Self::Contact { book, uid })
            }
            Family::Deck => {
                if let Some(n) = segment_after(url, "/apps/deck/card/") {
                    positive(n).map(Self::DeckCard)
                } else if let Some(n) = url
                    .find("/board/")
                    .and_then(|at| segment_after(&url[at..], "/card/"))
                {
                    positive(n).map(Self::DeckCard)
                } else {
                    positive(segment_after(url, "/apps/deck/board/")?).map(Self::DeckBoard)
                }
            }
            Family::Talk => {
                let token = entry.attributes.get("conversation").and_then(attr_string);
                let message = entry.attributes.get("messageId").and_then(attr_string);
                match (token, message) {
                    (Some(token), Some(message)) => positive(&message)
                        .filter(|_| check_token(&token).is_ok())
                        .map(|message| Self::TalkMessage { token, message }),
                    // ConversationSearch: the token alone.
                    (Some(token), None) => check_token(&token)
                        .ok()
                        .map(|()| Self::TalkConversation(token)),
                    _ => {
                        let token = segment_after(url, "/call/")?;
                        check_token(token)
                            .ok()
                            .map(|()| Self::TalkConversation(token.to_owned()))
                    }
                }
            }
        };
        id
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(id) => write!(f, "files:{id}"),
            Self::Note(id) => write!(f, "notes:{id}"),
            Self::Event { calendar, object } => write!(f, "calendar:{calendar}/{object}"),
            Self::Task { calendar, object } => write!(f, "tasks:{calendar}/{object}"),
            Self::Contact { book, uid } => write!(f, "contacts:{book}/{uid}"),
            Self::DeckCard(id) => write!(f, "deck:card/{id}"),
            Self::DeckBoard(id) => write!(f, "deck:board/{id}"),
            Self::TalkMessage { token, message } => write!(f, "talk:{token}/{message}"),
            Self::TalkConversation(token) => write!(f, "talk:{token}"),
        }
    }
}

/// An attribute's value as text (Nextcloud gives ids as strings or numbers).
fn attr_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The path segment right after `marker` in a URL (up to `/`, `?` or `#`).
fn segment_after<'a>(url: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &url[url.find(marker)? + marker.len()..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|s| !s.is_empty())
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl Nextcloud {
    /// The search providers the user has, in Nextcloud's order.
    pub async fn search_providers(&self, auth: &NcAuth) -> Result<Vec<Provider>, NcError> {
        let request = self
            .ocs_request(auth, Method::GET, "search/providers")?
            .query(&[("format", "json")]);
        let mut providers: Vec<Provider> = self.ocs("search", request).await?;
        providers.sort_by_key(|p| p.order);
        Ok(providers)
    }

    /// One page of `provider`'s results for `term` (`limit` is capped as Nextcloud does).
    pub async fn search_provider(
        &self,
        auth: &NcAuth,
        provider: &str,
        term: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page, NcError> {
        let path = format!("search/providers/{}/search", encode_segment(provider));
        let limit = limit.clamp(1, MAX_PER_PROVIDER).to_string();
        let mut query = vec![
            ("term", term),
            ("limit", limit.as_str()),
            ("format", "json"),
        ];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor));
        }
        let request = self.ocs_request(auth, Method::GET, &path)?.query(&query);
        self.ocs("search", request).await
    }
}

#[cfg(test)]
mod tests;
