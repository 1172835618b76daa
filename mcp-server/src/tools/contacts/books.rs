//! The address books themselves: list and create.

use rmcp::model::JsonObject;

use super::args::{CreateAddressBookArgs, ListAddressBooksArgs};
use super::parse::{invalid, required, text_arg};
use super::AddressBookList;
use crate::nextcloud::carddav::addressbook_id_from_name;
use crate::nextcloud::NcError;
use crate::tools::{parse_args, ToolContext, ToolResult};

pub(super) async fn contacts_list_addressbooks(
    args: Option<JsonObject>,
    ctx: &ToolContext<'_>,
) -> ToolResult {
    let _: ListAddressBooksArgs = parse_args(args)?;
    let dav = ctx.session().await?;
    let books = dav.addressbooks_list().await?;
    crate::tools::answer(&AddressBookList {
        count: books.len(),
        addressbooks: books,
    })
}

pub(super) async fn contacts_create_addressbook(
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
    crate::tools::answer(&dav.addressbook_get(&id).await?)
}
