//! iCalendar times (RFC 5545 §3.3.4–3.3.5) and moving a recurring series.
//!
//! An event keeps the form its start was written in: a date, UTC, floating local time, or local
//! time in a zone (`TZID`). A new time given by a model (RFC 3339 with an offset) is placed in
//! that form, so a 09:00 Europe/Berlin meeting stays a Europe/Berlin meeting and keeps 09:00
//! across daylight-saving changes. When the start of a recurring series moves, everything that
//! names its occurrences by their original start (EXDATE, RDATE, RRULE's UNTIL, the overrides'
//! RECURRENCE-ID) moves with it by the same wall-clock amount, each value in its own form;
//! otherwise cancelled occurrences come back and overridden ones appear twice.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, Utc};

use super::timezone::{parse_weekday, rrule_parts, tzid_of, Zone};
use super::vobject::{Component, Property};
use super::NcError;

/// A DATE or DATE-TIME value in the form it was (or is to be) written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTime {
    Date(NaiveDate),
    Utc(DateTime<Utc>),
    /// Local time without a zone: the same wall-clock time everywhere.
    Floating(NaiveDateTime),
    /// Local time in the zone with this TZID.
    Zoned(NaiveDateTime, String),
}

/// A time as a model gives it: a day, or an instant with its UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    Day(NaiveDate),
    At(DateTime<FixedOffset>),
}

const DATE_FORMAT: &str = "%Y%m%d";
const LOCAL_FORMAT: &str = "%Y%m%dT%H%M%S";

/// `YYYYMMDDTHHMMSSZ`, as CalDAV time ranges and UTC DATE-TIMEs are written.
pub fn ical_utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// One DATE or DATE-TIME value (`20260302`, `20260302T090000Z`, `20260302T090000`).
fn parse_value(value: &str, is_date: bool, tzid: Option<&str>) -> Option<EventTime> {
    let value = value.trim();
    if is_date || (value.len() == 8 && !value.contains('T')) {
        return NaiveDate::parse_from_str(value.get(..8)?, DATE_FORMAT)
            .ok()
            .map(EventTime::Date);
    }
    if let Some(utc) = value.strip_suffix(['Z', 'z']) {
        return NaiveDateTime::parse_from_str(utc, LOCAL_FORMAT)
            .ok()
            .map(|t| EventTime::Utc(t.and_utc()));
    }
    let local = NaiveDateTime::parse_from_str(value, LOCAL_FORMAT).ok()?;
    Some(match tzid {
        Some(tzid) => EventTime::Zoned(local, tzid.to_owned()),
        None => EventTime::Floating(local),
    })
}

fn is_date_valued(property: &Property) -> bool {
    property
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
}

/// Reads a DTSTART/DTEND/DUE/RECURRENCE-ID property.
pub fn parse_event_time(property: &Property) -> Option<EventTime> {
    parse_value(&property.value, is_date_valued(property), tzid_of(property))
}

impl EventTime {
    /// `2024-03-05`, `2024-03-05T10:00:00Z` or `2024-03-05T10:00:00` (local time).
    pub fn display(&self) -> String {
        match self {
            EventTime::Date(d) => d.format("%Y-%m-%d").to_string(),
            EventTime::Utc(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            EventTime::Floating(t) | EventTime::Zoned(t, _) => {
                t.format("%Y-%m-%dT%H:%M:%S").to_string()
            }
        }
    }

    /// The wall-clock value (dates at midnight), for lengths and shifts.
    pub fn naive(&self) -> NaiveDateTime {
        match self {
            EventTime::Date(d) => d.and_time(chrono::NaiveTime::MIN),
            EventTime::Utc(t) => t.naive_utc(),
            EventTime::Floating(t) | EventTime::Zoned(t, _) => *t,
        }
    }

    pub fn is_date(&self) -> bool {
        matches!(self, EventTime::Date(_))
    }

    pub fn tzid(&self) -> Option<&str> {
        match self {
            EventTime::Zoned(_, tzid) => Some(tzid),
            _ => None,
        }
    }

    /// Moved by `delta` on the wall clock (dates by whole days).
    pub fn add(&self, delta: Duration) -> EventTime {
        match self {
            EventTime::Date(d) => EventTime::Date(*d + Duration::days(delta.num_days())),
            EventTime::Utc(t) => EventTime::Utc(*t + delta),
            EventTime::Floating(t) => EventTime::Floating(*t + delta),
            EventTime::Zoned(t, tzid) => EventTime::Zoned(*t + delta, tzid.clone()),
        }
    }

    /// The value as written, without parameters.
    pub fn value(&self) -> String {
        match self {
            EventTime::Date(d) => d.format(DATE_FORMAT).to_string(),
            EventTime::Utc(t) => ical_utc(*t),
            EventTime::Floating(t) | EventTime::Zoned(t, _) => t.format(LOCAL_FORMAT).to_string(),
        }
    }

    /// The property `name` holding this time (`VALUE=DATE` or `TZID` as needed).
    pub fn property(&self, name: &str) -> Property {
        let property = Property::new(name, self.value());
        match self {
            EventTime::Date(_) => property.with_param("VALUE", "DATE"),
            EventTime::Zoned(_, tzid) => property.with_param("TZID", tzid),
            _ => property,
        }
    }

    /// The instant this time stands for (dates and floating times read as UTC), `None` if its
    /// zone is unknown.
    pub fn instant(&self, calendar: &Component) -> Option<DateTime<Utc>> {
        match self {
            EventTime::Utc(t) => Some(*t),
            EventTime::Zoned(local, tzid) => Some(Zone::resolve(tzid, calendar)?.to_utc(*local)),
            other => Some(other.naive().and_utc()),
        }
    }
}

/// `moment` in the form of `like` (an event's current start or end): a zoned event stays in its
/// zone, a floating one takes the wall-clock time as given, a UTC one (or a new one) gets UTC.
pub fn in_form_of(
    moment: Moment,
    like: Option<&EventTime>,
    calendar: &Component,
) -> Result<EventTime, NcError> {
    let at = match moment {
        Moment::Day(day) => return Ok(EventTime::Date(day)),
        Moment::At(at) => at,
    };
    Ok(match like {
        Some(EventTime::Zoned(_, tzid)) => {
            let zone = Zone::resolve(tzid, calendar).ok_or_else(|| {
                NcError::InvalidInput(format!(
                    "the event is in the time zone \"{tzid}\", which is neither an IANA zone nor \
                     defined in the event, so the new time cannot be placed in it"
                ))
            })?;
            EventTime::Zoned(zone.to_local(at.with_timezone(&Utc)), tzid.clone())
        }
        Some(EventTime::Floating(_)) => EventTime::Floating(at.naive_local()),
        _ => EventTime::Utc(at.with_timezone(&Utc)),
    })
}

/// How a series moves: its start's old and new form, in the object they live in.
struct Shift<'a> {
    old: &'a EventTime,
    delta: Duration,
    days: i64,
    calendar: &'a Component,
}

impl Shift<'_> {
    /// `time` (an original occurrence start, or UNTIL) moved with the series.
    fn apply(&self, time: &EventTime) -> EventTime {
        match (time, self.old) {
            (EventTime::Date(d), _) => EventTime::Date(*d + Duration::days(self.days)),
            (EventTime::Zoned(local, tzid), EventTime::Zoned(_, series)) if tzid == series => {
                EventTime::Zoned(*local + self.delta, tzid.clone())
            }
            (EventTime::Utc(t), EventTime::Zoned(_, series)) => {
                match Zone::resolve(series, self.calendar) {
                    Some(zone) => EventTime::Utc(zone.to_utc(zone.to_local(*t) + self.delta)),
                    None => EventTime::Utc(*t + self.delta),
                }
            }
            (EventTime::Zoned(local, tzid), EventTime::Zoned(_, series)) => {
                // Another zone than the series': move it as the series' wall clock moves.
                match (
                    Zone::resolve(tzid, self.calendar),
                    Zone::resolve(series, self.calendar),
                ) {
                    (Some(own), Some(series_zone)) => {
                        let moved = series_zone
                            .to_utc(series_zone.to_local(own.to_utc(*local)) + self.delta);
                        EventTime::Zoned(own.to_local(moved), tzid.clone())
                    }
                    _ => EventTime::Zoned(*local + self.delta, tzid.clone()),
                }
            }
            (other, _) => other.add(self.delta),
        }
    }

    /// A comma-separated EXDATE/RDATE/RECURRENCE-ID value moved; `None` if a part is not a
    /// time this server reads (the property is then left alone).
    fn apply_list(&self, property: &Property) -> Option<String> {
        let is_date = is_date_valued(property);
        let is_period = property
            .param("VALUE")
            .is_some_and(|v| v.eq_ignore_ascii_case("PERIOD"));
        let tzid = tzid_of(property);
        let mut out = Vec::new();
        for part in property.value.split(',') {
            if is_period {
                let (start, rest) = part.split_once('/')?;
                let start = self.apply(&parse_value(start, false, tzid)?).value();
                // An explicit end moves too; a duration stays.
                let rest = if rest.trim_start().starts_with(['P', '+', '-']) {
                    rest.to_owned()
                } else {
                    self.apply(&parse_value(rest, false, tzid)?).value()
                };
                out.push(format!("{start}/{rest}"));
            } else {
                out.push(self.apply(&parse_value(part, is_date, tzid)?).value());
            }
        }
        Some(out.join(","))
    }
}

fn unsupported_move(rule: &str, why: &str) -> NcError {
    NcError::InvalidInput(format!(
        "this event repeats by the rule {rule}, {why}; moving it to another day or time of day \
         would change which occurrences it has. Keep its start, change only the parts that do \
         not matter to the rule, or edit the recurrence in a calendar app"
    ))
}

/// The RRULE `value` moved with the series: UNTIL moved, weekday and month-day rules follow a
/// change of the start's day. Rules whose meaning a move would change are refused.
fn shift_rrule(value: &str, shift: &Shift<'_>, new_start: &EventTime) -> Result<String, NcError> {
    let mut parts = rrule_parts(value);
    let freq = parts
        .iter()
        .find(|(k, _)| k == "FREQ")
        .map(|(_, v)| v.to_ascii_uppercase())
        .unwrap_or_default();
    let old_date = shift.old.naive().date();
    let new_date = new_start.naive().date();
    let time_changed = shift.old.naive().time() != new_start.naive().time();
    for (name, part) in parts.iter_mut() {
        match name.as_str() {
            "UNTIL" => {
                let until = parse_value(part, false, None)
                    .ok_or_else(|| unsupported_move(value, "whose UNTIL is not readable"))?;
                *part = shift.apply(&until).value();
            }
            "BYDAY" if shift.days != 0 => {
                if freq != "WEEKLY" {
                    return Err(unsupported_move(value, "which names weekdays"));
                }
                let mut days = Vec::new();
                for day in part.split(',') {
                    let weekday = parse_weekday(day.trim())
                        .ok_or_else(|| unsupported_move(value, "which numbers weekdays"))?;
                    let moved =
                        (i64::from(weekday.num_days_from_monday()) + shift.days).rem_euclid(7);
                    let code = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][moved as usize];
                    days.push(code.to_owned());
                }
                *part = days.join(",");
            }
            "BYMONTHDAY" if shift.days != 0 => {
                let same_month = old_date.month() == new_date.month();
                let single: Option<u32> = part.trim().parse().ok();
                match single {
                    Some(day) if same_month && day == old_date.day() => {
                        *part = new_date.day().to_string();
                    }
                    _ => return Err(unsupported_move(value, "which names days of the month")),
                }
            }
            "BYMONTH" if old_date.month() != new_date.month() => match part.trim().parse::<u32>() {
                Ok(month) if month == old_date.month() => *part = new_date.month().to_string(),
                _ => return Err(unsupported_move(value, "which names months")),
            },
            "BYYEARDAY" | "BYWEEKNO" | "BYSETPOS" if shift.days != 0 => {
                return Err(unsupported_move(
                    value,
                    "which counts days or weeks of the year",
                ));
            }
            "BYHOUR" | "BYMINUTE" | "BYSECOND" if time_changed => {
                return Err(unsupported_move(value, "which names times of day"));
            }
            _ => {}
        }
    }
    Ok(parts
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";"))
}

/// Whether `component` is the master (no RECURRENCE-ID) or an override of the event `uid`.
fn is_event(component: &Component, uid: &str) -> bool {
    component.name == "VEVENT" && component.text("UID").as_deref() == Some(uid)
}

/// Moves the recurrence information of series `uid` from its start `old` to `new`: the master's
/// RRULE (UNTIL, BYDAY…), EXDATE and RDATE, and every override's RECURRENCE-ID; an override
/// that kept its occurrence's time (only its title or other details differ) moves along, one
/// that was moved to another time stays where it was put.
pub fn shift_series(
    calendar: &mut Component,
    uid: &str,
    old: &EventTime,
    new: &EventTime,
) -> Result<(), NcError> {
    if old == new {
        return Ok(());
    }
    if old.is_date() != new.is_date() {
        let recurring = calendar.components().any(|c| {
            is_event(c, uid)
                && (c.prop("RRULE").is_some()
                    || c.prop("RDATE").is_some()
                    || c.prop("RECURRENCE-ID").is_some())
        });
        if recurring {
            return Err(NcError::InvalidInput(
                "a recurring event cannot be switched between all-day and timed here; change \
                 its time within the same kind, or do it in a calendar app"
                    .into(),
            ));
        }
        return Ok(());
    }
    let snapshot = calendar.clone();
    let shift = Shift {
        old,
        delta: new.naive() - old.naive(),
        days: (new.naive().date() - old.naive().date()).num_days(),
        calendar: &snapshot,
    };
    for event in calendar.components_mut().filter(|c| is_event(c, uid)) {
        if let Some(recurrence_id) = event.prop("RECURRENCE-ID").cloned() {
            let Some(original) = parse_event_time(&recurrence_id) else {
                continue;
            };
            let moved = shift.apply(&original);
            let mut property = moved.property("RECURRENCE-ID");
            property.params.extend(
                recurrence_id
                    .params
                    .iter()
                    .filter(|(k, _)| k != "TZID" && k != "VALUE")
                    .cloned(),
            );
            event.set(property);
            // An occurrence shown at its original time moves with the series.
            let start = event.prop("DTSTART").and_then(parse_event_time);
            let unmoved = start.as_ref().is_some_and(|start| {
                start == &original
                    || (start.instant(&snapshot).is_some()
                        && start.instant(&snapshot) == original.instant(&snapshot))
            });
            if unmoved {
                for name in ["DTSTART", "DTEND"] {
                    if let Some(time) = event.prop(name).and_then(parse_event_time) {
                        event.set(shift.apply(&time).property(name));
                    }
                }
            }
            continue;
        }
        if let Some(rrule) = event.prop("RRULE").cloned() {
            let mut moved = rrule.clone();
            moved.value = shift_rrule(&rrule.value, &shift, new)?;
            if moved != rrule {
                event.set(moved);
            }
        }
        for name in ["EXDATE", "RDATE"] {
            let properties: Vec<Property> = event.props(name).cloned().collect();
            if properties.is_empty() {
                continue;
            }
            let moved: Vec<Property> = properties
                .into_iter()
                .map(|mut property| {
                    if let Some(value) = shift.apply_list(&property) {
                        property.value = value;
                    }
                    property
                })
                .collect();
            event.replace_all(name, moved);
        }
    }
    Ok(())
}

/// Longest DURATION read (10,000 years): every time an event can be written in (years 0 to
/// 9999) stays within chrono's range when moved by it, or by the length of an event that long.
const MAX_DURATION_DAYS: i64 = 3_652_500;

/// An RFC 5545 DURATION (`P1D`, `PT1H30M`, `-P1W`…); `None` if malformed or longer than
/// [`MAX_DURATION_DAYS`].
pub fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (negative, rest) = match value.as_bytes().first()? {
        b'-' => (true, &value[1..]),
        b'+' => (false, &value[1..]),
        _ => (false, value),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let mut total = Duration::zero();
    let mut number = String::new();
    let mut in_time = false;
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            'T' => in_time = true,
            d if d.is_ascii_digit() => number.push(d),
            unit => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                any = true;
                let part = match (unit, in_time) {
                    ('W', false) => Duration::try_weeks(n),
                    ('D', false) => Duration::try_days(n),
                    ('H', true) => Duration::try_hours(n),
                    ('M', true) => Duration::try_minutes(n),
                    ('S', true) => Duration::try_seconds(n),
                    _ => return None,
                }?;
                total = total.checked_add(&part)?;
            }
        }
    }
    if !any || !number.is_empty() || total.num_days() > MAX_DURATION_DAYS {
        return None;
    }
    Some(if negative { -total } else { total })
}

/// A non-negative length as an RFC 5545 DURATION (`P2D`, `PT1H30M`, `P1DT2H`).
pub fn format_duration(length: Duration) -> String {
    let mut seconds = length.num_seconds().max(0);
    let days = seconds / 86_400;
    seconds %= 86_400;
    let (hours, minutes, secs) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours + minutes + secs > 0 || days == 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if secs > 0 || (hours == 0 && minutes == 0) {
            out.push_str(&format!("{secs}S"));
        }
    }
    out
}
