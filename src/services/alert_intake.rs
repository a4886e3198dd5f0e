//! Alerts in: a parsed webhook delivery becomes incidents, alerts and timeline entries.
//!
//! Deliveries go through [`IngestQueue`]: one writer thread takes every delivery waiting at that
//! moment and applies them all in one transaction (group commit), so a storm of webhooks costs
//! one commit per batch rather than one per request. Each delivery runs inside its own savepoint:
//! one that fails is rolled back and answered with an error, the others still commit. A caller
//! hears back only after the commit, so a 2xx always means "stored".

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::db::repo::{alerts, incidents, severity_levels, timeline};
use crate::db::{Db, DbConn, DbError, is_unique_violation, write_tx};
use crate::domain::alert::{AlertAction, NormalizedAlert};
use crate::domain::ids::new_id;
use crate::domain::incident::{FLAPPING_WINDOW, Incident, is_flapping};
use crate::domain::service::Integration;
use crate::domain::severity::Severity;
use crate::error::AppError;
use crate::events::Events;

/// One webhook request's alerts, for one integration.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub integration: Integration,
    pub alerts: Vec<NormalizedAlert>,
}

/// What happened to one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new incident was opened.
    Opened,
    /// A new alert joined an open incident.
    Attached,
    /// A known alert fired again (a repeat, or firing again after it had resolved).
    Repeated,
    /// The alert resolved; its incident still has firing alerts.
    AlertResolved,
    /// The alert resolved and with it the last firing alert of its incident.
    IncidentResolved,
    Acknowledged,
    /// Nothing to do: a resolve or acknowledge for a key with no open incident, or a repeat of
    /// a resolution.
    Ignored,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertResult {
    pub dedup_key: String,
    pub outcome: Outcome,
    pub incident_id: Option<String>,
    pub incident_number: Option<i64>,
}

/// The incident key of an alert: the sender's group (Alertmanager `groupKey`, `dedup_key`), or
/// the alert's own fingerprint when the integration wants one incident per alert or the sender
/// gave no group.
pub fn incident_key(integration: &Integration, alert: &NormalizedAlert) -> String {
    match &alert.group_key {
        Some(group) if !integration.per_alert => group.clone(),
        _ => alert.fingerprint.clone(),
    }
}

fn severity_of(integration: &Integration, alert: &NormalizedAlert) -> Severity {
    let word = alert.severity.as_deref().or_else(|| {
        alert
            .labels
            .get(&integration.mapping.label)
            .map(String::as_str)
    });
    integration.mapping.map(word)
}

struct Context<'a> {
    now: DateTime<Utc>,
    integration: &'a Integration,
    /// How the sender is named on timelines: "Alertmanager (prod)".
    sender: String,
    /// Incidents touched, announced after commit.
    touched: &'a mut BTreeSet<String>,
}

/// Applies a delivery inside the caller's transaction.
pub fn apply(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    delivery: &Delivery,
    touched: &mut BTreeSet<String>,
) -> Result<Vec<AlertResult>, AppError> {
    let integration = &delivery.integration;
    let sender = if integration.name == integration.kind.display_name() {
        integration.kind.display_name().to_owned()
    } else {
        format!("{} ({})", integration.kind.display_name(), integration.name)
    };
    let mut cx = Context {
        now,
        integration,
        sender,
        touched,
    };
    let mut results = Vec::with_capacity(delivery.alerts.len());
    for alert in &delivery.alerts {
        let key = incident_key(integration, alert);
        // A concurrent writer (another instance) may open the same incident first: the unique
        // index refuses ours, the savepoint undoes it, and the second try attaches.
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            let outcome = conn.transaction(|c| apply_alert(c, &mut cx, alert, &key));
            match outcome {
                Err(AppError::Db(DbError::Query(e))) if attempt == 1 && is_unique_violation(&e) => {
                    continue;
                }
                other => break other?,
            }
        };
        results.push(result);
    }
    Ok(results)
}

fn result(key: &str, outcome: Outcome, incident: Option<(&str, i64)>) -> AlertResult {
    AlertResult {
        dedup_key: key.to_owned(),
        outcome,
        incident_id: incident.map(|(id, _)| id.to_owned()),
        incident_number: incident.map(|(_, n)| n),
    }
}

fn apply_alert(
    c: &mut DbConn,
    cx: &mut Context<'_>,
    alert: &NormalizedAlert,
    key: &str,
) -> Result<AlertResult, AppError> {
    let open = incidents::find_open_by_key(c, &cx.integration.service_id, key)?;
    match (alert.action, open) {
        (AlertAction::Trigger, Some(incident)) => attach(c, cx, &incident, alert, key),
        (AlertAction::Trigger, None) => open_incident(c, cx, alert, key),
        (AlertAction::Resolve, Some(incident)) => resolve_alert(c, cx, &incident, alert, key),
        (AlertAction::Acknowledge, Some(incident)) => acknowledge(c, cx, &incident, key),
        (_, None) => Ok(result(key, Outcome::Ignored, None)),
    }
}

fn event(
    c: &mut DbConn,
    cx: &Context<'_>,
    incident_id: &str,
    kind: &str,
    message: &str,
    fingerprint: Option<&str>,
) -> Result<(), AppError> {
    timeline::insert(
        c,
        &timeline::NewEntry {
            id: &new_id(),
            incident_id,
            kind,
            actor_id: None,
            actor: &cx.sender,
            message,
            alert_fingerprint: fingerprint,
            repeats: 1,
            now: cx.now,
        },
    )?;
    Ok(())
}

fn json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".into())
}

fn insert_alert(
    c: &mut DbConn,
    cx: &Context<'_>,
    incident_id: &str,
    alert: &NormalizedAlert,
    severity: Severity,
) -> Result<(), AppError> {
    let links: Vec<serde_json::Value> = alert
        .links
        .iter()
        .map(|l| serde_json::json!({"href": l.href, "text": l.text}))
        .collect();
    alerts::insert(
        c,
        &alerts::NewAlert {
            id: &new_id(),
            incident_id,
            fingerprint: &alert.fingerprint,
            title: &alert.title,
            severity: severity.as_str(),
            labels: &json_text(&alert.labels),
            annotations: &json_text(&alert.annotations),
            links: &json_text(&links),
            generator_url: alert.generator_url.as_deref(),
            source: alert.source.as_deref(),
            starts_at: alert.starts_at,
            now: cx.now,
        },
    )?;
    Ok(())
}

fn open_incident(
    c: &mut DbConn,
    cx: &mut Context<'_>,
    alert: &NormalizedAlert,
    key: &str,
) -> Result<AlertResult, AppError> {
    let integration = cx.integration;
    let severity = severity_of(integration, alert);
    let times = severity_levels::response_times(c, severity)?;
    let (ack_deadline, resolve_deadline) = times.deadlines(cx.now);
    let previous = incidents::latest_resolved_by_key(c, &integration.service_id, key)?;
    let recent =
        incidents::count_by_key_since(c, &integration.service_id, key, cx.now - FLAPPING_WINDOW)?;
    let flapping = is_flapping(recent);
    let grouped = !integration.per_alert && alert.group_key.is_some();
    let title = match (&alert.group_title, grouped) {
        (Some(group_title), true) => group_title.as_str(),
        _ => alert.title.as_str(),
    };
    let id = new_id();
    let number = incidents::next_number(c)?;
    incidents::insert(
        c,
        &incidents::NewIncident {
            id: &id,
            number,
            service_id: &integration.service_id,
            integration_id: Some(&integration.id),
            title,
            description: alert.description.as_deref().unwrap_or(""),
            severity,
            dedup_key: Some(key),
            alert_count: 1,
            now: cx.now,
            ack_deadline,
            resolve_deadline,
            previous_incident_id: previous.as_deref(),
            flapping,
            last_alert_at: Some(cx.now),
        },
    )?;
    insert_alert(c, cx, &id, alert, severity)?;
    let mut message = format!("Opened by {} as {severity}: {}", cx.sender, alert.title);
    if previous.is_some() {
        message.push_str(" (this key fired before; see the previous incident)");
    }
    event(c, cx, &id, "created", &message, Some(&alert.fingerprint))?;
    if flapping {
        let message = format!(
            "Flapping: this key opened {} incidents within the last hour",
            recent + 1
        );
        event(c, cx, &id, "flapping", &message, None)?;
    }
    cx.touched.insert(id.clone());
    Ok(result(key, Outcome::Opened, Some((&id, number))))
}

fn attach(
    c: &mut DbConn,
    cx: &mut Context<'_>,
    incident: &Incident,
    alert: &NormalizedAlert,
    key: &str,
) -> Result<AlertResult, AppError> {
    let severity = severity_of(cx.integration, alert);
    let raised = severity < incident.severity;
    let new_severity = incident.severity.most_urgent(severity);
    let outcome = match alerts::find_state(c, &incident.id, &alert.fingerprint)? {
        Some((alert_id, true)) => {
            alerts::record_firing(c, &alert_id, 1, cx.now)?;
            let collapsed = timeline::add_repeats(
                c,
                &incident.id,
                "alert_repeated",
                &alert.fingerprint,
                1,
                cx.now,
            )?;
            if collapsed == 0 {
                let message = format!("Still firing: {}", alert.title);
                event(
                    c,
                    cx,
                    &incident.id,
                    "alert_repeated",
                    &message,
                    Some(&alert.fingerprint),
                )?;
            }
            incidents::record_alerts(c, &incident.id, 0, new_severity, cx.now)?;
            Outcome::Repeated
        }
        Some((alert_id, false)) => {
            alerts::record_firing(c, &alert_id, 1, cx.now)?;
            event(
                c,
                cx,
                &incident.id,
                "alert_refired",
                &format!("Firing again: {}", alert.title),
                Some(&alert.fingerprint),
            )?;
            incidents::record_alerts(c, &incident.id, 0, new_severity, cx.now)?;
            Outcome::Repeated
        }
        None => {
            insert_alert(c, cx, &incident.id, alert, severity)?;
            event(
                c,
                cx,
                &incident.id,
                "alert_attached",
                &format!("Alert joined: {}", alert.title),
                Some(&alert.fingerprint),
            )?;
            incidents::record_alerts(c, &incident.id, 1, new_severity, cx.now)?;
            Outcome::Attached
        }
    };
    if raised {
        // A worse alert makes the whole incident worse; its deadlines follow the new severity.
        let times = severity_levels::response_times(c, new_severity)?;
        let (ack, resolve) = times.deadlines(incident.created_at);
        incidents::set_severity(c, &incident.id, new_severity, ack, resolve, cx.now)?;
        let message = format!(
            "Severity raised from {} to {new_severity} by alert: {}",
            incident.severity, alert.title
        );
        event(c, cx, &incident.id, "severity_changed", &message, None)?;
    }
    cx.touched.insert(incident.id.clone());
    Ok(result(key, outcome, Some((&incident.id, incident.number))))
}

fn resolve_alert(
    c: &mut DbConn,
    cx: &mut Context<'_>,
    incident: &Incident,
    alert: &NormalizedAlert,
    key: &str,
) -> Result<AlertResult, AppError> {
    let found = alerts::find_state(c, &incident.id, &alert.fingerprint)?;
    let Some((alert_id, true)) = found else {
        return Ok(result(
            key,
            Outcome::Ignored,
            Some((&incident.id, incident.number)),
        ));
    };
    alerts::mark_resolved(c, &alert_id, alert.ends_at.unwrap_or(cx.now), cx.now)?;
    event(
        c,
        cx,
        &incident.id,
        "alert_resolved",
        &format!("Alert resolved: {}", alert.title),
        Some(&alert.fingerprint),
    )?;
    cx.touched.insert(incident.id.clone());
    if alerts::count_firing(c, &incident.id)? > 0 {
        incidents::touch(c, &incident.id, cx.now)?;
        return Ok(result(
            key,
            Outcome::AlertResolved,
            Some((&incident.id, incident.number)),
        ));
    }
    let by = incidents::By {
        user_id: None,
        label: &cx.sender,
    };
    incidents::resolve(c, &incident.id, &by, cx.now)?;
    let message = format!("Resolved by {}: every alert has resolved", cx.sender);
    event(c, cx, &incident.id, "resolved", &message, None)?;
    Ok(result(
        key,
        Outcome::IncidentResolved,
        Some((&incident.id, incident.number)),
    ))
}

fn acknowledge(
    c: &mut DbConn,
    cx: &mut Context<'_>,
    incident: &Incident,
    key: &str,
) -> Result<AlertResult, AppError> {
    let by = incidents::By {
        user_id: None,
        label: &cx.sender,
    };
    if incidents::acknowledge(c, &incident.id, &by, cx.now)? == 0 {
        return Ok(result(
            key,
            Outcome::Ignored,
            Some((&incident.id, incident.number)),
        ));
    }
    event(
        c,
        cx,
        &incident.id,
        "acknowledged",
        &format!("Acknowledged by {}", cx.sender),
        None,
    )?;
    cx.touched.insert(incident.id.clone());
    Ok(result(
        key,
        Outcome::Acknowledged,
        Some((&incident.id, incident.number)),
    ))
}

/// A delivery waiting for the writer, with the way back to its HTTP request.
struct Job {
    delivery: Delivery,
    reply: oneshot::Sender<Result<Vec<AlertResult>, AppError>>,
}

/// The group-commit writer: see the module documentation.
#[derive(Clone)]
pub struct IngestQueue {
    tx: mpsc::Sender<Job>,
}

/// At most this many deliveries share one transaction.
const MAX_BATCH: usize = 512;
/// Requests waiting beyond this make new ones wait (backpressure), not grow memory.
const QUEUE_DEPTH: usize = 4096;

impl IngestQueue {
    /// Starts the writer thread. It ends when every handle to the queue is dropped.
    pub fn start(db: Db, clock: Arc<dyn Clock>, events: Events) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let spawned = std::thread::Builder::new()
            .name("lookout-ingest".into())
            .spawn(move || writer(db, clock, events, rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the ingest writer");
        }
        IngestQueue { tx }
    }

    /// Stores a delivery; returns after its transaction committed.
    pub async fn submit(&self, delivery: Delivery) -> Result<Vec<AlertResult>, AppError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job { delivery, reply })
            .await
            .map_err(|_| AppError::Internal("the ingest writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| AppError::Internal("the ingest writer dropped a delivery".into()))?
    }
}

fn writer(db: Db, clock: Arc<dyn Clock>, events: Events, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let now = clock.now();
        let mut touched = BTreeSet::new();
        let outcome = db.get().map_err(AppError::from).and_then(|mut conn| {
            write_tx(&mut conn, |c| -> Result<Vec<Result<Vec<AlertResult>, AppError>>, AppError> {
                let mut results = Vec::with_capacity(jobs.len());
                for job in &jobs {
                    // Each delivery in its own savepoint: a failure undoes only that delivery.
                    let mut mine = BTreeSet::new();
                    let r = c.transaction(|c| apply(c, now, &job.delivery, &mut mine));
                    if r.is_ok() {
                        touched.append(&mut mine);
                    } else if let Err(e) = &r {
                        tracing::error!(error = %e, "a webhook delivery failed and was rolled back");
                    }
                    results.push(r);
                }
                Ok(results)
            })
        });
        match outcome {
            Ok(results) => {
                for id in &touched {
                    events.incident_changed(id);
                }
                for (job, r) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send(r);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, deliveries = jobs.len(), "ingest batch failed; nothing was stored");
                for job in jobs {
                    let _ = job.reply.send(Err(AppError::Internal(format!(
                        "storing alerts failed: {e}"
                    ))));
                }
            }
        }
    }
}
