//! Escalation: policies (who is paged, in what order), the due work an incident carries (its
//! steps and its deadlines), and one pass of the engine over what has fallen due.
//!
//! Due work is rows in `escalation_jobs`, written by `plan_*` in the same transaction as the
//! change that causes it. `run_due` claims due rows, decides each with `domain::escalation`, and
//! writes the outcome (timeline, breach mark, next step, outbox rows) in the transaction that
//! marks the row done: a step either happened completely or not at all, and never twice.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::DbConn;
use crate::db::is_unique_violation;
use crate::db::repo::escalation::{self as repo, JobRow, NewJob, NewNotification, NewPolicy};
use crate::db::repo::{
    from_db, incidents, services as service_repo, severity_levels, timeline, users,
};
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::escalation::{
    DeadlineDecision, JobKind, Policy, RetriggerDecision, Step, StepDecision, Target,
    decide_deadline, decide_retrigger, decide_step, delay_reason,
};
use crate::domain::ids::{is_valid_id, new_id};
use crate::domain::incident::Incident;
use crate::domain::user::User;
use crate::domain::validation::{FieldErrors, bounded_text};
use crate::error::AppError;
use crate::services::audit;
use crate::services::schedules;
use crate::state::AppState;

/// Rows one transaction of the engine takes at most; more wait for the next round of the loop.
const CLAIM_BATCH: i64 = 100;

// ---------------------------------------------------------------------------------------------
// Policies

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TargetInput {
    /// By e-mail address (or id).
    User { email: String },
    /// By id (or name).
    Schedule { id: String },
}

#[derive(Debug, Clone, Deserialize)]
pub struct StepInput {
    pub delay_minutes: u32,
    pub targets: Vec<TargetInput>,
}

#[derive(Debug, Clone, Default)]
pub struct PolicyInput {
    pub name: String,
    pub description: String,
    pub repeat: u32,
    pub steps: Vec<StepInput>,
    /// Acknowledged incidents with no activity for their acknowledge window page again.
    pub retrigger_stale_ack: bool,
}

/// Stored form of a step: targets by id.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredStep {
    delay_minutes: u32,
    targets: Vec<Target>,
}

/// A policy with the names of what it points at, for pages and the API.
#[derive(Debug, Clone)]
pub struct PolicyDetail {
    pub id: String,
    pub name: String,
    pub description: String,
    pub policy: Policy,
    pub retrigger_stale_ack: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Services that follow it, by name.
    pub services: Vec<String>,
    /// Target id -> (e-mail or "", display name).
    pub names: HashMap<String, (String, String)>,
}

impl PolicyDetail {
    pub fn target_name(&self, target: &Target) -> String {
        target_name(&self.names, target)
    }

    pub fn target_email(&self, target: &Target) -> Option<String> {
        match target {
            Target::User(id) => self.names.get(id).map(|(email, _)| email.clone()),
            Target::Schedule(_) => None,
        }
    }
}

fn target_name(names: &HashMap<String, (String, String)>, target: &Target) -> String {
    let id = match target {
        Target::User(id) | Target::Schedule(id) => id,
    };
    names
        .get(id)
        .map(|(_, name)| name.clone())
        .unwrap_or_else(|| "(removed)".into())
}

fn steps_json(steps: &[Step]) -> Result<String, AppError> {
    let stored: Vec<StoredStep> = steps
        .iter()
        .map(|s| StoredStep {
            delay_minutes: s.delay_minutes,
            targets: s.targets.clone(),
        })
        .collect();
    serde_json::to_string(&stored).map_err(|e| AppError::Internal(e.to_string()))
}

fn policy_of(row: &repo::PolicyRow) -> Result<Policy, AppError> {
    let stored: Vec<StoredStep> = serde_json::from_str(&row.steps)
        .map_err(|e| AppError::Internal(format!("escalation policy {} is corrupt: {e}", row.id)))?;
    Ok(Policy {
        steps: stored
            .into_iter()
            .map(|s| Step {
                delay_minutes: s.delay_minutes,
                targets: s.targets,
            })
            .collect(),
        repeat: u32::try_from(row.repeat_count).unwrap_or(0),
    })
}

/// Target id -> (e-mail or "", display name), for what a policy points at.
fn target_names(
    c: &mut DbConn,
    policy: &Policy,
) -> Result<HashMap<String, (String, String)>, AppError> {
    let mut names = HashMap::new();
    for target in policy.steps.iter().flat_map(|s| &s.targets) {
        match target {
            Target::User(id) => {
                if let Some(u) = users::find(c, id)? {
                    names.insert(id.clone(), (u.email, u.name));
                }
            }
            Target::Schedule(id) => {
                if let Some(s) = crate::db::repo::schedules::find(c, id)? {
                    names.insert(id.clone(), (String::new(), s.name));
                }
            }
        }
    }
    Ok(names)
}

fn detail(c: &mut DbConn, row: repo::PolicyRow) -> Result<PolicyDetail, AppError> {
    let policy = policy_of(&row)?;
    let names = target_names(c, &policy)?;
    Ok(PolicyDetail {
        services: repo::services_following(c, &row.id)?,
        id: row.id,
        name: row.name,
        description: row.description,
        policy,
        retrigger_stale_ack: row.retrigger_stale_ack,
        version: row.version,
        created_at: from_db(row.created_at),
        updated_at: from_db(row.updated_at),
        names,
    })
}

struct ValidPolicy {
    name: String,
    description: String,
    policy: Policy,
}

fn validate(c: &mut DbConn, input: &PolicyInput) -> Result<ValidPolicy, AppError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", bounded_text(&input.name, "the name", 120));
    let description = if input.description.trim().is_empty() {
        Some(String::new())
    } else {
        errors.check(
            "description",
            bounded_text(&input.description, "the description", 2000),
        )
    };
    let mut steps = Vec::new();
    for (i, step) in input.steps.iter().enumerate() {
        let mut targets = Vec::new();
        for target in &step.targets {
            match target {
                TargetInput::User { email } => {
                    let raw = email.trim();
                    let found = if raw.contains('@') {
                        users::find_by_email(c, &raw.to_lowercase())?
                    } else if is_valid_id(raw) {
                        users::find(c, raw)?
                    } else {
                        None
                    };
                    match found.filter(|u| u.active) {
                        Some(u) => targets.push(Target::User(u.id)),
                        None => errors.add(
                            "steps",
                            format!("step {}: '{raw}' is not an active user", i + 1),
                        ),
                    }
                }
                TargetInput::Schedule { id } => {
                    let raw = id.trim();
                    let found = if is_valid_id(raw) {
                        crate::db::repo::schedules::find(c, raw)?
                    } else {
                        crate::db::repo::schedules::find_by_name(c, raw)?
                    };
                    match found {
                        Some(s) => targets.push(Target::Schedule(s.id)),
                        None => errors.add(
                            "steps",
                            format!("step {}: there is no schedule '{raw}'", i + 1),
                        ),
                    }
                }
            }
        }
        steps.push(Step {
            delay_minutes: step.delay_minutes,
            targets,
        });
    }
    let policy = Policy {
        steps,
        repeat: input.repeat,
    };
    if errors.is_empty()
        && let Err(e) = policy.check()
    {
        let field = if matches!(e, crate::domain::escalation::PolicyError::BadRepeat) {
            "repeat"
        } else {
            "steps"
        };
        errors.add(field, e.to_string());
    }
    match (name, description) {
        (Some(name), Some(description)) if errors.is_empty() => Ok(ValidPolicy {
            name,
            description,
            policy,
        }),
        _ => Err(AppError::Invalid(errors)),
    }
}

fn name_taken() -> AppError {
    AppError::invalid("name", "a policy with this name already exists")
}

pub async fn create(
    st: &AppState,
    actor: &Actor,
    input: &PolicyInput,
) -> Result<PolicyDetail, AppError> {
    let (input, actor, now) = (input.clone(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            let valid = validate(c, &input)?;
            if repo::find_policy_by_name(c, &valid.name)?.is_some() {
                return Err(name_taken());
            }
            let id = new_id();
            let steps = steps_json(&valid.policy.steps)?;
            let inserted = repo::insert_policy(
                c,
                &NewPolicy {
                    id: &id,
                    name: &valid.name,
                    description: &valid.description,
                    repeat: i32::try_from(valid.policy.repeat).unwrap_or(0),
                    steps: &steps,
                    retrigger_stale_ack: input.retrigger_stale_ack,
                    now,
                },
            );
            match inserted {
                Err(e) if is_unique_violation(&e) => return Err(name_taken()),
                other => other?,
            }
            audit::record(
                c,
                now,
                &actor,
                AuditAction::EscalationPolicyCreated,
                Some(("escalation_policy", &id)),
                &format!("policy '{}'", valid.name),
            )?;
            let row = repo::find_policy(c, &id)?.ok_or(AppError::NotFound)?;
            detail(c, row)
        })
        .await
}

/// Replaces a policy. Incidents already escalating follow the new steps from their next step on.
pub async fn update(
    st: &AppState,
    actor: &Actor,
    id: &str,
    input: &PolicyInput,
    expected_version: Option<i64>,
) -> Result<PolicyDetail, AppError> {
    let (id, input, actor, now) = (id.to_owned(), input.clone(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            if !is_valid_id(&id) {
                return Err(AppError::NotFound);
            }
            let current = repo::find_policy(c, &id)?.ok_or(AppError::NotFound)?;
            let valid = validate(c, &input)?;
            if let Some(other) = repo::find_policy_by_name(c, &valid.name)?
                && other.id != id
            {
                return Err(name_taken());
            }
            let steps = steps_json(&valid.policy.steps)?;
            let changed = repo::update_policy(
                c,
                expected_version.unwrap_or(current.version),
                &NewPolicy {
                    id: &id,
                    name: &valid.name,
                    description: &valid.description,
                    repeat: i32::try_from(valid.policy.repeat).unwrap_or(0),
                    steps: &steps,
                    retrigger_stale_ack: input.retrigger_stale_ack,
                    now,
                },
            );
            match changed {
                Err(e) if is_unique_violation(&e) => return Err(name_taken()),
                Ok(0) => {
                    return Err(AppError::Conflict(
                        "someone else changed this policy meanwhile; reload it and apply your change again".into(),
                    ));
                }
                other => {
                    other?;
                }
            }
            audit::record(
                c,
                now,
                &actor,
                AuditAction::EscalationPolicyUpdated,
                Some(("escalation_policy", &id)),
                &format!("policy '{}'", valid.name),
            )?;
            let row = repo::find_policy(c, &id)?.ok_or(AppError::NotFound)?;
            detail(c, row)
        })
        .await
}

pub async fn get(st: &AppState, id: &str) -> Result<PolicyDetail, AppError> {
    let id = id.to_owned();
    st.db
        .read(move |c| {
            if !is_valid_id(&id) {
                return Err(AppError::NotFound);
            }
            let row = repo::find_policy(c, &id)?.ok_or(AppError::NotFound)?;
            detail(c, row)
        })
        .await
}

pub async fn list(st: &AppState) -> Result<Vec<PolicyDetail>, AppError> {
    st.db
        .read(|c| {
            repo::list_policies(c)?
                .into_iter()
                .map(|row| detail(c, row))
                .collect()
        })
        .await
}

/// (id, name) of every policy, for pickers.
pub async fn choices(st: &AppState) -> Result<Vec<(String, String)>, AppError> {
    st.db
        .read(|c| {
            Ok(repo::list_policies(c)?
                .into_iter()
                .map(|p| (p.id, p.name))
                .collect())
        })
        .await
}

/// Whether a policy id names a policy (for services pointing at one).
pub(crate) fn policy_exists(c: &mut DbConn, id: &str) -> Result<bool, AppError> {
    Ok(is_valid_id(id) && repo::find_policy(c, id)?.is_some())
}

// ---------------------------------------------------------------------------------------------
// Planning: called inside the transactions that change incidents.

/// A new incident, as far as escalation cares.
pub(crate) struct Opened<'a> {
    pub incident_id: &'a str,
    pub service_id: &'a str,
    pub ack_deadline: DateTime<Utc>,
    pub resolve_deadline: DateTime<Utc>,
}

/// An incident opened: its deadlines become due work, and step 1 of its service's policy is due
/// at once.
pub(crate) fn plan_opened(
    c: &mut DbConn,
    opened: &Opened<'_>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let mut jobs = vec![
        (JobKind::AckSla, opened.ack_deadline),
        (JobKind::ResolveSla, opened.resolve_deadline),
    ];
    if repo::policy_of_service(c, opened.service_id)?.is_some() {
        jobs.push((JobKind::Step, now));
    }
    announce(
        c,
        opened.incident_id,
        opened.service_id,
        "opened",
        "0",
        "opened",
        now,
    )?;
    for (kind, due) in jobs {
        repo::insert_job(
            c,
            &NewJob {
                id: &new_id(),
                incident_id: opened.incident_id,
                kind: kind.as_str(),
                cycle: 0,
                step: 0,
                due,
                reason: "",
                now,
            },
        )?;
    }
    Ok(())
}

/// Acknowledged: no more steps, and the acknowledge deadline is met. When the policy says so,
/// the acknowledgement is checked for staleness one acknowledge window later.
pub(crate) fn plan_acknowledged(
    c: &mut DbConn,
    incident_id: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    repo::cancel_jobs(
        c,
        incident_id,
        &[JobKind::Step.as_str(), JobKind::AckSla.as_str()],
        now,
    )?;
    // Reminders waiting for their time ("again after 5 min if still unacknowledged") go too.
    repo::cancel_pages(c, incident_id, now)?;
    let Some(incident) = incidents::find(c, incident_id)? else {
        return Ok(());
    };
    let cycle = repo::current_cycle(c, incident_id)?.to_string();
    let by = incident.acknowledged_by.as_deref().unwrap_or("someone");
    announce(
        c,
        incident_id,
        &incident.service_id,
        "acknowledged",
        &cycle,
        &format!("acknowledged by {by}"),
        now,
    )?;
    let stale_check =
        repo::policy_of_service(c, &incident.service_id)?.is_some_and(|p| p.retrigger_stale_ack);
    if stale_check {
        let window = severity_levels::response_times(c, incident.severity)?.ack_within;
        schedule_once(c, incident_id, JobKind::StaleAck, now + window, now)?;
    }
    Ok(())
}

/// Adds a job of `kind` in the incident's current cycle, numbered after the ones before it, and
/// closes any still pending of that kind (a second snooze replaces the first).
fn schedule_once(
    c: &mut DbConn,
    incident_id: &str,
    kind: JobKind,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    repo::cancel_jobs(c, incident_id, &[kind.as_str()], now)?;
    let cycle = repo::current_cycle(c, incident_id)?;
    let step =
        i32::try_from(repo::count_jobs(c, incident_id, kind.as_str(), cycle)?).unwrap_or(i32::MAX);
    repo::insert_job(
        c,
        &NewJob {
            id: &new_id(),
            incident_id,
            kind: kind.as_str(),
            cycle,
            step,
            due,
            reason: "",
            now,
        },
    )?;
    Ok(())
}

/// Resolved: nothing more is due.
pub(crate) fn plan_resolved(
    c: &mut DbConn,
    incident_id: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    repo::cancel_jobs(
        c,
        incident_id,
        &[
            JobKind::Step.as_str(),
            JobKind::AckSla.as_str(),
            JobKind::ResolveSla.as_str(),
            JobKind::Snooze.as_str(),
            JobKind::StaleAck.as_str(),
        ],
        now,
    )?;
    repo::cancel_pages(c, incident_id, now)?;
    if let Some(incident) = incidents::find(c, incident_id)? {
        let by = incident.resolved_by.as_deref().unwrap_or("someone");
        announce(
            c,
            incident_id,
            &incident.service_id,
            "resolved",
            "0",
            &format!("resolved by {by}"),
            now,
        )?;
    }
    Ok(())
}

/// The severity changed and with it the deadlines.
pub(crate) fn plan_deadlines(
    c: &mut DbConn,
    incident_id: &str,
    ack_deadline: DateTime<Utc>,
    resolve_deadline: DateTime<Utc>,
) -> Result<(), AppError> {
    repo::reschedule(c, incident_id, JobKind::AckSla.as_str(), ack_deadline)?;
    repo::reschedule(
        c,
        incident_id,
        JobKind::ResolveSla.as_str(),
        resolve_deadline,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// An incident's escalation, as the incident page shows it

/// Where an incident's escalation stands.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// (id, name) of the service's policy.
    pub policy: Option<(String, String)>,
    /// The next step: its number (1-based, within the policy), round, and when it is due.
    pub next: Option<(usize, usize, DateTime<Utc>)>,
    pub notifications: Vec<repo::NotificationRow>,
    /// The policy's steps as "Ana, Night" (who each pages), for "reassign to a step".
    pub steps: Vec<String>,
}

pub async fn status(st: &AppState, incident: &Incident) -> Result<Status, AppError> {
    let (id, service_id) = (incident.id.clone(), incident.service_id.clone());
    st.db
        .read(move |c| {
            let row = repo::policy_of_service(c, &service_id)?;
            let mut next = None;
            let mut steps = Vec::new();
            if let Some(row) = &row {
                let policy = policy_of(row)?;
                let names = target_names(c, &policy)?;
                steps = policy
                    .steps
                    .iter()
                    .map(|step| {
                        step.targets
                            .iter()
                            .map(|t| target_name(&names, t))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .collect();
                next = repo::pending_jobs_of(c, &id)?
                    .into_iter()
                    .filter(|j| j.kind == JobKind::Step.as_str())
                    .filter_map(|j| {
                        let n = usize::try_from(j.step).ok()?;
                        (n < policy.total_steps()).then(|| {
                            (
                                n % policy.steps.len() + 1,
                                n / policy.steps.len() + 1,
                                from_db(j.due_at),
                            )
                        })
                    })
                    .next();
            }
            Ok(Status {
                policy: row.map(|r| (r.id, r.name)),
                next,
                notifications: repo::notifications_of(c, &id)?,
                steps,
            })
        })
        .await
}

/// The longest snooze.
pub const MAX_SNOOZE_MINUTES: i64 = 24 * 60;

/// "Snooze for N minutes": acknowledged now (if it was not), triggered again and paged from
/// step 1 when the time is up unless resolved by then.
pub async fn snooze(
    st: &AppState,
    user: &crate::domain::user::User,
    ip: Option<String>,
    incident_id: &str,
    minutes: i64,
) -> Result<(), AppError> {
    if !(1..=MAX_SNOOZE_MINUTES).contains(&minutes) {
        return Err(AppError::invalid(
            "minutes",
            format!("snooze for 1 to {MAX_SNOOZE_MINUTES} minutes"),
        ));
    }
    let view = crate::services::incidents::get(st, incident_id).await?;
    if view.incident.status == crate::domain::incident::IncidentStatus::Resolved {
        return Err(AppError::Conflict(
            "a resolved incident cannot be snoozed".into(),
        ));
    }
    if view.incident.status == crate::domain::incident::IncidentStatus::Triggered {
        crate::services::incidents::acknowledge_as(st, user, ip.clone(), &view.incident.id).await?;
    }
    let actor = Actor::user(&user.id, &user.email, ip);
    let (id, name, now) = (view.incident.id.clone(), user.name.clone(), st.clock.now());
    st.db
        .write(move |c| {
            let incident = incidents::find(c, &id)?.ok_or(AppError::NotFound)?;
            if incident.status != crate::domain::incident::IncidentStatus::Acknowledged {
                return Err(AppError::Conflict(
                    "the incident changed meanwhile; reload it".into(),
                ));
            }
            let until = now + chrono::Duration::minutes(minutes);
            schedule_once(c, &id, JobKind::Snooze, until, now)?;
            let message = format!(
                "snoozed by {name} for {}: triggered again then unless resolved",
                crate::domain::escalation::minutes_text(minutes)
            );
            timeline::insert(
                c,
                &timeline::NewEntry {
                    id: &new_id(),
                    incident_id: &id,
                    kind: "snoozed",
                    actor_id: actor.user_id.as_deref(),
                    actor: &name,
                    message: &message,
                    alert_fingerprint: None,
                    repeats: 1,
                    now,
                },
            )?;
            audit::record(
                c,
                now,
                &actor,
                AuditAction::IncidentSnoozed,
                Some(("incident", &id)),
                &format!("#{} {}: {message}", incident.number, incident.title),
            )?;
            Ok(())
        })
        .await?;
    st.events.incident_changed(&view.incident.id);
    st.engine_wake.notify_one();
    Ok(())
}

/// The policy an incident's service follows; a conflict when it has none (nothing to escalate).
fn policy_for(c: &mut DbConn, incident: &Incident) -> Result<Policy, AppError> {
    let row = repo::policy_of_service(c, &incident.service_id)?.ok_or_else(|| {
        AppError::Conflict("this incident's service has no escalation policy".into())
    })?;
    policy_of(&row)
}

/// "Escalate now": the waiting step is due at once instead of after its delay.
pub async fn escalate_now(
    st: &AppState,
    actor: &Actor,
    name: &str,
    incident_id: &str,
) -> Result<(), AppError> {
    let (id, actor, name, now) = (
        incident_id.to_owned(),
        actor.clone(),
        name.to_owned(),
        st.clock.now(),
    );
    st.db
        .write(move |c| {
            let incident = incidents::find(c, &id)?.ok_or(AppError::NotFound)?;
            if incident.status != crate::domain::incident::IncidentStatus::Triggered {
                return Err(AppError::Conflict(
                    "only a triggered incident escalates; this one is acknowledged or resolved"
                        .into(),
                ));
            }
            let policy = policy_for(c, &incident)?;
            let waiting = repo::pending_jobs_of(c, &id)?.into_iter().find(|j| {
                j.kind == JobKind::Step.as_str()
                    && usize::try_from(j.step).is_ok_and(|n| n < policy.total_steps())
            });
            let Some(next) = waiting else {
                return Err(AppError::Conflict(
                    "every step of the policy has been paged already".into(),
                ));
            };
            let number = usize::try_from(next.step).unwrap_or(0) % policy.steps.len().max(1) + 1;
            let reason = format!("escalated to step {number} by {name}");
            repo::hurry_step(c, &id, now, &reason)?;
            audit::record(
                c,
                now,
                &actor,
                AuditAction::IncidentEscalated,
                Some(("incident", &id)),
                &format!("#{} {}: {reason}", incident.number, incident.title),
            )?;
            Ok(())
        })
        .await?;
    st.engine_wake.notify_one();
    Ok(())
}

/// "Reassign to step N": page that step now and carry on from it (its delay, the steps after
/// it, the repeats). An acknowledged incident goes back to triggered with a new acknowledge
/// deadline, since someone now has to answer again. Runs as a new cycle, so a step paged
/// before is paged again.
pub async fn reassign_to_step(
    st: &AppState,
    actor: &Actor,
    name: &str,
    incident_id: &str,
    number: usize,
) -> Result<(), AppError> {
    let (id, actor, name, now) = (
        incident_id.to_owned(),
        actor.clone(),
        name.to_owned(),
        st.clock.now(),
    );
    st.db
        .write(move |c| {
            let incident = incidents::find(c, &id)?.ok_or(AppError::NotFound)?;
            if incident.status == crate::domain::incident::IncidentStatus::Resolved {
                return Err(AppError::Conflict(
                    "a resolved incident is not reassigned".into(),
                ));
            }
            let policy = policy_for(c, &incident)?;
            if !(1..=policy.steps.len()).contains(&number) {
                return Err(AppError::invalid(
                    "step",
                    format!("the policy has steps 1 to {}", policy.steps.len()),
                ));
            }
            let reason = format!("reassigned to step {number} by {name}");
            if incident.status == crate::domain::incident::IncidentStatus::Acknowledged {
                let ack_deadline =
                    now + severity_levels::response_times(c, incident.severity)?.ack_within;
                incidents::retrigger(c, &id, ack_deadline, now)?;
                repo::cancel_jobs(
                    c,
                    &id,
                    &[JobKind::Snooze.as_str(), JobKind::StaleAck.as_str()],
                    now,
                )?;
                schedule_once(c, &id, JobKind::AckSla, ack_deadline, now)?;
            }
            repo::cancel_jobs(c, &id, &[JobKind::Step.as_str()], now)?;
            let cycle = repo::current_cycle(c, &id)? + 1;
            repo::insert_job(
                c,
                &NewJob {
                    id: &new_id(),
                    incident_id: &id,
                    kind: JobKind::Step.as_str(),
                    cycle,
                    step: i32::try_from(number - 1).unwrap_or(0),
                    due: now,
                    reason: &reason,
                    now,
                },
            )?;
            audit::record(
                c,
                now,
                &actor,
                AuditAction::IncidentEscalated,
                Some(("incident", &id)),
                &format!("#{} {}: {reason}", incident.number, incident.title),
            )?;
            Ok(())
        })
        .await?;
    st.events.incident_changed(incident_id);
    st.engine_wake.notify_one();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The engine's pass

/// What one pass did.
#[derive(Debug, Default, Clone)]
pub struct Pass {
    pub jobs: usize,
    /// Incidents whose timeline changed, for live updates.
    pub touched: Vec<String>,
    /// The earliest due time left, if any.
    pub next_due: Option<DateTime<Utc>>,
}

/// Runs every job due now, in batches, each batch one transaction.
pub async fn run_due(st: &AppState) -> Result<Pass, AppError> {
    let mut pass = Pass::default();
    loop {
        let now = st.clock.now();
        // A read first: the usual answer is "nothing due", and on SQLite a write transaction
        // would queue behind the webhook writer for nothing.
        let earliest = st
            .db
            .read(|c| repo::earliest_job(c).map_err(AppError::from))
            .await?;
        if earliest.is_none_or(|t| t > now) {
            pass.next_due = earliest;
            return Ok(pass);
        }
        let (count, touched) = st
            .db
            .write(move |c| {
                let jobs = repo::claim_due_jobs(c, now, CLAIM_BATCH)?;
                let mut touched = Vec::new();
                for job in &jobs {
                    // Each job in a savepoint: one that fails (a corrupt policy, say) is retried
                    // a minute later without holding back the others.
                    let outcome = diesel::Connection::transaction(c, |c| run_job(c, job, now));
                    match outcome {
                        Ok(()) => touched.push(job.incident_id.clone()),
                        Err(e) => {
                            tracing::error!(job = %job.id, incident = %job.incident_id, error = %e, "escalation job failed; retrying in a minute");
                            repo::reschedule_one(c, &job.id, now + chrono::Duration::minutes(1))?;
                        }
                    }
                }
                Ok::<_, AppError>((jobs.len(), touched))
            })
            .await?;
        pass.jobs += count;
        st.metrics.escalation_jobs.inc_by(count as u64);
        for id in &touched {
            st.events.incident_changed(id);
        }
        pass.touched.extend(touched);
    }
}

fn system() -> (&'static str, Option<&'static str>) {
    ("Lookout", None)
}

fn write_timeline(
    c: &mut DbConn,
    incident_id: &str,
    kind: &str,
    message: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let (actor, actor_id) = system();
    timeline::insert(
        c,
        &timeline::NewEntry {
            id: &new_id(),
            incident_id,
            kind,
            actor_id,
            actor,
            message,
            alert_fingerprint: None,
            repeats: 1,
            now,
        },
    )?;
    Ok(())
}

/// The people a step names at this moment: users as they are, schedules resolved to whoever is
/// on call now. Also what could not be resolved, for the timeline.
fn recipients(
    c: &mut DbConn,
    targets: &[Target],
    now: DateTime<Utc>,
) -> Result<(Vec<User>, Vec<String>), AppError> {
    let mut found: Vec<User> = Vec::new();
    let mut missing = Vec::new();
    for target in targets {
        let user_id = match target {
            Target::User(id) => Some(id.clone()),
            Target::Schedule(id) => match schedules::load(c, id, now, now) {
                Ok(schedule) => match schedule.on_call_at(now) {
                    Some(shift) => Some(shift.user_id),
                    None => {
                        missing.push(format!("nobody is on call on {}", schedule.name));
                        None
                    }
                },
                Err(AppError::NotFound) => {
                    missing.push("a schedule of this policy no longer exists".into());
                    None
                }
                Err(e) => return Err(e),
            },
        };
        let Some(user_id) = user_id else { continue };
        if found.iter().any(|u| u.id == user_id) {
            continue;
        }
        match users::find(c, &user_id)?.filter(|u| u.active) {
            Some(u) => found.push(u),
            None => missing.push("a person of this policy is no longer active".into()),
        }
    }
    Ok((found, missing))
}

/// What a message to a person is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// A step paging someone: every rule of theirs, the later ones only while nobody has
    /// acknowledged.
    Page,
    /// Telling the service owner of a lapsed deadline: their immediate rules, sent even if the
    /// incident is acknowledged meanwhile (the lapse happened).
    Notice,
}

/// Queues each person's messages by their notification rules, once per (incident, cause,
/// person, rule).
fn page(
    c: &mut DbConn,
    incident: &Incident,
    cause: &str,
    reason: &str,
    people: &[User],
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    for person in people {
        for to in crate::services::contacts::destinations(c, person)? {
            if purpose == Purpose::Notice && to.delay_minutes > 0 {
                continue;
            }
            let reason = if to.delay_minutes > 0 {
                format!(
                    "{reason}; reminder: nobody acknowledged within {}",
                    crate::domain::escalation::minutes_text(i64::from(to.delay_minutes))
                )
            } else {
                reason.to_owned()
            };
            repo::enqueue(
                c,
                &NewNotification {
                    id: &new_id(),
                    incident_id: &incident.id,
                    user_id: Some(&person.id),
                    channel: to.channel.as_str(),
                    address: &to.address,
                    event: "",
                    reason: &reason,
                    idempotency_key: &format!("{}:{cause}:{}:{}", incident.id, person.id, to.key),
                    contact_method_id: to.contact_method_id.as_deref(),
                    only_while_triggered: purpose == Purpose::Page,
                    due: now + chrono::Duration::minutes(i64::from(to.delay_minutes)),
                    now,
                },
            )?;
        }
    }
    Ok(())
}

/// Queues a post to the service's outbound webhook, if it has one: once per incident, event and
/// `cause` (the step, or the cycle).
fn announce(
    c: &mut DbConn,
    incident_id: &str,
    service_id: &str,
    event: &str,
    cause: &str,
    message: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let Some(url) = service_repo::find(c, service_id)?.and_then(|s| s.webhook_url) else {
        return Ok(());
    };
    repo::enqueue(
        c,
        &NewNotification {
            id: &new_id(),
            incident_id,
            user_id: None,
            channel: "webhook",
            address: &url,
            event,
            reason: message,
            idempotency_key: &format!("{incident_id}:{event}:{cause}:webhook"),
            contact_method_id: None,
            only_while_triggered: false,
            due: now,
            now,
        },
    )?;
    Ok(())
}

fn names(people: &[User]) -> String {
    people
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn run_job(c: &mut DbConn, job: &JobRow, now: DateTime<Utc>) -> Result<(), AppError> {
    let finished = repo::finish_job(c, &job.id, now)?;
    if finished == 0 {
        // Cancelled or done by another instance between claim and now.
        return Ok(());
    }
    let Some(incident) = incidents::find(c, &job.incident_id)? else {
        return Ok(());
    };
    let Some(kind) = JobKind::parse(&job.kind) else {
        return Err(AppError::Internal(format!(
            "unknown job kind '{}'",
            job.kind
        )));
    };
    match kind {
        JobKind::Step => run_step(c, job, &incident, now),
        JobKind::AckSla | JobKind::ResolveSla => run_deadline(c, kind, &incident, now),
        JobKind::Snooze | JobKind::StaleAck => run_retrigger(c, kind, job, &incident, now),
    }
}

fn run_step(
    c: &mut DbConn,
    job: &JobRow,
    incident: &Incident,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let Some(row) = repo::policy_of_service(c, &incident.service_id)? else {
        return Ok(());
    };
    let policy = policy_of(&row)?;
    let n = usize::try_from(job.step).unwrap_or(0);
    match decide_step(&policy, n, incident.status, now) {
        StepDecision::Stop => Ok(()),
        StepDecision::Exhausted => write_timeline(
            c,
            &incident.id,
            "escalation",
            &format!(
                "escalation policy '{}' has run its course: nobody acknowledged after {} steps",
                row.name,
                policy.total_steps()
            ),
            now,
        ),
        StepDecision::Notify {
            targets,
            number,
            pass,
            next_due,
        } => {
            let (people, missing) = recipients(c, &targets, now)?;
            let why = if job.reason.is_empty() {
                format!("step {number}")
            } else {
                job.reason.clone()
            };
            let pass_text = if pass > 1 {
                format!(" (round {pass})")
            } else {
                String::new()
            };
            let mut message = if people.is_empty() {
                format!("{why}{pass_text}: nobody to page")
            } else {
                format!("{why}{pass_text}: paging {}", names(&people))
            };
            if !missing.is_empty() {
                message.push_str(&format!(" ({})", missing.join("; ")));
            }
            let cause = format!("c{}s{n}", job.cycle);
            page(c, incident, &cause, &why, &people, Purpose::Page, now)?;
            announce(
                c,
                &incident.id,
                &incident.service_id,
                "escalated",
                &cause,
                &message,
                now,
            )?;
            write_timeline(c, &incident.id, "escalation", &message, now)?;
            incidents::set_escalation_step(c, &incident.id, job.step + 1, now)?;
            repo::insert_job(
                c,
                &NewJob {
                    id: &new_id(),
                    incident_id: &incident.id,
                    kind: JobKind::Step.as_str(),
                    cycle: job.cycle,
                    step: job.step + 1,
                    due: next_due,
                    reason: &delay_reason(&policy, n),
                    now,
                },
            )?;
            Ok(())
        }
    }
}

fn run_retrigger(
    c: &mut DbConn,
    kind: JobKind,
    job: &JobRow,
    incident: &Incident,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let window = severity_levels::response_times(c, incident.severity)?.ack_within;
    let last = timeline::last_activity(c, &incident.id)?;
    match decide_retrigger(kind, incident.status, last, window, now) {
        RetriggerDecision::Nothing => Ok(()),
        RetriggerDecision::LookAgainAt(at) => {
            repo::reschedule_one(c, &job.id, at)?;
            Ok(())
        }
        RetriggerDecision::Retrigger(reason) => retrigger(c, incident, &reason, now),
    }
}

/// Back to triggered: a new acknowledge deadline and, in a new cycle, the policy from step 1.
fn retrigger(
    c: &mut DbConn,
    incident: &Incident,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let ack_deadline = now + severity_levels::response_times(c, incident.severity)?.ack_within;
    if incidents::retrigger(c, &incident.id, ack_deadline, now)? == 0 {
        return Ok(());
    }
    repo::cancel_jobs(
        c,
        &incident.id,
        &[JobKind::Snooze.as_str(), JobKind::StaleAck.as_str()],
        now,
    )?;
    let cycle = repo::current_cycle(c, &incident.id)? + 1;
    let mut jobs = vec![(JobKind::AckSla, ack_deadline)];
    if repo::policy_of_service(c, &incident.service_id)?.is_some() {
        jobs.push((JobKind::Step, now));
    }
    for (kind, due) in jobs {
        repo::insert_job(
            c,
            &NewJob {
                id: &new_id(),
                incident_id: &incident.id,
                kind: kind.as_str(),
                cycle,
                step: 0,
                due,
                reason: "",
                now,
            },
        )?;
    }
    write_timeline(c, &incident.id, "retriggered", reason, now)
}

fn run_deadline(
    c: &mut DbConn,
    kind: JobKind,
    incident: &Incident,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let deadline = if kind == JobKind::AckSla {
        incident.ack_deadline
    } else {
        incident.resolve_deadline
    };
    let DeadlineDecision::Lapsed { escalate, message } =
        decide_deadline(kind, incident.status, deadline - incident.created_at)
    else {
        return Ok(());
    };
    incidents::mark_breached(c, &incident.id, now)?;
    write_timeline(c, &incident.id, "sla_breached", &message, now)?;
    // The service's owner is its manager: they hear of every lapsed deadline.
    let owner = service_repo::find(c, &incident.service_id)?.and_then(|s| s.owner_id);
    if let Some(owner) = owner
        && let Some(u) = users::find(c, &owner)?.filter(|u| u.active)
    {
        let people = [u];
        page(
            c,
            incident,
            kind.as_str(),
            &message,
            &people,
            Purpose::Notice,
            now,
        )?;
        write_timeline(
            c,
            &incident.id,
            "escalation",
            &format!("told the service owner, {}", people[0].name),
            now,
        )?;
    }
    if escalate && let Some(row) = repo::policy_of_service(c, &incident.service_id)? {
        let policy = policy_of(&row)?;
        // The step waiting next, if there is one left (not the "run its course" marker).
        let waiting = repo::pending_jobs_of(c, &incident.id)?
            .into_iter()
            .find(|j| {
                j.kind == JobKind::Step.as_str()
                    && usize::try_from(j.step).is_ok_and(|n| n < policy.total_steps())
            });
        if let Some(next) = waiting {
            let number = usize::try_from(next.step).unwrap_or(0) % policy.steps.len().max(1) + 1;
            let minutes = (deadline - incident.created_at).num_minutes();
            let reason = format!(
                "escalated to step {number}: not acknowledged within {}",
                crate::domain::escalation::minutes_text(minutes)
            );
            repo::hurry_step(c, &incident.id, now, &reason)?;
        }
    }
    Ok(())
}
