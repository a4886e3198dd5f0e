//! `/api/v1/escalation-policies` and `/api/v1/severities`: who is paged in what order, and how
//! long each severity may wait.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::rfc3339;
use crate::domain::escalation::Target;
use crate::error::AppError;
use crate::services::escalation::{self, PolicyDetail, PolicyInput, StepInput};
use crate::services::severities::{self, SeverityTimes};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};

fn policy_json(p: &PolicyDetail) -> Value {
    let target = |t: &Target| match t {
        Target::User(id) => json!({
            "type": "user",
            "id": id,
            "email": p.target_email(t),
            "name": p.target_name(t),
        }),
        Target::Schedule(id) => json!({"type": "schedule", "id": id, "name": p.target_name(t)}),
    };
    json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "repeat": p.policy.repeat,
        "retrigger_stale_ack": p.retrigger_stale_ack,
        "version": p.version,
        "steps": p.policy.steps.iter().map(|s| json!({
            "delay_minutes": s.delay_minutes,
            "targets": s.targets.iter().map(target).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "services": p.services,
        "created_at": rfc3339(&p.created_at),
        "updated_at": rfc3339(&p.updated_at),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub repeat: u32,
    pub steps: Vec<StepInput>,
    /// Page again when an acknowledged incident sees no activity for its acknowledge window.
    #[serde(default)]
    pub retrigger_stale_ack: bool,
    /// For `PUT`: the version the change was based on; a newer stored one is a 409.
    #[serde(default)]
    pub version: Option<i64>,
}

impl PolicyBody {
    fn input(self) -> (PolicyInput, Option<i64>) {
        (
            PolicyInput {
                name: self.name,
                description: self.description,
                repeat: self.repeat,
                steps: self.steps,
                retrigger_stale_ack: self.retrigger_stale_ack,
            },
            self.version,
        )
    }
}

pub async fn list(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
) -> Result<HttpResponse, AppError> {
    let all = escalation::list(&st).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(policy_json).collect::<Vec<_>>()))
}

pub async fn create(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    body: web::Json<PolicyBody>,
) -> Result<HttpResponse, AppError> {
    let (input, _) = body.into_inner().input();
    let created = escalation::create(&st, &who.actor(Some(ip.0)), &input).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/escalation-policies/{}", created.id),
        ))
        .json(policy_json(&created)))
}

pub async fn show(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(policy_json(&escalation::get(&st, &path).await?)))
}

pub async fn update(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Json<PolicyBody>,
) -> Result<HttpResponse, AppError> {
    let (input, version) = body.into_inner().input();
    let updated = escalation::update(&st, &who.actor(Some(ip.0)), &path, &input, version).await?;
    Ok(HttpResponse::Ok().json(policy_json(&updated)))
}

fn severities_json(all: &[SeverityTimes]) -> Value {
    json!(
        all.iter()
            .map(|s| json!({
                "severity": s.severity.as_str(),
                "ack_within_minutes": s.ack_within_minutes,
                "resolve_within_minutes": s.resolve_within_minutes,
            }))
            .collect::<Vec<_>>()
    )
}

pub async fn severities(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(severities_json(&severities::list(&st).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityBody {
    pub severity: String,
    pub ack_within_minutes: i64,
    pub resolve_within_minutes: i64,
}

/// `PUT /api/v1/severities`: the whole table, or some of its rows.
pub async fn set_severities(
    st: web::Data<AppState>,
    who: RequireRole<role::Admin>,
    ip: ClientIp,
    body: web::Json<Vec<SeverityBody>>,
) -> Result<HttpResponse, AppError> {
    let rows: Vec<(String, i64, i64)> = body
        .into_inner()
        .into_iter()
        .map(|b| (b.severity, b.ack_within_minutes, b.resolve_within_minutes))
        .collect();
    let all = severities::update(&st, &who.actor(Some(ip.0)), &rows).await?;
    Ok(HttpResponse::Ok().json(severities_json(&all)))
}
