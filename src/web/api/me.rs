//! `/api/v1/me`: the caller's own account.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::UserJson;
use crate::error::AppError;
use crate::services::users::{self, PasswordChange, ProfileInput};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};

pub async fn show(who: RequireRole<role::Viewer>) -> HttpResponse {
    HttpResponse::Ok().json(UserJson::from(&who.user))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub name: Option<String>,
    pub time_zone: Option<String>,
}

pub async fn update(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    body: web::Json<ProfilePatch>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let input = ProfileInput {
        name: body.name.unwrap_or_else(|| who.user.name.clone()),
        time_zone: body.time_zone.unwrap_or_else(|| who.user.time_zone.clone()),
    };
    let user = users::update_profile(&st, &who, Some(ip.0), &input).await?;
    Ok(HttpResponse::Ok().json(UserJson::from(&user)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    pub current_password: String,
    pub new_password: String,
}

pub async fn change_password(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    body: web::Json<PasswordBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let input = PasswordChange {
        current: body.current_password,
        confirm: body.new_password.clone(),
        new: body.new_password,
    };
    users::change_password(&st, &who, Some(ip.0), &input).await?;
    Ok(HttpResponse::NoContent().finish())
}
