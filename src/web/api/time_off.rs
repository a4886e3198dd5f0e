//! `/api/v1/time-off`: leave, and `/api/v1/schedules/{id}/conflicts`: where it meets duty.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::rfc3339;
use crate::domain::time_off::LeaveConflict;
use crate::error::AppError;
use crate::services::schedules;
use crate::services::time_off::{self, LeaveInput, LeaveView};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};

/// The longest range one listing answers.
const MAX_RANGE: Duration = Duration::days(400);

fn leave_json(l: &LeaveView) -> Value {
    json!({
        "id": l.id,
        "user": {"id": l.user_id, "email": l.user_email, "name": l.user_name},
        "start": rfc3339(&l.start),
        "end": rfc3339(&l.end),
        "reason": l.reason,
        "created_by": l.created_by,
    })
}

pub fn conflict_json(c: &LeaveConflict, leave: &LeaveView) -> Value {
    json!({
        "user": {"id": leave.user_id, "email": leave.user_email, "name": leave.user_name},
        "start": rfc3339(&c.start),
        "end": rfc3339(&c.end),
        "leave": leave_json(leave),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RangeParams {
    /// E-mail address; everyone's leave when absent.
    pub user: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

fn range(
    params: &RangeParams,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    let from = params.from.unwrap_or(now);
    let to = params.to.unwrap_or(from + Duration::days(90));
    if to <= from {
        return Err(AppError::invalid("to", "'to' must be after 'from'"));
    }
    if to - from > MAX_RANGE {
        return Err(AppError::invalid("to", "at most 400 days at once"));
    }
    Ok((from, to))
}

/// `GET /api/v1/time-off?user=&from=&to=`: leave overlapping the range (default: the coming 90
/// days).
pub async fn list(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    params: web::Query<RangeParams>,
) -> Result<HttpResponse, AppError> {
    let (from, to) = range(&params, st.clock.now())?;
    let mut leave = time_off::between(&st, None, from, to).await?;
    if let Some(user) = params.user.as_deref().map(str::trim) {
        leave.retain(|l| l.user_email.eq_ignore_ascii_case(user) || l.user_id == user);
    }
    Ok(HttpResponse::Ok().json(json!({
        "from": rfc3339(&from),
        "to": rfc3339(&to),
        "time_off": leave.iter().map(leave_json).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveBody {
    #[serde(default)]
    pub user: Option<String>,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub reason: String,
}

pub async fn add(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    body: web::Json<LeaveBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let input = LeaveInput {
        user: body.user,
        start: body.start,
        end: body.end,
        reason: body.reason,
    };
    let leave = time_off::add(&st, &who.user, &who.actor(Some(ip.0)), &input).await?;
    Ok(HttpResponse::Created().json(leave_json(&leave)))
}

pub async fn remove(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    time_off::remove(&st, &who.user, &who.actor(Some(ip.0)), &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConflictParams {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// `GET /api/v1/schedules/{id}/conflicts?from=&to=`: shifts that fall in their person's leave
/// (default: the coming four weeks).
pub async fn conflicts(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
    params: web::Query<ConflictParams>,
) -> Result<HttpResponse, AppError> {
    let now = st.clock.now();
    let from = params.from.unwrap_or(now);
    let to = params.to.unwrap_or(from + Duration::weeks(4));
    let (from, to) = range(
        &RangeParams {
            user: None,
            from: Some(from),
            to: Some(to),
        },
        now,
    )?;
    let detail = schedules::get(&st, &path, from, to).await?;
    let found = time_off::conflicts_in(&st, &detail, from, to).await?;
    Ok(HttpResponse::Ok().json(json!({
        "schedule_id": detail.id,
        "from": rfc3339(&from),
        "to": rfc3339(&to),
        "conflicts": found.iter().map(|(c, l)| conflict_json(c, l)).collect::<Vec<_>>(),
    })))
}
