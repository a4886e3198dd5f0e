//! Queries on `severity_levels`: response times per severity.

use chrono::Duration;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::severity_levels;
use crate::domain::incident::ResponseTimes;
use crate::domain::severity::Severity;

/// The response times of a severity; the built-in defaults when the row is missing.
pub fn response_times(conn: &mut DbConn, severity: Severity) -> QueryResult<ResponseTimes> {
    let row = severity_levels::table
        .find(severity.as_str())
        .select((
            severity_levels::ack_within_minutes,
            severity_levels::resolve_within_minutes,
        ))
        .first::<(i32, i32)>(conn)
        .optional()?;
    Ok(match row {
        Some((ack, resolve)) => ResponseTimes {
            ack_within: Duration::minutes(i64::from(ack)),
            resolve_within: Duration::minutes(i64::from(resolve)),
        },
        None => ResponseTimes::defaults(severity),
    })
}

/// Sets a severity's response times (the row is there from the first migration; a missing one
/// is added).
pub fn set(
    conn: &mut DbConn,
    severity: Severity,
    ack_within_minutes: i32,
    resolve_within_minutes: i32,
    now: chrono::DateTime<chrono::Utc>,
) -> QueryResult<()> {
    let changed = diesel::update(severity_levels::table.find(severity.as_str()))
        .set((
            severity_levels::ack_within_minutes.eq(ack_within_minutes),
            severity_levels::resolve_within_minutes.eq(resolve_within_minutes),
            severity_levels::updated_at.eq(super::to_db(now)),
        ))
        .execute(conn)?;
    if changed == 0 {
        diesel::insert_into(severity_levels::table)
            .values((
                severity_levels::severity.eq(severity.as_str()),
                severity_levels::ack_within_minutes.eq(ack_within_minutes),
                severity_levels::resolve_within_minutes.eq(resolve_within_minutes),
                severity_levels::updated_at.eq(super::to_db(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}
