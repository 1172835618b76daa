//! Reminders (VALARM): what a model asks for and the alarms written for it.

use crate::nextcloud::vobject::{Component, Property};
use crate::nextcloud::NcError;

/// How a reminder reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmAction {
    /// A notification on the user's devices (and in Nextcloud).
    Display,
    /// An e-mail to the user (Nextcloud's reminder service sends it).
    Email,
}

/// A reminder to add: so many minutes before the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reminder {
    pub minutes_before: u32,
    pub action: AlarmAction,
}

/// Longest reminder lead time accepted (four weeks, as far as Nextcloud's calendar offers).
pub const MAX_REMINDER_MINUTES: u32 = 4 * 7 * 24 * 60;

/// The TRIGGER of a reminder `minutes` before the start, written as ical.js writes it
/// (`-PT15M`, `-PT1H`, `-P1D`, `-P1W`, `PT0S` at the start).
fn trigger_value(minutes: u32) -> String {
    match minutes {
        0 => "PT0S".into(),
        m if m % (7 * 24 * 60) == 0 => format!("-P{}W", m / (7 * 24 * 60)),
        m if m % (24 * 60) == 0 => format!("-P{}D", m / (24 * 60)),
        m if m % 60 == 0 => format!("-PT{}H", m / 60),
        m => format!("-PT{m}M"),
    }
}

/// A VALARM for `reminder` (RFC 5545 §3.6.6: DISPLAY needs a DESCRIPTION; EMAIL a
/// DESCRIPTION, a SUMMARY and the ATTENDEE to write to, the user).
pub fn alarm_component(
    reminder: &Reminder,
    summary: &str,
    email: Option<&str>,
) -> Result<Component, NcError> {
    let mut alarm = Component::new("VALARM");
    let action = match reminder.action {
        AlarmAction::Display => "DISPLAY",
        AlarmAction::Email => "EMAIL",
    };
    alarm.push_property(Property::new("ACTION", action));
    alarm.push_property(
        Property::new("TRIGGER", trigger_value(reminder.minutes_before))
            .with_param("RELATED", "START"),
    );
    alarm.push_property(Property::text("DESCRIPTION", summary));
    if reminder.action == AlarmAction::Email {
        let email = email.filter(|e| !e.trim().is_empty()).ok_or_else(|| {
            NcError::InvalidInput(
                "an e-mail reminder needs an e-mail address in the user's Nextcloud profile;                  use a display reminder, or set an address in the personal settings"
                    .into(),
            )
        })?;
        alarm.push_property(Property::text("SUMMARY", summary));
        alarm.push_property(Property::new(
            "ATTENDEE",
            format!("mailto:{}", email.trim()),
        ));
    }
    Ok(alarm)
}

/// Replaces every VALARM of `event` by the reminders given.
pub(super) fn set_reminders(
    event: &mut Component,
    reminders: &[Reminder],
    email: Option<&str>,
) -> Result<(), NcError> {
    let summary = event.text("SUMMARY").unwrap_or_else(|| "Reminder".into());
    let alarms = reminders
        .iter()
        .map(|r| alarm_component(r, &summary, email))
        .collect::<Result<Vec<_>, _>>()?;
    event.retain_components(|c| c.name != "VALARM");
    for alarm in alarms {
        event.push_component(alarm);
    }
    Ok(())
}
