//! The time zone of an iCalendar date-time (`DTSTART;TZID=Europe/Berlin:20260302T090000`).
//! A TZID that names an IANA zone (as Thunderbird, Apple, DAVx5 and the Nextcloud apps write
//! them, also behind old Mozilla prefixes such as `/mozilla.org/20050126_1/Europe/Berlin`) is
//! resolved with the IANA database; any other (Outlook's `W. Europe Standard Time`) by the rules
//! of the object's own VTIMEZONE (RFC 5545 §3.6.5: STANDARD/DAYLIGHT observances with their
//! offsets, onsets, yearly RRULEs and RDATEs).

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc,
    Weekday,
};

use super::vobject::{Component, Property};

/// A resolved time zone.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    Iana(chrono_tz::Tz),
    /// The observances of a VTIMEZONE.
    Defined(Vec<Observance>),
}

/// One STANDARD or DAYLIGHT observance of a VTIMEZONE.
#[derive(Debug, Clone, PartialEq)]
pub struct Observance {
    /// Seconds east of UTC before and after the onset.
    offset_from: i32,
    offset_to: i32,
    /// The first onset, in local time (before the change, i.e. in `offset_from`).
    start: NaiveDateTime,
    rule: Option<YearlyRule>,
    /// Further onsets (local time).
    rdates: Vec<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq)]
struct YearlyRule {
    month: u32,
    day: DayRule,
    until: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq)]
enum DayRule {
    /// `BYDAY=2SU`, `BYDAY=-1SU`.
    NthWeekday(i32, Weekday),
    /// `BYDAY=SU;BYMONTHDAY=8,9,10,11,12,13,14`.
    WeekdayAmong(Weekday, Vec<u32>),
    /// `BYMONTHDAY=15` (or `-1`).
    MonthDay(i32),
}

/// `+0100`, `-0500`, `+053000` → seconds east of UTC.
fn parse_offset(value: &str) -> Option<i32> {
    let value = value.trim();
    let (sign, digits) = match value.as_bytes().first()? {
        b'+' => (1, &value[1..]),
        b'-' => (-1, &value[1..]),
        _ => return None,
    };
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[0..2].parse().ok()?;
    let minutes: i32 = digits[2..4].parse().ok()?;
    let seconds: i32 = digits.get(4..6).map_or(Some(0), |s| s.parse().ok())?;
    Some(sign * (hours * 3600 + minutes * 60 + seconds))
}

fn parse_local(value: &str) -> Option<NaiveDateTime> {
    let value = value.trim().trim_end_matches(['Z', 'z']);
    NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").ok()
}

pub fn parse_weekday(code: &str) -> Option<Weekday> {
    Some(match code.to_ascii_uppercase().as_str() {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

/// The parts of an RRULE value, names upper-cased (`FREQ=WEEKLY;BYDAY=MO` → [(FREQ, WEEKLY)…]).
pub fn rrule_parts(value: &str) -> Vec<(String, String)> {
    value
        .split(';')
        .filter_map(|part| part.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_uppercase(), v.trim().to_owned()))
        .collect()
}

fn parse_yearly_rule(value: &str) -> Option<YearlyRule> {
    let parts = rrule_parts(value);
    let get = |name: &str| {
        parts
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if !get("FREQ")?.eq_ignore_ascii_case("YEARLY") {
        return None;
    }
    if get("INTERVAL").is_some_and(|i| i.trim() != "1") {
        return None;
    }
    let month: u32 = get("BYMONTH")?
        .parse()
        .ok()
        .filter(|m| (1..=12).contains(m))?;
    let until = get("UNTIL").and_then(parse_local);
    let day = match (get("BYDAY"), get("BYMONTHDAY")) {
        (Some(byday), None) => {
            let byday = byday.trim();
            let split = byday.len().checked_sub(2)?;
            let weekday = parse_weekday(&byday[split..])?;
            let n: i32 = match &byday[..split] {
                "" => 1,
                n => n.trim_start_matches('+').parse().ok()?,
            };
            DayRule::NthWeekday(n, weekday)
        }
        (Some(byday), Some(days)) => DayRule::WeekdayAmong(
            parse_weekday(byday.trim())?,
            days.split(',')
                .filter_map(|d| d.trim().parse().ok())
                .collect(),
        ),
        (None, Some(day)) => DayRule::MonthDay(day.trim().parse().ok()?),
        (None, None) => return None,
    };
    Some(YearlyRule { month, day, until })
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|d| d.pred_opt()).map_or(28, |d| d.day())
}

impl YearlyRule {
    /// The onset date of this rule in `year`.
    fn date_in(&self, year: i32) -> Option<NaiveDate> {
        let last = days_in_month(year, self.month);
        match &self.day {
            DayRule::NthWeekday(n, weekday) if *n > 0 => {
                NaiveDate::from_weekday_of_month_opt(year, self.month, *weekday, *n as u8)
            }
            DayRule::NthWeekday(n, weekday) => {
                let mut date = NaiveDate::from_ymd_opt(year, self.month, last)?;
                while date.weekday() != *weekday {
                    date = date.pred_opt()?;
                }
                let back = i64::from(n.unsigned_abs().saturating_sub(1)) * 7;
                let date = date - Duration::days(back);
                (date.month() == self.month).then_some(date)
            }
            DayRule::WeekdayAmong(weekday, days) => (1..=last)
                .filter(|d| days.contains(d))
                .filter_map(|d| NaiveDate::from_ymd_opt(year, self.month, d))
                .find(|d| d.weekday() == *weekday),
            DayRule::MonthDay(d) if *d > 0 => NaiveDate::from_ymd_opt(year, self.month, *d as u32),
            DayRule::MonthDay(d) => {
                let day = i64::from(last) + 1 + i64::from(*d);
                u32::try_from(day)
                    .ok()
                    .and_then(|day| NaiveDate::from_ymd_opt(year, self.month, day))
            }
        }
    }
}

impl Observance {
    fn from_component(component: &Component) -> Option<Observance> {
        let offset_from = parse_offset(&component.prop("TZOFFSETFROM")?.value)?;
        let offset_to = parse_offset(&component.prop("TZOFFSETTO")?.value)?;
        let start = parse_local(&component.prop("DTSTART")?.value)?;
        let rule = component
            .prop("RRULE")
            .and_then(|p| parse_yearly_rule(&p.value));
        let rdates = component
            .props("RDATE")
            .flat_map(|p| p.value.split(','))
            .filter_map(parse_local)
            .collect();
        Some(Observance {
            offset_from,
            offset_to,
            start,
            rule,
            rdates,
        })
    }

    /// The latest onset (as a UTC instant) at or before `utc`.
    fn last_onset(&self, utc: NaiveDateTime) -> Option<NaiveDateTime> {
        let to_utc = |local: NaiveDateTime| local - Duration::seconds(i64::from(self.offset_from));
        let mut best: Option<NaiveDateTime> = None;
        let mut consider = |local: NaiveDateTime| {
            let at = to_utc(local);
            if local >= self.start && at <= utc && best.is_none_or(|b| at > b) {
                best = Some(at);
            }
        };
        consider(self.start);
        for local in &self.rdates {
            consider(*local);
        }
        if let Some(rule) = &self.rule {
            for year in [utc.year() - 1, utc.year()] {
                if let Some(date) = rule.date_in(year) {
                    let local = date.and_time(self.start.time());
                    if rule.until.is_none_or(|until| to_utc(local) <= until) {
                        consider(local);
                    }
                }
            }
        }
        best
    }
}

/// Strips prefixes some clients put before an IANA name and looks it up.
fn iana_zone(tzid: &str) -> Option<chrono_tz::Tz> {
    let tzid = tzid.trim().trim_matches('"');
    let parts: Vec<&str> = tzid.split('/').filter(|p| !p.is_empty()).collect();
    (0..parts.len()).find_map(|i| parts[i..].join("/").parse::<chrono_tz::Tz>().ok())
}

impl Zone {
    /// The zone of `tzid`: an IANA zone, else the VTIMEZONE of that TZID in `calendar`.
    pub fn resolve(tzid: &str, calendar: &Component) -> Option<Zone> {
        if let Some(tz) = iana_zone(tzid) {
            return Some(Zone::Iana(tz));
        }
        let vtimezone = calendar.components().find(|c| {
            c.name == "VTIMEZONE"
                && c.prop("TZID")
                    .is_some_and(|p| p.value.trim() == tzid.trim())
        })?;
        let observances: Vec<Observance> = vtimezone
            .components()
            .filter(|c| c.name == "STANDARD" || c.name == "DAYLIGHT")
            .filter_map(Observance::from_component)
            .collect();
        (!observances.is_empty()).then_some(Zone::Defined(observances))
    }

    /// Seconds east of UTC at the instant `utc`.
    pub fn offset_at(&self, utc: DateTime<Utc>) -> i32 {
        match self {
            Zone::Iana(tz) => tz
                .offset_from_utc_datetime(&utc.naive_utc())
                .fix()
                .local_minus_utc(),
            Zone::Defined(observances) => {
                let at = utc.naive_utc();
                observances
                    .iter()
                    .filter_map(|o| o.last_onset(at).map(|onset| (onset, o.offset_to)))
                    .max_by_key(|(onset, _)| *onset)
                    .map(|(_, offset)| offset)
                    .or_else(|| {
                        observances
                            .iter()
                            .min_by_key(|o| o.start)
                            .map(|o| o.offset_from)
                    })
                    .unwrap_or(0)
            }
        }
    }

    /// The wall-clock time at the instant `utc`.
    pub fn to_local(&self, utc: DateTime<Utc>) -> NaiveDateTime {
        utc.naive_utc() + Duration::seconds(i64::from(self.offset_at(utc)))
    }

    /// The instant of a wall-clock time. An ambiguous time (the hour repeated when clocks go
    /// back) is its first occurrence; a time that does not exist (skipped when clocks go
    /// forward) is read with the offset before the gap (RFC 5545 §3.3.5).
    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        if let Zone::Iana(tz) = self {
            match tz.from_local_datetime(&local) {
                LocalResult::Single(t) => return t.with_timezone(&Utc),
                LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
                LocalResult::None => {}
            }
        }
        let mut matching: Vec<DateTime<Utc>> = self
            .candidate_offsets(local)
            .into_iter()
            .map(|offset| (local - Duration::seconds(i64::from(offset))).and_utc())
            .filter(|utc| self.to_local(*utc) == local)
            .collect();
        matching.sort();
        if let Some(first) = matching.first() {
            return *first;
        }
        // In a gap: the offset in effect shortly before it.
        let before = self.offset_at((local - Duration::hours(26)).and_utc());
        (local - Duration::seconds(i64::from(before))).and_utc()
    }

    fn candidate_offsets(&self, local: NaiveDateTime) -> Vec<i32> {
        match self {
            Zone::Iana(_) => [-26, -13, 0, 13, 26]
                .iter()
                .map(|h| self.offset_at((local + Duration::hours(*h)).and_utc()))
                .collect(),
            Zone::Defined(observances) => observances
                .iter()
                .flat_map(|o| [o.offset_from, o.offset_to])
                .collect(),
        }
    }
}

/// The TZID parameter of a property, if any.
pub fn tzid_of(property: &Property) -> Option<&str> {
    property
        .param("TZID")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// `+0100`, `-0500`, `+0530`, `+003412` (seconds only when there are any).
fn format_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

/// One change of an IANA zone's offset.
#[derive(Debug, Clone, PartialEq)]
struct Transition {
    /// The onset in local time before the change (as VTIMEZONE's DTSTART is written).
    local: NaiveDateTime,
    from: i32,
    to: i32,
    daylight: bool,
    name: Option<String>,
}

/// Total offset, whether it is daylight time, and its abbreviation at the UTC instant `at`.
fn iana_offset(tz: chrono_tz::Tz, at: NaiveDateTime) -> (i32, bool, Option<String>) {
    use chrono_tz::{OffsetComponents, OffsetName};
    let offset = tz.offset_from_utc_datetime(&at);
    (
        offset.fix().local_minus_utc(),
        !offset.dst_offset().is_zero(),
        offset
            .abbreviation()
            .filter(|a| a.chars().any(|c| c.is_ascii_alphabetic()))
            .map(str::to_owned),
    )
}

/// The offset changes of `tz` during `year` (UTC).
fn transitions(tz: chrono_tz::Tz, year: i32) -> Vec<Transition> {
    let Some(mut day) =
        NaiveDate::from_ymd_opt(year, 1, 1).map(|d| d.and_time(chrono::NaiveTime::MIN))
    else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut before = iana_offset(tz, day).0;
    while day.year() == year {
        let next = day + Duration::days(1);
        let after = iana_offset(tz, next).0;
        if after != before {
            // The first second with the new offset.
            let (mut lo, mut hi) = (day, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if iana_offset(tz, mid).0 == before {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let (to, daylight, name) = iana_offset(tz, hi);
            found.push(Transition {
                local: hi + Duration::seconds(i64::from(before)),
                from: before,
                to,
                daylight,
                name,
            });
        }
        before = after;
        day = next;
    }
    found
}

/// The yearly rule (`BYMONTH=3;BYDAY=-1SU`) an onset follows, if it is the n-th or last
/// weekday of its month.
fn rule_of(local: NaiveDateTime) -> YearlyRule {
    let date = local.date();
    let n = if date.day() + 7 > days_in_month(date.year(), date.month()) {
        -1
    } else {
        ((date.day() - 1) / 7 + 1) as i32
    };
    YearlyRule {
        month: date.month(),
        day: DayRule::NthWeekday(n, date.weekday()),
        until: None,
    }
}

fn weekday_code(weekday: Weekday) -> &'static str {
    ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][weekday.num_days_from_monday() as usize]
}

/// Years around an event's year whose offset changes a VTIMEZONE's yearly rules must match.
const RULE_YEARS: std::ops::RangeInclusive<i32> = -1..=5;

/// The VTIMEZONE of an IANA zone for events around `year`, as RFC 5545 §3.6.5 wants beside
/// every TZID (Nextcloud's and Thunderbird's data carry one; sabre/vobject reads the IANA name
/// itself). The zone's offset changes in `year` become yearly rules (`BYMONTH=3;BYDAY=-1SU`)
/// when they hold from the year before to five years after; otherwise each change around
/// `year` is written as its own observance. A zone without changes gets one STANDARD.
pub fn vtimezone(tz: chrono_tz::Tz, year: i32) -> Component {
    let mut component = Component::new("VTIMEZONE");
    component.push_property(Property::new("TZID", tz.name()));
    let this_year = transitions(tz, year);
    let by_rule = !this_year.is_empty()
        && this_year.iter().all(|t| {
            let rule = rule_of(t.local);
            RULE_YEARS.clone().all(|offset| {
                let y = year + offset;
                transitions(tz, y).iter().any(|other| {
                    other.from == t.from
                        && other.to == t.to
                        && other.local.time() == t.local.time()
                        && rule.date_in(y) == Some(other.local.date())
                })
            })
        });
    let observance = |t: &Transition, local: NaiveDateTime, rule: Option<&YearlyRule>| {
        let mut o = Component::new(if t.daylight { "DAYLIGHT" } else { "STANDARD" });
        o.push_property(Property::new("TZOFFSETFROM", format_offset(t.from)));
        o.push_property(Property::new("TZOFFSETTO", format_offset(t.to)));
        if let Some(name) = &t.name {
            o.push_property(Property::text("TZNAME", name));
        }
        o.push_property(Property::new(
            "DTSTART",
            local.format("%Y%m%dT%H%M%S").to_string(),
        ));
        if let Some(YearlyRule {
            month,
            day: DayRule::NthWeekday(n, weekday),
            ..
        }) = rule
        {
            o.push_property(Property::new(
                "RRULE",
                format!(
                    "FREQ=YEARLY;BYMONTH={month};BYDAY={n}{}",
                    weekday_code(*weekday)
                ),
            ));
        }
        o
    };
    if by_rule {
        for t in &this_year {
            let rule = rule_of(t.local);
            let first = rule
                .date_in(year + RULE_YEARS.start())
                .map_or(t.local, |d| d.and_time(t.local.time()));
            component.push_component(observance(t, first, Some(&rule)));
        }
        return component;
    }
    let around: Vec<Transition> = (year - 1..=year + 1)
        .flat_map(|y| transitions(tz, y))
        .collect();
    if around.is_empty() {
        let at = NaiveDate::from_ymd_opt(year, 7, 1)
            .unwrap_or_default()
            .and_time(chrono::NaiveTime::MIN);
        let (offset, daylight, name) = iana_offset(tz, at);
        let fixed = Transition {
            local: NaiveDate::from_ymd_opt(1970, 1, 1)
                .unwrap_or_default()
                .and_time(chrono::NaiveTime::MIN),
            from: offset,
            to: offset,
            daylight,
            name,
        };
        component.push_component(observance(&fixed, fixed.local, None));
        return component;
    }
    for t in &around {
        component.push_component(observance(t, t.local, None));
    }
    component
}

/// An IANA zone name as a model gives it (`Europe/Berlin`, case as in the database or not).
pub fn parse_iana(name: &str) -> Option<chrono_tz::Tz> {
    let name = name.trim();
    name.parse::<chrono_tz::Tz>().ok().or_else(|| {
        chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(name))
            .copied()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nextcloud::vobject::parse_components;

    fn local(s: &str) -> NaiveDateTime {
        parse_local(s).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        parse_local(s).unwrap().and_utc()
    }

    const OUTLOOK: &str = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";

    #[test]
    fn iana_names_also_behind_mozilla_prefixes() {
        let empty = Component::new("VCALENDAR");
        for tzid in [
            "Europe/Berlin",
            "/mozilla.org/20050126_1/Europe/Berlin",
            "/Europe/Berlin",
        ] {
            assert_eq!(
                Zone::resolve(tzid, &empty),
                Some(Zone::Iana(chrono_tz::Europe::Berlin)),
                "{tzid}"
            );
        }
        assert_eq!(Zone::resolve("W. Europe Standard Time", &empty), None);
    }

    #[test]
    fn vtimezone_rules_give_the_same_answers_as_the_iana_database() {
        let calendar = parse_components(OUTLOOK).unwrap().remove(0);
        let outlook = Zone::resolve("W. Europe Standard Time", &calendar).unwrap();
        assert!(matches!(outlook, Zone::Defined(_)));
        let berlin = Zone::Iana(chrono_tz::Europe::Berlin);
        for zone in [&outlook, &berlin] {
            // Winter, summer, and both sides of both changes in 2026 (29 March, 25 October).
            assert_eq!(
                zone.to_local(utc("20260302T080000")),
                local("20260302T090000")
            );
            assert_eq!(
                zone.to_local(utc("20260706T070000")),
                local("20260706T090000")
            );
            assert_eq!(
                zone.to_local(utc("20260329T005959")),
                local("20260329T015959")
            );
            assert_eq!(
                zone.to_local(utc("20260329T010000")),
                local("20260329T030000")
            );
            assert_eq!(
                zone.to_local(utc("20261025T005959")),
                local("20261025T025959")
            );
            assert_eq!(
                zone.to_local(utc("20261025T010000")),
                local("20261025T020000")
            );
            assert_eq!(
                zone.to_utc(local("20260302T090000")),
                utc("20260302T080000")
            );
            assert_eq!(
                zone.to_utc(local("20260706T090000")),
                utc("20260706T070000")
            );
            // 02:30 on 25 October happens twice: the first one. On 29 March it does not
            // happen: read with the offset before the gap (+01:00).
            assert_eq!(
                zone.to_utc(local("20261025T023000")),
                utc("20261025T003000")
            );
            assert_eq!(
                zone.to_utc(local("20260329T023000")),
                utc("20260329T013000")
            );
        }
    }

    #[test]
    fn offsets_and_day_rules() {
        assert_eq!(parse_offset("+0100"), Some(3600));
        assert_eq!(parse_offset("-0430"), Some(-16200));
        assert_eq!(parse_offset("+053000"), Some(19800));
        assert_eq!(parse_offset("0100"), None);
        let second_sunday = parse_yearly_rule("FREQ=YEARLY;BYMONTH=3;BYDAY=2SU").unwrap();
        assert_eq!(
            second_sunday.date_in(2026),
            NaiveDate::from_ymd_opt(2026, 3, 8)
        );
        let old_style =
            parse_yearly_rule("FREQ=YEARLY;BYMONTH=3;BYDAY=SU;BYMONTHDAY=8,9,10,11,12,13,14")
                .unwrap();
        assert_eq!(old_style.date_in(2026), NaiveDate::from_ymd_opt(2026, 3, 8));
        let last_sunday = parse_yearly_rule("FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10").unwrap();
        assert_eq!(
            last_sunday.date_in(2026),
            NaiveDate::from_ymd_opt(2026, 10, 25)
        );
        assert!(parse_yearly_rule("FREQ=MONTHLY;BYDAY=1SU").is_none());
    }

    #[test]
    fn generated_vtimezones_give_the_same_answers_as_the_iana_database() {
        use chrono_tz::Tz;
        for (tz, year, by_rule) in [
            (chrono_tz::Europe::Berlin, 2026, true),
            (chrono_tz::America::New_York, 2026, true),
            (chrono_tz::Australia::Sydney, 2026, true),
            (chrono_tz::Asia::Tokyo, 2026, false),
            (chrono_tz::Asia::Kolkata, 2026, false),
        ] {
            let vtimezone = vtimezone(tz, year);
            let mut calendar = Component::new("VCALENDAR");
            calendar.push_component(vtimezone.clone());
            let text = calendar.to_text();
            assert_eq!(text.contains("RRULE:FREQ=YEARLY"), by_rule, "{text}");
            let reparsed = parse_components(&text).unwrap().remove(0);
            // Resolved by its rules, not by name: rename the TZID.
            let renamed = text.replace(tz.name(), "Custom Zone");
            let custom = parse_components(&renamed).unwrap().remove(0);
            let defined = Zone::resolve("Custom Zone", &custom).unwrap();
            assert!(matches!(defined, Zone::Defined(_)), "{tz}");
            assert_eq!(Zone::resolve(tz.name(), &reparsed), Some(Zone::Iana(tz)));
            let iana = Zone::Iana(tz);
            let mut at = NaiveDate::from_ymd_opt(year, 1, 1)
                .unwrap()
                .and_hms_opt(0, 30, 0)
                .unwrap();
            while at.year() <= year + 3 {
                let utc = at.and_utc();
                assert_eq!(defined.offset_at(utc), iana.offset_at(utc), "{tz} at {at}");
                at += Duration::hours(7);
            }
            let _: Tz = tz;
        }
        let berlin = vtimezone(chrono_tz::Europe::Berlin, 2026).to_text();
        assert!(berlin.contains("BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:20250330T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT"), "{berlin}");
        assert!(berlin.contains("TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:20251026T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"), "{berlin}");
        assert_eq!(format_offset(19800), "+0530");
        assert_eq!(format_offset(-18000), "-0500");
        assert_eq!(parse_iana("europe/berlin"), Some(chrono_tz::Europe::Berlin));
        assert_eq!(parse_iana("Mars/Olympus"), None);
    }
}
