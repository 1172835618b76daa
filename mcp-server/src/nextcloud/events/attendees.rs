//! Attendees: the guest list of an event with the user as organizer.

use chrono::{DateTime, Utc};

use super::summary::address_of;
use super::{parse_object, sequence_of};
use crate::nextcloud::ical::ical_utc;
use crate::nextcloud::vobject::{write_all, Property};
use crate::nextcloud::NcError;

/// Someone to invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitee {
    pub email: String,
    pub name: Option<String>,
    pub optional: bool,
}

/// The organizer: the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organizer {
    pub email: String,
    pub name: Option<String>,
}

/// Whether an address is a plausible e-mail address (one `@`, something on both sides, no
/// spaces or characters that would break the line).
pub fn plausible_email(email: &str) -> bool {
    let email = email.trim();
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 254
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\",;:\\()[]".contains(c))
}

/// Sets the guest list of event `uid` (the series and its edited occurrences alike): ORGANIZER
/// is the user, attendees still invited keep their line (and their answer), new ones get
/// `PARTSTAT=NEEDS-ACTION;RSVP=TRUE`, the others are removed. An empty list removes the
/// organizer too (a plain event again). Refused for an event someone else organizes.
pub fn set_attendees_data(
    data: &str,
    uid: &str,
    organizer: &Organizer,
    invitees: &[Invitee],
    now: DateTime<Utc>,
) -> Result<String, NcError> {
    let (mut roots, index) = parse_object(data)?;
    let calendar = &mut roots[index];
    let mut found = false;
    for event in calendar
        .components_mut()
        .filter(|c| c.name == "VEVENT" && c.text("UID").as_deref() == Some(uid))
    {
        found = true;
        if let Some(current) = event.prop("ORGANIZER") {
            let current = address_of(&current.value);
            if !current.eq_ignore_ascii_case(&organizer.email) {
                return Err(NcError::Forbidden(format!(
                    "this event is organized by {current}; only the organizer can change who is \
                     invited (answering an invitation is done in the calendar app)"
                )));
            }
        }
        let existing: Vec<Property> = event.props("ATTENDEE").cloned().collect();
        let mut attendees = Vec::new();
        for invitee in invitees {
            let kept = existing
                .iter()
                .find(|p| address_of(&p.value).eq_ignore_ascii_case(invitee.email.trim()));
            let role = if invitee.optional {
                "OPT-PARTICIPANT"
            } else {
                "REQ-PARTICIPANT"
            };
            let name = invitee
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty());
            let property = match kept {
                Some(p) => {
                    let mut property = p.clone();
                    if property.param("ROLE") != Some(role) {
                        property.set_param("ROLE", Some(role));
                    }
                    if let Some(name) = name.filter(|n| property.param("CN") != Some(*n)) {
                        property.set_param("CN", Some(name));
                    }
                    property
                }
                None => {
                    // As Nextcloud's calendar app writes a new attendee.
                    let mut property =
                        Property::new("ATTENDEE", format!("mailto:{}", invitee.email.trim()));
                    if let Some(name) = name {
                        property = property.with_param("CN", name);
                    }
                    property
                        .with_param("CUTYPE", "INDIVIDUAL")
                        .with_param("PARTSTAT", "NEEDS-ACTION")
                        .with_param("ROLE", role)
                        .with_param("RSVP", "TRUE")
                }
            };
            attendees.push(property);
        }
        if invitees.is_empty() {
            event.remove("ORGANIZER");
            event.remove("ATTENDEE");
        } else {
            if event.prop("ORGANIZER").is_none() {
                let mut property =
                    Property::new("ORGANIZER", format!("mailto:{}", organizer.email));
                if let Some(name) = organizer.name.as_deref().filter(|n| !n.trim().is_empty()) {
                    property.set_param("CN", Some(name.trim()));
                }
                event.push_property(property);
            }
            event.replace_all("ATTENDEE", attendees);
        }
        event.set(Property::new("DTSTAMP", ical_utc(now)));
        event.set(Property::new("LAST-MODIFIED", ical_utc(now)));
        let sequence = sequence_of(event).saturating_add(1);
        event.set(Property::new("SEQUENCE", sequence.to_string()));
    }
    if !found {
        return Err(NcError::NotFound(format!(
            "event {uid} is not in this object"
        )));
    }
    Ok(write_all(&roots))
}
