//! Shift swaps: a participant offers part of their duty, another participant takes it, and (when
//! the schedule asks for it) a manager approves. A swap that goes through becomes an ordinary
//! override, so the rotation maths knows nothing of swaps; this module only decides what may
//! happen to an offer.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

use super::schedule::{Shift, Source};

/// The longest stretch one offer may cover.
pub const MAX_SWAP: Duration = Duration::days(31);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapState {
    /// Offered; waiting for someone to take it.
    Open,
    /// Taken; waiting for a manager.
    AwaitingApproval,
    /// Became an override.
    Done,
    Declined,
    Cancelled,
}

impl SwapState {
    pub const ALL: [SwapState; 5] = [
        SwapState::Open,
        SwapState::AwaitingApproval,
        SwapState::Done,
        SwapState::Declined,
        SwapState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SwapState::Open => "open",
            SwapState::AwaitingApproval => "awaiting_approval",
            SwapState::Done => "done",
            SwapState::Declined => "declined",
            SwapState::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<SwapState> {
        SwapState::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// How a page says it.
    pub fn label(self) -> &'static str {
        match self {
            SwapState::Open => "open",
            SwapState::AwaitingApproval => "waiting for a manager",
            SwapState::Done => "swapped",
            SwapState::Declined => "declined",
            SwapState::Cancelled => "cancelled",
        }
    }

    /// Still waiting for somebody to act.
    pub fn is_pending(self) -> bool {
        matches!(self, SwapState::Open | SwapState::AwaitingApproval)
    }
}

impl fmt::Display for SwapState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SwapError {
    #[error("the end must be after the start")]
    EndBeforeStart,
    #[error("time that has passed cannot be swapped; start from now on")]
    InThePast,
    #[error("one swap may cover at most 31 days")]
    TooLong,
    #[error("you are not on call for all of this time")]
    NotYours,
    #[error(
        "part of this time is already covered by an override; a manager changes that override instead"
    )]
    FromOverride,
    #[error("you cannot take your own swap")]
    OwnSwap,
    #[error("this swap was offered to someone else")]
    OfferedToOther,
    #[error("only people in this schedule's rotation can take its swaps")]
    NotParticipant,
    #[error("this swap is {0} and can no longer change")]
    Settled(&'static str),
    #[error("this swap is not waiting for a manager")]
    NotAwaitingApproval,
}

/// Whether `requester` may offer [start, end): it lies ahead, is not too long, and every instant
/// of it is theirs by rotation. `shifts` are the schedule's final shifts over at least that range.
/// Time that comes from an override is refused: a swap becomes an override, and overrides may not
/// overlap, so a manager must change that override instead.
pub fn check_offer(
    shifts: &[Shift],
    requester: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), SwapError> {
    if end <= start {
        return Err(SwapError::EndBeforeStart);
    }
    if start < now {
        return Err(SwapError::InThePast);
    }
    if end - start > MAX_SWAP {
        return Err(SwapError::TooLong);
    }
    let mut covered_to = start;
    for s in shifts.iter().filter(|s| s.end > start && s.start < end) {
        if s.start > covered_to || s.user_id != requester {
            return Err(SwapError::NotYours);
        }
        if matches!(s.source, Source::Override { .. }) {
            return Err(SwapError::FromOverride);
        }
        covered_to = covered_to.max(s.end);
    }
    if covered_to < end {
        return Err(SwapError::NotYours);
    }
    Ok(())
}

/// Whether `taker` may take an open offer made by `requester`.
pub fn check_take(
    state: SwapState,
    requester: &str,
    offered_to: Option<&str>,
    taker: &str,
    taker_in_rotation: bool,
) -> Result<(), SwapError> {
    if state != SwapState::Open {
        return Err(SwapError::Settled(state.label()));
    }
    if taker == requester {
        return Err(SwapError::OwnSwap);
    }
    if offered_to.is_some_and(|to| to != taker) {
        return Err(SwapError::OfferedToOther);
    }
    if !taker_in_rotation {
        return Err(SwapError::NotParticipant);
    }
    Ok(())
}

/// What taking an offer leads to.
pub fn state_after_take(needs_approval: bool) -> SwapState {
    if needs_approval {
        SwapState::AwaitingApproval
    } else {
        SwapState::Done
    }
}

/// A manager's decision needs a taken offer.
pub fn check_decision(state: SwapState) -> Result<(), SwapError> {
    if state == SwapState::AwaitingApproval {
        Ok(())
    } else if state.is_pending() {
        Err(SwapError::NotAwaitingApproval)
    } else {
        Err(SwapError::Settled(state.label()))
    }
}

/// The requester (or a manager) may withdraw an offer until it has gone through.
pub fn check_cancel(state: SwapState) -> Result<(), SwapError> {
    if state.is_pending() {
        Ok(())
    } else {
        Err(SwapError::Settled(state.label()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn an_offer_must_be_the_requesters_own_coming_time() {
        let shifts = [
            shift("ana", 0, 24),
            shift("ben", 24, 48),
            shift("ana", 48, 72),
        ];
        assert_eq!(check_offer(&shifts, "ana", t(2), t(20), t(0)), Ok(()));
        assert_eq!(check_offer(&shifts, "ana", t(0), t(24), t(0)), Ok(()));
        assert_eq!(
            check_offer(&shifts, "ana", t(20), t(30), t(0)),
            Err(SwapError::NotYours)
        );
        assert_eq!(
            check_offer(&shifts, "ben", t(20), t(30), t(0)),
            Err(SwapError::NotYours)
        );
        assert_eq!(
            check_offer(&shifts, "ana", t(2), t(20), t(3)),
            Err(SwapError::InThePast)
        );
        assert_eq!(
            check_offer(&shifts, "ana", t(20), t(2), t(0)),
            Err(SwapError::EndBeforeStart)
        );
        assert_eq!(
            check_offer(&shifts, "ana", t(0), t(24 * 40), t(0)),
            Err(SwapError::TooLong)
        );
    }

    #[test]
    fn a_gap_or_the_end_of_the_known_shifts_is_not_the_requesters() {
        let shifts = [shift("ana", 0, 10), shift("ana", 12, 24)];
        assert_eq!(
            check_offer(&shifts, "ana", t(5), t(20), t(0)),
            Err(SwapError::NotYours)
        );
        assert_eq!(
            check_offer(&shifts, "ana", t(12), t(30), t(0)),
            Err(SwapError::NotYours)
        );
    }

    #[test]
    fn time_from_an_override_cannot_be_offered() {
        let mut covered = shift("ana", 0, 24);
        covered.source = Source::Override { id: "o1".into() };
        assert_eq!(
            check_offer(&[covered], "ana", t(1), t(2), t(0)),
            Err(SwapError::FromOverride)
        );
    }

    #[test]
    fn who_may_take_an_offer() {
        assert_eq!(
            check_take(SwapState::Open, "ana", None, "ben", true),
            Ok(())
        );
        assert_eq!(
            check_take(SwapState::Open, "ana", None, "ana", true),
            Err(SwapError::OwnSwap)
        );
        assert_eq!(
            check_take(SwapState::Open, "ana", Some("cy"), "ben", true),
            Err(SwapError::OfferedToOther)
        );
        assert_eq!(
            check_take(SwapState::Open, "ana", Some("ben"), "ben", true),
            Ok(())
        );
        assert_eq!(
            check_take(SwapState::Open, "ana", None, "dee", false),
            Err(SwapError::NotParticipant)
        );
        assert_eq!(
            check_take(SwapState::Done, "ana", None, "ben", true),
            Err(SwapError::Settled("swapped"))
        );
    }

    #[test]
    fn decisions_and_cancellations_follow_the_state() {
        assert_eq!(state_after_take(true), SwapState::AwaitingApproval);
        assert_eq!(state_after_take(false), SwapState::Done);
        assert_eq!(check_decision(SwapState::AwaitingApproval), Ok(()));
        assert_eq!(
            check_decision(SwapState::Open),
            Err(SwapError::NotAwaitingApproval)
        );
        assert_eq!(
            check_decision(SwapState::Declined),
            Err(SwapError::Settled("declined"))
        );
        assert_eq!(check_cancel(SwapState::Open), Ok(()));
        assert_eq!(check_cancel(SwapState::AwaitingApproval), Ok(()));
        assert!(check_cancel(SwapState::Done).is_err());
        for s in SwapState::ALL {
            assert_eq!(SwapState::parse(s.as_str()), Some(s));
        }
    }
}
