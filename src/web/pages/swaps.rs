//! Shift swaps from the schedule page: offer, take, approve, decline, withdraw; and whether a
//! schedule's swaps wait for a manager.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::DateTime;
use serde::Deserialize;

use super::schedules::{SwapForm, parse_local, schedule_page};
use super::{PageCtx, form_errors, render};
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::schedules::{self};
use crate::services::swaps::{self, OfferInput, SwapView};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};
use crate::web::flash::{Flash, redirect_with};

fn back_to(schedule_id: &str) -> String {
    format!("/schedules/{schedule_id}#swaps")
}

/// The times the form names: a picked shift, or the typed start and end (which win when given).
fn offered_times(
    form: &SwapForm,
    zone: chrono_tz::Tz,
) -> Result<(DateTime<chrono::Utc>, DateTime<chrono::Utc>), FieldErrors> {
    if !form.start.trim().is_empty() || !form.end.trim().is_empty() {
        let start = parse_local(zone, &form.start, "start")?;
        let end = parse_local(zone, &form.end, "end")?;
        return Ok((start, end));
    }
    let picked = form.shift.split_once('|').and_then(|(a, b)| {
        let a = DateTime::parse_from_rfc3339(a).ok()?;
        let b = DateTime::parse_from_rfc3339(b).ok()?;
        Some((a.to_utc(), b.to_utc()))
    });
    picked.ok_or_else(|| {
        FieldErrors::single(
            "shift",
            "pick one of your shifts, or type a start and an end",
        )
    })
}

pub async fn offer(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
    form: web::Form<SwapForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let detail = schedules::get_around(&st, &path, ctx.now).await?;
    let result = match offered_times(&form, detail.time_zone) {
        Ok((start, end)) => {
            let input = OfferInput {
                start,
                end,
                offered_to: Some(form.offered_to.clone()),
                note: form.note.clone(),
            };
            swaps::offer(&st, &who.user, &who.actor(Some(ip.0)), &path, &input)
                .await
                .map_err(form_errors)
        }
        Err(errors) => Err(Ok(errors)),
    };
    match result {
        Ok(_) => Ok(redirect_with(
            &back_to(&detail.id),
            Flash::success("Swap offered. It goes through when someone takes it."),
        )),
        Err(Ok(errors)) => {
            let mut page =
                schedule_page(&st, ctx, &path, 2, Default::default(), FieldErrors::new()).await?;
            page.swap_form = form;
            page.swap_errors = errors;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(Err(e)) => Err(e),
    }
}

/// Buttons answer with a message on the schedule page: a refusal (taken by someone else a moment
/// ago, the schedule changed) is news for the person, not a broken page.
async fn answer(
    st: &AppState,
    swap_id: &str,
    result: Result<SwapView, AppError>,
    done: &str,
) -> Result<HttpResponse, AppError> {
    match result {
        Ok(swap) => Ok(redirect_with(
            &back_to(&swap.schedule_id),
            Flash::success(done),
        )),
        Err(AppError::Conflict(message)) => {
            let swap = swaps::get(st, swap_id).await?;
            Ok(redirect_with(
                &back_to(&swap.schedule_id),
                Flash::error(message),
            ))
        }
        Err(e) => Err(e),
    }
}

pub async fn take(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let result = swaps::take(&st, &who.user, &who.actor(Some(ip.0)), &path).await;
    let done = match &result {
        Ok(s) if s.awaits_approval() => {
            "You took the swap. It goes through when a manager approves it."
        }
        _ => "You took the swap: the shift is yours now.",
    };
    answer(&st, &path, result, done).await
}

pub async fn approve(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let result = swaps::decide(&st, &who.actor(Some(ip.0)), &path, true).await;
    answer(
        &st,
        &path,
        result,
        "Swap approved: the override is in place.",
    )
    .await
}

pub async fn decline(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let result = swaps::decide(&st, &who.actor(Some(ip.0)), &path, false).await;
    answer(
        &st,
        &path,
        result,
        "Swap declined; the duty stays as it was.",
    )
    .await
}

pub async fn cancel(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let result = swaps::cancel(&st, &who.user, &who.actor(Some(ip.0)), &path).await;
    answer(&st, &path, result, "Swap withdrawn.").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApprovalForm {
    /// A checkbox: present when ticked.
    pub required: Option<String>,
}

pub async fn set_approval(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    form: web::Form<ApprovalForm>,
) -> Result<HttpResponse, AppError> {
    let required = form.required.is_some();
    swaps::set_approval(&st, &who.actor(Some(ip.0)), &path, required).await?;
    Ok(redirect_with(
        &back_to(&path),
        Flash::success(if required {
            "Taken swaps now wait for a manager's approval."
        } else {
            "Taken swaps now go through at once."
        }),
    ))
}
