//! Queries on `time_off` (leave).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::to_db;
use crate::db::DbConn;
use crate::db::schema::time_off;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = time_off)]
pub struct LeaveRow {
    pub id: String,
    pub user_id: String,
    pub start_at: NaiveDateTime,
    pub end_at: NaiveDateTime,
    pub reason: String,
    pub created_at: NaiveDateTime,
    pub created_by: String,
}

pub struct NewLeave<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: &'a str,
    pub created_by: &'a str,
    pub now: DateTime<Utc>,
}

pub fn insert(conn: &mut DbConn, new: &NewLeave<'_>) -> QueryResult<()> {
    diesel::insert_into(time_off::table)
        .values((
            time_off::id.eq(new.id),
            time_off::user_id.eq(new.user_id),
            time_off::start_at.eq(to_db(new.start)),
            time_off::end_at.eq(to_db(new.end)),
            time_off::reason.eq(new.reason),
            time_off::created_at.eq(to_db(new.now)),
            time_off::created_by.eq(new.created_by),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<LeaveRow>> {
    time_off::table
        .find(id)
        .select(LeaveRow::as_select())
        .first(conn)
        .optional()
}

pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(time_off::table.find(id)).execute(conn)
}

/// Leave overlapping [from, to), of everyone or of one person, by start.
pub fn between(
    conn: &mut DbConn,
    user_id: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<LeaveRow>> {
    let mut query = time_off::table
        .filter(time_off::end_at.gt(to_db(from)))
        .filter(time_off::start_at.lt(to_db(to)))
        .into_boxed();
    if let Some(user_id) = user_id {
        query = query.filter(time_off::user_id.eq(user_id.to_owned()));
    }
    query
        .order((time_off::start_at.asc(), time_off::id.asc()))
        .select(LeaveRow::as_select())
        .limit(1000)
        .load(conn)
}
