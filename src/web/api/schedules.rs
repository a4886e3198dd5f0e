//! `/api/v1/schedules` and `/api/v1/oncall`: rotations, overrides, shifts and who is on call.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::rfc3339;
use crate::domain::schedule::{Layer, Shift};
use crate::error::AppError;
use crate::services::schedules::{
    self, LayerInput, OverrideInput, RestrictionInput, ScheduleDetail, ScheduleInput,
};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};

/// The longest range `shifts` answers in one request.
const MAX_RANGE: Duration = Duration::days(190);

fn person_json(detail: &ScheduleDetail, id: &str) -> Value {
    match detail.person(id) {
        Some(p) => json!({"id": p.id, "email": p.email, "name": p.name}),
        None => json!({"id": id, "email": null, "name": null}),
    }
}

fn layer_json(detail: &ScheduleDetail, layer: &Layer) -> Value {
    json!({
        "name": layer.name,
        "rotation": {"every": layer.rotation.unit.as_str(), "count": layer.rotation.count},
        "start": layer.start.format("%Y-%m-%d").to_string(),
        "handoff": layer.handoff.format("%H:%M").to_string(),
        "participants": layer
            .participants
            .iter()
            .map(|id| detail.person(id).map(|p| p.email.clone()).unwrap_or_else(|| id.clone()))
            .collect::<Vec<_>>(),
        "restrictions": layer
            .restrictions
            .iter()
            .map(|r| json!({
                "days": r.days.iter().map(|d| d.to_string().to_lowercase()).collect::<Vec<_>>(),
                "from": r.from.format("%H:%M").to_string(),
                "to": r.to.format("%H:%M").to_string(),
            }))
            .collect::<Vec<_>>(),
    })
}

fn shift_json(detail: &ScheduleDetail, shift: &Shift) -> Value {
    json!({
        "user": person_json(detail, &shift.user_id),
        "start": rfc3339(&shift.start),
        "end": rfc3339(&shift.end),
        "source": shift.source.label(),
    })
}

fn schedule_json(st: &AppState, detail: &ScheduleDetail, now: DateTime<Utc>) -> Value {
    json!({
        "ical_url": crate::services::feeds::schedule_feed_url(st, detail),
        "id": detail.id,
        "name": detail.name,
        "description": detail.description,
        "time_zone": detail.time_zone.name(),
        "version": detail.version,
        "swaps_need_approval": detail.swaps_need_approval,
        "layers": detail.layers_at(now).iter().map(|l| layer_json(detail, l)).collect::<Vec<_>>(),
        "on_call_now": detail.on_call_at(now).map(|s| shift_json(detail, &s)),
        "holidays": detail
            .holidays
            .iter()
            .map(|h| json!({"id": h.id, "date": h.day.format("%Y-%m-%d").to_string(), "name": h.name}))
            .collect::<Vec<_>>(),
        "created_at": rfc3339(&detail.created_at),
        "updated_at": rfc3339(&detail.updated_at),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationBody {
    pub every: String,
    pub count: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictionBody {
    #[serde(default)]
    pub days: Vec<String>,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerBody {
    pub name: String,
    pub rotation: RotationBody,
    pub start: String,
    pub handoff: String,
    pub participants: Vec<String>,
    #[serde(default)]
    pub restrictions: Vec<RestrictionBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub time_zone: String,
    pub layers: Vec<LayerBody>,
    /// For `PUT`: the version the change was based on; a newer stored version is a 409.
    #[serde(default)]
    pub version: Option<i64>,
}

impl ScheduleBody {
    fn into_input(self) -> (ScheduleInput, Option<i64>) {
        let layers = self
            .layers
            .into_iter()
            .map(|l| LayerInput {
                name: l.name,
                every: l.rotation.every,
                count: l.rotation.count,
                start: l.start,
                handoff: l.handoff,
                participants: l.participants,
                restrictions: l
                    .restrictions
                    .into_iter()
                    .map(|r| RestrictionInput {
                        days: r.days,
                        from: r.from,
                        to: r.to,
                    })
                    .collect(),
            })
            .collect();
        (
            ScheduleInput {
                name: self.name,
                description: self.description,
                time_zone: self.time_zone,
                layers,
            },
            self.version,
        )
    }
}

pub async fn list(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
) -> Result<HttpResponse, AppError> {
    let now = st.clock.now();
    let all = schedules::list(&st, now).await?;
    Ok(HttpResponse::Ok().json(
        all.iter()
            .map(|d| schedule_json(&st, d, now))
            .collect::<Vec<_>>(),
    ))
}

pub async fn create(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    body: web::Json<ScheduleBody>,
) -> Result<HttpResponse, AppError> {
    let (input, _) = body.into_inner().into_input();
    let detail = schedules::create(&st, &who.actor(Some(ip.0)), &input).await?;
    Ok(HttpResponse::Created().json(schedule_json(&st, &detail, st.clock.now())))
}

pub async fn show(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let now = st.clock.now();
    let detail = schedules::get_around(&st, &path, now).await?;
    Ok(HttpResponse::Ok().json(schedule_json(&st, &detail, now)))
}

pub async fn update(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Json<ScheduleBody>,
) -> Result<HttpResponse, AppError> {
    let (input, version) = body.into_inner().into_input();
    let detail = schedules::update(&st, &who.actor(Some(ip.0)), &path, &input, version).await?;
    Ok(HttpResponse::Ok().json(schedule_json(&st, &detail, st.clock.now())))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    pub user: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(default)]
    pub reason: String,
}

pub async fn add_override(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Json<OverrideBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let input = OverrideInput {
        user: body.user,
        start: body.start,
        end: body.end,
        reason: body.reason,
    };
    let row = schedules::add_override(&st, &who.actor(Some(ip.0)), &path, &input).await?;
    let detail = schedules::get_around(&st, &path, st.clock.now()).await?;
    Ok(HttpResponse::Created().json(json!({
        "id": row.id,
        "schedule_id": row.schedule_id,
        "user": person_json(&detail, &row.user_id),
        "start": rfc3339(&row.start_at.and_utc()),
        "end": rfc3339(&row.end_at.and_utc()),
        "reason": row.reason,
    })))
}

pub async fn remove_override(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (schedule_id, override_id) = path.into_inner();
    schedules::remove_override(&st, &who.actor(Some(ip.0)), &schedule_id, &override_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeParams {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

pub async fn shifts(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
    params: web::Query<RangeParams>,
) -> Result<HttpResponse, AppError> {
    let from = params.from.unwrap_or_else(|| st.clock.now());
    let to = params.to.unwrap_or(from + Duration::days(14));
    if to <= from {
        return Err(AppError::invalid("to", "the end must be after the start"));
    }
    if to - from > MAX_RANGE {
        return Err(AppError::invalid(
            "to",
            "ask for at most 190 days at a time",
        ));
    }
    let detail = schedules::get(&st, &path, from, to).await?;
    let shifts = detail.final_shifts(from, to);
    let gaps = detail.gaps(from, to);
    Ok(HttpResponse::Ok().json(json!({
        "schedule_id": detail.id,
        "from": rfc3339(&from),
        "to": rfc3339(&to),
        "shifts": shifts.iter().map(|s| shift_json(&detail, s)).collect::<Vec<_>>(),
        "gaps": gaps
            .iter()
            .map(|g| json!({"start": rfc3339(&g.start), "end": rfc3339(&g.end)}))
            .collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnCallParams {
    pub schedule: String,
    pub at: Option<DateTime<Utc>>,
}

pub async fn on_call(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    params: web::Query<OnCallParams>,
) -> Result<HttpResponse, AppError> {
    let at = params.at.unwrap_or_else(|| st.clock.now());
    let detail = schedules::get_around(&st, &params.schedule, at).await?;
    let shift = detail.on_call_at(at);
    Ok(HttpResponse::Ok().json(json!({
        "schedule_id": detail.id,
        "at": rfc3339(&at),
        "users": shift.iter().map(|s| person_json(&detail, &s.user_id)).collect::<Vec<_>>(),
        "shift_start": shift.as_ref().map(|s| rfc3339(&s.start)),
        "shift_end": shift.as_ref().map(|s| rfc3339(&s.end)),
        "source": shift.as_ref().map(|s| s.source.label()),
    })))
}

pub async fn create_backup(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let detail = schedules::create_backup(&st, &who.actor(Some(ip.0)), &path).await?;
    Ok(HttpResponse::Created().json(schedule_json(&st, &detail, st.clock.now())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewParams {
    pub month: Option<String>,
}

/// Coverage gaps in the coming four weeks and the load per person for a month.
pub async fn review(
    st: web::Data<AppState>,
    _who: RequireRole<role::Manager>,
    path: web::Path<String>,
    params: web::Query<ReviewParams>,
) -> Result<HttpResponse, AppError> {
    use crate::domain::oncall_load::PersonLoad;
    let review = schedules::review(&st, &path, params.month.as_deref()).await?;
    let hours = |d: Duration| (PersonLoad::hours(d) * 100.0).round() / 100.0;
    Ok(HttpResponse::Ok().json(json!({
        "schedule_id": review.detail.id,
        "gaps": review
            .gaps
            .iter()
            .map(|g| json!({"start": rfc3339(&g.start), "end": rfc3339(&g.end)}))
            .collect::<Vec<_>>(),
        "month": review.month,
        "load": review
            .loads
            .iter()
            .map(|(p, l)| json!({
                "user": {"id": p.id, "email": p.email, "name": p.name},
                "shifts": l.shifts,
                "hours": hours(l.total),
                "night_hours": hours(l.night),
                "weekend_hours": hours(l.weekend),
                "holiday_hours": hours(l.holiday),
            }))
            .collect::<Vec<_>>(),
        "leave_conflicts": review
            .conflicts
            .iter()
            .map(|(c, leave)| super::time_off::conflict_json(c, leave))
            .collect::<Vec<_>>(),
        "pending_swaps": review
            .pending_swaps
            .iter()
            .map(super::swaps::swap_json)
            .collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidayBody {
    pub date: String,
    pub name: String,
}

pub async fn add_holiday(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Json<HolidayBody>,
) -> Result<HttpResponse, AppError> {
    schedules::add_holiday(&st, &who.actor(Some(ip.0)), &path, &body.date, &body.name).await?;
    let detail = schedules::get_around(&st, &path, st.clock.now()).await?;
    Ok(HttpResponse::Created().json(schedule_json(&st, &detail, st.clock.now())))
}

pub async fn remove_holiday(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (schedule_id, holiday_id) = path.into_inner();
    schedules::remove_holiday(&st, &who.actor(Some(ip.0)), &schedule_id, &holiday_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn note_json(n: &crate::db::repo::schedules::NoteRow) -> Value {
    json!({
        "id": n.id,
        "schedule_id": n.schedule_id,
        "author": n.author,
        "at": rfc3339(&n.at.and_utc()),
        "body": n.body,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotesParams {
    #[serde(default)]
    pub q: String,
}

/// The hand-off log, newest first; `q` finds notes holding all its words.
pub async fn notes(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
    params: web::Query<NotesParams>,
) -> Result<HttpResponse, AppError> {
    let detail = schedules::get_around(&st, &path, st.clock.now()).await?;
    let notes = schedules::notes(&st, &detail.id, &params.q).await?;
    Ok(HttpResponse::Ok().json(notes.iter().map(note_json).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    pub body: String,
}

pub async fn add_note(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Json<NoteBody>,
) -> Result<HttpResponse, AppError> {
    let actor = who.actor(Some(ip.0));
    let note = schedules::add_note(&st, &actor, &who.user.name, &path, &body.body).await?;
    Ok(HttpResponse::Created().json(note_json(&note)))
}
