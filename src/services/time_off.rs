//! Leave: people record when they are away; schedules show where that clashes with their duty.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::db::repo::time_off::{self as repo, LeaveRow, NewLeave};
use crate::db::repo::{from_db, users};
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::ids::{is_valid_id, new_id};
use crate::domain::time_off::{Leave, LeaveConflict, check_leave, conflicts, days_to_range};
use crate::domain::user::{Role, User};
use crate::domain::validation::{FieldErrors, bounded_text};
use crate::error::AppError;
use crate::services::audit;
use crate::services::schedules::ScheduleDetail;
use crate::state::AppState;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LeaveInput {
    /// E-mail or id of whose leave it is; the caller's own when empty. Managers may record
    /// anyone's.
    #[serde(default)]
    pub user: Option<String>,
    /// A first day (`2026-12-24`, whole days in the person's zone) or an instant (RFC 3339).
    pub start: String,
    /// The last day, inclusive (`2026-12-26`), or the instant it ends.
    pub end: String,
    #[serde(default)]
    pub reason: String,
}

/// A stretch of leave with its person.
#[derive(Debug, Clone)]
pub struct LeaveView {
    pub id: String,
    pub user_id: String,
    pub user_email: String,
    pub user_name: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: String,
    pub created_by: String,
}

impl LeaveView {
    fn new(row: LeaveRow, user: Option<&User>) -> Self {
        LeaveView {
            id: row.id,
            user_email: user.map(|u| u.email.clone()).unwrap_or_default(),
            user_name: user
                .map(|u| u.name.clone())
                .unwrap_or_else(|| "(unknown)".into()),
            user_id: row.user_id,
            start: from_db(row.start_at),
            end: from_db(row.end_at),
            reason: row.reason,
            created_by: row.created_by,
        }
    }

    fn leave(&self) -> Leave {
        Leave {
            id: self.id.clone(),
            user_id: self.user_id.clone(),
            start: self.start,
            end: self.end,
        }
    }
}

enum Bound {
    Day(NaiveDate),
    Instant(DateTime<Utc>),
}

fn parse_bound(raw: &str) -> Result<Bound, String> {
    let raw = raw.trim();
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(Bound::Day(day));
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| Bound::Instant(t.with_timezone(&Utc)))
        .map_err(|_| format!("'{raw}' is neither a date (YYYY-MM-DD) nor a time (RFC 3339)"))
}

/// The instants [start, end) the input means for someone in `user`'s zone.
fn resolve_range(
    input: &LeaveInput,
    user: &User,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    let mut errors = FieldErrors::new();
    let start = errors.check("start", parse_bound(&input.start));
    let end = errors.check("end", parse_bound(&input.end));
    let (Some(start), Some(end)) = (start, end) else {
        return Err(AppError::Invalid(errors));
    };
    let zone = user.tz();
    let midnight =
        |d: NaiveDate| crate::domain::schedule::local_to_utc(zone, d, chrono::NaiveTime::MIN);
    match (start, end) {
        (Bound::Day(first), Bound::Day(last)) => {
            days_to_range(zone, first, last).map_err(|e| AppError::invalid("end", e.to_string()))
        }
        (Bound::Day(first), Bound::Instant(end)) => Ok((midnight(first), end)),
        (Bound::Instant(start), Bound::Day(last)) => {
            let after = last
                .succ_opt()
                .ok_or_else(|| AppError::invalid("end", "that day is out of range"))?;
            Ok((start, midnight(after)))
        }
        (Bound::Instant(start), Bound::Instant(end)) => Ok((start, end)),
    }
}

pub async fn add(
    st: &AppState,
    who: &User,
    actor: &Actor,
    input: &LeaveInput,
) -> Result<LeaveView, AppError> {
    let reason = if input.reason.trim().is_empty() {
        String::new()
    } else {
        bounded_text(&input.reason, "the reason", 200)
            .map_err(|m| AppError::invalid("reason", m))?
    };
    let (input, actor, caller, now) = (input.clone(), actor.clone(), who.clone(), st.clock.now());
    st.db
        .write(move |c| {
            let subject = match input.user.as_deref().map(str::trim) {
                None | Some("") => caller.clone(),
                Some(raw) => {
                    let found = if raw.contains('@') {
                        users::find_by_email(c, &raw.to_lowercase())?
                    } else if is_valid_id(raw) {
                        users::find(c, raw)?
                    } else {
                        None
                    };
                    found.filter(|u| u.active).ok_or_else(|| {
                        AppError::invalid("user", format!("'{raw}' is not an active user"))
                    })?
                }
            };
            if subject.id != caller.id && !caller.role.allows(Role::Manager) {
                return Err(AppError::Forbidden);
            }
            let (start, end) = resolve_range(&input, &subject)?;
            let id = new_id();
            let new = Leave {
                id: id.clone(),
                user_id: subject.id.clone(),
                start,
                end,
            };
            let existing: Vec<Leave> = repo::between(c, Some(&subject.id), start, end)?
                .into_iter()
                .map(|r| LeaveView::new(r, None).leave())
                .collect();
            check_leave(&new, &existing).map_err(|e| AppError::invalid("end", e.to_string()))?;
            repo::insert(
                c,
                &NewLeave {
                    id: &id,
                    user_id: &subject.id,
                    start,
                    end,
                    reason: &reason,
                    created_by: &actor.label,
                    now,
                },
            )?;
            audit::record(
                c,
                now,
                &actor,
                AuditAction::TimeOffAdded,
                Some(("user", &subject.id)),
                &format!(
                    "{} away from {} to {}",
                    subject.email,
                    start.to_rfc3339(),
                    end.to_rfc3339()
                ),
            )?;
            let row = repo::find(c, &id)?.ok_or(AppError::NotFound)?;
            Ok(LeaveView::new(row, Some(&subject)))
        })
        .await
}

/// Removes leave that has not ended yet; what is over stays as the record of who was away.
pub async fn remove(st: &AppState, who: &User, actor: &Actor, id: &str) -> Result<(), AppError> {
    let (id, actor, caller, now) = (id.to_owned(), actor.clone(), who.clone(), st.clock.now());
    st.db
        .write(move |c| {
            if !is_valid_id(&id) {
                return Err(AppError::NotFound);
            }
            let row = repo::find(c, &id)?.ok_or(AppError::NotFound)?;
            if row.user_id != caller.id && !caller.role.allows(Role::Manager) {
                return Err(AppError::NotFound);
            }
            if from_db(row.end_at) <= now {
                return Err(AppError::Conflict(
                    "this leave is over; it stays as the record of who was away".into(),
                ));
            }
            repo::delete(c, &id)?;
            let email = users::find(c, &row.user_id)?
                .map(|u| u.email)
                .unwrap_or_default();
            audit::record(
                c,
                now,
                &actor,
                AuditAction::TimeOffRemoved,
                Some(("user", &row.user_id)),
                &format!(
                    "{email}: leave from {} to {} removed",
                    from_db(row.start_at).to_rfc3339(),
                    from_db(row.end_at).to_rfc3339()
                ),
            )?;
            Ok(())
        })
        .await
}

/// Leave overlapping [from, to), of one person or of everyone.
pub async fn between(
    st: &AppState,
    user_id: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<LeaveView>, AppError> {
    let user_id = user_id.map(str::to_owned);
    st.db
        .read(move |c| {
            let rows = repo::between(c, user_id.as_deref(), from, to)?;
            let mut views = Vec::with_capacity(rows.len());
            let mut known: std::collections::HashMap<String, Option<User>> =
                std::collections::HashMap::new();
            for row in rows {
                if !known.contains_key(&row.user_id) {
                    let user = users::find(c, &row.user_id)?;
                    known.insert(row.user_id.clone(), user);
                }
                let user = known.get(&row.user_id).and_then(Option::as_ref);
                views.push(LeaveView::new(row, user));
            }
            Ok(views)
        })
        .await
}

/// Where the schedule's final shifts in [from, to) fall in their person's leave.
pub async fn conflicts_in(
    st: &AppState,
    detail: &ScheduleDetail,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(LeaveConflict, LeaveView)>, AppError> {
    let leave = between(st, None, from, to).await?;
    let plain: Vec<Leave> = leave.iter().map(LeaveView::leave).collect();
    let found = conflicts(&detail.final_shifts(from, to), &plain);
    Ok(found
        .into_iter()
        .filter_map(|c| {
            let view = leave.iter().find(|l| l.id == c.leave_id)?.clone();
            Some((c, view))
        })
        .collect())
}
