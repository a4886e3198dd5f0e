//! `/admin/users`: admins create people, change roles, deactivate, reset passwords.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{PageCtx, page, render, time_zone_names};
use crate::db::repo::api_tokens::ApiToken;
use crate::db::repo::audit::{AuditEntry, AuditQuery};
use crate::domain::user::{Role, User};
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::users::NewUserInput;
use crate::services::{audit, tokens, users};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};
use crate::web::flash::{Flash, redirect_with};

#[derive(Template)]
#[template(path = "admin/users.html")]
pub struct UsersPage {
    pub ctx: PageCtx,
    pub users: Vec<User>,
    pub form: NewUserForm,
    pub errors: FieldErrors,
}

impl UsersPage {
    pub fn roles(&self) -> [Role; 4] {
        Role::ALL
    }

    pub fn time_zones(&self) -> impl Iterator<Item = &'static str> {
        time_zone_names()
    }
}

/// Shown once after creating someone or resetting their password.
#[derive(Template)]
#[template(path = "admin/password_issued.html")]
pub struct PasswordIssuedPage {
    pub ctx: PageCtx,
    pub user: User,
    pub password: String,
    pub created: bool,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
pub struct UserPage {
    pub ctx: PageCtx,
    pub user: User,
    pub tokens: Vec<ApiToken>,
    pub activity: Vec<AuditEntry>,
    pub sessions: i64,
    /// How Lookout pages this person (they manage it themselves on their profile).
    pub reach: crate::services::contacts::Reach,
}

impl UserPage {
    pub fn roles(&self) -> [Role; 4] {
        Role::ALL
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct NewUserForm {
    pub email: String,
    pub name: String,
    pub role: String,
    pub time_zone: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoleForm {
    pub role: String,
}

pub async fn list(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _admin: RequireRole<role::Admin>,
) -> Result<HttpResponse, AppError> {
    page(&UsersPage {
        ctx,
        users: users::list(&st).await?,
        form: NewUserForm {
            role: Role::Responder.as_str().into(),
            time_zone: "UTC".into(),
            ..NewUserForm::default()
        },
        errors: FieldErrors::new(),
    })
}

pub async fn create(
    st: web::Data<AppState>,
    ctx: PageCtx,
    admin: RequireRole<role::Admin>,
    ip: ClientIp,
    form: web::Form<NewUserForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let input = NewUserInput {
        email: form.email.clone(),
        name: form.name.clone(),
        role: form.role.clone(),
        password: None,
        time_zone: Some(form.time_zone.clone()),
    };
    match users::create(&st, &admin.actor(Some(ip.0)), &input).await {
        Ok(created) => render(
            StatusCode::CREATED,
            &PasswordIssuedPage {
                ctx,
                password: created.temporary_password.unwrap_or_default(),
                user: created.user,
                created: true,
            },
        ),
        Err(AppError::Invalid(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &UsersPage {
                ctx,
                users: users::list(&st).await?,
                form,
                errors,
            },
        ),
        Err(e) => Err(e),
    }
}

pub async fn show(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _admin: RequireRole<role::Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let user = users::get(&st, &path.into_inner()).await?;
    let (activity, _) = audit::list(
        &st,
        AuditQuery {
            user_id: Some(user.id.clone()),
            limit: 20,
            ..AuditQuery::default()
        },
    )
    .await?;
    page(&UserPage {
        ctx,
        tokens: tokens::list_for_user(&st, &user.id).await?,
        sessions: users::live_session_count(&st, &user.id).await?,
        reach: crate::services::contacts::reach_of(&st, &user).await?,
        activity,
        user,
    })
}

/// Business-rule refusals (last admin, own account) go back to the page as a message.
fn back_to(user_id: &str, result: Result<String, AppError>) -> Result<HttpResponse, AppError> {
    let location = format!("/admin/users/{user_id}");
    match result {
        Ok(message) => Ok(redirect_with(&location, Flash::success(message))),
        Err(AppError::Conflict(message)) => Ok(redirect_with(&location, Flash::error(message))),
        Err(AppError::Invalid(fields)) => {
            Ok(redirect_with(&location, Flash::error(fields.summary())))
        }
        Err(e) => Err(e),
    }
}

pub async fn change_role(
    st: web::Data<AppState>,
    admin: RequireRole<role::Admin>,
    ip: ClientIp,
    path: web::Path<String>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let result = users::change_role(&st, &admin.actor(Some(ip.0)), &id, &form.role)
        .await
        .map(|u| format!("{} is now {}.", u.name, u.role));
    back_to(&id, result)
}

pub async fn deactivate(
    st: web::Data<AppState>,
    admin: RequireRole<role::Admin>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let result = users::set_active(&st, &admin.actor(Some(ip.0)), &id, false)
        .await
        .map(|u| {
            format!(
                "{} is deactivated; their sessions and tokens no longer work.",
                u.name
            )
        });
    back_to(&id, result)
}

pub async fn reactivate(
    st: web::Data<AppState>,
    admin: RequireRole<role::Admin>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let result = users::set_active(&st, &admin.actor(Some(ip.0)), &id, true)
        .await
        .map(|u| format!("{} is active again.", u.name));
    back_to(&id, result)
}

pub async fn reset_password(
    st: web::Data<AppState>,
    ctx: PageCtx,
    admin: RequireRole<role::Admin>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (user, password) =
        users::reset_password(&st, &admin.actor(Some(ip.0)), &path.into_inner()).await?;
    page(&PasswordIssuedPage {
        ctx,
        user,
        password,
        created: false,
    })
}

pub async fn revoke_token(
    st: web::Data<AppState>,
    admin: RequireRole<role::Admin>,
    ip: ClientIp,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (user_id, token_id) = path.into_inner();
    let result = tokens::revoke(&st, &admin.actor(Some(ip.0)), &admin.user, &token_id)
        .await
        .map(|t| format!("Token '{}' revoked.", t.label));
    back_to(&user_id, result)
}
