//! `/incidents`: the list (filters, cursor pages, live refresh), one incident with its alerts
//! and timeline, and the buttons: acknowledge, resolve, note, severity, reassign.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentEncoding};
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{PageCtx, page, render};
use crate::db::repo::alerts::StoredAlert;
use crate::db::repo::incidents::IncidentFilter;
use crate::db::repo::timeline::TimelineEntry;
use crate::domain::incident::IncidentStatus;
use crate::domain::service::Service;
use crate::domain::severity::Severity;
use crate::domain::user::User;
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::incidents::{self as svc, IncidentView, ListQuery, NewIncidentInput};
use crate::services::{catalog, users};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};
use crate::web::flash::{Flash, redirect_with};
use crate::web::format;

/// One row of the list, with what it shows already worked out.
pub struct Row {
    pub view: IncidentView,
    /// "ack due in 12 min", "ack overdue by 5 min", "resolved 2 h ago".
    pub deadline: String,
    pub breached: bool,
    /// Who has it: acknowledged by, or assigned to.
    pub owner: String,
}

impl Row {
    pub fn new(view: IncidentView, now: chrono::DateTime<chrono::Utc>) -> Self {
        let i = &view.incident;
        let (deadline, breached) = match i.status {
            IncidentStatus::Triggered if now > i.ack_deadline => (
                format!("ack overdue by {}", format::duration(now - i.ack_deadline)),
                true,
            ),
            IncidentStatus::Triggered => (
                format!("ack due in {}", format::duration(i.ack_deadline - now)),
                false,
            ),
            IncidentStatus::Acknowledged if now > i.resolve_deadline => (
                format!(
                    "resolve overdue by {}",
                    format::duration(now - i.resolve_deadline)
                ),
                true,
            ),
            IncidentStatus::Acknowledged => (
                format!(
                    "resolve due in {}",
                    format::duration(i.resolve_deadline - now)
                ),
                i.sla_breached,
            ),
            IncidentStatus::Resolved => (
                i.resolved_at.map_or_else(
                    || "resolved".into(),
                    |t| format!("resolved {}", format::relative(t, now)),
                ),
                false,
            ),
        };
        let owner = match (&i.acknowledged_by, &view.assignee) {
            (_, Some(a)) => a.name.clone(),
            (Some(by), None) => by.clone(),
            (None, None) => String::new(),
        };
        Row {
            deadline,
            breached: breached || (i.status.is_open() && i.sla_breached),
            owner,
            view,
        }
    }

    pub fn severity_class(&self) -> String {
        self.view.incident.severity.as_str().to_lowercase()
    }
}

#[derive(Template)]
#[template(path = "incidents/list.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub rows: Vec<Row>,
    pub services: Vec<Service>,
    pub filter: ListFilter,
    /// Query string for the next page.
    pub next: Option<String>,
}

impl ListPage {
    pub fn severities(&self) -> [Severity; 4] {
        Severity::ALL
    }
}

/// Only the table body, for live refresh.
#[derive(Template)]
#[template(path = "incidents/rows.html")]
pub struct RowsFragment {
    pub ctx: PageCtx,
    pub rows: Vec<Row>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ListFilter {
    /// "", open, triggered, acknowledged, resolved, all
    pub status: String,
    pub severity: String,
    pub service: String,
    pub q: String,
    pub cursor: String,
    /// `rows`: answer with the table body only.
    pub fragment: String,
}

impl ListFilter {
    fn query(&self) -> Result<ListQuery, AppError> {
        let statuses = match self.status.as_str() {
            "" | "all" => Vec::new(),
            "open" => vec![IncidentStatus::Triggered, IncidentStatus::Acknowledged],
            other => vec![
                other
                    .parse::<IncidentStatus>()
                    .map_err(|e| AppError::invalid("status", e))?,
            ],
        };
        let severities = match self.severity.as_str() {
            "" => Vec::new(),
            s => vec![
                s.parse::<Severity>()
                    .map_err(|e| AppError::invalid("severity", e))?,
            ],
        };
        Ok(ListQuery {
            filter: IncidentFilter {
                statuses,
                severities,
                service_id: Some(self.service.trim().to_owned()).filter(|s| !s.is_empty()),
                text: Some(self.q.trim().to_owned()).filter(|s| !s.is_empty()),
            },
            cursor: Some(self.cursor.clone()).filter(|c| !c.is_empty()),
            limit: svc::PAGE_SIZE,
        })
    }

    /// This filter as a query string, with another cursor.
    fn with_cursor(&self, cursor: &str) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("status", &self.status)
            .append_pair("severity", &self.severity)
            .append_pair("service", &self.service)
            .append_pair("q", &self.q)
            .append_pair("cursor", cursor)
            .finish()
    }
}

pub async fn list(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Viewer>,
    filter: web::Query<ListFilter>,
) -> Result<HttpResponse, AppError> {
    let filter = filter.into_inner();
    let found = svc::list(&st, filter.query()?).await?;
    let rows: Vec<Row> = found
        .items
        .into_iter()
        .map(|v| Row::new(v, ctx.now))
        .collect();
    if filter.fragment == "rows" {
        return page(&RowsFragment { ctx, rows });
    }
    page(&ListPage {
        next: found.next_cursor.map(|c| filter.with_cursor(&c)),
        services: catalog::list_services(&st, true).await?,
        rows,
        filter,
        ctx,
    })
}

/// Server-sent events: one `incident` event per change, so open pages can refresh.
pub async fn stream(st: web::Data<AppState>, _who: RequireRole<role::Viewer>) -> HttpResponse {
    let rx = st.events.subscribe();
    let ticks = tokio::time::interval(Duration::from_secs(25));
    let events = futures_util::stream::unfold((rx, ticks), |(mut rx, mut ticks)| async move {
        let chunk = tokio::select! {
            received = rx.recv() => match received {
                Ok(change) => format!("event: incident\ndata: {}\n\n", change.incident_id),
                // Missed some: tell the page to refresh anyway.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => "event: incident\ndata: *\n\n".to_owned(),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            },
            _ = ticks.tick() => ": keep-alive\n\n".to_owned(),
        };
        Some((
            Ok::<_, actix_web::Error>(web::Bytes::from(chunk)),
            (rx, ticks),
        ))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Compression would hold events back in its buffer.
        .insert_header(ContentEncoding::Identity)
        .streaming(events)
}

/// An alert as the incident page shows it.
pub struct AlertView {
    pub alert: StoredAlert,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    /// Only http(s) links: anything else from a sender is shown as text, never as a link.
    pub links: Vec<(String, String)>,
}

fn safe_href(href: &str) -> bool {
    let lower = href.trim().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

impl AlertView {
    fn new(alert: StoredAlert) -> Self {
        let map = |json: &str| -> Vec<(String, String)> {
            serde_json::from_str::<BTreeMap<String, String>>(json)
                .map(|m| m.into_iter().collect())
                .unwrap_or_default()
        };
        let mut links: Vec<(String, String)> =
            serde_json::from_str::<Vec<serde_json::Value>>(&alert.links)
                .unwrap_or_default()
                .iter()
                .filter_map(|l| {
                    let href = l.get("href")?.as_str()?.to_owned();
                    let text = l
                        .get("text")
                        .and_then(|t| t.as_str())
                        .unwrap_or(&href)
                        .to_owned();
                    safe_href(&href).then_some((href, text))
                })
                .collect();
        if let Some(url) = alert.generator_url.as_deref().filter(|u| safe_href(u))
            && !links.iter().any(|(h, _)| h == url)
        {
            links.push((url.to_owned(), "source".into()));
        }
        AlertView {
            labels: map(&alert.labels),
            annotations: map(&alert.annotations),
            links,
            alert,
        }
    }
}

#[derive(Template)]
#[template(path = "incidents/show.html")]
pub struct ShowPage {
    pub ctx: PageCtx,
    pub row: Row,
    pub service: Service,
    pub alerts: Vec<AlertView>,
    pub timeline: Vec<TimelineEntry>,
    pub previous_number: Option<i64>,
    pub people: Vec<User>,
    pub note: String,
    pub errors: FieldErrors,
    pub escalation: crate::services::escalation::Status,
}

impl ShowPage {
    pub fn severities(&self) -> [Severity; 4] {
        Severity::ALL
    }

    pub fn is_triggered(&self) -> bool {
        self.row.view.incident.status == IncidentStatus::Triggered
    }

    pub fn is_open(&self) -> bool {
        self.row.view.incident.status.is_open()
    }
}

async fn show_page(st: &AppState, ctx: PageCtx, id: &str) -> Result<ShowPage, AppError> {
    let detail = svc::detail(st, id).await?;
    let people = users::list(st)
        .await?
        .into_iter()
        .filter(|u| u.active)
        .collect();
    let escalation = crate::services::escalation::status(st, &detail.view.incident).await?;
    Ok(ShowPage {
        escalation,
        row: Row::new(detail.view, ctx.now),
        service: detail.service,
        alerts: detail.alerts.into_iter().map(AlertView::new).collect(),
        timeline: detail.timeline,
        previous_number: detail.previous_number,
        people,
        note: String::new(),
        errors: FieldErrors::new(),
        ctx,
    })
}

pub async fn show(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    page(&show_page(&st, ctx, &path).await?)
}

fn back(id: &str, flash: Flash) -> HttpResponse {
    redirect_with(&format!("/incidents/{id}"), flash)
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct SnoozeForm {
    pub minutes: String,
}

pub async fn snooze(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
    form: web::Form<SnoozeForm>,
) -> Result<HttpResponse, AppError> {
    let view = svc::get(&st, &path).await?;
    let id = view.incident.id.clone();
    let Ok(minutes) = form.minutes.trim().parse::<i64>() else {
        return Ok(back(&id, Flash::error("Choose how long to snooze.")));
    };
    match crate::services::escalation::snooze(&st, &who.user, Some(ip.0), &id, minutes).await {
        Ok(()) => Ok(back(
            &id,
            Flash::success(format!(
                "Snoozed for {}. It pages again then unless resolved.",
                crate::domain::escalation::minutes_text(minutes)
            )),
        )),
        Err(AppError::Conflict(m)) => Ok(back(&id, Flash::error(m))),
        Err(AppError::Invalid(e)) => Ok(back(&id, Flash::error(e.summary()))),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EscalateForm {
    /// Empty: the next step. A number: reassign to that step of the policy.
    pub step: String,
}

pub async fn escalate(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
    form: web::Form<EscalateForm>,
) -> Result<HttpResponse, AppError> {
    let view = svc::get(&st, &path).await?;
    let id = view.incident.id.clone();
    let actor = who.actor(Some(ip.0));
    let (result, done) = match form.step.trim() {
        "" => (
            crate::services::escalation::escalate_now(&st, &actor, &who.user.name, &id).await,
            "Escalating: the next step is paged now.".to_owned(),
        ),
        raw => match raw.parse::<usize>() {
            Ok(number) => (
                crate::services::escalation::reassign_to_step(
                    &st,
                    &actor,
                    &who.user.name,
                    &id,
                    number,
                )
                .await,
                format!("Reassigned to step {number}: it is paged now."),
            ),
            Err(_) => (
                Err(AppError::invalid(
                    "step",
                    format!("'{raw}' is not a step number"),
                )),
                String::new(),
            ),
        },
    };
    match result {
        Ok(()) => Ok(back(&id, Flash::success(done))),
        Err(AppError::Conflict(m)) => Ok(back(&id, Flash::error(m))),
        Err(AppError::Invalid(errors)) => Ok(back(&id, Flash::error(errors.summary()))),
        Err(e) => Err(e),
    }
}

pub async fn acknowledge(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    match svc::acknowledge(&st, &who, Some(ip.0), &path).await {
        Ok(r) if r.changed => Ok(back(
            &r.view.incident.id,
            Flash::success("Acknowledged. Escalation stops here."),
        )),
        Ok(r) => Ok(back(
            &r.view.incident.id,
            Flash::info("It was already acknowledged."),
        )),
        Err(AppError::Conflict(m)) => Ok(back(
            &path,
            Flash::info(format!("Nothing to acknowledge: {m}.")),
        )),
        Err(e) => Err(e),
    }
}

pub async fn resolve(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let r = svc::resolve(&st, &who, Some(ip.0), &path).await?;
    let flash = if r.changed {
        Flash::success("Resolved.")
    } else {
        Flash::info("It was already resolved.")
    };
    Ok(back(&r.view.incident.id, flash))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoteForm {
    pub note: String,
}

pub async fn add_note(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
    form: web::Form<NoteForm>,
) -> Result<HttpResponse, AppError> {
    match svc::add_note(&st, &who, Some(ip.0), &path, &form.note).await {
        Ok(r) => Ok(redirect_with(
            &format!("/incidents/{}#timeline", r.view.incident.id),
            Flash::success("Note added."),
        )),
        Err(AppError::Invalid(errors)) => {
            let mut p = show_page(&st, ctx, &path).await?;
            p.note = form.into_inner().note;
            p.errors = errors;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SeverityForm {
    pub severity: String,
}

pub async fn change_severity(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
    form: web::Form<SeverityForm>,
) -> Result<HttpResponse, AppError> {
    match svc::change_severity(&st, &who, Some(ip.0), &path, &form.severity).await {
        Ok(r) => {
            let i = &r.view.incident;
            let flash = if r.changed {
                Flash::success(format!(
                    "Severity is now {}; the deadlines follow it.",
                    i.severity
                ))
            } else {
                Flash::info(format!("It already was {}.", i.severity))
            };
            Ok(back(&i.id, flash))
        }
        Err(AppError::Invalid(errors)) => Ok(back(&path, Flash::error(errors.summary()))),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReassignForm {
    pub assignee: String,
}

pub async fn reassign(
    st: web::Data<AppState>,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
    form: web::Form<ReassignForm>,
) -> Result<HttpResponse, AppError> {
    match svc::reassign(&st, &who, Some(ip.0), &path, &form.assignee).await {
        Ok(r) => {
            let flash = match (&r.view.assignee, r.changed) {
                (_, false) => Flash::info("Nothing changed."),
                (Some(a), true) => Flash::success(format!("Assigned to {}.", a.name)),
                (None, true) => Flash::success("Unassigned."),
            };
            Ok(back(&r.view.incident.id, flash))
        }
        Err(AppError::Invalid(errors)) => Ok(back(&path, Flash::error(errors.summary()))),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "incidents/new.html")]
pub struct NewPage {
    pub ctx: PageCtx,
    pub services: Vec<Service>,
    pub form: NewIncidentForm,
    pub errors: FieldErrors,
}

impl NewPage {
    pub fn severities(&self) -> [Severity; 4] {
        Severity::ALL
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct NewIncidentForm {
    pub title: String,
    pub service: String,
    pub severity: String,
    pub description: String,
}

pub async fn new_form(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Responder>,
) -> Result<HttpResponse, AppError> {
    page(&NewPage {
        services: catalog::list_services(&st, false).await?,
        form: NewIncidentForm {
            severity: "P2".into(),
            ..NewIncidentForm::default()
        },
        errors: FieldErrors::new(),
        ctx,
    })
}

pub async fn create(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    form: web::Form<NewIncidentForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let input = NewIncidentInput {
        title: form.title.clone(),
        service: form.service.clone(),
        severity: form.severity.clone(),
        description: form.description.clone(),
    };
    match svc::create(&st, &who, Some(ip.0), &input).await {
        Ok(view) => Ok(back(
            &view.incident.id,
            Flash::success(format!("Incident #{} opened.", view.incident.number)),
        )),
        Err(AppError::Invalid(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &NewPage {
                services: catalog::list_services(&st, false).await?,
                form,
                errors,
                ctx,
            },
        ),
        Err(e) => Err(e),
    }
}
