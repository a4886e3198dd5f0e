//! "How Lookout reaches you" on the profile page: contact methods and notification rules.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::form_errors;
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::contacts::{self, MethodInput, RuleInput};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};
use crate::web::flash::{Flash, redirect_with};

const BACK: &str = "/profile#reach";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MethodForm {
    pub kind: String,
    pub address: String,
    pub label: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RuleForm {
    pub contact: String,
    /// As typed: a number of minutes, 0 for at once.
    pub delay_minutes: String,
}

/// Field errors re-render the profile with the form as typed; a conflict (a duplicate, the
/// last rule) comes back as a message on the page.
async fn answer(
    st: &AppState,
    ctx: super::PageCtx,
    who: &RequireRole<role::Viewer>,
    done: Result<String, AppError>,
    forms: impl FnOnce(&mut super::profile::ProfilePage, FieldErrors),
) -> Result<HttpResponse, AppError> {
    match done.map_err(form_errors) {
        Ok(message) => Ok(redirect_with(BACK, Flash::success(message))),
        Err(Ok(errors)) => {
            super::profile::render_with(st, ctx, who, |page| forms(page, errors)).await
        }
        Err(Err(AppError::Conflict(message))) => Ok(redirect_with(BACK, Flash::error(message))),
        Err(Err(e)) => Err(e),
    }
}

pub async fn add_method(
    st: web::Data<AppState>,
    ctx: super::PageCtx,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    form: web::Form<MethodForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let input = MethodInput {
        kind: form.kind.clone(),
        address: form.address.clone(),
        label: form.label.clone(),
    };
    let done = contacts::add_method(&st, &who.user, &who.actor(Some(ip.0)), &input)
        .await
        .map(|m| {
            format!(
                "Added {}. Add a rule below to use it when you are paged.",
                m.describe()
            )
        });
    answer(&st, ctx, &who, done, |page, errors| {
        page.method_form = form;
        page.method_errors = errors;
    })
    .await
}

pub async fn remove_method(
    st: web::Data<AppState>,
    ctx: super::PageCtx,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let done = contacts::remove_method(&st, &who.user, &who.actor(Some(ip.0)), &path)
        .await
        .map(|()| "Contact method removed, with the rules that used it.".to_owned());
    answer(&st, ctx, &who, done, |_, _| {}).await
}

pub async fn add_rule(
    st: web::Data<AppState>,
    ctx: super::PageCtx,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    form: web::Form<RuleForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let raw = form.delay_minutes.trim();
    let result = match (if raw.is_empty() { "0" } else { raw }).parse::<i64>() {
        Ok(delay_minutes) => {
            let input = RuleInput {
                contact: form.contact.clone(),
                delay_minutes,
            };
            contacts::add_rule(&st, &who.user, &who.actor(Some(ip.0)), &input).await
        }
        Err(_) => Err(AppError::invalid(
            "delay_minutes",
            format!("'{raw}' is not a number of minutes"),
        )),
    };
    let done = result.map(|rule| {
        format!(
            "You will be paged by {} {}.",
            rule.method.describe(),
            rule.when()
        )
    });
    answer(&st, ctx, &who, done, |page, errors| {
        page.rule_form = form;
        page.rule_errors = errors;
    })
    .await
}

pub async fn remove_rule(
    st: web::Data<AppState>,
    ctx: super::PageCtx,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let done = contacts::remove_rule(&st, &who.user, &who.actor(Some(ip.0)), &path)
        .await
        .map(|()| "Rule removed.".to_owned());
    answer(&st, ctx, &who, done, |_, _| {}).await
}

/// "Send a test" next to a method: the answer comes back as the page's message.
pub async fn send_test(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    match contacts::send_test(&st, &who.user, &path).await {
        Ok(r) if r.delivered => Ok(redirect_with(BACK, Flash::success(r.detail))),
        Ok(r) => Ok(redirect_with(BACK, Flash::error(r.detail))),
        Err(AppError::TooManyRequests { message, .. }) => {
            Ok(redirect_with(BACK, Flash::error(message)))
        }
        Err(e) => Err(e),
    }
}
