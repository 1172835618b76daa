//! Recurrence rules as a model writes them, checked and written as RFC 5545 wants.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::nextcloud::ical::{ical_utc, EventTime};
use crate::nextcloud::timezone::{parse_weekday, Zone};
use crate::nextcloud::vobject::Component;
use crate::nextcloud::NcError;

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
