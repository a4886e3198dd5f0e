//! `/api/v1/tokens`: the caller's API tokens.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{TokenJson, rfc3339};
use crate::error::AppError;
use crate::services::tokens;
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};

pub async fn list(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
) -> Result<HttpResponse, AppError> {
    let all = tokens::list_for_user(&st, &who.user.id).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(TokenJson::from).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    pub label: String,
}

pub async fn create(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    body: web::Json<NewTokenBody>,
) -> Result<HttpResponse, AppError> {
    let issued = tokens::create(&st, &who.actor(Some(ip.0)), &who.user, &body.label).await?;
    Ok(HttpResponse::Created().json(json!({
        "id": issued.token.id,
        "label": issued.token.label,
        "prefix": issued.token.prefix,
        "created_at": rfc3339(&issued.token.created_at),
        "token": issued.secret,
    })))
}

pub async fn revoke(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    tokens::revoke(&st, &who.actor(Some(ip.0)), &who.user, &path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
