//! Leave, and where it clashes with duty. A shift that falls in its person's leave is not
//! changed automatically: it is shown as a conflict, and a manager settles it with an override
//! (after which the final shift names somebody else and the conflict is gone).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use thiserror::Error;

use super::schedule::{Shift, local_to_utc};

/// The longest single stretch of leave one entry may record.
pub const MAX_LEAVE: Duration = Duration::days(366);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leave {
    pub id: String,
    pub user_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Part of a final shift that falls in its person's leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveConflict {
    pub user_id: String,
    pub leave_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LeaveError {
    #[error("the last day must not be before the first")]
    EndBeforeStart,
    #[error("one entry may cover at most a year; record longer leave in parts")]
    TooLong,
    #[error("this overlaps leave already recorded from {0} to {1}")]
    Overlaps(String, String),
}

/// The instants of whole days `first..=last` in the person's zone: from local midnight of the
/// first day to local midnight after the last.
pub fn days_to_range(
    zone: Tz,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<(DateTime<Utc>, DateTime<Utc>), LeaveError> {
    if last < first {
        return Err(LeaveError::EndBeforeStart);
    }
    let after = last.succ_opt().ok_or(LeaveError::TooLong)?;
    let start = local_to_utc(zone, first, chrono::NaiveTime::MIN);
    let end = local_to_utc(zone, after, chrono::NaiveTime::MIN);
    Ok((start, end))
}

/// A new entry must have a positive length, a sane one, and not overlap the person's other leave
/// (overlapping entries would count the same day twice and make removal ambiguous).
pub fn check_leave(new: &Leave, existing: &[Leave]) -> Result<(), LeaveError> {
    if new.end <= new.start {
        return Err(LeaveError::EndBeforeStart);
    }
    if new.end - new.start > MAX_LEAVE {
        return Err(LeaveError::TooLong);
    }
    match existing.iter().find(|l| {
        l.user_id == new.user_id && l.id != new.id && l.start < new.end && new.start < l.end
    }) {
        Some(l) => Err(LeaveError::Overlaps(
            l.start.format("%Y-%m-%d %H:%M UTC").to_string(),
            l.end.format("%Y-%m-%d %H:%M UTC").to_string(),
        )),
        None => Ok(()),
    }
}

/// Every stretch where a shift's person is on leave, in shift order.
pub fn conflicts(shifts: &[Shift], leave: &[Leave]) -> Vec<LeaveConflict> {
    let mut found = Vec::new();
    for s in shifts {
        for l in leave
            .iter()
            .filter(|l| l.user_id == s.user_id && l.start < s.end && s.start < l.end)
        {
            found.push(LeaveConflict {
                user_id: s.user_id.clone(),
                leave_id: l.id.clone(),
                start: s.start.max(l.start),
                end: s.end.min(l.end),
            });
        }
    }
    // Neighbouring shifts of one person within one leave read as one conflict.
    let mut merged: Vec<LeaveConflict> = Vec::with_capacity(found.len());
    for c in found {
        match merged.last_mut() {
            Some(last) if last.leave_id == c.leave_id && last.end == c.start => last.end = c.end,
            _ => merged.push(c),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schedule::Source;
    use chrono::TimeZone;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    fn shift(user: &str, from: i64, to: i64) -> Shift {
        Shift {
            user_id: user.into(),
            start: t(from),
            end: t(to),
            source: Source::Layer {
                index: 0,
                name: "Primary".into(),
            },
        }
    }

    fn leave(id: &str, user: &str, from: i64, to: i64) -> Leave {
        Leave {
            id: id.into(),
            user_id: user.into(),
            start: t(from),
            end: t(to),
        }
    }

    #[test]
    fn a_shift_in_its_persons_leave_is_a_conflict() {
        let shifts = [
            shift("ana", 0, 24),
            shift("ben", 24, 48),
            shift("ana", 48, 72),
        ];
        let leave = [leave("l1", "ana", 12, 60), leave("l2", "cy", 0, 100)];
        assert_eq!(
            conflicts(&shifts, &leave),
            vec![
                LeaveConflict {
                    user_id: "ana".into(),
                    leave_id: "l1".into(),
                    start: t(12),
                    end: t(24)
                },
                LeaveConflict {
                    user_id: "ana".into(),
                    leave_id: "l1".into(),
                    start: t(48),
                    end: t(60)
                },
            ]
        );
    }

    #[test]
    fn back_to_back_shifts_in_one_leave_read_as_one_conflict() {
        let shifts = [shift("ana", 0, 12), shift("ana", 12, 24)];
        let found = conflicts(&shifts, &[leave("l1", "ana", 6, 30)]);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].start, found[0].end), (t(6), t(24)));
    }

    #[test]
    fn leave_without_duty_is_no_conflict() {
        assert!(conflicts(&[shift("ben", 0, 24)], &[leave("l1", "ana", 0, 24)]).is_empty());
        assert!(conflicts(&[shift("ana", 0, 24)], &[leave("l1", "ana", 24, 48)]).is_empty());
    }

    #[test]
    fn days_are_whole_local_days_across_a_dst_change() {
        let zone: Tz = "Europe/London".parse().unwrap();
        let first = NaiveDate::from_ymd_opt(2026, 3, 28).unwrap();
        let last = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        let (start, end) = days_to_range(zone, first, last).unwrap();
        assert_eq!(start, Utc.with_ymd_and_hms(2026, 3, 28, 0, 0, 0).unwrap());
        // The clocks go forward on the 29th: the two days are 47 hours long.
        assert_eq!(end - start, Duration::hours(47));
        assert_eq!(
            days_to_range(zone, last, first),
            Err(LeaveError::EndBeforeStart)
        );
    }

    #[test]
    fn entries_of_one_person_may_not_overlap() {
        let existing = [leave("l1", "ana", 0, 24)];
        assert!(matches!(
            check_leave(&leave("l2", "ana", 12, 36), &existing),
            Err(LeaveError::Overlaps(..))
        ));
        assert_eq!(check_leave(&leave("l2", "ana", 24, 36), &existing), Ok(()));
        assert_eq!(check_leave(&leave("l2", "ben", 12, 36), &existing), Ok(()));
        assert_eq!(
            check_leave(&leave("l2", "ana", 36, 36), &existing),
            Err(LeaveError::EndBeforeStart)
        );
        assert_eq!(
            check_leave(&leave("l2", "ana", 0, 24 * 400), &[]),
            Err(LeaveError::TooLong)
        );
    }
}
