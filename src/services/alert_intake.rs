//! Alerts in: a parsed webhook delivery becomes incidents, alerts and timeline entries.
//!
//! Deliveries go through [`IngestQueue`]: one writer thread takes every delivery waiting at that
//! moment and applies them all in one transaction (group commit), so a storm of webhooks costs
//! one commit per batch rather than one per request. When a batch fails, it is rolled back and
//! its deliveries are stored again one by one, so only the delivery at fault is refused. A
//! caller hears back only after the commit, so a 2xx always means "stored".

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::db::repo::{alerts, incidents, severity_levels, timeline};
use crate::db::{Db, DbConn, DbError, PooledConn, is_unique_violation, write_tx};
use crate::domain::alert::{AlertAction, NormalizedAlert};
use crate::domain::ids::new_id;
use crate::domain::incident::{FLAPPING_WINDOW, Incident, is_flapping};
use crate::domain::service::Integration;
use crate::domain::severity::Severity;
use crate::error::AppError;
use crate::events::Events;
use crate::services::escalation;

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

/// What one writer transaction knows beyond the database, so that a storm of repeats costs a
/// few statements per batch instead of several per alert.
///
/// Lookups are cached for the transaction's life: nothing else writes these rows meanwhile on
/// SQLite (`BEGIN IMMEDIATE` holds the write lock), and on PostgreSQL the one racy step, opening
/// an incident, is guarded by the unique index. An operation that changes an incident drops its
/// cached copy, so the next alert reads it afresh.
///
/// Repeats of an alert that is already firing are only counted here and written by [`Batch::flush`]:
/// one update of the alert, one of its timeline entry and one of the incident however many
/// repeats arrived. Anything that changes an alert's state flushes first, so order is kept.
struct Batch<'a> {
    now: DateTime<Utc>,
    /// (service id, incident key) -> the open incident, or `None` when there is none.
    open: HashMap<(String, String), Option<Arc<Incident>>>,
    /// (incident id, fingerprint) -> (alert id, firing), for every alert of the incidents in
    /// `alerts_loaded`.
    alert_states: HashMap<(String, String), (String, bool)>,
    alerts_loaded: HashSet<String>,
    /// (incident id, fingerprint) -> repeats not yet written.
    repeats: BTreeMap<(String, String), PendingRepeat>,
    /// Incidents touched, announced after commit.
    touched: &'a mut BTreeSet<String>,
}

struct PendingRepeat {
    alert_id: String,
    count: i64,
    title: String,
    sender: String,
}

impl<'a> Batch<'a> {
    fn new(now: DateTime<Utc>, touched: &'a mut BTreeSet<String>) -> Self {
        Batch {
            now,
            open: HashMap::new(),
            alert_states: HashMap::new(),
            alerts_loaded: HashSet::new(),
            repeats: BTreeMap::new(),
            touched,
        }
    }

    fn open_incident(
        &mut self,
        c: &mut DbConn,
        service_id: &str,
        key: &str,
    ) -> Result<Option<Arc<Incident>>, AppError> {
        let cache_key = (service_id.to_owned(), key.to_owned());
        if let Some(found) = self.open.get(&cache_key) {
            return Ok(found.clone());
        }
        let found = incidents::find_open_by_key(c, service_id, key)?.map(Arc::new);
        self.open.insert(cache_key, found.clone());
        Ok(found)
    }

    fn forget_incident(&mut self, service_id: &str, key: &str) {
        self.open.remove(&(service_id.to_owned(), key.to_owned()));
    }

    fn alert_state(
        &mut self,
        c: &mut DbConn,
        incident_id: &str,
        fingerprint: &str,
    ) -> Result<Option<(String, bool)>, AppError> {
        let cache_key = (incident_id.to_owned(), fingerprint.to_owned());
        if !self.alerts_loaded.contains(incident_id) {
            // One query for all of the incident's alerts, not one per alert: a group's alerts
            // usually arrive together, and on PostgreSQL each query is a round trip.
            for (fp, id, firing) in alerts::states_of_incident(c, incident_id)? {
                self.alert_states
                    .entry((incident_id.to_owned(), fp))
                    .or_insert((id, firing));
            }
            self.alerts_loaded.insert(incident_id.to_owned());
        }
        Ok(self.alert_states.get(&cache_key).cloned())
    }

    fn set_alert_state(&mut self, incident_id: &str, fingerprint: &str, id: String, firing: bool) {
        self.alert_states.insert(
            (incident_id.to_owned(), fingerprint.to_owned()),
            (id, firing),
        );
    }

    fn add_repeat(
        &mut self,
        incident_id: &str,
        alert_id: &str,
        alert: &NormalizedAlert,
        sender: &str,
    ) {
        let pending = self
            .repeats
            .entry((incident_id.to_owned(), alert.fingerprint.clone()))
            .or_insert_with(|| PendingRepeat {
                alert_id: alert_id.to_owned(),
                count: 0,
                title: String::new(),
                sender: String::new(),
            });
        pending.count += 1;
        pending.title.clone_from(&alert.title);
        if pending.sender != sender {
            pending.sender = sender.to_owned();
        }
        self.touched.insert(incident_id.to_owned());
    }

    /// Writes the counted repeats.
    fn flush(&mut self, c: &mut DbConn) -> Result<(), AppError> {
        if self.repeats.is_empty() {
            return Ok(());
        }
        let now = self.now;
        let mut incidents_seen = BTreeSet::new();
        for ((incident_id, fingerprint), pending) in std::mem::take(&mut self.repeats) {
            alerts::record_firing(c, &pending.alert_id, pending.count, now)?;
            let collapsed = timeline::add_repeats(
                c,
                &incident_id,
                "alert_repeated",
                &fingerprint,
                pending.count,
                now,
            )?;
            if collapsed == 0 {
                insert_event(
                    c,
                    now,
                    &pending.sender,
                    &incident_id,
                    "alert_repeated",
                    &format!("Still firing: {}", pending.title),
                    Some(&fingerprint),
                    pending.count,
                )?;
            }
            incidents_seen.insert(incident_id);
        }
        for incident_id in incidents_seen {
            incidents::record_repeats(c, &incident_id, now)?;
        }
        Ok(())
    }
}

/// One delivery's view: which integration sent it and how it is named on timelines.
struct Sender<'a> {
    integration: &'a Integration,
    /// "Alertmanager (prod)".
    name: String,
}

impl<'a> Sender<'a> {
    fn new(integration: &'a Integration) -> Self {
        let name = if integration.name == integration.kind.display_name() {
            integration.kind.display_name().to_owned()
        } else {
            format!("{} ({})", integration.kind.display_name(), integration.name)
        };
        Sender { integration, name }
    }
}

/// Applies deliveries inside the caller's transaction, one result list per delivery. An error
/// means the transaction must be rolled back: nothing of any delivery may be kept.
pub fn apply_batch(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    deliveries: &[&Delivery],
    touched: &mut BTreeSet<String>,
) -> Result<Vec<Vec<AlertResult>>, AppError> {
    let mut batch = Batch::new(now, touched);
    let mut results = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        let sender = Sender::new(&delivery.integration);
        let mut mine = Vec::with_capacity(delivery.alerts.len());
        for alert in &delivery.alerts {
            let key = incident_key(&delivery.integration, alert);
            mine.push(apply_alert(conn, &mut batch, &sender, alert, &key)?);
        }
        results.push(mine);
    }
    batch.flush(conn)?;
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
    batch: &mut Batch<'_>,
    sender: &Sender<'_>,
    alert: &NormalizedAlert,
    key: &str,
) -> Result<AlertResult, AppError> {
    let service_id = &sender.integration.service_id;
    let open = batch.open_incident(c, service_id, key)?;
    match (alert.action, open) {
        (AlertAction::Trigger, Some(incident)) => {
            let severity = severity_of(sender.integration, alert);
            if severity >= incident.severity
                && let Some((alert_id, true)) =
                    batch.alert_state(c, &incident.id, &alert.fingerprint)?
            {
                // The hot path of a storm: a known alert, still firing, no worse than before.
                batch.add_repeat(&incident.id, &alert_id, alert, &sender.name);
                return Ok(result(
                    key,
                    Outcome::Repeated,
                    Some((&incident.id, incident.number)),
                ));
            }
            batch.flush(c)?;
            batch.forget_incident(service_id, key);
            attach(c, batch, sender, &incident, alert, key)
        }
        (AlertAction::Trigger, None) => {
            // Another instance may open the same incident first (PostgreSQL): the unique index
            // refuses ours, the savepoint undoes it, and the alert attaches to theirs.
            batch.forget_incident(service_id, key);
            let now = batch.now;
            let opened = c.transaction(|c| open_incident(c, now, sender, alert, key));
            match opened {
                Ok((outcome, alert_id)) => {
                    if let Some(id) = &outcome.incident_id {
                        batch.set_alert_state(id, &alert.fingerprint, alert_id, true);
                        batch.touched.insert(id.clone());
                    }
                    Ok(outcome)
                }
                Err(AppError::Db(DbError::Query(e))) if is_unique_violation(&e) => {
                    match incidents::find_open_by_key(c, service_id, key)? {
                        Some(incident) => {
                            batch.flush(c)?;
                            attach(c, batch, sender, &incident, alert, key)
                        }
                        None => Err(AppError::Db(DbError::Query(e))),
                    }
                }
                Err(e) => Err(e),
            }
        }
        (AlertAction::Resolve, Some(incident)) => {
            batch.flush(c)?;
            batch.forget_incident(service_id, key);
            resolve_alert(c, batch, sender, &incident, alert, key)
        }
        (AlertAction::Acknowledge, Some(incident)) => {
            batch.flush(c)?;
            batch.forget_incident(service_id, key);
            acknowledge(c, batch, sender, &incident, key)
        }
        (_, None) => Ok(result(key, Outcome::Ignored, None)),
    }
}

#[allow(clippy::too_many_arguments)]
fn insert_event(
    c: &mut DbConn,
    now: DateTime<Utc>,
    actor: &str,
    incident_id: &str,
    kind: &str,
    message: &str,
    fingerprint: Option<&str>,
    repeats: i64,
) -> Result<(), AppError> {
    timeline::insert(
        c,
        &timeline::NewEntry {
            id: &new_id(),
            incident_id,
            kind,
            actor_id: None,
            actor,
            message,
            alert_fingerprint: fingerprint,
            repeats,
            now,
        },
    )?;
    Ok(())
}

fn event(
    c: &mut DbConn,
    now: DateTime<Utc>,
    sender: &Sender<'_>,
    incident_id: &str,
    kind: &str,
    message: &str,
    fingerprint: Option<&str>,
) -> Result<(), AppError> {
    insert_event(
        c,
        now,
        &sender.name,
        incident_id,
        kind,
        message,
        fingerprint,
        1,
    )
}

fn json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".into())
}

/// Stores a new alert; returns its id.
fn insert_alert(
    c: &mut DbConn,
    now: DateTime<Utc>,
    incident_id: &str,
    alert: &NormalizedAlert,
    severity: Severity,
) -> Result<String, AppError> {
    let links: Vec<serde_json::Value> = alert
        .links
        .iter()
        .map(|l| serde_json::json!({"href": l.href, "text": l.text}))
        .collect();
    let id = new_id();
    alerts::insert(
        c,
        &alerts::NewAlert {
            id: &id,
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
            now,
        },
    )?;
    Ok(id)
}

/// Opens an incident for the alert; returns the result and the new alert's id.
fn open_incident(
    c: &mut DbConn,
    now: DateTime<Utc>,
    sender: &Sender<'_>,
    alert: &NormalizedAlert,
    key: &str,
) -> Result<(AlertResult, String), AppError> {
    let integration = sender.integration;
    let severity = severity_of(integration, alert);
    let times = severity_levels::response_times(c, severity)?;
    let (ack_deadline, resolve_deadline) = times.deadlines(now);
    let previous = incidents::latest_resolved_by_key(c, &integration.service_id, key)?;
    let recent =
        incidents::count_by_key_since(c, &integration.service_id, key, now - FLAPPING_WINDOW)?;
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
            now,
            ack_deadline,
            resolve_deadline,
            previous_incident_id: previous.as_deref(),
            flapping,
            last_alert_at: Some(now),
        },
    )?;
    escalation::plan_opened(
        c,
        &escalation::Opened {
            incident_id: &id,
            service_id: &integration.service_id,
            ack_deadline,
            resolve_deadline,
        },
        now,
    )?;
    let alert_id = insert_alert(c, now, &id, alert, severity)?;
    let mut message = format!("Opened by {} as {severity}: {}", sender.name, alert.title);
    if previous.is_some() {
        message.push_str(" (this key fired before; see the previous incident)");
    }
    event(
        c,
        now,
        sender,
        &id,
        "created",
        &message,
        Some(&alert.fingerprint),
    )?;
    if flapping {
        let message = format!(
            "Flapping: this key opened {} incidents within the last hour",
            recent + 1
        );
        event(c, now, sender, &id, "flapping", &message, None)?;
    }
    Ok((result(key, Outcome::Opened, Some((&id, number))), alert_id))
}

fn attach(
    c: &mut DbConn,
    batch: &mut Batch<'_>,
    sender: &Sender<'_>,
    incident: &Incident,
    alert: &NormalizedAlert,
    key: &str,
) -> Result<AlertResult, AppError> {
    let now = batch.now;
    let severity = severity_of(sender.integration, alert);
    let raised = severity < incident.severity;
    let new_severity = incident.severity.most_urgent(severity);
    let outcome = match batch.alert_state(c, &incident.id, &alert.fingerprint)? {
        Some((alert_id, true)) => {
            // Firing already, but worse than the incident: the repeat is written now, not at
            // the end of the batch, because the severity change below belongs after it.
            batch.add_repeat(&incident.id, &alert_id, alert, &sender.name);
            batch.flush(c)?;
            incidents::record_alerts(c, &incident.id, 0, new_severity, now)?;
            Outcome::Repeated
        }
        Some((alert_id, false)) => {
            alerts::record_firing(c, &alert_id, 1, now)?;
            event(
                c,
                now,
                sender,
                &incident.id,
                "alert_refired",
                &format!("Firing again: {}", alert.title),
                Some(&alert.fingerprint),
            )?;
            incidents::record_alerts(c, &incident.id, 0, new_severity, now)?;
            batch.set_alert_state(&incident.id, &alert.fingerprint, alert_id, true);
            Outcome::Repeated
        }
        None => {
            let alert_id = insert_alert(c, now, &incident.id, alert, severity)?;
            event(
                c,
                now,
                sender,
                &incident.id,
                "alert_attached",
                &format!("Alert joined: {}", alert.title),
                Some(&alert.fingerprint),
            )?;
            incidents::record_alerts(c, &incident.id, 1, new_severity, now)?;
            batch.set_alert_state(&incident.id, &alert.fingerprint, alert_id, true);
            Outcome::Attached
        }
    };
    if raised {
        // A worse alert makes the whole incident worse; its deadlines follow the new severity.
        let times = severity_levels::response_times(c, new_severity)?;
        let (ack, resolve) = times.deadlines(incident.created_at);
        incidents::set_severity(c, &incident.id, new_severity, ack, resolve, now)?;
        escalation::plan_deadlines(c, &incident.id, ack, resolve)?;
        let message = format!(
            "Severity raised from {} to {new_severity} by alert: {}",
            incident.severity, alert.title
        );
        event(
            c,
            now,
            sender,
            &incident.id,
            "severity_changed",
            &message,
            None,
        )?;
    }
    batch.touched.insert(incident.id.clone());
    Ok(result(key, outcome, Some((&incident.id, incident.number))))
}

fn resolve_alert(
    c: &mut DbConn,
    batch: &mut Batch<'_>,
    sender: &Sender<'_>,
    incident: &Incident,
    alert: &NormalizedAlert,
    key: &str,
) -> Result<AlertResult, AppError> {
    let now = batch.now;
    let found = batch.alert_state(c, &incident.id, &alert.fingerprint)?;
    let Some((alert_id, true)) = found else {
        return Ok(result(
            key,
            Outcome::Ignored,
            Some((&incident.id, incident.number)),
        ));
    };
    alerts::mark_resolved(c, &alert_id, alert.ends_at.unwrap_or(now), now)?;
    batch.set_alert_state(&incident.id, &alert.fingerprint, alert_id, false);
    event(
        c,
        now,
        sender,
        &incident.id,
        "alert_resolved",
        &format!("Alert resolved: {}", alert.title),
        Some(&alert.fingerprint),
    )?;
    batch.touched.insert(incident.id.clone());
    if alerts::count_firing(c, &incident.id)? > 0 {
        incidents::touch(c, &incident.id, now)?;
        return Ok(result(
            key,
            Outcome::AlertResolved,
            Some((&incident.id, incident.number)),
        ));
    }
    let by = incidents::By {
        user_id: None,
        label: &sender.name,
    };
    incidents::resolve(c, &incident.id, &by, now)?;
    escalation::plan_resolved(c, &incident.id, now)?;
    let message = format!("Resolved by {}: every alert has resolved", sender.name);
    event(c, now, sender, &incident.id, "resolved", &message, None)?;
    Ok(result(
        key,
        Outcome::IncidentResolved,
        Some((&incident.id, incident.number)),
    ))
}

fn acknowledge(
    c: &mut DbConn,
    batch: &mut Batch<'_>,
    sender: &Sender<'_>,
    incident: &Incident,
    key: &str,
) -> Result<AlertResult, AppError> {
    let by = incidents::By {
        user_id: None,
        label: &sender.name,
    };
    if incidents::acknowledge(c, &incident.id, &by, batch.now)? == 0 {
        return Ok(result(
            key,
            Outcome::Ignored,
            Some((&incident.id, incident.number)),
        ));
    }
    escalation::plan_acknowledged(c, &incident.id, batch.now)?;
    event(
        c,
        batch.now,
        sender,
        &incident.id,
        "acknowledged",
        &format!("Acknowledged by {}", sender.name),
        None,
    )?;
    batch.touched.insert(incident.id.clone());
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
    /// `engine` is woken when a batch opened an incident: its first escalation step is due now.
    pub fn start(
        db: Db,
        clock: Arc<dyn Clock>,
        events: Events,
        engine: Arc<crate::scheduler::EngineWake>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let spawned = std::thread::Builder::new()
            .name("lookout-ingest".into())
            .spawn(move || writer(db, clock, events, engine, rx));
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

fn writer(
    db: Db,
    clock: Arc<dyn Clock>,
    events: Events,
    engine: Arc<crate::scheduler::EngineWake>,
    mut rx: mpsc::Receiver<Job>,
) {
    // The writer keeps one connection, so its prepared statements stay cached between batches;
    // after an error it takes a fresh one.
    let mut held: Option<PooledConn> = None;
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let now = clock.now();
        let deliveries: Vec<&Delivery> = jobs.iter().map(|j| &j.delivery).collect();
        let mut touched = BTreeSet::new();
        let together = store(&db, &mut held, now, &deliveries, &mut touched);
        let replies: Vec<Result<Vec<AlertResult>, AppError>> = match together {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(e) if deliveries.len() == 1 => {
                tracing::error!(error = %e, "a webhook delivery failed and was rolled back");
                vec![Err(e)]
            }
            Err(e) => {
                // One bad delivery must not fail the others: the whole batch was rolled back, so
                // each delivery now goes alone, and only the one that fails again is refused.
                tracing::warn!(error = %e, deliveries = deliveries.len(), "ingest batch failed; storing its deliveries one by one");
                touched.clear();
                deliveries
                    .iter()
                    .map(|delivery| {
                        let mut mine = BTreeSet::new();
                        let r = store(&db, &mut held, now, &[delivery], &mut mine)
                            .map(|mut r| r.pop().unwrap_or_default());
                        match &r {
                            Ok(_) => touched.append(&mut mine),
                            Err(e) => tracing::error!(error = %e, "a webhook delivery failed and was rolled back"),
                        }
                        r
                    })
                    .collect()
            }
        };
        for id in &touched {
            events.incident_changed(id);
        }
        let opened = replies
            .iter()
            .flatten()
            .flatten()
            .any(|r| r.outcome == Outcome::Opened);
        if opened {
            engine.notify_one();
        }
        for (job, reply) in jobs.into_iter().zip(replies) {
            let _ = job.reply.send(reply);
        }
    }
}

/// One write transaction for `deliveries`; all of them are kept or none.
fn store(
    db: &Db,
    held: &mut Option<PooledConn>,
    now: DateTime<Utc>,
    deliveries: &[&Delivery],
    touched: &mut BTreeSet<String>,
) -> Result<Vec<Vec<AlertResult>>, AppError> {
    let conn = match held {
        Some(conn) => conn,
        None => held.insert(db.get()?),
    };
    let stored = write_tx(conn, |c| apply_batch(c, now, deliveries, touched));
    if stored.is_err() {
        *held = None;
    }
    stored
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;
    use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};

    use super::*;
    use crate::config::DatabaseUrl;
    use crate::db::repo::{integrations, services};
    use crate::db::schema;
    use crate::domain::incident::IncidentStatus;
    use crate::domain::incident::IntegrationKind;
    use crate::domain::severity::SeverityMapping;

    struct Fixture {
        _dir: tempfile::TempDir,
        conn: DbConn,
        integration: Integration,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = DatabaseUrl::Sqlite {
            path: dir.path().join("t.db").display().to_string(),
        };
        let mut conn = crate::db::establish(&url).expect("connect");
        crate::db::migrations::run(&mut conn).expect("migrate");
        let now = at(0);
        services::insert(
            &mut conn,
            &services::NewService {
                id: "svc",
                name: "Checkout",
                description: "",
                owner_id: None,
                escalation_policy_id: None,
                webhook_url: None,
                webhook_format: "json",
                webhook_secret: None,
                now,
            },
        )
        .expect("service");
        integrations::insert(
            &mut conn,
            &integrations::NewIntegration {
                id: "int",
                service_id: "svc",
                kind: IntegrationKind::Alertmanager,
                name: "Alertmanager",
                key_hash: "hash",
                key_prefix: "prefix",
                mapping: &SeverityMapping::default(),
                now,
            },
        )
        .expect("integration");
        let integration = integrations::find(&mut conn, "int")
            .expect("query")
            .expect("integration stored");
        Fixture {
            _dir: dir,
            conn,
            integration,
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0)
            .single()
            .expect("time")
            + chrono::Duration::seconds(seconds)
    }

    fn alert(fingerprint: &str, action: AlertAction, severity: &str) -> NormalizedAlert {
        let labels = BTreeMap::from([
            ("alertname".to_owned(), "HighLatency".to_owned()),
            ("severity".to_owned(), severity.to_owned()),
        ]);
        NormalizedAlert {
            group_key: Some("{}:{alertname=\"HighLatency\"}".into()),
            fingerprint: fingerprint.into(),
            action,
            title: format!("latency high on {fingerprint}"),
            group_title: Some("HighLatency".into()),
            description: None,
            severity: None,
            labels,
            annotations: BTreeMap::new(),
            links: Vec::new(),
            generator_url: None,
            source: None,
            starts_at: None,
            ends_at: None,
        }
    }

    fn delivery(integration: &Integration, alerts: Vec<NormalizedAlert>) -> Delivery {
        Delivery {
            integration: integration.clone(),
            alerts,
        }
    }

    fn run(f: &mut Fixture, now: DateTime<Utc>, deliveries: &[Delivery]) -> Vec<Vec<Outcome>> {
        let refs: Vec<&Delivery> = deliveries.iter().collect();
        let mut touched = BTreeSet::new();
        let results = write_tx(&mut f.conn, |c| apply_batch(c, now, &refs, &mut touched))
            .expect("batch stored");
        results
            .into_iter()
            .map(|r| r.into_iter().map(|a| a.outcome).collect())
            .collect()
    }

    fn occurrences(f: &mut Fixture, fingerprint: &str) -> (i64, String) {
        schema::alerts::table
            .filter(schema::alerts::fingerprint.eq(fingerprint))
            .select((schema::alerts::occurrences, schema::alerts::status))
            .first(&mut f.conn)
            .expect("alert")
    }

    fn timeline_kinds(f: &mut Fixture) -> Vec<(String, i64)> {
        schema::incident_events::table
            .order(schema::incident_events::id)
            .select((
                schema::incident_events::kind,
                schema::incident_events::repeats,
            ))
            .load(&mut f.conn)
            .expect("timeline")
    }

    #[test]
    fn repeats_in_one_batch_are_counted_once_each() {
        let mut f = fixture();
        let i = f.integration.clone();
        let d = |fp: &str| delivery(&i, vec![alert(fp, AlertAction::Trigger, "warning")]);
        let first = vec![d("a"), d("a"), d("b"), d("a")];
        let outcomes = run(&mut f, at(0), &first);
        use Outcome::*;
        assert_eq!(
            outcomes,
            vec![vec![Opened], vec![Repeated], vec![Attached], vec![Repeated]]
        );
        assert_eq!(occurrences(&mut f, "a").0, 3);
        assert_eq!(occurrences(&mut f, "b").0, 1);
        // A later batch adds to the same collapsed timeline entry.
        let again = vec![d("a"), d("b"), d("a")];
        run(&mut f, at(60), &again);
        assert_eq!(occurrences(&mut f, "a").0, 5);
        assert_eq!(occurrences(&mut f, "b").0, 2);
        let kinds = timeline_kinds(&mut f);
        let repeated: Vec<i64> = kinds
            .iter()
            .filter(|(k, _)| k == "alert_repeated")
            .map(|(_, n)| *n)
            .collect();
        // a: 2 repeats in the first batch + 2 in the second; b: 1 in the second.
        assert_eq!(repeated.iter().sum::<i64>(), 5, "{kinds:?}");
        assert_eq!(
            repeated.len(),
            2,
            "one collapsed entry per alert: {kinds:?}"
        );
        let incident = incidents::find_by_number(&mut f.conn, 1)
            .expect("query")
            .expect("incident 1");
        assert_eq!(incident.alert_count, 2);
        assert_eq!(incident.last_alert_at, Some(at(60)));
    }

    #[test]
    fn a_resolve_after_repeats_in_the_same_batch_stays_resolved() {
        let mut f = fixture();
        let i = f.integration.clone();
        let fire = || delivery(&i, vec![alert("a", AlertAction::Trigger, "warning")]);
        let resolve = || delivery(&i, vec![alert("a", AlertAction::Resolve, "warning")]);
        run(&mut f, at(0), &[fire()]);
        let outcomes = run(&mut f, at(30), &[fire(), fire(), resolve()]);
        assert_eq!(
            outcomes,
            vec![
                vec![Outcome::Repeated],
                vec![Outcome::Repeated],
                vec![Outcome::IncidentResolved]
            ]
        );
        assert_eq!(occurrences(&mut f, "a"), (3, "resolved".to_owned()));
        let incident = incidents::find_by_number(&mut f.conn, 1)
            .expect("query")
            .expect("incident 1");
        assert_eq!(incident.status, IncidentStatus::Resolved);
        let kinds: Vec<String> = timeline_kinds(&mut f).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            kinds,
            ["created", "alert_repeated", "alert_resolved", "resolved"]
        );
        // Firing again in the same batch as its resolution opens a new, linked incident.
        let outcomes = run(&mut f, at(90), &[resolve(), fire(), fire()]);
        assert_eq!(
            outcomes,
            vec![
                vec![Outcome::Ignored],
                vec![Outcome::Opened],
                vec![Outcome::Repeated]
            ]
        );
        let second = incidents::find_by_number(&mut f.conn, 2)
            .expect("query")
            .expect("incident 2");
        assert_eq!(second.previous_incident_id, Some(incident.id));
    }

    #[test]
    fn a_worse_repeat_raises_the_incident_at_once() {
        let mut f = fixture();
        let i = f.integration.clone();
        run(
            &mut f,
            at(0),
            &[delivery(
                &i,
                vec![alert("a", AlertAction::Trigger, "warning")],
            )],
        );
        let outcomes = run(
            &mut f,
            at(10),
            &[
                delivery(&i, vec![alert("a", AlertAction::Trigger, "warning")]),
                delivery(&i, vec![alert("a", AlertAction::Trigger, "critical")]),
                delivery(&i, vec![alert("a", AlertAction::Trigger, "warning")]),
            ],
        );
        assert!(outcomes.iter().all(|o| o == &vec![Outcome::Repeated]));
        let incident = incidents::find_by_number(&mut f.conn, 1)
            .expect("query")
            .expect("incident 1");
        assert_eq!(incident.severity, Severity::P1);
        assert_eq!(occurrences(&mut f, "a").0, 4);
        let raised = timeline_kinds(&mut f)
            .iter()
            .filter(|(k, _)| k == "severity_changed")
            .count();
        assert_eq!(raised, 1);
    }
}
