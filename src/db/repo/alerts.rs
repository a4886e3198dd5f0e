//! Queries on `alerts`: the alerts inside an incident, one row per fingerprint.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{from_db, to_db};
use crate::db::DbConn;
use crate::db::schema::alerts;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = alerts)]
struct AlertRow {
    id: String,
    incident_id: String,
    fingerprint: String,
    status: String,
    title: String,
    severity: String,
    labels: String,
    annotations: String,
    links: String,
    generator_url: Option<String>,
    source: Option<String>,
    starts_at: Option<NaiveDateTime>,
    ends_at: Option<NaiveDateTime>,
    first_seen_at: NaiveDateTime,
    last_seen_at: NaiveDateTime,
    occurrences: i64,
}

/// An alert as stored; labels, annotations and links stay JSON text until shown.
#[derive(Debug, Clone)]
pub struct StoredAlert {
    pub id: String,
    pub incident_id: String,
    pub fingerprint: String,
    pub firing: bool,
    pub title: String,
    pub severity: String,
    pub labels: String,
    pub annotations: String,
    pub links: String,
    pub generator_url: Option<String>,
    pub source: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub occurrences: i64,
}

impl From<AlertRow> for StoredAlert {
    fn from(r: AlertRow) -> Self {
        StoredAlert {
            id: r.id,
            incident_id: r.incident_id,
            fingerprint: r.fingerprint,
            firing: r.status == "firing",
            title: r.title,
            severity: r.severity,
            labels: r.labels,
            annotations: r.annotations,
            links: r.links,
            generator_url: r.generator_url,
            source: r.source,
            starts_at: r.starts_at.map(from_db),
            ends_at: r.ends_at.map(from_db),
            first_seen_at: from_db(r.first_seen_at),
            last_seen_at: from_db(r.last_seen_at),
            occurrences: r.occurrences,
        }
    }
}

pub struct NewAlert<'a> {
    pub id: &'a str,
    pub incident_id: &'a str,
    pub fingerprint: &'a str,
    pub title: &'a str,
    pub severity: &'a str,
    pub labels: &'a str,
    pub annotations: &'a str,
    pub links: &'a str,
    pub generator_url: Option<&'a str>,
    pub source: Option<&'a str>,
    pub starts_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

pub fn insert(conn: &mut DbConn, new: &NewAlert<'_>) -> QueryResult<()> {
    diesel::insert_into(alerts::table)
        .values((
            alerts::id.eq(new.id),
            alerts::incident_id.eq(new.incident_id),
            alerts::fingerprint.eq(new.fingerprint),
            alerts::status.eq("firing"),
            alerts::title.eq(new.title),
            alerts::severity.eq(new.severity),
            alerts::labels.eq(new.labels),
            alerts::annotations.eq(new.annotations),
            alerts::links.eq(new.links),
            alerts::generator_url.eq(new.generator_url),
            alerts::source.eq(new.source),
            alerts::starts_at.eq(new.starts_at.map(to_db)),
            alerts::first_seen_at.eq(to_db(new.now)),
            alerts::last_seen_at.eq(to_db(new.now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// (fingerprint, id, firing) of every alert of the incident.
pub fn states_of_incident(
    conn: &mut DbConn,
    incident_id: &str,
) -> QueryResult<Vec<(String, String, bool)>> {
    Ok(alerts::table
        .filter(alerts::incident_id.eq(incident_id))
        .select((alerts::fingerprint, alerts::id, alerts::status))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(fingerprint, id, status)| (fingerprint, id, status == "firing"))
        .collect())
}

/// Another sighting of a known alert: firing (again), seen now, `times` more occurrences.
pub fn record_firing(
    conn: &mut DbConn,
    id: &str,
    times: i64,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    super::prepared::RecordFiring {
        id,
        times,
        now: to_db(now),
    }
    .execute(conn)
}

pub fn mark_resolved(
    conn: &mut DbConn,
    id: &str,
    ended: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(alerts::table.find(id).filter(alerts::status.eq("firing")))
        .set((
            alerts::status.eq("resolved"),
            alerts::ends_at.eq(Some(to_db(ended))),
            alerts::last_seen_at.eq(to_db(now)),
        ))
        .execute(conn)
}

pub fn count_firing(conn: &mut DbConn, incident_id: &str) -> QueryResult<i64> {
    alerts::table
        .filter(alerts::incident_id.eq(incident_id))
        .filter(alerts::status.eq("firing"))
        .count()
        .get_result(conn)
}

/// Firing alerts first, then by first sighting.
pub fn list_for_incident(conn: &mut DbConn, incident_id: &str) -> QueryResult<Vec<StoredAlert>> {
    Ok(alerts::table
        .filter(alerts::incident_id.eq(incident_id))
        .order((alerts::status.asc(), alerts::id.asc()))
        .select(AlertRow::as_select())
        .load(conn)?
        .into_iter()
        .map(StoredAlert::from)
        .collect())
}
