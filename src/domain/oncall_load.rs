//! How much on-call time each person carries, so a manager can see whether the rota is fair:
//! hours in all, night hours (22:00-07:00 local), weekend hours and holiday hours.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use super::schedule::{Shift, local_to_utc};

const NIGHT_STARTS: u32 = 22;
const NIGHT_ENDS: u32 = 7;

/// One person's load over a period. Durations, so a 25-hour day counts 25 hours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonLoad {
    pub user_id: String,
    pub total: Duration,
    pub night: Duration,
    pub weekend: Duration,
    pub holiday: Duration,
    pub shifts: usize,
}

impl PersonLoad {
    pub fn hours(d: Duration) -> f64 {
        d.num_seconds() as f64 / 3600.0
    }
}

fn overlap(a: (DateTime<Utc>, DateTime<Utc>), b: (DateTime<Utc>, DateTime<Utc>)) -> Duration {
    let start = a.0.max(b.0);
    let end = a.1.min(b.1);
    if end > start {
        end - start
    } else {
        Duration::zero()
    }
}

fn time(h: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, 0, 0).unwrap_or(NaiveTime::MIN)
}

/// The load of each person in `shifts` (final shifts, already clipped to the period), by user
/// id. Weekends, nights and holidays are read in the schedule's zone `tz`.
pub fn load_by_person(shifts: &[Shift], tz: Tz, holidays: &[NaiveDate]) -> Vec<PersonLoad> {
    let mut by: BTreeMap<&str, PersonLoad> = BTreeMap::new();
    for shift in shifts {
        let entry = by
            .entry(shift.user_id.as_str())
            .or_insert_with(|| PersonLoad {
                user_id: shift.user_id.clone(),
                ..PersonLoad::default()
            });
        entry.shifts += 1;
        entry.total += shift.end - shift.start;
        let span = (shift.start, shift.end);
        let first = shift.start.with_timezone(&tz).date_naive() - Duration::days(1);
        let last = shift.end.with_timezone(&tz).date_naive();
        let mut day = first;
        while day <= last {
            let next = day + Duration::days(1);
            let whole_day = (
                local_to_utc(tz, day, NaiveTime::MIN),
                local_to_utc(tz, next, NaiveTime::MIN),
            );
            let night = (
                local_to_utc(tz, day, time(NIGHT_STARTS)),
                local_to_utc(tz, next, time(NIGHT_ENDS)),
            );
            entry.night += overlap(span, night);
            if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                entry.weekend += overlap(span, whole_day);
            }
            if holidays.contains(&day) {
                entry.holiday += overlap(span, whole_day);
            }
            day = next;
        }
    }
    let mut loads: Vec<PersonLoad> = by.into_values().collect();
    loads.sort_by(|a, b| b.total.cmp(&a.total).then(a.user_id.cmp(&b.user_id)));
    loads
}

/// The first instant of a calendar month in `tz`, and of the next one.
pub fn month_bounds(tz: Tz, year: i32, month: u32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    Some((
        local_to_utc(tz, first, NaiveTime::MIN),
        local_to_utc(tz, next, NaiveTime::MIN),
    ))
}

/// `2026-12` -> (2026, 12).
pub fn parse_month(raw: &str) -> Option<(i32, u32)> {
    let (y, m) = raw.trim().split_once('-')?;
    let (y, m) = (y.parse().ok()?, m.parse().ok()?);
    NaiveDate::from_ymd_opt(y, m, 1).map(|_| (y, m))
}

#[cfg(test)]
mod tests {
    use chrono_tz::Europe::London;

    use super::*;
    use crate::domain::schedule::Source;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    fn shift(user: &str, start: &str, end: &str) -> Shift {
        Shift {
            user_id: user.into(),
            start: utc(start),
            end: utc(end),
            source: Source::Override { id: "o".into() },
        }
    }

    #[test]
    fn a_weekend_shift_counts_its_nights_and_weekend() {
        // Friday 17:00 to Monday 09:00 in London (GMT in December).
        let loads = load_by_person(
            &[shift("ana", "2026-12-04T17:00:00Z", "2026-12-07T09:00:00Z")],
            London,
            &[],
        );
        assert_eq!(loads.len(), 1);
        let ana = &loads[0];
        assert_eq!(ana.total, Duration::hours(64));
        assert_eq!(ana.weekend, Duration::hours(48));
        // Fri 22-Sat 07, Sat 22-Sun 07, Sun 22-Mon 07.
        assert_eq!(ana.night, Duration::hours(27));
        assert_eq!(ana.holiday, Duration::zero());
    }

    #[test]
    fn the_night_the_clocks_go_back_is_ten_hours_long() {
        // 24 October 2026, 22:00 BST (21:00Z) to 25 October 07:00 GMT (07:00Z).
        let loads = load_by_person(
            &[shift("ben", "2026-10-24T21:00:00Z", "2026-10-25T07:00:00Z")],
            London,
            &[],
        );
        assert_eq!(loads[0].total, Duration::hours(10));
        assert_eq!(loads[0].night, Duration::hours(10));
        // Saturday 22:00 to midnight, then Sunday until 07:00.
        assert_eq!(loads[0].weekend, Duration::hours(10));
    }

    #[test]
    fn holidays_and_people_are_counted_apart() {
        let christmas = NaiveDate::from_ymd_opt(2026, 12, 25).expect("date");
        let loads = load_by_person(
            &[
                shift("ana", "2026-12-24T09:00:00Z", "2026-12-25T09:00:00Z"),
                shift("cy", "2026-12-25T09:00:00Z", "2026-12-26T09:00:00Z"),
                shift("ana", "2026-12-28T09:00:00Z", "2026-12-28T17:00:00Z"),
            ],
            London,
            &[christmas],
        );
        let ana = loads.iter().find(|l| l.user_id == "ana").expect("ana");
        let cy = loads.iter().find(|l| l.user_id == "cy").expect("cy");
        assert_eq!(ana.shifts, 2);
        assert_eq!(ana.total, Duration::hours(32));
        assert_eq!(ana.holiday, Duration::hours(9));
        assert_eq!(cy.holiday, Duration::hours(15));
        assert_eq!(loads[0].user_id, "ana", "heaviest first");
    }

    #[test]
    fn months_are_read_in_the_schedules_zone() {
        assert_eq!(parse_month("2026-03"), Some((2026, 3)));
        assert_eq!(parse_month("2026-13"), None);
        assert_eq!(parse_month("March"), None);
        let (start, end) = month_bounds(London, 2026, 3).expect("bounds");
        assert_eq!(start, utc("2026-03-01T00:00:00Z"));
        // April starts at midnight BST, 23:00 UTC the day before.
        assert_eq!(end, utc("2026-03-31T23:00:00Z"));
    }
}
