//! Reading the contacts tools' arguments: required and optional texts, e-mail addresses,
//! phone numbers, dates and postal addresses, each with its limits.

use super::args::AddressArg;
use crate::nextcloud::cards::{Address, ContactDate};
use crate::tools::ToolError;

/// Most e-mail addresses or phone numbers per contact.
const MAX_VALUES: usize = 20;

/// Most postal addresses per contact.
const MAX_ADDRESSES: usize = 10;
/// Longest text of one field (title, organization, an address part).
const MAX_FIELD: usize = 1000;

pub(super) fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::InvalidArguments(message.into())
}

pub(super) fn required(value: &str, what: &str) -> Result<String, ToolError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(invalid(format!("{what} must not be empty")));
    }
    Ok(trimmed.to_owned())
}

pub(super) fn emails_arg(values: Vec<String>) -> Result<Vec<String>, ToolError> {
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

pub(super) fn phones_arg(values: Vec<String>) -> Result<Vec<String>, ToolError> {
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
pub(super) fn text_arg(value: Option<String>, what: &str) -> Result<Option<String>, ToolError> {
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
pub(super) fn date_arg(
    value: Option<String>,
    what: &str,
) -> Result<Option<Option<ContactDate>>, ToolError> {
    match value.as_deref().map(str::trim) {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(text) => ContactDate::parse(text)
            .map(|d| Some(Some(d)))
            .map_err(|e| invalid(format!("{what}: {e}"))),
    }
}

pub(super) fn addresses_arg(values: Vec<AddressArg>) -> Result<Vec<Address>, ToolError> {
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
