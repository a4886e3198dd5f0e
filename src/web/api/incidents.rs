//! `/api/v1/incidents`: the list, one incident, its timeline, and the same actions as the page.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::rfc3339;
use crate::db::repo::incidents::IncidentFilter;
use crate::domain::incident::IncidentStatus;
use crate::domain::severity::Severity;
use crate::error::AppError;
use crate::services::catalog;
use crate::services::incidents::{
    self as svc, ActionResult, IncidentView, ListQuery, NewIncidentInput,
};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};

/// The contract's incident shape, plus a few fields people asked for.
pub fn incident_json(st: &AppState, v: &IncidentView) -> Value {
    let i = &v.incident;
    let now = st.clock.now();
    json!({
        "id": i.id,
        "number": i.number,
        "title": i.title,
        "description": i.description,
        "severity": i.severity.as_str(),
        "status": i.status.as_str(),
        "service": v.service_name,
        "service_id": i.service_id,
        "dedup_key": i.dedup_key,
        "alert_count": i.alert_count,
        "created_at": rfc3339(&i.created_at),
        "updated_at": rfc3339(&i.updated_at),
        "last_alert_at": i.last_alert_at.as_ref().map(rfc3339),
        "acknowledged_at": i.acknowledged_at.as_ref().map(rfc3339),
        "acknowledged_by": i.acknowledged_by,
        "resolved_at": i.resolved_at.as_ref().map(rfc3339),
        "resolved_by": i.resolved_by,
        "ack_deadline": rfc3339(&i.ack_deadline),
        "resolve_deadline": rfc3339(&i.resolve_deadline),
        "sla_breached": i.sla_breached_at(now),
        "escalation_step": i.escalation_step,
        "assignee": v.assignee.as_ref().map(|a| a.email.clone()),
        "assignee_id": i.assignee_id,
        "flapping": i.flapping,
        "previous_incident_id": i.previous_incident_id,
        "url": st.base_url.join(&format!("/incidents/{}", i.id)),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListParams {
    /// Comma-separated: triggered, acknowledged, resolved, or `open`.
    pub status: Option<String>,
    /// Comma-separated P0..P3.
    pub severity: Option<String>,
    /// Service id or name.
    pub service: Option<String>,
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn statuses(raw: &str) -> Result<Vec<IncidentStatus>, AppError> {
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "open" {
            out.extend([IncidentStatus::Triggered, IncidentStatus::Acknowledged]);
        } else {
            out.push(
                part.parse::<IncidentStatus>()
                    .map_err(|e| AppError::invalid("status", e))?,
            );
        }
    }
    Ok(out)
}

pub async fn list(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let p = params.into_inner();
    let limit = p.limit.unwrap_or(svc::PAGE_SIZE);
    if !(1..=svc::MAX_PAGE_SIZE).contains(&limit) {
        return Err(AppError::invalid(
            "limit",
            format!("limit must be between 1 and {}", svc::MAX_PAGE_SIZE),
        ));
    }
    let severities = p
        .severity
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<Severity>()
                .map_err(|e| AppError::invalid("severity", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let service_id = match p
        .service
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(key) => Some(
            catalog::find_service(&st, key)
                .await?
                .ok_or_else(|| AppError::invalid("service", format!("no service '{key}'")))?
                .id,
        ),
        None => None,
    };
    let query = ListQuery {
        filter: IncidentFilter {
            statuses: statuses(p.status.as_deref().unwrap_or(""))?,
            severities,
            service_id,
            text: p.q.filter(|q| !q.trim().is_empty()),
        },
        cursor: p.cursor,
        limit,
    };
    let page = svc::list(&st, query).await?;
    Ok(HttpResponse::Ok().json(json!({
        "incidents": page.items.iter().map(|v| incident_json(&st, v)).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    })))
}

pub async fn show(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let view = svc::get(&st, &path).await?;
    Ok(HttpResponse::Ok().json(incident_json(&st, &view)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewIncidentBody {
    pub title: String,
    pub service: String,
    pub severity: String,
    #[serde(default)]
    pub description: String,
}

pub async fn create(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    body: web::Json<NewIncidentBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let input = NewIncidentInput {
        title: body.title,
        service: body.service,
        severity: body.severity,
        description: body.description,
    };
    let view = svc::create(&st, &who, Some(ip.0), &input).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/incidents/{}", view.incident.id),
        ))
        .json(incident_json(&st, &view)))
}

fn acted(st: &AppState, r: &ActionResult) -> HttpResponse {
    let mut body = incident_json(st, &r.view);
    body["changed"] = json!(r.changed);
    HttpResponse::Ok().json(body)
}

pub async fn acknowledge(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let r = svc::acknowledge(&st, &who, Some(ip.0), &path).await?;
    Ok(acted(&st, &r))
}

pub async fn resolve(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let r = svc::resolve(&st, &who, Some(ip.0), &path).await?;
    Ok(acted(&st, &r))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    #[serde(alias = "note", alias = "message")]
    pub text: String,
}

pub async fn add_note(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Json<NoteBody>,
) -> Result<HttpResponse, AppError> {
    let r = svc::add_note(&st, &who, Some(ip.0), &path, &body.text).await?;
    Ok(HttpResponse::Created().json(incident_json(&st, &r.view)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityBody {
    pub severity: String,
}

pub async fn change_severity(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Json<SeverityBody>,
) -> Result<HttpResponse, AppError> {
    let r = svc::change_severity(&st, &who, Some(ip.0), &path, &body.severity).await?;
    Ok(acted(&st, &r))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReassignBody {
    /// E-mail or id; `null` or `""` unassigns.
    pub assignee: Option<String>,
}

pub async fn reassign(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Json<ReassignBody>,
) -> Result<HttpResponse, AppError> {
    let r = svc::reassign(
        &st,
        &who,
        Some(ip.0),
        &path,
        body.assignee.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(acted(&st, &r))
}

pub async fn timeline(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let entries = svc::timeline(&st, &path).await?;
    Ok(HttpResponse::Ok().json(
        entries
            .iter()
            .map(|e| {
                json!({
                    "at": rfc3339(&e.at),
                    "kind": e.kind,
                    "actor": e.actor,
                    "message": e.message,
                    "repeats": e.repeats,
                    "last_at": rfc3339(&e.last_at),
                })
            })
            .collect::<Vec<_>>(),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalateBody {
    /// Reassign to this step (1-based) of the service's policy; absent: the next step.
    pub step: Option<usize>,
}

/// `POST /api/v1/incidents/{id}/escalate`: page the next step now instead of after its delay,
/// or with `{"step": N}` reassign to step N of the policy (paged now, escalation goes on from
/// there). The body is optional.
pub async fn escalate(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let body: EscalateBody = if body.iter().all(u8::is_ascii_whitespace) {
        EscalateBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            AppError::invalid("step", format!("the body is not {{\"step\": N}}: {e}"))
        })?
    };
    let view = svc::get(&st, &path).await?;
    let actor = who.actor(Some(ip.0));
    match body.step {
        None => {
            crate::services::escalation::escalate_now(
                &st,
                &actor,
                &who.user.name,
                &view.incident.id,
            )
            .await?;
        }
        Some(step) => {
            crate::services::escalation::reassign_to_step(
                &st,
                &actor,
                &who.user.name,
                &view.incident.id,
                step,
            )
            .await?;
        }
    }
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "incident_id": view.incident.id,
        "escalating": true,
        "step": body.step,
    })))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnoozeBody {
    pub minutes: i64,
}

/// `POST /api/v1/incidents/{id}/snooze`: acknowledged until then, triggered again after.
pub async fn snooze(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Json<SnoozeBody>,
) -> Result<HttpResponse, AppError> {
    let view = svc::get(&st, &path).await?;
    crate::services::escalation::snooze(
        &st,
        &who.user,
        Some(ip.0),
        &view.incident.id,
        body.minutes,
    )
    .await?;
    let view = svc::get(&st, &view.incident.id).await?;
    Ok(HttpResponse::Ok().json(incident_json(&st, &view)))
}
