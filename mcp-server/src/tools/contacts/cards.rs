//! The tools on one contact: get, create, update and delete.

use rmcp::model::JsonObject;
use serde_json::json;

use super::args::{CreateArgs, DeleteArgs, GetArgs, UpdateArgs};
use super::parse::{addresses_arg, date_arg, emails_arg, invalid, phones_arg, required, text_arg};
use super::ContactAnswer;
use crate::nextcloud::carddav::ADDRESS_BOOKS;
use crate::nextcloud::cards::{
    build_card, cards_of, contact_of, update_card_data, Contact, ContactFields,
};
use crate::nextcloud::vobject::random_uid;
use crate::nextcloud::NcError;
use crate::tools::{parse_args, ToolContext, ToolError, ToolResult};

fn full_json(contact: Contact, book: &str, name: &str, etag: Option<&str>) -> ToolResult {
    crate::tools::answer(&ContactAnswer {
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

pub(super) async fn contacts_get(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: GetArgs = parse_args(args)?;
    let book = required(&a.addressbook_id, "addressbook_id")?;
    let uid = required(&a.uid, "uid")?;
    let dav = ctx.session().await?;
    let object = dav.find_object(&ADDRESS_BOOKS, &book, &uid).await?;
    let contact = contact_in(&object.data)?;
    full_json(contact, &book, &object.name, object.etag.as_deref())
}

pub(super) async fn contacts_create(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
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

pub(super) async fn contacts_update(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
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

pub(super) async fn contacts_delete(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let a: DeleteArgs = parse_args(args)?;
    let book = required(&a.addressbook_id, "addressbook_id")?;
    let uid = required(&a.uid, "uid")?;
    let etag = a.etag.filter(|e| !e.trim().is_empty());
    let dav = ctx.session().await?;
    dav.delete_by_uid(&ADDRESS_BOOKS, &book, &uid, etag.as_deref())
        .await?;
    Ok(json!({"deleted": uid, "addressbook_id": book}))
}
