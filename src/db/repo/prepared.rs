//! Statements written out by hand so that diesel keeps them prepared.
//!
//! Diesel never caches the prepared statement of an `UPDATE` (its changeset may vary) or of any
//! query holding raw SQL, so each run of one is parsed and planned again: on the ingest path,
//! where a storm repeats the same few statements thousands of times a second, that was most of
//! the writer's time. The types here have a fixed SQL text and a static query id, so diesel
//! prepares each once per connection. Only hot statements belong here; everything else uses the
//! ordinary query builder.

use chrono::NaiveDateTime;
use diesel::expression::{AppearsOnTable, Expression, ValidGrouping};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Text, Timestamp};

use crate::db::DbConn;

type Backend = <DbConn as diesel::Connection>::Backend;

/// `incidents.status <> 'resolved'`, with the value in the SQL text: the planner must see it to
/// use the partial index `incidents_open_key` (bound values are not used for planning; see
/// `.cargo/config.toml`).
#[derive(Debug, Clone, Copy, QueryId, ValidGrouping)]
pub struct IncidentIsOpen;

impl Expression for IncidentIsOpen {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for IncidentIsOpen {}

impl QueryFragment<Backend> for IncidentIsOpen {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Backend>) -> QueryResult<()> {
        out.push_sql("incidents.status <> 'resolved'");
        Ok(())
    }
}

/// Declares a hand-written statement type: static query id, executable with `.execute(conn)`.
macro_rules! statement {
    ($name:ident) => {
        impl QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl RunQueryDsl<DbConn> for $name<'_> {}
    };
}

/// A known alert seen firing `times` more: firing, not ended, seen now.
pub struct RecordFiring<'a> {
    pub id: &'a str,
    pub times: i64,
    pub now: NaiveDateTime,
}
statement!(RecordFiring);

impl QueryFragment<Backend> for RecordFiring<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Backend>) -> QueryResult<()> {
        out.push_sql("UPDATE alerts SET status = 'firing', ends_at = NULL, last_seen_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(", occurrences = occurrences + ");
        out.push_bind_param::<BigInt, _>(&self.times)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(self.id)?;
        Ok(())
    }
}

/// Adds repeats to the collapsed timeline entry of an alert.
pub struct AddRepeats<'a> {
    pub incident_id: &'a str,
    pub kind: &'a str,
    pub fingerprint: &'a str,
    pub times: i64,
    pub now: NaiveDateTime,
}
statement!(AddRepeats);

impl QueryFragment<Backend> for AddRepeats<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Backend>) -> QueryResult<()> {
        out.push_sql("UPDATE incident_events SET repeats = repeats + ");
        out.push_bind_param::<BigInt, _>(&self.times)?;
        out.push_sql(", last_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" WHERE incident_id = ");
        out.push_bind_param::<Text, _>(self.incident_id)?;
        out.push_sql(" AND alert_fingerprint = ");
        out.push_bind_param::<Text, _>(self.fingerprint)?;
        out.push_sql(" AND kind = ");
        out.push_bind_param::<Text, _>(self.kind)?;
        Ok(())
    }
}

/// New alert activity on an incident that changes nothing else.
pub struct RecordActivity<'a> {
    pub id: &'a str,
    pub now: NaiveDateTime,
}
statement!(RecordActivity);

impl QueryFragment<Backend> for RecordActivity<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Backend>) -> QueryResult<()> {
        out.push_sql("UPDATE incidents SET last_alert_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(", version = version + 1 WHERE id = ");
        out.push_bind_param::<Text, _>(self.id)?;
        Ok(())
    }
}
