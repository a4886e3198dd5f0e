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
