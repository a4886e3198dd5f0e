//! Queries on escalation policies, due escalation work (`escalation_jobs`) and the notification
//! outbox. Claiming is where the backends differ: PostgreSQL locks the due rows it takes with
//! `FOR UPDATE SKIP LOCKED`, so several instances share the work without taking a row twice;
//! SQLite has one writer at a time (`BEGIN IMMEDIATE`), which gives the same guarantee.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::min;
use diesel::prelude::*;

use super::{from_db, to_db};
use crate::db::DbConn;
use crate::db::schema::{escalation_jobs, escalation_policies, notifications, services};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = escalation_policies)]
pub struct PolicyRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub repeat_count: i32,
    /// JSON: `[{"delay_minutes", "targets": [{"type": "user"|"schedule", "id"}]}]`.
    pub steps: String,
    pub retrigger_stale_ack: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

pub struct NewPolicy<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub repeat: i32,
    pub steps: &'a str,
    pub retrigger_stale_ack: bool,
    pub now: DateTime<Utc>,
}

pub fn insert_policy(conn: &mut DbConn, new: &NewPolicy<'_>) -> QueryResult<()> {
    diesel::insert_into(escalation_policies::table)
        .values((
            escalation_policies::id.eq(new.id),
            escalation_policies::name.eq(new.name),
            escalation_policies::name_key.eq(new.name.to_lowercase()),
            escalation_policies::description.eq(new.description),
            escalation_policies::repeat_count.eq(new.repeat),
            escalation_policies::steps.eq(new.steps),
            escalation_policies::retrigger_stale_ack.eq(new.retrigger_stale_ack),
            escalation_policies::created_at.eq(to_db(new.now)),
            escalation_policies::updated_at.eq(to_db(new.now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces a policy if it is still at `expected_version`; 0 when someone else changed it first.
pub fn update_policy(
    conn: &mut DbConn,
    expected_version: i64,
    new: &NewPolicy<'_>,
) -> QueryResult<usize> {
    diesel::update(
        escalation_policies::table
            .find(new.id)
            .filter(escalation_policies::version.eq(expected_version)),
    )
    .set((
        escalation_policies::name.eq(new.name),
        escalation_policies::name_key.eq(new.name.to_lowercase()),
        escalation_policies::description.eq(new.description),
        escalation_policies::repeat_count.eq(new.repeat),
        escalation_policies::steps.eq(new.steps),
        escalation_policies::retrigger_stale_ack.eq(new.retrigger_stale_ack),
        escalation_policies::updated_at.eq(to_db(new.now)),
        escalation_policies::version.eq(escalation_policies::version + 1),
    ))
    .execute(conn)
}

pub fn find_policy(conn: &mut DbConn, id: &str) -> QueryResult<Option<PolicyRow>> {
    escalation_policies::table
        .find(id)
        .select(PolicyRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_policy_by_name(conn: &mut DbConn, name: &str) -> QueryResult<Option<PolicyRow>> {
    escalation_policies::table
        .filter(escalation_policies::name_key.eq(name.trim().to_lowercase()))
        .select(PolicyRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_policies(conn: &mut DbConn) -> QueryResult<Vec<PolicyRow>> {
    escalation_policies::table
        .order(escalation_policies::name_key.asc())
        .select(PolicyRow::as_select())
        .load(conn)
}

/// The policy a service follows, if any.
pub fn policy_of_service(conn: &mut DbConn, service_id: &str) -> QueryResult<Option<PolicyRow>> {
    let id: Option<Option<String>> = services::table
        .find(service_id)
        .select(services::escalation_policy_id)
        .first(conn)
        .optional()?;
    match id.flatten() {
        Some(id) => find_policy(conn, &id),
        None => Ok(None),
    }
}

/// Names of the services that follow a policy.
pub fn services_following(conn: &mut DbConn, policy_id: &str) -> QueryResult<Vec<String>> {
    services::table
        .filter(services::escalation_policy_id.eq(policy_id))
        .order(services::name_key.asc())
        .select(services::name)
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = escalation_jobs)]
pub struct JobRow {
    pub id: String,
    pub incident_id: String,
    pub kind: String,
    pub cycle: i32,
    pub step: i32,
    pub due_at: NaiveDateTime,
    pub reason: String,
    pub done_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

pub struct NewJob<'a> {
    pub id: &'a str,
    pub incident_id: &'a str,
    pub kind: &'a str,
    pub cycle: i32,
    pub step: i32,
    pub due: DateTime<Utc>,
    pub reason: &'a str,
    pub now: DateTime<Utc>,
}

/// Adds due work unless that step of that incident exists already (then it is left as it is:
/// each step happens once). Returns whether a row was added.
pub fn insert_job(conn: &mut DbConn, new: &NewJob<'_>) -> QueryResult<bool> {
    let exists: i64 = escalation_jobs::table
        .filter(escalation_jobs::incident_id.eq(new.incident_id))
        .filter(escalation_jobs::kind.eq(new.kind))
        .filter(escalation_jobs::cycle.eq(new.cycle))
        .filter(escalation_jobs::step.eq(new.step))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    diesel::insert_into(escalation_jobs::table)
        .values((
            escalation_jobs::id.eq(new.id),
            escalation_jobs::incident_id.eq(new.incident_id),
            escalation_jobs::kind.eq(new.kind),
            escalation_jobs::cycle.eq(new.cycle),
            escalation_jobs::step.eq(new.step),
            escalation_jobs::due_at.eq(to_db(new.due)),
            escalation_jobs::reason.eq(new.reason),
            escalation_jobs::created_at.eq(to_db(new.now)),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Closes an incident's pending work of the given kinds (acknowledged: no more steps).
pub fn cancel_jobs(
    conn: &mut DbConn,
    incident_id: &str,
    kinds: &[&str],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        escalation_jobs::table
            .filter(escalation_jobs::incident_id.eq(incident_id))
            .filter(escalation_jobs::kind.eq_any(kinds))
            .filter(escalation_jobs::done_at.is_null()),
    )
    .set(escalation_jobs::done_at.eq(Some(to_db(now))))
    .execute(conn)
}

/// Moves an incident's pending work of `kind` to `due` (a deadline recomputed).
pub fn reschedule(
    conn: &mut DbConn,
    incident_id: &str,
    kind: &str,
    due: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        escalation_jobs::table
            .filter(escalation_jobs::incident_id.eq(incident_id))
            .filter(escalation_jobs::kind.eq(kind))
            .filter(escalation_jobs::done_at.is_null()),
    )
    .set(escalation_jobs::due_at.eq(to_db(due)))
    .execute(conn)
}

/// Tries a job again at `due` (it failed this time).
pub fn reschedule_one(conn: &mut DbConn, id: &str, due: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(escalation_jobs::table.find(id))
        .set((
            escalation_jobs::due_at.eq(to_db(due)),
            escalation_jobs::done_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// Brings the incident's pending step forward to `now` with a new reason ("escalate now", a
/// lapsed deadline); 0 when no step is waiting.
pub fn hurry_step(
    conn: &mut DbConn,
    incident_id: &str,
    now: DateTime<Utc>,
    reason: &str,
) -> QueryResult<usize> {
    diesel::update(
        escalation_jobs::table
            .filter(escalation_jobs::incident_id.eq(incident_id))
            .filter(escalation_jobs::kind.eq("step"))
            .filter(escalation_jobs::done_at.is_null())
            .filter(escalation_jobs::due_at.gt(to_db(now))),
    )
    .set((
        escalation_jobs::due_at.eq(to_db(now)),
        escalation_jobs::reason.eq(reason),
    ))
    .execute(conn)
}

/// The incident's current cycle (how often it went back to triggered).
pub fn current_cycle(conn: &mut DbConn, incident_id: &str) -> QueryResult<i32> {
    let cycle: Option<i32> = escalation_jobs::table
        .filter(escalation_jobs::incident_id.eq(incident_id))
        .select(diesel::dsl::max(escalation_jobs::cycle))
        .first(conn)?;
    Ok(cycle.unwrap_or(0))
}

/// How many jobs of `kind` the incident has had in `cycle` (to number the next one).
pub fn count_jobs(
    conn: &mut DbConn,
    incident_id: &str,
    kind: &str,
    cycle: i32,
) -> QueryResult<i64> {
    escalation_jobs::table
        .filter(escalation_jobs::incident_id.eq(incident_id))
        .filter(escalation_jobs::kind.eq(kind))
        .filter(escalation_jobs::cycle.eq(cycle))
        .count()
        .get_result(conn)
}

/// Takes up to `limit` due rows, oldest first, locked for this transaction on PostgreSQL.
pub fn claim_due_jobs(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<JobRow>> {
    let query = escalation_jobs::table
        .filter(escalation_jobs::done_at.is_null())
        .filter(escalation_jobs::due_at.le(to_db(now)))
        .order((escalation_jobs::due_at.asc(), escalation_jobs::id.asc()))
        .limit(limit);
    // The row type is named per arm: its backend differs.
    match conn {
        DbConn::Postgres(pg) => query
            .select(JobRow::as_select())
            .for_update()
            .skip_locked()
            .load(pg),
        DbConn::Sqlite(_) => query.select(JobRow::as_select()).load(conn),
    }
}

pub fn finish_job(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(
        escalation_jobs::table
            .find(id)
            .filter(escalation_jobs::done_at.is_null()),
    )
    .set(escalation_jobs::done_at.eq(Some(to_db(now))))
    .execute(conn)
}

pub fn earliest_job(conn: &mut DbConn) -> QueryResult<Option<DateTime<Utc>>> {
    let t: Option<NaiveDateTime> = escalation_jobs::table
        .filter(escalation_jobs::done_at.is_null())
        .select(min(escalation_jobs::due_at))
        .first(conn)?;
    Ok(t.map(from_db))
}

pub fn pending_jobs_of(conn: &mut DbConn, incident_id: &str) -> QueryResult<Vec<JobRow>> {
    escalation_jobs::table
        .filter(escalation_jobs::incident_id.eq(incident_id))
        .filter(escalation_jobs::done_at.is_null())
        .order(escalation_jobs::due_at.asc())
        .select(JobRow::as_select())
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct NotificationRow {
    pub id: String,
    pub incident_id: String,
    pub user_id: Option<String>,
    pub channel: String,
    pub address: String,
    pub event: String,
    pub reason: String,
    pub idempotency_key: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub leased_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub contact_method_id: Option<String>,
    pub only_while_triggered: bool,
}

pub struct NewNotification<'a> {
    pub id: &'a str,
    pub incident_id: &'a str,
    pub user_id: Option<&'a str>,
    pub channel: &'a str,
    pub address: &'a str,
    pub event: &'a str,
    pub reason: &'a str,
    pub idempotency_key: &'a str,
    pub contact_method_id: Option<&'a str>,
    /// Dropped, not sent, once the incident is acknowledged or resolved.
    pub only_while_triggered: bool,
    /// When to send it: `now`, or later for a reminder ("again after 5 min").
    pub due: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// Queues a message unless one with the same idempotency key exists; returns whether it did.
pub fn enqueue(conn: &mut DbConn, new: &NewNotification<'_>) -> QueryResult<bool> {
    let exists: i64 = notifications::table
        .filter(notifications::idempotency_key.eq(new.idempotency_key))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    diesel::insert_into(notifications::table)
        .values((
            notifications::id.eq(new.id),
            notifications::incident_id.eq(new.incident_id),
            notifications::user_id.eq(new.user_id),
            notifications::channel.eq(new.channel),
            notifications::address.eq(new.address),
            notifications::event.eq(new.event),
            notifications::reason.eq(new.reason),
            notifications::idempotency_key.eq(new.idempotency_key),
            notifications::state.eq("pending"),
            notifications::next_attempt_at.eq(to_db(new.due)),
            notifications::created_at.eq(to_db(new.now)),
            notifications::contact_method_id.eq(new.contact_method_id),
            notifications::only_while_triggered.eq(new.only_while_triggered),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Takes up to `limit` deliveries that are due and not leased by anyone, and leases them until
/// `lease_until`: an instance that dies mid-delivery leaves the row to be retried after that.
pub fn lease_deliveries(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<NotificationRow>> {
    let query = notifications::table
        .filter(notifications::state.eq("pending"))
        .filter(notifications::next_attempt_at.le(to_db(now)))
        .filter(
            notifications::leased_until
                .is_null()
                .or(notifications::leased_until.le(to_db(now))),
        )
        .order((
            notifications::next_attempt_at.asc(),
            notifications::id.asc(),
        ))
        .limit(limit);
    let rows = match conn {
        DbConn::Postgres(pg) => query
            .select(NotificationRow::as_select())
            .for_update()
            .skip_locked()
            .load(pg)?,
        DbConn::Sqlite(_) => query.select(NotificationRow::as_select()).load(conn)?,
    };
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    diesel::update(notifications::table.filter(notifications::id.eq_any(&ids)))
        .set((
            notifications::leased_until.eq(Some(to_db(lease_until))),
            notifications::attempts.eq(notifications::attempts + 1),
        ))
        .execute(conn)?;
    Ok(rows)
}

/// Records the outcome of a delivery: `sent`, `failed` (permanently) or `off`, or `pending` again
/// with the next attempt at `retry_at`.
pub struct Outcome<'a> {
    pub id: &'a str,
    pub state: &'a str,
    pub error: Option<&'a str>,
    pub retry_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

pub fn record_outcome(conn: &mut DbConn, o: &Outcome<'_>) -> QueryResult<usize> {
    diesel::update(notifications::table.find(o.id))
        .set((
            notifications::state.eq(o.state),
            notifications::last_error.eq(o.error),
            notifications::leased_until.eq(None::<NaiveDateTime>),
            o.retry_at
                .map(|t| notifications::next_attempt_at.eq(to_db(t))),
            (o.state == "sent").then(|| notifications::sent_at.eq(Some(to_db(o.now)))),
        ))
        .execute(conn)
}

/// Drops an incident's pages that wait for their time and are no longer wanted (it was
/// acknowledged or resolved). Rows leased for sending are left to the sender, which checks again.
pub fn cancel_pages(
    conn: &mut DbConn,
    incident_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::incident_id.eq(incident_id))
            .filter(notifications::state.eq("pending"))
            .filter(notifications::only_while_triggered.eq(true))
            .filter(
                notifications::leased_until
                    .is_null()
                    .or(notifications::leased_until.le(to_db(now))),
            ),
    )
    .set(notifications::state.eq("cancelled"))
    .execute(conn)
}

/// When the outbox next needs attention: the earliest retry or lease expiry.
pub fn earliest_delivery(conn: &mut DbConn) -> QueryResult<Option<DateTime<Utc>>> {
    let pending: Vec<(NaiveDateTime, Option<NaiveDateTime>)> = notifications::table
        .filter(notifications::state.eq("pending"))
        .order(notifications::next_attempt_at.asc())
        .select((notifications::next_attempt_at, notifications::leased_until))
        .limit(50)
        .load(conn)?;
    Ok(pending
        .into_iter()
        .map(|(next, lease)| from_db(lease.map_or(next, |l| l.max(next))))
        .min())
}

pub fn notifications_of(conn: &mut DbConn, incident_id: &str) -> QueryResult<Vec<NotificationRow>> {
    notifications::table
        .filter(notifications::incident_id.eq(incident_id))
        .order((notifications::created_at.asc(), notifications::id.asc()))
        .select(NotificationRow::as_select())
        .load(conn)
}

/// Deliveries due or under way (leased and not yet recorded) at `now`.
pub fn deliveries_outstanding(conn: &mut DbConn, now: DateTime<Utc>) -> QueryResult<i64> {
    notifications::table
        .filter(notifications::state.eq("pending"))
        .filter(
            notifications::leased_until
                .is_not_null()
                .or(notifications::next_attempt_at.le(to_db(now))),
        )
        .count()
        .get_result(conn)
}
