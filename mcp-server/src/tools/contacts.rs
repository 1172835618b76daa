//! Contacts tools (Nextcloud Contacts over CardDAV).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mcp_shared::Scope;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{parse_args, ToolContext, ToolError, ToolResult, ToolSpec};
use crate::nextcloud::carddav::{addressbook_id_from_name, AddressBook, CardObject, ADDRESS_BOOKS};
use crate::nextcloud::cards::{
    build_card, cards_of, contact_of, phone_matches, update_card_data, Address, Contact,
    ContactDate, ContactFields, PhoneDigits, PHONE_MIN_DIGITS,
};
use crate::nextcloud::vobject::random_uid;
use crate::nextcloud::NcError;

/// Contacts per contacts_search page: default and most.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;
/// Most matching cards per address book contacts_search sorts (sabre has no order or offset,
/// so every match is fetched — only the fields a summary shows — and paged here).
const MAX_SCAN: usize = 2000;
/// Most e-mail addresses or phone numbers per contact.
const MAX_VALUES: usize = 20;
/// Most cards per address book a phone search compares (sabre pre-selects them by the last
/// two digits; see `carddav::phone_search_body`).
const MAX_PHONE_CANDIDATES: usize = 1000;
/// Most postal addresses per contact.
const MAX_ADDRESSES: usize = 10;
/// Longest text of one field (title, organization, an address part).
const MAX_FIELD: usize = 1000;

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAddressBooksArgs {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// Text to look for in names and e-mail addresses (case-insensitive, part of a word is
    /// enough). Left out or "" (and no phone): list all contacts, page by page.
    #[serde(default)]
    pub query: Option<String>,
    /// Address book id from contacts_list_addressbooks (e.g. "contacts"). Left out: search
    /// every address book.
    #[serde(default)]
    pub addressbook_id: Option<String>,
    /// A phone number or part of one (at least 3 digits), e.g. "+49 170 1234567" or
    /// "0170 1234567": finds contacts with a matching number. Spaces, dashes, dots, slashes and
    /// parentheses are ignored, and an international number (+ or 00 and country code) matches
    /// its national form with a leading 0. With query too, both must match.
    #[serde(default)]
    pub phone: Option<String>,
    /// Most contacts to return (1-200, default 50).
    #[serde(default)]
    pub limit: Option<usize>,
    /// The next_cursor of the previous answer (with the same query, phone and addressbook_id),
    /// for the next page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A postal address.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressArg {
    /// "home", "work" or "other" (left out: other).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The types as contacts_get shows them (e.g. ["work"]), so that an address can be given
    /// back as read; used when type is left out.
    #[serde(default)]
    pub types: Option<Vec<String>>,
    /// Street and house number (several lines separated by a line break).
    #[serde(default)]
    pub street: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    /// State, province or region.
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    /// Post office box.
    #[serde(default)]
    pub po_box: Option<String>,
    /// Extended address (apartment, suite, c/o).
    #[serde(default)]
    pub extended: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetArgs {
    /// Address book id of the contact (from contacts_search).
    pub addressbook_id: String,
    /// The contact's uid (from contacts_search).
    pub uid: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    /// Address book id from contacts_list_addressbooks (usually "contacts").
    pub addressbook_id: String,
    /// Full name as displayed (e.g. "Dr. Jane Doe"). Left out: made from given and family
    /// name.
    #[serde(default)]
    pub full_name: Option<String>,
    /// Given (first) name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Family (last) name.
    #[serde(default)]
    pub family_name: Option<String>,
    /// E-mail addresses.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Phone numbers (e.g. "+49 30 123456").
    #[serde(default)]
    pub phones: Vec<String>,
    /// Organization / company.
    #[serde(default)]
    pub org: Option<String>,
    /// Job title (e.g. "Head of Sales").
    #[serde(default)]
    pub title: Option<String>,
    /// Free-text note.
    #[serde(default)]
    pub note: Option<String>,
    /// Birthday: "YYYY-MM-DD", or "--MM-DD" when the year is not known.
    #[serde(default)]
    pub birthday: Option<String>,
    /// Wedding or other anniversary: "YYYY-MM-DD" or "--MM-DD".
    #[serde(default)]
    pub anniversary: Option<String>,
    /// Postal addresses.
    #[serde(default)]
    pub addresses: Vec<AddressArg>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    /// Address book id of the contact.
    pub addressbook_id: String,
    /// The contact's uid.
    pub uid: String,
    /// The contact's etag from contacts_get or contacts_search. If the contact changed since,
    /// the update is refused as a conflict instead of overwriting that change.
    pub etag: String,
    /// New full name (left out: unchanged).
    #[serde(default)]
    pub full_name: Option<String>,
    /// New given name (left out: unchanged).
    #[serde(default)]
    pub given_name: Option<String>,
    /// New family name (left out: unchanged).
    #[serde(default)]
    pub family_name: Option<String>,
    /// The complete new list of e-mail addresses, replacing the old ones ([] removes all;
    /// left out: unchanged). Addresses that stay keep their labels.
    #[serde(default)]
    pub emails: Option<Vec<String>>,
    /// The complete new list of phone numbers, replacing the old ones ([] removes all; left
    /// out: unchanged). Numbers that stay keep their labels.
    #[serde(default)]
    pub phones: Option<Vec<String>>,
    /// New organization; "" removes it (left out: unchanged).
    #[serde(default)]
    pub org: Option<String>,
    /// New note; "" removes it (left out: unchanged).
    #[serde(default)]
    pub note: Option<String>,
    /// New job title; "" removes it (left out: unchanged).
    #[serde(default)]
    pub title: Option<String>,
    /// New birthday "YYYY-MM-DD" or "--MM-DD" (no year); "" removes it (left out: unchanged).
    #[serde(default)]
    pub birthday: Option<String>,
    /// New anniversary "YYYY-MM-DD" or "--MM-DD"; "" removes it (left out: unchanged).
    #[serde(default)]
    pub anniversary: Option<String>,
    /// The complete new list of postal addresses, replacing the old ones ([] removes all;
    /// left out: unchanged). Give the addresses to keep as contacts_get shows them: those stay
    /// exactly as stored.
    #[serde(default)]
    pub addresses: Option<Vec<AddressArg>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAddressBookArgs {
    /// The address book's display name (e.g. "Clients").
    pub name: String,
    /// Its id in URLs (letters, digits, dashes). Left out: made from the name, with a number
    /// added if that id is taken.
    #[serde(default)]
    pub id: Option<String>,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    /// Address book id of the contact.
    pub addressbook_id: String,
    /// The contact's uid.
    pub uid: String,
    /// The contact's etag: when given, delete only if the contact did not change since.
    #[serde(default)]
    pub etag: Option<String>,
}

/// contacts_list_addressbooks' answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AddressBookList {
    pub count: usize,
    pub addressbooks: Vec<AddressBook>,
}

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "contacts_list_addressbooks",
        title: "List address books",
        description: "Lists the user's address books: id (used by the other contacts tools), \
                      name and description.",
        scopes: &[Scope::ContactsRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<AddressBookList>),
        requires: None,
        schema: schema_for_type::<ListAddressBooksArgs>,
        handler: |args, ctx| Box::pin(contacts_list_addressbooks(args, ctx)),
    },
    ToolSpec {
        name: "contacts_search",
        title: "Search contacts",
        description: "Finds contacts whose name or e-mail address contains the query \
                      (case-insensitive), or who have a phone number (phone: formatting and \
                      +49/0049/0 prefixes ignored), in one or all address books; without either \
                      lists all contacts. Sorted by name, paged (limit, cursor), each with uid, \
                      name, e-mails, phones, organization and etag; use contacts_get for every \
                      field.",
        scopes: &[Scope::ContactsRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<SearchAnswer>),
        requires: None,
        schema: schema_for_type::<SearchArgs>,
        handler: |args, ctx| Box::pin(contacts_search(args, ctx)),
    },
    ToolSpec {
        name: "contacts_get",
        title: "Read a contact",
        description: "Returns every field of one contact (names, e-mails and phones with their \
                      labels, organization, title, addresses, birthday, note…) and its etag \
                      (needed by contacts_update).",
        scopes: &[Scope::ContactsRead],
        any_of: &[],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<ContactAnswer>),
        requires: None,
        schema: schema_for_type::<GetArgs>,
        handler: |args, ctx| Box::pin(contacts_get(args, ctx)),
    },
    ToolSpec {
        name: "contacts_create",
        title: "Create a contact",
        description: "Creates a contact (name, e-mails, phones, organization, job title, \
                      postal addresses, birthday, anniversary, note) and returns it with its \
                      uid and etag.",
        scopes: &[Scope::ContactsWrite],
        any_of: &[],
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: false,
        output: Some(schema_for_output::<ContactAnswer>),
        requires: None,
        schema: schema_for_type::<CreateArgs>,
        handler: |args, ctx| Box::pin(contacts_create(args, ctx)),
    },
    ToolSpec {
        name: "contacts_update",
        title: "Update a contact",
        description: "Changes the given fields of a contact (names, e-mails, phones, \
                      organization, job title, postal addresses, birthday, anniversary, note) \
                      and keeps all others (photo, groups…) as they are stored; lists \
                      (e-mails, phones, addresses) replace the old ones only when given. \
                      Requires the etag from contacts_get: if the contact changed in the \
                      meantime the update is refused (conflict); get it again and retry.",
        scopes: &[Scope::ContactsWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: Some(schema_for_output::<ContactAnswer>),
        requires: None,
        schema: schema_for_type::<UpdateArgs>,
        handler: |args, ctx| Box::pin(contacts_update(args, ctx)),
    },
    ToolSpec {
        name: "contacts_delete",
        title: "Delete a contact",
        description: "Deletes a contact.",
        scopes: &[Scope::ContactsWrite],
        any_of: &[],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<DeleteArgs>,
        handler: |args, ctx| Box::pin(contacts_delete(args, ctx)),
    },
    ToolSpec {
        name: "contacts_create_addressbook",
        title: "Create an address book",
        description: "Creates an address book (name, optional id and description) and returns \
                      it as contacts_list_addressbooks shows it; its id is what the other \
                      contacts tools take as addressbook_id.",
        scopes: &[Scope::ContactsWrite],
        any_of: &[],
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: false,
        output: Some(schema_for_output::<AddressBook>),
        requires: None,
        schema: schema_for_type::<CreateAddressBookArgs>,
        handler: |args, ctx| Box::pin(contacts_create_addressbook(args, ctx)),
    },
];

fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::InvalidArguments(message.into())
}

fn required(value: &str, what: &str) -> Result<String, ToolError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(invalid(format!("{what} must not be empty")));
    }
    Ok(trimmed.to_owned())
}

fn emails_arg(values: Vec<String>) -> Result<Vec<String>, ToolError> {
    let values: Vec<String> = values
        .into_iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    if values.len() > MAX_VALUES {
        return Err(invalid(format!("at most {MAX_VALUES} e-mail addresses")));
    }
    if let Some(bad) = values
        .iter()
        .find(|v| !v.contains('@') || v.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(invalid(format!("\"{bad}\" is not an e-mail address")));
    }
    Ok(values)
}

fn phones_arg(values: Vec<String>) -> Result<Vec<String>, ToolError> {
    let values: Vec<String> = values
        .into_iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    if values.len() > MAX_VALUES {
        return Err(invalid(format!("at most {MAX_VALUES} phone numbers")));
    }
    if let Some(bad) = values
        .iter()
        .find(|v| v.chars().any(char::is_control) || !v.chars().any(|c| c.is_ascii_digit()))
    {
        return Err(invalid(format!("\"{bad}\" is not a phone number")));
    }
    Ok(values)
}

/// An optional text field: trimmed, `None` when blank; refused when too long or holding
/// control characters other than line breaks.
fn text_arg(value: Option<String>, what: &str) -> Result<Option<String>, ToolError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let value = value.trim().to_owned();
    if value.chars().count() > MAX_FIELD {
        return Err(invalid(format!(
            "{what} is longer than {MAX_FIELD} characters"
        )));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(Some(value))
}

/// A date argument: `Some(None)` for "" (remove), `None` when left out.
fn date_arg(value: Option<String>, what: &str) -> Result<Option<Option<ContactDate>>, ToolError> {
    match value.as_deref().map(str::trim) {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(text) => ContactDate::parse(text)
            .map(|d| Some(Some(d)))
            .map_err(|e| invalid(format!("{what}: {e}"))),
    }
}

fn addresses_arg(values: Vec<AddressArg>) -> Result<Vec<Address>, ToolError> {
    let mut addresses = Vec::new();
    for value in values {
        let kinds: Vec<String> = match (value.kind, value.types) {
            (Some(kind), _) => vec![kind],
            (None, Some(types)) => types,
            (None, None) => Vec::new(),
        };
        let mut types: Vec<String> = Vec::new();
        for kind in kinds {
            let kind = kind.trim().to_ascii_lowercase();
            match kind.as_str() {
                "" | "other" => {}
                "home" | "work" => {
                    if !types.contains(&kind) {
                        types.push(kind);
                    }
                }
                _ => {
                    return Err(invalid(format!(
                        "an address type is \"home\", \"work\" or \"other\", not \"{kind}\""
                    )))
                }
            }
        }
        let part = |v: Option<String>, what: &str| -> Result<String, ToolError> {
            Ok(text_arg(v, what)?.unwrap_or_default())
        };
        let address = Address {
            types,
            po_box: part(value.po_box, "po_box")?,
            extended: part(value.extended, "extended")?,
            street: part(value.street, "street")?,
            city: part(value.city, "city")?,
            region: part(value.region, "region")?,
            postal_code: part(value.postal_code, "postal_code")?,
            country: part(value.country, "country")?,
        };
        if address.is_empty() {
            return Err(invalid(
                "an address needs at least one of street, city, region, postal_code, country, \
                 po_box or extended",
            ));
        }
        addresses.push(address);
    }
    if addresses.len() > MAX_ADDRESSES {
        return Err(invalid(format!("at most {MAX_ADDRESSES} addresses")));
    }
    Ok(addresses)
}

/// Where a contact stands in contacts_search's order: name (lower case), address book, file
/// name, uid (a file may hold more than one card). The cursor is the last key of a page, so a
/// page starts right after it even when contacts were added or removed in between.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct SortKey(String, String, String, String);

fn encode_cursor(key: &SortKey) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

fn decode_cursor(cursor: &str) -> Result<SortKey, ToolError> {
    URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            invalid("cursor is not one contacts_search gave; leave it out to start over")
        })
}

/// Whether a contact's name or one of its e-mail addresses contains `query` (lower case).
fn names_or_emails_contain(contact: &Contact, query: &str) -> bool {
    contact.full_name.to_lowercase().contains(query)
        || contact
            .emails
            .iter()
            .any(|e| e.value.to_lowercase().contains(query))
}

/// One contact in contacts_search's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContactSummary {
    pub uid: String,
    pub full_name: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub org: Option<String>,
    pub addressbook_id: String,
    /// The version to give contacts_update.
    pub etag: Option<String>,
    /// The contact's file name in the address book.
    pub href: String,
}

/// contacts_search's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchAnswer {
    pub query: Option<String>,
    pub phone: Option<String>,
    /// Contacts on this page.
    pub count: usize,
    /// An address book holds more matches than can be sorted and paged (2,000, or 1,000 cards
    /// with a number ending like the phone searched): some are missing; narrow the search.
    pub truncated: bool,
    /// Sorted by name.
    pub contacts: Vec<ContactSummary>,
    /// Pass as cursor for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A contact with where it is stored (contacts_get, contacts_create, contacts_update).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContactAnswer {
    #[serde(flatten)]
    pub contact: Contact,
    pub addressbook_id: String,
    /// The version to give contacts_update; null when Nextcloud sent none.
    pub etag: Option<String>,
    /// The contact's file name in the address book.
    pub href: String,
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

fn full_json(contact: Contact, book: &str, name: &str, etag: Option<&str>) -> ToolResult {
    super::answer(&ContactAnswer {
        contact,
        addressbook_id: book.to_owned(),
        etag: etag.map(str::to_owned),
        href: name.to_owned(),
    })
}

/// The contact in `data`, for answers.
fn contact_in(data: &str) -> Result<Contact, ToolError> {
    let cards = cards_of(data)?;
    let card = cards
        .first()
        .ok_or_else(|| NcError::BadResponse("the contact holds no VCARD".into()))?;
    Ok(contact_of(card))
}

async fn contacts_list_addressbooks(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let _: ListAddressBooksArgs = parse_args(args)?;
    let dav = ctx.session().await?;
    let books = dav.addressbooks_list().await?;
    super::answer(&AddressBookList {
        count: books.len(),
        addressbooks: books,
    })
}

async fn contacts_search(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
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
    super::answer(&SearchAnswer {
        query,
        phone,
        count: contacts.len(),
        truncated: more,
        contacts,
        next_cursor,
    })
}

async fn contacts_get(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: GetArgs = parse_args(args)?;
    let book = required(&a.addressbook_id, "addressbook_id")?;
    let uid = required(&a.uid, "uid")?;
    let dav = ctx.session().await?;
    let object = dav.find_object(&ADDRESS_BOOKS, &book, &uid).await?;
    let contact = contact_in(&object.data)?;
    full_json(contact, &book, &object.name, object.etag.as_deref())
}

async fn contacts_create(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: CreateArgs = parse_args(args)?;
    let book = required(&a.addressbook_id, "addressbook_id")?;
    let given = a
        .given_name
        .map(|g| g.trim().to_owned())
        .filter(|g| !g.is_empty());
    let family = a
        .family_name
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty());
    let full_name = a
        .full_name
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty())
        .or_else(|| {
            let joined = [given.as_deref(), family.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            Some(joined).filter(|j| !j.is_empty())
        })
        .ok_or_else(|| invalid("give full_name, or given_name and/or family_name"))?;
    let fields = ContactFields {
        full_name: Some(full_name),
        // Only derive N from the full name when no part was given.
        given_name: if given.is_some() || family.is_some() {
            Some(given.unwrap_or_default())
        } else {
            None
        },
        family_name: family,
        emails: Some(emails_arg(a.emails)?),
        phones: Some(phones_arg(a.phones)?),
        org: text_arg(a.org, "org")?.filter(|o| !o.is_empty()),
        note: a.note.filter(|n| !n.trim().is_empty()),
        title: text_arg(a.title, "title")?.filter(|t| !t.is_empty()),
        birthday: date_arg(a.birthday, "birthday")?.filter(Option::is_some),
        anniversary: date_arg(a.anniversary, "anniversary")?.filter(Option::is_some),
        addresses: Some(addresses_arg(a.addresses)?).filter(|a| !a.is_empty()),
    };
    let uid = random_uid()?;
    let data = build_card(&uid, &fields, crate::clock::now_utc()).to_text();
    let dav = ctx.session().await?;
    let file = format!("{uid}.vcf");
    let etag = dav
        .put_object(&ADDRESS_BOOKS, &book, &file, data.clone(), None)
        .await?;
    let contact = contact_in(&data)?;
    full_json(contact, &book, &file, etag.as_deref())
}

async fn contacts_update(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: UpdateArgs = parse_args(args)?;
    let book = required(&a.addressbook_id, "addressbook_id")?;
    let uid = required(&a.uid, "uid")?;
    let etag = required(&a.etag, "etag")?;
    if a.full_name.is_none()
        && a.given_name.is_none()
        && a.family_name.is_none()
        && a.emails.is_none()
        && a.phones.is_none()
        && a.org.is_none()
        && a.note.is_none()
        && a.title.is_none()
        && a.birthday.is_none()
        && a.anniversary.is_none()
        && a.addresses.is_none()
    {
        return Err(invalid(
            "nothing to change: give full_name, given_name, family_name, emails, \
             phones, org, title, note, birthday, anniversary or addresses",
        ));
    }
    if a.full_name.as_deref().is_some_and(|f| f.trim().is_empty()) {
        return Err(invalid("full_name must not be empty"));
    }
    let fields = ContactFields {
        full_name: a.full_name,
        given_name: a.given_name,
        family_name: a.family_name,
        emails: a.emails.map(emails_arg).transpose()?,
        phones: a.phones.map(phones_arg).transpose()?,
        org: text_arg(a.org, "org")?,
        note: a.note,
        title: text_arg(a.title, "title")?,
        birthday: date_arg(a.birthday, "birthday")?,
        anniversary: date_arg(a.anniversary, "anniversary")?,
        addresses: a.addresses.map(addresses_arg).transpose()?,
    };
    let dav = ctx.session().await?;
    let object = dav.find_object(&ADDRESS_BOOKS, &book, &uid).await?;
    let data = update_card_data(&object.data, &fields, crate::clock::now_utc())?;
    let new_etag = dav
        .put_object(
            &ADDRESS_BOOKS,
            &book,
            &object.name,
            data.clone(),
            Some(&etag),
        )
        .await?;
    let contact = contact_in(&data)?;
    full_json(contact, &book, &object.name, new_etag.as_deref())
}

async fn contacts_delete(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: DeleteArgs = parse_args(args)?;
    let book = required(&a.addressbook_id, "addressbook_id")?;
    let uid = required(&a.uid, "uid")?;
    let etag = a.etag.filter(|e| !e.trim().is_empty());
    let dav = ctx.session().await?;
    dav.delete_by_uid(&ADDRESS_BOOKS, &book, &uid, etag.as_deref())
        .await?;
    Ok(json!({"deleted": uid, "addressbook_id": book}))
}

async fn contacts_create_addressbook(
    args: Option<JsonObject>,
    ctx: &ToolContext<'_>,
) -> ToolResult {
    let a: CreateAddressBookArgs = parse_args(args)?;
    let name = required(&a.name, "name")?;
    let name = text_arg(Some(name), "name")?.unwrap_or_default();
    let description = text_arg(a.description, "description")?.filter(|d| !d.is_empty());
    let dav = ctx.session().await?;
    let explicit = a.id.as_deref().map(str::trim).filter(|i| !i.is_empty());
    let id = match explicit {
        Some(id) => {
            if id
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            {
                return Err(invalid(format!(
                    "id \"{id}\" may hold only letters, digits, dashes and underscores"
                )));
            }
            if !dav
                .addressbook_create(id, &name, description.as_deref())
                .await?
            {
                return Err(NcError::AlreadyExists(format!(
                    "an address book with id \"{id}\" already exists \
                     (contacts_list_addressbooks lists them; choose another id)"
                ))
                .into());
            }
            id.to_owned()
        }
        None => {
            let base = addressbook_id_from_name(&name);
            let mut created = None;
            for n in 1..=20 {
                let id = if n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                };
                if dav
                    .addressbook_create(&id, &name, description.as_deref())
                    .await?
                {
                    created = Some(id);
                    break;
                }
            }
            created.ok_or_else(|| {
                NcError::AlreadyExists(format!(
                    "address books with ids like \"{base}\" exist already; give id"
                ))
            })?
        }
    };
    super::answer(&dav.addressbook_get(&id).await?)
}

/// Hints of this family's tools added after the table in `tools::tests` (see `Hints`).
#[cfg(test)]
pub(super) const HINTS: &[super::Hints] = &[(
    "contacts_create_addressbook",
    false,
    false,
    false,
    false,
    None,
)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_phones_are_checked() {
        assert_eq!(
            emails_arg(vec![" a@b.example ".into(), "".into()]).unwrap(),
            ["a@b.example"]
        );
        assert!(emails_arg(vec!["not an address".into()]).is_err());
        assert!(emails_arg(vec!["a@b\nc".into()]).is_err());
        assert_eq!(
            phones_arg(vec!["+1 555 0100".into()]).unwrap(),
            ["+1 555 0100"]
        );
        assert!(phones_arg(vec!["call me".into()]).is_err());
    }

    #[test]
    fn addresses_and_dates_are_checked() {
        let arg = |v: serde_json::Value| serde_json::from_value::<AddressArg>(v).unwrap();
        let addresses = addresses_arg(vec![arg(json!({
            "type": "Work", "street": " Kai 3 ", "city": "Hamburg", "postal_code": "20457"
        }))])
        .unwrap();
        assert_eq!(addresses[0].types, ["work"]);
        assert_eq!(addresses[0].street, "Kai 3");
        assert!(addresses_arg(vec![arg(json!({"type": "holiday", "city": "X"}))]).is_err());
        // As contacts_get shows an address.
        let read = addresses_arg(vec![arg(json!({"types": ["home", "HOME"], "city": "X"}))]);
        assert_eq!(read.unwrap()[0].types, ["home"]);
        assert!(addresses_arg(vec![arg(json!({"type": "home"}))]).is_err());
        assert!(addresses_arg(vec![arg(json!({"city": "a\u{7}b"}))]).is_err());
        assert!(serde_json::from_value::<AddressArg>(json!({"town": "X"})).is_err());
        assert_eq!(date_arg(None, "birthday").unwrap(), None);
        assert_eq!(date_arg(Some(" ".into()), "birthday").unwrap(), Some(None));
        assert!(date_arg(Some("--04-15".into()), "birthday")
            .unwrap()
            .unwrap()
            .is_some());
        let e = date_arg(Some("15.4.1985".into()), "birthday").unwrap_err();
        assert!(e.to_string().contains("YYYY-MM-DD"), "{e}");
    }

    #[test]
    fn cursors_round_trip_and_order_pages() {
        let key = |n: &str, f: &str| SortKey(n.into(), "contacts".into(), f.into(), f.into());
        let cursor = encode_cursor(&key("zoë", "z.vcf"));
        assert_eq!(decode_cursor(&cursor).unwrap(), key("zoë", "z.vcf"));
        assert!(key("anna", "b.vcf") < key("anna", "c.vcf"));
        assert!(key("anna", "z.vcf") < key("bob", "a.vcf"));
        for bad in ["", "nope", "e30", &encode_cursor(&key("a", "b"))[1..]] {
            let e = decode_cursor(bad).unwrap_err();
            assert!(
                e.to_string().contains("not one contacts_search gave"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn create_args_need_a_name_field_and_refuse_unknown_fields() {
        let mut args = JsonObject::new();
        args.insert("addressbook_id".into(), json!("contacts"));
        args.insert("nickname".into(), json!("JD"));
        assert!(parse_args::<CreateArgs>(Some(args)).is_err());
    }
}
