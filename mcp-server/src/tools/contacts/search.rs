//! contacts_search: by name or e-mail, or by phone number, sorted by name and paged with a
//! cursor.

use rmcp::model::JsonObject;
use serde::{Deserialize, Serialize};

use super::args::SearchArgs;
use super::parse::invalid;
use super::{ContactSummary, SearchAnswer};
use crate::nextcloud::carddav::CardObject;
use crate::nextcloud::cards::{
    cards_of, contact_of, phone_matches, Contact, PhoneDigits, PHONE_MIN_DIGITS,
};
use crate::tools::{parse_args, ToolContext, ToolError, ToolResult};

/// Contacts per contacts_search page: default and most.
use crate::tools::paging::{DEFAULT_LIMIT, MAX_LIMIT};
/// Most matching cards per address book contacts_search sorts (sabre has no order or offset,
/// so every match is fetched — only the fields a summary shows — and paged here).
const MAX_SCAN: usize = 2000;

/// Most cards per address book a phone search compares (sabre pre-selects them by the last
/// two digits; see `carddav::phone_search_body`).
const MAX_PHONE_CANDIDATES: usize = 1000;

/// Where a contact stands in contacts_search's order: name (lower case), address book, file
/// name, uid (a file may hold more than one card). The cursor is the last key of a page, so a
/// page starts right after it even when contacts were added or removed in between.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) struct SortKey(
    pub(super) String,
    pub(super) String,
    pub(super) String,
    pub(super) String,
);

pub(super) fn encode_cursor(key: &SortKey) -> String {
    crate::tools::paging::encode_cursor(key)
}

pub(super) fn decode_cursor(cursor: &str) -> Result<SortKey, ToolError> {
    crate::tools::paging::decode_cursor(
        cursor,
        "cursor is not one contacts_search gave; leave it out to start over",
    )
}

/// Whether a contact's name or one of its e-mail addresses contains `query` (lower case).
fn names_or_emails_contain(contact: &Contact, query: &str) -> bool {
    contact.full_name.to_lowercase().contains(query)
        || contact
            .emails
            .iter()
            .any(|e| e.value.to_lowercase().contains(query))
}

fn summary_of(contact: &Contact, book: &str, object: &CardObject) -> ContactSummary {
    ContactSummary {
        uid: contact.uid.clone(),
        full_name: contact.full_name.clone(),
        emails: contact.emails.iter().map(|e| e.value.clone()).collect(),
        phones: contact.phones.iter().map(|p| p.value.clone()).collect(),
        org: contact.org.clone(),
        addressbook_id: book.to_owned(),
        etag: object.etag.clone(),
        href: object.name.clone(),
    }
}

pub(super) async fn contacts_search(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: SearchArgs = parse_args(args)?;
    let query = a
        .query
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty());
    if query
        .as_deref()
        .is_some_and(|q| q.chars().any(char::is_control))
    {
        return Err(invalid("query must not contain control characters"));
    }
    let phone = a
        .phone
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty());
    if let Some(phone) = &phone {
        if phone.chars().any(char::is_control)
            || PhoneDigits::of(phone).digits.len() < PHONE_MIN_DIGITS
        {
            return Err(invalid(format!(
                "phone must hold at least {PHONE_MIN_DIGITS} digits (e.g. \"+49 170 1234567\")"
            )));
        }
    }
    let limit = match a.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return Err(invalid(format!("limit is 1 to {MAX_LIMIT}"))),
    };
    let after = a.cursor.as_deref().map(decode_cursor).transpose()?;
    let dav = ctx.session().await?;
    let books: Vec<String> = match a.addressbook_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => vec![id.to_owned()],
        _ => dav
            .addressbooks_list()
            .await?
            .into_iter()
            .map(|b| b.id)
            .collect(),
    };
    let mut found: Vec<(SortKey, ContactSummary)> = Vec::new();
    let mut more = false;
    let lower_query = query.as_deref().map(str::to_lowercase);
    for book in &books {
        let objects = match &phone {
            // Sabre finds the cards whose numbers may match; the numbers are compared here,
            // and so is the text query.
            Some(phone) => {
                let objects = dav
                    .contacts_query_phone(book, phone, MAX_PHONE_CANDIDATES + 1)
                    .await?;
                more |= objects.len() > MAX_PHONE_CANDIDATES;
                objects
            }
            None => {
                let objects = dav
                    .contacts_query(book, query.as_deref(), MAX_SCAN + 1)
                    .await?;
                more |= objects.len() > MAX_SCAN;
                objects
            }
        };
        for object in &objects {
            let Ok(cards) = cards_of(&object.data) else {
                tracing::debug!(book, object = object.name, "skipping an unparsable contact");
                continue;
            };
            for card in &cards {
                let contact = contact_of(card);
                if let Some(phone) = &phone {
                    if !contact
                        .phones
                        .iter()
                        .any(|p| phone_matches(phone, &p.value))
                    {
                        continue;
                    }
                    if let Some(q) = &lower_query {
                        if !names_or_emails_contain(&contact, q) {
                            continue;
                        }
                    }
                }
                let key = SortKey(
                    contact.full_name.to_lowercase(),
                    book.clone(),
                    object.name.clone(),
                    contact.uid.clone(),
                );
                found.push((key, summary_of(&contact, book, object)));
            }
        }
    }
    found.sort_by(|x, y| x.0.cmp(&y.0));
    let mut page: Vec<(SortKey, ContactSummary)> = found
        .into_iter()
        .filter(|(key, _)| after.as_ref().is_none_or(|after| key > after))
        .take(limit + 1)
        .collect();
    let next_cursor = if page.len() > limit {
        page.truncate(limit);
        page.last().map(|(key, _)| encode_cursor(key))
    } else {
        None
    };
    let contacts: Vec<ContactSummary> = page.into_iter().map(|(_, v)| v).collect();
    crate::tools::answer(&SearchAnswer {
        query,
        phone,
        count: contacts.len(),
        truncated: more,
        contacts,
        next_cursor,
    })
}
