//! Contacts tools (Nextcloud Contacts over CardDAV).

use mcp_shared::Scope;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{parse_args, ToolContext, ToolError, ToolResult, ToolSpec};
use crate::nextcloud::carddav::{AddressBook, CardObject, ADDRESS_BOOKS};
use crate::nextcloud::cards::{
    build_card, cards_of, contact_of, update_card_data, Contact, ContactFields,
};
use crate::nextcloud::vobject::random_uid;
use crate::nextcloud::NcError;

/// Most contacts contacts_search returns.
const MAX_CONTACTS: usize = 100;
/// Most e-mail addresses or phone numbers per contact.
const MAX_VALUES: usize = 20;

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAddressBooksArgs {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// Text to look for in names and e-mail addresses (case-insensitive, part of a word is
    /// enough). Left out or "": list all contacts (up to 100).
    #[serde(default)]
    pub query: Option<String>,
    /// Address book id from contacts_list_addressbooks (e.g. "contacts"). Left out: search
    /// every address book.
    #[serde(default)]
    pub addressbook_id: Option<String>,
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
    /// Free-text note.
    #[serde(default)]
    pub note: Option<String>,
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
                      (case-insensitive), in one or all address books; without a query lists \
                      all contacts. At most 100 results with uid, name, e-mails, phones, \
                      organization and etag; use contacts_get for every field.",
        scopes: &[Scope::ContactsRead],
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: None,
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
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<GetArgs>,
        handler: |args, ctx| Box::pin(contacts_get(args, ctx)),
    },
    ToolSpec {
        name: "contacts_create",
        title: "Create a contact",
        description: "Creates a contact (name, e-mails, phones, organization, note) and returns \
                      its uid and etag.",
        scopes: &[Scope::ContactsWrite],
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<CreateArgs>,
        handler: |args, ctx| Box::pin(contacts_create(args, ctx)),
    },
    ToolSpec {
        name: "contacts_update",
        title: "Update a contact",
        description: "Changes the given fields of a contact and keeps all others (photo, \
                      addresses, birthday…). Requires the etag from contacts_get: if the \
                      contact changed in the meantime the update is refused (conflict); get it \
                      again and retry.",
        scopes: &[Scope::ContactsWrite],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<UpdateArgs>,
        handler: |args, ctx| Box::pin(contacts_update(args, ctx)),
    },
    ToolSpec {
        name: "contacts_delete",
        title: "Delete a contact",
        description: "Deletes a contact.",
        scopes: &[Scope::ContactsWrite],
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        output: None,
        requires: None,
        schema: schema_for_type::<DeleteArgs>,
        handler: |args, ctx| Box::pin(contacts_delete(args, ctx)),
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

fn summary_json(contact: &Contact, book: &str, object: &CardObject) -> Value {
    json!({
        "uid": contact.uid,
        "full_name": contact.full_name,
        "emails": contact.emails.iter().map(|e| e.value.as_str()).collect::<Vec<_>>(),
        "phones": contact.phones.iter().map(|p| p.value.as_str()).collect::<Vec<_>>(),
        "org": contact.org,
        "addressbook_id": book,
        "etag": object.etag,
        "href": object.name,
    })
}

fn full_json(contact: &Contact, book: &str, name: &str, etag: Option<&str>) -> Value {
    let mut value = serde_json::to_value(contact).unwrap_or_else(|_| json!({}));
    value["addressbook_id"] = json!(book);
    value["etag"] = json!(etag);
    value["href"] = json!(name);
    value
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
    let mut found: Vec<(String, Value)> = Vec::new();
    let mut more = false;
    for book in &books {
        let objects = dav
            .contacts_query(book, query.as_deref(), MAX_CONTACTS + 1)
            .await?;
        more |= objects.len() > MAX_CONTACTS;
        for object in &objects {
            let Ok(cards) = cards_of(&object.data) else {
                tracing::debug!(book, object = object.name, "skipping an unparsable contact");
                continue;
            };
            for card in &cards {
                let contact = contact_of(card);
                found.push((
                    contact.full_name.to_lowercase(),
                    summary_json(&contact, book, object),
                ));
            }
        }
    }
    found.sort_by(|x, y| x.0.cmp(&y.0));
    let total = found.len();
    let contacts: Vec<Value> = found
        .into_iter()
        .take(MAX_CONTACTS)
        .map(|(_, v)| v)
        .collect();
    Ok(json!({
        "query": query,
        "count": contacts.len(),
        "truncated": more || total > MAX_CONTACTS,
        "contacts": contacts,
    }))
}

async fn contacts_get(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: GetArgs = parse_args(args)?;
    let book = required(&a.addressbook_id, "addressbook_id")?;
    let uid = required(&a.uid, "uid")?;
    let dav = ctx.session().await?;
    let object = dav.find_object(&ADDRESS_BOOKS, &book, &uid).await?;
    let contact = contact_in(&object.data)?;
    Ok(full_json(
        &contact,
        &book,
        &object.name,
        object.etag.as_deref(),
    ))
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
        org: a.org.filter(|o| !o.trim().is_empty()),
        note: a.note.filter(|n| !n.trim().is_empty()),
    };
    let uid = random_uid()?;
    let data = build_card(&uid, &fields, crate::clock::now_utc()).to_text();
    let dav = ctx.session().await?;
    let file = format!("{uid}.vcf");
    let etag = dav
        .put_object(&ADDRESS_BOOKS, &book, &file, data.clone(), None)
        .await?;
    let contact = contact_in(&data)?;
    Ok(full_json(&contact, &book, &file, etag.as_deref()))
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
    {
        return Err(invalid(
            "nothing to change: give full_name, given_name, family_name, emails, \
             phones, org or note",
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
        org: a.org,
        note: a.note,
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
    Ok(full_json(
        &contact,
        &book,
        &object.name,
        new_etag.as_deref(),
    ))
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

/// Hints of this family's tools added after the table in `tools::tests` (see `Hints`).
#[cfg(test)]
pub(super) const HINTS: &[super::Hints] = &[];

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
    fn create_args_need_a_name_field_and_refuse_unknown_fields() {
        let mut args = JsonObject::new();
        args.insert("addressbook_id".into(), json!("contacts"));
        args.insert("nickname".into(), json!("JD"));
        assert!(parse_args::<CreateArgs>(Some(args)).is_err());
    }
}
