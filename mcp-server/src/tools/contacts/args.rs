//! The arguments of the contacts tools, as their schemas show them.

use schemars::JsonSchema;
use serde::Deserialize;

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
