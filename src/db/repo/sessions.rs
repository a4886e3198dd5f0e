//! Queries on `sessions`: browser sign-ins, stored by the SHA-256 of their cookie secret.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::users::UserRow;
use super::{from_db, to_db};
use crate::db::DbConn;
use crate::db::schema::{sessions, users};
use crate::domain::user::User;

#[derive(Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub fn insert(conn: &mut DbConn, new: &NewSession<'_>) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(new)
        .execute(conn)?;
    Ok(())
}

/// The unexpired session with this id and its user, provided the user is still active.
pub fn find_live(
    conn: &mut DbConn,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<(Session, User)>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(id))
        .filter(sessions::expires_at.gt(to_db(now)))
        .filter(users::active.eq(true))
        .select((
            sessions::last_seen_at,
            sessions::expires_at,
            UserRow::as_select(),
        ))
        .first::<(NaiveDateTime, NaiveDateTime, UserRow)>(conn)
        .optional()?
        .map(|(last_seen_at, expires_at, row)| {
            let session = Session {
                id: id.to_owned(),
                last_seen_at: from_db(last_seen_at),
                expires_at: from_db(expires_at),
            };
            Ok((session, User::try_from(row)?))
        })
        .transpose()
}

pub fn touch(
    conn: &mut DbConn,
    id: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(sessions::table.find(id))
        .set((
            sessions::last_seen_at.eq(to_db(now)),
            sessions::expires_at.eq(to_db(expires_at)),
        ))
        .execute(conn)
}

pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(id)).execute(conn)
}

/// Ends every session of a user, except `keep` (the one making the change) when given.
pub fn delete_for_user(conn: &mut DbConn, user_id: &str, keep: Option<&str>) -> QueryResult<usize> {
    match keep {
        Some(keep) => diesel::delete(
            sessions::table
                .filter(sessions::user_id.eq(user_id))
                .filter(sessions::id.ne(keep)),
        )
        .execute(conn),
        None => diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn),
    }
}

pub fn delete_expired(conn: &mut DbConn, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(to_db(now)))).execute(conn)
}

pub fn count_live_for_user(
    conn: &mut DbConn,
    user_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(to_db(now)))
        .count()
        .get_result(conn)
}
