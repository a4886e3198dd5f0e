//! `/ack/{incident}`: the one-click acknowledge link from a page e-mail. Works without signing
//! in; the GET only shows the incident and a button, the POST acknowledges.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::{PageCtx, render};
use crate::error::AppError;
use crate::services::ack_links::{self, AckLink};
use crate::services::incidents::{self, IncidentView};
use crate::state::AppState;
use crate::web::extract::ClientIp;

#[derive(Template)]
#[template(path = "incidents/ack_link.html")]
pub struct AckLinkPage {
    pub ctx: PageCtx,
    pub incident_id: String,
    pub link: AckLink,
    pub view: Option<IncidentView>,
    /// Set after the button: what happened.
    pub done: Option<String>,
    /// Why the link cannot be used.
    pub problem: Option<String>,
}

fn refused(e: &AppError) -> Option<(StatusCode, String)> {
    match e {
        AppError::Forbidden | AppError::NotFound => Some((
            StatusCode::FORBIDDEN,
            "This link is not valid. Sign in to see the incident.".into(),
        )),
        AppError::Conflict(message) => Some((StatusCode::CONFLICT, message.clone())),
        _ => None,
    }
}

async fn answer(
    st: &AppState,
    ctx: PageCtx,
    incident_id: String,
    link: AckLink,
    outcome: Result<Option<String>, AppError>,
) -> Result<HttpResponse, AppError> {
    let (status, done, problem) = match outcome {
        Ok(done) => (StatusCode::OK, done, None),
        Err(e) => match refused(&e) {
            Some((status, message)) => (status, None, Some(message)),
            None => return Err(e),
        },
    };
    let view = if problem.is_none() {
        Some(incidents::get(st, &incident_id).await?)
    } else {
        None
    };
    render(
        status,
        &AckLinkPage {
            ctx,
            incident_id,
            link,
            view,
            done,
            problem,
        },
    )
}

pub async fn show(
    st: web::Data<AppState>,
    ctx: PageCtx,
    path: web::Path<String>,
    link: web::Query<AckLink>,
) -> Result<HttpResponse, AppError> {
    let (id, link) = (path.into_inner(), link.into_inner());
    let checked = ack_links::holder(&st, &id, &link).await.map(|_| None);
    answer(&st, ctx, id, link, checked).await
}

pub async fn confirm(
    st: web::Data<AppState>,
    ctx: PageCtx,
    ip: ClientIp,
    path: web::Path<String>,
    link: web::Form<AckLink>,
) -> Result<HttpResponse, AppError> {
    let (id, link) = (path.into_inner(), link.into_inner());
    let outcome = ack_links::acknowledge(&st, &id, &link, Some(ip.0))
        .await
        .map(|r| {
            Some(if r.changed {
                "Acknowledged. Escalation has stopped; you own this incident now.".to_owned()
            } else {
                "It was acknowledged already.".to_owned()
            })
        });
    answer(&st, ctx, id, link, outcome).await
}
