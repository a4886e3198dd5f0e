//! The first-run page that creates the first admin from the one-time setup link.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::errors::ErrorTemplate;
use super::{PageCtx, page, render, time_zone_names};
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::setup::{self, SetupFailure, SetupInput};
use crate::state::AppState;
use crate::web::extract::ClientIp;
use crate::web::flash::{Flash, redirect_with};

#[derive(Template)]
#[template(path = "auth/setup.html")]
pub struct SetupPage {
    pub ctx: PageCtx,
    pub token: String,
    pub form: SetupForm,
    pub errors: FieldErrors,
}

impl SetupPage {
    pub fn time_zones(&self) -> impl Iterator<Item = &'static str> {
        time_zone_names()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SetupQuery {
    pub token: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct SetupForm {
    pub token: String,
    pub name: String,
    pub email: String,
    pub password: String,
    pub confirm: String,
    pub time_zone: String,
}

fn link_invalid(ctx: PageCtx) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::GONE,
        &ErrorTemplate {
            ctx,
            status: 410,
            title: "Setup link not valid".into(),
            message: "This setup link was already used, or the server was restarted and printed a new one. \
                      If an admin exists, sign in instead."
                .into(),
        },
    )
}

pub async fn show(
    st: web::Data<AppState>,
    ctx: PageCtx,
    query: web::Query<SetupQuery>,
) -> Result<HttpResponse, AppError> {
    if !setup::token_is_valid(&st, &query.token).await? {
        return link_invalid(ctx);
    }
    page(&SetupPage {
        ctx,
        token: query.token.clone(),
        form: SetupForm {
            time_zone: "UTC".into(),
            ..SetupForm::default()
        },
        errors: FieldErrors::new(),
    })
}

pub async fn submit(
    st: web::Data<AppState>,
    ctx: PageCtx,
    ip: ClientIp,
    form: web::Form<SetupForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let input = SetupInput {
        name: form.name.clone(),
        email: form.email.clone(),
        password: form.password.clone(),
        confirm: form.confirm.clone(),
        time_zone: form.time_zone.clone(),
    };
    match setup::complete(&st, &form.token, &input, Some(ip.0)).await {
        Ok(user) => Ok(redirect_with(
            "/login",
            Flash::success(format!(
                "Admin account {} created. Sign in to continue.",
                user.email
            )),
        )),
        Err(SetupFailure::Input(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SetupPage {
                ctx,
                token: form.token.clone(),
                form: SetupForm {
                    password: String::new(),
                    confirm: String::new(),
                    ..form
                },
                errors,
            },
        ),
        Err(SetupFailure::LinkInvalid) => link_invalid(ctx),
        Err(SetupFailure::Error(e)) => Err(e),
    }
}
