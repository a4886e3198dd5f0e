//! Leave from the profile page: record days away, remove leave that has not ended.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::form_errors;
use crate::error::AppError;
use crate::services::time_off::{self, LeaveInput};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};
use crate::web::flash::{Flash, redirect_with};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LeaveForm {
    /// First and last day away, inclusive, in the person's zone.
    pub first_day: String,
    pub last_day: String,
    pub reason: String,
}

pub async fn add(
    st: web::Data<AppState>,
    ctx: super::PageCtx,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    form: web::Form<LeaveForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let input = LeaveInput {
        user: None,
        start: form.first_day.clone(),
        end: if form.last_day.trim().is_empty() {
            form.first_day.clone()
        } else {
            form.last_day.clone()
        },
        reason: form.reason.clone(),
    };
    match time_off::add(&st, &who.user, &who.actor(Some(ip.0)), &input)
        .await
        .map_err(form_errors)
    {
        Ok(_) => Ok(redirect_with(
            "/profile#time-off",
            Flash::success("Leave recorded. Schedules show where it meets your duty."),
        )),
        Err(Ok(errors)) => {
            super::profile::render_with(&st, ctx, &who, |page| {
                page.leave_form = form;
                page.leave_errors = errors;
            })
            .await
        }
        Err(Err(e)) => Err(e),
    }
}

pub async fn remove(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    time_off::remove(&st, &who.user, &who.actor(Some(ip.0)), &path).await?;
    Ok(redirect_with(
        "/profile#time-off",
        Flash::success("Leave removed."),
    ))
}
