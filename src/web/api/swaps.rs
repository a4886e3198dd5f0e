//! `/api/v1/schedules/{id}/swaps` and `/api/v1/swaps/{id}/...`: offering, taking, approving,
//! declining and withdrawing shift swaps.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::rfc3339;
use crate::error::AppError;
use crate::services::schedules::{self, Person};
use crate::services::swaps::{self, OfferInput, SwapView};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};

fn person_json(p: &Person) -> Value {
    json!({"id": p.id, "email": p.email, "name": p.name})
}

pub fn swap_json(s: &SwapView) -> Value {
    json!({
        "id": s.id,
        "schedule_id": s.schedule_id,
        "requester": person_json(&s.requester),
        "offered_to": s.offered_to.as_ref().map(person_json),
        "taker": s.taker.as_ref().map(person_json),
        "start": rfc3339(&s.start),
        "end": rfc3339(&s.end),
        "note": s.note,
        "state": if s.expired { "expired" } else { s.state.as_str() },
        "decided_by": s.decided_by,
        "override_id": s.override_id,
        "created_at": rfc3339(&s.created_at),
        "updated_at": rfc3339(&s.updated_at),
    })
}

pub async fn list(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let detail = schedules::get_around(&st, &path, st.clock.now()).await?;
    let swaps = swaps::of_schedule(&st, &detail).await?;
    Ok(HttpResponse::Ok().json(json!({
        "swaps_need_approval": detail.swaps_need_approval,
        "swaps": swaps.iter().map(swap_json).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferBody {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(default)]
    pub offered_to: Option<String>,
    #[serde(default)]
    pub note: String,
}

pub async fn offer(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Json<OfferBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let input = OfferInput {
        start: body.start,
        end: body.end,
        offered_to: body.offered_to,
        note: body.note,
    };
    let swap = swaps::offer(&st, &who.user, &who.actor(Some(ip.0)), &path, &input).await?;
    Ok(HttpResponse::Created().json(swap_json(&swap)))
}

pub async fn show(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(swap_json(&swaps::get(&st, &path).await?)))
}

pub async fn take(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let swap = swaps::take(&st, &who.user, &who.actor(Some(ip.0)), &path).await?;
    Ok(HttpResponse::Ok().json(swap_json(&swap)))
}

pub async fn approve(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let swap = swaps::decide(&st, &who.actor(Some(ip.0)), &path, true).await?;
    Ok(HttpResponse::Ok().json(swap_json(&swap)))
}

pub async fn decline(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let swap = swaps::decide(&st, &who.actor(Some(ip.0)), &path, false).await?;
    Ok(HttpResponse::Ok().json(swap_json(&swap)))
}

pub async fn cancel(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let swap = swaps::cancel(&st, &who.user, &who.actor(Some(ip.0)), &path).await?;
    Ok(HttpResponse::Ok().json(swap_json(&swap)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalBody {
    pub required: bool,
}

/// `PUT /api/v1/schedules/{id}/swap-approval`: whether taken swaps wait for a manager.
pub async fn set_approval(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Json<ApprovalBody>,
) -> Result<HttpResponse, AppError> {
    swaps::set_approval(&st, &who.actor(Some(ip.0)), &path, body.required).await?;
    Ok(HttpResponse::Ok()
        .json(json!({"schedule_id": path.as_str(), "swaps_need_approval": body.required})))
}
