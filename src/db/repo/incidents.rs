//! Queries on `incidents`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{corrupt, escape_like, from_db, lower, prepared, to_db};
use crate::db::DbConn;
use crate::db::schema::{counters, incidents};
use crate::domain::incident::{Incident, IncidentStatus};
use crate::domain::severity::Severity;

/// `status = '...'` written into the SQL text, for the same reason as
/// [`prepared::IncidentIsOpen`] (not on a hot path, so a literal that diesel will not cache).
fn status_is(status: IncidentStatus) -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql(match status {
        IncidentStatus::Triggered => "incidents.status = 'triggered'",
        IncidentStatus::Acknowledged => "incidents.status = 'acknowledged'",
        IncidentStatus::Resolved => "incidents.status = 'resolved'",
    })
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = incidents)]
pub(crate) struct IncidentRow {
    id: String,
    number: i64,
    service_id: String,
    integration_id: Option<String>,
    title: String,
    description: String,
    severity: String,
    status: String,
    dedup_key: Option<String>,
    alert_count: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    last_alert_at: Option<NaiveDateTime>,
    acknowledged_at: Option<NaiveDateTime>,
    acknowledged_by_id: Option<String>,
    acknowledged_by: Option<String>,
    resolved_at: Option<NaiveDateTime>,
    resolved_by_id: Option<String>,
    resolved_by: Option<String>,
    assignee_id: Option<String>,
    ack_deadline: NaiveDateTime,
    resolve_deadline: NaiveDateTime,
    sla_breached: bool,
    escalation_step: i32,
    previous_incident_id: Option<String>,
    flapping: bool,
    version: i64,
}

impl TryFrom<IncidentRow> for Incident {
    type Error = diesel::result::Error;

    fn try_from(r: IncidentRow) -> Result<Self, Self::Error> {
        Ok(Incident {
            severity: r
                .severity
                .parse::<Severity>()
                .map_err(|_| corrupt("severity", &r.severity))?,
            status: r
                .status
                .parse::<IncidentStatus>()
                .map_err(|_| corrupt("status", &r.status))?,
            id: r.id,
            number: r.number,
            service_id: r.service_id,
            integration_id: r.integration_id,
            title: r.title,
            description: r.description,
            dedup_key: r.dedup_key,
            alert_count: r.alert_count,
            created_at: from_db(r.created_at),
            updated_at: from_db(r.updated_at),
            last_alert_at: r.last_alert_at.map(from_db),
            acknowledged_at: r.acknowledged_at.map(from_db),
            acknowledged_by_id: r.acknowledged_by_id,
            acknowledged_by: r.acknowledged_by,
            resolved_at: r.resolved_at.map(from_db),
            resolved_by_id: r.resolved_by_id,
            resolved_by: r.resolved_by,
            assignee_id: r.assignee_id,
            ack_deadline: from_db(r.ack_deadline),
            resolve_deadline: from_db(r.resolve_deadline),
            sla_breached: r.sla_breached,
            escalation_step: r.escalation_step,
            previous_incident_id: r.previous_incident_id,
            flapping: r.flapping,
            version: r.version,
        })
    }
}

fn rows(rows: Vec<IncidentRow>) -> QueryResult<Vec<Incident>> {
    rows.into_iter().map(Incident::try_from).collect()
}

/// The next incident number. On PostgreSQL the counter row stays locked until the transaction
/// ends, so concurrent writers take numbers one after the other.
pub fn next_number(conn: &mut DbConn) -> QueryResult<i64> {
    diesel::update(counters::table.find("incident_number"))
        .set(counters::value.eq(counters::value + 1))
        .execute(conn)?;
    counters::table
        .find("incident_number")
        .select(counters::value)
        .first(conn)
}

pub struct NewIncident<'a> {
    pub id: &'a str,
    pub number: i64,
    pub service_id: &'a str,
    pub integration_id: Option<&'a str>,
    pub title: &'a str,
    pub description: &'a str,
    pub severity: Severity,
    pub dedup_key: Option<&'a str>,
    pub alert_count: i32,
    pub now: DateTime<Utc>,
    pub ack_deadline: DateTime<Utc>,
    pub resolve_deadline: DateTime<Utc>,
    pub previous_incident_id: Option<&'a str>,
    pub flapping: bool,
    pub last_alert_at: Option<DateTime<Utc>>,
}

pub fn insert(conn: &mut DbConn, new: &NewIncident<'_>) -> QueryResult<()> {
    diesel::insert_into(incidents::table)
        .values((
            incidents::id.eq(new.id),
            incidents::number.eq(new.number),
            incidents::service_id.eq(new.service_id),
            incidents::integration_id.eq(new.integration_id),
            incidents::title.eq(new.title),
            incidents::description.eq(new.description),
            incidents::severity.eq(new.severity.as_str()),
            incidents::status.eq(IncidentStatus::Triggered.as_str()),
            incidents::dedup_key.eq(new.dedup_key),
            incidents::alert_count.eq(new.alert_count),
            incidents::created_at.eq(to_db(new.now)),
            incidents::updated_at.eq(to_db(new.now)),
            incidents::last_alert_at.eq(new.last_alert_at.map(to_db)),
            incidents::ack_deadline.eq(to_db(new.ack_deadline)),
            incidents::resolve_deadline.eq(to_db(new.resolve_deadline)),
            incidents::previous_incident_id.eq(new.previous_incident_id),
            incidents::flapping.eq(new.flapping),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Incident>> {
    incidents::table
        .find(id)
        .select(IncidentRow::as_select())
        .first(conn)
        .optional()?
        .map(Incident::try_from)
        .transpose()
}

pub fn find_by_number(conn: &mut DbConn, number: i64) -> QueryResult<Option<Incident>> {
    incidents::table
        .filter(incidents::number.eq(number))
        .select(IncidentRow::as_select())
        .first(conn)
        .optional()?
        .map(Incident::try_from)
        .transpose()
}

/// The open incident of a service with this key, if any (at most one: a unique index says so).
pub fn find_open_by_key(
    conn: &mut DbConn,
    service_id: &str,
    key: &str,
) -> QueryResult<Option<Incident>> {
    incidents::table
        .filter(incidents::service_id.eq(service_id))
        .filter(incidents::dedup_key.eq(key))
        .filter(prepared::IncidentIsOpen)
        .select(IncidentRow::as_select())
        .first(conn)
        .optional()?
        .map(Incident::try_from)
        .transpose()
}

/// The newest resolved incident with this key, to link a recurrence to it.
pub fn latest_resolved_by_key(
    conn: &mut DbConn,
    service_id: &str,
    key: &str,
) -> QueryResult<Option<String>> {
    incidents::table
        .filter(incidents::service_id.eq(service_id))
        .filter(incidents::dedup_key.eq(key))
        .filter(status_is(IncidentStatus::Resolved))
        .order(incidents::id.desc())
        .select(incidents::id)
        .first(conn)
        .optional()
}

pub fn count_by_key_since(
    conn: &mut DbConn,
    service_id: &str,
    key: &str,
    since: DateTime<Utc>,
) -> QueryResult<i64> {
    incidents::table
        .filter(incidents::service_id.eq(service_id))
        .filter(incidents::dedup_key.eq(key))
        .filter(incidents::created_at.ge(to_db(since)))
        .count()
        .get_result(conn)
}

/// Records new alert activity: more alerts, the latest time, perhaps a more urgent severity.
pub fn record_alerts(
    conn: &mut DbConn,
    id: &str,
    new_alerts: i32,
    severity: Severity,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(incidents::table.find(id))
        .set((
            incidents::alert_count.eq(incidents::alert_count + new_alerts),
            incidents::severity.eq(severity.as_str()),
            incidents::last_alert_at.eq(to_db(now)),
            incidents::updated_at.eq(to_db(now)),
            incidents::version.eq(incidents::version + 1),
        ))
        .execute(conn)
}

/// Known alerts fired again: only the activity time moves (severity is left as it is, so a
/// change someone made meanwhile is not overwritten).
pub fn record_repeats(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    prepared::RecordActivity {
        id,
        now: to_db(now),
    }
    .execute(conn)
}

/// Who did it: a person (id and name) or a tool (name only).
pub struct By<'a> {
    pub user_id: Option<&'a str>,
    pub label: &'a str,
}

/// Moves a triggered incident to acknowledged; 0 when it was not triggered any more.
pub fn acknowledge(
    conn: &mut DbConn,
    id: &str,
    by: &By<'_>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        incidents::table
            .find(id)
            .filter(status_is(IncidentStatus::Triggered)),
    )
    .set((
        incidents::status.eq(IncidentStatus::Acknowledged.as_str()),
        incidents::acknowledged_at.eq(to_db(now)),
        incidents::acknowledged_by_id.eq(by.user_id),
        incidents::acknowledged_by.eq(by.label),
        incidents::updated_at.eq(to_db(now)),
        incidents::version.eq(incidents::version + 1),
    ))
    .execute(conn)
}

/// Resolves an open incident; 0 when it was resolved already.
pub fn resolve(conn: &mut DbConn, id: &str, by: &By<'_>, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(incidents::table.find(id).filter(prepared::IncidentIsOpen))
        .set((
            incidents::status.eq(IncidentStatus::Resolved.as_str()),
            incidents::resolved_at.eq(to_db(now)),
            incidents::resolved_by_id.eq(by.user_id),
            incidents::resolved_by.eq(by.label),
            incidents::updated_at.eq(to_db(now)),
            incidents::version.eq(incidents::version + 1),
        ))
        .execute(conn)
}

/// Sends an acknowledged incident back to triggered with a new acknowledge deadline; 0 when it
/// was not acknowledged any more.
pub fn retrigger(
    conn: &mut DbConn,
    id: &str,
    ack_deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        incidents::table
            .find(id)
            .filter(status_is(IncidentStatus::Acknowledged)),
    )
    .set((
        incidents::status.eq(IncidentStatus::Triggered.as_str()),
        incidents::acknowledged_at.eq(None::<chrono::NaiveDateTime>),
        incidents::acknowledged_by_id.eq(None::<String>),
        incidents::acknowledged_by.eq(None::<String>),
        incidents::ack_deadline.eq(to_db(ack_deadline)),
        incidents::updated_at.eq(to_db(now)),
        incidents::version.eq(incidents::version + 1),
    ))
    .execute(conn)
}

/// Marks a lapsed deadline; 0 when it was marked already.
pub fn mark_breached(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(
        incidents::table
            .find(id)
            .filter(incidents::sla_breached.eq(false)),
    )
    .set((
        incidents::sla_breached.eq(true),
        incidents::updated_at.eq(to_db(now)),
        incidents::version.eq(incidents::version + 1),
    ))
    .execute(conn)
}

/// Records how far escalation has gone (steps notified, counting repeats).
pub fn set_escalation_step(
    conn: &mut DbConn,
    id: &str,
    step: i32,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(incidents::table.find(id))
        .set((
            incidents::escalation_step.eq(step),
            incidents::updated_at.eq(to_db(now)),
            incidents::version.eq(incidents::version + 1),
        ))
        .execute(conn)
}

pub fn set_severity(
    conn: &mut DbConn,
    id: &str,
    severity: Severity,
    ack_deadline: DateTime<Utc>,
    resolve_deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(incidents::table.find(id))
        .set((
            incidents::severity.eq(severity.as_str()),
            incidents::ack_deadline.eq(to_db(ack_deadline)),
            incidents::resolve_deadline.eq(to_db(resolve_deadline)),
            incidents::updated_at.eq(to_db(now)),
            incidents::version.eq(incidents::version + 1),
        ))
        .execute(conn)
}

pub fn set_assignee(
    conn: &mut DbConn,
    id: &str,
    assignee: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(incidents::table.find(id))
        .set((
            incidents::assignee_id.eq(assignee),
            incidents::updated_at.eq(to_db(now)),
            incidents::version.eq(incidents::version + 1),
        ))
        .execute(conn)
}

pub fn touch(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(incidents::table.find(id))
        .set((
            incidents::updated_at.eq(to_db(now)),
            incidents::version.eq(incidents::version + 1),
        ))
        .execute(conn)
}

/// Filters for the incident list. Empty lists mean "any".
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub statuses: Vec<IncidentStatus>,
    pub severities: Vec<Severity>,
    pub service_id: Option<String>,
    /// Words in the title (case-insensitive), or an incident number.
    pub text: Option<String>,
}

/// Newest first (ids are time-ordered), strictly older than `before` when given.
pub fn list(
    conn: &mut DbConn,
    filter: &IncidentFilter,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Incident>> {
    let mut query = incidents::table
        .select(IncidentRow::as_select())
        .into_boxed();
    if !filter.statuses.is_empty() {
        query = query.filter(incidents::status.eq_any(filter.statuses.iter().map(|s| s.as_str())));
    }
    if !filter.severities.is_empty() {
        query =
            query.filter(incidents::severity.eq_any(filter.severities.iter().map(|s| s.as_str())));
    }
    if let Some(service) = &filter.service_id {
        query = query.filter(incidents::service_id.eq(service.clone()));
    }
    if let Some(text) = &filter.text {
        let number = text.trim().trim_start_matches('#').parse::<i64>().ok();
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        match number {
            Some(n) => {
                query = query.filter(
                    lower(incidents::title)
                        .like(pattern)
                        .escape('\\')
                        .or(incidents::number.eq(n)),
                )
            }
            None => query = query.filter(lower(incidents::title).like(pattern).escape('\\')),
        }
    }
    if let Some(before) = before {
        query = query.filter(incidents::id.lt(before.to_owned()));
    }
    rows(query.order(incidents::id.desc()).limit(limit).load(conn)?)
}

/// Open incidents per severity, for the dashboard.
pub fn open_counts_by_severity(conn: &mut DbConn) -> QueryResult<Vec<(String, String, i64)>> {
    incidents::table
        .filter(prepared::IncidentIsOpen)
        .group_by((incidents::severity, incidents::status))
        .select((
            incidents::severity,
            incidents::status,
            diesel::dsl::count_star(),
        ))
        .load(conn)
}

pub fn count_all(conn: &mut DbConn) -> QueryResult<i64> {
    incidents::table.count().get_result(conn)
}
