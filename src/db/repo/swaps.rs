//! Queries on `swap_requests`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::to_db;
use crate::db::DbConn;
use crate::db::schema::swap_requests;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = swap_requests)]
pub struct SwapRow {
    pub id: String,
    pub schedule_id: String,
    pub requester_id: String,
    pub offered_to: Option<String>,
    pub start_at: NaiveDateTime,
    pub end_at: NaiveDateTime,
    pub note: String,
    pub state: String,
    pub taker_id: Option<String>,
    pub override_id: Option<String>,
    pub decided_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub struct NewSwap<'a> {
    pub id: &'a str,
    pub schedule_id: &'a str,
    pub requester_id: &'a str,
    pub offered_to: Option<&'a str>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub note: &'a str,
    pub state: &'a str,
    pub now: DateTime<Utc>,
}

pub fn insert(conn: &mut DbConn, new: &NewSwap<'_>) -> QueryResult<()> {
    diesel::insert_into(swap_requests::table)
        .values((
            swap_requests::id.eq(new.id),
            swap_requests::schedule_id.eq(new.schedule_id),
            swap_requests::requester_id.eq(new.requester_id),
            swap_requests::offered_to.eq(new.offered_to),
            swap_requests::start_at.eq(to_db(new.start)),
            swap_requests::end_at.eq(to_db(new.end)),
            swap_requests::note.eq(new.note),
            swap_requests::state.eq(new.state),
            swap_requests::created_at.eq(to_db(new.now)),
            swap_requests::updated_at.eq(to_db(new.now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<SwapRow>> {
    swap_requests::table
        .find(id)
        .select(SwapRow::as_select())
        .first(conn)
        .optional()
}

/// Moves a swap on from `from_state`; 0 when somebody else moved it first (a double click, two
/// people taking one offer), so the caller can say so instead of acting twice.
pub struct Transition<'a> {
    pub id: &'a str,
    pub from_state: &'a str,
    pub to_state: &'a str,
    pub taker_id: Option<&'a str>,
    pub override_id: Option<&'a str>,
    pub decided_by: Option<&'a str>,
    pub now: DateTime<Utc>,
}

pub fn transition(conn: &mut DbConn, t: &Transition<'_>) -> QueryResult<usize> {
    let target = swap_requests::table
        .find(t.id)
        .filter(swap_requests::state.eq(t.from_state));
    // Only the fields the step sets; the others keep what earlier steps wrote.
    diesel::update(target)
        .set((
            swap_requests::state.eq(t.to_state),
            swap_requests::updated_at.eq(to_db(t.now)),
            t.taker_id.map(|v| swap_requests::taker_id.eq(Some(v))),
            t.override_id
                .map(|v| swap_requests::override_id.eq(Some(v))),
            t.decided_by.map(|v| swap_requests::decided_by.eq(Some(v))),
        ))
        .execute(conn)
}

/// A schedule's swaps that still wait for someone, and those settled since `since`, oldest first.
pub fn of_schedule(
    conn: &mut DbConn,
    schedule_id: &str,
    since: DateTime<Utc>,
) -> QueryResult<Vec<SwapRow>> {
    swap_requests::table
        .filter(swap_requests::schedule_id.eq(schedule_id))
        .filter(
            swap_requests::state
                .eq_any(["open", "awaiting_approval"])
                .or(swap_requests::updated_at.ge(to_db(since))),
        )
        .order((swap_requests::start_at.asc(), swap_requests::id.asc()))
        .select(SwapRow::as_select())
        .limit(200)
        .load(conn)
}

/// Swaps that involve `user_id` (offered, offered to, or taken), newest first.
pub fn of_user(conn: &mut DbConn, user_id: &str, limit: i64) -> QueryResult<Vec<SwapRow>> {
    swap_requests::table
        .filter(
            swap_requests::requester_id
                .eq(user_id)
                .or(swap_requests::taker_id.eq(user_id))
                .or(swap_requests::offered_to.eq(user_id)),
        )
        .order((swap_requests::created_at.desc(), swap_requests::id.desc()))
        .select(SwapRow::as_select())
        .limit(limit)
        .load(conn)
}

/// Every swap waiting for a manager, across schedules.
pub fn awaiting_approval(conn: &mut DbConn) -> QueryResult<Vec<SwapRow>> {
    swap_requests::table
        .filter(swap_requests::state.eq("awaiting_approval"))
        .order((swap_requests::start_at.asc(), swap_requests::id.asc()))
        .select(SwapRow::as_select())
        .limit(200)
        .load(conn)
}
