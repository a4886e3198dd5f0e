//! `/api/v1/services`: services and their integrations.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::rfc3339;
use crate::domain::service::{Integration, Service};
use crate::error::AppError;
use crate::services::catalog::{self, IntegrationInput, ServiceInput};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};
use crate::web::snippets::Snippets;

#[derive(Debug, Serialize)]
pub struct ServiceJson {
    pub id: String,
    pub name: String,
    pub description: String,
    pub owner_id: Option<String>,
    pub escalation_policy_id: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook_format: String,
    /// Only in answers to managers changing the service: receivers verify posts with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Service> for ServiceJson {
    fn from(s: &Service) -> Self {
        ServiceJson {
            id: s.id.clone(),
            name: s.name.clone(),
            description: s.description.clone(),
            owner_id: s.owner_id.clone(),
            escalation_policy_id: s.escalation_policy_id.clone(),
            webhook_url: s.webhook_url.clone(),
            webhook_format: s.webhook_format.clone(),
            webhook_secret: None,
            archived: s.is_archived(),
            created_at: rfc3339(&s.created_at),
            updated_at: rfc3339(&s.updated_at),
        }
    }
}

pub fn integration_json(st: &AppState, i: &Integration, key: Option<&str>) -> serde_json::Value {
    let snippets = Snippets::new(&st.base_url, i, key);
    let mut out = json!({
        "id": i.id,
        "service_id": i.service_id,
        "kind": i.kind.as_str(),
        "name": i.name,
        "key_prefix": i.key_prefix,
        "severity_label": i.mapping.label,
        "severity_words": i.mapping.words_text(),
        "default_severity": i.mapping.default.as_str(),
        "per_alert": i.per_alert,
        "rate_limit_per_second": i.rate_limit.map(|r| r.per_second),
        "rate_limit_burst": i.rate_limit.map(|r| r.burst),
        "revoked": !i.is_live(),
        "created_at": rfc3339(&i.created_at),
    });
    if let Some(key) = key {
        out["key"] = json!(key);
        out["url"] = json!(snippets.url);
    }
    out
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListParams {
    pub archived: bool,
}

pub async fn list(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let all = catalog::list_services(&st, params.archived).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(ServiceJson::from).collect::<Vec<_>>()))
}

pub async fn show(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let service = catalog::find_service(&st, &path)
        .await?
        .ok_or(AppError::NotFound)?;
    let integrations = catalog::list_integrations(&st, &service.id).await?;
    let mut out = serde_json::to_value(ServiceJson::from(&service))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    out["integrations"] = integrations
        .iter()
        .map(|i| integration_json(&st, i, None))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewServiceBody {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// E-mail or id of a manager or admin.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub escalation_policy_id: Option<String>,
    #[serde(default)]
    pub webhook_url: Option<String>,
    #[serde(default)]
    pub webhook_format: Option<String>,
}

pub async fn create(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    body: web::Json<NewServiceBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let input = ServiceInput {
        name: body.name,
        description: body.description,
        owner: body.owner.unwrap_or_default(),
        escalation_policy: body.escalation_policy_id.unwrap_or_default(),
        webhook_url: body.webhook_url.unwrap_or_default(),
        webhook_format: body.webhook_format.unwrap_or_default(),
    };
    let service = catalog::create_service(&st, &who.actor(Some(ip.0)), &input).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/services/{}", service.id)))
        .json(ServiceJson {
            webhook_secret: service.webhook_secret.clone(),
            ..ServiceJson::from(&service)
        }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    /// E-mail or id; `""` clears it.
    pub owner: Option<String>,
    /// A policy id; `null` or `""` clears it.
    #[serde(default, deserialize_with = "present")]
    pub escalation_policy_id: Option<Option<String>>,
    /// `null` or `""` stops the posts.
    #[serde(default, deserialize_with = "present")]
    pub webhook_url: Option<Option<String>>,
    pub webhook_format: Option<String>,
    pub archived: Option<bool>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

pub async fn update(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Json<ServicePatch>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let actor = who.actor(Some(ip.0));
    let mut service = catalog::get_service(&st, &path).await?;
    if body.name.is_some()
        || body.description.is_some()
        || body.owner.is_some()
        || body.escalation_policy_id.is_some()
        || body.webhook_url.is_some()
        || body.webhook_format.is_some()
    {
        let current_owner = match &service.owner_id {
            Some(id) => id.clone(),
            None => String::new(),
        };
        let input = ServiceInput {
            name: body.name.unwrap_or_else(|| service.name.clone()),
            description: body
                .description
                .unwrap_or_else(|| service.description.clone()),
            owner: body.owner.unwrap_or(current_owner),
            escalation_policy: match body.escalation_policy_id {
                Some(given) => given.unwrap_or_default(),
                None => service.escalation_policy_id.clone().unwrap_or_default(),
            },
            webhook_url: match body.webhook_url {
                Some(given) => given.unwrap_or_default(),
                None => service.webhook_url.clone().unwrap_or_default(),
            },
            webhook_format: body
                .webhook_format
                .unwrap_or_else(|| service.webhook_format.clone()),
        };
        service = catalog::update_service(&st, &actor, &service.id, &input).await?;
    }
    if let Some(archived) = body.archived {
        service = catalog::set_archived(&st, &actor, &service.id, archived).await?;
    }
    let mut out = ServiceJson::from(&service);
    out.webhook_secret = service.webhook_secret.clone();
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewIntegrationBody {
    pub kind: String,
    pub name: Option<String>,
}

pub async fn create_integration(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Json<NewIntegrationBody>,
) -> Result<HttpResponse, AppError> {
    let issued = catalog::create_integration(
        &st,
        &who.actor(Some(ip.0)),
        &path,
        &body.kind,
        body.name.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Created().json(integration_json(
        &st,
        &issued.integration,
        Some(&issued.key),
    )))
}

pub async fn list_integrations(
    st: web::Data<AppState>,
    _who: RequireRole<role::Manager>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let service = catalog::get_service(&st, &path).await?;
    let all = catalog::list_integrations(&st, &service.id).await?;
    Ok(HttpResponse::Ok().json(
        all.iter()
            .map(|i| integration_json(&st, i, None))
            .collect::<Vec<_>>(),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationPatch {
    pub name: Option<String>,
    pub severity_label: Option<String>,
    pub severity_words: Option<String>,
    pub default_severity: Option<String>,
    pub per_alert: Option<bool>,
    /// `null` turns the limit off.
    #[serde(default, with = "double_option")]
    pub rate_limit_per_second: Option<Option<i64>>,
    pub rate_limit_burst: Option<i64>,
    pub signing_secret: Option<String>,
}

/// Tells "absent" from "null" for fields where null means "off".
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

pub async fn update_integration(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<(String, String)>,
    body: web::Json<IntegrationPatch>,
) -> Result<HttpResponse, AppError> {
    let (service_id, id) = path.into_inner();
    let current = catalog::get_integration(&st, &service_id, &id).await?;
    let mut input = IntegrationInput::from_integration(&current);
    let body = body.into_inner();
    if let Some(v) = body.name {
        input.name = v;
    }
    if let Some(v) = body.severity_label {
        input.severity_label = v;
    }
    if let Some(v) = body.severity_words {
        input.severity_words = v;
    }
    if let Some(v) = body.default_severity {
        input.default_severity = v;
    }
    if let Some(v) = body.per_alert {
        input.per_alert = v;
    }
    match body.rate_limit_per_second {
        Some(Some(n)) => input.rate_limit_per_second = n.to_string(),
        Some(None) => {
            input.rate_limit_per_second.clear();
            input.rate_limit_burst.clear();
        }
        None => {}
    }
    if let Some(v) = body.rate_limit_burst {
        input.rate_limit_burst = v.to_string();
    }
    if let Some(v) = body.signing_secret {
        input.signing_secret = v;
    }
    let updated =
        catalog::update_integration(&st, &who.actor(Some(ip.0)), &service_id, &id, &input).await?;
    Ok(HttpResponse::Ok().json(integration_json(&st, &updated, None)))
}

pub async fn rotate_key(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (service_id, id) = path.into_inner();
    let issued = catalog::rotate_key(&st, &who.actor(Some(ip.0)), &service_id, &id).await?;
    Ok(HttpResponse::Ok().json(integration_json(
        &st,
        &issued.integration,
        Some(&issued.key),
    )))
}

pub async fn revoke_integration(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (service_id, id) = path.into_inner();
    catalog::revoke_integration(&st, &who.actor(Some(ip.0)), &service_id, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
