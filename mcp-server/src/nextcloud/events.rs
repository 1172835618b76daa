//! Events (VEVENT, RFC 5545) as the calendar tools see and change them: a summary for a model,
//! a new event, and an edit of a stored object that changes only what was asked for. The stored
//! text is edited in place ([`super::vobject`] keeps every other line byte for byte), times stay
//! in the form and zone they were written in, and moving a recurring series moves its
//! exceptions with it ([`super::ical::shift_series`]).

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;

use super::ical::{
    format_duration, ical_utc, in_form_of, parse_duration, parse_event_time, shift_series,
    EventTime, Moment,
};
use super::timezone::{parse_iana, parse_weekday, vtimezone, Zone};
use super::vobject::{parse_components, write_all, Component, Property};
use super::NcError;

pub const PRODID: &str = "-//Nextcloud MCP Server//EN";

/// The fields of one VEVENT a model gets to see.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSummary {
    pub uid: String,
    pub summary: String,
    /// `YYYY-MM-DD` for all-day events, else a date-time (UTC `…Z`, or local time in
    /// `timezone`).
    pub start: String,
    /// For all-day events the last day (inclusive); else the end time.
    pub end: String,
    pub all_day: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Part of a recurring series (an occurrence, or the series itself).
    pub recurring: bool,
    /// For an occurrence of a recurring event: which one (its original start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recurrence_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rrule: Option<String>,
    /// Reminders (VALARMs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reminders: Vec<ReminderInfo>,
    /// The organizer's e-mail address (events with attendees).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizer: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<AttendeeInfo>,
}

/// One reminder of an event as a model sees it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReminderInfo {
    /// `DISPLAY` (a notification), `EMAIL`, `AUDIO`…
    pub action: String,
    /// Minutes before the start (negative: after it); absent for a reminder at a fixed time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes_before: Option<i64>,
    /// Minutes before the end, for a reminder relative to the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes_before_end: Option<i64>,
    /// A reminder at a fixed time (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// One attendee of an event.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AttendeeInfo {
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// PARTSTAT: NEEDS-ACTION, ACCEPTED, DECLINED, TENTATIVE, DELEGATED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// ROLE: REQ-PARTICIPANT, OPT-PARTICIPANT, CHAIR, NON-PARTICIPANT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// What the server did with the invitation (SCHEDULE-STATUS): `1.x` sent or delivered,
    /// `3.7` an address it could not use, `5.x` not delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_status: Option<String>,
}

/// Start and end of a VEVENT: DTEND, else DTSTART + DURATION, else the RFC 5545 defaults
/// (one day for dates, zero length for date-times). The end is exclusive.
pub fn event_span(event: &Component) -> Option<(EventTime, EventTime)> {
    let start = event.prop("DTSTART").and_then(parse_event_time)?;
    let end = event
        .prop("DTEND")
        .and_then(parse_event_time)
        .or_else(|| {
            let duration = parse_duration(&event.prop("DURATION")?.value)?;
            Some(start.add(duration))
        })
        .unwrap_or_else(|| match start {
            EventTime::Date(_) => start.add(Duration::days(1)),
            ref other => other.clone(),
        });
    Some((start, end))
}

/// Summarizes one VEVENT.
pub fn summarize_event(event: &Component) -> Option<EventSummary> {
    let (start, end) = event_span(event)?;
    let all_day = start.is_date();
    let end = match (&start, end) {
        // iCalendar's DTEND of an all-day event is the day after; models get the last day.
        (EventTime::Date(s), EventTime::Date(e)) => {
            EventTime::Date(if e > *s { e - Duration::days(1) } else { *s })
        }
        (_, e) => e,
    };
    let recurrence_id = event
        .prop("RECURRENCE-ID")
        .and_then(parse_event_time)
        .map(|t| t.display());
    let rrule = event.prop("RRULE").map(|p| p.value.clone());
    Some(EventSummary {
        uid: event.text("UID").unwrap_or_default(),
        summary: event.text("SUMMARY").unwrap_or_default(),
        start: start.display(),
        end: end.display(),
        all_day,
        timezone: start.tzid().map(str::to_owned),
        location: event.text("LOCATION"),
        description: event.text("DESCRIPTION"),
        status: event.text("STATUS"),
        recurring: recurrence_id.is_some() || rrule.is_some(),
        recurrence_id,
        rrule,
        reminders: event
            .components()
            .filter(|c| c.name == "VALARM")
            .filter_map(reminder_info)
            .collect(),
        organizer: event.prop("ORGANIZER").map(|p| address_of(&p.value)),
        attendees: event.props("ATTENDEE").map(attendee_info).collect(),
    })
}

/// `mailto:a@b.example` → `a@b.example` (other URIs as they are).
pub fn address_of(value: &str) -> String {
    let value = value.trim();
    match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => value[7..].to_owned(),
        _ => value.to_owned(),
    }
}

fn attendee_info(property: &Property) -> AttendeeInfo {
    let param = |name: &str| property.param(name).map(str::to_owned);
    AttendeeInfo {
        email: address_of(&property.value),
        name: param("CN"),
        status: param("PARTSTAT"),
        role: param("ROLE"),
        schedule_status: param("SCHEDULE-STATUS"),
    }
}

fn reminder_info(alarm: &Component) -> Option<ReminderInfo> {
    let trigger = alarm.prop("TRIGGER")?;
    let action = alarm
        .prop("ACTION")
        .map(|p| p.value.trim().to_ascii_uppercase())
        .unwrap_or_else(|| "DISPLAY".into());
    let mut info = ReminderInfo {
        action,
        minutes_before: None,
        minutes_before_end: None,
        at: None,
    };
    let absolute = trigger
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE-TIME"));
    if absolute {
        info.at = parse_event_time(trigger).map(|t| t.display());
    } else {
        let before = -parse_duration(&trigger.value)?.num_minutes();
        if trigger
            .param("RELATED")
            .is_some_and(|r| r.eq_ignore_ascii_case("END"))
        {
            info.minutes_before_end = Some(before);
        } else {
            info.minutes_before = Some(before);
        }
    }
    Some(info)
}

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
fn set_reminders(
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

/// The VCALENDAR of an iCalendar object.
pub fn calendar_of(data: &str) -> Result<Component, NcError> {
    parse_components(data)
        .map_err(|e| NcError::BadResponse(format!("an event is not valid iCalendar ({e})")))?
        .into_iter()
        .find(|c| c.name == "VCALENDAR")
        .ok_or_else(|| NcError::BadResponse("the object has no VCALENDAR".into()))
}

/// The VEVENTs of an iCalendar object.
pub fn events_of(data: &str) -> Result<Vec<Component>, NcError> {
    Ok(calendar_of(data)?
        .into_components()
        .filter(|c| c.name == "VEVENT")
        .collect())
}

/// What a new event holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewEvent {
    pub summary: String,
    /// Start and exclusive end (iCalendar semantics).
    pub span: Option<(EventTime, EventTime)>,
    pub location: Option<String>,
    pub description: Option<String>,
    /// A validated RRULE value ([`normalize_rrule`]).
    pub rrule: Option<String>,
    pub reminders: Vec<Reminder>,
    /// The user's address, for e-mail reminders.
    pub alarm_email: Option<String>,
}

/// A new VCALENDAR with one VEVENT (and the VTIMEZONE of its zone, if it has one).
pub fn build_event(uid: &str, fields: &NewEvent, now: DateTime<Utc>) -> Result<Component, NcError> {
    let mut event = Component::new("VEVENT");
    event.push_property(Property::text("UID", uid));
    event.push_property(Property::new("DTSTAMP", ical_utc(now)));
    event.push_property(Property::new("CREATED", ical_utc(now)));
    event.push_property(Property::new("LAST-MODIFIED", ical_utc(now)));
    event.push_property(Property::text("SUMMARY", &fields.summary));
    if let Some((start, end)) = &fields.span {
        event.push_property(start.property("DTSTART"));
        event.push_property(end.property("DTEND"));
    }
    for (name, value) in [
        ("LOCATION", &fields.location),
        ("DESCRIPTION", &fields.description),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            event.push_property(Property::text(name, value));
        }
    }
    if let Some(rrule) = &fields.rrule {
        event.push_property(Property::new("RRULE", rrule.clone()));
    }
    set_reminders(&mut event, &fields.reminders, fields.alarm_email.as_deref())?;
    let mut calendar = Component::new("VCALENDAR");
    calendar.push_property(Property::new("VERSION", "2.0"));
    calendar.push_property(Property::text("PRODID", PRODID));
    calendar.push_property(Property::new("CALSCALE", "GREGORIAN"));
    if let Some((start, _)) = &fields.span {
        add_vtimezone(&mut calendar, start);
    }
    calendar.push_component(event);
    Ok(calendar)
}

/// Adds the VTIMEZONE of `time`'s zone to `calendar` unless it has one for that TZID already
/// (only for IANA zones: others can only come with their own definition).
fn add_vtimezone(calendar: &mut Component, time: &EventTime) {
    let Some(tzid) = time.tzid() else {
        return;
    };
    let present = calendar
        .components()
        .any(|c| c.name == "VTIMEZONE" && c.prop("TZID").is_some_and(|p| p.value.trim() == tzid));
    if present {
        return;
    }
    if let Some(tz) = parse_iana(tzid) {
        calendar.push_component(vtimezone(tz, time.naive().year()));
    }
}

/// What to change in a stored event; `None` leaves a field as it is, blank location or
/// description removes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventChange {
    pub summary: Option<String>,
    pub start: Option<Moment>,
    /// For all-day events the last day (inclusive), else the end time.
    pub end: Option<Moment>,
    pub all_day: Option<bool>,
    pub location: Option<String>,
    pub description: Option<String>,
}

impl EventChange {
    pub fn is_empty(&self) -> bool {
        self == &EventChange::default()
    }
}

fn invalid(message: &str) -> NcError {
    NcError::InvalidInput(message.into())
}

/// A model's end value as an exclusive end: an all-day event's last day becomes the day after.
fn exclusive_end(end: EventTime) -> EventTime {
    match end {
        EventTime::Date(last) => EventTime::Date(last + Duration::days(1)),
        other => other,
    }
}

/// Whether `end` is after `start`: on the wall clock when both are in the same zone (an event
/// from 02:30 to 03:30 on the night clocks go forward is an hour long to the person, though
/// both ends are the same instant), else as instants where both can be placed.
fn ends_after(start: &EventTime, end: &EventTime, calendar: &Component) -> bool {
    let same_clock = match (start, end) {
        (EventTime::Zoned(_, a), EventTime::Zoned(_, b)) => a == b,
        (EventTime::Zoned(..), _) | (_, EventTime::Zoned(..)) => false,
        _ => true,
    };
    if same_clock {
        return end.naive() > start.naive();
    }
    match (start.instant(calendar), end.instant(calendar)) {
        (Some(s), Some(e)) => e > s,
        _ => end.naive() > start.naive(),
    }
}

/// The new start and exclusive end of `master`, each in the form the event uses, or `None` if
/// its time does not change.
fn new_span(
    master: &Component,
    calendar: &Component,
    change: &EventChange,
    zone: Option<&EventTime>,
) -> Result<Option<(EventTime, EventTime)>, NcError> {
    let (start, end) = event_span(master)
        .ok_or_else(|| NcError::BadResponse("the event has no readable start (DTSTART)".into()))?;
    let was_all_day = start.is_date();
    let all_day = change.all_day.unwrap_or(was_all_day);
    if all_day != was_all_day && change.start.is_none() {
        return Err(invalid(
            "changing all_day needs start (and optionally end) in the new format",
        ));
    }
    if zone.is_some() && all_day {
        return Err(invalid(
            "an all-day event has no time zone; give timezone only for timed events",
        ));
    }
    if change.start.is_none() && change.end.is_none() && zone.is_none() {
        // Nothing to check: an event stored with a zero length (DTSTART only) stays editable.
        return Ok(None);
    }
    let check_kind = |moment: &Moment, what: &str| match (moment, all_day) {
        (Moment::Day(_), true) | (Moment::At(_), false) => Ok(()),
        (Moment::At(_), true) => Err(NcError::InvalidInput(format!(
            "{what} must be a date such as \"2025-03-14\" for an all-day event"
        ))),
        (Moment::Day(_), false) => Err(NcError::InvalidInput(format!(
            "{what} must be a date-time with offset such as \"2025-03-14T15:00:00+01:00\" (a \
             plain date is only valid with all_day=true)"
        ))),
    };
    // Times keep the event's form (zone, floating, UTC) unless the kind of event changes.
    let same_kind = all_day == was_all_day;
    let end_form = match master.prop("DTEND").and_then(parse_event_time) {
        Some(dtend) if same_kind => Some(dtend),
        _ if same_kind => Some(start.clone()),
        _ => None,
    };
    let (start_form, end_form) = match zone {
        Some(zone) => (Some(zone.clone()), Some(zone.clone())),
        None => (same_kind.then(|| start.clone()), end_form),
    };
    // The same instant in the new zone.
    let rezone = |time: &EventTime| -> Result<EventTime, NcError> {
        let instant = time.instant(calendar).ok_or_else(|| {
            invalid("the event's time zone is unknown here, so it cannot be moved to another")
        })?;
        in_form_of(
            Moment::At(instant.fixed_offset()),
            start_form.as_ref(),
            calendar,
        )
    };
    let new_start = match change.start {
        Some(moment) => {
            check_kind(&moment, "start")?;
            in_form_of(moment, start_form.as_ref(), calendar)?
        }
        None if zone.is_some() => rezone(&start)?,
        None => start.clone(),
    };
    let new_end = match change.end {
        Some(moment) => {
            check_kind(&moment, "end")?;
            exclusive_end(in_form_of(moment, end_form.as_ref(), calendar)?)
        }
        None if change.start.is_none() && zone.is_some() => rezone(&end)?,
        None if change.start.is_none() => end.clone(),
        None if same_kind && end.naive() > start.naive() => {
            // Keep the length on the wall clock.
            new_start.add(end.naive() - start.naive())
        }
        None if all_day => new_start.add(Duration::days(1)),
        None => new_start.add(Duration::hours(1)),
    };
    if !ends_after(&new_start, &new_end, calendar) {
        return Err(invalid(if all_day {
            "end (the last day) must not be before start"
        } else {
            "end must be after start"
        }));
    }
    if new_start == start && new_end == end {
        return Ok(None);
    }
    Ok(Some((new_start, new_end)))
}

/// What else an edit may change, beside [`EventChange`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MoreChange {
    /// The event's new time zone: an IANA name, or `UTC`. The event keeps its instants unless
    /// start/end are given, which are then placed in this zone.
    pub timezone: Option<String>,
    /// Replaces the reminders (`Some(vec![])` removes them all).
    pub reminders: Option<Vec<Reminder>>,
    /// The user's address, for e-mail reminders.
    pub alarm_email: Option<String>,
}

impl MoreChange {
    pub fn is_empty(&self) -> bool {
        self.timezone.is_none() && self.reminders.is_none()
    }
}

/// A sample time in the form a `timezone` argument asks for.
fn zone_form(timezone: &str) -> Result<EventTime, NcError> {
    let name = timezone.trim();
    if ["UTC", "Z", "Etc/UTC", "GMT", "Etc/GMT"]
        .iter()
        .any(|u| u.eq_ignore_ascii_case(name))
    {
        return Ok(EventTime::Utc(DateTime::<Utc>::MIN_UTC));
    }
    let tz = parse_iana(name).ok_or_else(|| {
        NcError::InvalidInput(format!(
            "timezone must be an IANA time zone name such as \"Europe/Berlin\" or \
             \"America/New_York\" (or \"UTC\"), got \"{name}\""
        ))
    })?;
    Ok(EventTime::Zoned(NaiveDateTime::MIN, tz.name().to_owned()))
}

fn parse_object(data: &str) -> Result<(Vec<Component>, usize), NcError> {
    let roots = parse_components(data)
        .map_err(|e| NcError::BadResponse(format!("the event is not valid iCalendar ({e})")))?;
    let index = roots
        .iter()
        .position(|c| c.name == "VCALENDAR")
        .ok_or_else(|| NcError::BadResponse("the object has no VCALENDAR".into()))?;
    Ok((roots, index))
}

fn is_master_of(c: &Component, uid: &str) -> bool {
    c.name == "VEVENT" && c.text("UID").as_deref() == Some(uid) && c.prop("RECURRENCE-ID").is_none()
}

fn is_override_of(c: &Component, uid: &str) -> bool {
    c.name == "VEVENT" && c.text("UID").as_deref() == Some(uid) && c.prop("RECURRENCE-ID").is_some()
}

fn no_master(uid: &str) -> NcError {
    NcError::NotFound(format!(
        "event {uid} has only single occurrences here, which cannot be changed as a series"
    ))
}

fn is_recurring(calendar: &Component, uid: &str) -> bool {
    calendar.components().any(|c| {
        c.name == "VEVENT"
            && c.text("UID").as_deref() == Some(uid)
            && (c.prop("RRULE").is_some()
                || c.prop("RDATE").is_some()
                || c.prop("RECURRENCE-ID").is_some())
    })
}

/// Changes the master VEVENT (the one without RECURRENCE-ID) of the object `data` as `change`
/// says and returns the new text: every line not changed is kept as stored, times keep their
/// zone, and a recurring series keeps its exceptions ([`shift_series`]).
pub fn update_event_data(
    data: &str,
    uid: &str,
    change: &EventChange,
    now: DateTime<Utc>,
) -> Result<String, NcError> {
    update_event_data_with(data, uid, change, &MoreChange::default(), now)
}

/// [`update_event_data`] with a time zone and reminders to change as well. Reminders given
/// replace those of the series and of its separately edited occurrences.
pub fn update_event_data_with(
    data: &str,
    uid: &str,
    change: &EventChange,
    more: &MoreChange,
    now: DateTime<Utc>,
) -> Result<String, NcError> {
    let (mut roots, index) = parse_object(data)?;
    let calendar = &roots[index];
    let master = calendar
        .components()
        .find(|c| is_master_of(c, uid))
        .ok_or_else(|| no_master(uid))?;
    let zone = more.timezone.as_deref().map(zone_form).transpose()?;
    if zone.is_some() && is_recurring(calendar, uid) {
        return Err(invalid(
            "the time zone of a recurring event cannot be changed here (its occurrences would \
             move differently across daylight-saving changes); create the series anew in the \
             new zone, or change it in a calendar app",
        ));
    }
    let old_start = event_span(master).map(|(start, _)| start);
    let span = new_span(master, calendar, change, zone.as_ref())?;
    let had_dtend = master.prop("DTEND").is_some();
    let had_duration = master.prop("DURATION").is_some();

    let calendar = &mut roots[index];
    if let (Some((new_start, _)), Some(old_start)) = (&span, &old_start) {
        shift_series(calendar, uid, old_start, new_start)?;
        add_vtimezone(calendar, new_start);
    }
    let master = calendar
        .components_mut()
        .find(|c| is_master_of(c, uid))
        .ok_or_else(|| NcError::BadResponse("the event disappeared while editing".into()))?;
    apply_change(master, change, span.as_ref(), had_dtend, had_duration, now);
    let sequence = sequence_of(master).saturating_add(1);
    master.set(Property::new("SEQUENCE", sequence.to_string()));
    if let Some(reminders) = &more.reminders {
        for event in calendar
            .components_mut()
            .filter(|c| c.name == "VEVENT" && c.text("UID").as_deref() == Some(uid))
        {
            set_reminders(event, reminders, more.alarm_email.as_deref())?;
        }
    }
    Ok(write_all(&roots))
}

fn sequence_of(event: &Component) -> u32 {
    event
        .prop("SEQUENCE")
        .and_then(|p| p.value.trim().parse::<u32>().ok())
        .unwrap_or(0)
}

/// Sets the fields `change` names, the new span, and the modification stamps of `event`.
fn apply_change(
    event: &mut Component,
    change: &EventChange,
    span: Option<&(EventTime, EventTime)>,
    had_dtend: bool,
    had_duration: bool,
    now: DateTime<Utc>,
) {
    if let Some(summary) = &change.summary {
        event.set_text("SUMMARY", summary);
    }
    if let Some((start, end)) = span {
        event.set(start.property("DTSTART"));
        if had_duration && !had_dtend && start.is_date() == end.is_date() {
            event.set(Property::new("DURATION", length_value(start, end)));
        } else {
            event.remove("DURATION");
            event.set(end.property("DTEND"));
        }
    }
    if let Some(location) = &change.location {
        event.set_text("LOCATION", location);
    }
    if let Some(description) = &change.description {
        event.set_text("DESCRIPTION", description);
    }
    event.set(Property::new("DTSTAMP", ical_utc(now)));
    event.set(Property::new("LAST-MODIFIED", ical_utc(now)));
}

/// The DURATION between two times of the same kind (whole days for all-day events).
fn length_value(start: &EventTime, end: &EventTime) -> String {
    let length = end.naive() - start.naive();
    if start.is_date() {
        format!("P{}D", length.num_days().max(1))
    } else {
        format_duration(length)
    }
}

// ---- recurrence rules -------------------------------------------------------------------------

/// Most occurrences a COUNT may ask for.
pub const MAX_COUNT: u32 = 5000;

fn bad_rule(rule: &str, why: &str) -> NcError {
    NcError::InvalidInput(format!(
        "recurrence \"{rule}\" is not a rule this server writes: {why}. Write an RFC 5545 RRULE \
         such as \"FREQ=WEEKLY;BYDAY=MO,WE\", \"FREQ=MONTHLY;BYMONTHDAY=15;COUNT=6\" or \
         \"FREQ=DAILY;UNTIL=2026-06-30\""
    ))
}

fn numbers_in(value: &str, range: std::ops::RangeInclusive<i32>, signed: bool) -> bool {
    !value.is_empty()
        && value.split(',').all(|n| {
            let n = n.trim();
            (signed || !n.starts_with(['-', '+']))
                && n.parse::<i32>()
                    .is_ok_and(|n| n != 0 && range.contains(&n.abs()))
        })
}

/// A recurrence rule as a model gives it (`FREQ=WEEKLY;BYDAY=MO`, with or without `RRULE:`),
/// checked and written as RFC 5545 wants for an event starting at `start`: names upper-cased,
/// UNTIL in the start's form (a date for all-day events; UTC for zoned and UTC times, the end
/// of the day given when only a date is given).
pub fn normalize_rrule(
    value: &str,
    start: &EventTime,
    calendar: &Component,
) -> Result<String, NcError> {
    let rule = value.trim();
    let body = match rule.get(..6) {
        Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => &rule[6..],
        _ => rule,
    };
    if body.contains(['\r', '\n']) {
        return Err(bad_rule(rule, "it spans several lines"));
    }
    let mut parts: Vec<(String, String)> = Vec::new();
    for part in body.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| bad_rule(rule, &format!("\"{part}\" is not NAME=value")))?;
        let name = name.trim().to_ascii_uppercase();
        if parts.iter().any(|(n, _)| *n == name) {
            return Err(bad_rule(rule, &format!("{name} is given twice")));
        }
        parts.push((name, value.trim().to_ascii_uppercase()));
    }
    let get = |name: &str| {
        parts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let freq = get("FREQ").ok_or_else(|| bad_rule(rule, "FREQ is missing"))?;
    if !["DAILY", "WEEKLY", "MONTHLY", "YEARLY"].contains(&freq.as_str()) {
        return Err(bad_rule(
            rule,
            "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY (what Nextcloud's calendar offers)",
        ));
    }
    if get("COUNT").is_some() && get("UNTIL").is_some() {
        return Err(bad_rule(rule, "COUNT and UNTIL cannot both be given"));
    }
    for (name, value) in parts.iter_mut() {
        let ok = match name.as_str() {
            "FREQ" => true,
            "INTERVAL" => value.parse::<u32>().is_ok_and(|n| (1..=1000).contains(&n)),
            "COUNT" => value
                .parse::<u32>()
                .is_ok_and(|n| (1..=MAX_COUNT).contains(&n)),
            "UNTIL" => {
                *value = until_value(value, start, calendar).ok_or_else(|| {
                    bad_rule(rule, "UNTIL must be a date (2026-06-30) or a date-time")
                })?;
                true
            }
            "BYDAY" => value.split(',').all(|day| {
                let day = day.trim();
                let Some(split) = day.len().checked_sub(2) else {
                    return false;
                };
                let (n, code) = day.split_at(split);
                parse_weekday(code).is_some()
                    && (n.is_empty()
                        || (matches!(freq.as_str(), "MONTHLY" | "YEARLY")
                            && n.trim_start_matches(['+', '-'])
                                .parse::<u32>()
                                .is_ok_and(|n| (1..=53).contains(&n))))
            }),
            "BYMONTHDAY" => numbers_in(value, 1..=31, true),
            "BYMONTH" => numbers_in(value, 1..=12, false),
            "BYYEARDAY" => numbers_in(value, 1..=366, true),
            "BYWEEKNO" => numbers_in(value, 1..=53, true),
            "BYSETPOS" => numbers_in(value, 1..=366, true),
            "WKST" => parse_weekday(value).is_some(),
            other => {
                return Err(bad_rule(
                    rule,
                    &format!("{other} is not a part this server writes"),
                ))
            }
        };
        if !ok {
            return Err(bad_rule(rule, &format!("{name}={value} is not valid")));
        }
    }
    // FREQ first, as every client writes it.
    parts.sort_by_key(|(n, _)| n != "FREQ");
    Ok(parts
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";"))
}

/// UNTIL in the form RFC 5545 §3.3.10 requires for a series starting at `start`.
fn until_value(value: &str, start: &EventTime, calendar: &Component) -> Option<String> {
    let value = value.trim();
    let compact: String = value.chars().filter(|c| *c != '-' && *c != ':').collect();
    let date = NaiveDate::parse_from_str(compact.get(..8)?, "%Y%m%d").ok()?;
    let time = if compact.len() > 8 {
        let (local, utc) = match compact.strip_suffix('Z') {
            Some(rest) => (rest, true),
            None => (compact.as_str(), false),
        };
        if let Ok(t) = DateTime::parse_from_rfc3339(value) {
            Some(t.with_timezone(&Utc))
        } else {
            let local = NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S").ok()?;
            Some(if utc {
                local.and_utc()
            } else {
                match start {
                    EventTime::Zoned(_, tzid) => Zone::resolve(tzid, calendar)?.to_utc(local),
                    _ => local.and_utc(),
                }
            })
        }
    } else {
        None
    };
    Some(match (start, time) {
        (EventTime::Date(_), Some(t)) => t.format("%Y%m%d").to_string(),
        (EventTime::Date(_), None) => date.format("%Y%m%d").to_string(),
        (EventTime::Floating(_), Some(t)) => t.format("%Y%m%dT%H%M%S").to_string(),
        (EventTime::Floating(_), None) => format!("{}T235959", date.format("%Y%m%d")),
        (_, Some(t)) => ical_utc(t),
        // Through the end of that day where the event is.
        (EventTime::Zoned(_, tzid), None) => {
            let end = date.and_hms_opt(23, 59, 59)?;
            ical_utc(Zone::resolve(tzid, calendar)?.to_utc(end))
        }
        (_, None) => format!("{}T235959Z", date.format("%Y%m%d")),
    })
}

// ---- single occurrences --------------------------------------------------------------------

/// An occurrence as a model names it: its original start, as calendar_list_events gives it
/// (`recurrence_id`), as an instant, a date (all-day series) or a local time in the series'
/// zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OccurrenceRef {
    Day(NaiveDate),
    At(DateTime<FixedOffset>),
    Local(NaiveDateTime),
}

impl OccurrenceRef {
    pub fn parse(value: &str) -> Option<OccurrenceRef> {
        let value = value.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(value) {
            return Some(OccurrenceRef::At(t));
        }
        if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            return Some(OccurrenceRef::Day(d));
        }
        for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y%m%dT%H%M%S"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(value, format) {
                return Some(OccurrenceRef::Local(t));
            }
        }
        if let Some(t) = value
            .strip_suffix('Z')
            .and_then(|v| NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%S").ok())
        {
            return Some(OccurrenceRef::At(t.and_utc().fixed_offset()));
        }
        None
    }
}

/// One occurrence of a series in its object.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    /// Its RECURRENCE-ID, in the form of the series' start.
    pub recurrence_id: EventTime,
    /// Its original start as an instant (dates at midnight UTC).
    pub instant: DateTime<Utc>,
    /// Whether the object already holds an edited copy of it.
    pub overridden: bool,
}

fn occurrence_matches(component: &Component, id: &EventTime, calendar: &Component) -> bool {
    component
        .prop("RECURRENCE-ID")
        .and_then(parse_event_time)
        .is_some_and(|rid| {
            rid == *id
                || (rid.is_date() == id.is_date()
                    && rid.instant(calendar).is_some()
                    && rid.instant(calendar) == id.instant(calendar))
        })
}

/// The occurrence `occurrence` of series `uid` in `data`, named in the series' own form.
pub fn find_occurrence(
    data: &str,
    uid: &str,
    occurrence: &OccurrenceRef,
) -> Result<Occurrence, NcError> {
    let (roots, index) = parse_object(data)?;
    let calendar = &roots[index];
    let master = calendar
        .components()
        .find(|c| is_master_of(c, uid))
        .ok_or_else(|| no_master(uid))?;
    let start = event_span(master)
        .map(|(start, _)| start)
        .ok_or_else(|| NcError::BadResponse("the event has no readable start (DTSTART)".into()))?;
    if !is_recurring(calendar, uid) {
        return Err(invalid(
            "this event does not repeat; leave occurrence out to change or delete it",
        ));
    }
    let mismatch = || {
        NcError::InvalidInput(if start.is_date() {
            "this series is all-day: name the occurrence by its date (\"2026-03-09\")".into()
        } else {
            "this series is timed: name the occurrence by its original start as \
             calendar_list_events gives it in recurrence_id (e.g. \"2026-03-09T08:00:00Z\")"
                .to_string()
        })
    };
    let recurrence_id = match (&start, occurrence) {
        (EventTime::Date(_), OccurrenceRef::Day(d)) => EventTime::Date(*d),
        (EventTime::Date(_), OccurrenceRef::At(t)) => EventTime::Date(t.date_naive()),
        (EventTime::Date(_), OccurrenceRef::Local(t)) => EventTime::Date(t.date()),
        (_, OccurrenceRef::Day(_)) => return Err(mismatch()),
        (EventTime::Zoned(_, tzid), OccurrenceRef::Local(t)) => EventTime::Zoned(*t, tzid.clone()),
        (EventTime::Floating(_), OccurrenceRef::Local(t)) => EventTime::Floating(*t),
        (EventTime::Utc(_), OccurrenceRef::Local(t)) => EventTime::Utc(t.and_utc()),
        (form, OccurrenceRef::At(t)) => in_form_of(Moment::At(*t), Some(form), calendar)?,
    };
    let instant = recurrence_id
        .instant(calendar)
        .ok_or_else(|| invalid("the series' time zone is unknown here"))?;
    let overridden = calendar
        .components()
        .any(|c| is_override_of(c, uid) && occurrence_matches(c, &recurrence_id, calendar));
    Ok(Occurrence {
        recurrence_id,
        instant,
        overridden,
    })
}

/// Whether a REPORT answer expanded by the server (`C:expand`, every occurrence with a UTC
/// RECURRENCE-ID) holds the occurrence of `uid` starting originally at `instant`.
pub fn expanded_holds(data: &str, uid: &str, occurrence: &Occurrence) -> bool {
    let Ok(calendar) = calendar_of(data) else {
        return false;
    };
    let found = calendar.components().any(|c| {
        c.name == "VEVENT"
            && c.text("UID").as_deref() == Some(uid)
            && c.prop("RECURRENCE-ID")
                .and_then(parse_event_time)
                .is_some_and(|rid| {
                    rid.instant(&calendar) == Some(occurrence.instant)
                        || (rid.is_date() && occurrence.recurrence_id == rid)
                })
    });
    found
}

/// Properties of the series an occurrence's own copy does not take over.
const SERIES_ONLY: &[&str] = &[
    "RRULE",
    "RDATE",
    "EXDATE",
    "EXRULE",
    "DTSTART",
    "DTEND",
    "DURATION",
    "RECURRENCE-ID",
    "DTSTAMP",
    "LAST-MODIFIED",
    "CREATED",
    "SEQUENCE",
];

/// Changes one occurrence of series `uid`: its override (RECURRENCE-ID) is edited, or made
/// from the series (its details, attendees and reminders) and then edited. The series itself
/// and every other line stay as they are.
pub fn update_occurrence_data(
    data: &str,
    uid: &str,
    occurrence: &Occurrence,
    change: &EventChange,
    more: &MoreChange,
    now: DateTime<Utc>,
) -> Result<String, NcError> {
    if change.all_day.is_some() {
        return Err(invalid(
            "one occurrence cannot be switched between all-day and timed; change the series",
        ));
    }
    if more.timezone.is_some() {
        return Err(invalid(
            "one occurrence keeps the series' time zone; give its new start with an offset",
        ));
    }
    let (mut roots, index) = parse_object(data)?;
    let calendar = &mut roots[index];
    let master = calendar
        .components()
        .find(|c| is_master_of(c, uid))
        .ok_or_else(|| no_master(uid))?
        .clone();
    let snapshot = calendar.clone();
    if !occurrence.overridden {
        let (start, end) = event_span(&master).ok_or_else(|| {
            NcError::BadResponse("the event has no readable start (DTSTART)".into())
        })?;
        let mut copy = Component::new("VEVENT");
        for property in master.properties() {
            if !SERIES_ONLY.contains(&property.base_name()) {
                copy.push_property(property.clone());
            }
        }
        let mut recurrence_id = occurrence.recurrence_id.property("RECURRENCE-ID");
        if let Some(range) = master.prop("DTSTART").and_then(|p| p.param("VALUE")) {
            recurrence_id.set_param("VALUE", Some(range));
        }
        copy.push_property(recurrence_id);
        let own_start = occurrence.recurrence_id.clone();
        let own_end = own_start.add(end.naive() - start.naive());
        copy.push_property(own_start.property("DTSTART"));
        if master.prop("DURATION").is_some() && master.prop("DTEND").is_none() {
            if let Some(duration) = master.prop("DURATION") {
                copy.push_property(duration.clone());
            }
        } else {
            copy.push_property(own_end.property("DTEND"));
        }
        copy.push_property(Property::new("CREATED", ical_utc(now)));
        for alarm in master.components().filter(|c| c.name == "VALARM") {
            copy.push_component(alarm.clone());
        }
        calendar.push_component(copy);
    }
    let target = calendar
        .components()
        .find(|c| {
            is_override_of(c, uid) && occurrence_matches(c, &occurrence.recurrence_id, &snapshot)
        })
        .ok_or_else(|| NcError::BadResponse("the occurrence disappeared while editing".into()))?;
    let span = new_span(target, &snapshot, change, None)?;
    let had_dtend = target.prop("DTEND").is_some();
    let had_duration = target.prop("DURATION").is_some();
    let sequence = sequence_of(target)
        .max(sequence_of(&master))
        .saturating_add(1);
    let target = calendar
        .components_mut()
        .find(|c| {
            is_override_of(c, uid) && occurrence_matches(c, &occurrence.recurrence_id, &snapshot)
        })
        .ok_or_else(|| NcError::BadResponse("the occurrence disappeared while editing".into()))?;
    apply_change(target, change, span.as_ref(), had_dtend, had_duration, now);
    target.set(Property::new("SEQUENCE", sequence.to_string()));
    if let Some(reminders) = &more.reminders {
        set_reminders(target, reminders, more.alarm_email.as_deref())?;
    }
    Ok(write_all(&roots))
}

/// Cancels one occurrence of series `uid`: an EXDATE on the series (in the form of its start)
/// and its edited copy, if any, removed.
pub fn delete_occurrence_data(
    data: &str,
    uid: &str,
    occurrence: &Occurrence,
    now: DateTime<Utc>,
) -> Result<String, NcError> {
    let (mut roots, index) = parse_object(data)?;
    let calendar = &mut roots[index];
    let snapshot = calendar.clone();
    calendar.retain_components(|c| {
        !(is_override_of(c, uid) && occurrence_matches(c, &occurrence.recurrence_id, &snapshot))
    });
    let master = calendar
        .components_mut()
        .find(|c| is_master_of(c, uid))
        .ok_or_else(|| no_master(uid))?;
    master.push_property(occurrence.recurrence_id.property("EXDATE"));
    master.set(Property::new("DTSTAMP", ical_utc(now)));
    master.set(Property::new("LAST-MODIFIED", ical_utc(now)));
    let sequence = sequence_of(master).saturating_add(1);
    master.set(Property::new("SEQUENCE", sequence.to_string()));
    Ok(write_all(&roots))
}

// ---- attendees -----------------------------------------------------------------------------

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

#[cfg(test)]
mod tests;
