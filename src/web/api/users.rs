//! `/api/v1/users`: people and their roles.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::UserJson;
use crate::error::AppError;
use crate::services::users::{self, AccountChange, NewUserInput};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};

pub async fn list(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
) -> Result<HttpResponse, AppError> {
    let all = users::list(&st).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(UserJson::from).collect::<Vec<_>>()))
}

pub async fn show(
    st: web::Data<AppState>,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let user = users::get(&st, &path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(UserJson::from(&user)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    pub email: String,
    pub name: String,
    pub role: String,
    /// Omitted: a temporary password is generated, returned once, and must be changed.
    pub password: Option<String>,
    pub time_zone: Option<String>,
}

pub async fn create(
    st: web::Data<AppState>,
    admin: RequireRole<role::Admin>,
    ip: ClientIp,
    body: web::Json<NewUserBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let input = NewUserInput {
        email: body.email,
        name: body.name,
        role: body.role,
        password: body.password,
        time_zone: body.time_zone,
    };
    let created = users::create(&st, &admin.actor(Some(ip.0)), &input).await?;
    let mut out = serde_json::to_value(UserJson::from(&created.user))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if let Some(password) = created.temporary_password {
        out["temporary_password"] = json!(password);
    }
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/users/{}", created.user.id)))
        .json(out))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub role: Option<String>,
    pub active: Option<bool>,
}

pub async fn update(
    st: web::Data<AppState>,
    admin: RequireRole<role::Admin>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Json<UserPatch>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let body = body.into_inner();
    if body.role.is_none() && body.active.is_none() {
        return Err(AppError::BadRequest(
            "nothing to change: give \"role\" and/or \"active\"".into(),
        ));
    }
    let change = AccountChange {
        role: body.role,
        active: body.active,
    };
    let user = users::change_account(&st, &admin.actor(Some(ip.0)), &id, &change).await?;
    Ok(HttpResponse::Ok().json(UserJson::from(&user)))
}

pub async fn reset_password(
    st: web::Data<AppState>,
    admin: RequireRole<role::Admin>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (user, password) =
        users::reset_password(&st, &admin.actor(Some(ip.0)), &path.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "user": UserJson::from(&user), "temporary_password": password })))
}
