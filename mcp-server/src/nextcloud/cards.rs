//! Contacts (vCard 3.0 and 4.0, RFC 2426 / RFC 6350) as the contacts tools see and change them:
//! the fields a model reads, a new card, and an edit of a stored card that changes only what was
//! asked for, in the card's own version ([`super::vobject`] keeps every other line byte for byte).
//!
//! This file holds what the parts share; `read` is what a model sees of a card, `dates` birthdays
//! and anniversaries, `phone` the phone search's number matching, `edit` new cards and changes to
//! a stored card.

use super::vobject::{parse_components, Component};
use super::NcError;

mod dates;
mod edit;
mod phone;
mod read;

pub use dates::{birthday_of, ContactDate};
pub use edit::{apply_contact_fields, build_card, update_card_data, ContactFields};
pub use phone::{phone_matches, PhoneDigits, PHONE_MIN_DIGITS};
pub use read::{contact_of, Address, Contact, Typed};

pub(super) const PRODID: &str = "-//Nextcloud MCP Server//EN";

/// The VCARDs of a vCard text.
pub fn cards_of(data: &str) -> Result<Vec<Component>, NcError> {
    let roots = parse_components(data)
        .map_err(|e| NcError::BadResponse(format!("a contact is not a valid vCard ({e})")))?;
    Ok(roots.into_iter().filter(|c| c.name == "VCARD").collect())
}

#[cfg(test)]
mod tests;
