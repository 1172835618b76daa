//! Reading the calendar tools' arguments: time ranges, event times (UTC, dates, IANA zones),
//! reminders, colours; one wording for invalid arguments.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::args::{ReminderAction, ReminderArg};
use crate::nextcloud::events::{AlarmAction, Reminder, MAX_REMINDER_MINUTES};
use crate::nextcloud::ical::{EventTime, Moment};
use crate::nextcloud::timezone::{parse_iana, Zone};
use crate::tools::ToolError;

pub(super) fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::InvalidArguments(message.into())
}

/// A range bound: RFC 3339 date-time, or a date meaning midnight UTC.
/// A time range from `start` and `end` (see [`parse_range_bound`]): `end` after `start`, at
/// most `max_days` long (`advice` is added to that refusal).
pub(super) fn parse_range(
    start: &str,
    end: &str,
    max_days: i64,
    advice: &str,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ToolError> {
    let start = parse_range_bound(start, "start")?;
    let end = parse_range_bound(end, "end")?;
    if end <= start {
        return Err(invalid("end must be after start"));
    }
    if end - start > chrono::Duration::days(max_days) {
        return Err(invalid(format!(
            "the range may be at most {max_days} days{advice}"
        )));
    }
    Ok((start, end))
}

pub fn parse_range_bound(value: &str, what: &str) -> Result<DateTime<Utc>, ToolError> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(invalid(format!(
        "{what} must be an RFC 3339 date-time with offset (e.g. \"2025-03-14T15:00:00+01:00\") \
         or a date (\"2025-03-14\"), got \"{value}\""
    )))
}

/// A timed event's start or end: RFC 3339 with an offset, converted to UTC.
pub fn parse_timed(value: &str, what: &str) -> Result<DateTime<Utc>, ToolError> {
    let value = value.trim();
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            let hint = if NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok() {
                " (a plain date is only valid with all_day=true)"
            } else {
                " (include the UTC offset, e.g. \"Z\" or \"+01:00\")"
            };
            invalid(format!(
                "{what} must be an RFC 3339 date-time such as \"2025-03-14T15:00:00+01:00\", got \
                 \"{value}\"{hint}"
            ))
        })
}

/// An all-day event's day: `YYYY-MM-DD` (the date part of an RFC 3339 value is accepted).
pub fn parse_day(value: &str, what: &str) -> Result<NaiveDate, ToolError> {
    let value = value.trim();
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(value)
                .ok()
                .map(|t| t.date_naive())
        })
        .ok_or_else(|| {
            invalid(format!(
                "{what} must be a date such as \"2025-03-14\" for an all-day event, got \
                 \"{value}\""
            ))
        })
}

/// Start and exclusive end from the model's start and (inclusive for all-day) end.
pub fn span_from_args(
    start: &str,
    end: Option<&str>,
    all_day: bool,
) -> Result<(EventTime, EventTime), ToolError> {
    if all_day {
        let first = parse_day(start, "start")?;
        let last = match end {
            Some(end) => parse_day(end, "end")?,
            None => first,
        };
        if last < first {
            return Err(invalid("end (the last day) must not be before start"));
        }
        Ok((
            EventTime::Date(first),
            EventTime::Date(last + Duration::days(1)),
        ))
    } else {
        let start = parse_timed(start, "start")?;
        let end = match end {
            Some(end) => parse_timed(end, "end")?,
            None => start + Duration::hours(1),
        };
        if end <= start {
            return Err(invalid("end must be after start"));
        }
        Ok((EventTime::Utc(start), EventTime::Utc(end)))
    }
}

/// A start or end for an update: a date (all-day events) or an RFC 3339 date-time with offset.
/// Which of the two the event needs is checked against the event itself.
pub fn parse_moment(value: &str, what: &str) -> Result<Moment, ToolError> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(Moment::At(t));
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(Moment::Day(d));
    }
    Err(invalid(format!(
        "{what} must be an RFC 3339 date-time with offset (e.g. \"2025-03-14T15:00:00+01:00\") \
         or, for all-day events, a date (\"2025-03-14\"), got \"{value}\""
    )))
}

pub(super) fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut.push('…');
    cut
}

pub(super) fn non_blank(value: &str, what: &str) -> Result<String, ToolError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(invalid(format!("{what} must not be empty")));
    }
    Ok(trimmed.to_owned())
}

/// A timed event's start or end in zone `tz`: an RFC 3339 instant placed in the zone, or a
/// local time without offset read as local time there.
pub fn parse_zoned(value: &str, what: &str, tz: chrono_tz::Tz) -> Result<EventTime, ToolError> {
    let trimmed = value.trim();
    let zone = Zone::Iana(tz);
    let local = match DateTime::parse_from_rfc3339(trimmed) {
        Ok(t) => zone.to_local(t.with_timezone(&Utc)),
        Err(_) => ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(trimmed, f).ok())
            .ok_or_else(|| {
                invalid(format!(
                    "{what} must be a date-time such as \"2026-03-02T09:00:00\" (local time in \
                     {tz}) or with an offset, got \"{trimmed}\""
                ))
            })?,
    };
    Ok(EventTime::Zoned(local, tz.name().to_owned()))
}

/// [`span_from_args`] for a timed event in zone `timezone` (IANA).
pub fn span_in_zone(
    start: &str,
    end: Option<&str>,
    timezone: &str,
) -> Result<(EventTime, EventTime), ToolError> {
    let tz = parse_iana(timezone).ok_or_else(|| {
        invalid(format!(
            "timezone must be an IANA time zone name such as \"Europe/Berlin\" or \
             \"America/New_York\", got \"{}\"",
            timezone.trim()
        ))
    })?;
    let start = parse_zoned(start, "start", tz)?;
    let end = match end {
        Some(end) => parse_zoned(end, "end", tz)?,
        None => start.add(Duration::hours(1)),
    };
    let zone = Zone::Iana(tz);
    if end.naive() <= start.naive() || zone.to_utc(end.naive()) < zone.to_utc(start.naive()) {
        return Err(invalid("end must be after start"));
    }
    Ok((start, end))
}

pub(super) fn reminders_of(
    args: Option<Vec<ReminderArg>>,
) -> Result<Option<Vec<Reminder>>, ToolError> {
    let Some(args) = args else {
        return Ok(None);
    };
    if args.len() > 10 {
        return Err(invalid("at most 10 reminders per event"));
    }
    args.into_iter()
        .map(|r| {
            if r.minutes_before > MAX_REMINDER_MINUTES {
                return Err(invalid(format!(
                    "minutes_before may be at most {MAX_REMINDER_MINUTES} (four weeks)"
                )));
            }
            Ok(Reminder {
                minutes_before: r.minutes_before,
                action: match r.action {
                    ReminderAction::Display => AlarmAction::Display,
                    ReminderAction::Email => AlarmAction::Email,
                },
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub(super) fn color_of(color: Option<String>) -> Result<Option<String>, ToolError> {
    let Some(color) = color.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let hex = color.strip_prefix('#').unwrap_or(&color);
    if !(hex.len() == 6 || hex.len() == 8) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(format!(
            "color must be \"#RRGGBB\" (e.g. \"#0082c9\"), got \"{color}\""
        )));
    }
    Ok(Some(format!("#{}", hex.to_ascii_lowercase())))
}
