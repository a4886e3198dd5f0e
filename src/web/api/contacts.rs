//! `/api/v1/me/contact-methods` and `/api/v1/me/notification-rules`: how Lookout reaches the
//! caller when paged.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::rfc3339;
use crate::error::AppError;
use crate::services::contacts::{self, ContactMethod, MethodInput, Rule, RuleInput};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};

fn method_json(m: &ContactMethod) -> Value {
    json!({
        "id": m.key(),
        "kind": m.kind.as_str(),
        "address": m.address,
        "label": m.label,
        "signing_secret": m.secret,
        "created_at": m.created_at.as_ref().map(rfc3339),
    })
}

fn rule_json(r: &Rule) -> Value {
    json!({
        "id": r.id,
        "contact_method_id": r.method.key(),
        "contact": method_json(&r.method),
        "delay_minutes": r.delay_minutes,
    })
}

/// `GET /api/v1/me/contact-methods`: the account e-mail (id `account`) first, then the rest.
pub async fn list_methods(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
) -> Result<HttpResponse, AppError> {
    let reach = contacts::reach_of(&st, &who.user).await?;
    Ok(HttpResponse::Ok().json(json!({
        "contact_methods": reach.methods.iter().map(method_json).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodBody {
    pub kind: String,
    pub address: String,
    #[serde(default)]
    pub label: String,
}

/// `POST /api/v1/me/contact-methods` `{"kind": "email"|"webhook", "address", "label"?}`.
pub async fn add_method(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    body: web::Json<MethodBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let input = MethodInput {
        kind: body.kind,
        address: body.address,
        label: body.label,
    };
    let method = contacts::add_method(&st, &who.user, &who.actor(Some(ip.0)), &input).await?;
    Ok(HttpResponse::Created().json(method_json(&method)))
}

pub async fn remove_method(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    contacts::remove_method(&st, &who.user, &who.actor(Some(ip.0)), &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/me/notification-rules`: soonest first; `default` is true while the caller has
/// written none (the one listed, account e-mail at once, has no id then).
pub async fn list_rules(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
) -> Result<HttpResponse, AppError> {
    let reach = contacts::reach_of(&st, &who.user).await?;
    Ok(HttpResponse::Ok().json(json!({
        "default": reach.default_rules,
        "notification_rules": reach.rules.iter().map(rule_json).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    /// A contact method's id, or `account`.
    #[serde(default)]
    pub contact_method_id: String,
    pub delay_minutes: i64,
}

/// `POST /api/v1/me/notification-rules` `{"contact_method_id", "delay_minutes"}`.
pub async fn add_rule(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    body: web::Json<RuleBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let input = RuleInput {
        contact: body.contact_method_id,
        delay_minutes: body.delay_minutes,
    };
    let rule = contacts::add_rule(&st, &who.user, &who.actor(Some(ip.0)), &input).await?;
    Ok(HttpResponse::Created().json(rule_json(&rule)))
}

pub async fn remove_rule(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    contacts::remove_rule(&st, &who.user, &who.actor(Some(ip.0)), &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/me/contact-methods/{id}/test` (`account` for the account e-mail): sends a test
/// message now; 200 `{"delivered", "detail"}` either way, 429 when asked too often.
pub async fn send_test(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let r = contacts::send_test(&st, &who.user, &path).await?;
    Ok(HttpResponse::Ok().json(json!({"delivered": r.delivered, "detail": r.detail})))
}
