//! Incidents as people see and handle them: the list, one incident with its alerts and
//! timeline, and the actions (acknowledge, resolve, note, severity, reassign, open by hand).
//! Each action writes the change, its timeline entry and its audit entry in one transaction;
//! the page, the API and (for webhooks) `alert_intake` share these rules.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::db::DbConn;
use crate::db::repo::alerts::{self, StoredAlert};
use crate::db::repo::incidents::{self, By, IncidentFilter};
use crate::db::repo::timeline::{self, TimelineEntry};
use crate::db::repo::{services, severity_levels, users};
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::ids::{is_valid_id, new_id};
use crate::domain::incident::{self as rules, Incident, IncidentStatus, Transition};
use crate::domain::service::Service;
use crate::domain::severity::Severity;
use crate::domain::user::User;
use crate::domain::validation::{FieldErrors, bounded_text};
use crate::error::AppError;
use crate::services::audit;
use crate::services::auth::Principal;
use crate::services::escalation;
use crate::state::AppState;

/// An incident with the names a list or page shows next to it.
#[derive(Debug, Clone)]
pub struct IncidentView {
    pub incident: Incident,
    pub service_name: String,
    pub assignee: Option<User>,
}

/// Which incidents to list. The default shows open incidents first, then recent ones.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: IncidentFilter,
    pub cursor: Option<String>,
    pub limit: i64,
}

pub struct IncidentPage {
    pub items: Vec<IncidentView>,
    /// Pass back as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

pub const PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 200;

/// Where a page starts: in the open segment or the resolved one, after an incident id.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cursor {
    Open(Option<String>),
    Resolved(Option<String>),
}

fn parse_cursor(raw: Option<&str>) -> Result<Cursor, AppError> {
    let bad = || AppError::invalid("cursor", "this cursor is not one Lookout gave out");
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(Cursor::Open(None));
    };
    let (segment, id) = raw.split_once(':').ok_or_else(bad)?;
    let id = match id {
        "" => None,
        id if is_valid_id(id) => Some(id.to_owned()),
        _ => return Err(bad()),
    };
    match segment {
        "o" => Ok(Cursor::Open(id)),
        "r" => Ok(Cursor::Resolved(id)),
        _ => Err(bad()),
    }
}

/// Open incidents (newest first), then resolved ones (newest first), as one list with a cursor.
pub async fn list(st: &AppState, query: ListQuery) -> Result<IncidentPage, AppError> {
    let cursor = parse_cursor(query.cursor.as_deref())?;
    let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
    st.db
        .read(move |c| -> Result<IncidentPage, AppError> {
            let wanted = |s: IncidentStatus| {
                query.filter.statuses.is_empty() || query.filter.statuses.contains(&s)
            };
            let open_statuses: Vec<IncidentStatus> =
                [IncidentStatus::Triggered, IncidentStatus::Acknowledged]
                    .into_iter()
                    .filter(|s| wanted(*s))
                    .collect();
            let mut found: Vec<Incident> = Vec::new();
            let mut next = None;
            let resolved_after = match cursor {
                Cursor::Open(before) => {
                    if !open_statuses.is_empty() {
                        let filter = IncidentFilter {
                            statuses: open_statuses,
                            ..query.filter.clone()
                        };
                        found = incidents::list(c, &filter, before.as_deref(), limit + 1)?;
                        if found.len() as i64 > limit {
                            found.truncate(limit as usize);
                            next = found.last().map(|i| format!("o:{}", i.id));
                        }
                    }
                    None
                }
                Cursor::Resolved(before) => before,
            };
            if next.is_none() && wanted(IncidentStatus::Resolved) {
                let room = limit - found.len() as i64;
                let filter = IncidentFilter {
                    statuses: vec![IncidentStatus::Resolved],
                    ..query.filter.clone()
                };
                if room > 0 {
                    let mut resolved =
                        incidents::list(c, &filter, resolved_after.as_deref(), room + 1)?;
                    if resolved.len() as i64 > room {
                        resolved.truncate(room as usize);
                        next = resolved.last().map(|i| format!("r:{}", i.id));
                    }
                    found.extend(resolved);
                } else if !incidents::list(c, &filter, None, 1)?.is_empty() {
                    next = Some("r:".into());
                }
            }
            Ok(IncidentPage {
                items: views(c, found)?,
                next_cursor: next,
            })
        })
        .await
}

fn views(c: &mut DbConn, found: Vec<Incident>) -> Result<Vec<IncidentView>, AppError> {
    let mut service_ids: Vec<String> = found.iter().map(|i| i.service_id.clone()).collect();
    service_ids.sort();
    service_ids.dedup();
    let names: HashMap<String, String> = services::names(c, &service_ids)?.into_iter().collect();
    let mut people: HashMap<String, User> = HashMap::new();
    for id in found.iter().filter_map(|i| i.assignee_id.clone()) {
        if !people.contains_key(&id)
            && let Some(u) = users::find(c, &id)?
        {
            people.insert(id, u);
        }
    }
    Ok(found
        .into_iter()
        .map(|incident| IncidentView {
            service_name: names.get(&incident.service_id).cloned().unwrap_or_default(),
            assignee: incident
                .assignee_id
                .as_ref()
                .and_then(|id| people.get(id).cloned()),
            incident,
        })
        .collect())
}

/// Everything the incident page shows.
pub struct IncidentDetail {
    pub view: IncidentView,
    pub service: Service,
    pub alerts: Vec<StoredAlert>,
    pub timeline: Vec<TimelineEntry>,
    pub previous_number: Option<i64>,
}

fn load(c: &mut DbConn, id_or_number: &str) -> Result<Incident, AppError> {
    let found = if is_valid_id(id_or_number) {
        incidents::find(c, id_or_number)?
    } else if let Ok(n) = id_or_number.trim_start_matches('#').parse::<i64>() {
        incidents::find_by_number(c, n)?
    } else {
        None
    };
    found.ok_or(AppError::NotFound)
}

/// One incident by id or number.
pub async fn get(st: &AppState, id_or_number: &str) -> Result<IncidentView, AppError> {
    let key = id_or_number.to_owned();
    st.db
        .read(move |c| {
            let incident = load(c, &key)?;
            views(c, vec![incident])?.pop().ok_or(AppError::NotFound)
        })
        .await
}

pub async fn detail(st: &AppState, id_or_number: &str) -> Result<IncidentDetail, AppError> {
    let key = id_or_number.to_owned();
    st.db
        .read(move |c| {
            let incident = load(c, &key)?;
            let service = services::find(c, &incident.service_id)?.ok_or(AppError::NotFound)?;
            let previous_number = match &incident.previous_incident_id {
                Some(prev) => incidents::find(c, prev)?.map(|p| p.number),
                None => None,
            };
            let alerts = alerts::list_for_incident(c, &incident.id)?;
            let timeline = timeline::list_for_incident(c, &incident.id)?;
            let view = views(c, vec![incident])?.pop().ok_or(AppError::NotFound)?;
            Ok(IncidentDetail {
                view,
                service,
                alerts,
                timeline,
                previous_number,
            })
        })
        .await
}

pub async fn timeline(st: &AppState, id_or_number: &str) -> Result<Vec<TimelineEntry>, AppError> {
    let key = id_or_number.to_owned();
    st.db
        .read(move |c| {
            let incident = load(c, &key)?;
            Ok(timeline::list_for_incident(c, &incident.id)?)
        })
        .await
}

fn note(
    c: &mut DbConn,
    now: DateTime<Utc>,
    incident_id: &str,
    kind: &str,
    actor: &Actor,
    message: &str,
) -> Result<(), AppError> {
    timeline::insert(
        c,
        &timeline::NewEntry {
            id: &new_id(),
            incident_id,
            kind,
            actor_id: actor.user_id.as_deref(),
            actor: &actor.label,
            message,
            alert_fingerprint: None,
            repeats: 1,
            now,
        },
    )?;
    Ok(())
}

/// What an action did; `changed` is false for a harmless repeat (a double click).
pub struct ActionResult {
    pub view: IncidentView,
    pub changed: bool,
}

/// Runs an action on one incident in a transaction and announces the change.
async fn act<F>(st: &AppState, id_or_number: &str, f: F) -> Result<ActionResult, AppError>
where
    F: FnOnce(&mut DbConn, DateTime<Utc>, &Incident) -> Result<bool, AppError> + Send + 'static,
{
    let (key, now) = (id_or_number.to_owned(), st.clock.now());
    let (view, changed) = st
        .db
        .write(move |c| {
            let incident = load(c, &key)?;
            let changed = f(c, now, &incident)?;
            let fresh = load(c, &incident.id)?;
            Ok::<_, AppError>((
                views(c, vec![fresh])?.pop().ok_or(AppError::NotFound)?,
                changed,
            ))
        })
        .await?;
    if changed {
        st.events.incident_changed(&view.incident.id);
    }
    Ok(ActionResult { view, changed })
}

/// The person acting: audit entries name them by e-mail, timelines by name.
struct Acting {
    actor: Actor,
    user_id: String,
    name: String,
}

impl Acting {
    fn of(user: &User, ip: Option<String>) -> Self {
        Acting {
            actor: Actor::user(&user.id, &user.email, ip),
            user_id: user.id.clone(),
            name: user.name.clone(),
        }
    }

    fn on_timeline(&self) -> Actor {
        Actor {
            label: self.name.clone(),
            ..self.actor.clone()
        }
    }

    fn audit(
        &self,
        c: &mut DbConn,
        now: DateTime<Utc>,
        action: AuditAction,
        incident: &Incident,
        detail: &str,
    ) -> Result<(), AppError> {
        let detail = format!("#{} {}: {detail}", incident.number, incident.title);
        Ok(audit::record(
            c,
            now,
            &self.actor,
            action,
            Some(("incident", &incident.id)),
            &detail,
        )?)
    }
}

pub async fn acknowledge(
    st: &AppState,
    principal: &Principal,
    ip: Option<String>,
    id: &str,
) -> Result<ActionResult, AppError> {
    acknowledge_as(st, &principal.user, ip, id).await
}

/// Acknowledges as `user`, however they proved who they are (a session, a token, a signed
/// link in a page e-mail).
pub async fn acknowledge_as(
    st: &AppState,
    user: &User,
    ip: Option<String>,
    id: &str,
) -> Result<ActionResult, AppError> {
    let me = Acting::of(user, ip);
    act(st, id, move |c, now, incident| {
        match rules::acknowledge(incident.status).map_err(|m| AppError::Conflict(m.into()))? {
            Transition::AlreadyDone => Ok(false),
            Transition::Changed => {
                let by = By {
                    user_id: Some(&me.user_id),
                    label: &me.name,
                };
                incidents::acknowledge(c, &incident.id, &by, now)?;
                escalation::plan_acknowledged(c, &incident.id, now)?;
                note(
                    c,
                    now,
                    &incident.id,
                    "acknowledged",
                    &me.on_timeline(),
                    &format!("Acknowledged by {}", me.name),
                )?;
                me.audit(
                    c,
                    now,
                    AuditAction::IncidentAcknowledged,
                    incident,
                    "acknowledged",
                )?;
                Ok(true)
            }
        }
    })
    .await
}

pub async fn resolve(
    st: &AppState,
    principal: &Principal,
    ip: Option<String>,
    id: &str,
) -> Result<ActionResult, AppError> {
    let me = Acting::of(&principal.user, ip);
    act(st, id, move |c, now, incident| {
        match rules::resolve(incident.status) {
            Transition::AlreadyDone => Ok(false),
            Transition::Changed => {
                let by = By {
                    user_id: Some(&me.user_id),
                    label: &me.name,
                };
                incidents::resolve(c, &incident.id, &by, now)?;
                escalation::plan_resolved(c, &incident.id, now)?;
                note(
                    c,
                    now,
                    &incident.id,
                    "resolved",
                    &me.on_timeline(),
                    &format!("Resolved by {}", me.name),
                )?;
                me.audit(c, now, AuditAction::IncidentResolved, incident, "resolved")?;
                Ok(true)
            }
        }
    })
    .await
}

pub const MAX_NOTE: usize = 10_000;

pub async fn add_note(
    st: &AppState,
    principal: &Principal,
    ip: Option<String>,
    id: &str,
    text: &str,
) -> Result<ActionResult, AppError> {
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err(AppError::invalid("note", "write something first"));
    }
    if text.chars().count() > MAX_NOTE {
        return Err(AppError::invalid(
            "note",
            format!("a note may have at most {MAX_NOTE} characters"),
        ));
    }
    let me = Acting::of(&principal.user, ip);
    act(st, id, move |c, now, incident| {
        note(c, now, &incident.id, "note", &me.on_timeline(), &text)?;
        incidents::touch(c, &incident.id, now)?;
        let preview: String = text.chars().take(80).collect();
        me.audit(
            c,
            now,
            AuditAction::IncidentNoteAdded,
            incident,
            &format!("note: {preview}"),
        )?;
        Ok(true)
    })
    .await
}

/// Changes the severity; the deadlines are recomputed from when the incident opened.
pub async fn change_severity(
    st: &AppState,
    principal: &Principal,
    ip: Option<String>,
    id: &str,
    severity: &str,
) -> Result<ActionResult, AppError> {
    let severity = severity
        .parse::<Severity>()
        .map_err(|e| AppError::invalid("severity", e))?;
    let me = Acting::of(&principal.user, ip);
    act(st, id, move |c, now, incident| {
        if incident.severity == severity {
            return Ok(false);
        }
        let (ack, resolve) =
            severity_levels::response_times(c, severity)?.deadlines(incident.created_at);
        incidents::set_severity(c, &incident.id, severity, ack, resolve, now)?;
        escalation::plan_deadlines(c, &incident.id, ack, resolve)?;
        let message = format!(
            "Severity changed from {} to {severity} by {}",
            incident.severity, me.name
        );
        note(
            c,
            now,
            &incident.id,
            "severity_changed",
            &me.on_timeline(),
            &message,
        )?;
        me.audit(
            c,
            now,
            AuditAction::IncidentSeverityChanged,
            incident,
            &format!("{} -> {severity}", incident.severity),
        )?;
        Ok(true)
    })
    .await
}

/// Gives the incident to a person (id or e-mail), or to nobody with an empty string.
pub async fn reassign(
    st: &AppState,
    principal: &Principal,
    ip: Option<String>,
    id: &str,
    assignee: &str,
) -> Result<ActionResult, AppError> {
    let assignee = assignee.trim().to_lowercase();
    let me = Acting::of(&principal.user, ip);
    act(st, id, move |c, now, incident| {
        let target = if assignee.is_empty() {
            None
        } else {
            let found = if assignee.contains('@') {
                users::find_by_email(c, &assignee)?
            } else if is_valid_id(&assignee) {
                users::find(c, &assignee)?
            } else {
                None
            };
            match found {
                Some(u) if u.active => Some(u),
                _ => {
                    return Err(AppError::invalid(
                        "assignee",
                        format!("no active user '{assignee}'"),
                    ));
                }
            }
        };
        if incident.assignee_id == target.as_ref().map(|u| u.id.clone()) {
            return Ok(false);
        }
        incidents::set_assignee(c, &incident.id, target.as_ref().map(|u| u.id.as_str()), now)?;
        let message = match &target {
            Some(u) => format!("Assigned to {} by {}", u.name, me.name),
            None => format!("Unassigned by {}", me.name),
        };
        note(
            c,
            now,
            &incident.id,
            "reassigned",
            &me.on_timeline(),
            &message,
        )?;
        let detail = target.as_ref().map_or("unassigned".to_owned(), |u| {
            format!("assigned to {}", u.email)
        });
        me.audit(c, now, AuditAction::IncidentReassigned, incident, &detail)?;
        Ok(true)
    })
    .await
}

/// An incident opened by a person.
#[derive(Debug, Clone, Default)]
pub struct NewIncidentInput {
    pub title: String,
    /// Service id or name.
    pub service: String,
    pub severity: String,
    pub description: String,
}

pub async fn create(
    st: &AppState,
    principal: &Principal,
    ip: Option<String>,
    input: &NewIncidentInput,
) -> Result<IncidentView, AppError> {
    let mut errors = FieldErrors::new();
    let title = errors.check(
        "title",
        bounded_text(&input.title, "title", crate::ingest::MAX_TITLE),
    );
    let severity = errors.check("severity", input.severity.parse::<Severity>());
    let description = input.description.trim().to_owned();
    if description.chars().count() > MAX_NOTE {
        errors.add("description", format!("at most {MAX_NOTE} characters"));
    }
    let service_key = input.service.trim().to_owned();
    if service_key.is_empty() {
        errors.add("service", "choose a service");
    }
    let me = Acting::of(&principal.user, ip);
    let now = st.clock.now();
    let view = st
        .db
        .write(move |c| {
            let service = if service_key.is_empty() {
                None
            } else if is_valid_id(&service_key) {
                services::find(c, &service_key)?
            } else {
                services::find_by_name(c, &service_key)?
            };
            match &service {
                None if !service_key.is_empty() => {
                    errors.add("service", format!("no service '{service_key}'"))
                }
                Some(s) if s.is_archived() => errors.add("service", "this service is archived"),
                _ => {}
            }
            let (Some(title), Some(severity), Some(service)) = (title, severity, service) else {
                return Err(AppError::Invalid(errors));
            };
            if !errors.is_empty() {
                return Err(AppError::Invalid(errors));
            }
            let (ack_deadline, resolve_deadline) =
                severity_levels::response_times(c, severity)?.deadlines(now);
            let id = new_id();
            let number = incidents::next_number(c)?;
            incidents::insert(
                c,
                &incidents::NewIncident {
                    id: &id,
                    number,
                    service_id: &service.id,
                    integration_id: None,
                    title: &title,
                    description: &description,
                    severity,
                    dedup_key: None,
                    alert_count: 0,
                    now,
                    ack_deadline,
                    resolve_deadline,
                    previous_incident_id: None,
                    flapping: false,
                    last_alert_at: None,
                },
            )?;
            escalation::plan_opened(
                c,
                &escalation::Opened {
                    incident_id: &id,
                    service_id: &service.id,
                    ack_deadline,
                    resolve_deadline,
                },
                now,
            )?;
            let message = format!("Opened by {} as {severity}", me.name);
            note(c, now, &id, "created", &me.on_timeline(), &message)?;
            let incident = load(c, &id)?;
            me.audit(
                c,
                now,
                AuditAction::IncidentCreated,
                &incident,
                &format!("opened as {severity} on '{}'", service.name),
            )?;
            views(c, vec![incident])?.pop().ok_or(AppError::NotFound)
        })
        .await?;
    st.events.incident_changed(&view.incident.id);
    st.engine_wake.notify_one();
    Ok(view)
}

/// Open incidents per severity and status, for the dashboard: (severity, triggered, acknowledged).
pub async fn open_counts(st: &AppState) -> Result<Vec<(Severity, i64, i64)>, AppError> {
    let rows = st
        .db
        .read(|c| incidents::open_counts_by_severity(c).map_err(AppError::from))
        .await?;
    Ok(Severity::ALL
        .into_iter()
        .map(|sev| {
            let count = |status: IncidentStatus| {
                rows.iter()
                    .filter(|(s, st, _)| s == sev.as_str() && st == status.as_str())
                    .map(|(_, _, n)| *n)
                    .sum::<i64>()
            };
            (
                sev,
                count(IncidentStatus::Triggered),
                count(IncidentStatus::Acknowledged),
            )
        })
        .collect())
}

/// The newest timeline entries across incidents, for the dashboard.
pub async fn recent_activity(
    st: &AppState,
    limit: i64,
) -> Result<Vec<(TimelineEntry, i64, String)>, AppError> {
    st.db
        .read(move |c| timeline::recent(c, limit).map_err(AppError::from))
        .await
}
