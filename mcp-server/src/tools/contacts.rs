//! Contacts tools (Nextcloud Contacts over CardDAV). This file holds the tool table and the
//! answers; the arguments are in `args`, reading them in `parse`, and the handlers by what they
//! act on: `search` (contacts_search), `cards` (one contact: get, create, update, delete) and
//! `books` (the address books).

use mcp_shared::Scope;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use schemars::JsonSchema;
use serde::Serialize;

use super::ToolSpec;
use crate::nextcloud::carddav::AddressBook;
use crate::nextcloud::cards::Contact;

mod args;
mod books;
mod cards;
mod parse;
mod search;

pub use args::{
    AddressArg, CreateAddressBookArgs, CreateArgs, DeleteArgs, GetArgs, ListAddressBooksArgs,
    SearchArgs, UpdateArgs,
};

use books::{contacts_create_addressbook, contacts_list_addressbooks};
use cards::{contacts_create, contacts_delete, contacts_get, contacts_update};
use search::contacts_search;

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
mod tests;
