//! Queries on `incident_events`: what happened to an incident, in order.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{from_db, to_db};
use crate::db::DbConn;
use crate::db::schema::{incident_events, incidents};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = incident_events)]
struct EventRow {
    id: String,
    incident_id: String,
    at: NaiveDateTime,
    kind: String,
    actor_id: Option<String>,
    actor: String,
    message: String,
    repeats: i64,
    last_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub id: String,
    pub incident_id: String,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor_id: Option<String>,
    pub actor: String,
    pub message: String,
    pub repeats: i64,
    pub last_at: DateTime<Utc>,
}

impl From<EventRow> for TimelineEntry {
    fn from(r: EventRow) -> Self {
        TimelineEntry {
            id: r.id,
            incident_id: r.incident_id,
            at: from_db(r.at),
            kind: r.kind,
            actor_id: r.actor_id,
            actor: r.actor,
            message: r.message,
            repeats: r.repeats,
            last_at: from_db(r.last_at),
        }
    }
}

pub struct NewEntry<'a> {
    pub id: &'a str,
    pub incident_id: &'a str,
    pub kind: &'a str,
    pub actor_id: Option<&'a str>,
    pub actor: &'a str,
    pub message: &'a str,
    pub alert_fingerprint: Option<&'a str>,
    pub repeats: i64,
    pub now: DateTime<Utc>,
}

pub fn insert(conn: &mut DbConn, e: &NewEntry<'_>) -> QueryResult<()> {
    diesel::insert_into(incident_events::table)
        .values((
            incident_events::id.eq(e.id),
            incident_events::incident_id.eq(e.incident_id),
            incident_events::at.eq(to_db(e.now)),
            incident_events::kind.eq(e.kind),
            incident_events::actor_id.eq(e.actor_id),
            incident_events::actor.eq(e.actor),
            incident_events::message.eq(e.message),
            incident_events::alert_fingerprint.eq(e.alert_fingerprint),
            incident_events::repeats.eq(e.repeats),
            incident_events::last_at.eq(to_db(e.now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Adds `times` repeats to the existing "repeated" entry of an alert; 0 when there is none yet.
pub fn add_repeats(
    conn: &mut DbConn,
    incident_id: &str,
    kind: &str,
    fingerprint: &str,
    times: i64,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    super::prepared::AddRepeats {
        incident_id,
        kind,
        fingerprint,
        times,
        now: to_db(now),
    }
    .execute(conn)
}

pub fn list_for_incident(conn: &mut DbConn, incident_id: &str) -> QueryResult<Vec<TimelineEntry>> {
    Ok(incident_events::table
        .filter(incident_events::incident_id.eq(incident_id))
        .order(incident_events::id.asc())
        .select(EventRow::as_select())
        .load(conn)?
        .into_iter()
        .map(TimelineEntry::from)
        .collect())
}

/// The newest activity across incidents: (entry, incident number, incident title).
pub fn recent(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<(TimelineEntry, i64, String)>> {
    Ok(incident_events::table
        .inner_join(incidents::table)
        .order(incident_events::last_at.desc())
        .limit(limit)
        .select((EventRow::as_select(), incidents::number, incidents::title))
        .load::<(EventRow, i64, String)>(conn)?
        .into_iter()
        .map(|(e, n, t)| (TimelineEntry::from(e), n, t))
        .collect())
}

/// When anything last happened to an incident (its newest timeline entry, repeats included).
pub fn last_activity(conn: &mut DbConn, incident_id: &str) -> QueryResult<Option<DateTime<Utc>>> {
    let at: Option<NaiveDateTime> = incident_events::table
        .filter(incident_events::incident_id.eq(incident_id))
        .select(diesel::dsl::max(incident_events::last_at))
        .first(conn)?;
    Ok(at.map(from_db))
}
