//! Holidays from an iCalendar file (.ics), such as the national-holiday calendars Google and
//! Apple publish: bytes in, one (date, name) per day out. Pure; the schedule's zone is an
//! argument because an event given in UTC falls on the date it has there.
//!
//! All-day events (`DTSTART;VALUE=DATE`) give every day up to their exclusive `DTEND` (one day
//! when it is missing); timed events give their start's local date. Repeating events (`RRULE`,
//! `RDATE` and their moved instances) are skipped, not expanded: holiday calendars list each
//! year's dates as separate events, and expanding a rule would invent dates for years nobody
//! asked about. Skipped events are counted so the person importing is told.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use icalendar::parser::{Component, Property, read_components, unfold};

/// Larger files are refused before they are read: a country's holidays for decades are a few
/// tens of kilobytes.
pub const MAX_BYTES: usize = 1024 * 1024;
pub const MAX_EVENTS: usize = 1000;
/// A longer event is a season or a school term, not a holiday.
pub const MAX_EVENT_DAYS: u64 = 31;
/// More days than this in one import is not a holiday calendar either.
pub const MAX_DAYS: usize = 3660;
/// The longest holiday name kept (as `services::schedules::add_holiday` allows).
pub const NAME_MAX: usize = 100;
const UNNAMED: &str = "Holiday";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub day: NaiveDate,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HolidayCalendar {
    /// In date order, one per day: when events share a day, their names are joined.
    pub holidays: Vec<Holiday>,
    /// Events not imported: repeating, cancelled, too long, or without a date.
    pub skipped: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("the file is larger than 1 MiB; a holiday calendar is far smaller")]
    TooLarge,
    #[error("this is not an iCalendar (.ics) file: {0}")]
    NotICalendar(&'static str),
    #[error("the calendar has no events")]
    NoEvents,
    #[error(
        "the calendar has more than {MAX_EVENTS} events; export a smaller one (one country, a few years)"
    )]
    TooManyEvents,
    #[error("the calendar has more than {MAX_DAYS} holiday days; export a smaller one")]
    TooManyDays,
}

/// The holidays in `bytes`, an iCalendar file; `zone` is the schedule's.
pub fn parse_holidays(bytes: &[u8], zone: Tz) -> Result<HolidayCalendar, CalendarError> {
    if bytes.len() > MAX_BYTES {
        return Err(CalendarError::TooLarge);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| CalendarError::NotICalendar("it is not UTF-8 text"))?;
    let text = text.trim_start_matches('\u{feff}').trim();
    let begins_right = text
        .get(..15)
        .is_some_and(|head| head.eq_ignore_ascii_case("BEGIN:VCALENDAR"));
    if !begins_right {
        return Err(CalendarError::NotICalendar(
            "it does not begin with BEGIN:VCALENDAR",
        ));
    }
    let unfolded = unfold(text);
    // The parser's own message quotes the input at length; the person importing needs less.
    let roots = read_components(&unfolded).map_err(|_| {
        CalendarError::NotICalendar("its lines could not be read (a BEGIN without its END?)")
    })?;
    let events: Vec<&Component<'_>> = roots
        .iter()
        .filter(|c| c.name.as_str().eq_ignore_ascii_case("VCALENDAR"))
        .flat_map(|c| c.components.iter())
        .filter(|c| c.name.as_str().eq_ignore_ascii_case("VEVENT"))
        .collect();
    if events.is_empty() {
        return Err(CalendarError::NoEvents);
    }
    if events.len() > MAX_EVENTS {
        return Err(CalendarError::TooManyEvents);
    }
    let mut days: BTreeMap<NaiveDate, String> = BTreeMap::new();
    let mut skipped = 0;
    for event in events {
        let Some(dates) = event_days(event, zone) else {
            skipped += 1;
            continue;
        };
        let name = clean_name(prop(event, "SUMMARY").map_or("", |p| p.val.as_str()));
        for day in dates {
            days.entry(day)
                .and_modify(|existing| join_name(existing, &name))
                .or_insert_with(|| name.clone());
        }
        if days.len() > MAX_DAYS {
            return Err(CalendarError::TooManyDays);
        }
    }
    Ok(HolidayCalendar {
        holidays: days
            .into_iter()
            .map(|(day, name)| Holiday { day, name })
            .collect(),
        skipped,
    })
}

fn prop<'a>(c: &'a Component<'a>, name: &str) -> Option<&'a Property<'a>> {
    c.properties
        .iter()
        .find(|p| p.name.as_str().eq_ignore_ascii_case(name))
}

/// The days an event covers, or `None` when it is not imported.
fn event_days(event: &Component<'_>, zone: Tz) -> Option<Vec<NaiveDate>> {
    let repeats = ["RRULE", "RDATE", "RECURRENCE-ID"]
        .iter()
        .any(|name| prop(event, name).is_some());
    let cancelled = prop(event, "STATUS")
        .is_some_and(|p| p.val.as_str().trim().eq_ignore_ascii_case("CANCELLED"));
    if repeats || cancelled {
        return None;
    }
    let start = when(prop(event, "DTSTART")?)?;
    let (first, count) = match start {
        When::Date(first) => {
            let end = prop(event, "DTEND").and_then(when);
            let count = match end {
                Some(When::Date(end)) if end > first => {
                    u64::try_from((end - first).num_days()).ok()?
                }
                Some(_) => 1,
                None => prop(event, "DURATION")
                    .and_then(|p| whole_days(p.val.as_str()))
                    .unwrap_or(1),
            };
            (first, count)
        }
        When::Local(t) => (t.date(), 1),
        When::Utc(t) => (t.and_utc().with_timezone(&zone).date_naive(), 1),
    };
    if count > MAX_EVENT_DAYS {
        return None;
    }
    (0..count)
        .map(|n| first.checked_add_days(Days::new(n)))
        .collect()
}

enum When {
    Date(NaiveDate),
    /// With a `TZID` or floating: the date as written is the local one.
    Local(NaiveDateTime),
    Utc(NaiveDateTime),
}

fn when(p: &Property<'_>) -> Option<When> {
    let value = p.val.as_str().trim();
    let date_only = p.params.iter().any(|param| {
        param.key.as_str().eq_ignore_ascii_case("VALUE")
            && param
                .val
                .as_ref()
                .is_some_and(|v| v.as_str().eq_ignore_ascii_case("DATE"))
    });
    if date_only || value.len() == 8 {
        return NaiveDate::parse_from_str(value.get(..8)?, "%Y%m%d")
            .ok()
            .map(When::Date);
    }
    let (local, utc) = match value.strip_suffix(['Z', 'z']) {
        Some(stripped) => (stripped, true),
        None => (value, false),
    };
    let t = NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S").ok()?;
    Some(if utc { When::Utc(t) } else { When::Local(t) })
}

/// `P3D`, `P2W`: the whole days of a duration; anything finer is not a holiday's length.
fn whole_days(raw: &str) -> Option<u64> {
    let raw = raw.trim().strip_prefix('P')?;
    if let Some(days) = raw.strip_suffix('D') {
        return days.parse().ok().filter(|d| *d > 0);
    }
    let weeks: u64 = raw.strip_suffix('W')?.parse().ok()?;
    weeks.checked_mul(7).filter(|d| *d > 0)
}

/// One line, no control characters, at most [`NAME_MAX`] characters.
fn clean_name(raw: &str) -> String {
    let words: Vec<&str> = raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return UNNAMED.to_owned();
    }
    cut(&words.join(" "))
}

fn cut(name: &str) -> String {
    if name.chars().count() <= NAME_MAX {
        return name.to_owned();
    }
    let mut short: String = name.chars().take(NAME_MAX - 1).collect();
    short.push('…');
    short
}

/// Two events on one day (an observance next to a public holiday): both names, as far as they fit.
fn join_name(existing: &mut String, other: &str) {
    if existing.as_str() != other && !existing.contains(other) {
        *existing = cut(&format!("{existing} / {other}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn pairs(c: &HolidayCalendar) -> Vec<(String, String)> {
        c.holidays
            .iter()
            .map(|h| (h.day.format("%Y-%m-%d").to_string(), h.name.clone()))
            .collect()
    }

    fn berlin() -> Tz {
        "Europe/Berlin".parse().unwrap()
    }

    /// Shaped like Google's public "Holidays in Germany" feed: CRLF, long lines folded with a
    /// space or a tab (a `\` at the end of a line here eats the next line's leading blanks, hence
    /// `\x20`), escaped commas, plus what Apple's and hand-made calendars add (a repeating event, a multi-day
    /// break, timed events, a cancelled one, a time zone block).
    const GERMANY: &str = "BEGIN:VCALENDAR\r\n\
PRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n\
VERSION:2.0\r\n\
CALSCALE:GREGORIAN\r\n\
METHOD:PUBLISH\r\n\
X-WR-CALNAME:Holidays in Germany\r\n\
X-WR-TIMEZONE:UTC\r\n\
X-WR-CALDESC:Holidays and Observances in Germany\r\n\
BEGIN:VTIMEZONE\r\n\
TZID:Europe/Berlin\r\n\
BEGIN:STANDARD\r\n\
DTSTART:19701025T030000\r\n\
TZOFFSETFROM:+0200\r\n\
TZOFFSETTO:+0100\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
END:STANDARD\r\n\
END:VTIMEZONE\r\n\
BEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20261225\r\n\
DTEND;VALUE=DATE:20261226\r\n\
DTSTAMP:20261120T101010Z\r\n\
UID:20261225_4dc5f3mq7lsb8bcgbhh3l2vg0o@google.com\r\n\
CLASS:PUBLIC\r\n\
CREATED:20251001T120000Z\r\n\
DESCRIPTION:Public holiday\r\n\
LAST-MODIFIED:20251001T120000Z\r\n\
SEQUENCE:0\r\n\
STATUS:CONFIRMED\r\n\
SUMMARY:Christmas Day\r\n\
TRANSP:TRANSPARENT\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20261226\r\n\
DTEND;VALUE=DATE:20261227\r\n\
DTSTAMP:20261120T101010Z\r\n\
UID:20261226_b8nl4aqe0d2b2mq3eqfbq0c5rk@google.com\r\n\
DESCRIPTION:Public holiday in all states; a folded line c\r\n\
\tontinues after a tab\r\n\
STATUS:CONFIRMED\r\n\
SUMMARY:Second Day of Christmas (Saint Stephen\\, Boxing Day) as celebrated in \r\n\
\x20every federal state\r\n\
TRANSP:TRANSPARENT\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20270101\r\n\
DTSTAMP:20261120T101010Z\r\n\
UID:20270101_newyear@google.com\r\n\
SUMMARY:New Year's Day\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20261228\r\n\
DTEND;VALUE=DATE:20261231\r\n\
UID:office-closed@example.com\r\n\
SUMMARY:  Office closed  \r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20261003\r\n\
DTEND;VALUE=DATE:20261004\r\n\
RRULE:FREQ=YEARLY\r\n\
UID:unity@apple.com\r\n\
SUMMARY:Day of German Unity\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
DTSTART;TZID=Europe/Berlin:20261231T140000\r\n\
DTEND;TZID=Europe/Berlin:20261231T235900\r\n\
UID:nye@example.com\r\n\
SUMMARY:New Year's Eve (afternoon off)\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
DTSTART:20261123T233000Z\r\n\
UID:late@example.com\r\n\
SUMMARY:Team day\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20261225\r\n\
UID:christmas-observance@google.com\r\n\
SUMMARY:Christmas Day\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20261224\r\n\
STATUS:CANCELLED\r\n\
UID:cancelled@example.com\r\n\
SUMMARY:Christmas Eve\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:no-date@example.com\r\n\
SUMMARY:Someday\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

    #[test]
    fn reads_a_published_holiday_calendar() {
        let parsed = parse_holidays(GERMANY.as_bytes(), berlin()).unwrap();
        assert_eq!(
            pairs(&parsed),
            [
                // 23:30 UTC on the 23rd is already the 24th in Berlin.
                ("2026-11-24", "Team day"),
                ("2026-12-25", "Christmas Day"),
                (
                    "2026-12-26",
                    "Second Day of Christmas (Saint Stephen, Boxing Day) as celebrated in every federal state"
                ),
                ("2026-12-28", "Office closed"),
                ("2026-12-29", "Office closed"),
                ("2026-12-30", "Office closed"),
                ("2026-12-31", "New Year's Eve (afternoon off)"),
                ("2027-01-01", "New Year's Day"),
            ]
            .map(|(d, n)| (d.to_owned(), n.to_owned()))
        );
        // The yearly event, the cancelled one and the one without a date.
        assert_eq!(parsed.skipped, 3);
    }

    #[test]
    fn bare_newlines_and_a_byte_order_mark_are_fine() {
        let text = format!("\u{feff}{}", GERMANY.replace("\r\n", "\n"));
        let parsed = parse_holidays(text.as_bytes(), berlin()).unwrap();
        assert_eq!(parsed.holidays.len(), 8);
    }

    #[test]
    fn names_are_one_line_and_cut_to_size() {
        let long = "Very long holiday name ".repeat(10);
        let ics = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260501\r\nSUMMARY:{long}\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260502\r\nSUMMARY:Two\\nlines\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260503\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260501\r\nSUMMARY:Labour Day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let parsed = parse_holidays(ics.as_bytes(), chrono_tz::UTC).unwrap();
        let names = pairs(&parsed);
        assert_eq!(names[0].1.chars().count(), NAME_MAX);
        assert!(names[0].1.ends_with('…'));
        assert_eq!(names[1].1, "Two lines");
        assert_eq!(names[2].1, "Holiday");
    }

    #[test]
    fn durations_and_long_events() {
        let ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260720\r\nDURATION:P2D\r\nSUMMARY:Summer party\r\nEND:VEVENT\r\n\
                   BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260701\r\nDTEND;VALUE=DATE:20260901\r\nSUMMARY:School holidays\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let parsed = parse_holidays(ics.as_bytes(), chrono_tz::UTC).unwrap();
        assert_eq!(
            parsed.holidays.iter().map(|h| h.day).collect::<Vec<_>>(),
            [day("2026-07-20"), day("2026-07-21")]
        );
        assert_eq!(parsed.skipped, 1, "two months is not a holiday");
    }

    #[test]
    fn refuses_what_is_not_a_holiday_calendar() {
        let cases: [(&[u8], CalendarError); 8] = [
            (
                b"",
                CalendarError::NotICalendar("it does not begin with BEGIN:VCALENDAR"),
            ),
            (
                b"<!doctype html><title>Holidays</title>",
                CalendarError::NotICalendar("it does not begin with BEGIN:VCALENDAR"),
            ),
            (
                b"{\"holidays\": []}",
                CalendarError::NotICalendar("it does not begin with BEGIN:VCALENDAR"),
            ),
            (
                b"BEGIN:VCALENDAR\xff\xfe",
                CalendarError::NotICalendar("it is not UTF-8 text"),
            ),
            (
                b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\n",
                CalendarError::NotICalendar(
                    "its lines could not be read (a BEGIN without its END?)",
                ),
            ),
            (
                b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
                CalendarError::NotICalendar(
                    "its lines could not be read (a BEGIN without its END?)",
                ),
            ),
            (
                b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
                CalendarError::NoEvents,
            ),
            (
                b"BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nSUMMARY:x\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
                CalendarError::NoEvents,
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                parse_holidays(bytes, chrono_tz::UTC),
                Err(expected),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn refuses_huge_files_and_too_many_events() {
        let event = "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260101\r\nSUMMARY:x\r\nEND:VEVENT\r\n";
        let many = format!(
            "BEGIN:VCALENDAR\r\n{}END:VCALENDAR\r\n",
            event.repeat(MAX_EVENTS + 1)
        );
        assert_eq!(
            parse_holidays(many.as_bytes(), chrono_tz::UTC),
            Err(CalendarError::TooManyEvents)
        );
        let just_enough = format!(
            "BEGIN:VCALENDAR\r\n{}END:VCALENDAR\r\n",
            event.repeat(MAX_EVENTS)
        );
        assert!(parse_holidays(just_enough.as_bytes(), chrono_tz::UTC).is_ok());
        let padded = format!(
            "BEGIN:VCALENDAR\r\nX-PADDING:{}\r\n{event}END:VCALENDAR\r\n",
            "x".repeat(MAX_BYTES)
        );
        assert_eq!(
            parse_holidays(padded.as_bytes(), chrono_tz::UTC),
            Err(CalendarError::TooLarge)
        );
    }

    #[test]
    fn too_many_days_in_total_is_refused() {
        let event = |n: u64| {
            let first = day("2000-01-01") + Days::new(n * 31);
            let end = first + Days::new(31);
            format!(
                "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nSUMMARY:x\r\nEND:VEVENT\r\n",
                first.format("%Y%m%d"),
                end.format("%Y%m%d")
            )
        };
        let ics = format!(
            "BEGIN:VCALENDAR\r\n{}END:VCALENDAR\r\n",
            (0..200).map(event).collect::<String>()
        );
        assert_eq!(
            parse_holidays(ics.as_bytes(), chrono_tz::UTC),
            Err(CalendarError::TooManyDays)
        );
    }
}
