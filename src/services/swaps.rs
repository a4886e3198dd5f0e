//! Shift swaps: offer part of your duty, someone in the rotation takes it, and, when the schedule
//! asks for it, a manager approves. A swap that goes through is stored as an override in the
//! same transaction, so who is on call changes exactly when the swap's state says "swapped".

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::db::DbConn;
use crate::db::repo::schedules::NewOverride;
use crate::db::repo::swaps::{self as repo, NewSwap, SwapRow, Transition};
use crate::db::repo::{from_db, schedules as schedule_repo};
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::ids::{is_valid_id, new_id};
use crate::domain::schedule::{Override, check_override};
use crate::domain::swap::{
    SwapError, SwapState, check_cancel, check_decision, check_offer, check_take, state_after_take,
};
use crate::domain::user::User;
use crate::domain::validation::bounded_text;
use crate::error::AppError;
use crate::services::audit;
use crate::services::schedules::{self, Person, ScheduleDetail};
use crate::state::AppState;

/// How long settled swaps stay listed on their schedule.
const SETTLED_SHOWN: Duration = Duration::days(14);

#[derive(Debug, Clone, Default, Deserialize)]
pub struct OfferInput {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// E-mail or id of the one person who may take it; anyone in the rotation when empty.
    #[serde(default)]
    pub offered_to: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// A swap with its people resolved, as pages and the API show it.
#[derive(Debug, Clone)]
pub struct SwapView {
    pub id: String,
    pub schedule_id: String,
    pub schedule_name: String,
    pub requester: Person,
    pub offered_to: Option<Person>,
    pub taker: Option<Person>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub note: String,
    pub state: SwapState,
    /// Still open when its time had already come: nobody can take it any more.
    pub expired: bool,
    pub decided_by: Option<String>,
    pub override_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SwapView {
    /// What a page shows as the state.
    pub fn state_label(&self) -> &'static str {
        if self.expired {
            "expired"
        } else {
            self.state.label()
        }
    }

    /// A CSS class suffix: the stored state, or `expired`.
    pub fn state_class(&self) -> &'static str {
        if self.expired {
            "expired"
        } else {
            self.state.as_str()
        }
    }

    pub fn is_open(&self) -> bool {
        self.state == SwapState::Open && !self.expired
    }

    pub fn awaits_approval(&self) -> bool {
        self.state == SwapState::AwaitingApproval && !self.expired
    }

    /// Whether `user_id` may take it (the page shows the button only then; the service checks
    /// again).
    pub fn takeable_by(&self, user_id: &str) -> bool {
        self.is_open()
            && self.requester.id != user_id
            && self.offered_to.as_ref().is_none_or(|p| p.id == user_id)
    }
}

fn unknown_person(id: &str) -> Person {
    Person {
        id: id.to_owned(),
        email: String::new(),
        name: "(unknown)".into(),
        active: false,
    }
}

fn view(row: SwapRow, schedule: &ScheduleDetail, now: DateTime<Utc>) -> Result<SwapView, AppError> {
    let state = SwapState::parse(&row.state).ok_or_else(|| {
        AppError::Internal(format!("swap {} has unknown state '{}'", row.id, row.state))
    })?;
    let person = |id: &str| {
        schedule
            .person(id)
            .cloned()
            .unwrap_or_else(|| unknown_person(id))
    };
    let end = from_db(row.end_at);
    Ok(SwapView {
        requester: person(&row.requester_id),
        offered_to: row.offered_to.as_deref().map(person),
        taker: row.taker_id.as_deref().map(person),
        schedule_id: row.schedule_id,
        schedule_name: schedule.name.clone(),
        start: from_db(row.start_at),
        end,
        note: row.note,
        expired: state.is_pending() && end <= now,
        state,
        decided_by: row.decided_by,
        override_id: row.override_id,
        created_at: from_db(row.created_at),
        updated_at: from_db(row.updated_at),
        id: row.id,
    })
}

fn refused(e: SwapError) -> AppError {
    match e {
        SwapError::EndBeforeStart => AppError::invalid("end", e.to_string()),
        SwapError::InThePast | SwapError::TooLong | SwapError::NotYours => {
            AppError::invalid("start", e.to_string())
        }
        // Taking, deciding and cancelling name no field: the message is the answer.
        SwapError::OfferedToOther
        | SwapError::OwnSwap
        | SwapError::NotParticipant
        | SwapError::FromOverride
        | SwapError::Settled(_)
        | SwapError::NotAwaitingApproval => AppError::Conflict(e.to_string()),
    }
}

fn moved_meanwhile() -> AppError {
    AppError::Conflict(
        "someone else acted on this swap a moment ago; reload to see its state".into(),
    )
}

/// Loads a swap and its schedule (with the overrides around its time).
fn load_swap(
    c: &mut DbConn,
    swap_id: &str,
) -> Result<(SwapRow, ScheduleDetail, SwapState), AppError> {
    if !is_valid_id(swap_id) {
        return Err(AppError::NotFound);
    }
    let row = repo::find(c, swap_id)?.ok_or(AppError::NotFound)?;
    let schedule = schedules::load(
        c,
        &row.schedule_id,
        from_db(row.start_at),
        from_db(row.end_at),
    )?;
    let state = SwapState::parse(&row.state)
        .ok_or_else(|| AppError::Internal(format!("swap {swap_id} has an unknown state")))?;
    Ok((row, schedule, state))
}

pub async fn offer(
    st: &AppState,
    who: &User,
    actor: &Actor,
    schedule_id: &str,
    input: &OfferInput,
) -> Result<SwapView, AppError> {
    let note = if input.note.trim().is_empty() {
        String::new()
    } else {
        bounded_text(&input.note, "the note", 500).map_err(|m| AppError::invalid("note", m))?
    };
    let (schedule_id, input, actor, requester, now) = (
        schedule_id.to_owned(),
        input.clone(),
        actor.clone(),
        who.id.clone(),
        st.clock.now(),
    );
    st.db
        .write(move |c| {
            let schedule = schedules::load(c, &schedule_id, input.start, input.end)?;
            let shifts = schedule.final_shifts(input.start, input.end);
            check_offer(&shifts, &requester, input.start, input.end, now).map_err(refused)?;
            let offered_to = match input.offered_to.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(raw) => {
                    let id = schedules::resolve_person(&schedule.people, raw)
                        .filter(|id| *id != requester && schedule.in_rotation(id, input.start))
                        .ok_or_else(|| {
                            AppError::invalid(
                                "offered_to",
                                format!("'{raw}' is not someone else in this rotation"),
                            )
                        })?;
                    Some(id)
                }
            };
            let overlapping = repo::of_schedule(c, &schedule_id, now)?
                .into_iter()
                .filter(|s| {
                    s.requester_id == requester
                        && matches!(s.state.as_str(), "open" | "awaiting_approval")
                })
                .any(|s| from_db(s.start_at) < input.end && input.start < from_db(s.end_at));
            if overlapping {
                return Err(AppError::invalid(
                    "start",
                    "you already offered part of this time; cancel that offer first",
                ));
            }
            let id = new_id();
            repo::insert(
                c,
                &NewSwap {
                    id: &id,
                    schedule_id: &schedule_id,
                    requester_id: &requester,
                    offered_to: offered_to.as_deref(),
                    start: input.start,
                    end: input.end,
                    note: &note,
                    state: SwapState::Open.as_str(),
                    now,
                },
            )?;
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ScheduleSwapOffered,
                Some(("schedule", &schedule_id)),
                &format!(
                    "offered {} to {} on '{}'",
                    input.start.to_rfc3339(),
                    input.end.to_rfc3339(),
                    schedule.name
                ),
            )?;
            let row = repo::find(c, &id)?.ok_or(AppError::NotFound)?;
            view(row, &schedule, now)
        })
        .await
}

/// Turns a taken swap into an override: the taker covers what is left of the swap's time.
/// Checked again at this moment: the schedule may have changed since the offer.
fn carry_out(
    c: &mut DbConn,
    row: &SwapRow,
    schedule: &ScheduleDetail,
    taker_id: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    let end = from_db(row.end_at);
    if end <= now {
        return Err(AppError::Conflict("this swap's time has passed".into()));
    }
    let start = from_db(row.start_at).max(now);
    let shifts = schedule.final_shifts(start, end);
    if let Err(e) = check_offer(&shifts, &row.requester_id, start, end, now) {
        return Err(AppError::Conflict(format!(
            "the schedule changed since this swap was offered ({e}); it cannot go through"
        )));
    }
    let id = new_id();
    check_override(
        &Override {
            id: id.clone(),
            user_id: taker_id.to_owned(),
            start,
            end,
        },
        &schedule.schedule.overrides,
    )
    .map_err(|e| AppError::Conflict(e.to_string()))?;
    let requester = schedule
        .person(&row.requester_id)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let reason = format!("swap with {requester}");
    schedules::write_override(
        c,
        schedule,
        &NewOverride {
            id: &id,
            schedule_id: &schedule.id,
            user_id: taker_id,
            start,
            end,
            reason: &reason,
            created_by: &actor.label,
            now,
        },
        actor,
    )?;
    Ok(id)
}

pub async fn take(
    st: &AppState,
    who: &User,
    actor: &Actor,
    swap_id: &str,
) -> Result<SwapView, AppError> {
    let (swap_id, actor, taker, now) = (
        swap_id.to_owned(),
        actor.clone(),
        who.id.clone(),
        st.clock.now(),
    );
    st.db
        .write(move |c| {
            let (row, schedule, state) = load_swap(c, &swap_id)?;
            let in_rotation = schedule.in_rotation(&taker, from_db(row.start_at))
                || schedule.in_rotation(&taker, now);
            check_take(
                state,
                &row.requester_id,
                row.offered_to.as_deref(),
                &taker,
                in_rotation,
            )
            .map_err(refused)?;
            let next = state_after_take(schedule.swaps_need_approval);
            let override_id = if next == SwapState::Done {
                Some(carry_out(c, &row, &schedule, &taker, &actor, now)?)
            } else {
                // Not yet an override, but it must still be able to become one.
                if from_db(row.end_at) <= now {
                    return Err(AppError::Conflict("this swap's time has passed".into()));
                }
                None
            };
            let moved = repo::transition(
                c,
                &Transition {
                    id: &swap_id,
                    from_state: state.as_str(),
                    to_state: next.as_str(),
                    taker_id: Some(&taker),
                    override_id: override_id.as_deref(),
                    decided_by: None,
                    now,
                },
            )?;
            if moved == 0 {
                return Err(moved_meanwhile());
            }
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ScheduleSwapTaken,
                Some(("schedule", &schedule.id)),
                &format!(
                    "took the swap from {} to {} on '{}'{}",
                    from_db(row.start_at).to_rfc3339(),
                    from_db(row.end_at).to_rfc3339(),
                    schedule.name,
                    if next == SwapState::AwaitingApproval {
                        "; waiting for a manager"
                    } else {
                        ""
                    }
                ),
            )?;
            let row = repo::find(c, &swap_id)?.ok_or(AppError::NotFound)?;
            view(row, &schedule, now)
        })
        .await
}

/// A manager's decision on a taken swap: approve makes the override, decline leaves the duty
/// where it was.
pub async fn decide(
    st: &AppState,
    actor: &Actor,
    swap_id: &str,
    approve: bool,
) -> Result<SwapView, AppError> {
    let (swap_id, actor, now) = (swap_id.to_owned(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            let (row, schedule, state) = load_swap(c, &swap_id)?;
            check_decision(state).map_err(refused)?;
            let taker = row
                .taker_id
                .clone()
                .ok_or_else(|| AppError::Internal(format!("taken swap {swap_id} has no taker")))?;
            let (next, override_id) = if approve {
                let id = carry_out(c, &row, &schedule, &taker, &actor, now)?;
                (SwapState::Done, Some(id))
            } else {
                (SwapState::Declined, None)
            };
            let moved = repo::transition(
                c,
                &Transition {
                    id: &swap_id,
                    from_state: state.as_str(),
                    to_state: next.as_str(),
                    taker_id: None,
                    override_id: override_id.as_deref(),
                    decided_by: Some(&actor.label),
                    now,
                },
            )?;
            if moved == 0 {
                return Err(moved_meanwhile());
            }
            audit::record(
                c,
                now,
                &actor,
                if approve {
                    AuditAction::ScheduleSwapApproved
                } else {
                    AuditAction::ScheduleSwapDeclined
                },
                Some(("schedule", &schedule.id)),
                &format!(
                    "swap from {} to {} on '{}'",
                    from_db(row.start_at).to_rfc3339(),
                    from_db(row.end_at).to_rfc3339(),
                    schedule.name
                ),
            )?;
            let row = repo::find(c, &swap_id)?.ok_or(AppError::NotFound)?;
            view(row, &schedule, now)
        })
        .await
}

/// The requester withdraws an offer (or a manager does) before it has gone through.
pub async fn cancel(
    st: &AppState,
    who: &User,
    actor: &Actor,
    swap_id: &str,
) -> Result<SwapView, AppError> {
    let (swap_id, actor, user_id, is_manager, now) = (
        swap_id.to_owned(),
        actor.clone(),
        who.id.clone(),
        who.role.allows(crate::domain::user::Role::Manager),
        st.clock.now(),
    );
    st.db
        .write(move |c| {
            let (row, schedule, state) = load_swap(c, &swap_id)?;
            if row.requester_id != user_id && !is_manager {
                return Err(AppError::Forbidden);
            }
            check_cancel(state).map_err(refused)?;
            let moved = repo::transition(
                c,
                &Transition {
                    id: &swap_id,
                    from_state: state.as_str(),
                    to_state: SwapState::Cancelled.as_str(),
                    taker_id: None,
                    override_id: None,
                    decided_by: (row.requester_id != user_id).then_some(actor.label.as_str()),
                    now,
                },
            )?;
            if moved == 0 {
                return Err(moved_meanwhile());
            }
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ScheduleSwapCancelled,
                Some(("schedule", &schedule.id)),
                &format!(
                    "swap from {} to {} on '{}' withdrawn",
                    from_db(row.start_at).to_rfc3339(),
                    from_db(row.end_at).to_rfc3339(),
                    schedule.name
                ),
            )?;
            let row = repo::find(c, &swap_id)?.ok_or(AppError::NotFound)?;
            view(row, &schedule, now)
        })
        .await
}

pub async fn get(st: &AppState, swap_id: &str) -> Result<SwapView, AppError> {
    let (swap_id, now) = (swap_id.to_owned(), st.clock.now());
    st.db
        .read(move |c| {
            let (row, schedule, _) = load_swap(c, &swap_id)?;
            view(row, &schedule, now)
        })
        .await
}

/// A schedule's swaps: those still pending and those settled in the last two weeks.
pub async fn of_schedule(
    st: &AppState,
    schedule: &ScheduleDetail,
) -> Result<Vec<SwapView>, AppError> {
    let (id, now) = (schedule.id.clone(), st.clock.now());
    let rows = st
        .db
        .read(move |c| repo::of_schedule(c, &id, now - SETTLED_SHOWN).map_err(AppError::from))
        .await?;
    rows.into_iter().map(|r| view(r, schedule, now)).collect()
}

/// Swaps one person offered, was offered or took, newest first, across schedules.
pub async fn of_user(st: &AppState, user_id: &str) -> Result<Vec<SwapView>, AppError> {
    let (user_id, now) = (user_id.to_owned(), st.clock.now());
    st.db
        .read(move |c| {
            let mut loaded: std::collections::HashMap<String, ScheduleDetail> =
                std::collections::HashMap::new();
            let mut views = Vec::new();
            for row in repo::of_user(c, &user_id, 50)? {
                if !loaded.contains_key(&row.schedule_id) {
                    let schedule = schedules::load(c, &row.schedule_id, now, now)?;
                    loaded.insert(row.schedule_id.clone(), schedule);
                }
                if let Some(schedule) = loaded.get(&row.schedule_id) {
                    views.push(view(row, schedule, now)?);
                }
            }
            Ok(views)
        })
        .await
}

/// Whether taken swaps of this schedule wait for a manager.
pub async fn set_approval(
    st: &AppState,
    actor: &Actor,
    schedule_id: &str,
    required: bool,
) -> Result<(), AppError> {
    let (schedule_id, actor, now) = (schedule_id.to_owned(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            let schedule = schedules::load(c, &schedule_id, now, now)?;
            schedule_repo::set_swaps_need_approval(c, &schedule_id, required, now)?;
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ScheduleUpdated,
                Some(("schedule", &schedule_id)),
                &format!(
                    "swaps on '{}' {}",
                    schedule.name,
                    if required {
                        "need a manager's approval"
                    } else {
                        "go through when taken"
                    }
                ),
            )?;
            Ok(())
        })
        .await
}
