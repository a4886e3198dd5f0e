//! `POST /api/v1/schedules/{id}/holidays/import`: a schedule's holidays from an iCalendar file
//! sent as the raw body (`Content-Type: text/calendar`).

use actix_web::{HttpResponse, web};
use futures_util::StreamExt;

use crate::domain::holiday_calendar::{CalendarError, MAX_BYTES};
use crate::error::AppError;
use crate::services::holiday_import;
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};

/// Answers `{"added", "already_there", "skipped"}`; a bad file is a 400 naming what is wrong,
/// and nothing is saved.
pub async fn import(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let body = read_calendar(payload).await?;
    let counts = holiday_import::import_holidays(&st, &who.actor(Some(ip.0)), &path, &body).await?;
    Ok(HttpResponse::Ok().json(counts))
}

/// The body, refused as soon as it passes the calendar limit (the JSON limit is far smaller).
async fn read_calendar(mut payload: web::Payload) -> Result<web::Bytes, AppError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| AppError::BadRequest(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(AppError::invalid(
                "file",
                CalendarError::TooLarge.to_string(),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
